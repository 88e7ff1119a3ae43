"""The ticker lock: one process moves the market at a time, for as long as it runs.

`advance_market` locks the MarketState row for one tick, which keeps two ticks from
overlapping but would let two tickers take turns. A process that moves the market tick
after tick (tick_prices, seed_demo) holds this lock for its whole life as well:

- PostgreSQL: a session-level advisory lock, on a connection of its own, so that nothing
  Django does with the default connection can drop it. PostgreSQL frees it when that
  session ends: at once when the process dies, even by SIGKILL (the operating system
  closes its socket), and within DEAD_PEER_SECONDS when its machine vanishes (TCP
  keepalives on the session; the ticking connection gets them too, so that a tick cut off
  half way does not keep the market row locked for the system default of two hours).
  Advisory locks belong to one database, so two TradeSim databases on one server do not
  share the lock. The session must be a real one: not through a pooler in transaction
  mode.
- SQLite: flock() on a file beside the database (`<database file>-ticker.lock`), which the
  kernel frees with the process. An in-memory database belongs to one process, so a lock
  inside the process is all it needs.
"""

import copy
import fcntl
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext, suppress
from pathlib import Path

from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.backends.signals import connection_created
from django.db.utils import load_backend
from django.utils import timezone

from prices.models import MarketState
from prices.services import MarketError

logger = logging.getLogger("tradesim.prices")

KEEPALIVE_IDLE = 10  # seconds of silence before the first probe
KEEPALIVE_INTERVAL = 5
KEEPALIVE_COUNT = 3
DEAD_PEER_SECONDS = KEEPALIVE_IDLE + KEEPALIVE_INTERVAL * KEEPALIVE_COUNT
WAIT_POLL_SECONDS = 0.5
ADVISORY_KEY = (0x5453494D, 1)  # "TSIM" in ASCII, and 1: the ticker
HEARTBEAT_KEY = "tradesim:ticker:seen"

_KEEPALIVES = {
    "tcp_keepalives_idle": KEEPALIVE_IDLE,
    "tcp_keepalives_interval": KEEPALIVE_INTERVAL,
    "tcp_keepalives_count": KEEPALIVE_COUNT,
    "tcp_user_timeout": DEAD_PEER_SECONDS * 1000,  # milliseconds
}


class TickerBusy(MarketError):
    """Another process holds the ticker lock. `holder` names it when that is known, e.g.
    "tick_prices (process 4242 on web1)"."""

    def __init__(self, holder: str | None):
        command, _, where = (holder or "tick_prices").partition(" (")
        super().__init__(f"Another {command} is already running" + (f" ({where}" if where else ""))
        self.holder = holder


class TickerLockLost(MarketError):
    def __init__(self, holder: str | None):
        super().__init__(
            "The ticker lost its lock on the market (its database connection dropped) and "
            f"{holder or 'another process'} has taken it; stopping, so that only one runs."
        )
        self.holder = holder


class TickerLock:
    """The lock as its holder sees it."""

    def __init__(self, lock):
        self._lock = lock
        self.label = lock.label

    def heartbeat(self) -> None:
        """Say that this ticker is alive (see `heartbeat`)."""
        heartbeat(by=self.label)

    def ensure(self) -> None:
        """Check that the lock is still held, before a tick. A lock that was lost (its
        connection dropped, its file deleted) is taken again if it is free; if another
        process has it, TickerLockLost. A database that does not answer raises its own
        error, and the next call tries again."""
        if self._lock.still_held():
            return
        self._lock.release()
        if not self._lock.try_acquire():
            raise TickerLockLost(self._lock.holder())
        logger.warning("The ticker lock was lost and has been taken again")


@contextmanager
def ticker_lock(
    *,
    command: str = "tick_prices",
    wait: bool = False,
    on_wait: Callable[[str | None], None] | None = None,
) -> Iterator[TickerLock]:
    """Hold the ticker lock for the block, so that no other process moves the market.

    If another process holds it: TickerBusy at once; or, with `wait`, another try every
    WAIT_POLL_SECONDS until it is free, calling `on_wait(holder)` once when the waiting
    begins (Ctrl-C ends the wait). `command` names the holder to the others."""
    lock = _lock_for(f"{command} (process {os.getpid()} on {socket.gethostname()})")
    try:
        told = False
        while not lock.try_acquire():
            holder = lock.holder()
            if not wait:
                raise TickerBusy(holder)
            if on_wait is not None and not told:
                on_wait(holder)
                told = True
            time.sleep(WAIT_POLL_SECONDS)
        keepalives = lock.keepalives_on_ticks() if isinstance(lock, _PostgresLock) else None
        with keepalives or nullcontext():
            yield TickerLock(lock)
    finally:
        lock.release()


def heartbeat(*, by: str) -> None:
    """Record that a ticker is running, in the database (MarketState.ticker_seen_at) and in
    the cache (HEARTBEAT_KEY). `manage.py doctor` reads both: an old time means no ticker,
    and a time in the database that this process's cache lacks means the web server and
    the ticker do not share a cache (so pages would show stale quotes)."""
    now = timezone.now()
    MarketState.objects.filter(id=1).update(ticker_seen_at=now)
    cache.set(HEARTBEAT_KEY, {"at": now, "by": by}, timeout=None)


def _lock_for(label: str):
    database = connections[DEFAULT_DB_ALIAS]
    if database.vendor == "postgresql":
        return _PostgresLock(label)
    if database.vendor == "sqlite":
        name = str(database.settings_dict["NAME"])
        if database.creation.is_in_memory_db(name):
            return _ProcessLock(name, label)
        return _FileLock(Path(f"{os.path.abspath(name)}-ticker.lock"), label)
    raise NotImplementedError(f"No ticker lock for {database.vendor}.")


# PostgreSQL -------------------------------------------------------------------------------


def _set_keepalives(database) -> None:
    with database.cursor() as cursor:
        cursor.execute(
            "SELECT " + ", ".join("set_config(%s, %s, false)" for _ in _KEEPALIVES),
            [str(item) for pair in _KEEPALIVES.items() for item in pair],
        )


def _keepalives_on_new_connection(sender, connection, **kwargs):
    if connection.alias == DEFAULT_DB_ALIAS and connection.vendor == "postgresql":
        _set_keepalives(connection)


class _PostgresLock:
    def __init__(self, label: str):
        self.label = label
        self.connection = None

    def _connect(self):
        settings_dict = copy.deepcopy(connections[DEFAULT_DB_ALIAS].settings_dict)
        options = settings_dict.setdefault("OPTIONS", {})
        options.pop("pool", None)  # a session of its own, never one lent by a pool
        options["application_name"] = self.label  # the others' message names the holder
        # The same bounds on this side, so that a check on a lost connection fails
        # instead of hanging for the operating system's retransmissions.
        options.update(
            keepalives=1,
            keepalives_idle=KEEPALIVE_IDLE,
            keepalives_interval=KEEPALIVE_INTERVAL,
            keepalives_count=KEEPALIVE_COUNT,
            tcp_user_timeout=DEAD_PEER_SECONDS * 1000,
        )
        options.setdefault("connect_timeout", DEAD_PEER_SECONDS)
        backend = load_backend(settings_dict["ENGINE"])
        connection = backend.DatabaseWrapper(settings_dict, "ticker_lock")
        try:
            _set_keepalives(connection)
        except DatabaseError:
            connection.close()
            raise
        return connection

    def try_acquire(self) -> bool:
        try:
            if self.connection is None:
                self.connection = self._connect()
            with self.connection.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", ADVISORY_KEY)
                return cursor.fetchone()[0]
        except DatabaseError:
            self.release()
            raise

    def holder(self) -> str | None:
        """The holder's application_name (visible to the same database role)."""
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT a.application_name FROM pg_locks l "
                "JOIN pg_stat_activity a ON a.pid = l.pid "
                "JOIN pg_database d ON d.oid = l.database "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 "
                "AND l.classid = %s::oid AND l.objid = %s::oid "
                "AND d.datname = current_database()",
                ADVISORY_KEY,
            )
            row = cursor.fetchone()
        return row[0] if row and row[0] else None

    def still_held(self) -> bool:
        return self.connection is not None and self.connection.is_usable()

    def release(self) -> None:
        if self.connection is not None:
            with suppress(DatabaseError):
                session = self.connection.connection
                if session is not None and not session.closed:
                    # Freed now: a closed session's lock goes only when its backend
                    # notices, a moment later, and a waiting ticker would miss a turn.
                    with self.connection.cursor() as cursor:
                        cursor.execute("SELECT pg_advisory_unlock_all()")
                self.connection.close()
            self.connection = None

    @contextmanager
    def keepalives_on_ticks(self):
        default = connections[DEFAULT_DB_ALIAS]
        uid = f"tradesim.ticker.keepalives.{id(self)}"
        connection_created.connect(_keepalives_on_new_connection, dispatch_uid=uid)
        try:
            if default.connection is not None:
                try:
                    _set_keepalives(default)
                except DatabaseError:
                    default.close_if_unusable_or_obsolete()  # the next tick reconnects
            yield
        finally:
            connection_created.disconnect(dispatch_uid=uid)


# SQLite -----------------------------------------------------------------------------------


class _FileLock:
    def __init__(self, path: Path, label: str):
        self.path = path
        self.label = label
        self.fd = None

    def try_acquire(self) -> bool:
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise MarketError(
                    f"The ticker cannot open its lock file {self.path} ({exc.strerror}); it "
                    "lives beside the database, in a folder the ticker must be able to write."
                ) from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            if self._is_current(fd):
                break
            os.close(fd)  # deleted or replaced since we opened it: lock the one there now
        os.ftruncate(fd, 0)
        os.write(fd, self.label.encode())
        self.fd = fd
        return True

    def _is_current(self, fd: int) -> bool:
        try:
            there, ours = os.stat(self.path), os.fstat(fd)
        except FileNotFoundError:
            return False
        return (there.st_dev, there.st_ino) == (ours.st_dev, ours.st_ino)

    def holder(self) -> str | None:
        try:
            return self.path.read_text().strip() or None
        except OSError:
            return None

    def still_held(self) -> bool:
        return self.fd is not None and self._is_current(self.fd)

    def release(self) -> None:
        if self.fd is not None:
            os.ftruncate(self.fd, 0)
            os.close(self.fd)  # and the kernel drops the flock
            self.fd = None


_in_process: dict[str, str] = {}  # in-memory database name → holder
_in_process_guard = threading.Lock()


class _ProcessLock:
    def __init__(self, name: str, label: str):
        self.name = name
        self.label = label
        self.held = False

    def try_acquire(self) -> bool:
        with _in_process_guard:
            if self.name in _in_process:
                return False
            _in_process[self.name] = self.label
        self.held = True
        return True

    def holder(self) -> str | None:
        return _in_process.get(self.name)

    def still_held(self) -> bool:
        return self.held

    def release(self) -> None:
        if self.held:
            with _in_process_guard:
                _in_process.pop(self.name, None)
            self.held = False
