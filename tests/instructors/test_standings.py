"""The standings export: one class (or everyone) as CSV, in the leaderboard's order."""

import csv
import io
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from console import admin
from ledger import services as ledger
from prices.models import Price
from tests.factories import StudentFactory
from trading import services as trading

pytestmark = pytest.mark.django_db

STANDINGS = reverse("admin:classrooms_classroom_standings")


def read_csv(response) -> list[dict]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def class_of_three(market, period1, carol):
    """Period 1: ann gains (AAPL 200 → 250), ben holds cash, cat loses (MSFT 400 → 300)
    after depositing; carol is in Period 2."""
    ann = StudentFactory(username="ann", email="ann@school.example", classroom=period1)
    StudentFactory(username="ben", email="ben@school.example", classroom=period1)
    cat = StudentFactory(username="cat", email="cat@school.example", classroom=period1)
    trading.buy(user=ann, symbol="AAPL", quantity=20)
    ledger.deposit(user=cat, amount="2000")
    trading.buy(user=cat, symbol="MSFT", quantity=10)
    trading.sell(user=cat, symbol="MSFT", quantity=5)
    Price.objects.filter(symbol="AAPL").update(price=Decimal("250.00"))
    Price.objects.filter(symbol="MSFT").update(price=Decimal("300.00"))
    return period1


def test_a_class_exports_its_students_in_leaderboard_order(teacher_client, class_of_three):
    response = teacher_client.get(STANDINGS, {"class": class_of_three.pk})

    assert 'filename="tradesim-standings-Period-1-' in response["Content-Disposition"]
    rows = read_csv(response)
    assert list(rows[0]) == admin.STANDINGS_HEADER
    assert admin.STANDINGS_HEADER[:6] == [
        "Rank",
        "Username",
        "Email",
        "Class",
        "Cash",
        "Total value",
    ]
    assert [(r["Rank"], r["Username"]) for r in rows] == [("1", "ann"), ("2", "ben"), ("3", "cat")]
    ann, ben, cat = rows
    # ann: 10,000 − 4,000 in cash + 20 × 250.
    assert (ann["Email"], ann["Class"], ann["Cash"], ann["Total value"]) == (
        "ann@school.example",
        "Period 1",
        "6000.00",
        "11000.00",
    )
    assert (ann["Return %"], ann["Time-weighted return %"], ann["Trades"]) == (
        "10.00",
        "10.00",
        "1",
    )
    assert (ann["Ranked by"], ann["Ranking value"], ann["Note"]) == (
        "Time-weighted return",
        "10.00",
        "",
    )
    assert (ben["Total value"], ben["Return %"], ben["Trades"]) == ("10000.00", "0.00", "0")
    # cat: 12,000 in; 5 MSFT left at 300 and 10,000 cash (12,000 − 4,000 + 2,000).
    assert (cat["Cash"], cat["Total value"], cat["Net contributions"]) == (
        "10000.00",
        "11500.00",
        "12000.00",
    )
    assert (cat["Return %"], cat["Trades"]) == ("-4.17", "2")


def test_without_a_class_everyone_but_the_staff_is_exported(teacher_client, class_of_three):
    rows = read_csv(teacher_client.get(STANDINGS))

    assert {r["Username"] for r in rows} == {"ann", "ben", "cat", "carol"}


def test_an_unknown_class_is_refused_with_a_message(teacher_client, class_of_three):
    response = teacher_client.get(STANDINGS, {"class": "999999"}, follow=True)
    assert "There is no such class." in response.content.decode()
    response = teacher_client.get(STANDINGS, {"class": "x"})
    assert response.status_code == 302


def test_a_name_that_a_spreadsheet_would_run_is_defused(teacher_client, period1):
    StudentFactory(username="-1+1", email="=cmd@school.example", classroom=period1)

    (row,) = read_csv(teacher_client.get(STANDINGS, {"class": period1.pk}))

    assert (row["Username"], row["Email"]) == ("'-1+1", "'=cmd@school.example")


def test_a_class_named_in_another_script_keeps_its_name_in_the_file_name(teacher_client, period1):
    period1.name = "高一 (3) 班"
    period1.save()

    disposition = teacher_client.get(STANDINGS, {"class": period1.pk})["Content-Disposition"]

    assert "filename*=UTF-8''tradesim-standings-%E9%AB%98%E4%B8%80-3-%E7%8F%AD-" in disposition
    assert 'filename="tradesim-standings-3-' in disposition  # the ASCII stand-in for old clients


@pytest.mark.parametrize("n", [5, 50])
def test_the_export_runs_a_fixed_number_of_queries(
    teacher_client, market, period1, django_assert_max_num_queries, n
):
    for i in range(n):
        student = StudentFactory(username=f"s{i:03d}", classroom=period1)
        if i % 2:
            trading.buy(user=student, symbol="XOM", quantity=1)

    # Session, user, the user's two permission sets, the class, the standings.
    with django_assert_max_num_queries(6):
        rows = read_csv(teacher_client.get(STANDINGS, {"class": period1.pk}))
    assert len(rows) == n


def test_the_user_list_offers_the_export_of_the_class_it_shows(teacher_client, class_of_three):
    page = teacher_client.get(
        reverse("admin:accounts_user_changelist"), {"classroom__id__exact": class_of_three.pk}
    )
    assert f'href="{STANDINGS}?class={class_of_three.pk}"' in page.content.decode()


def test_only_those_who_may_see_students_may_export(
    student_client, instructor_client, instructor, class_of_three
):
    response = student_client.get(STANDINGS)
    assert response.status_code == 302 and reverse("admin:login") in response.url
    assert instructor_client.get(STANDINGS).status_code == 403  # staff, but no permissions

    instructor.user_permissions.add(Permission.objects.get(codename="view_user"))
    assert instructor_client.get(STANDINGS).status_code == 200


def test_the_export_streams_without_holding_the_whole_class(teacher_client, class_of_three):
    with CaptureQueriesContext(connection) as ctx:
        response = teacher_client.get(STANDINGS, {"class": class_of_three.pk})
        before_reading = len(ctx)
        read_csv(response)
    assert len(ctx) == before_reading + 1  # the standings query runs as the body is read


def test_a_class_is_exported_in_its_own_ranking_with_the_unranked_last(
    teacher_client, class_of_three
):
    class_of_three.ranking = "total_return"
    class_of_three.min_trades_to_rank = 1
    class_of_three.save()

    rows = read_csv(teacher_client.get(STANDINGS, {"class": class_of_three.pk}))

    assert [(r["Rank"], r["Username"], r["Ranking value"], r["Note"]) for r in rows] == [
        ("1", "ann", "10.00", ""),
        ("2", "cat", "-4.17", ""),
        ("", "ben", "0.00", "needs 1 more trade"),
    ]
    assert {r["Ranked by"] for r in rows} == {"Total return"}


def test_the_standings_of_a_class_that_ended_are_as_of_its_end(
    teacher_client, class_of_three, settings
):
    from datetime import timedelta

    from django.utils import timezone

    from portfolio.services import after_tick

    settings.SNAPSHOT_EVERY_TICKS = 1
    end = timezone.now() - timedelta(minutes=1)
    after_tick(ticks=1, timestamp=end - timedelta(minutes=1))
    class_of_three.ends_at = end
    class_of_three.save()
    Price.objects.filter(symbol="AAPL").update(price=Decimal("50.00"))  # after the end

    rows = read_csv(teacher_client.get(STANDINGS, {"class": class_of_three.pk}))

    ann = next(r for r in rows if r["Username"] == "ann")
    assert (ann["Rank"], ann["Cash"], ann["Total value"], ann["Time-weighted return %"]) == (
        "1",
        "6000.00",
        "11000.00",
        "10.00",
    )
