"""A margin account on the dashboard, in its snapshots and on the leaderboard:
buying power, loan, equity and margin level, cash below zero valued honestly, and an
equity at or below zero snapshotted without error."""

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from portfolio import selectors
from portfolio.models import PortfolioSnapshot, PortfolioSummary
from portfolio.services import after_tick
from tests.factories import ClassroomFactory, PriceFactory, StudentFactory
from tests.portfolio.helpers import set_price
from trading.services import buy

D = Decimal

pytestmark = pytest.mark.django_db

DASHBOARD = reverse("portfolio:dashboard")
LIVE = reverse("portfolio:live")
LEADERBOARD = reverse("portfolio:leaderboard")


@pytest.fixture
def margin_class():
    return ClassroomFactory(name="Leverage", margin=True, starting_cash=D("10000.00"))


@pytest.fixture
def mia(margin_class):
    return StudentFactory(username="mia", classroom=margin_class)


@pytest.fixture
def acme():
    return PriceFactory(symbol="ACME", price=D("100.00"), sector="Industrials")


@pytest.fixture
def leveraged(mia, acme):
    """The worked example: $10,000 of cash buys $15,000 of ACME, $5,000 of it borrowed."""
    buy(user=mia, symbol="ACME", quantity=150)
    return mia


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def text(page: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</', page, re.DOTALL)
    assert match, f"no #{element_id}"
    return " ".join(match.group(1).replace("&nbsp;", " ").split())


# The figures ----------------------------------------------------------------------------


def test_the_worked_example_loan_equity_buying_power_and_margin_level(leveraged):
    overview = selectors.portfolio_overview(leveraged)

    assert overview.cash == D("-5000.00")
    assert overview.market_value == D("15000.00")
    assert overview.total_value == D("10000.00")  # cash + positions: the equity
    margin = overview.margin
    assert margin.loan == D("5000.00")
    assert margin.equity == D("10000.00")
    assert margin.buying_power == D("5000.00")  # 10,000 ÷ 50 % − 15,000
    assert margin.level == D("66.67")  # 10,000 ÷ 15,000
    assert (margin.initial_percent, margin.maintenance_percent) == (D("50"), D("30"))
    assert not margin.below_maintenance and not margin.below_initial
    assert overview.buying_power == D("5000.00")


def test_the_total_return_and_pl_of_a_leveraged_account(leveraged, acme):
    set_price("ACME", "110.00")  # +10 % on $15,000 of shares: +$1,500, +15 % of the equity

    overview = selectors.portfolio_overview(leveraged)

    assert overview.total_value == D("11500.00")
    assert overview.total_return == D("1500.00")
    assert overview.total_return_pct == D("15.00")
    assert overview.unrealized_pnl == D("1500.00")
    assert overview.margin.level == D("69.70")  # 11,500 ÷ 16,500


def test_the_allocation_has_no_negative_slice_and_weighs_what_is_held(leveraged):
    overview = selectors.portfolio_overview(leveraged)

    assert [(s.label, s.value, s.weight) for s in overview.by_symbol] == [
        ("ACME", D("15000.00"), D("100.00"))
    ]
    assert [s.label for s in overview.by_sector] == ["Industrials"]
    assert overview.positions[0].weight == D("100.00")
    assert overview.cash_weight is None  # a loan has no weight


def test_a_student_with_no_positions_has_no_margin_level(mia):
    margin = selectors.portfolio_overview(mia).margin

    assert margin.level is None
    assert (margin.loan, margin.equity, margin.buying_power) == (
        D("0.00"),
        D("10000.00"),
        D("20000.00"),
    )


def test_a_class_without_margin_has_no_margin_figures(acme):
    student = StudentFactory(classroom=ClassroomFactory(name="Cash only"))
    buy(user=student, symbol="ACME", quantity=10)

    overview = selectors.portfolio_overview(student)

    assert overview.margin is None
    assert overview.buying_power == D("9000.00")
    assert overview.cash_weight == D("90.00")  # of the total value, as before


# The dashboard ---------------------------------------------------------------------------


def test_the_dashboard_shows_the_margin_account(leveraged):
    page = client_of(leveraged).get(DASHBOARD).content.decode()

    assert text(page, "buying-power") == "$5,000.00"
    assert text(page, "margin-loan") == "$5,000.00"
    assert text(page, "equity") == "$10,000.00"
    assert text(page, "margin-level") == "66.67 %"
    assert "Maintenance 30&nbsp;%, initial 50&nbsp;%." in page
    assert text(page, "cash") == "−$5,000.00"
    assert "a margin loan of" in page
    assert 'id="holdings-loan"' in page  # the holdings table's loan row, no weight
    assert "data-allocation-loan" in page  # the allocation's loan row, not a slice
    for term in ("margin", "equity", "buying-power", "margin-call"):
        assert f'id="explain-margin-{term}"' in page  # the glossary's words beside each


def test_the_live_partial_carries_the_margin_account(leveraged):
    page = client_of(leveraged).get(LIVE, HTTP_HX_REQUEST="true").content.decode()

    assert text(page, "margin-level") == "66.67 %"


def test_the_dashboard_says_when_the_equity_is_below_the_maintenance_margin(leveraged):
    set_price("ACME", "45.00")  # $6,750 of shares on a $5,000 loan: 25.93 %

    page = client_of(leveraged).get(DASHBOARD).content.decode()

    assert text(page, "margin-level") == "25.93 %"
    assert "Below the 30&nbsp;% maintenance margin" in page


def test_a_class_without_margin_keeps_the_free_to_spend_wording(acme):
    from trading.services import OrderRequest, place_order

    student = StudentFactory(classroom=ClassroomFactory(name="Cash only"))
    place_order(
        user=student,
        request=OrderRequest(
            symbol="ACME", side="buy", type="limit", quantity=10, limit_price=D("90.00")
        ),
        token=None,
    )

    page = client_of(student).get(DASHBOARD).content.decode()

    assert "Free to spend" in page
    assert text(page, "cash-free") == "$9,100.00"
    assert 'id="margin"' not in page
    assert "Margin loan" not in page


@pytest.mark.parametrize("margin", [False, True])
def test_a_margin_class_costs_the_dashboard_no_more_queries(margin, acme):
    classroom = ClassroomFactory(name="Period 1", margin=margin)
    student = StudentFactory(username="sam", classroom=classroom)
    buy(user=student, symbol="ACME", quantity=150 if margin else 50)
    client = client_of(student)

    for url, headers, count in [(DASHBOARD, {}, 11), (LIVE, {"HTTP_HX_REQUEST": "true"}, 4)]:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url, **headers).status_code == 200
        # session, user, the account row, the holdings, the index, the snapshots, the
        # recent journal, the class, the viewer's ranked row, the open orders, the margin
        # call banner's open call; the live part: session, user, the account row, the
        # holdings
        assert len(ctx.captured_queries) == count


# Snapshots and the leaderboard ----------------------------------------------------------


def test_a_leveraged_accounts_snapshot_and_leaderboard_row(leveraged, settings):
    settings.SNAPSHOT_EVERY_TICKS = 1
    after_tick(ticks=1, timestamp=timezone.now())

    snapshot = PortfolioSnapshot.objects.get(user=leveraged)
    assert (snapshot.cash, snapshot.market_value, snapshot.total_value) == (
        D("-5000.00"),
        D("15000.00"),
        D("10000.00"),
    )
    assert snapshot.unit_value == D("1")
    set_price("ACME", "110.00")
    after_tick(ticks=2, timestamp=timezone.now())
    # +$1,500 on $10,000 of equity: the unit value follows the equity, leverage and all
    assert PortfolioSnapshot.objects.filter(user=leveraged).latest("timestamp").unit_value == D(
        "1.15"
    )

    page = client_of(leveraged).get(LEADERBOARD).content.decode()
    row = re.search(r'<tr[^>]*data-user="mia"[^>]*>.*?</tr>', page, re.DOTALL).group(0)
    assert "$11,500.00" in row
    assert "+15.00%" in row
    assert "after a $5,000.00 margin loan" in row


def test_an_account_with_negative_equity_is_snapshotted_and_ranked_honestly(
    leveraged, margin_class, settings
):
    settings.SNAPSHOT_EVERY_TICKS = 1
    after_tick(ticks=1, timestamp=timezone.now())
    other = StudentFactory(username="zed", classroom=margin_class)
    set_price("ACME", "20.00")  # $3,000 of shares on a $5,000 loan: equity −$2,000

    assert after_tick(ticks=2, timestamp=timezone.now()) == 2

    snapshot = PortfolioSnapshot.objects.filter(user=leveraged).latest("timestamp")
    assert (snapshot.cash, snapshot.total_value) == (D("-5000.00"), D("-2000.00"))
    assert snapshot.unit_value == 0  # the time-weighted return bottoms out at −100 %
    summary = PortfolioSummary.objects.get(user=leveraged)
    assert (summary.unit_value, summary.max_drawdown) == (0, 1)

    overview = selectors.portfolio_overview(leveraged)
    assert overview.total_value == D("-2000.00")
    assert overview.total_return_pct == D("-120.00")  # lost more than was put in
    assert overview.twr_pct == D("-100.00")
    assert overview.max_drawdown_pct == D("100.00")
    assert overview.margin.level == D("-66.67")
    assert overview.margin.buying_power == D("0.00")

    page = client_of(leveraged).get(DASHBOARD).content.decode()
    assert text(page, "total-value") == "−$2,000.00"
    assert text(page, "margin-level") == "−66.67 %"  # a minus sign, as every amount has
    assert "you owe more than you hold" in page

    board = client_of(other).get(LEADERBOARD).content.decode()
    rows = re.findall(r'<tr[^>]*data-user="([^"]+)"', board)
    assert rows == ["zed", "mia"]  # last, below the student who did nothing
    mia_row = re.search(r'<tr[^>]*data-user="mia"[^>]*>.*?</tr>', board, re.DOTALL).group(0)
    assert "−$2,000.00" in mia_row
    assert "−100.00%" in mia_row  # the time-weighted return, the class's metric
    assert "−120.00%" in mia_row  # the total return: more than was put in
    assert "owes more than it holds" in mia_row


def test_a_deposit_into_an_account_worth_less_than_nothing_buys_no_units(leveraged, settings):
    from ledger import services as ledger

    settings.SNAPSHOT_EVERY_TICKS = 1
    after_tick(ticks=1, timestamp=timezone.now())
    set_price("ACME", "20.00")
    after_tick(ticks=2, timestamp=timezone.now())
    ledger.deposit(user=leveraged, amount="5000.00")

    after_tick(ticks=3, timestamp=timezone.now())

    summary = PortfolioSummary.objects.get(user=leveraged)
    assert (summary.units, summary.unit_value) == (0, 0)
    assert selectors.portfolio_overview(leveraged).twr_pct == D("-100.00")
