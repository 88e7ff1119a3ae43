"""A property of short selling and margin together, for any sequence of steps:
three students in classes with short selling (one also with margin, one with a commission,
one with a 75 % initial margin) sell short, buy to cover, buy and sell, with every order
type, cancel and withdraw, while prices move, orders fill and days close. After every step:
the journal explains every cent, signed holdings equal their trades (bought − sold −
shorted + covered), holds match the open orders, no cash is below the loan the account was
allowed, and an account that opened a short or borrowed in the step met its initial margin
at that moment's prices — so one is past its margin only through price moves — and after
each tick (fill_orders runs the margin calls) every account is at its maintenance margin or
its call has closed its positions."""

from contextlib import suppress
from decimal import Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from classrooms.models import Classroom
from classrooms.rules import MarginAccount, rulebook_for
from ledger import services as ledger
from ledger.models import Balance
from portfolio.models import Holding
from prices.models import Price
from tests.factories import ClassroomFactory, PriceFactory, StudentFactory
from tests.trading.orders import money_problems, place, set_market_day
from tests.trading.test_orders_properties import (
    MOVES,
    OFFSETS,
    STEPS,
    SYMBOLS,
    near,
    price_of,
    rolled_back,
    run_step,
)
from trading.models import MarginCall, Trade
from trading.services import TradingError, buy

pytestmark = pytest.mark.django_db

STUDENTS = 3
SIDES = ["buy", "sell", "sell_short", "buy_to_cover"]

place_step = st.tuples(
    st.just("trade"),
    st.integers(0, STUDENTS - 1),
    st.sampled_from(sorted(SYMBOLS)),
    st.sampled_from(SIDES),
    st.sampled_from(["market", "limit", "stop"]),
    st.integers(min_value=1, max_value=25),
    OFFSETS,
)
move_step = st.tuples(
    st.just("move"), st.sampled_from(sorted(SYMBOLS)), MOVES, st.sampled_from(["0.00", "0.49"])
)
STEP = st.sampled_from(
    [place_step] * 5
    + [move_step] * 3
    + [
        st.tuples(st.just("cancel"), st.integers(0, 100)),
        st.tuples(st.just("close")),
        st.tuples(st.just("withdraw"), st.integers(0, STUDENTS - 1), st.integers(1, 3000)),
    ]
).flatmap(lambda step: step)


@pytest.fixture
def short_market(db):
    set_market_day(day=1, elapsed=0.5)
    for symbol, price in SYMBOLS.items():
        PriceFactory(symbol=symbol, price=price)
    students = [
        StudentFactory(classroom=ClassroomFactory(short_selling=True, margin=True), cash="5000.00"),
        StudentFactory(
            classroom=ClassroomFactory(
                short_selling=True, commission_kind="flat", commission_amount=Decimal("1")
            ),
            cash="5000.00",
        ),
        StudentFactory(
            classroom=ClassroomFactory(
                short_selling=True, margin=True, initial_margin_percent=Decimal("75")
            ),
            cash="5000.00",
        ),
    ]
    buy(user=students[0], symbol="BOLT", quantity=20)
    return students


def trade_step(students, step) -> None:
    _, who, symbol, side, type, quantity, offset = step
    prices = {}
    if type == "limit":
        prices["limit_price"] = near(price_of(symbol), offset)
    elif type == "stop":
        # A stop on the side it waits on: above the price for the buying sides.
        buying = side in ("buy", "buy_to_cover")
        prices["stop_price"] = near(price_of(symbol), abs(offset) if buying else -abs(offset))
    with suppress(TradingError):
        place(students[who], side=side, type=type, symbol=symbol, quantity=quantity, **prices)


def step_through(students, step) -> None:
    if step[0] == "trade":
        trade_step(students, step)
    elif step[0] == "withdraw":
        with suppress(ledger.LedgerError):
            ledger.withdraw(user=students[step[1]], amount=str(step[2]))
    else:
        run_step(students, step)


def margin_problems(students, since_trade: int, loans_before: dict) -> list[str]:
    """The accounts that opened a short, or borrowed more, in the step meet their initial
    margin at the prices of now (every fill of a step is at the step's last prices)."""
    prices = dict(Price.objects.values_list("symbol", "price"))
    shorted = set(
        Trade.objects.filter(id__gt=since_trade, operation="short").values_list(
            "user_id", flat=True
        )
    )
    problems = []
    for student in students:
        balance = Balance.objects.get(user=student)
        borrowed = max(-balance.amount, 0) > loans_before[student.pk]
        bought = Trade.objects.filter(id__gt=since_trade, user=student, operation="buy").exists()
        if student.pk not in shorted and not (borrowed and bought):
            continue
        long_value = short_value = Decimal(0)
        for symbol, quantity in Holding.objects.filter(user=student).values_list(
            "stock_id", "quantity"
        ):
            if quantity > 0:
                long_value += quantity * prices[symbol]
            else:
                short_value -= quantity * prices[symbol]
        facts = MarginAccount(
            cash=balance.amount, held=balance.held, long_value=long_value, short_value=short_value
        )
        rules = rulebook_for(student)
        required = rules.initial_margin_percent * (facts.positions + facts.held) / 100
        if facts.equity < required - 1:  # commissions and cents
            problems.append(
                f"{student.username}: equity {facts.equity} below the initial margin's "
                f"{required} (long {long_value}, short {short_value}, cash {balance.amount})"
            )
    return problems


def call_problems(students) -> list[str]:
    """After a tick (fill_orders runs the margin calls): every account is at its class's
    maintenance requirement, or has nothing left to sell, or waits on an open call (a
    halted symbol) — the classes here give 0 days, so a call sells at once."""
    prices = dict(Price.objects.values_list("symbol", "price"))
    problems = []
    for student in students:
        balance = Balance.objects.get(user=student)
        held = list(Holding.objects.filter(user=student).values_list("stock_id", "quantity"))
        if not held or MarginCall.objects.filter(user=student, status="open").exists():
            continue
        long_value = sum((q * prices[s] for s, q in held if q > 0), Decimal(0))
        short_value = sum((-q * prices[s] for s, q in held if q < 0), Decimal(0))
        equity = balance.amount + long_value - short_value
        required = (
            rulebook_for(student).maintenance_margin_percent * (long_value + short_value) / 100
        )
        if equity < required:
            problems.append(f"{student.username}: equity {equity} under {required}, no call")
    return problems


SHORT_AND_COVER = [
    ("trade", 0, "ACME", "sell_short", "market", 25, 1),
    ("trade", 1, "ACME", "sell_short", "limit", 25, 3),
    ("trade", 2, "BOLT", "sell_short", "market", 25, 1),
    ("move", "ACME", 5, "0.00"),
    ("trade", 0, "ACME", "buy_to_cover", "stop", 10, 3),
    ("trade", 1, "BOLT", "buy", "market", 25, 1),
    ("withdraw", 1, 3000),
    ("move", "ACME", 12, "0.49"),
    ("trade", 2, "BOLT", "buy_to_cover", "market", 25, 1),
    ("trade", 0, "BOLT", "sell", "market", 20, 1),
    ("trade", 0, "BOLT", "sell_short", "market", 25, 1),
    ("close",),
]


# A squeeze: the second student shorts all the margin allows, then ACME climbs until the
# margin call covers it.
SQUEEZE = [
    ("trade", 1, "ACME", "sell_short", "market", 25, 1),
    ("trade", 1, "ACME", "sell_short", "market", 25, 1),
    ("trade", 1, "ACME", "sell_short", "market", 25, 1),
    ("trade", 1, "ACME", "sell_short", "market", 25, 1),
    ("move", "ACME", 12, "0.00"),
    ("move", "ACME", 12, "0.00"),
    ("move", "ACME", 12, "0.00"),
    ("move", "ACME", 12, "0.49"),
]


@STEPS
@given(steps=st.lists(STEP, min_size=5, max_size=15))
@example(steps=SHORT_AND_COVER)
@example(steps=SQUEEZE)
def test_any_sequence_of_shorts_covers_and_ticks_keeps_the_money_right(short_market, steps):
    with rolled_back():
        for number, step in enumerate(steps):
            last_trade = Trade.objects.order_by("-id").values_list("id", flat=True).first() or 0
            loans = {b.user_id: max(-b.amount, 0) for b in Balance.objects.all()}
            step_through(short_market, step)
            problems = money_problems() + margin_problems(short_market, last_trade, loans)
            if step[0] in ("move", "close"):
                problems += call_problems(short_market)
            assert problems == [], f"after step {number} {step}: {problems}"


def test_the_example_sells_short_and_covers(short_market):
    with rolled_back():
        for step in SHORT_AND_COVER:
            step_through(short_market, step)
        operations = set(Trade.objects.values_list("operation", flat=True))
        assert {"short", "cover"} <= operations
        assert Classroom.objects.filter(short_selling=True).count() == 3


def test_the_squeeze_ends_in_a_margin_call(short_market):
    with rolled_back():
        for step in SQUEEZE:
            step_through(short_market, step)
        call = MarginCall.objects.get(user=short_market[1])
        assert call.status == "liquidated"
        assert not Holding.objects.filter(user=short_market[1]).exists()
        assert money_problems() == []
