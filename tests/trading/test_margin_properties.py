"""A property of margin, for any sequence of steps: three students in classes
with margin (50 %, 50 % with a flat commission, 75 % with a commission per share) place
orders of every type on two symbols, cancel them and withdraw, while prices move, orders
fill and days close (the steps of tests/trading/test_orders_properties.py). After every
step: the money adds up (the journal, the holds, the holdings against the trades, no cash
below the loan the account was allowed), and an account that borrowed more in the step met
its class's initial margin at the prices of that moment — so an account is past its
margin only through price moves, which the margin call answers."""

from decimal import Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from classrooms.models import Classroom
from classrooms.rules import MarginAccount, rulebook_for
from ledger.models import Balance
from portfolio.models import Holding
from prices.models import Price
from tests.factories import ClassroomFactory, PriceFactory, StudentFactory
from tests.trading.orders import money_problems, set_market_day
from tests.trading.test_orders_properties import (
    FIRST,
    SECOND,
    STEP,
    STEPS,
    SYMBOLS,
    rolled_back,
    run_step,
)
from trading.services import buy

pytestmark = pytest.mark.django_db


@pytest.fixture
def margin_market(db):
    set_market_day(day=1, elapsed=0.5)
    for symbol, price in SYMBOLS.items():
        PriceFactory(symbol=symbol, price=price)
    students = [
        StudentFactory(classroom=ClassroomFactory(margin=True), cash="5000.00"),
        StudentFactory(
            classroom=ClassroomFactory(
                margin=True, commission_kind="flat", commission_amount=Decimal("1")
            ),
            cash="5000.00",
        ),
        StudentFactory(
            classroom=ClassroomFactory(
                margin=True,
                initial_margin_percent=Decimal("75"),
                commission_kind="per_share",
                commission_amount=Decimal("0.05"),
            ),
            cash="5000.00",
        ),
    ]
    for student in students:
        for symbol in SYMBOLS:
            buy(user=student, symbol=symbol, quantity=20)
    Classroom.objects.filter(pk=students[2].classroom_id).update(max_trades_per_day=1)
    return students


def loans() -> dict[int, Decimal]:
    return {
        user_id: max(-amount, Decimal(0))
        for user_id, amount in Balance.objects.values_list("user_id", "amount")
    }


def margin_problems(students, borrowed_more: set[int]) -> list[str]:
    """Each account that borrowed more meets its initial margin at today's prices: its
    equity is at least the initial margin of its positions and open buys."""
    prices = dict(Price.objects.values_list("symbol", "price"))
    problems = []
    for student in students:
        if student.pk not in borrowed_more:
            continue
        balance = Balance.objects.get(user=student)
        long_value = sum(
            (quantity * prices[symbol])
            for symbol, quantity in Holding.objects.filter(user=student).values_list(
                "stock_id", "quantity"
            )
        )
        facts = MarginAccount(cash=balance.amount, held=balance.held, long_value=long_value)
        rules = rulebook_for(student)
        required = rules.initial_margin_percent * (long_value + balance.held) / 100
        if facts.equity < required:
            problems.append(
                f"{student.username} borrowed to {facts.loan} with equity {facts.equity} "
                f"below the initial margin's {required}"
            )
    return problems


# Borrowing on the first step and filling a margin buy on a move.
BORROW = [
    ("place", 0, "ACME", "buy", "market", 12, 1, 1, "day", {"trail_percent": "5"}),
    ("place", 0, "ACME", "buy", "market", 12, 1, 1, "day", {"trail_percent": "5"}),
    ("place", 1, "ACME", "buy", "limit", 12, -3, 1, "gtc", {"trail_percent": "5"}),
    ("place", 1, "BOLT", "buy", "limit", 12, -3, 1, "gtc", {"trail_percent": "5"}),
    ("move", "ACME", -5, "0.00"),
    ("withdraw", 0, 100),
    ("move", "BOLT", -5, "0.00"),
    ("close",),
]


@STEPS
@given(steps=st.lists(STEP, min_size=5, max_size=15))
@example(steps=BORROW)
@example(steps=FIRST)
@example(steps=SECOND)
def test_any_sequence_keeps_margin_accounts_within_their_loans(margin_market, steps):
    with rolled_back():
        for number, step in enumerate(steps):
            before = loans()
            run_step(margin_market, step)
            after = loans()
            borrowed_more = {user for user, loan in after.items() if loan > before.get(user, 0)}
            problems = money_problems() + margin_problems(margin_market, borrowed_more)
            assert problems == [], f"after step {number} {step}: {problems}"


def test_the_borrowing_sequence_borrows(margin_market):
    # The examples above are not vacuous: the first student really borrows.
    with rolled_back():
        for step in BORROW[:2]:
            run_step(margin_market, step)
        assert Balance.objects.get(user=margin_market[0]).amount < 0
