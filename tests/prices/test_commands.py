import os
import signal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from prices import services
from prices.management.commands import tick_prices
from prices.market_data import MARKET
from prices.models import MarketState, Price, PriceHistory
from prices.simulation import new_rng

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

    tick("--symbols", "aapl,msft")

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


def test_a_second_ticker_exits_with_a_clear_message(market, monkeypatch):
    def busy(**kwargs):
        raise services.MarketBusy("Another tick_prices is advancing the market right now.")

    monkeypatch.setattr(tick_prices, "advance_market", busy)

    with pytest.raises(CommandError, match="Another tick_prices"):
        tick("--every", "1")


def test_wait_asks_the_service_to_wait_for_the_lock(market, monkeypatch):
    seen = {}
    real = tick_prices.advance_market

    def spy(**kwargs):
        seen.update(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(tick_prices, "advance_market", spy)

    tick("--wait")

    assert seen["wait"] is True


def test_a_local_memory_cache_is_pointed_out_when_ticking_on(market, monkeypatch):
    monkeypatch.setattr(tick_prices.time, "sleep", lambda delay: None)
    err = StringIO()

    call_command("tick_prices", "--ticks", "2", "--every", "1", stdout=StringIO(), stderr=err)

    assert "local-memory cache" in err.getvalue()


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
