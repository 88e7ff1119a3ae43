"""Instructor actions racing a student's own orders, on PostgreSQL with real row locks.

A reset takes the student's balance row first, then their holdings, like every order, so
a concurrent buy or sell lands wholly before or wholly after it: the end state is always
one that some serial order of the three would produce."""

from decimal import Decimal

import pytest

from accounts.roles import ensure_instructor_group
from console.services import grant_cash
from ledger import services as ledger
from ledger.models import Balance
from ledger.selectors import find_mismatches
from portfolio.models import Holding
from tests.concurrency import run_concurrently
from tests.factories import InstructorFactory, PriceFactory, StudentFactory
from trading import services as trading
from trading.models import Trade

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def holdings(user) -> dict[str, int]:
    return dict(Holding.objects.filter(user=user).values_list("stock_id", "quantity"))


def net_traded(user) -> dict[str, int]:
    net: dict[str, int] = {}
    for symbol, operation, quantity in Trade.objects.filter(user=user).values_list(
        "stock_id", "operation", "quantity"
    ):
        net[symbol] = net.get(symbol, 0) + (quantity if operation == "buy" else -quantity)
    return {symbol: q for symbol, q in net.items() if q}


@pytest.fixture
def teacher():
    user = InstructorFactory(username="teacher")
    user.groups.add(ensure_instructor_group())
    return user


@pytest.mark.parametrize("round_", range(5))
def test_a_reset_and_the_students_own_orders_never_interleave(teacher, round_):
    for symbol, price in [("AAPL", "200.00"), ("MSFT", "400.00"), ("XOM", "100.00")]:
        PriceFactory(symbol=symbol, price=Decimal(price))
    student = StudentFactory(username=f"alice{round_}")
    trading.buy(user=student, symbol="AAPL", quantity=10)
    trading.buy(user=student, symbol="XOM", quantity=5)

    results = run_concurrently(
        [
            lambda: trading.reset_student(student=student, instructor=teacher, reason="Race"),
            lambda: trading.buy(user=student, symbol="MSFT", quantity=5),
            lambda: trading.sell(user=student, symbol="AAPL", quantity=2),
        ]
    )

    reset, bought, sold = results
    assert isinstance(reset, trading.ResetResult), reset
    assert isinstance(bought, Trade), bought  # cash for it either side of the reset
    assert isinstance(sold, Trade | trading.NotEnoughShares), sold
    cash = Balance.objects.get(user=student).amount
    # The reset came last, or the buy came after it (and any sale before it).
    assert (holdings(student), cash) in [
        ({}, Decimal("10000.00")),
        ({"MSFT": 5}, Decimal("8000.00")),
    ]
    assert holdings(student) == net_traded(student)
    assert find_mismatches() == []


def test_grants_and_withdrawals_at_once_keep_the_books(teacher):
    student = StudentFactory(username="bob")

    results = run_concurrently(
        [lambda: grant_cash(student=student, instructor=teacher, amount="100", reason="Prize")] * 4
        + [lambda: ledger.withdraw(user=student, amount="2500")] * 4
    )

    assert not [r for r in results if isinstance(r, BaseException)]
    assert Balance.objects.get(user=student).amount == Decimal("400.00")
    assert find_mismatches() == []
