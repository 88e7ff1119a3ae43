"""The ticker lock: one process moves the market for as long as it runs. Real processes
race for it in test_commands.py; these tests take it twice in one process."""

import os
import re
import socket

import pytest
from django.db import connection

from prices import ticker
from prices.ticker import TickerBusy, TickerLock, TickerLockLost, ticker_lock

pytestmark = pytest.mark.django_db

ME = f"(process {os.getpid()} on {socket.gethostname()})"


def test_a_second_holder_is_refused_and_told_who_holds_it():
    with ticker_lock(command="seed_demo"), pytest.raises(TickerBusy) as busy, ticker_lock():
        pass

    assert busy.value.holder == f"seed_demo {ME}"
    assert busy.value.message == f"Another seed_demo is already running {ME}"


def test_the_lock_is_free_again_when_its_holder_ends_even_by_an_error():
    with pytest.raises(RuntimeError), ticker_lock():
        raise RuntimeError("the ticker crashed")

    with ticker_lock() as held:
        held.ensure()


def test_waiting_says_so_once_and_starts_when_the_holder_ends(monkeypatch):
    other = ticker_lock(command="tick_prices")
    other.__enter__()
    told, slept = [], []

    def sleep(delay):
        slept.append(delay)
        if len(slept) == 3:
            other.__exit__(None, None, None)

    monkeypatch.setattr(ticker.time, "sleep", sleep)

    with ticker_lock(wait=True, on_wait=told.append):
        pass

    assert told == [f"tick_prices {ME}"]
    assert slept == [ticker.WAIT_POLL_SECONDS] * 3


def test_ctrl_c_ends_the_wait_and_leaves_the_holder_alone(monkeypatch):
    def sleep(delay):
        raise KeyboardInterrupt

    monkeypatch.setattr(ticker.time, "sleep", sleep)

    with ticker_lock(command="tick_prices") as held:
        with pytest.raises(KeyboardInterrupt), ticker_lock(wait=True):
            pass
        held.ensure()
        with pytest.raises(TickerBusy):
            ticker_lock().__enter__()


# SQLite: a file beside the database -------------------------------------------------------


@pytest.fixture
def lock_file(tmp_path):
    return tmp_path / "db.sqlite3-ticker.lock"


def test_a_file_lock_is_taken_once_and_names_its_holder(lock_file):
    first = ticker._FileLock(lock_file, "tick_prices (process 1 on a)")
    second = ticker._FileLock(lock_file, "tick_prices (process 2 on b)")

    assert first.try_acquire()
    assert not second.try_acquire()
    assert second.holder() == "tick_prices (process 1 on a)"

    first.release()
    assert second.try_acquire()
    assert first.holder() == "tick_prices (process 2 on b)"
    second.release()


def test_a_deleted_lock_file_is_taken_again_before_the_next_tick(lock_file):
    held = ticker._FileLock(lock_file, "tick_prices (process 1 on a)")
    assert held.try_acquire()
    lock = TickerLock(held)

    lock_file.unlink()  # someone tidies the folder: a new ticker could lock a new file
    lock.ensure()

    assert held.still_held()
    assert not ticker._FileLock(lock_file, "tick_prices (process 2 on b)").try_acquire()
    held.release()


def test_a_ticker_whose_lock_file_another_took_stops(lock_file):
    held = ticker._FileLock(lock_file, "tick_prices (process 1 on a)")
    assert held.try_acquire()
    lock_file.unlink()
    newcomer = ticker._FileLock(lock_file, "tick_prices (process 2 on b)")
    assert newcomer.try_acquire()

    with pytest.raises(TickerLockLost, match=r"tick_prices \(process 2 on b\) has taken it"):
        TickerLock(held).ensure()
    newcomer.release()


# PostgreSQL: an advisory lock on a session of its own ---------------------------------------


def _setting(database, name: str) -> str:
    with database.cursor() as cursor:
        cursor.execute("SELECT current_setting(%s)", [name])
        return cursor.fetchone()[0]


KEEPALIVES = {
    "tcp_keepalives_idle": "10",
    "tcp_keepalives_interval": "5",
    "tcp_keepalives_count": "3",
    "tcp_user_timeout": "25000",  # milliseconds
}


@pytest.fixture
def over_tcp():
    if not connection.settings_dict["HOST"] or connection.settings_dict["HOST"].startswith("/"):
        pytest.skip("TCP keepalives apply to TCP connections, not to a Unix socket")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_sessions_are_set_to_give_up_a_silent_peer_after_25_seconds(over_tcp):
    # 10 s of silence, then 3 probes 5 s apart: the command's help and docs/deploy.md
    # promise 25 s.
    assert ticker.DEAD_PEER_SECONDS == 25

    with ticker_lock() as held:
        lock_session = held._lock.connection
        assert {name: _setting(lock_session, name) for name in KEEPALIVES} == KEEPALIVES
        # The ticks' own connection too, also once it reconnects: a tick cut off half way
        # must not keep the market row locked for longer.
        assert {name: _setting(connection, name) for name in KEEPALIVES} == KEEPALIVES
        connection.close()
        assert {name: _setting(connection, name) for name in KEEPALIVES} == KEEPALIVES


def _end_session(held: TickerLock) -> None:
    pid = held._lock.connection.connection.info.backend_pid
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s, 10000)", [pid])
        assert cursor.fetchone()[0]


@pytest.mark.postgres
def test_a_lost_lock_session_is_replaced_before_the_next_tick():
    with ticker_lock() as held:
        _end_session(held)  # e.g. the database restarted, or an administrator ended it

        held.ensure()

        with pytest.raises(TickerBusy):
            ticker_lock().__enter__()


@pytest.mark.postgres
def test_a_ticker_whose_lock_another_took_in_the_meantime_stops():
    with ticker_lock() as held:
        _end_session(held)
        taken = re.escape(f"seed_demo {ME} has taken it")
        with ticker_lock(command="seed_demo"), pytest.raises(TickerLockLost, match=taken):
            held.ensure()
