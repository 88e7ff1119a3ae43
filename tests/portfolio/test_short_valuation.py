"""Valuation with short positions: a short is a liability at the market,
so equity = cash + long value − short value; its P/L is (average short price − price) ×
shares; the allocation shows shorts apart; snapshots, the time-weighted return, the
drawdown, the leaderboard, the instructors' pages and the API all count them so."""

import csv
import io
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from console.selectors import with_standing
from portfolio import selectors
from portfolio.models import PortfolioSnapshot, PortfolioSummary
from portfolio.services import after_tick
from tests.api.conftest import ApiClient, token_for
from tests.factories import ClassroomFactory, PriceFactory, StudentFactory
from tests.portfolio.helpers import new_trading_day, set_price
from trading.services import buy, sell_short

D = Decimal

pytestmark = pytest.mark.django_db

DASHBOARD = reverse("portfolio:dashboard")
LIVE = reverse("portfolio:live")
LEADERBOARD = reverse("portfolio:leaderboard")
CSV = reverse("portfolio:holdings_csv")
LEADERBOARD_QUERIES = 6  # as for a student without shorts, whatever their number


@pytest.fixture
def short_class():
    return ClassroomFactory(name="Shorts", short_selling=True, starting_cash=D("10000.00"))


@pytest.fixture
def sam(short_class):
    return StudentFactory(username="sam", classroom=short_class)


@pytest.fixture
def acme():
    return PriceFactory(symbol="ACME", name="Acme Corp", price=D("100.00"), sector="Industrials")


@pytest.fixture
def shorted(sam, acme):
    """The worked example: $10,000 of cash, 100 ACME sold short at $100."""
    sell_short(user=sam, symbol="ACME", quantity=100)
    return sam


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def text(page: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</', page, re.DOTALL)
    assert match, f"no #{element_id}"
    return " ".join(match.group(1).replace("&nbsp;", " ").split())


def row_of(page: str, symbol: str) -> str:
    return re.search(rf'<tr[^>]*data-symbol="{symbol}"[^>]*>.*?</tr>', page, re.DOTALL).group(0)


# The worked example -------------------------------------------------------------------


def test_a_short_sale_leaves_the_equity_where_it_was(shorted):
    overview = selectors.portfolio_overview(shorted)

    assert overview.cash == D("20000.00")
    assert (overview.long_value, overview.short_value) == (D("0"), D("10000.00"))
    assert overview.market_value == D("-10000.00")
    assert overview.total_value == D("10000.00")
    assert overview.unrealized_pnl == 0
    (position,) = overview.positions
    assert position.is_short
    assert (position.market_value, position.cost_basis) == (D("-10000.00"), D("-10000.00"))
    assert position.weight == D("100.00")  # of the short positions' value


def test_a_short_that_loses_half_the_equity(shorted, settings):
    settings.SNAPSHOT_EVERY_TICKS = 1
    after_tick(ticks=1, timestamp=timezone.now())
    set_price("ACME", "150.00")
    after_tick(ticks=2, timestamp=timezone.now())

    overview = selectors.portfolio_overview(shorted)
    assert overview.short_value == D("15000.00")
    assert overview.market_value == D("-15000.00")
    assert overview.total_value == D("5000.00")  # 20,000 − 15,000
    assert overview.unrealized_pnl == D("-5000.00")  # (100 − 150) × 100
    assert overview.positions[0].unrealized_pnl == D("-5000.00")
    assert overview.positions[0].unrealized_pnl_pct == D("-50.00")  # of the $10,000 sold for
    assert overview.unrealized_pnl_pct == D("-50.00")
    assert overview.twr_pct == D("-50.00")
    assert overview.max_drawdown_pct == D("50.00")
    assert overview.total_return == D("-5000.00")

    snapshot = PortfolioSnapshot.objects.filter(user=shorted).latest("timestamp")
    assert (snapshot.cash, snapshot.market_value, snapshot.total_value) == (
        D("20000.00"),
        D("-15000.00"),
        D("5000.00"),
    )
    assert snapshot.unit_value == D("0.5")
    summary = PortfolioSummary.objects.get(user=shorted)
    assert summary.max_drawdown == D("0.5")

    page = client_of(shorted).get(LEADERBOARD).content.decode()
    row = re.search(r'<tr[^>]*data-user="sam"[^>]*>.*?</tr>', page, re.DOTALL).group(0)
    assert "$5,000.00" in row
    assert "−50.00%" in row


def test_a_short_only_account_is_snapshotted_without_error(shorted, settings):
    """Its market value is below zero: the snapshot's check allowed none before."""
    settings.SNAPSHOT_EVERY_TICKS = 1
    set_price("ACME", "250.00")  # the short is worth more than the equity: −$5,000

    assert after_tick(ticks=1, timestamp=timezone.now()) == 1

    snapshot = PortfolioSnapshot.objects.get(user=shorted)
    assert (snapshot.market_value, snapshot.total_value) == (D("-25000.00"), D("-5000.00"))
    assert snapshot.unit_value == 0
    assert selectors.portfolio_overview(shorted).twr_pct == D("-100.00")


def test_the_unit_value_still_ignores_deposits(shorted, settings):
    from ledger import services as ledger

    settings.SNAPSHOT_EVERY_TICKS = 1
    after_tick(ticks=1, timestamp=timezone.now())
    set_price("ACME", "150.00")
    after_tick(ticks=2, timestamp=timezone.now())
    ledger.deposit(user=shorted, amount="5000.00")
    after_tick(ticks=3, timestamp=timezone.now())

    overview = selectors.portfolio_overview(shorted)
    assert overview.total_value == D("10000.00")
    assert overview.twr_pct == D("-50.00")  # the deposit bought units at 0.5
    assert overview.total_return == D("-5000.00")


def test_a_long_and_a_short_position(sam, acme):
    PriceFactory(symbol="BOLT", name="Bolt Inc", price=D("50.00"), sector="Technology")
    buy(user=sam, symbol="BOLT", quantity=40)  # $2,000 of cash into shares
    sell_short(user=sam, symbol="ACME", quantity=30)  # $3,000 of proceeds
    set_price("BOLT", "60.00")  # +$400
    set_price("ACME", "90.00")  # the short gains $300

    overview = selectors.portfolio_overview(sam)
    assert overview.cash == D("11000.00")
    assert (overview.long_value, overview.short_value) == (D("2400.00"), D("2700.00"))
    assert overview.market_value == D("-300.00")
    assert overview.total_value == D("10700.00")  # 11,000 + 2,400 − 2,700
    assert overview.unrealized_pnl == D("700.00")
    by = {p.symbol: p for p in overview.positions}
    assert by["ACME"].unrealized_pnl == D("300.00")
    assert by["BOLT"].unrealized_pnl == D("400.00")
    # The allocation: what is held (shares owned and cash), the short apart.
    assert [(s.label, s.value, s.weight) for s in overview.by_symbol] == [
        ("BOLT", D("2400.00"), D("17.91")),
        ("Cash", D("11000.00"), D("82.09")),
    ]
    assert [s.label for s in overview.by_sector] == ["Technology", "Cash"]
    assert [(s.label, s.value, s.weight) for s in overview.shorts] == [
        ("ACME", D("-2700.00"), D("100.00"))
    ]
    assert by["BOLT"].weight == D("17.91")
    assert overview.cash_weight == D("82.09")


def test_today_of_a_short(shorted):
    """Shorted today at $100: the day counts from the short price; a new day from the close."""
    set_price("ACME", "110.00")
    position = selectors.portfolio_overview(shorted).positions[0]
    assert (position.day_change, position.day_change_pct) == (D("-1000.00"), D("-10.00"))
    assert position.bought_today == 100

    new_trading_day()
    set_price("ACME", "99.00", previous_close="110.00")
    overview = selectors.portfolio_overview(shorted)
    position = overview.positions[0]
    assert (position.day_change, position.day_change_pct) == (D("1100.00"), D("10.00"))
    assert position.bought_today == 0
    assert overview.day_change == D("1100.00")


def test_buying_power_counts_the_short_without_margin(shorted):
    # equity 10,000 ÷ 50 % − 10,000 of shorts: 10,000, never more than the free cash
    assert selectors.portfolio_overview(shorted).buying_power == D("10000.00")
    set_price("ACME", "150.00")
    # 5,000 ÷ 50 % − 15,000 < 0: nothing, though $20,000 of cash is in the account
    assert selectors.portfolio_overview(shorted).buying_power == D("0.00")


def test_the_margin_figures_count_the_short(acme):
    student = StudentFactory(
        username="mia", classroom=ClassroomFactory(margin=True, short_selling=True)
    )
    sell_short(user=student, symbol="ACME", quantity=100)
    set_price("ACME", "150.00")

    margin = selectors.portfolio_overview(student).margin
    assert margin.equity == D("5000.00")
    assert (margin.positions_value, margin.short_value) == (D("15000.00"), D("15000.00"))
    assert margin.level == D("33.33")
    assert margin.cash == D("20000.00")
    assert margin.buying_power == D("0.00")


# The pages ----------------------------------------------------------------------------


def test_the_dashboard_shows_a_short_row_and_the_totals(shorted, acme):
    set_price("ACME", "150.00")
    page = client_of(shorted).get(DASHBOARD).content.decode()

    row = row_of(page, "ACME")
    assert "Short 100" in row
    assert "−$15,000.00" in row  # the market value: what buying back costs
    assert "−$5,000.00" in row  # the unrealized P/L
    assert "avg short price" in row
    assert "?side=buy_to_cover&amp;symbol=ACME" in row
    assert ">Buy to cover<" in row
    assert ">Sell<" not in row and ">Buy<" not in row
    assert text(page, "total-value") == "$5,000.00"
    assert text(page, "market-value") == "−$15,000.00"
    assert text(page, "long-value") == "$0.00"
    assert text(page, "short-value") == "−$15,000.00"
    assert text(page, "cash") == "$20,000.00"
    assert text(page, "cash-free") == "$0.00"  # buying power: the proceeds are not free
    assert 'id="holdings-shorts-note"' in page
    shorts = re.search(r"<tbody[^>]*data-allocation-shorts>.*?</tbody>", page, re.DOTALL)
    assert "ACME" in shorts.group(0) and "−$15,000.00" in shorts.group(0)
    assert 'id="allocation-shorts-note"' in page


def test_a_class_without_shorts_shows_none_of_it(acme):
    student = StudentFactory(username="lee", classroom=ClassroomFactory(name="Plain"))
    buy(user=student, symbol="ACME", quantity=10)
    page = client_of(student).get(DASHBOARD).content.decode()

    for absent in ("long-value", "short-value", "holdings-shorts-note", "data-allocation-shorts"):
        assert absent not in page
    assert "Buy to cover" not in page
    assert text(page, "market-value") == "$1,000.00"


def test_the_holdings_csv_has_the_signed_short(shorted):
    set_price("ACME", "150.00")
    response = client_of(shorted).get(CSV)
    body = b"".join(response.streaming_content).decode()
    rows = list(csv.reader(io.StringIO(body)))
    acme = next(r for r in rows if r and r[0] == "ACME")
    assert acme[3] == "-100"
    assert "-15000.00" in acme
    assert "-5000.00" in acme


def test_the_instructors_standings_count_the_short(shorted):
    set_price("ACME", "150.00")
    row = with_standing(type(shorted).objects.filter(pk=shorted.pk)).get()
    assert row.total_value == D("5000.00")


def test_the_api_agrees_with_the_dashboard(shorted):
    set_price("ACME", "150.00")
    api = ApiClient(token_for(shorted))

    account = api.get("/account").json()
    assert account["cash"] == "20000.00"
    assert account["market_value"] == "-15000.00"
    assert account["long_value"] == "0.00"
    assert account["short_value"] == "15000.00"
    assert account["total_value"] == account["equity"] == "5000.00"
    assert account["unrealized_pnl"] == "-5000.00"
    assert account["buying_power"] == "0.00"
    assert account["margin_level"] == "33.33"

    positions = api.get("/positions").json()
    (acme,) = positions["data"]
    assert (acme["side"], acme["quantity"]) == ("short", -100)
    assert (acme["market_value"], acme["unrealized_pnl"]) == ("-15000.00", "-5000.00")
    assert positions["market_value"] == "-15000.00"


# Fixed query counts ---------------------------------------------------------------------


@pytest.mark.parametrize("shorts", [1, 3])
def test_query_counts_do_not_grow_with_the_short_positions(shorts, sam, acme):
    for n in range(shorts):
        symbol = f"SH{n}"
        PriceFactory(symbol=symbol, price=D("20.00"))
        sell_short(user=sam, symbol=symbol, quantity=10)
    client = client_of(sam)
    api = ApiClient(token_for(sam))
    # dashboard: session, user, the account row, the holdings, the index, the snapshots, the
    # class, the viewer's ranked row, the open orders, the recent journal, the margin call;
    # the live part: session, user, the account row, the holdings; the API (after the
    # token's first use): account: token, account row, holdings, ranked row; positions:
    # token, account row, holdings
    for get, count in [
        (lambda: client.get(DASHBOARD), 11),
        (lambda: client.get(LIVE, HTTP_HX_REQUEST="true"), 4),
        (lambda: client.get(LEADERBOARD), LEADERBOARD_QUERIES),
        (lambda: api.get("/account"), 4),
        (lambda: api.get("/positions"), 3),
    ]:
        assert get().status_code == 200
        with CaptureQueriesContext(connection) as ctx:
            assert get().status_code == 200
        assert len(ctx.captured_queries) == count, [q["sql"][:60] for q in ctx.captured_queries]
