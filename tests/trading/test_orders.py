"""Resting orders on worked examples: each type's trigger and fill price on both sides,
gaps through a limit or a stop, placement, expiry at the close, cancelling, what open
orders hold, and fills that a class's rule refuses.

Prices are set on the `prices` row directly (exact cents) and the fills run by
`fill_orders`, as the tick hook runs them; one example goes through `tick_prices` itself.
After each example the money invariants are checked (tests/trading/orders.py)."""

import io
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, transaction
from django.db.models import Value
from django.utils import timezone

from accounts.services import join_class
from classrooms.rules import Rulebook
from classrooms.services import JoinRefused
from ledger import services as ledger
from ledger.models import Balance
from portfolio.models import Holding
from prices.models import MarketState, Price
from prices.services import advance_market, set_halted
from prices.simulation import ONE_MINUTE
from tests.factories import ClassroomFactory, InstructorFactory, PriceFactory, StudentFactory
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
from tradesim.models import AuditEntry
from trading import services
from trading.models import Order, Trade
from trading.services import (
    GTC_DAYS,
    InsufficientFunds,
    InvalidOrder,
    NotEnoughShares,
    OrderClosed,
    OrderNotFound,
    RuleRefused,
    buy,
    cancel_order,
    fill_orders,
    sell,
)

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def acme(db):
    set_market_day(day=1, elapsed=0.5)
    return PriceFactory(symbol="ACME", price=D("100.00"))


@pytest.fixture
def alice(acme):
    return StudentFactory(username="alice", cash="10000.00")


@pytest.fixture
def bob(acme):
    return StudentFactory(username="bob", cash="10000.00")


@pytest.fixture
def owner(alice):
    """Alice with 10 ACME bought at $100.00 (cash $9,000.00 left)."""
    buy(user=alice, symbol="ACME", quantity=10)
    return alice


@pytest.fixture
def fill(django_capture_on_commit_callbacks):
    """fill_orders as the tick hook runs it, its after-commit work done."""

    def run():
        with django_capture_on_commit_callbacks(execute=True):
            return fill_orders()

    return run


@pytest.fixture(autouse=True)
def _money_adds_up(acme):
    yield
    assert money_problems() == []


def summary_counts(summary) -> tuple[int, int, int]:
    return summary.filled, summary.rejected, summary.expired


def state(*users):
    """Everything a refused or repeated operation must leave alone."""
    return (
        list(Balance.objects.filter(user__in=users).order_by("user_id").values_list()),
        list(Holding.objects.filter(user__in=users).order_by("id").values_list()),
        list(Order.objects.filter(user__in=users).order_by("id").values_list()),
        Trade.objects.filter(user__in=users).count(),
    )


# Limit orders ----------------------------------------------------------------------------


def test_a_buy_limit_holds_its_cost_and_fills_at_its_limit_once_the_price_falls_to_it(alice, fill):
    order = place(alice, side="buy", type="limit", quantity=10, limit_price="95.00")

    assert (order.status, order.trigger_price, order.trigger_direction) == ("open", 95, "below")
    assert order.held_cash == D("950.00") and held(alice) == D("950.00")
    assert cash(alice) == D("10000.00")

    set_price("ACME", "95.01")
    assert summary_counts(fill()) == (0, 0, 0)
    assert reload(order).is_open

    set_price("ACME", "95.00")
    assert summary_counts(fill()) == (1, 0, 0)
    order = reload(order)
    assert order.status == "filled" and order.held_cash == 0
    assert (order.trade.operation, order.trade.quantity, order.trade.price) == ("buy", 10, 95)
    assert cash(alice) == D("9050.00") and held(alice) == 0
    assert shares(alice) == (10, 0)


def test_a_buy_limit_the_price_gaps_through_fills_at_the_lower_tick_price(alice, fill):
    order = place(alice, side="buy", type="limit", quantity=10, limit_price="95.00")

    set_price("ACME", "90.00")
    fill()

    order = reload(order)
    assert order.trade.price == D("90.00")  # better than the limit, never worse
    assert cash(alice) == D("9100.00") and held(alice) == 0


def test_a_sell_limit_holds_its_shares_and_fills_once_the_price_rises_to_it(owner, fill):
    order = place(owner, side="sell", type="limit", quantity=10, limit_price="105.00")

    assert (order.trigger_price, order.trigger_direction) == (105, "above")
    assert order.held_shares == 10 and shares(owner) == (10, 10)

    set_price("ACME", "104.99")
    assert summary_counts(fill()) == (0, 0, 0)
    set_price("ACME", "105.00")
    assert summary_counts(fill()) == (1, 0, 0)

    order = reload(order)
    assert (order.status, order.trade.operation, order.trade.price) == ("filled", "sell", 105)
    assert order.trade.realized_pnl == D("50.00")
    assert cash(owner) == D("10050.00")
    assert shares(owner) == (0, 0)


def test_a_sell_limit_the_price_gaps_through_fills_at_the_higher_tick_price(owner, fill):
    order = place(owner, side="sell", type="limit", quantity=4, limit_price="105.00")

    set_price("ACME", "112.50")
    fill()

    assert reload(order).trade.price == D("112.50")
    assert cash(owner) == D("9450.00")
    assert shares(owner) == (6, 0)


@pytest.mark.parametrize(
    ("side", "limit", "filled_at"), [("buy", "101.00", "100.00"), ("sell", "99.00", "100.00")]
)
def test_a_limit_the_price_already_satisfies_fills_at_once_at_the_price(
    owner, side, limit, filled_at
):
    order = place(owner, side=side, type="limit", quantity=2, limit_price=limit)

    assert order.status == "filled" and order.trade.price == D(filled_at)
    assert order.held_cash == 0 and order.held_shares == 0 and order.notified
    assert held(owner) == 0 and shares(owner)[1] == 0


def test_a_limit_on_a_halted_symbol_waits_even_if_the_price_satisfies_it(alice, fill):
    set_halted(symbols=["ACME"], halted=True)

    order = place(alice, side="buy", type="limit", quantity=1, limit_price="101.00")

    assert order.is_open and order.held_cash == D("101.00")
    assert summary_counts(fill()) == (0, 0, 0)
    set_halted(symbols=["ACME"], halted=False)
    assert summary_counts(fill()) == (1, 0, 0)
    assert reload(order).trade.price == D("100.00")


# Stop orders -----------------------------------------------------------------------------


def test_a_buy_stop_holds_its_stop_plus_the_cushion_and_fills_at_the_market_once_reached(
    alice, fill
):
    order = place(alice, side="buy", type="stop", quantity=10, stop_price="105.00")

    assert (order.trigger_price, order.trigger_direction) == (105, "above")
    assert order.held_cash == D("1102.50")  # 10 × $105.00 × 1.05

    set_price("ACME", "104.99")
    assert summary_counts(fill()) == (0, 0, 0)
    set_price("ACME", "105.00")
    assert summary_counts(fill()) == (1, 0, 0)

    assert reload(order).trade.price == D("105.00")
    assert cash(alice) == D("8950.00") and held(alice) == 0


def test_a_buy_stop_the_price_gaps_above_fills_at_the_gapped_price(alice, fill):
    order = place(alice, side="buy", type="stop", quantity=10, stop_price="105.00")

    set_price("ACME", "108.00")
    fill()

    assert reload(order).trade.price == D("108.00")
    assert cash(alice) == D("8920.00") and held(alice) == 0


def test_a_gap_beyond_the_cushion_fills_when_the_free_cash_covers_it(alice, fill):
    order = place(alice, side="buy", type="stop", quantity=10, stop_price="105.00")

    set_price("ACME", "120.00")  # $1,200.00: more than the $1,102.50 held
    fill()

    assert reload(order).trade.price == D("120.00")
    assert cash(alice) == D("8800.00") and held(alice) == 0


def test_a_gap_beyond_the_cushion_the_cash_cannot_cover_is_rejected_and_frees_the_hold(acme, fill):
    student = StudentFactory(cash="1200.00")
    order = place(student, side="buy", type="stop", quantity=10, stop_price="105.00")
    assert held(student) == D("1102.50")

    set_price("ACME", "125.00")
    assert summary_counts(fill()) == (0, 1, 0)

    order = reload(order)
    assert order.status == "rejected" and order.trade is None
    assert order.reason.startswith("Not enough cash: 10 ACME at $125.00 costs $1,250.00")
    assert not order.notified  # the student hears of it on their next page
    assert cache.get(services.order_news_key(student.pk)) is True
    assert cash(student) == D("1200.00") and held(student) == 0


def test_a_sell_stop_fills_at_the_market_once_the_price_falls_to_it(owner, fill):
    order = place(owner, side="sell", type="stop", quantity=10, stop_price="95.00")

    assert (order.trigger_price, order.trigger_direction, order.held_shares) == (95, "below", 10)
    set_price("ACME", "95.01")
    assert summary_counts(fill()) == (0, 0, 0)
    set_price("ACME", "95.00")
    assert summary_counts(fill()) == (1, 0, 0)

    assert reload(order).trade.price == D("95.00")
    assert cash(owner) == D("9950.00") and shares(owner) == (0, 0)


def test_a_sell_stop_the_price_gaps_below_fills_at_the_lower_price(owner, fill):
    order = place(owner, side="sell", type="stop", quantity=10, stop_price="95.00")

    set_price("ACME", "80.00")
    fill()

    order = reload(order)
    assert order.trade.price == D("80.00")
    assert order.trade.realized_pnl == D("-200.00")
    assert cash(owner) == D("9800.00")


@pytest.mark.parametrize(
    ("side", "type", "prices"),
    [
        ("buy", "stop", {"stop_price": "100.00"}),
        ("buy", "stop", {"stop_price": "99.99"}),
        ("sell", "stop", {"stop_price": "100.00"}),
        ("sell", "stop", {"stop_price": "100.01"}),
        ("buy", "stop_limit", {"stop_price": "99.00", "limit_price": "101.00"}),
        ("sell", "stop_limit", {"stop_price": "101.00", "limit_price": "99.00"}),
    ],
)
def test_a_stop_already_reached_when_placed_is_refused_and_nothing_is_held(
    owner, side, type, prices
):
    before = state(owner)

    with pytest.raises(InvalidOrder) as refused:
        place(owner, side=side, type=type, quantity=1, **prices)

    assert "would go off at once" in refused.value.message
    assert "ACME is at $100.00" in refused.value.message
    assert state(owner) == before


# Stop-limit orders -------------------------------------------------------------------------


def test_a_buy_stop_limit_reached_within_its_limit_fills_at_the_price(alice, fill):
    order = place(
        alice, side="buy", type="stop_limit", quantity=10, stop_price="105.00", limit_price="106.00"
    )
    assert order.held_cash == D("1060.00")  # the limit is the worst it pays

    set_price("ACME", "105.50")
    assert summary_counts(fill()) == (1, 0, 0)

    order = reload(order)
    assert order.trade.price == D("105.50") and order.triggered_at is not None
    assert cash(alice) == D("8945.00") and held(alice) == 0


def test_a_buy_stop_limit_whose_stop_is_gapped_through_rests_as_a_limit(alice, fill):
    order = place(
        alice, side="buy", type="stop_limit", quantity=10, stop_price="105.00", limit_price="106.00"
    )

    set_price("ACME", "107.00")  # the stop is reached, the price is already beyond the limit
    summary = fill()

    assert (summary.filled, summary.triggered) == (0, 1)
    assert "1 stop-limit triggered" in str(summary)
    order = reload(order)
    assert order.status == "open" and order.triggered_at is not None
    assert (order.trigger_price, order.trigger_direction) == (106, "below")
    assert order.held_cash == D("1060.00") and held(alice) == D("1060.00")

    # Now a limit: the stop no longer matters, only the limit does.
    set_price("ACME", "106.01")
    assert summary_counts(fill()) == (0, 0, 0)
    set_price("ACME", "104.00")  # below the stop: a buy limit at $106.00 takes it
    summary = fill()
    assert (summary.filled, summary.triggered) == (1, 0)
    assert reload(order).trade.price == D("104.00")
    assert cash(alice) == D("8960.00") and held(alice) == 0


def test_a_sell_stop_limit_gapped_through_waits_for_its_limit(owner, fill):
    order = place(
        owner, side="sell", type="stop_limit", quantity=10, stop_price="95.00", limit_price="94.00"
    )

    set_price("ACME", "93.00")
    summary = fill()
    assert (summary.filled, summary.triggered) == (0, 1)
    order = reload(order)
    assert (order.status, order.trigger_price, order.trigger_direction) == ("open", 94, "above")
    assert shares(owner) == (10, 10)

    set_price("ACME", "94.50")
    assert summary_counts(fill()) == (1, 0, 0)
    assert reload(order).trade.price == D("94.50")
    assert cash(owner) == D("9945.00") and shares(owner) == (0, 0)


def test_a_sell_stop_limit_within_its_limit_fills_on_the_tick_that_reaches_the_stop(owner, fill):
    order = place(
        owner, side="sell", type="stop_limit", quantity=10, stop_price="95.00", limit_price="94.00"
    )

    set_price("ACME", "94.00")
    summary = fill()

    assert (summary.filled, summary.triggered) == (1, 0)
    assert reload(order).trade.price == D("94.00")


# Trailing stops --------------------------------------------------------------------------


def test_a_sell_trailing_stop_in_percent_follows_new_highs_and_triggers_on_the_trail(owner, fill):
    order = place(owner, side="sell", type="trailing_stop", quantity=10, trail_percent="10")
    assert (order.trail_mark, order.trigger_price, order.trigger_direction) == (100, 90, "below")

    for price, mark, stop in [
        ("110.00", "110.00", "99.00"),  # a new high: the mark and the stop move up
        ("105.00", "110.00", "99.00"),  # lower: they stay
        ("120.00", "120.00", "108.00"),
        ("108.01", "120.00", "108.00"),
    ]:
        set_price("ACME", price)
        assert summary_counts(fill()) == (0, 0, 0)
        order = reload(order)
        assert (order.trail_mark, order.trigger_price) == (D(mark), D(stop)), price

    set_price("ACME", "108.00")
    assert summary_counts(fill()) == (1, 0, 0)
    order = reload(order)
    assert order.trade.price == D("108.00")
    assert cash(owner) == D("10080.00")


def test_a_sell_trailing_stop_in_dollars_gapped_through_fills_at_the_lower_price(owner, fill):
    order = place(owner, side="sell", type="trailing_stop", quantity=10, trail_amount="5.00")
    assert order.trigger_price == D("95.00")

    set_price("ACME", "130.00")
    fill()
    assert reload(order).trigger_price == D("125.00")

    set_price("ACME", "118.00")
    fill()
    assert reload(order).trade.price == D("118.00")


def test_a_buy_trailing_stop_in_percent_follows_new_lows_and_triggers_on_the_trail(alice, fill):
    order = place(alice, side="buy", type="trailing_stop", quantity=10, trail_percent="10")
    assert (order.trail_mark, order.trigger_price, order.trigger_direction) == (100, 110, "above")
    assert order.held_cash == D("1155.00")  # 10 × $110.00 × 1.05

    for price, mark, stop in [
        ("80.00", "80.00", "88.00"),
        ("85.00", "80.00", "88.00"),
        ("87.99", "80.00", "88.00"),
    ]:
        set_price("ACME", price)
        assert summary_counts(fill()) == (0, 0, 0)
        order = reload(order)
        assert (order.trail_mark, order.trigger_price) == (D(mark), D(stop)), price

    set_price("ACME", "88.00")
    assert summary_counts(fill()) == (1, 0, 0)
    assert reload(order).trade.price == D("88.00")
    assert cash(alice) == D("9120.00") and held(alice) == 0


def test_a_buy_trailing_stop_in_dollars_follows_the_low_and_fills_on_a_gap_up(alice, fill):
    order = place(alice, side="buy", type="trailing_stop", quantity=10, trail_amount="3.00")
    assert order.trigger_price == D("103.00")

    set_price("ACME", "90.00")
    fill()
    assert reload(order).trigger_price == D("93.00")

    set_price("ACME", "97.00")
    fill()
    assert reload(order).trade.price == D("97.00")


def test_a_percent_trail_never_triggers_before_the_price_has_moved_the_whole_trail(owner, fill):
    # 7.5 % below $100.01 is $92.50925: a stop at $92.51 would sell after a fall of 7.499 %.
    set_price("ACME", "100.01")
    order = place(owner, side="sell", type="trailing_stop", quantity=10, trail_percent="7.5")
    assert order.trigger_price == D("92.50")

    set_price("ACME", "92.51")
    assert summary_counts(fill()) == (0, 0, 0)
    set_price("ACME", "92.50")
    assert summary_counts(fill()) == (1, 0, 0)


def test_a_percent_trail_on_a_buy_rounds_its_stop_up(alice, fill):
    # 7.5 % above $100.01 is $107.51075: the stop is $107.52, not $107.51.
    set_price("ACME", "100.01")
    order = place(alice, side="buy", type="trailing_stop", quantity=1, trail_percent="7.5")
    assert order.trigger_price == D("107.52")

    set_price("ACME", "90.01")  # a new low: 7.5 % above is $96.76075
    fill()
    assert reload(order).trigger_price == D("96.77")
    set_price("ACME", "96.76")
    assert summary_counts(fill()) == (0, 0, 0)
    set_price("ACME", "96.77")
    assert summary_counts(fill()) == (1, 0, 0)


def test_a_trailing_stop_on_a_halted_symbol_keeps_its_mark(owner, fill):
    order = place(owner, side="sell", type="trailing_stop", quantity=10, trail_percent="10")
    set_halted(symbols=["ACME"], halted=True)
    set_price("ACME", "150.00")  # as if set while halted: not a price anyone traded at

    fill()

    assert reload(order).trail_mark == D("100.00")


# Through the real tick -----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_tick_prices_fills_a_reached_order_and_says_so_in_its_summary_line(acme):
    student = StudentFactory(cash="10000.00")
    order = place(student, side="buy", type="limit", quantity=10, limit_price="95.00")
    set_price("ACME", "90.00")  # the tick moves it by a few cents at most: still below $95

    out = io.StringIO()
    call_command("tick_prices", "--seed", "7", stdout=out)

    line = out.getvalue().strip()
    assert line.startswith("Tick ")
    assert "orders: 1 filled, 0 rejected, 0 expired" in line
    order = reload(order)
    ticked = Price.objects.get(symbol="ACME").price
    assert order.status == "filled" and order.trade.price == ticked <= D("95.00")
    assert cash(student) == D("10000.00") - ticked * 10
    assert held(student) == 0
    assert money_problems() == []


# Expiry ----------------------------------------------------------------------------------


def tick(django_capture_on_commit_callbacks, **kwargs):
    with django_capture_on_commit_callbacks(execute=True):
        return advance_market(seed=1, **kwargs)


def test_a_day_order_expires_on_the_tick_that_closes_the_day_not_before(
    alice, django_capture_on_commit_callbacks
):
    set_market_day(day=1, elapsed=1 - 2 * ONE_MINUTE)
    order = place(alice, side="buy", type="limit", quantity=10, limit_price="50.00")
    assert order.expires_day == 1

    result = tick(django_capture_on_commit_callbacks)  # the day's last minute but one
    assert result.clock != "close"
    assert "orders: 0 filled, 0 rejected, 0 expired" in result.summary()
    assert reload(order).is_open

    result = tick(django_capture_on_commit_callbacks)  # the close
    assert result.clock == "close"
    assert "orders: 0 filled, 0 rejected, 1 expired" in result.summary()
    order = reload(order)
    assert order.status == "expired" and order.closed_at == result.timestamp
    assert order.reason == "Good for one day: the market closed before it was reached."
    assert not order.notified
    assert held(alice) == 0 and cash(alice) == D("10000.00")


def test_the_closing_tick_fills_what_it_reaches_before_the_rest_expire(owner, fill):
    reached = place(owner, side="sell", type="limit", quantity=4, limit_price="101.00")
    missed = place(owner, side="sell", type="limit", quantity=6, limit_price="150.00")
    set_market_day(day=1, elapsed=1.0)
    set_price("ACME", "101.00")

    summary = fill()

    assert summary_counts(summary) == (1, 0, 1)
    assert reload(reached).status == "filled"
    assert reload(missed).status == "expired"
    assert shares(owner) == (6, 0)


def test_an_order_placed_after_the_close_is_good_for_the_next_day(
    alice, fill, django_capture_on_commit_callbacks
):
    set_market_day(day=1, elapsed=1.0)
    order = place(alice, side="buy", type="limit", quantity=10, limit_price="50.00")

    assert order.expires_day == 2
    assert summary_counts(fill()) == (0, 0, 0)  # day 1 is closed, but this is day 2's

    tick(django_capture_on_commit_callbacks)  # day 2 opens
    assert MarketState.objects.get().trading_day == 1
    assert reload(order).is_open

    set_market_day(day=2, elapsed=1.0)
    assert summary_counts(fill()) == (0, 0, 1)
    assert reload(order).status == "expired"


def test_a_day_order_whose_close_was_missed_expires_before_it_can_fill_the_next_day(alice, fill):
    order = place(alice, side="buy", type="limit", quantity=10, limit_price="95.00")
    # The tick that closed day 1 filled nothing (its hook failed, say); day 2 is under way.
    set_market_day(day=2, elapsed=0.5)
    set_price("ACME", "90.00")

    summary = fill()

    assert summary_counts(summary) == (0, 0, 1)
    assert reload(order).status == "expired"
    assert cash(alice) == D("10000.00") and held(alice) == 0


def test_a_good_till_cancelled_order_expires_after_its_ninetieth_trading_day(owner, fill):
    order = place(
        owner, side="sell", type="limit", quantity=10, limit_price="150.00", duration="gtc"
    )
    assert order.expires_day == GTC_DAYS == 90

    set_market_day(day=89, elapsed=1.0)
    assert summary_counts(fill()) == (0, 0, 0)
    set_market_day(day=90, elapsed=0.5)
    assert summary_counts(fill()) == (0, 0, 0)
    assert reload(order).is_open and shares(owner) == (10, 10)

    set_market_day(day=90, elapsed=1.0)
    assert summary_counts(fill()) == (0, 0, 1)
    order = reload(order)
    assert order.status == "expired"
    assert order.reason == "Good till cancelled for 90 trading days: it was not reached."
    assert shares(owner) == (10, 0)


def test_expiry_releases_every_hold_of_every_student_and_the_summary_counts_them(owner, bob, fill):
    place(owner, side="sell", type="stop", quantity=5, stop_price="90.00")
    place(owner, side="buy", type="limit", quantity=5, limit_price="90.00")
    place(bob, side="buy", type="trailing_stop", quantity=3, trail_amount="2.00")
    kept = place(bob, side="buy", type="limit", quantity=1, limit_price="1.00", duration="gtc")
    set_market_day(day=1, elapsed=1.0)

    summary = fill()

    assert summary_counts(summary) == (0, 0, 3)
    assert str(summary) == "orders: 0 filled, 0 rejected, 3 expired"
    assert held(owner) == 0 and shares(owner) == (10, 0)
    assert held(bob) == D("1.00") and reload(kept).is_open


# Cancelling ------------------------------------------------------------------------------


def test_cancelling_a_buy_releases_its_cash(alice, django_capture_on_commit_callbacks):
    order = place(alice, side="buy", type="limit", quantity=10, limit_price="95.00")

    with django_capture_on_commit_callbacks(execute=True):
        cancelled = cancel_order(order_id=order.pk, user=alice)

    assert cancelled.status == "cancelled" and cancelled.closed_at is not None
    order = reload(order)
    assert (order.status, order.held_cash, order.cancelled_by, order.reason) == (
        "cancelled",
        0,
        None,
        "",
    )
    assert order.notified  # the student did it: nothing to tell them
    assert held(alice) == 0 and cash(alice) == D("10000.00")


def test_cancelling_a_sell_releases_its_shares(owner):
    order = place(owner, side="sell", type="stop", quantity=10, stop_price="90.00")

    cancel_order(order_id=str(order.pk), user=owner)

    assert shares(owner) == (10, 0)
    sell(user=owner, symbol="ACME", quantity=10)


@pytest.mark.parametrize("how", ["filled", "cancelled", "expired"])
def test_an_order_no_longer_open_cannot_be_cancelled_and_nothing_changes(owner, fill, how):
    order = place(owner, side="sell", type="limit", quantity=5, limit_price="105.00")
    if how == "filled":
        set_price("ACME", "105.00")
        fill()
    elif how == "cancelled":
        cancel_order(order_id=order.pk, user=owner)
    else:
        set_market_day(day=1, elapsed=1.0)
        fill()
    before = state(owner)

    with pytest.raises(OrderClosed) as refused:
        cancel_order(order_id=order.pk, user=owner)

    assert refused.value.message == (f"This order is {how} already, so there is nothing to cancel.")
    assert state(owner) == before


@pytest.mark.parametrize("order_id", ["other", 10**9, "abc", None, "1.5"])
def test_an_order_that_is_not_the_students_is_not_found_and_nothing_changes(alice, bob, order_id):
    theirs = place(bob, side="buy", type="limit", quantity=10, limit_price="95.00")
    before = state(alice, bob)

    with pytest.raises(OrderNotFound) as refused:
        cancel_order(order_id=theirs.pk if order_id == "other" else order_id, user=alice)

    assert refused.value.message == "There is no such order among yours."
    assert state(alice, bob) == before


@pytest.fixture
def teacher(db):
    teacher = InstructorFactory(username="teacher")
    teacher.user_permissions.add(Permission.objects.get(codename="cancel_order"))
    return teacher


def test_an_instructor_cancels_an_open_order_of_a_student_in_their_class_with_an_audit_entry(
    acme, teacher
):
    classroom = ClassroomFactory()
    classroom.owners.add(teacher)
    student = StudentFactory(classroom=classroom, cash="10000.00")
    order = place(student, side="buy", type="limit", quantity=10, limit_price="95.00")

    cancel_order(order_id=order.pk, by=teacher, reason="  Wrong stock  ")

    order = reload(order)
    assert (order.status, order.cancelled_by, order.reason) == ("cancelled", teacher, "Wrong stock")
    assert not order.notified  # the student did not do it: they are told
    assert held(student) == 0
    entry = AuditEntry.objects.get(action=AuditEntry.Action.CANCEL_ORDER)
    assert (entry.actor, entry.student, entry.symbol) == (teacher, student, "ACME")
    assert entry.detail == (
        "Buy 10 ACME if the price falls to $95.00 or less; good for today (Wrong stock)"
    )


def test_an_instructors_cancel_without_a_reason_says_who_cancelled(acme, teacher):
    classroom = ClassroomFactory()
    classroom.owners.add(teacher)
    student = StudentFactory(classroom=classroom, cash="10000.00")
    order = place(student, side="buy", type="limit", quantity=1, limit_price="95.00")

    cancel_order(order_id=order.pk, by=teacher)

    assert reload(order).reason == "Cancelled by teacher"


def test_an_instructor_cannot_cancel_in_a_class_they_do_not_own(acme, teacher):
    student = StudentFactory(classroom=ClassroomFactory(), cash="10000.00")
    loner = StudentFactory(cash="10000.00")  # in no class at all
    orders = [
        place(who, side="buy", type="limit", quantity=1, limit_price="95.00")
        for who in (student, loner)
    ]
    before = state(student, loner)

    for order in orders:
        with pytest.raises(OrderNotFound):
            cancel_order(order_id=order.pk, by=teacher)

    assert state(student, loner) == before
    assert not AuditEntry.objects.exists()


def test_cancelling_a_students_order_needs_the_permission(acme):
    classroom = ClassroomFactory()
    staff = InstructorFactory()
    classroom.owners.add(staff)
    student = StudentFactory(classroom=classroom, cash="10000.00")
    order = place(student, side="buy", type="limit", quantity=1, limit_price="95.00")

    with pytest.raises(OrderNotFound) as refused:
        cancel_order(order_id=order.pk, by=staff)

    assert refused.value.message == "Only an instructor can cancel a student's order."
    assert reload(order).is_open


def test_a_superuser_may_cancel_any_students_order(alice):
    admin = InstructorFactory(is_superuser=True)
    order = place(alice, side="buy", type="limit", quantity=1, limit_price="95.00")

    cancel_order(order_id=order.pk, by=admin)

    assert reload(order).status == "cancelled" and held(alice) == 0


# What open orders hold -------------------------------------------------------------------


def test_an_open_buys_hold_is_not_spent_by_a_market_buy(alice):
    place(alice, side="buy", type="limit", quantity=100, limit_price="95.00")  # holds $9,500
    before = state(alice)

    with pytest.raises(InsufficientFunds) as refused:
        buy(user=alice, symbol="ACME", quantity=6)

    assert refused.value.message == (
        "Not enough cash: 6 ACME at $100.00 costs $600.00, and you have $500.00 free "
        "($9,500.00 of your $10,000.00 is held for your open orders)."
    )
    assert state(alice) == before
    buy(user=alice, symbol="ACME", quantity=5)  # exactly the free cash
    assert cash(alice) == D("9500.00") == held(alice)


def test_an_open_buys_hold_is_not_withdrawn(alice):
    place(alice, side="buy", type="limit", quantity=100, limit_price="95.00")

    with pytest.raises(ledger.InsufficientFunds) as refused:
        ledger.withdraw(user=alice, amount="500.01")
    with pytest.raises(ledger.InsufficientFunds) as beyond:
        ledger.withdraw(user=alice, amount="10000.00")

    assert refused.value.message == (
        "You can't withdraw $500.01: your balance is $10,000.00, of which $9,500.00 is held "
        "for your open orders, so $500.00 is the most you can take out."
    )
    assert beyond.value.message.startswith("You can't withdraw $10,000.00: your balance is")
    assert beyond.value.message.endswith("so $500.00 is the most you can take out.")
    ledger.withdraw(user=alice, amount="500.00")
    assert cash(alice) == D("9500.00") == held(alice)


def test_a_second_buy_order_cannot_hold_cash_the_first_holds(alice):
    place(alice, side="buy", type="stop", quantity=50, stop_price="150.00")  # $7,875.00
    before = state(alice)

    with pytest.raises(InsufficientFunds) as refused:
        place(alice, side="buy", type="limit", quantity=30, limit_price="90.00")  # $2,700.00

    assert refused.value.message == (
        "Not enough cash: buying 30 ACME needs $2,700.00 set aside, and you have $2,125.00 "
        "free ($7,875.00 is held for your open orders)."
    )
    assert state(alice) == before


def test_shares_an_open_sell_holds_cannot_be_sold_again(owner):
    place(owner, side="sell", type="limit", quantity=8, limit_price="120.00")
    before = state(owner)

    with pytest.raises(NotEnoughShares) as refused:
        sell(user=owner, symbol="ACME", quantity=3)
    assert refused.value.message == (
        "You hold 10 shares of ACME, and 8 of them are held for your open sell orders, so "
        "you can sell 2, not 3."
    )
    with pytest.raises(NotEnoughShares):
        place(owner, side="sell", type="stop", quantity=3, stop_price="90.00")
    with pytest.raises(NotEnoughShares):
        place(owner, side="sell", type="limit", quantity=3, limit_price="99.00")  # marketable

    assert state(owner) == before
    sell(user=owner, symbol="ACME", quantity=2)
    assert shares(owner) == (8, 8)


def test_a_sell_order_needs_shares(alice):
    with pytest.raises(NotEnoughShares) as refused:
        place(alice, side="sell", type="limit", quantity=1, limit_price="120.00")
    assert refused.value.message == "You hold 0 ACME shares; you cannot sell 1."
    assert not Order.objects.exists()


def test_a_commission_is_held_with_the_cost_and_charged_on_the_fill(acme, fill):
    classroom = ClassroomFactory(commission_kind="flat", commission_amount=D("4.95"))
    student = StudentFactory(classroom=classroom, cash="10000.00")

    order = place(student, side="buy", type="limit", quantity=10, limit_price="95.00")
    assert order.held_cash == D("954.95")

    set_price("ACME", "94.00")
    fill()
    assert reload(order).trade.commission == D("4.95")
    assert cash(student) == D("10000.00") - D("940.00") - D("4.95")
    assert held(student) == 0


def test_a_reset_cancels_open_orders_before_it_sells(owner, teacher):
    teacher.user_permissions.add(Permission.objects.get(codename="reset_student"))
    sells = place(owner, side="sell", type="stop", quantity=10, stop_price="90.00")
    buys = place(owner, side="buy", type="limit", quantity=10, limit_price="90.00")

    result = services.reset_student(student=owner, instructor=teacher, reason="Fresh start")

    for order in (sells, buys):
        order = reload(order)
        assert (order.status, order.cancelled_by, order.reason) == (
            "cancelled",
            teacher,
            "Reset by teacher",
        )
        assert not order.notified
    assert len(result.trades) == 1 and result.cash_after == D("10000.00")
    assert cash(owner) == D("10000.00") and held(owner) == 0
    assert not Holding.objects.filter(user=owner).exists()
    assert "cancelled 2 open orders" in AuditEntry.objects.get(action="reset_student").detail


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_joining_a_class_with_an_open_order_is_refused(owner, side):
    if side == "buy":
        place(owner, side="buy", type="limit", quantity=1, limit_price="90.00")
    else:
        place(owner, side="sell", type="limit", quantity=1, limit_price="190.00")
    classroom = ClassroomFactory()
    before = state(owner)

    with pytest.raises(JoinRefused):
        join_class(user=owner, code=classroom.join_code)

    assert state(owner) == before
    owner.refresh_from_db()
    assert owner.classroom_id is None


def test_joining_a_class_with_open_buys_says_to_cancel_them(alice):
    place(alice, side="buy", type="limit", quantity=1, limit_price="90.00")
    classroom = ClassroomFactory(name="Period 9")

    with pytest.raises(JoinRefused) as refused:
        join_class(user=alice, code=classroom.join_code)

    assert "you have open orders: cancel them first" in refused.value.message


def test_check_ledger_passes_with_open_orders_and_reports_a_hold_by_hand(owner):
    place(owner, side="buy", type="limit", quantity=10, limit_price="90.00")
    place(owner, side="sell", type="limit", quantity=4, limit_price="190.00")
    assert "Ledger OK" in check_ledger()

    Balance.objects.filter(user=owner).update(held=D("899.99"))
    Holding.objects.filter(user=owner).update(held_quantity=5)
    out = io.StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("check_ledger", stdout=out)

    assert str(failed.value) == "2 hold(s) do not match the open orders."
    lines = out.getvalue()
    assert (
        f"HOLD MISMATCH user {owner.pk} (alice): balance $9,000.00 holds $899.99; its open "
        "orders hold $900.00"
    ) in lines
    assert (
        f"HOLD MISMATCH user {owner.pk} ACME: holding of 10 holds 5; its open sell orders hold 4"
    ) in lines
    # Put back, so the money check after the test sees what the orders hold.
    Balance.objects.filter(user=owner).update(held=D("900.00"))
    Holding.objects.filter(user=owner).update(held_quantity=4)


def test_check_ledger_reports_a_hold_left_without_an_order(owner):
    order = place(owner, side="sell", type="limit", quantity=4, limit_price="190.00")
    Order.objects.filter(pk=order.pk).update(
        status="cancelled", held_shares=0, closed_at=timezone.now()
    )

    assert services.check_holds() == [
        f"HOLD MISMATCH user {owner.pk} ACME: holding of 10 holds 4; its open sell orders hold 0"
    ]
    Holding.objects.filter(user=owner).update(held_quantity=0)


# Class rules at the fill ------------------------------------------------------------------


def test_a_fill_after_the_class_ended_is_rejected_with_the_reason(acme, fill):
    classroom = ClassroomFactory()
    student = StudentFactory(classroom=classroom, cash="10000.00")
    order = place(student, side="buy", type="limit", quantity=10, limit_price="95.00")
    classroom.ends_at = timezone.now() - timedelta(minutes=1)
    classroom.save()

    set_price("ACME", "94.00")
    assert summary_counts(fill()) == (0, 1, 0)

    order = reload(order)
    assert order.status == "rejected"
    assert "orders are closed and the standings are final" in order.reason
    assert held(student) == 0 and cash(student) == D("10000.00")


def test_a_fill_past_the_classes_trades_per_day_is_rejected(acme, fill):
    MarketState.objects.filter(id=1).update(day_started_at=timezone.now() - timedelta(hours=1))
    student = StudentFactory(classroom=ClassroomFactory(max_trades_per_day=1), cash="10000.00")
    order = place(student, side="buy", type="limit", quantity=10, limit_price="95.00")
    buy(user=student, symbol="ACME", quantity=1)

    set_price("ACME", "95.00")
    assert summary_counts(fill()) == (0, 1, 0)

    order = reload(order)
    assert order.status == "rejected"
    assert order.reason.startswith("Your class allows at most 1 trade per market day")
    assert held(student) == 0


def test_a_class_that_ended_takes_no_new_resting_orders(acme):
    classroom = ClassroomFactory(ends_at=timezone.now() - timedelta(minutes=1))
    student = StudentFactory(classroom=classroom, cash="10000.00")

    with pytest.raises(RuleRefused) as refused:
        place(student, side="buy", type="limit", quantity=1, limit_price="95.00")

    assert refused.value.rule == "ends_at"
    assert not Order.objects.exists() and held(student) == 0


def test_a_class_of_market_orders_only_refuses_resting_orders(acme, monkeypatch):
    student = StudentFactory(cash="10000.00")
    market_only = replace(Rulebook.from_settings(), order_types="market")
    monkeypatch.setattr(services, "rulebook_for", lambda user: market_only)

    with pytest.raises(RuleRefused) as refused:
        place(student, side="buy", type="limit", quantity=1, limit_price="95.00")

    assert refused.value.rule == "order_types"
    assert not Order.objects.exists() and held(student) == 0
    order = place(student, side="buy", type="market", quantity=1)
    assert order.status == "filled" and order.type == "market"


def test_a_halted_symbol_keeps_its_orders_waiting_instead_of_rejecting_them(owner, fill):
    order = place(owner, side="sell", type="stop", quantity=10, stop_price="95.00")
    set_halted(symbols=["ACME"], halted=True)
    set_price("ACME", "90.00")

    assert services.triggered_orders() == []
    assert summary_counts(fill()) == (0, 0, 0)
    assert reload(order).is_open

    set_halted(symbols=["ACME"], halted=False)
    assert summary_counts(fill()) == (1, 0, 0)
    assert reload(order).trade.price == D("90.00")


def test_one_students_rejected_fill_does_not_stop_the_next_students_fill(acme, bob, fill):
    classroom = ClassroomFactory()
    ended = StudentFactory(classroom=classroom, cash="10000.00")
    first = place(ended, side="buy", type="limit", quantity=10, limit_price="95.00")
    second = place(bob, side="buy", type="limit", quantity=10, limit_price="95.00")
    classroom.ends_at = timezone.now() - timedelta(minutes=1)
    classroom.save()

    set_price("ACME", "95.00")
    assert summary_counts(fill()) == (1, 1, 0)

    assert reload(first).status == "rejected"
    assert reload(second).status == "filled"


def test_a_fill_that_fails_unexpectedly_is_left_open_and_the_rest_still_fill(
    alice, bob, fill, monkeypatch, caplog
):
    first = place(alice, side="buy", type="limit", quantity=1, limit_price="95.00")
    second = place(bob, side="buy", type="limit", quantity=1, limit_price="95.00")
    real = services.fill_order

    def broken_for_alice(*, order_id):
        if order_id == first.pk:
            raise RuntimeError("the database hiccuped")
        return real(order_id=order_id)

    monkeypatch.setattr(services, "fill_order", broken_for_alice)
    set_price("ACME", "95.00")

    summary = fill()

    assert (summary.filled, summary.failed) == (1, 1)
    assert "1 failed (see the log)" in str(summary)
    assert reload(first).is_open and reload(second).status == "filled"
    assert f"Filling order {first.pk} failed" in caplog.text


def test_fills_go_in_time_priority(acme, fill):
    students = [StudentFactory(cash="10000.00") for _ in range(3)]
    orders = [place(s, side="buy", type="limit", quantity=1, limit_price="95.00") for s in students]
    set_price("ACME", "95.00")

    assert services.triggered_orders() == [o.pk for o in orders]
    fill()
    trades = [reload(o).trade for o in orders]
    assert [t.pk for t in trades] == sorted(t.pk for t in trades)


def test_a_price_that_moves_back_between_the_two_reads_leaves_the_order_open_and_held(
    alice, fill, monkeypatch
):
    # As if the price was read reached and then, by the trade, beyond the limit again.
    order = place(alice, side="buy", type="limit", quantity=10, limit_price="95.00")
    set_price("ACME", "96.00")
    monkeypatch.setattr(services, "_reached", lambda direction, trigger, price: True)

    assert services.fill_order(order_id=order.pk) is None

    order = reload(order)
    assert order.is_open and order.held_cash == D("950.00")
    assert held(alice) == D("950.00") and cash(alice) == D("10000.00")


def test_a_symbol_halted_between_the_two_reads_keeps_the_order_waiting(owner, monkeypatch):
    # As if the halt committed after fill_order read the price and before the trade did.
    order = place(owner, side="sell", type="stop", quantity=10, stop_price="95.00")
    set_price("ACME", "90.00")
    Price.objects.filter(symbol="ACME").update(halted=True)

    class PriceNotYetHalted:
        class objects:  # noqa: N801 (stands in for the manager)
            @staticmethod
            def values_list(*fields):
                return (
                    Price.objects.filter(symbol="ACME")
                    .annotate(not_yet=Value(False))
                    .values_list("price", "not_yet")
                )

    monkeypatch.setattr(services, "Price", PriceNotYetHalted)

    assert services.fill_order(order_id=order.pk) is None

    order = reload(order)
    assert order.is_open and order.held_shares == 10 and order.reason == ""
    assert shares(owner) == (10, 10) and cash(owner) == D("9000.00")


def test_a_just_triggered_stop_limit_whose_limit_moved_away_keeps_its_trigger(alice, monkeypatch):
    order = place(
        alice, side="buy", type="stop_limit", quantity=10, stop_price="105.00", limit_price="106.00"
    )
    set_price("ACME", "107.00")
    monkeypatch.setattr(services, "_reached", lambda direction, trigger, price: True)

    assert services.fill_order(order_id=order.pk) == "triggered"

    order = reload(order)
    assert order.is_open and order.triggered_at is not None and order.trigger_price == 106
    assert held(alice) == D("1060.00")


# The table's own rules ---------------------------------------------------------------------


def _order_row(user, **fields):
    values = {
        "user": user,
        "stock_id": "ACME",
        "side": "sell",
        "type": "trailing_stop",
        "quantity": 1,
        "trail_percent": D("5"),
        "trail_mark": D("100.00"),
        "trigger_price": D("95.00"),
        "trigger_direction": "below",
        "status": "open",
    }
    values.update(fields)
    with transaction.atomic():
        return Order.objects.create(**values)


def test_the_table_takes_a_trailing_stop_with_one_trail(alice):
    assert _order_row(alice).pk
    assert _order_row(alice, trail_percent=None, trail_amount=D("5.00")).pk
    Order.objects.all().delete()


@pytest.mark.parametrize(
    "fields",
    [
        {"trail_amount": D("5.00")},  # both trails
        {"trail_percent": None},  # no trail
        {"trail_mark": None},
        {"limit_price": D("90.00")},
        {"stop_price": D("90.00")},
        {"type": "limit"},
        {"type": "stop", "trail_percent": None, "trail_mark": None},
    ],
)
def test_the_table_refuses_prices_that_do_not_match_the_type(alice, fields):
    with pytest.raises(IntegrityError):
        _order_row(alice, **fields)


def test_a_student_has_at_most_max_open_orders_and_may_place_again_after_a_cancel(
    alice, monkeypatch
):
    monkeypatch.setattr(services, "MAX_OPEN_ORDERS", 3)
    orders = [place(alice, quantity=1, limit_price="1.00") for _ in range(3)]

    with pytest.raises(services.InvalidOrder) as refused:
        place(alice, quantity=1, limit_price="1.00")

    assert refused.value.message == (
        "You have 3 open orders, the most one student may have: cancel one before placing "
        "another."
    )
    assert Order.objects.filter(user=alice, status="open").count() == 3
    services.cancel_order(order_id=orders[0].pk, user=alice)
    assert place(alice, quantity=1, limit_price="1.00").is_open
