"""The student's class as a contest on their pages: /classes/rules/, the dashboard's class
card, and the class leaderboard (its metric, the minimum trades, hidden names, the end)."""

import html
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from portfolio.services import after_tick
from tests.factories import ClassroomFactory, InstructorFactory, StudentFactory
from tests.portfolio.helpers import buy, listed, tick

D = Decimal

pytestmark = pytest.mark.django_db

RULES = reverse("classes:rules")
DASHBOARD = reverse("portfolio:dashboard")
LEADERBOARD = reverse("portfolio:leaderboard")


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def rows(page: str) -> list[tuple[str, str]]:
    """(rank cell, name) of each row of the leaderboard table, in order."""
    found = re.findall(
        r'<tr[^>]*data-user="([^"]+)"[^>]*>\s*<td class="num fw-semibold"[^>]*>(.*?)</td>',
        page,
        re.DOTALL,
    )
    return [("—" if "not ranked" in rank else rank, name) for name, rank in found]


def text(page: str) -> str:
    """The page's words, without tags or runs of spaces."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


@pytest.fixture
def period(db):
    """Period 1: two weeks in, twelve days to go, ranked by total return, two trades to be
    ranked. ann: +20.00 % on two buys; bob: one buy; cat: cash. The rules changed once."""
    now = timezone.now()
    classroom = ClassroomFactory(
        name="Period 1",
        starts_at=now - timedelta(days=14),
        # The last minute of the twelfth calendar day from today (pages count calendar
        # days in TIME_ZONE), so "Ends in 12 days" holds at any time of day.
        ends_at=timezone.localtime(now).replace(hour=23, minute=59, second=0, microsecond=0)
        + timedelta(days=12),
        ranking="total_return",
        min_trades_to_rank=2,
        commission_kind="flat",
        commission_amount=D("4.95"),
        max_position_percent=D("25"),
        rules_changed_at=now - timedelta(days=2),
    )
    listed("XYZ", "100.00")
    ann = StudentFactory(username="ann", classroom=classroom)
    bob = StudentFactory(username="bob", classroom=classroom)
    StudentFactory(username="cat", classroom=classroom)
    buy(ann, "XYZ", 10)
    buy(ann, "XYZ", 10)
    buy(bob, "XYZ", 1)
    tick({"XYZ": "200.00"}, now)
    return classroom


def student(period, name):
    return period.students.get(username=name)


# /classes/rules/ ------------------------------------------------------------------------------


def test_the_rules_page_shows_the_class_its_dates_every_rule_and_the_standing(period):
    page = text(login(student(period, "ann")).get(RULES).content.decode())

    assert "Period 1" in page
    assert "Ends in 12 days" in page
    assert "$4.95 a trade." in page
    assert "no stock may be more than 25 % of your portfolio's value" in page
    assert "Ranks by total return" in page
    assert "At least 2 trades of your own." in page
    assert "The rules were changed on" in page
    assert "#1 of 1" in page and "+20.00%" in page


def test_the_rules_page_tells_an_unranked_student_what_is_missing(period):
    page = text(login(student(period, "bob")).get(RULES).content.decode())

    assert "Not ranked yet." in page
    assert "You need 1 more trade to be ranked." in page


def test_the_rules_page_says_nothing_of_a_change_that_never_was(period):
    period.rules_changed_at = None
    period.save()

    page = login(student(period, "ann")).get(RULES).content.decode()

    assert "changed on" not in page


def test_a_student_in_no_class_is_pointed_to_joining_one(student_client):
    response = student_client.get(RULES)

    assert response.status_code == 200
    page = response.content.decode()
    assert "You are not in a class yet" in page
    assert 'href="/classes/join/"' in page


def test_an_instructor_is_pointed_to_the_console(instructor_client):
    page = instructor_client.get(RULES).content.decode()

    assert reverse("admin:classrooms_classroom_changelist") in page


def test_a_class_that_has_ended_says_its_standings_are_final(period):
    period.starts_at = timezone.now() - timedelta(days=30)
    period.ends_at = timezone.now() - timedelta(days=1)
    period.save()

    page = text(login(student(period, "ann")).get(RULES).content.decode())

    assert "Ended" in page and "the standings are final" in page


@pytest.mark.parametrize("size", [3, 40])
def test_the_rules_page_costs_the_same_queries_whatever_the_class_size(
    period, size, django_assert_max_num_queries
):
    for i in range(size):
        buy(StudentFactory(username=f"s{i:02d}", classroom=period), "XYZ", 1)
    ann = login(student(period, "ann"))

    # session, user, the class, the viewer's ranked row, their margin call (every page of
    # a student in a class: trading.context_processors.margin_call)
    with django_assert_max_num_queries(5):
        assert ann.get(RULES).status_code == 200


def test_the_rules_page_of_a_student_in_no_class_reads_no_class(
    student_client, django_assert_max_num_queries
):
    with django_assert_max_num_queries(2):  # session, user
        assert student_client.get(RULES).status_code == 200


# The dashboard ------------------------------------------------------------------------------


def test_the_dashboard_shows_the_class_days_left_and_rank(period):
    page = text(login(student(period, "ann")).get(DASHBOARD).content.decode())

    assert "Period 1 · Ends in 12 days" in page
    assert "Rank #1 of 1 by total return" in page


def test_the_dashboard_of_an_unranked_student_says_what_is_missing(period):
    page = text(login(student(period, "cat")).get(DASHBOARD).content.decode())

    assert "Not ranked yet: 2 more trades to go." in page


def test_the_dashboard_of_a_student_in_no_class_offers_to_join(student_client):
    page = student_client.get(DASHBOARD).content.decode()

    assert "You are not in a class" in page and 'href="/classes/join/"' in page


@pytest.mark.parametrize("size", [3, 40])
def test_the_dashboard_costs_the_same_queries_whatever_the_class_size(
    period, size, django_assert_max_num_queries
):
    for i in range(size):
        buy(StudentFactory(username=f"s{i:02d}", classroom=period), "XYZ", 1)
    ann = login(student(period, "ann"))

    # session, user, the account row, the holdings, the index, the snapshots, the recent
    # journal, the class, the viewer's ranked row, the open orders, the margin call
    with django_assert_max_num_queries(11):
        assert ann.get(DASHBOARD).status_code == 200


# The class leaderboard ------------------------------------------------------------------------


def test_the_leaderboard_ranks_by_the_classs_metric_and_lists_the_unranked_after(period):
    page = login(student(period, "cat")).get(LEADERBOARD).content.decode()

    assert rows(page) == [("1", "ann"), ("—", "bob"), ("—", "cat")]
    words = text(page)
    assert "Ranked by total return" in words
    assert "needs 1 more trade" in words and "needs 2 more trades" in words
    assert "You are not ranked yet: you need 2 more trades (2 to be ranked)." in words


def test_hidden_names_are_hidden_from_students_and_shown_to_the_instructor(period):
    period.names_shown = False
    period.save()
    teacher = InstructorFactory(username="teacher")
    period.owners.add(teacher)

    bobs = login(student(period, "bob")).get(LEADERBOARD).content.decode()
    teachers = login(teacher).get(LEADERBOARD).content.decode()

    assert rows(bobs) == [("1", "Student 1"), ("—", "bob"), ("—", "Student 3")]
    assert "ann" not in bobs and "cat" not in bobs
    assert rows(teachers) == [("1", "ann"), ("—", "bob"), ("—", "cat")]
    # And on the rules page.
    rules = login(student(period, "bob")).get(RULES).content.decode()
    assert "Only your instructor sees names" in rules


def test_a_tick_after_the_end_changes_nothing_on_the_leaderboard(settings, period):
    """The class ends between two ticks; the tick after the end would reverse the order."""
    settings.SNAPSHOT_EVERY_TICKS = 1
    period.min_trades_to_rank = 0
    period.ranking = "twr"
    base = timezone.now() - timedelta(hours=1)
    period.starts_at = base - timedelta(days=1)
    period.ends_at = base + timedelta(minutes=5)
    period.save()
    tick({"XYZ": "200.00"}, base)
    after_tick(ticks=1, timestamp=base)
    cat = login(student(period, "cat"))
    before = cat.get(LEADERBOARD).content.decode()

    tick({"XYZ": "10.00"}, base + timedelta(minutes=10))
    after_tick(ticks=2, timestamp=base + timedelta(minutes=10))
    after = cat.get(LEADERBOARD).content.decode()

    table = re.compile(r"<table.*?</table>", re.DOTALL)
    assert table.search(after).group(0) == table.search(before).group(0)
    assert rows(after) == [("1", "ann"), ("2", "bob"), ("3", "cat")]
    assert "the standings are final" in text(after)
