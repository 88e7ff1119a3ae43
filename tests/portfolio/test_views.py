"""Portfolio pages: the dashboard, its live partial, the CSV, the leaderboard."""

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import dateformat, timezone

from ledger import services as ledger
from portfolio.services import after_tick
from prices.models import TradingSession
from tests.factories import (
    ClassroomFactory,
    HoldingFactory,
    InstructorFactory,
    PriceFactory,
    StudentFactory,
)
from tests.portfolio.helpers import buy, listed, new_trading_day, sell, set_price, tick

D = Decimal

pytestmark = pytest.mark.django_db

DASHBOARD = reverse("portfolio:dashboard")
LIVE = reverse("portfolio:live")
CSV_URL = reverse("portfolio:holdings_csv")
LEADERBOARD = reverse("portfolio:leaderboard")


def text_of(response) -> str:
    """A page's or a (streamed) download's text."""
    if response.streaming:
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


def queries(client, url, **headers) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, **headers)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def row_of(page: str, username: str) -> str:
    match = re.search(rf'<tr[^>]*data-user="{username}"[^>]*>.*?</tr>', page, re.DOTALL)
    assert match, f"no row for {username}"
    return match.group(0)


def ranks(page: str) -> list[tuple[str, str]]:
    """(rank, username) of each row of the leaderboard table, in order."""
    rows = re.findall(
        r'<tr[^>]*data-user="([^"]+)"[^>]*>\s*<td class="num fw-semibold"[^>]*>(\d+)</td>', page
    )
    return [(rank, user) for user, rank in rows]


@pytest.fixture
def invested(student):
    """alice: 10 AAPL @ 100.00, on a later day worth 120.00 (closed at 110.00), 4 sold; $9,980
    cash."""
    listed("AAPL", "100.00", name="Apple Inc.", sector="Technology")
    listed("XOM", "50.00", name="Exxon Mobil", sector="Energy")
    buy(student, "AAPL", 10)
    buy(student, "XOM", 20)
    new_trading_day()
    set_price("AAPL", "120.00", previous_close="110.00")
    set_price("XOM", "45.00", previous_close="50.00")
    sell(student, "AAPL", 4)
    ledger.deposit(user=student, amount="2000.00")
    ledger.withdraw(user=student, amount="500.00")
    return student


# Who may see what --------------------------------------------------------------------


@pytest.mark.parametrize("url", [DASHBOARD, LIVE, CSV_URL, LEADERBOARD])
def test_pages_need_a_login(anon_client, url):
    response = anon_client.get(url)

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_a_poll_after_the_session_ended_sends_the_whole_page_to_log_in(anon_client):
    response = anon_client.get(LIVE, HTTP_HX_REQUEST="true")

    assert response.status_code == 204
    assert response["HX-Redirect"].startswith(reverse("login"))
    assert "next=" in response["HX-Redirect"]


def test_other_users_holdings_are_never_shown(invested, other_student, other_client):
    listed("SECRET", "10.00", name="Hidden Holdings Co")
    buy(other_student, "SECRET", 7)

    for url in (DASHBOARD, LIVE, CSV_URL):
        page = text_of(other_client.get(url))
        assert "SECRET" in page  # bob's own
        assert "AAPL" not in page and "Apple Inc." not in page
        assert "9,980.00" not in page and "9980.00" not in page  # alice's cash

    alice = Client()
    alice.force_login(invested)
    for url in (DASHBOARD, LIVE, CSV_URL):
        page = text_of(alice.get(url))
        assert "AAPL" in page
        assert "SECRET" not in page and "Hidden Holdings" not in page


def test_post_is_not_allowed(student_client):
    assert student_client.post(DASHBOARD).status_code == 405
    assert student_client.post(LEADERBOARD).status_code == 405


# The dashboard -----------------------------------------------------------------------


def test_dashboard_shows_totals_holdings_and_links(invested, student_client):
    response = student_client.get(DASHBOARD)

    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="total-value">$11,600.00<' in page
    assert 'id="cash">$9,980.00<' in page
    assert 'id="market-value">$1,620.00<' in page
    assert "+$100.00" in page  # total return
    assert "$11,500.00</span> net contributions" in page
    assert "+$80.00" in page  # realized
    assert 'id="twr"><span class="pnl pnl-up">▲ +0.87%</span>' in page
    assert 'href="/prices/AAPL/"' in page
    assert f'href="{reverse("trading:buy")}?symbol=AAPL"' in page
    assert f'href="{reverse("trading:sell")}?symbol=XOM"' in page
    assert f'href="{CSV_URL}"' in page
    # The live region polls its partial; scripts come from files, data from json_script.
    assert f'hx-get="{LIVE}"' in page and 'hx-trigger="every 10s"' in page
    assert "vendor/htmx-2.0.8/htmx.min.js" in page
    assert "js/portfolio-charts.js" in page
    assert 'id="portfolio-chart-data" type="application/json"' in page
    assert 'id="allocation-sector"' in page and 'id="allocation-symbol"' in page


def test_dashboard_recent_activity_lists_the_journal(invested, student_client):
    page = student_client.get(DASHBOARD).content.decode()

    activity = page.split('id="activity"', 1)[1]
    assert "Sold 4 AAPL @ 120.00" in activity
    assert "Bought 20 XOM @ 50.00" in activity
    assert "Withdrawal" in activity


def test_a_new_student_sees_the_empty_state(student_client):
    page = student_client.get(DASHBOARD).content.decode()

    assert "You hold no shares yet — browse the market" in page
    assert f'href="{reverse("prices:market")}"' in page
    assert 'id="holdings"' not in page
    assert 'id="performance-empty"' in page
    assert f'href="{CSV_URL}"' not in page


def test_an_instructor_has_no_portfolio_but_a_working_page(instructor_client):
    response = instructor_client.get(DASHBOARD)

    assert response.status_code == 200
    assert "instructors don't hold cash or shares" in response.content.decode()


def test_dashboard_draws_the_value_history_against_the_index(student, student_client, settings):
    settings.SNAPSHOT_EVERY_TICKS = 1
    listed("XYZ", "100.00")
    listed("MKT", "1000.00", is_index=True, name="Market index")
    buy(student, "XYZ", 10)
    start = timezone.now() - timedelta(minutes=10)
    for i, (xyz, mkt) in enumerate([("100.00", "1000.00"), ("150.00", "1100.00")]):
        tick({"XYZ": xyz, "MKT": mkt}, start + timedelta(minutes=i))
        after_tick(ticks=i + 1, timestamp=start + timedelta(minutes=i))

    response = student_client.get(DASHBOARD)

    data = response.context["chart_data"]["history"]
    assert data["performance"] == [D("100"), D("105"), D("105")]  # 10,000 → 10,500
    assert data["index"] == [D("100"), D("110"), D("110")]
    assert data["index_label"] == "Market index (MKT)"
    page = response.content.decode()
    assert 'id="performance-chart"' in page
    assert 'you <span class="pnl pnl-up">▲ +5.00%</span>' in page


def test_the_performance_chart_names_its_span_in_sessions_and_times_in_the_zone(
    student, student_client, settings
):
    settings.SNAPSHOT_EVERY_TICKS = 1
    settings.TIME_ZONE = "Europe/Paris"
    listed("XYZ", "100.00")
    buy(student, "XYZ", 10)
    start = timezone.now() - timedelta(days=2)
    TradingSession.objects.create(number=1, opened_at=start - timedelta(minutes=5))
    TradingSession.objects.create(number=2, opened_at=start + timedelta(days=1))
    for i, moment in enumerate([start, start + timedelta(minutes=1), start + timedelta(days=1)]):
        tick({"XYZ": "100.00"}, moment)
        after_tick(ticks=i + 1, timestamp=moment)

    response = student_client.get(DASHBOARD)

    labels = response.context["chart_data"]["history"]["labels"]
    paris = [
        timezone.localtime(m)
        for m in (start, start + timedelta(minutes=1), start + timedelta(days=1))
    ]
    assert labels == [f"{m:%a %H:%M}" for m in paris] + ["Now"]
    page = response.content.decode()
    assert f"Last 2 sessions, since {dateformat.format(paris[0], 'M j, H:i T')}:" in page
    assert dateformat.format(paris[0], "T") in ("CET", "CEST")
    assert "Times are in the Europe/Paris time zone" in page


@pytest.mark.parametrize("holdings", [1, 30])
def test_dashboard_and_live_cost_the_same_queries_for_1_and_30_holdings(
    student, student_client, holdings, settings
):
    settings.SNAPSHOT_EVERY_TICKS = 1
    listed("MKT", "1000.00", is_index=True)
    for i in range(holdings):
        stock = PriceFactory(symbol=f"S{i:03d}", price=D("10.00"), sector=f"Sector {i % 5}")
        HoldingFactory(user=student, stock=stock, quantity=5, average_price=D("8.0000"))
    for n in range(1, 4):
        after_tick(ticks=n, timestamp=timezone.now() - timedelta(minutes=10 - n))
        ledger.deposit(user=student, amount="10.00")

    # session, user, account row, holdings, index, snapshots, activity, open orders
    assert queries(student_client, DASHBOARD) == 8
    assert queries(student_client, LIVE, HTTP_HX_REQUEST="true") == 4
    assert queries(student_client, CSV_URL) == 4


# The live partial --------------------------------------------------------------------


def test_live_partial_is_the_totals_and_table_alone(invested, student_client):
    response = student_client.get(LIVE, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    page = response.content.decode()
    assert page.lstrip().startswith('<div id="portfolio-live"')
    assert "<html" not in page and "<nav" not in page
    assert 'hx-trigger="every 10s"' in page  # swapped outerHTML: it keeps polling
    assert 'id="total-value">$11,600.00<' in page
    assert "no-cache" in response["Cache-Control"]


def test_live_partial_shows_new_prices(invested, student_client):
    set_price("AAPL", "130.00")

    page = student_client.get(LIVE).content.decode()

    assert 'id="total-value">$11,660.00<' in page  # 9,980 + 6 × 130 + 900


# CSV ---------------------------------------------------------------------------------


def test_holdings_csv(invested, student_client):
    response = student_client.get(CSV_URL)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    today = timezone.localdate().isoformat()
    assert response["Content-Disposition"] == (
        f'attachment; filename="tradesim-holdings-alice-{today}.csv"'
    )
    rows = list(csv.reader(io.StringIO(text_of(response))))
    assert rows[0][:4] == ["Symbol", "Name", "Sector", "Quantity"]
    assert rows[1:] == [
        [
            "AAPL", "Apple Inc.", "Technology", "6", "100.00", "120.00", "600.00",
            "720.00", "120.00", "20.00", "60.00", "9.09", "6.21",
        ],
        [
            "XOM", "Exxon Mobil", "Energy", "20", "50.00", "45.00", "1000.00",
            "900.00", "-100.00", "-10.00", "-100.00", "-10.00", "7.76",
        ],
    ]  # fmt: skip


def test_holdings_csv_keeps_a_non_latin_username_in_its_file_name(client):
    client.force_login(StudentFactory(username="Zoë"))

    disposition = client.get(CSV_URL)["Content-Disposition"]

    assert disposition.startswith('attachment; filename="tradesim-holdings-Zoe-')
    assert "; filename*=UTF-8''tradesim-holdings-Zo%C3%AB-" in disposition


def test_holdings_csv_defuses_formulas(student, student_client):
    listed("EVIL", "10.00", name="=HYPERLINK(1)")
    buy(student, "EVIL", 1)

    rows = list(csv.reader(io.StringIO(text_of(student_client.get(CSV_URL)))))

    assert rows[1][1] == "'=HYPERLINK(1)"


def test_holdings_csv_of_a_new_student_is_just_the_header(student_client):
    rows = list(csv.reader(io.StringIO(text_of(student_client.get(CSV_URL)))))

    assert len(rows) == 1


# The leaderboard ---------------------------------------------------------------------


@pytest.fixture
def board(student, settings):
    """alice (the viewer) gains 5 %; bob deposits $90,000 and holds it; erin started with
    $20,000 and holds cash; carol and dave hold their $10,000: a tie.

    Everyone is snapshotted at the first tick; bob's deposit comes after the second."""
    settings.SNAPSHOT_EVERY_TICKS = 1
    bob = StudentFactory(username="bob")
    erin = StudentFactory(username="erin", cash="20000.00")
    carol = StudentFactory(username="carol")
    dave = StudentFactory(username="dave")
    listed("XYZ", "100.00")
    buy(student, "XYZ", 50)
    start = timezone.now() - timedelta(minutes=10)
    tick({"XYZ": "100.00"}, start)
    after_tick(ticks=1, timestamp=start)
    tick({"XYZ": "110.00"}, start + timedelta(minutes=1))
    after_tick(ticks=2, timestamp=start + timedelta(minutes=1))
    ledger.deposit(user=bob, amount="90000.00")
    return {"alice": student, "bob": bob, "erin": erin, "carol": carol, "dave": dave}


def test_leaderboard_ranks_by_twr_then_value_and_ties_share_a_rank(board, student_client):
    page = student_client.get(LEADERBOARD).content.decode()

    assert ranks(page) == [
        ("1", "alice"),  # +5.00 %, $10,500
        ("2", "bob"),  # 0.00 %, $100,000: depositing is not skill
        ("3", "erin"),  # 0.00 %, $20,000
        ("4", "carol"),  # 0.00 %, $10,000
        ("4", "dave"),  # the same: the same rank
    ]
    assert "+5.00%" in row_of(page, "alice")
    assert "$100,000.00" in row_of(page, "bob")


def test_the_bigger_depositor_does_not_win_by_depositing_without_a_snapshot(student_client):
    """No snapshot at all yet: the unit value is total value / net contributions."""
    listed("XYZ", "100.00")
    alice = StudentFactory(username="alice")
    buy(alice, "XYZ", 10)
    set_price("XYZ", "102.00")  # +20 on 10,000: +0.20 %
    bob = StudentFactory(username="bob")
    ledger.deposit(user=bob, amount="99000.00")

    page = student_client.get(LEADERBOARD).content.decode()

    assert ranks(page) == [("1", "alice"), ("2", "bob")]


def test_the_viewers_row_is_highlighted(board, student_client, other_client):
    page = student_client.get(LEADERBOARD).content.decode()

    assert 'class="row-self"' in row_of(page, "alice")
    assert "row-self" not in row_of(page, "bob")
    assert page.count("row-self") == 1
    assert "Your rank: <strong>#1</strong> of 5" in page

    bobs_page = other_client.get(LEADERBOARD).content.decode()
    assert 'class="row-self"' in row_of(bobs_page, "bob")
    assert "Your rank: <strong>#2</strong> of 5" in bobs_page


def test_your_rank_shows_on_every_page(student, student_client):
    for i in range(30):
        StudentFactory(username=f"rich{i:02d}", cash="20000.00")

    page = student_client.get(LEADERBOARD).content.decode()

    assert "Your rank: <strong>#31</strong> of 31" in page
    assert "row-self" not in page
    assert "Go to your row (page 2)" in page
    assert len(ranks(page)) == 25
    page2 = student_client.get(LEADERBOARD, {"page": 2}).content.decode()
    assert ranks(page2)[-1] == ("31", "alice")
    assert 'class="row-self"' in row_of(page2, "alice")


def test_staff_and_superusers_are_not_ranked(board, student_client):
    StudentFactory(username="staffer", is_staff=True, cash="50000.00")
    StudentFactory(username="root", is_superuser=True, cash="50000.00")

    page = student_client.get(LEADERBOARD).content.decode()

    assert "staffer" not in page and "root" not in page and "teacher" not in page
    superuser = Client()
    superuser.force_login(InstructorFactory(username="boss", is_superuser=True))
    everyone = superuser.get(LEADERBOARD).content.decode()
    assert "Instructors are not ranked" in everyone
    assert len(ranks(everyone)) == 5


def test_a_student_sees_their_own_class_by_default_and_no_other(board, student_client):
    period1 = ClassroomFactory(name="Period 1")
    period2 = ClassroomFactory(name="Period 2")
    for name in ("alice", "carol", "bob"):
        board[name].classroom = period1
        board[name].save(update_fields=["classroom"])
    board["erin"].classroom = period2
    board["erin"].save(update_fields=["classroom"])

    page = student_client.get(LEADERBOARD).content.decode()

    assert ranks(page) == [("1", "alice"), ("2", "bob"), ("3", "carol")]
    assert "Your rank: <strong>#1</strong> of 3 in Period 1" in page
    assert 'name="class"' not in page  # nothing to choose from
    assert student_client.get(LEADERBOARD, {"class": period1.pk}).status_code == 200
    other = student_client.get(LEADERBOARD, {"class": period2.pk})
    assert other.status_code == 404
    assert "erin" not in other.content.decode()


def test_a_student_in_no_class_sees_the_students_in_no_class(board, student_client):
    period1 = ClassroomFactory(name="Period 1")
    board["erin"].classroom = period1
    board["erin"].save(update_fields=["classroom"])

    page = student_client.get(LEADERBOARD).content.decode()

    assert [user for _, user in ranks(page)] == ["alice", "bob", "carol", "dave"]
    assert "Students in no class" in page and "/classes/join/" in page


@pytest.mark.parametrize("value", ["abc", "999999"])
def test_an_unknown_class_is_a_404(student_client, value):
    assert student_client.get(LEADERBOARD, {"class": value}).status_code == 404


def test_an_instructor_picks_among_their_own_classes(board):
    teacher = InstructorFactory(username="teacher")
    period1 = ClassroomFactory(name="Period 1")
    period2 = ClassroomFactory(name="Period 2")
    theirs = ClassroomFactory(name="Period 3")
    period1.owners.add(teacher)
    period2.owners.add(teacher)
    for name, classroom in [("alice", period1), ("bob", period2), ("erin", theirs)]:
        board[name].classroom = classroom
        board[name].save(update_fields=["classroom"])
    client = Client()
    client.force_login(teacher)

    first = client.get(LEADERBOARD).content.decode()
    second = client.get(LEADERBOARD, {"class": period2.pk}).content.decode()

    assert [user for _, user in ranks(first)] == ["alice"]  # their first class by name
    assert [user for _, user in ranks(second)] == ["bob"]
    assert "Period 3" not in first
    assert client.get(LEADERBOARD, {"class": theirs.pk}).status_code == 404


def test_an_instructor_with_no_class_is_told_so(instructor_client, board):
    page = instructor_client.get(LEADERBOARD).content.decode()

    assert "You don't run a class yet" in page
    assert ranks(page) == []


def test_an_empty_class_says_so(student):
    empty = ClassroomFactory(name="Period 9")
    superuser = Client()
    superuser.force_login(InstructorFactory(username="boss", is_superuser=True))

    page = superuser.get(LEADERBOARD, {"class": empty.pk}).content.decode()

    assert "No students in Period 9 yet" in page


def _class_of(students: int) -> None:
    listed("XYZ", "100.00")
    for i in range(students):
        user = StudentFactory(username=f"s{i:02d}")
        buy(user, "XYZ", i + 1)


@pytest.mark.parametrize("students", [3, 40])
def test_leaderboard_costs_the_same_queries_for_3_and_40_students(
    student, student_client, students, django_assert_max_num_queries
):
    ClassroomFactory(name="Period 1")
    _class_of(students)

    # session, user, the count, the ranking (the page and the viewer's row, ranked among
    # everyone); a student in no class has no class to look up
    for url in [LEADERBOARD, LEADERBOARD + "?page=2", LEADERBOARD + "?page=99"]:
        with django_assert_max_num_queries(4):
            assert student_client.get(url).status_code == 200


@pytest.mark.parametrize("students", [3, 40])
@pytest.mark.parametrize("ranking", ["twr", "total_return", "excess_return", "risk_adjusted"])
def test_a_class_leaderboard_costs_the_same_queries_whatever_its_size_and_metric(
    student, student_client, students, ranking, django_assert_max_num_queries
):
    period = ClassroomFactory(name="Period 1", ranking=ranking, min_trades_to_rank=1)
    listed("MKT", "1000.00", is_index=True)
    _class_of(students)
    get_user_model().objects.update(classroom=period)

    # session, user, the class, the count, the ranking, the student's margin call (every
    # page of a student in a class: trading.context_processors.margin_call)
    for url in [LEADERBOARD, LEADERBOARD + "?page=2"]:
        with django_assert_max_num_queries(6):
            assert student_client.get(url).status_code == 200


@pytest.mark.parametrize("students", [3, 40])
def test_an_instructors_leaderboard_costs_the_same_queries_whatever_its_size(
    students, django_assert_max_num_queries
):
    teacher = InstructorFactory(username="teacher")
    period = ClassroomFactory(name="Period 1", names_shown=False)
    period.owners.add(teacher)
    _class_of(students)
    get_user_model().objects.exclude(pk=teacher.pk).update(classroom=period)
    client = Client()
    client.force_login(teacher)

    # session, user, their classes, the count, the ranking
    with django_assert_max_num_queries(5):
        assert client.get(LEADERBOARD).status_code == 200


# The admin ---------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["holding", "portfoliosummary", "portfoliosnapshot"])
def test_admin_lists_are_read_only(invested, admin_client, model, settings):
    settings.SNAPSHOT_EVERY_TICKS = 1
    after_tick(ticks=1, timestamp=timezone.now())

    response = admin_client.get(reverse(f"admin:portfolio_{model}_changelist"))

    assert response.status_code == 200
    assert "alice" in response.content.decode()
    assert admin_client.get(reverse(f"admin:portfolio_{model}_add")).status_code == 403
