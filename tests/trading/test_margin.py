"""Buying on margin: with the class's switch on, a student may borrow up to a
buying power of equity ÷ the initial margin; cash below zero is the loan, and the
balances table refuses any cash below the loan the account was allowed."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from accounts.roles import ensure_instructor_group
from classrooms import rules as classroom_rules
from classrooms.models import Classroom
from classrooms.rules import MarginAccount, Rulebook, buying_power
from ledger import services as ledger
from ledger.models import Balance, Transaction
from portfolio.models import Holding
from tests.factories import ClassroomFactory, InstructorFactory, PriceFactory, StudentFactory
from trading import services
from trading.models import Order
from trading.services import InsufficientFunds, buy, sell

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def margin_class():
    return ClassroomFactory(name="Leverage", margin=True, starting_cash=D("10000.00"))


@pytest.fixture
def student(margin_class):
    return StudentFactory(username="mia", classroom=margin_class)


@pytest.fixture
def acme():
    return PriceFactory(symbol="ACME", price=D("100.00"))


def balance(user) -> Balance:
    return Balance.objects.get(user=user)


# The rule, on its own -----------------------------------------------------------------


def test_buying_power_is_equity_over_the_initial_margin_less_what_is_used():
    rules = Rulebook(margin=True)  # 50 %
    fresh = MarginAccount(cash=D("10000.00"))
    assert buying_power(rules, fresh) == D("20000.00")
    # $15,000 of shares on a $5,000 loan: equity $10,000 buys $20,000 in all, $5,000 more.
    used = MarginAccount(cash=D("-5000.00"), long_value=D("15000.00"))
    assert buying_power(rules, used) == D("5000.00")
    # An open buy uses it as if it had filled: $1,000 held of $10,000 leaves $19,000.
    assert buying_power(rules, MarginAccount(cash=D("10000"), held=D("1000"))) == D("19000.00")
    # Cash only: the free cash, never below zero.
    assert buying_power(Rulebook(), fresh) == D("10000.00")
    assert buying_power(Rulebook(), MarginAccount(cash=D("100"), held=D("150"))) == D("0.00")
    # A 100 % initial margin lends nothing.
    assert buying_power(Rulebook(margin=True, initial_margin_percent=D("100")), fresh) == D(
        "10000.00"
    )


def test_the_margin_rule_allows_a_buy_up_to_the_buying_power_exactly():
    rules = Rulebook(margin=True)
    fresh = MarginAccount(cash=D("10000.00"))
    allowed = classroom_rules.check_margin(
        rules, fresh, need=D("20000.00"), adds=D("20000.00"), commission=D("0")
    )
    assert allowed is None
    refused = classroom_rules.check_margin(
        rules, fresh, need=D("20000.01"), adds=D("20000.01"), commission=D("0")
    )
    assert refused.rule == "margin"
    assert "buying power is $20,000.00" in refused.message


# Worked examples ----------------------------------------------------------------------


def test_a_margin_buy_borrows_what_the_cash_does_not_cover(student, acme):
    trade = buy(user=student, symbol="ACME", quantity=150, token="t-1")  # $15,000

    assert trade.total == D("15000.00")
    account = balance(student)
    assert account.amount == D("-5000.00")  # the loan
    assert account.loan == D("5000.00")
    assert account.loan_limit == D("5000.00")
    assert Holding.objects.get(user=student).quantity == 150
    row = Transaction.objects.get(user=student, type="buy")
    assert row.balance_after == D("-5000.00")


def test_a_buy_past_the_buying_power_is_refused_and_changes_nothing(student, acme):
    buy(user=student, symbol="ACME", quantity=150)  # $5,000 of $20,000 buying power left
    before = (balance(student).amount, Transaction.objects.count())

    with pytest.raises(InsufficientFunds) as refused:
        buy(user=student, symbol="ACME", quantity=51)  # $5,100

    assert "Not enough buying power" in refused.value.message
    assert "buying power is $5,000.00" in refused.value.message
    assert (balance(student).amount, Transaction.objects.count()) == before
    buy(user=student, symbol="ACME", quantity=50)  # exactly the rest
    assert balance(student).amount == D("-10000.00")


def test_a_class_without_margin_still_refuses_any_overdraft(acme):
    student = StudentFactory(classroom=ClassroomFactory(name="Cash only"))
    with pytest.raises(InsufficientFunds) as refused:
        buy(user=student, symbol="ACME", quantity=101)
    assert refused.value.message.startswith("Not enough cash")
    assert balance(student).amount == D("10000.00")


def test_selling_repays_the_loan_and_lowers_the_loan_allowed(student, acme):
    buy(user=student, symbol="ACME", quantity=150)
    sell(user=student, symbol="ACME", quantity=30)  # $3,000 back

    account = balance(student)
    assert account.amount == D("-2000.00")
    assert account.loan_limit == D("2000.00")
    sell(user=student, symbol="ACME", quantity=120)
    account = balance(student)
    assert (account.amount, account.loan_limit) == (D("10000.00"), D("0.00"))


def test_a_loss_on_margin_is_magnified(student, acme):
    # $10,000 of equity buys $20,000 of ACME; ACME falls 25 %: the equity falls 50 %.
    buy(user=student, symbol="ACME", quantity=200)
    acme.price = D("75.00")
    acme.save()
    sell(user=student, symbol="ACME", quantity=200)
    assert balance(student).amount == D("5000.00")


def test_a_withdrawal_never_borrows(student, acme):
    buy(user=student, symbol="ACME", quantity=150)
    with pytest.raises(ledger.InsufficientFunds) as refused:
        ledger.withdraw(user=student, amount="1.00")
    assert "margin loan" in refused.value.message
    assert balance(student).amount == D("-5000.00")


def test_the_database_refuses_cash_below_the_loan_allowed(student, acme):
    buy(user=student, symbol="ACME", quantity=150)
    with pytest.raises(IntegrityError), transaction.atomic():
        Balance.objects.filter(user=student).update(amount=D("-5000.01"))
    with pytest.raises(IntegrityError), transaction.atomic():
        Balance.objects.filter(user=student).update(loan_limit=D("4999.99"))
    cash_only = StudentFactory(classroom=ClassroomFactory(name="Cash only"))
    with pytest.raises(IntegrityError), transaction.atomic():
        Balance.objects.filter(user=cash_only).update(amount=D("-0.01"))


def test_an_open_buy_may_hold_buying_power_and_fills_on_the_loan(student, acme):
    order = services.place_order(
        user=student,
        request=services.order_request(
            side="buy", symbol="ACME", quantity=150, type="limit", limit_price="90"
        ),
    )
    assert order.status == Order.Status.OPEN
    account = balance(student)
    assert account.held == D("13500.00")
    assert account.loan_limit == D("3500.00")  # the hold beyond the cash

    acme.price = D("90.00")
    acme.save()
    assert services.fill_order(order_id=order.pk) == "filled"
    account = balance(student)
    assert (account.amount, account.held) == (D("-3500.00"), D("0.00"))
    assert account.loan_limit == D("3500.00")


def test_the_margin_switch_is_a_class_rule(margin_class):
    rules = classroom_rules.rulebook_for(StudentFactory(classroom=margin_class))
    assert rules.margin and rules.initial_margin_percent == D("50")
    assert rules.values_portfolio
    assert not Classroom().margin  # off unless a teacher turns it on


def test_a_reset_sells_at_market_repays_the_loan_and_restores_the_starting_cash(
    student, acme, margin_class
):
    teacher = InstructorFactory()
    teacher.groups.add(ensure_instructor_group())
    margin_class.owners.add(teacher)
    buy(user=student, symbol="ACME", quantity=180)  # a loan of $8,000
    acme.price = D("80.00")
    acme.save()  # equity: $14,400 − $8,000 = $6,400

    result = services.reset_student(student=student, instructor=teacher, reason="fresh start")

    assert [trade.quantity for trade in result.trades] == [180]
    account = balance(student)
    assert (account.amount, account.held, account.loan_limit) == (D("10000.00"), 0, 0)
    assert not Holding.objects.filter(user=student).exists()
    credit = Transaction.objects.get(user=student, type="reset_credit")
    assert credit.amount == D("3600.00")  # from $6,400 after the sale back to $10,000


def test_holds_on_the_loan_are_not_a_hold_mismatch(student, acme):
    services.place_order(
        user=student,
        request=services.order_request(
            side="buy", symbol="ACME", quantity=150, type="limit", limit_price="90"
        ),
    )
    account = balance(student)
    assert account.held > account.amount  # held on the loan the account is allowed
    assert services.check_holds() == []
