"""check_ledger: exit 0 when every balance equals its journal, 1 (and each mismatch) if not."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ledger.management.commands.check_ledger import Command
from ledger.models import Balance
from ledger.services import debit, deposit, withdraw
from tests.factories import StudentFactory, TransactionFactory, UserFactory


def run_check():
    out = StringIO()
    call_command("check_ledger", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_a_consistent_ledger_passes(student, other_student, instructor):
    deposit(user=student, amount=Decimal("0.10"))
    deposit(user=student, amount=Decimal("0.20"))
    withdraw(user=student, amount=Decimal("0.30"))
    debit(user=other_student, type="buy", amount=Decimal("999.99"), symbol="ACME")

    assert "Ledger OK" in run_check()


@pytest.mark.django_db
def test_a_balance_changed_behind_its_back_is_reported_and_fails(student, other_student):
    Balance.objects.filter(user=student).update(amount=Decimal("12345.67"))

    out = StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command("check_ledger", stdout=out)

    assert excinfo.value.returncode == 1
    assert "1 account(s) do not match" in str(excinfo.value)
    report = out.getvalue()
    assert (
        f"MISMATCH user {student.pk} (alice): balance $12,345.67, journal total $10,000.00, "
        "difference +$2,345.67"
    ) in report
    assert "bob" not in report


@pytest.mark.django_db
def test_every_kind_of_mismatch_is_listed(student):
    TransactionFactory(user=student, type="fee", amount=Decimal("1.00"))
    orphan = UserFactory(username="orphan")
    TransactionFactory(user=orphan, amount=Decimal("5.00"))

    out = StringIO()
    with pytest.raises(CommandError, match="2 account"):
        call_command("check_ledger", stdout=out)

    assert "(alice): balance $10,000.00, journal total $9,999.00, difference +$1.00" in (
        out.getvalue()
    )
    assert "(orphan): no balance row, journal total $5.00" in out.getvalue()


@pytest.mark.django_db
def test_the_check_is_five_queries_however_many_students(django_assert_num_queries):
    StudentFactory.create_batch(3)
    with CaptureQueriesContext(connection) as few:
        run_check()
    StudentFactory.create_batch(30)
    with django_assert_num_queries(len(few.captured_queries)):
        run_check()
    # the journal against the balances; the held cash and shares against the open orders,
    # in a transaction of their own (here a savepoint in the test's: two statements)
    assert len(few.captured_queries) == 1 + 4 + 2


@pytest.mark.django_db(transaction=True)
def test_run_from_the_command_line_it_exits_1_on_a_mismatch():
    student = StudentFactory(username="carol")
    command = Command(stdout=StringIO(), stderr=StringIO())
    command.run_from_argv(["manage.py", "check_ledger"])  # exits normally: all consistent

    Balance.objects.filter(user=student).update(amount=Decimal("0.00"))
    command = Command(stdout=StringIO(), stderr=StringIO())
    with pytest.raises(SystemExit) as excinfo:
        command.run_from_argv(["manage.py", "check_ledger"])
    assert excinfo.value.code == 1
