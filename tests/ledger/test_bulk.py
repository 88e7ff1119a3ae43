"""ledger.services.lock_balances and post_in_bulk: many movements in a fixed number of
statements, each row with its balance after, once per token, within the balances' rules."""

from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from ledger import services as ledger
from ledger.models import Balance, Transaction
from ledger.selectors import find_mismatches
from tests.factories import StudentFactory

pytestmark = pytest.mark.django_db

D = Decimal


def movement(user, type_, amount, token=None):
    return ledger.Movement(
        user_id=user.pk, type=type_, amount=D(amount), description=f"{type_} {amount}", token=token
    )


def post(movements, users):
    with transaction.atomic():
        balances = ledger.lock_balances(users=[u.pk for u in users])
        return ledger.post_in_bulk(movements, balances=balances)


def test_rows_carry_their_balance_after_in_order_and_the_balances_match():
    ann, ben = StudentFactory(cash="100.00"), StudentFactory(cash="50.00")

    rows = post(
        [
            movement(ann, "dividend", "10.00"),
            movement(ann, "dividend_charge", "3.00"),
            movement(ben, "dividend", "1.25"),
        ],
        [ann, ben],
    )

    assert [(r.type, r.amount, r.balance_after) for r in rows] == [
        ("dividend", D("10.00"), D("110.00")),
        ("dividend_charge", D("3.00"), D("107.00")),
        ("dividend", D("1.25"), D("51.25")),
    ]
    assert Balance.objects.get(user=ann).amount == D("107.00")
    assert Balance.objects.get(user=ben).amount == D("51.25")
    assert find_mismatches() == []


def test_a_used_token_is_skipped_so_a_repeat_posts_nothing():
    ann = StudentFactory(cash="100.00")
    post([movement(ann, "dividend", "10.00", token="dividend:ACME:2")], [ann])

    rows = post([movement(ann, "dividend", "10.00", token="dividend:ACME:2")], [ann])

    assert rows == []
    assert Balance.objects.get(user=ann).amount == D("110.00")


def test_a_debit_beyond_the_free_cash_borrows_and_a_credit_repays_the_loan_allowed():
    ann = StudentFactory(cash="5.00")

    post([movement(ann, "dividend_charge", "8.00")], [ann])
    balance = Balance.objects.get(user=ann)
    assert (balance.amount, balance.loan_limit) == (D("-3.00"), D("3.00"))

    post([movement(ann, "dividend", "10.00")], [ann])
    balance = Balance.objects.get(user=ann)
    assert (balance.amount, balance.loan_limit) == (D("7.00"), D("0.00"))
    assert find_mismatches() == []


def test_a_user_whose_balance_is_not_locked_is_left_out():
    ann, ben = StudentFactory(cash="100.00"), StudentFactory(cash="100.00")

    rows = post([movement(ann, "dividend", "1.00"), movement(ben, "dividend", "1.00")], [ann])

    assert [r.user_id for r in rows] == [ann.pk]
    assert Balance.objects.get(user=ben).amount == D("100.00")


def test_not_a_movement_is_refused():
    ann = StudentFactory(cash="100.00")
    with pytest.raises(ValueError):
        post([movement(ann, "bogus", "1.00")], [ann])
    assert not Transaction.objects.filter(type="bogus").exists()


@pytest.mark.parametrize("accounts", [3, 30])
def test_the_statements_do_not_grow_with_the_accounts(accounts):
    users = [StudentFactory(cash="10.00") for _ in range(accounts)]
    with CaptureQueriesContext(connection) as queries:
        post([movement(u, "dividend", "1.00", token="dividend:X:1") for u in users], users)
    # SAVEPOINT, lock, tokens used, UPDATE balances, INSERT journal, RELEASE
    assert len(queries) == 6
    assert Transaction.objects.filter(type="dividend").count() == accounts
