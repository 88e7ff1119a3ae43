"""Freeing holds in bulk (ledger.release_many, for the orders a reverse split closes) and
the accounts' lock that corporate actions take first (lock_all_accounts)."""

from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from ledger import services as ledger
from ledger.models import Balance
from tests.factories import StudentFactory

pytestmark = pytest.mark.django_db

D = Decimal


def test_release_many_frees_what_closed_orders_held():
    alice = StudentFactory(username="alice", cash="100.00")
    Balance.objects.filter(user=alice).update(held=D("60.00"))

    assert ledger.release_many(amounts={alice.pk: D("45.00")}) == 1
    assert ledger.release_many(amounts={alice.pk: D("0")}) == 0
    assert Balance.objects.get(user=alice).held == D("15.00")


def test_the_accounts_lock_is_one_statement_on_postgresql_and_none_on_sqlite():
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        ledger.lock_all_accounts()
    if connection.vendor == "postgresql":
        assert [q["sql"] for q in queries] == ["LOCK TABLE balances IN EXCLUSIVE MODE"]
    else:
        assert list(queries) == []
