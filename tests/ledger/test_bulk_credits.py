"""Crediting many students at once (ledger.credit_many, for the cash in lieu of a split's
fractions) and freeing holds in bulk (release_many): one journal row each, the journal
and the balances in step, in a fixed number of statements."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ledger import services as ledger
from ledger.models import Balance, Transaction
from ledger.selectors import find_mismatches
from tests.factories import StudentFactory

pytestmark = pytest.mark.django_db

D = Decimal


def test_each_student_gets_one_row_and_the_balances_follow():
    alice = StudentFactory(username="alice", cash="100.00")
    bob = StudentFactory(username="bob", cash="5.00")

    count = ledger.credit_many(
        type="split_cash",
        credits={alice.pk: (D("33.34"), "ACME 3-for-2 split"), bob.pk: (D("0.01"), "x")},
        symbol="ACME",
    )

    assert count == 2
    row = Transaction.objects.get(user=alice, type="split_cash")
    assert (row.amount, row.balance_after, row.symbol, row.description) == (
        D("33.34"),
        D("133.34"),
        "ACME",
        "ACME 3-for-2 split",
    )
    assert Balance.objects.get(user=bob).amount == D("5.01")
    assert find_mismatches() == []


def test_a_credit_lowers_the_allowed_loan_as_a_single_credit_does():
    alice = StudentFactory(username="alice", cash="0.00")
    Balance.objects.filter(user=alice).update(amount=D("-50.00"), loan_limit=D("80.00"))
    Transaction.objects.create(user=alice, type="buy", amount=D("50.00"), balance_after=D("-50"))

    ledger.credit_many(type="split_cash", credits={alice.pk: (D("20.00"), "fraction")})

    balance = Balance.objects.get(user=alice)
    assert (balance.amount, balance.loan_limit) == (D("-30.00"), D("30.00"))


@pytest.mark.parametrize("students", [2, 12])
def test_three_statements_however_many_students(students):
    users = [StudentFactory(username=f"s{i}", cash="10.00") for i in range(students)]
    with CaptureQueriesContext(connection) as queries:
        ledger.credit_many(
            type="split_cash", credits={u.pk: (D("1.00"), "fraction") for u in users}
        )
    # the balances, their UPDATE, the journal's INSERT; and the savepoint, in and out
    assert len(queries) == 3 + 2


def test_a_debit_type_or_a_missing_account_is_refused_and_writes_nothing():
    alice = StudentFactory(username="alice", cash="10.00")
    with pytest.raises(ValueError, match="not a credit"):
        ledger.credit_many(type="buy", credits={alice.pk: (D("1.00"), "x")})
    with pytest.raises(ledger.NoAccount):
        ledger.credit_many(type="split_cash", credits={alice.pk + 999: (D("1.00"), "x")})
    with pytest.raises(ledger.InvalidAmount):
        ledger.credit_many(type="split_cash", credits={alice.pk: (D("0.001"), "x")})
    assert not Transaction.objects.filter(type="split_cash").exists()
    assert Balance.objects.get(user=alice).amount == D("10.00")


def test_release_many_frees_what_closed_orders_held():
    alice = StudentFactory(username="alice", cash="100.00")
    Balance.objects.filter(user=alice).update(held=D("60.00"))

    assert ledger.release_many(amounts={alice.pk: D("45.00")}) == 1
    assert ledger.release_many(amounts={alice.pk: D("0")}) == 0
    assert Balance.objects.get(user=alice).held == D("15.00")
    assert ledger.lock_all_balances() == 1
