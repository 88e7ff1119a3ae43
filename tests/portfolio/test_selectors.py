"""Portfolio numbers on worked examples computed by hand, and the queries they cost."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from ledger import services as ledger
from ledger.models import Transaction
from portfolio import selectors
from portfolio.services import after_tick
from tests.factories import PriceHistoryFactory, StudentFactory
from tests.portfolio.helpers import buy, listed, new_trading_day, sell, set_price, tick

D = Decimal

pytestmark = pytest.mark.django_db


@pytest.fixture
def worked_example(student):
    """alice starts with $10,000.00.

    buy 10 AAPL @ 100.00 and 20 XOM @ 50.00            cash 8,000.00
    a new trading day: AAPL moves to 120.00 (closed yesterday at 110.00), XOM to 45.00
    (closed at 50.00)
    sell 4 AAPL @ 120.00: realized (120 − 100) × 4 = +80.00   cash 8,480.00
    deposit 2,000.00                                   cash 10,480.00
    withdraw 500.00                                    cash 9,980.00
    """
    listed("AAPL", "100.00", sector="Technology", name="Apple Inc.")
    listed("XOM", "50.00", sector="Energy", name="Exxon Mobil")
    buy(student, "AAPL", 10)
    buy(student, "XOM", 20)
    new_trading_day()
    set_price("AAPL", "120.00", previous_close="110.00")
    set_price("XOM", "45.00", previous_close="50.00")
    assert sell(student, "AAPL", 4) == D("80.00")
    ledger.deposit(user=student, amount="2000.00")
    ledger.withdraw(user=student, amount="500.00")
    return student


def test_worked_example_holdings(worked_example):
    overview = selectors.portfolio_overview(worked_example)

    aapl, xom = overview.positions
    # AAPL: 6 left at an average cost of 100.00, worth 6 × 120 = 720.
    assert (aapl.symbol, aapl.name, aapl.sector) == ("AAPL", "Apple Inc.", "Technology")
    assert aapl.quantity == 6
    assert aapl.average_cost == D("100.0000")
    assert aapl.price == D("120.00")
    assert aapl.cost_basis == D("600.00")
    assert aapl.market_value == D("720.00")
    assert aapl.unrealized_pnl == D("120.00")
    assert aapl.unrealized_pnl_pct == D("20.00")
    assert aapl.day_change == D("60.00")  # 6 × (120 − 110)
    assert aapl.day_change_pct == D("9.09")  # 10 / 110
    assert aapl.weight == D("6.21")  # 720 / 11,600
    # XOM: 20 at 50.00, worth 20 × 45 = 900.
    assert xom.market_value == D("900.00")
    assert xom.unrealized_pnl == D("-100.00")
    assert xom.unrealized_pnl_pct == D("-10.00")
    assert xom.day_change == D("-100.00")
    assert xom.day_change_pct == D("-10.00")
    assert xom.weight == D("7.76")  # 900 / 11,600


def test_worked_example_totals(worked_example):
    overview = selectors.portfolio_overview(worked_example)

    assert overview.has_account
    assert overview.cash == D("9980.00")
    assert overview.market_value == D("1620.00")
    assert overview.total_value == D("11600.00")
    assert overview.contributed == D("12000.00")  # starting cash + deposit
    assert overview.withdrawn == D("500.00")
    assert overview.net_contributions == D("11500.00")
    assert overview.total_return == D("100.00")
    assert overview.total_return_pct == D("0.87")  # 100 / 11,500
    assert overview.realized_pnl == D("80.00")
    assert overview.unrealized_pnl == D("20.00")  # +120 − 100
    assert overview.realized_pnl + overview.unrealized_pnl == overview.total_return
    assert overview.day_change == D("-40.00")
    assert overview.cash_weight == D("86.03")
    # No snapshot yet: the units are the net contributions, issued at 1.00.
    assert overview.unit_value == D("11600.00") / D("11500.00")
    assert overview.twr_pct == D("0.87")
    assert overview.max_drawdown_pct == D("0.00")


def test_worked_example_allocation(worked_example):
    overview = selectors.portfolio_overview(worked_example)

    assert [(s.label, s.value, s.weight) for s in overview.by_symbol] == [
        ("XOM", D("900.00"), D("7.76")),
        ("AAPL", D("720.00"), D("6.21")),
        ("Cash", D("9980.00"), D("86.03")),
    ]
    assert [(s.label, s.value) for s in overview.by_sector] == [
        ("Energy", D("900.00")),
        ("Technology", D("720.00")),
        ("Cash", D("9980.00")),
    ]


def test_a_fee_lowers_the_return_and_is_not_a_contribution(worked_example):
    ledger.debit(user=worked_example, type=Transaction.Type.FEE, amount="5.00", symbol="AAPL")

    overview = selectors.portfolio_overview(worked_example)

    assert overview.net_contributions == D("11500.00")
    assert overview.fees == D("5.00")
    assert overview.total_return == D("95.00")
    assert overview.total_return == overview.realized_pnl + overview.unrealized_pnl - overview.fees


def test_grants_and_resets_are_contributions(student, instructor):
    ledger.grant(user=student, amount="300.00", reason="Prize", instructor=instructor)
    ledger.credit(user=student, type=Transaction.Type.RESET_CREDIT, amount="50.00")
    ledger.debit(user=student, type=Transaction.Type.RESET_DEBIT, amount="20.00")

    overview = selectors.portfolio_overview(student)

    assert overview.contributed == D("10350.00")
    assert overview.withdrawn == D("20.00")
    assert overview.net_contributions == D("10330.00")
    assert overview.total_return == D("0.00")
    assert overview.twr_pct == D("0.00")


def test_a_new_student_has_cash_only(student):
    overview = selectors.portfolio_overview(student)

    assert overview.is_empty
    assert overview.total_value == D("10000.00")
    assert overview.total_return == D("0.00")
    assert [(s.label, s.weight) for s in overview.by_sector] == [("Cash", D("100.00"))]


def test_an_instructor_has_no_account(instructor):
    overview = selectors.portfolio_overview(instructor)

    assert not overview.has_account
    assert overview.total_value == D("0.00")
    assert overview.total_return_pct is None


def test_recent_activity_is_the_users_last_ten_journal_rows(worked_example, other_student):
    ledger.deposit(user=other_student, amount="1.00")
    for _ in range(8):
        ledger.deposit(user=worked_example, amount="1.00")

    rows = selectors.recent_activity(worked_example)

    assert len(rows) == 10
    assert {row.user_id for row in rows} == {worked_example.pk}
    assert rows[0].timestamp >= rows[-1].timestamp
    assert "Sold 4 AAPL @ 120.00" not in [row.description for row in rows]  # 11th newest


# Time-weighted return and maximum drawdown -----------------------------------------------


@pytest.fixture
def twr_example(settings):
    """A student with $1,000.00 buys 10 XYZ @ 100.00; one snapshot per tick.

    tick  XYZ    flow since the last tick   value before → after   units   unit value
    t1    100    (first snapshot)            1,000 → 1,000          1,000   1.00
    t2    120                                       → 1,200         1,000   1.20  (peak)
    t3     90    deposit 1,200 (at 120)      2,400 → 2,100          2,000   1.05  (−12.5 %)
    t4    132                                       → 2,520         2,000   1.26  (peak)
    t5    126    withdraw 630 (at 132)       1,890 → 1,830          1,500   1.22  (−3.2 %)

    At t3 the deposit buys 1,200 / 1.20 = 1,000 units at the unit value before the tick,
    (2,400 − 1,200) / 1,000; at t5 the withdrawal redeems 630 / 1.26 = 500 units.
    TWR = 1.20 × (2,100 / 2,400) × (2,520 / 2,100) × (1,830 / 1,890) − 1 = +22.00 %;
    max drawdown = 1 − 1.05 / 1.20 = 12.50 %. The plain return on the 1,570.00 of net
    contributions is (1,830 − 1,570) / 1,570 = 16.56 %.
    """
    settings.SNAPSHOT_EVERY_TICKS = 1
    student = StudentFactory(cash="1000.00")
    listed("XYZ", "100.00")
    index = listed("MKT", "1000.00", is_index=True, name="Market index")
    start = timezone.now() - timedelta(hours=1)
    at = [start + timedelta(minutes=i) for i in range(6)]
    PriceHistoryFactory(stock=index, price=D("1000.00"), timestamp=at[0])
    buy(student, "XYZ", 10)

    tick({"XYZ": "100.00", "MKT": "1000.00"}, at[1])
    after_tick(ticks=1, timestamp=at[1])
    tick({"XYZ": "120.00", "MKT": "1100.00"}, at[2])
    after_tick(ticks=2, timestamp=at[2])
    ledger.deposit(user=student, amount="1200.00")
    tick({"XYZ": "90.00", "MKT": "1050.00"}, at[3])
    after_tick(ticks=3, timestamp=at[3])
    tick({"XYZ": "132.00", "MKT": "1150.00"}, at[4])
    after_tick(ticks=4, timestamp=at[4])
    ledger.withdraw(user=student, amount="630.00")
    tick({"XYZ": "126.00", "MKT": "1100.00"}, at[5])
    after_tick(ticks=5, timestamp=at[5])
    return student


def test_twr_and_max_drawdown_worked_example(twr_example):
    snapshots = list(twr_example.portfolio_snapshots.order_by("timestamp"))
    assert [(s.total_value, s.units, s.unit_value) for s in snapshots] == [
        (D("1000.00"), D("1000"), D("1.00")),
        (D("1200.00"), D("1000"), D("1.20")),
        (D("2100.00"), D("2000"), D("1.05")),
        (D("2520.00"), D("2000"), D("1.26")),
        (D("1830.00"), D("1500"), D("1.22")),
    ]

    overview = selectors.portfolio_overview(twr_example)

    assert overview.net_contributions == D("1570.00")
    assert overview.total_value == D("1830.00")
    assert overview.total_return_pct == D("16.56")
    assert overview.twr_pct == D("22.00")
    assert overview.max_drawdown_pct == D("12.50")
    summary = twr_example.portfolio_summary
    assert summary.peak_unit_value == D("1.26")
    assert summary.max_drawdown == D("0.125")


def test_a_deposit_since_the_last_snapshot_does_not_move_the_live_twr(twr_example):
    ledger.deposit(user=twr_example, amount="5000.00")

    overview = selectors.portfolio_overview(twr_example)

    assert overview.total_value == D("6830.00")
    assert overview.twr_pct == D("22.00")  # (6,830 − 5,000) / 1,500 = 1.22


def test_the_live_drawdown_counts_a_fall_since_the_last_snapshot(twr_example):
    set_price("XYZ", "63.00")  # 570 + 630 = 1,200 → unit value 0.80, 1 − 0.80 / 1.26

    overview = selectors.portfolio_overview(twr_example)

    assert overview.twr_pct == D("-20.00")
    assert overview.max_drawdown_pct == D("36.51")


def test_the_leaderboard_and_the_dashboard_agree_on_every_kind_of_unit_state(twr_example):
    emptied = StudentFactory(cash="100.00")
    after_tick(ticks=6, timestamp=timezone.now() - timedelta(minutes=1))
    ledger.withdraw(user=emptied, amount="100.00")
    after_tick(ticks=7, timestamp=timezone.now())  # its units are written off
    ledger.deposit(user=twr_example, amount="5000.00")  # not yet turned into units
    fresh = StudentFactory()  # never snapshotted
    buy(fresh, "XYZ", 1)
    ledger.deposit(user=fresh, amount="10.00")
    set_price("XYZ", "130.00")  # (570 + 5,000 + 1,300 − 5,000) / 1,500 = 1.24666…

    standings = selectors.standings(selectors.ranking())

    twr = {s.user_id: s.twr_pct for s in standings}
    assert twr[twr_example.pk] == D("24.67")
    assert twr[fresh.pk] == D("0.04")  # (10,010 − 126 + 130) / 10,010
    assert twr[emptied.pk] == D("0.00")
    for user in (twr_example, fresh, emptied):
        assert twr[user.pk] == selectors.portfolio_overview(user).twr_pct


def test_value_history_against_the_index(twr_example):
    overview = selectors.portfolio_overview(twr_example)

    history = selectors.value_history(twr_example, overview)

    assert history.has_history
    assert history.index_symbol == "MKT"
    assert history.labels[-1] == "Now"
    assert history.total_value == [
        D("1000.00"),
        D("1200.00"),
        D("2100.00"),
        D("2520.00"),
        D("1830.00"),
        D("1830.00"),
    ]
    assert history.performance == [D(v) for v in ("100", "120", "105", "126", "122", "122")]
    assert history.index == [D(v) for v in ("100", "110", "105", "115", "110", "110")]
    assert history.performance_change_pct == D("22.00")
    assert history.index_change_pct == D("10.00")


def test_value_history_of_a_new_student_is_just_now(student):
    overview = selectors.portfolio_overview(student)

    history = selectors.value_history(student, overview)

    assert not history.has_history
    assert history.index_symbol is None
    assert history.performance == [D("100")]
    assert history.index == [None]


# Queries -----------------------------------------------------------------------------


@pytest.mark.parametrize("holdings", [1, 100])
def test_the_dashboard_reads_cost_a_fixed_number_of_queries(
    student, holdings, django_assert_num_queries, settings
):
    from tests.factories import HoldingFactory, PriceFactory

    listed("MKT", "1000.00", is_index=True)
    for i in range(holdings):
        stock = PriceFactory(symbol=f"S{i:03d}", price=D("10.00"), sector=f"Sector {i % 7}")
        HoldingFactory(user=student, stock=stock, quantity=i + 1, average_price=D("9.5000"))
    settings.SNAPSHOT_EVERY_TICKS = 1
    after_tick(ticks=1, timestamp=timezone.now())

    with django_assert_num_queries(2):
        overview = selectors.portfolio_overview(student)
    with django_assert_num_queries(2):
        selectors.value_history(student, overview)
    with django_assert_num_queries(1):
        selectors.recent_activity(student)

    assert len(overview.positions) == holdings
    assert overview.market_value == sum(D("10.00") * (i + 1) for i in range(holdings))
