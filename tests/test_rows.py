"""tradesim.rows writes rows the ORM cannot tell from its own, on either database."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from ledger.models import Balance, Transaction
from tests.factories import StudentFactory
from tradesim import rows

pytestmark = pytest.mark.django_db


def deposit(student, amount="1.00"):
    """A journal row's fields, for rows.insert and rows.create."""
    return {
        "user": student.pk,
        "created_by": None,
        "type": Transaction.Type.DEPOSIT,
        "amount": Decimal(amount),
        "description": "",
        "symbol": "",
        "token": None,
        "timestamp": timezone.now(),
        "balance_after": Decimal(amount),
    }


def test_an_inserted_row_reads_back_through_the_orm_exactly():
    student = StudentFactory()
    at = timezone.now() - timedelta(days=3, microseconds=7)
    values = {
        "type": Transaction.Type.DEPOSIT,
        "amount": Decimal("1234.56"),
        "description": "by rows.insert",
        "symbol": "",
        "token": "t-1",
        "timestamp": at,
        "balance_after": Decimal("11234.56"),
    }

    pk = rows.insert(Transaction, user=student.pk, created_by=None, **values)

    row = Transaction.objects.get(pk=pk)
    assert {name: getattr(row, name) for name in values} == values
    assert (row.user_id, row.created_by_id) == (student.pk, None)
    # Stored as the ORM stores it, so it sorts among the ORM's own rows.
    newest = Transaction.objects.filter(user=student).order_by("-timestamp").first()
    assert newest.pk != pk


def test_update_changes_only_the_matching_row_and_counts_it():
    first, second = StudentFactory(), StudentFactory()
    now = timezone.now()

    changed = rows.update(Balance, {"user": first.pk}, amount=Decimal("0.10"), last_updated=now)

    assert changed == 1
    assert Balance.objects.get(user=first).amount == Decimal("0.10")
    assert Balance.objects.get(user=first).last_updated == now
    assert Balance.objects.get(user=second).amount == Decimal("10000.00")


def test_loaded_is_a_saved_instance():
    student = StudentFactory()
    balance = Balance.objects.get(user=student)

    copy = rows.loaded(Balance, balance.pk, user_id=student.pk, amount=Decimal("5.00"))
    copy.last_updated = balance.last_updated
    copy.save()

    assert Balance.objects.count() == 1
    assert Balance.objects.get().amount == Decimal("5.00")


@pytest.mark.parametrize(
    ("stored", "places", "expected"),
    [
        (Decimal("12.30"), 2, Decimal("12.30")),
        (12.3, 2, Decimal("12.30")),
        (0.1 + 0.2, 2, Decimal("0.30")),
        (7, 4, Decimal("7.0000")),
        (None, 2, None),
    ],
)
def test_decimal_turns_what_the_database_returns_into_the_column_s_decimal(
    stored, places, expected
):
    value = rows.decimal(stored, places)

    assert value == expected
    assert value is None or value.as_tuple().exponent == -places


def test_the_locking_clause_follows_the_database():
    if connection.vendor == "postgresql":
        assert rows.for_update() == " FOR UPDATE"
    else:
        assert rows.for_update() == ""


def test_fetch_one_returns_none_for_no_row():
    with transaction.atomic():
        assert rows.fetch_one("SELECT id FROM balances WHERE user_id = %s", [-1]) is None


def test_insert_without_returning_reads_the_new_id_as_the_orm_does(monkeypatch):
    if connection.vendor != "sqlite":
        # The fallback is for SQLite before 3.35; PostgreSQL always has RETURNING.
        assert connection.features.can_return_columns_from_insert
        return
    monkeypatch.setattr(connection.features, "can_return_columns_from_insert", False)
    student = StudentFactory()

    pk = rows.insert(Transaction, **deposit(student))

    assert Transaction.objects.get(pk=pk).amount == Decimal("1.00")


def test_create_returns_the_saved_row_as_the_orm_reads_it():
    student = StudentFactory()

    row = rows.create(Transaction, **deposit(student, "2.50"))

    assert not row._state.adding
    stored = Transaction.objects.get(pk=row.pk)
    assert (row.user_id, row.amount, row.timestamp) == (
        stored.user_id,
        stored.amount,
        stored.timestamp,
    )
