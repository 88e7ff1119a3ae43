"""Resting orders under concurrent load, on PostgreSQL with real threads and row locks.

Each race is started at a barrier (tests.concurrency.run_concurrently), each thread closes
its own connection, and after every round the money is checked: the journal, the holds,
the holdings against the trades, every fill within its limit (tests/trading/orders.py).
"""

import io
import threading
import time
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from ledger import services as ledger
from ledger.models import Transaction
from prices.models import MarketState
from prices.services import advance_market
from tests.concurrency import run_concurrently
from tests.factories import PriceFactory, StudentFactory
from tests.trading.orders import (
    cash,
    check_ledger,
    held,
    money_problems,
    place,
    reload,
    set_market_day,
    set_price,
    shares,
)
from trading import services
from trading.models import Order, Trade
from trading.services import (
    InsufficientFunds,
    OrderClosed,
    _trail_stop,
    buy,
    cancel_order,
    fill_order,
    fill_orders,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

D = Decimal
ROUNDS = 25


@pytest.fixture
def acme(db):
    set_market_day(day=1, elapsed=0.5)
    return PriceFactory(symbol="ACME", price=D("100.00"))


# A cancel racing the fill of the same order ------------------------------------------------


def test_a_cancel_racing_the_fill_of_the_same_order_exactly_one_wins(acme):
    student = StudentFactory(cash="10000.00")
    buy(user=student, symbol="ACME", quantity=ROUNDS)
    outcomes = {"filled": 0, "cancelled": 0}
    expected_cash = cash(student)

    for round in range(ROUNDS):
        set_price("ACME", "100.00")
        selling = round % 2 == 1
        if selling:
            order = place(student, side="sell", type="stop", quantity=1, stop_price="95.00")
        else:
            order = place(student, side="buy", type="limit", quantity=2, limit_price="95.00")
        set_price("ACME", "95.00")

        filler, canceller = run_concurrently(
            [
                lambda order=order: fill_order(order_id=order.pk),
                lambda order=order: cancel_order(order_id=order.pk, user=student),
            ]
        )

        order = reload(order)
        if order.status == "filled":
            assert filler == "filled" and isinstance(canceller, OrderClosed), (filler, canceller)
            expected_cash += D("95.00") if selling else D("-190.00")
        else:
            assert order.status == "cancelled", order.status
            assert filler is None and isinstance(canceller, Order), (filler, canceller)
            assert order.trade is None
        outcomes[order.status] += 1
        assert cash(student) == expected_cash
        assert held(student) == 0 and shares(student)[1] == 0
        assert money_problems() == []

    assert sum(outcomes.values()) == ROUNDS
    assert Trade.objects.filter(user=student).count() == 1 + outcomes["filled"]
    check_ledger()


def test_many_cancels_and_a_full_fill_run_at_once_close_each_order_once(acme):
    students = [StudentFactory(cash="10000.00") for _ in range(4)]
    orders = [
        place(s, side="buy", type="limit", quantity=5, limit_price="95.00")
        for s in students
        for _ in range(3)
    ]
    set_price("ACME", "95.00")

    results = run_concurrently(
        [fill_orders] + [lambda o=o: cancel_order(order_id=o.pk, user=o.user) for o in orders[::2]]
    )

    summary = results[0]
    assert not isinstance(summary, Exception), summary
    statuses = [reload(o).status for o in orders]
    assert statuses.count("filled") == summary.filled
    assert statuses.count("filled") + statuses.count("cancelled") == len(orders)
    assert all(s == "filled" for s in statuses[1::2])  # nobody cancelled those
    for result in results[1:]:
        assert isinstance(result, Order | OrderClosed), result
    assert Trade.objects.count() == summary.filled
    assert all(held(s) == 0 for s in students)
    assert money_problems() == []


# Market buys racing the fill of a resting buy on the same cash ---------------------------


def test_market_buys_racing_the_fill_of_a_resting_buy_never_spend_cash_twice(acme):
    for round in range(ROUNDS // 2):
        set_price("ACME", "100.00")
        student = StudentFactory(username=f"racer{round}", cash="2000.00")
        # Holds $1,102.50; the fill at $130.00 costs $1,300.00: it needs free cash too.
        order = place(student, side="buy", type="stop", quantity=10, stop_price="105.00")
        set_price("ACME", "130.00")

        results = run_concurrently(
            [lambda order=order: fill_order(order_id=order.pk)]
            + [lambda s=student: buy(user=s, symbol="ACME", quantity=2) for _ in range(6)]
        )

        bought = [r for r in results[1:] if isinstance(r, Trade)]
        refused = [r for r in results[1:] if isinstance(r, InsufficientFunds)]
        assert len(bought) + len(refused) == 6, results
        order = reload(order)
        assert results[0] == order.status, results[0]
        spent = D("260.00") * len(bought) + (D("1300.00") if order.status == "filled" else 0)
        assert cash(student) == D("2000.00") - spent >= 0
        assert held(student) == 0
        if order.status == "rejected":
            assert order.reason.startswith("Not enough cash")
            # Refused only once 3 buys (3 × $260.00 of the $897.50 free) had gone first; the
            # hold it freed may pay for the buys that came after it.
            assert len(bought) >= 3
        else:
            assert order.status == "filled" and len(bought) == 2  # $700.00 left: 2 × $260.00
        assert money_problems() == []
    check_ledger()


def test_fills_market_buys_and_withdrawals_of_one_student_at_once_end_in_clean_refusals(acme):
    student = StudentFactory(cash="3000.00")
    orders = [
        place(student, side="buy", type="limit", quantity=5, limit_price=f"{95 - i}.00")
        for i in range(4)
    ]  # they hold $1,870.00 between them
    set_price("ACME", "90.00")

    results = run_concurrently(
        [fill_orders]
        + [lambda: buy(user=student, symbol="ACME", quantity=3) for _ in range(6)]
        + [lambda: ledger.withdraw(user=student, amount="400.00") for _ in range(3)]
    )

    # Every refusal is one a student is told about, never a database error.
    for result in results[1:]:
        assert isinstance(result, Trade | Transaction | InsufficientFunds | ledger.LedgerError)
    assert all(reload(o).status in ("filled", "rejected") for o in orders)
    bought = sum(isinstance(r, Trade) for r in results[1:7])
    withdrawn = sum(isinstance(r, Transaction) for r in results[7:])
    filled = sum(reload(o).status == "filled" for o in orders)
    assert cash(student) == (
        D("3000.00") - D("270.00") * bought - D("400.00") * withdrawn - D("450.00") * filled
    )
    assert cash(student) >= 0 and held(student) == 0
    assert money_problems() == []


# Two tickers at once ------------------------------------------------------------------------

# A hook that keeps the first ticker busy for a moment after its fills, as a slow tick
# would, so that the second really arrives while the first holds the ticker lock.
_HOOK_DELAY = 0.5


def slow_hook(**_):
    time.sleep(_HOOK_DELAY)


def _orders_to_fill(count: int) -> list[Order]:
    students = [StudentFactory(cash="10000.00") for _ in range(count)]
    orders = [
        place(s, side="buy", type="limit", quantity=10, limit_price="95.00") for s in students
    ]
    # A tick moves the price by a few cents at most: it stays below every limit.
    set_price("ACME", "90.00")
    return orders


def test_two_tick_prices_at_once_one_ticks_and_fills_the_other_is_kept_out(acme, settings):
    settings.TICK_HOOKS = [*settings.TICK_HOOKS, f"{__name__}.slow_hook"]
    orders = _orders_to_fill(5)
    outs = [io.StringIO(), io.StringIO()]

    results = run_concurrently(
        [lambda out=out: call_command("tick_prices", stdout=out) for out in outs]
    )

    refused = [r for r in results if isinstance(r, CommandError)]
    assert len(refused) == 1, results
    assert "Another tick_prices is already running" in str(refused[0])
    lines = [out.getvalue() for out in outs if out.getvalue()]
    assert len(lines) == 1 and "orders: 5 filled, 0 rejected, 0 expired" in lines[0]
    assert MarketState.objects.get().ticks == 1
    for order in orders:
        assert reload(order).status == "filled"
        assert Trade.objects.filter(order=order).count() == 1
    assert Trade.objects.count() == 5
    assert money_problems() == []


def test_two_ticks_and_their_fills_at_once_fill_each_order_exactly_once(acme):
    orders = _orders_to_fill(6)
    holders = [StudentFactory(cash="10000.00") for _ in range(3)]
    for student in holders:
        buy(user=student, symbol="ACME", quantity=10)
        place(student, side="sell", type="trailing_stop", quantity=10, trail_percent="50")
        place(student, side="buy", type="trailing_stop", quantity=1, trail_amount="40.00")
    set_price("ACME", "90.00")

    def tick_and_fill():
        # advance_market runs its hooks (the fills) after its commit, outside the market
        # lock; a second fill_orders races the other tick's.
        advance_market(seed=None, wait=True)
        return fill_orders()

    results = run_concurrently([tick_and_fill, tick_and_fill, fill_orders])

    assert not [r for r in results if isinstance(r, Exception)], results
    assert MarketState.objects.get().ticks == 2
    for order in orders:
        assert reload(order).status == "filled"
        assert Trade.objects.filter(order=order).count() == 1
    assert Trade.objects.count() == len(orders) + len(holders)
    for order in Order.objects.filter(type="trailing_stop"):
        assert order.is_open
        assert order.trigger_price == _trail_stop(order, mark=order.trail_mark)
    assert money_problems() == []
    check_ledger()


def test_a_trailing_stop_run_that_read_an_older_price_never_moves_the_mark_back(acme, monkeypatch):
    student = StudentFactory(cash="10000.00")
    buy(user=student, symbol="ACME", quantity=10)
    order = place(student, side="sell", type="trailing_stop", quantity=10, trail_percent="10")
    read, go = threading.Event(), threading.Event()
    real = services._trail_stop

    def slow_in_the_first(order, *, mark):
        if threading.current_thread().name == "first":
            read.set()  # it has read the price of its tick: $110.00
            assert go.wait(timeout=30)
        return real(order, mark=mark)

    monkeypatch.setattr(services, "_trail_stop", slow_in_the_first)

    def run():
        try:
            services.follow_trailing_stops()
        finally:
            connection.close()

    set_price("ACME", "110.00")
    first = threading.Thread(target=run, name="first")
    first.start()
    assert read.wait(timeout=30)
    set_price("ACME", "120.00")  # the next tick, whose own run follows it
    second = threading.Thread(target=run, name="second")
    second.start()
    time.sleep(0.5)  # the second has read (or waits to read) the marks
    go.set()
    first.join(timeout=30)
    second.join(timeout=30)

    order = reload(order)
    assert (order.trail_mark, order.trigger_price) == (D("120.00"), D("108.00"))


def test_check_holds_reads_one_snapshot_while_orders_are_placed(monkeypatch):
    """check_ledger's hold check, run on its own, reads one moment (REPEATABLE READ): an
    order placed and committed while it reads is not half seen, so it is no mismatch."""
    PriceFactory(symbol="SNAP", price=Decimal("100.00"))
    alice = StudentFactory(username="snap-alice", cash="10000.00")
    place(alice, symbol="SNAP", quantity=2, limit_price="1.00")
    real = services._hold_problems
    seen = {}

    def with_an_order_placed_meanwhile():
        seen["before"] = Order.objects.filter(status="open").count()  # the snapshot begins
        run_concurrently([lambda: place(alice, symbol="SNAP", quantity=1, limit_price="1.00")])
        seen["after"] = Order.objects.filter(status="open").count()
        return real()

    monkeypatch.setattr(services, "_hold_problems", with_an_order_placed_meanwhile)

    assert services.check_holds() == []
    assert seen == {"before": 1, "after": 1}  # the order placed meanwhile is not seen
    assert Order.objects.filter(status="open").count() == 2

