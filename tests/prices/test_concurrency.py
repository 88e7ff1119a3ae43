"""Two tickers never advance the market at once: real threads on PostgreSQL."""

import threading
import time

import pytest
from django.db import connection

from prices import services
from prices.models import MarketState, PriceHistory
from prices.services import MarketBusy, advance_market

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def in_thread(target, results, key):
    def run():
        try:
            results[key] = target()
        except Exception as exc:  # reported to the test, which asserts on it
            results[key] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def wait_for_a_blocked_backend(timeout=30.0) -> bool:
    """True once some connection waits on a lock (the second ticker on the market row)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
            if cursor.fetchone()[0]:
                return True
        time.sleep(0.05)
    return False


@pytest.fixture
def clock(db):
    MarketState.objects.get_or_create(id=1)  # a transactional test elsewhere flushed it


def test_concurrent_waiting_tickers_run_one_after_another(market, clock, monkeypatch):
    real_step = services.step
    lock = threading.Lock()
    active, overlaps = [0], []

    def watched_step(*args, **kwargs):
        with lock:
            active[0] += 1
            overlaps.append(active[0])
        try:
            gate.wait(0.05)  # widen the window in which a second tick could slip in
            return real_step(*args, **kwargs)
        finally:
            with lock:
                active[0] -= 1

    gate = threading.Event()
    monkeypatch.setattr(services, "step", watched_step)
    start = threading.Barrier(4)
    results = {}

    def tick(seed):
        start.wait()
        return advance_market(seed=seed, wait=True)

    threads = [in_thread(lambda s=seed: tick(s), results, seed) for seed in range(4)]
    for thread in threads:
        thread.join(30)

    assert not [r for r in results.values() if isinstance(r, Exception)]
    assert max(overlaps) == 1  # never two ticks inside the engine at once
    assert sorted(r.ticks for r in results.values()) == [1, 2, 3, 4]
    assert MarketState.objects.get(id=1).ticks == 4
    assert PriceHistory.objects.filter(stock_id="AAPL").count() == 4


def test_a_second_ticker_is_refused_or_waits_while_a_tick_runs(market, clock, monkeypatch):
    real_step = services.step
    inside, release = threading.Event(), threading.Event()
    first_call = threading.Lock()

    def held_step(*args, **kwargs):
        if first_call.acquire(blocking=False):  # only the first tick parks inside its lock
            inside.set()
            release.wait(30)
        return real_step(*args, **kwargs)

    monkeypatch.setattr(services, "step", held_step)
    results = {}
    first = in_thread(lambda: advance_market(seed=1), results, "first")
    assert inside.wait(30)

    # A ticker that does not wait is refused at once, with a message an operator understands.
    refused = in_thread(lambda: advance_market(seed=2), results, "refused")
    refused.join(30)
    assert isinstance(results["refused"], MarketBusy)
    assert "Another tick_prices is advancing the market" in results["refused"].message

    # A ticker that waits starts only after the first one commits.
    waiting = in_thread(lambda: advance_market(seed=3, wait=True), results, "waiting")
    assert wait_for_a_blocked_backend()
    release.set()
    first.join(30)
    waiting.join(30)

    assert results["first"].ticks == 1
    assert results["waiting"].ticks == 2
    assert MarketState.objects.get(id=1).ticks == 2
    assert PriceHistory.objects.filter(stock_id="AAPL").count() == 2


# Cancelling an event while a tick runs ------------------------------------------------------


def test_a_cancel_during_a_tick_waits_and_is_refused_once_the_tick_applied_it(
    market, clock, monkeypatch
):
    from decimal import Decimal

    from prices.models import MarketEvent, Price

    event = services.schedule_event(symbol="AAPL", percent=Decimal("-50"))
    inside, release = threading.Event(), threading.Event()
    real_step = services.step

    def slow_step(*args, **kwargs):
        inside.set()  # the tick holds the market lock and has read the pending events
        release.wait(30)
        return real_step(*args, **kwargs)

    monkeypatch.setattr(services, "step", slow_step)
    results = {}
    ticker = in_thread(lambda: advance_market(seed=1), results, "tick")
    assert inside.wait(30)
    canceller = in_thread(lambda: services.cancel_event(event_id=event.pk), results, "cancel")
    assert wait_for_a_blocked_backend()  # the cancel waits for the market lock
    release.set()
    ticker.join(30)
    canceller.join(30)

    assert results["tick"].events_applied == 1
    assert isinstance(results["cancel"], services.MarketError)
    assert "cannot be cancelled" in results["cancel"].message
    event.refresh_from_db()
    assert event.applied_at is not None and event.cancelled_at is None
    assert Price.objects.get(symbol="AAPL").price < Decimal("200")  # it did move: −50 %
    assert MarketEvent.objects.filter(cancelled_at__isnull=False).count() == 0


def test_racing_cancels_and_ticks_leave_each_event_applied_or_cancelled(market, clock):
    from decimal import Decimal

    from prices.models import MarketEvent
    from tests.concurrency import run_concurrently

    for round_ in range(6):
        event = services.schedule_event(symbol="MSFT", percent=Decimal("-30"))
        before = MarketState.objects.get(id=1).ticks
        tick, cancel = run_concurrently(
            [
                lambda r=round_: advance_market(seed=r, wait=True),
                lambda e=event: services.cancel_event(event_id=e.pk),
            ]
        )
        event.refresh_from_db()
        assert MarketState.objects.get(id=1).ticks == before + 1
        if isinstance(cancel, services.MarketError):
            assert (event.applied_at is not None, tick.events_applied) == (True, 1)
        else:
            assert not isinstance(cancel, Exception), cancel
            assert (event.cancelled_at is not None, event.applied_at, tick.events_applied) == (
                True,
                None,
                0,
            )
    assert not MarketEvent.objects.filter(
        applied_at__isnull=False, cancelled_at__isnull=False
    ).exists()
