"""Margin under concurrent orders, on PostgreSQL with real threads and row locks: the
margin check reads the cash, the holds and the positions under the student's balance lock,
so concurrent buys on margin never borrow past the class's buying power."""

from decimal import Decimal

import pytest
from django.db.models import Sum

from classrooms.models import Classroom
from ledger.models import Balance, Transaction
from portfolio.models import Holding
from tests.concurrency import run_concurrently
from tests.factories import ClassroomFactory, PriceFactory, StudentFactory
from trading import services
from trading.models import Order, Trade
from trading.services import InsufficientFunds, buy

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def margin_student(**rules) -> object:
    return StudentFactory(
        classroom=ClassroomFactory(name="Leverage", margin=True, **rules), cash="10000.00"
    )


def test_sixteen_concurrent_margin_buys_never_pass_the_buying_power():
    PriceFactory(symbol="ACME", price=Decimal("100.00"))
    student = margin_student()  # $10,000 of equity: $20,000 of buying power

    results = run_concurrently(
        [lambda: buy(user=student, symbol="ACME", quantity=50) for _ in range(16)]  # $5,000
    )

    bought = [r for r in results if isinstance(r, Trade)]
    refused = [r for r in results if isinstance(r, InsufficientFunds)]
    assert (len(bought), len(refused)) == (4, 12), results
    balance = Balance.objects.get(user=student)
    assert balance.amount == Decimal("-10000.00")
    assert balance.loan_limit == Decimal("10000.00")
    assert Holding.objects.get(user=student).quantity == 200
    journal = Transaction.objects.filter(user=student)
    credits = journal.filter(type__in=Transaction.CREDIT_TYPES).aggregate(s=Sum("amount"))["s"]
    debits = journal.filter(type__in=Transaction.DEBIT_TYPES).aggregate(s=Sum("amount"))["s"]
    assert credits - debits == balance.amount


def test_concurrent_margin_buys_and_open_orders_share_one_buying_power():
    PriceFactory(symbol="ACME", price=Decimal("100.00"))
    PriceFactory(symbol="BOLT", price=Decimal("40.00"))
    student = margin_student(commission_kind="flat", commission_amount=Decimal("1"))

    def market_buy(symbol, quantity):
        return lambda: buy(user=student, symbol=symbol, quantity=quantity)

    def limit_buy(symbol, quantity, limit):
        request = services.order_request(
            side="buy", symbol=symbol, quantity=quantity, type="limit", limit_price=limit
        )
        return lambda: services.place_order(user=student, request=request)

    jobs = [market_buy("ACME", 30), market_buy("BOLT", 75), limit_buy("ACME", 30, "90")] * 4
    results = run_concurrently(jobs)

    unexpected = [
        r for r in results if isinstance(r, BaseException) and not isinstance(r, InsufficientFunds)
    ]
    assert unexpected == []
    balance = Balance.objects.get(user=student)
    long_value = sum(
        quantity * price
        for quantity, price in Holding.objects.filter(user=student).values_list(
            "quantity", "stock__price"
        )
    )
    held = Order.objects.filter(user=student, status="open").aggregate(s=Sum("held_cash"))["s"]
    assert balance.held == (held or 0)
    # Prices did not move: every borrowing met the 50 % initial margin, positions and open
    # buys counted, and the cash stayed within the loan allowed.
    equity = balance.amount + long_value
    assert equity * 2 >= long_value + balance.held
    assert balance.amount >= -balance.loan_limit
    assert balance.held <= balance.amount + balance.loan_limit
    assert Classroom.objects.get(name="Leverage").margin
    assert any(isinstance(r, InsufficientFunds) for r in results)  # the power ran out


def test_concurrent_short_sales_never_pass_the_initial_margin():
    PriceFactory(symbol="ACME", price=Decimal("100.00"))
    PriceFactory(symbol="BOLT", price=Decimal("40.00"))
    student = StudentFactory(
        classroom=ClassroomFactory(name="Shorts", short_selling=True), cash="10000.00"
    )  # $10,000 of equity carries $20,000 of positions

    jobs = [lambda: services.sell_short(user=student, symbol="ACME", quantity=30)] * 6 + [
        lambda: services.sell_short(user=student, symbol="BOLT", quantity=60)
    ] * 6  # $3,000 and $2,400 each: $32,400 asked for
    results = run_concurrently(jobs)

    unexpected = [
        r for r in results if isinstance(r, BaseException) and not isinstance(r, InsufficientFunds)
    ]
    assert unexpected == []
    shorted = sum(
        -quantity * price
        for quantity, price in Holding.objects.filter(user=student).values_list(
            "quantity", "stock__price"
        )
    )
    assert Decimal("17400") <= shorted <= Decimal("20000")  # the margin was used, not passed
    balance = Balance.objects.get(user=student)
    assert balance.amount == Decimal("10000.00") + shorted
    equity = balance.amount - shorted
    assert equity * 2 >= shorted
    trades = Trade.objects.filter(user=student, operation="short")
    assert sum(t.total for t in trades) == shorted
