"""Interest under concurrency, on PostgreSQL with real threads and row locks: runs of the
same day's accrual at once charge each student once, and an accrual racing a student's own
movement charges on the cash it finds under the lock."""

import io
from decimal import Decimal

import pytest
from django.core.management import call_command

from classrooms.rules import daily_interest
from ledger.models import Balance, InterestDay, Transaction
from ledger.services import accrue_interest, withdraw
from tests.concurrency import run_concurrently
from tests.factories import ClassroomFactory, StudentFactory
from tests.ledger.test_interest import borrower

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

D = Decimal
T = Transaction.Type


def test_four_runs_of_one_days_accrual_at_once_charge_and_pay_each_student_once():
    margin_class = ClassroomFactory(name="Leverage", margin=True, cash_rate_percent=D("4"))
    owing = [borrower(margin_class, f"owes{i}") for i in range(3)]
    saving = [StudentFactory(username=f"saves{i}", classroom=margin_class) for i in range(3)]

    results = run_concurrently([lambda: accrue_interest(day=9) for _ in range(4)])

    assert not [r for r in results if isinstance(r, BaseException)], results
    assert sum(r.charged for r in results) == 3
    assert sum(r.paid for r in results) == 3
    for student in owing:
        [row] = Transaction.objects.filter(user=student, type=T.INTEREST)
        assert row.token == "interest:9"
        assert Balance.objects.get(user=student).amount == D("-10003.17")
    for student in saving:
        [row] = Transaction.objects.filter(user=student, type=T.CASH_INTEREST)
        assert Balance.objects.get(user=student).amount == D("10001.59")
    assert InterestDay.objects.filter(day=9).count() == 1
    call_command("check_ledger", stdout=io.StringIO())


def test_an_accrual_racing_a_withdrawal_pays_on_the_cash_it_finds_under_the_lock():
    savers = ClassroomFactory(name="Savers", cash_rate_percent=D("4"))
    for attempt in range(5):
        student = StudentFactory(username=f"saver{attempt}", classroom=savers)

        results = run_concurrently(
            [
                lambda day=attempt + 1: accrue_interest(day=day),
                lambda student=student: withdraw(user=student, amount=D("6000.00")),
            ]
        )

        assert not [r for r in results if isinstance(r, BaseException)], results
        [row] = Transaction.objects.filter(user=student, type=T.CASH_INTEREST)
        found = row.balance_after - row.amount  # the cash the accrual saw
        assert found in (D("10000.00"), D("4000.00"))
        assert row.amount == daily_interest(found, D("4"))
        assert f"Interest on your cash of ${found:,.2f} " in row.description
        assert Balance.objects.get(user=student).amount == D("4000.00") + row.amount
    call_command("check_ledger", stdout=io.StringIO())
