"""Snapshots: the tick hook's cadence, bulk writes in a fixed number of queries, and units."""

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ledger import services as ledger
from portfolio import selectors
from portfolio.models import Holding, PortfolioSnapshot, PortfolioSummary
from portfolio.services import (
    MAX_SHARES_HELD,
    PositionLimit,
    _add_realized,
    add_shares,
    after_tick,
    take_snapshots,
)
from portfolio.units import UnitState, next_state
from tests.factories import InstructorFactory, PriceFactory, StudentFactory
from tests.portfolio.helpers import buy, listed, sell, set_price, tick

D = Decimal

pytestmark = pytest.mark.django_db


def at(minutes: int):
    return timezone.now() - timedelta(hours=1) + timedelta(minutes=minutes)


def test_after_tick_is_the_registered_tick_hook():
    assert "portfolio.services.after_tick" in django_settings.TICK_HOOKS


def test_after_tick_snapshots_everyone_every_n_ticks_and_depositors_in_between(settings):
    settings.SNAPSHOT_EVERY_TICKS = 3
    alice, bob, carol = (StudentFactory() for _ in range(3))

    assert after_tick(ticks=1, timestamp=at(1)) == 3  # never snapshotted: first snapshots
    assert after_tick(ticks=2, timestamp=at(2)) == 0  # nothing happened
    assert after_tick(ticks=3, timestamp=at(3)) == 3  # the cadence
    ledger.deposit(user=bob, amount="100.00")
    assert after_tick(ticks=4, timestamp=at(4)) == 1  # bob's deposit, turned into units
    assert after_tick(ticks=5, timestamp=at(5)) == 0
    assert after_tick(ticks=6, timestamp=at(6)) == 3

    assert PortfolioSnapshot.objects.filter(user=alice).count() == 3
    assert PortfolioSnapshot.objects.filter(user=bob).count() == 4
    assert PortfolioSummary.objects.get(user=bob).contributions_at_snapshot == D("10100.00")


def test_zero_turns_the_regular_snapshots_off_but_still_catches_flows(settings):
    settings.SNAPSHOT_EVERY_TICKS = 0
    alice = StudentFactory()
    assert after_tick(ticks=1, timestamp=at(1)) == 1
    assert after_tick(ticks=2, timestamp=at(2)) == 0

    ledger.withdraw(user=alice, amount="10.00")

    assert after_tick(ticks=3, timestamp=at(3)) == 1


def test_a_repeated_hook_call_for_the_same_tick_writes_nothing_twice(settings):
    settings.SNAPSHOT_EVERY_TICKS = 1
    StudentFactory()
    StudentFactory()
    when = at(1)

    assert after_tick(ticks=1, timestamp=when) == 2
    assert after_tick(ticks=1, timestamp=when) == 0
    assert PortfolioSnapshot.objects.count() == 2


def test_only_students_are_snapshotted(settings, instructor):
    settings.SNAPSHOT_EVERY_TICKS = 1
    student = StudentFactory()
    StudentFactory(is_active=False)
    InstructorFactory()
    StudentFactory(is_staff=True)  # staff with a cash account: still not a student
    StudentFactory(is_superuser=True)

    after_tick(ticks=1, timestamp=at(1))

    assert list(PortfolioSnapshot.objects.values_list("user_id", flat=True)) == [student.pk]


def test_a_snapshot_records_value_and_units(settings):
    settings.SNAPSHOT_EVERY_TICKS = 1
    student = StudentFactory(cash="1000.00")
    listed("XYZ", "50.00")
    buy(student, "XYZ", 4)  # cash 800, 4 × 50 = 200
    set_price("XYZ", "60.00")  # no price history: the move counts after the flows
    when = at(1)

    after_tick(ticks=1, timestamp=when)

    snap = PortfolioSnapshot.objects.get(user=student)
    assert (snap.cash, snap.market_value, snap.total_value) == (D("800"), D("240"), D("1040"))
    assert snap.net_contributions == D("1000.00")
    assert (snap.units, snap.unit_value) == (D("1000"), D("1.04"))
    assert snap.timestamp == when


def test_a_deposit_buys_units_at_the_unit_value_and_leaves_it_alone(settings):
    """10,000 → 10 XYZ @ 100 rise to 110: unit value 1.10. A deposit of 1,100 between ticks
    buys 1,100 / 1.10 = 1,000 units; the unit value stays 1.10."""
    settings.SNAPSHOT_EVERY_TICKS = 1
    student = StudentFactory()
    listed("XYZ", "100.00")
    buy(student, "XYZ", 10)
    after_tick(ticks=1, timestamp=at(1))
    set_price("XYZ", "200.00")  # 1,000 of shares → 2,000: unit value 1.10
    after_tick(ticks=2, timestamp=at(2))
    summary = PortfolioSummary.objects.get(user=student)
    assert (summary.units, summary.unit_value) == (D("10000"), D("1.1"))

    ledger.deposit(user=student, amount="1100.00")
    after_tick(ticks=3, timestamp=at(3))

    summary.refresh_from_db()
    assert summary.units == D("11000")
    assert summary.unit_value == D("1.1")
    assert summary.contributions_at_snapshot == D("11100.00")
    assert selectors.portfolio_overview(student).twr_pct == D("10.00")


def test_withdrawing_everything_writes_the_units_off_and_a_new_deposit_restarts(settings):
    settings.SNAPSHOT_EVERY_TICKS = 1
    student = StudentFactory(cash="1000.00")
    listed("XYZ", "100.00")
    buy(student, "XYZ", 10)
    after_tick(ticks=1, timestamp=at(1))
    set_price("XYZ", "80.00")
    sell(student, "XYZ", 10)  # cash 800: unit value 0.80
    ledger.withdraw(user=student, amount="800.00")
    after_tick(ticks=2, timestamp=at(2))
    summary = PortfolioSummary.objects.get(user=student)
    assert (summary.units, summary.unit_value) == (D("0"), D("0.8"))
    assert summary.max_drawdown == D("0.2")

    ledger.deposit(user=student, amount="400.00")
    after_tick(ticks=3, timestamp=at(3))

    summary.refresh_from_db()
    assert summary.units == D("500")  # 400 / 0.80
    assert summary.unit_value == D("0.8")
    assert selectors.portfolio_overview(student).twr_pct == D("-20.00")


def test_snapshots_keep_the_realized_pnl_of_the_summary(settings):
    settings.SNAPSHOT_EVERY_TICKS = 1
    student = StudentFactory()
    listed("XYZ", "100.00")
    buy(student, "XYZ", 10)
    set_price("XYZ", "130.00")
    assert sell(student, "XYZ", 5) == D("150.00")

    after_tick(ticks=1, timestamp=at(1))

    summary = PortfolioSummary.objects.get(user=student)
    assert summary.realized_pnl == D("150.00")
    assert summary.snapshot_at is not None


def test_regular_snapshots_carry_the_period_return_of_the_unit_value(settings):
    """Every 2 ticks. 1,000 → 10 XYZ @ 100. t2: 110, unit value 1.10. Before t3, a deposit
    of 1,100 buys 10 more at 110 (1,000 units at 1.10): t3 is snapshotted for it, off the
    cadence. t4: 121, unit value 2,420 / 2,000 = 1.21: +10 % since t2, whatever was
    deposited in between."""
    settings.SNAPSHOT_EVERY_TICKS = 2
    student = StudentFactory(cash="1000.00")
    listed("XYZ", "100.00")
    buy(student, "XYZ", 10)
    t = [at(minute) for minute in range(5)]
    tick({"XYZ": "100.00"}, t[1])
    after_tick(ticks=1, timestamp=t[1])  # the first snapshot, off the cadence
    tick({"XYZ": "110.00"}, t[2])
    after_tick(ticks=2, timestamp=t[2])
    ledger.deposit(user=student, amount="1100.00")
    buy(student, "XYZ", 10)
    tick({"XYZ": "99.00"}, t[3])
    after_tick(ticks=3, timestamp=t[3])
    tick({"XYZ": "121.00"}, t[4])
    after_tick(ticks=4, timestamp=t[4])

    snapshots = PortfolioSnapshot.objects.filter(user=student).order_by("timestamp")
    assert [(s.unit_value, s.period_return) for s in snapshots] == [
        (D("1"), None),
        (D("1.1"), None),  # the first regular one: nothing to compare with
        (D("0.99"), None),  # the deposit's, between
        (D("1.21"), D("0.1")),
    ]
    assert PortfolioSummary.objects.get(user=student).regular_unit_value == D("1.21")


def test_a_snapshot_by_the_command_is_not_a_regular_one(settings):
    student = StudentFactory()
    after_tick(ticks=1, timestamp=at(1))
    settings.SNAPSHOT_EVERY_TICKS = 1
    after_tick(ticks=2, timestamp=at(2))

    take_snapshots(timestamp=at(3))
    after_tick(ticks=4, timestamp=at(4))

    returns = PortfolioSnapshot.objects.filter(user=student).order_by("timestamp")
    assert [s.period_return for s in returns] == [None, None, None, D("0")]


def _snapshot_queries(students: int) -> int:
    listed("XYZ", "10.00")
    listed("ABC", "20.00")
    new = [StudentFactory() for _ in range(students)]
    for user in new:
        buy(user, "XYZ", 3)
        buy(user, "ABC", 2)
    with CaptureQueriesContext(connection) as ctx:
        written = take_snapshots(timestamp=timezone.now())
    assert written == students
    return len(ctx.captured_queries)


@pytest.mark.parametrize("students", [10, 200])
def test_a_snapshot_of_everyone_costs_a_fixed_number_of_queries(students):
    queries = _snapshot_queries(students)

    # Savepoint, [advisory lock,] valuation, insert, upsert, release. SQLite limits a query
    # to 999 parameters, so Django writes 200 students' snapshots in three batches (ten
    # columns: 99 rows a batch) and their summaries in two (nine: 111 rows).
    fixed = 6 if connection.vendor == "postgresql" else 5
    batches = 0 if students <= 90 or connection.vendor == "postgresql" else 3
    assert queries == fixed + batches
    assert PortfolioSnapshot.objects.count() == students


def test_the_pure_unit_arithmetic_for_a_first_snapshot_with_fees():
    state = next_state(
        UnitState(), value_before=D("995.00"), value_after=D("1094.50"), net_contributions=D("1000")
    )

    assert (state.units, state.unit_value) == (D("1000"), D("1.0945"))
    assert state.started


def test_snapshot_portfolios_command(settings):
    StudentFactory()
    StudentFactory()
    out = StringIO()

    call_command("snapshot_portfolios", stdout=out)

    assert "Snapshot of 2 portfolios" in out.getvalue()
    assert PortfolioSnapshot.objects.count() == 2


def test_a_market_tick_snapshots_through_the_hook(settings, django_capture_on_commit_callbacks):
    from prices.services import advance_market

    settings.SNAPSHOT_EVERY_TICKS = 1
    student = StudentFactory()
    listed("XYZ", "100.00")
    buy(student, "XYZ", 10)

    with django_capture_on_commit_callbacks(execute=True):
        result = advance_market(seed=7)

    snap = PortfolioSnapshot.objects.get(user=student)
    assert snap.timestamp == result.timestamp
    xyz = selectors.portfolio_overview(student).positions[0].price
    assert snap.market_value == xyz * 10


def test_realized_pnl_stays_at_whole_cents_in_the_database(student):
    # SQLite adds NUMERIC columns in floating point: 1,000 sums of 0.10 would store
    # 99.9999999999986 without the rounding in the UPDATE.
    now = timezone.now()
    for _ in range(1000):
        _add_realized(student, Decimal("0.10"), now)

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT realized_pnl FROM portfolio_summaries WHERE user_id = %s", [student.pk]
        )
        stored = cursor.fetchone()[0]
    assert Decimal(str(stored)) == Decimal("100")


def test_add_shares_keeps_a_holding_within_what_its_column_holds(student):
    PriceFactory(symbol="XYZ", price=D("1.00"))
    add_shares(user=student, symbol="XYZ", quantity=MAX_SHARES_HELD - 1, price=D("1.00"))

    with pytest.raises(PositionLimit, match="you can buy at most 1 more"):
        add_shares(user=student, symbol="XYZ", quantity=2, price=D("1.00"))
    add_shares(user=student, symbol="XYZ", quantity=1, price=D("1.00"))
    with pytest.raises(PositionLimit, match="you cannot buy more"):
        add_shares(user=student, symbol="XYZ", quantity=1, price=D("1.00"))

    assert Holding.objects.get(user=student).quantity == MAX_SHARES_HELD
