import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path
from urllib.parse import quote

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from prices import services, ticker
from prices.management.commands import tick_prices
from prices.market_data import MARKET
from prices.models import MarketState, Price, PriceHistory
from prices.simulation import new_rng
from prices.ticker import ticker_lock
from tests.processes import Process

pytestmark = pytest.mark.django_db


def tick(*args) -> list[str]:
    out = StringIO()
    call_command("tick_prices", *args, stdout=out, stderr=StringIO())
    return out.getvalue().splitlines()


def ticks() -> int:
    # get_or_create: a transactional test elsewhere may have flushed the migration's row.
    return MarketState.objects.get_or_create(id=1)[0].ticks


# tick_prices ------------------------------------------------------------------------------


def test_no_options_advance_the_market_by_one_tick_and_exit(market):
    lines = tick()

    assert len(lines) == 1
    assert lines[0].startswith("Tick 1 (day 1, 09:31) | ")
    assert " up, " in lines[0] and " down, " in lines[0] and "TSIM " in lines[0]
    assert ticks() == 1
    assert PriceHistory.objects.count() == 4


def test_ticks_runs_that_many_ticks_back_to_back(market, monkeypatch):
    slept = []
    monkeypatch.setattr(tick_prices.time, "sleep", slept.append)

    lines = tick("--ticks", "3")

    assert [line.split(" (")[0] for line in lines] == ["Tick 1", "Tick 2", "Tick 3"]
    assert ticks() == 3
    assert PriceHistory.objects.filter(stock_id="AAPL").count() == 3
    assert slept == []


class FakeClock:
    """time.monotonic and time.sleep for the command: sleeping moves the clock; a tick
    takes `tick_seconds` of it."""

    def __init__(self):
        self.now = 1000.0
        self.slept = []
        self.tick_seconds = [0.0]  # one per tick; the last one repeats

    def monotonic(self):
        return self.now

    def sleep(self, delay):
        self.slept.append(delay)
        self.now += delay


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(tick_prices.time, "monotonic", fake.monotonic)
    monkeypatch.setattr(tick_prices.time, "sleep", fake.sleep)
    real = tick_prices.advance_market

    def timed(**kwargs):
        seconds = fake.tick_seconds
        fake.now += seconds.pop(0) if len(seconds) > 1 else seconds[0]
        return real(**kwargs)

    monkeypatch.setattr(tick_prices, "advance_market", timed)
    return fake


def test_every_paces_the_ticks_until_the_count(market, clock):
    clock.tick_seconds = [1.5]

    lines = tick("--ticks", "3", "--every", "5")

    assert len(lines) == 3 and ticks() == 3
    # One tick every 5 s from the start: each wait is 5 s minus the tick's own 1.5 s.
    assert clock.slept == [pytest.approx(3.5), pytest.approx(3.5)]


def test_a_ticker_running_late_does_not_burst_to_catch_up(market, clock):
    clock.tick_seconds = [20.0, 1.0]  # the first tick is slow (say, the database was busy)

    tick("--ticks", "4", "--every", "5")

    # The second tick starts at once; then the 5-second pace resumes from there, instead
    # of firing the three ticks the slow one "missed" back to back.
    assert clock.slept == [pytest.approx(4.0), pytest.approx(4.0)]
    assert ticks() == 4


@pytest.fixture
def terminal():
    """Ctrl-C as in a terminal, even when the tests run as a background job, which
    starts with SIGINT ignored."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_every_without_a_count_runs_until_ctrl_c_and_exits_cleanly(market, monkeypatch):
    before = signal.getsignal(signal.SIGINT)
    calls = []

    def sleep(delay):
        calls.append(delay)
        if len(calls) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(tick_prices.time, "sleep", sleep)

    lines = tick("--every", "2")

    assert lines[-1] == "Stopped after 3 ticks."
    assert ticks() == 3
    assert signal.getsignal(signal.SIGINT) is before  # put back


def test_ctrl_c_during_a_tick_lets_it_finish_and_commit(market, monkeypatch, terminal):
    real = tick_prices.advance_market

    def interrupted(**kwargs):
        os.kill(os.getpid(), signal.SIGINT)  # the operator presses Ctrl-C mid-tick
        return real(**kwargs)

    monkeypatch.setattr(tick_prices, "advance_market", interrupted)
    monkeypatch.setattr(tick_prices.time, "sleep", lambda delay: None)

    lines = tick("--every", "1")

    assert lines[-1] == "Stopped after 1 tick."
    assert ticks() == 1
    assert PriceHistory.objects.count() == 4


def test_a_ticker_started_with_ctrl_c_ignored_keeps_ignoring_it_and_stops_on_sigterm(
    market, monkeypatch
):
    # As a background job of a script, which leaves Ctrl-C to the job in the foreground.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    sent = []

    def sleep(delay):
        sent.append(signal.SIGINT if not sent else signal.SIGTERM)
        os.kill(os.getpid(), sent[-1])

    monkeypatch.setattr(tick_prices.time, "sleep", sleep)
    try:
        lines = tick("--every", "2")
        after = signal.getsignal(signal.SIGINT)
    finally:
        signal.signal(signal.SIGINT, previous)

    assert sent == [signal.SIGINT, signal.SIGTERM]
    assert lines[-1] == "Stopped after 2 ticks."
    assert ticks() == 2
    assert after is signal.SIG_IGN


@pytest.mark.parametrize(
    ("dt", "elapsed"),
    [("1/390", 1 / 390), ("0.5", 0.5), ("15m", 15 / 390), ("1h", 60 / 390), ("1d", 1.0)],
)
def test_dt_takes_a_share_of_a_day_or_a_duration(market, dt, elapsed):
    tick("--dt", dt)

    assert MarketState.objects.get(id=1).day_elapsed == pytest.approx(elapsed)


@pytest.mark.parametrize("dt", ["0", "-1", "2", "abc", "1/0", "nan", "inf", "-inf", "2d"])
def test_a_bad_dt_is_refused_before_anything_moves(market, dt):
    with pytest.raises(CommandError, match="--dt"):
        tick("--dt", dt)
    assert ticks() == 0


@pytest.mark.parametrize("args", [["--ticks", "0"], ["--every", "0"], ["--every", "-3"]])
def test_bad_counts_and_intervals_are_refused(market, args):
    with pytest.raises(CommandError):
        tick(*args)
    assert ticks() == 0


@pytest.mark.parametrize("every", ["nan", "inf", "-inf", "1e400", "86401"])
def test_an_interval_that_is_not_a_number_of_seconds_up_to_a_day_is_refused(
    market, monkeypatch, every
):
    monkeypatch.setattr(tick_prices.time, "sleep", lambda delay: None)

    with pytest.raises(CommandError, match="--every"):
        tick("--ticks", "2", "--every", every)
    assert ticks() == 0


def test_seed_makes_the_tick_reproducible(market):
    start = list(Price.objects.values_list("symbol", "price", "log_price"))
    tick("--seed", "11")
    by_command = dict(Price.objects.values_list("symbol", "price"))

    for symbol, price, log_price in start:
        Price.objects.filter(symbol=symbol).update(price=price, log_price=log_price)
    services.advance_market(rng=new_rng(11))

    assert dict(Price.objects.values_list("symbol", "price")) == by_command


def test_symbols_limits_the_tick_and_accepts_commas_and_any_case(market):
    before = dict(Price.objects.values_list("symbol", "price"))

    # Seeded: an unseeded move can round to the same cent.
    tick("--symbols", "aapl,msft", "--seed", "1")

    after = dict(Price.objects.values_list("symbol", "price"))
    assert after["XOM"] == before["XOM"] and after["AAPL"] != before["AAPL"]
    assert set(PriceHistory.objects.values_list("stock_id", flat=True)) == {"AAPL", "MSFT"}


def test_an_unknown_symbol_is_a_clear_error(market):
    with pytest.raises(CommandError, match="No such symbol: ZZZ"):
        tick("--symbols", "AAPL", "ZZZ")
    assert ticks() == 0


def test_an_empty_market_says_to_load_it(db):
    with pytest.raises(CommandError, match="load_market"):
        tick()


def test_a_second_ticker_is_refused_while_another_holds_the_market(market):
    with ticker_lock(command="tick_prices"), pytest.raises(CommandError) as refused:
        tick("--every", "1")

    assert "Another tick_prices is already running (process " in str(refused.value)
    assert "stop it first, or pass --wait to start when it ends" in str(refused.value)
    assert ticks() == 0


def test_wait_starts_the_ticker_when_the_other_one_ends(market, monkeypatch):
    other = ticker_lock(command="tick_prices")
    other.__enter__()
    waited = []

    def sleep(delay):
        waited.append(delay)
        other.__exit__(None, None, None)  # the other ticker ends

    monkeypatch.setattr(ticker.time, "sleep", sleep)
    err = StringIO()

    call_command("tick_prices", "--wait", stdout=StringIO(), stderr=err)

    assert len(waited) == 1
    assert err.getvalue().startswith("Waiting for tick_prices (process ")
    assert ticks() == 1


def test_a_ticker_that_lost_its_lock_to_another_stops_before_its_next_tick(market, monkeypatch):
    real = ticker.TickerLock.ensure
    checks = []

    def ensure(self):
        checks.append(1)
        if len(checks) == 2:  # its lock session dropped, and another ticker started
            raise ticker.TickerLockLost("tick_prices (process 7 on elsewhere)")
        return real(self)

    monkeypatch.setattr(ticker.TickerLock, "ensure", ensure)
    monkeypatch.setattr(tick_prices.time, "sleep", lambda delay: None)

    with pytest.raises(CommandError, match=r"tick_prices \(process 7 on elsewhere\) has taken"):
        tick("--every", "1")
    assert ticks() == 1


def test_a_tick_that_finds_the_market_row_busy_fails_and_the_ticker_carries_on(market, monkeypatch):
    real = tick_prices.advance_market
    calls = []

    def busy_once(**kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            raise services.MarketBusy("The market lock is held.")
        return real(**kwargs)

    monkeypatch.setattr(tick_prices, "advance_market", busy_once)
    err = StringIO()

    call_command("tick_prices", "--ticks", "2", stdout=StringIO(), stderr=err)

    assert ticks() == 1
    assert "1 of 2 ticks failed" in err.getvalue()
    # The ticker lock keeps other tickers out; what holds the row is a halt, for a moment.
    assert [call["wait"] for call in calls] == [True, True]


def test_a_local_memory_cache_is_pointed_out_when_ticking_on(market, monkeypatch):
    monkeypatch.setattr(tick_prices.time, "sleep", lambda delay: None)
    err = StringIO()

    call_command("tick_prices", "--ticks", "2", "--every", "1", stdout=StringIO(), stderr=err)

    assert "local-memory cache" in err.getvalue()


# One ticker at a time, between real processes ---------------------------------------------

BASE_DIR = Path(__file__).resolve().parents[2]
HANG_GUARD = 60  # seconds: only so that a broken ticker fails the test instead of hanging it


@dataclass
class SharedMarket:
    """A market in a database that the test and the processes it starts all see."""

    env: dict
    sqlite_path: Path | None
    started: list = field(default_factory=list)

    def start(self, *args) -> Process:
        process = Process([sys.executable, "manage.py", *args], self.env, hang_guard=HANG_GUARD)
        self.started.append(process)
        return process

    def run(self, *args) -> tuple[int, list[str], list[str]]:
        return self.start(*args).finish()

    def ticks(self) -> int:
        if self.sqlite_path is None:
            return MarketState.objects.get(id=1).ticks
        with sqlite3.connect(self.sqlite_path) as db:
            return db.execute("SELECT ticks FROM market_state WHERE id = 1").fetchone()[0]

    def wait_until_no_lock_is_held(self):
        """PostgreSQL notices a dead client's closed connection a moment after the process
        is gone (a file lock is gone when the process is)."""
        if self.sqlite_path is not None:
            return
        deadline = time.monotonic() + HANG_GUARD
        while time.monotonic() < deadline:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_locks JOIN pg_database d ON d.oid = database "
                    "WHERE locktype = 'advisory' AND d.datname = current_database()"
                )
                if not cursor.fetchone()[0]:
                    return
            time.sleep(0.05)
        raise AssertionError("the killed ticker's lock was never released")


def _env(database_url: str, tmp: Path) -> dict:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CACHE_URL": f"filecache://{tmp / 'cache'}",
        "DEBUG": "True",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory) -> Path:
    """A SQLite file with the schema and the sample market, made once."""
    folder = tmp_path_factory.mktemp("market")
    path = folder / "db.sqlite3"
    for args in (["migrate", "-v", "0"], ["load_market"]):
        subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=BASE_DIR,
            env=_env(f"sqlite:///{path}", folder),
            check=True,
            capture_output=True,
            timeout=HANG_GUARD * 2,
        )
    return path


@pytest.fixture
def shared(request, tmp_path):
    """On PostgreSQL the test database (the test commits its rows); on SQLite, where the
    test database lives in pytest's memory, a copy of a migrated file."""
    if connection.vendor == "postgresql":
        request.getfixturevalue("market")
        MarketState.objects.get_or_create(id=1)
        db = connection.settings_dict
        login = quote(db["USER"]) + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
        url = f"postgres://{login}@{db['HOST']}:{db['PORT'] or 5432}/{quote(db['NAME'])}"
        market = SharedMarket(env=_env(url, tmp_path), sqlite_path=None)
    else:
        path = tmp_path / "db.sqlite3"
        shutil.copy(request.getfixturevalue("migrated_sqlite"), path)
        market = SharedMarket(env=_env(f"sqlite:///{path}", tmp_path), sqlite_path=path)
    yield market
    for process in market.started:
        if process.popen.poll() is None:
            process.popen.kill()
            process.popen.wait()


@pytest.mark.django_db(transaction=True)
def test_a_second_ticker_is_refused_at_once_for_as_long_as_the_first_runs(shared):
    first = shared.start("tick_prices", "--every", "60", "--ticks", "2")
    assert first.next_line().startswith("Tick 1 ")  # and now it waits for its next tick

    code, out, err = shared.run("tick_prices")

    assert code != 0 and out == []
    message = " ".join(err)
    assert "Another tick_prices is already running" in message
    assert "stop it first, or pass --wait to start when it ends" in message
    assert shared.ticks() == 1

    first.popen.send_signal(signal.SIGTERM)
    assert first.finish() == (0, ["Stopped after 1 tick."], [])


@pytest.mark.django_db(transaction=True)
def test_a_waiting_ticker_starts_when_the_first_one_ends(shared):
    first = shared.start("tick_prices", "--every", "60", "--ticks", "2")
    assert first.next_line().startswith("Tick 1 ")
    second = shared.start("tick_prices", "--wait")

    assert second.next_line("err").startswith("Waiting for")
    assert shared.ticks() == 1

    first.popen.send_signal(signal.SIGTERM)
    assert first.finish()[0] == 0
    code, out, _ = second.finish()
    assert code == 0
    assert [line.split(" (")[0] for line in out] == ["Tick 2"]
    assert shared.ticks() == 2


@pytest.mark.django_db(transaction=True)
def test_a_killed_ticker_does_not_keep_the_next_one_out(shared):
    first = shared.start("tick_prices", "--every", "60", "--ticks", "2")
    assert first.next_line().startswith("Tick 1 ")

    first.popen.kill()  # SIGKILL: nothing of it runs again, no clean-up
    first.popen.wait()
    shared.wait_until_no_lock_is_held()
    code, out, err = shared.run("tick_prices")

    assert code == 0, err
    assert [line.split(" (")[0] for line in out] == ["Tick 2"]


# load_market ------------------------------------------------------------------------------


def test_load_market_lists_the_sample_market_once(db):
    out = StringIO()
    call_command("load_market", stdout=out)
    assert f"Listed {len(MARKET)} new symbols; 0 were already listed." in out.getvalue()

    again = StringIO()
    call_command("load_market", stdout=again)

    assert "already listed" in again.getvalue()
    assert Price.objects.count() == len(MARKET)
    assert PriceHistory.objects.count() == len(MARKET)


def test_load_market_adds_only_what_is_missing(db):
    call_command("load_market", stdout=StringIO())
    Price.objects.filter(symbol="TSIM").delete()
    out = StringIO()

    call_command("load_market", stdout=out)

    assert f"Listed 1 new symbol; {len(MARKET) - 1} were already listed." in out.getvalue()
