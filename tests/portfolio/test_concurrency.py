"""Snapshot runs take turns, on PostgreSQL with real threads and the real advisory lock."""

import threading
import time

import pytest
from django.db import connection, transaction
from django.utils import timezone

from ledger import services as ledger
from portfolio.models import PortfolioSnapshot, PortfolioSummary
from portfolio.services import SNAPSHOT_LOCK_KEY, take_snapshots
from tests.factories import StudentFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _waiting_for_the_snapshot_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = %s "
            "AND NOT granted",
            [SNAPSHOT_LOCK_KEY],
        )
        return cursor.fetchone()[0]


def test_a_second_run_waits_for_the_first_and_then_writes_nothing_twice():
    """Run A has written its snapshots but not committed; run B, for the same moment (a
    repeated tick hook), must wait for A's lock, then see A's work and add nothing."""
    students = [StudentFactory() for _ in range(5)]
    ledger.deposit(user=students[0], amount="500.00")
    moment = timezone.now()
    a_written = threading.Event()
    release_a = threading.Event()
    results = {}

    def run_a():
        try:
            with transaction.atomic():
                results["a"] = take_snapshots(timestamp=moment)
                a_written.set()
                release_a.wait(timeout=30)
        finally:
            connection.close()

    def run_b():
        try:
            results["b"] = take_snapshots(timestamp=moment)
        finally:
            connection.close()

    a = threading.Thread(target=run_a)
    a.start()
    assert a_written.wait(timeout=30)
    b = threading.Thread(target=run_b)
    b.start()
    for _ in range(300):  # until B is queued behind A's lock (at most ~30 s)
        if _waiting_for_the_snapshot_lock():
            break
        time.sleep(0.1)
    else:
        release_a.set()
        pytest.fail("run B never waited for the snapshot lock")
    assert "b" not in results
    release_a.set()
    a.join(timeout=30)
    b.join(timeout=30)

    assert results == {"a": 5, "b": 0}
    assert PortfolioSnapshot.objects.count() == 5
    summary = PortfolioSummary.objects.get(user=students[0])
    assert summary.units == summary.contributions_at_snapshot == 10500
