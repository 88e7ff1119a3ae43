"""The ledger under concurrent requests, on PostgreSQL with real threads and row locks.

Workers wait at a barrier so their requests really overlap, and each closes its own
database connection at the end. Afterwards the balance is never negative, equals the
signed sum of the journal, and exactly the affordable requests went through.
"""

import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from ledger.models import Balance, Transaction
from ledger.selectors import find_mismatches
from ledger.services import (
    DepositLimitExceeded,
    DuplicateRequest,
    InsufficientFunds,
    credit,
    debit,
    deposit,
    withdraw,
)
from tests.concurrency import run_concurrently
from tests.factories import StudentFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

D = Decimal


def assert_ledger_consistent(user):
    balance = Balance.objects.get(user=user).amount
    rows = list(Transaction.objects.filter(user=user).order_by("timestamp", "id"))
    running = D("0.00")
    for row in rows:
        running += row.signed_amount
        assert row.balance_after == running, "a row's running balance is wrong"
        assert row.balance_after >= 0
    assert balance == running
    assert balance >= 0
    assert find_mismatches() == []
    call_command("check_ledger", stdout=io.StringIO())


def test_concurrent_withdrawals_that_together_exceed_the_balance_never_overdraw():
    user = StudentFactory(cash="1000.00")

    results = run_concurrently([lambda: withdraw(user=user, amount=D("300.00")) for _ in range(12)])

    succeeded = [r for r in results if isinstance(r, Transaction)]
    refused = [r for r in results if isinstance(r, InsufficientFunds)]
    assert len(succeeded) == 3, results  # 3 × 300 fit in 1,000; a fourth does not
    assert len(refused) == 9, results
    assert Balance.objects.get(user=user).amount == D("100.00")
    assert sorted(r.balance_after for r in succeeded) == [D("100.00"), D("400.00"), D("700.00")]
    assert_ledger_consistent(user)


def test_concurrent_withdrawals_of_uneven_amounts_keep_the_journal_in_step():
    user = StudentFactory(cash="500.00")
    amounts = [D(a) for a in ("120.00", "75.50", "200.00", "0.01", "310.00", "99.99", "45.25")]

    results = run_concurrently([lambda a=a: withdraw(user=user, amount=a) for a in amounts])

    taken = sum(
        (r.amount for r in results if isinstance(r, Transaction)),
        D("0.00"),
    )
    assert all(isinstance(r, Transaction | InsufficientFunds) for r in results), results
    assert Balance.objects.get(user=user).amount == D("500.00") - taken >= 0
    assert_ledger_consistent(user)


def test_concurrent_deposits_with_the_same_token_make_one_row():
    user = StudentFactory(cash="1000.00")

    results = run_concurrently(
        [lambda: deposit(user=user, amount=D("100.00"), token="double-click") for _ in range(10)]
    )

    assert sum(isinstance(r, Transaction) for r in results) == 1, results
    duplicates = [r for r in results if isinstance(r, DuplicateRequest)]
    assert len(duplicates) == 9, results
    assert all(d.balance == D("1100.00") for d in duplicates)
    assert Transaction.objects.filter(user=user, token="double-click").count() == 1
    assert Balance.objects.get(user=user).amount == D("1100.00")
    assert_ledger_consistent(user)


def test_concurrent_deposits_cannot_overrun_the_class_cap(settings):
    settings.MAX_TOTAL_DEPOSITS = D("1000.00")
    user = StudentFactory(cash="100.00")

    results = run_concurrently([lambda: deposit(user=user, amount=D("300.00")) for _ in range(8)])

    assert sum(isinstance(r, Transaction) for r in results) == 3, results
    assert sum(isinstance(r, DepositLimitExceeded) for r in results) == 5, results
    assert Balance.objects.get(user=user).amount == D("1000.00")
    assert_ledger_consistent(user)


def test_a_double_submitted_form_deposits_once_through_the_pages():
    user = StudentFactory(username="dana", cash="1000.00")

    def submit():
        client = Client()
        client.force_login(user)
        return client.post(reverse("ledger:deposit"), {"amount": "50", "token": "form-1"})

    responses = run_concurrently([submit for _ in range(6)])

    assert all(getattr(r, "status_code", None) == 302 for r in responses), responses
    assert Transaction.objects.filter(user=user, token="form-1").count() == 1
    assert Balance.objects.get(user=user).amount == D("1050.00")
    assert_ledger_consistent(user)


def test_mixed_concurrent_movements_of_two_students_stay_consistent():
    alice = StudentFactory(username="alice", cash="2000.00")
    bob = StudentFactory(username="bob", cash="2000.00")
    jobs = []
    for user in (alice, bob):
        jobs += [lambda u=user: deposit(user=u, amount=D("10.00")) for _ in range(4)]
        jobs += [lambda u=user: withdraw(user=u, amount=D("700.00")) for _ in range(4)]
        jobs += [
            lambda u=user: debit(user=u, type="buy", amount=D("333.33"), symbol="ACME")
            for _ in range(3)
        ]
        jobs += [
            lambda u=user: credit(user=u, type="sell", amount=D("111.11"), symbol="ACME")
            for _ in range(3)
        ]

    results = run_concurrently(jobs)

    assert all(isinstance(r, Transaction | InsufficientFunds) for r in results), results
    for user in (alice, bob):
        assert_ledger_consistent(user)
