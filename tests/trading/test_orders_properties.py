"""A property of the order engine, for any sequence of steps: three students place orders
of every type and size on two symbols, cancel them, withdraw cash, while prices move and
are filled, symbols halt and resume, days close and a class's rule refuses fills; and
after every step the money adds up
(tests/trading/orders.py: the journal, the holds, the holdings against the trades, every
fill within its limit), nothing the prices reach is left waiting, and nothing outlives
its last day.

Each example runs in a savepoint that is rolled back, so every one starts from the same
market: ACME at $100.00 and BOLT at $40.00, each student with 20 of each, the second
paying a flat commission and the third one per share in a class that allows one trade a
day. A refusal a
student would be told about (TradingError, LedgerError) is a fine outcome for a step; any
other error fails the test.
"""

from contextlib import contextmanager, suppress
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from classrooms.models import Classroom
from ledger import services as ledger
from prices.models import MarketState, Price
from tests.factories import ClassroomFactory, PriceFactory, StudentFactory
from tests.trading.orders import money_problems, place, set_market_day
from tradesim.money import CENT
from trading import services
from trading.models import Order
from trading.services import TradingError, buy, cancel_order, fill_orders

pytestmark = pytest.mark.django_db

SYMBOLS = {"ACME": Decimal("100.00"), "BOLT": Decimal("40.00")}
STUDENTS = 3
TYPES = ["market", "limit", "stop", "stop_limit", "trailing_stop"]

STEPS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Orders a few percent away from the price, and moves of a few percent: they meet often.
OFFSETS = st.sampled_from([-1, 1, -3, 3, -6, 6, -10, 10])
MOVES = st.sampled_from([-1, 1, -3, 3, -5, 5, -8, 8, -12, 12, 0])

place_step = st.tuples(
    st.just("place"),
    st.integers(0, STUDENTS - 1),
    st.sampled_from(sorted(SYMBOLS)),
    st.sampled_from(["buy", "sell"]),
    st.sampled_from(TYPES),
    st.integers(min_value=1, max_value=12),
    OFFSETS,
    OFFSETS,
    st.sampled_from(["day", "gtc"]),
    st.one_of(
        st.sampled_from(["1", "2.5", "5", "7.5"]).map(lambda p: {"trail_percent": p}),
        st.sampled_from(["0.50", "1.00", "3.25"]).map(lambda a: {"trail_amount": a}),
    ),
)
cancel_step = st.tuples(st.just("cancel"), st.integers(0, 100))
move_step = st.tuples(
    st.just("move"),
    st.sampled_from(sorted(SYMBOLS)),
    MOVES,  # percent
    st.sampled_from(["0.00", "0.01", "0.49", "0.99"]),
)
close_step = st.tuples(st.just("close"))
halt_step = st.tuples(st.just("halt"), st.sampled_from(sorted(SYMBOLS)), st.booleans())
withdraw_step = st.tuples(
    st.just("withdraw"), st.integers(0, STUDENTS - 1), st.integers(min_value=1, max_value=4000)
)
# The third student's class allows one trade a day (as it starts), or any number: at one,
# each of their fills is rejected (they traded when they started), their market orders
# refused.
rule_step = st.tuples(st.just("rule"), st.sampled_from([1, None]))
# Orders and moves most often: they are what meet each other.
STEP = st.sampled_from(
    [place_step] * 4
    + [move_step] * 3
    + [cancel_step, close_step, halt_step, withdraw_step, rule_step]
).flatmap(lambda step: step)


@pytest.fixture
def market(db):
    set_market_day(day=1, elapsed=0.5)
    for symbol, price in SYMBOLS.items():
        PriceFactory(symbol=symbol, price=price)
    students = [
        StudentFactory(cash="5000.00"),
        StudentFactory(
            classroom=ClassroomFactory(commission_kind="flat", commission_amount=Decimal("1")),
            cash="5000.00",
        ),
        StudentFactory(
            classroom=ClassroomFactory(
                commission_kind="per_share", commission_amount=Decimal("0.05")
            ),
            cash="5000.00",
        ),
    ]
    for student in students:
        for symbol in SYMBOLS:
            buy(user=student, symbol=symbol, quantity=20)
    Classroom.objects.filter(pk=students[2].classroom_id).update(max_trades_per_day=1)
    return students


@contextmanager
def rolled_back():
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def price_of(symbol: str) -> Decimal:
    return Price.objects.get(symbol=symbol).price


def near(price: Decimal, offset: int) -> str:
    return str(max((price * (100 + offset) / 100).quantize(CENT), CENT))


def run_step(students, step) -> None:
    kind = step[0]
    if kind == "place":
        _, who, symbol, side, type, quantity, first, second, duration, trail = step
        price = price_of(symbol)
        prices = {}
        if type == "limit":
            prices["limit_price"] = near(price, first)
        elif type == "stop":
            prices["stop_price"] = near(price, first)
        elif type == "stop_limit":
            prices["stop_price"] = near(price, first)
            prices["limit_price"] = near(price, first + second // 3)
        elif type == "trailing_stop":
            prices.update(trail)
        with suppress(TradingError):
            place(
                students[who],
                side=side,
                type=type,
                symbol=symbol,
                quantity=quantity,
                duration=duration,
                **prices,
            )
    elif kind == "cancel":
        open_orders = list(Order.objects.filter(status="open").order_by("id"))
        if open_orders:
            order = open_orders[step[1] % len(open_orders)]
            cancel_order(order_id=order.pk, user=order.user)
    elif kind == "move":
        _, symbol, percent, cents = step
        price = price_of(symbol)
        new = max((price * (100 + percent) / 100).quantize(Decimal("1")) + Decimal(cents), CENT)
        Price.objects.filter(symbol=symbol).update(price=new)
        summary = fill_orders()
        assert summary.failed == 0
        # Nothing the prices reach is left waiting.
        assert services.triggered_orders() == []
    elif kind == "close":
        state = MarketState.objects.get(id=1)
        day = state.trading_day + 1
        set_market_day(day=day, elapsed=1.0)
        fill_orders()
        assert not Order.objects.filter(status="open", expires_day__lte=day).exists()
        set_market_day(day=day + 1, elapsed=0.5)  # the next tick opens the next day
    elif kind == "halt":
        Price.objects.filter(symbol=step[1]).update(halted=step[2])
    elif kind == "rule":
        Classroom.objects.filter(pk=students[2].classroom_id).update(max_trades_per_day=step[1])
    elif kind == "withdraw":
        with suppress(ledger.LedgerError):
            ledger.withdraw(user=students[step[1]], amount=str(step[2]))


def stops_fill_on_their_side() -> list[str]:
    """A stop buys at or above its stop and sells at or below it (it fills at the market
    once the price has crossed its stop); a trailing stop likewise with its last stop; a
    stop-limit fills only once its stop was reached."""
    wrong = []
    filled = Order.objects.filter(
        status="filled", type__in=["stop", "trailing_stop", "stop_limit"]
    ).select_related("trade")
    for order in filled:
        if order.type == "stop_limit":
            if order.triggered_at is None:
                wrong.append(f"stop-limit {order.pk} filled without its stop reached")
            continue
        stop = order.stop_price if order.type == "stop" else order.trigger_price
        price = order.trade.price
        if (price < stop) if order.side == "buy" else (price > stop):
            wrong.append(f"{order.side} {order.type} at {stop} filled at {price}")
    return wrong


NO_TRAIL = {"trail_percent": "5"}  # ignored by the types without a trail

# Two sequences always tried, whatever the draw: a fill the class's rule rejects, a
# stop-limit gapped through that rests and then fills, trailing stops, a buy stop,
# expiry; a stop buy whose gap the cash no longer covers, a halt that keeps a reached
# order waiting, a rule lifted.
FIRST = [
    ("place", 2, "ACME", "buy", "limit", 5, -3, 1, "day", NO_TRAIL),
    ("place", 0, "ACME", "sell", "stop_limit", 5, -3, -3, "gtc", NO_TRAIL),
    ("place", 1, "BOLT", "sell", "trailing_stop", 5, 1, 1, "day", NO_TRAIL),
    ("place", 0, "BOLT", "buy", "stop", 5, 6, 1, "day", NO_TRAIL),
    ("move", "ACME", -5, "0.00"),
    ("move", "BOLT", 8, "0.00"),
    ("move", "ACME", 1, "0.49"),
    ("move", "BOLT", -8, "0.00"),
    ("cancel", 0),
    ("close",),
]
SECOND = [
    ("place", 0, "ACME", "buy", "stop", 12, 3, 1, "day", NO_TRAIL),
    ("withdraw", 0, 900),
    ("halt", "ACME", True),
    ("move", "ACME", 12, "0.00"),
    ("halt", "ACME", False),
    ("move", "ACME", 0, "0.00"),
    ("rule", None),
    ("place", 2, "BOLT", "buy", "limit", 3, -1, 1, "gtc", NO_TRAIL),
    ("move", "BOLT", -3, "0.01"),
    ("close",),
]


@STEPS
@given(steps=st.lists(STEP, min_size=5, max_size=15))
@example(steps=FIRST)
@example(steps=SECOND)
def test_any_sequence_of_orders_cancels_and_ticks_keeps_the_money_right(market, steps):
    with rolled_back():
        for number, step in enumerate(steps):
            run_step(market, step)
            problems = money_problems() + stops_fill_on_their_side()
            assert problems == [], f"after step {number} {step}: {problems}"
