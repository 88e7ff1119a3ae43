"""A ticker that follows MARKET_HOURS: each school session is one trading day."""

from datetime import timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from prices import schedule
from prices.management.commands import tick_prices
from prices.models import MarketState
from prices.selectors import MarketDay, market_day, ticker_heartbeat
from prices.ticker import HEARTBEAT_KEY
from tests.clock import closed_now
from tradesim.market_hours import parse

SCHOOL = parse("Mon-Fri 08:00-15:30")  # 450 minutes
PARIS = ZoneInfo("Europe/Paris")


def at(day, hour, minute=0):
    from datetime import datetime

    return datetime(2026, 12, day, hour, minute, tzinfo=PARIS)


def clock(*, elapsed=0.0, closed=False, last=None) -> MarketDay:
    return MarketDay(number=3, closed=closed, elapsed=elapsed, last_tick_at=last)


@pytest.fixture(autouse=True)
def paris_time(settings):
    settings.TIME_ZONE = "Europe/Paris"


class TestPlan:
    def test_a_tick_stands_for_its_share_of_the_session(self):
        plan = schedule.plan(
            SCHOOL, now=at(1, 9), day=clock(elapsed=0.1, last=at(1, 8, 59)), every=60
        )
        assert plan.open and plan.finish_day is None
        assert plan.dt == pytest.approx(60 / (450 * 60))

    def test_a_tick_never_finishes_the_day_before_the_close(self):
        plan = schedule.plan(
            SCHOOL, now=at(1, 15, 29), day=clock(elapsed=0.9999, last=at(1, 15, 28)), every=60
        )
        assert 0 < plan.dt < 0.0001

    def test_after_the_close_the_rest_of_the_day_is_finished(self):
        plan = schedule.plan(
            SCHOOL, now=at(1, 15, 31), day=clock(elapsed=0.97, last=at(1, 15, 29)), every=60
        )
        assert not plan.open
        assert plan.finish_day == pytest.approx(0.03)

    def test_a_finished_day_is_not_finished_again(self):
        plan = schedule.plan(
            SCHOOL, now=at(1, 20), day=clock(elapsed=1.0, closed=True, last=at(1, 15, 31)), every=60
        )
        assert not plan.open and plan.finish_day is None

    def test_a_market_that_never_ticked_has_no_day_to_finish(self):
        plan = schedule.plan(SCHOOL, now=at(1, 20), day=clock(), every=60)
        assert plan.finish_day is None

    def test_a_day_left_open_overnight_is_finished_by_the_first_tick_of_the_next_session(self):
        plan = schedule.plan(
            SCHOOL, now=at(2, 8, 1), day=clock(elapsed=0.6, last=at(1, 14)), every=60
        )
        assert plan.open
        assert plan.finish_day == pytest.approx(0.4)
        assert plan.dt == pytest.approx(1 / 450)  # then a whole new day's tick

    def test_a_single_run_is_taken_to_come_once_a_minute(self):
        plan = schedule.plan(SCHOOL, now=at(1, 9), day=clock(last=at(1, 8, 59)), every=None)
        assert plan.dt == pytest.approx(1 / 450)


def run(*args) -> str:
    out = StringIO()
    call_command("tick_prices", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def always_open():
    return parse("Mon-Sun 00:00-23:59")


@pytest.fixture
def noon(monkeypatch):
    """The clock at noon today (TIME_ZONE), so "Mon-Sun 00:00-23:59" is open whenever the
    test runs, 23:59 included."""
    today = timezone.localtime()
    moment = today.replace(hour=12, minute=0, second=0, microsecond=0)
    monkeypatch.setattr(timezone, "now", lambda: moment)
    return moment


@pytest.mark.django_db
class TestTickPrices:
    def test_a_single_run_while_the_market_is_closed_does_not_tick(self, market):
        before = MarketState.objects.get_or_create(id=1)[0].ticks
        with override_settings(MARKET_HOURS=closed_now()):
            out = run()
        assert MarketState.objects.get(id=1).ticks == before
        assert "The market is closed (open" in out and "it opens" in out
        assert "--ignore-hours" in out

    def test_ignore_hours_ticks_anyway(self, market):
        before = MarketState.objects.get_or_create(id=1)[0].ticks
        with override_settings(MARKET_HOURS=closed_now()):
            run("--ignore-hours")
        assert MarketState.objects.get(id=1).ticks == before + 1

    def test_the_first_look_after_the_close_finishes_the_day(self, market):
        MarketState.objects.update_or_create(
            id=1,
            defaults={
                "ticks": 10,
                "day_elapsed": 0.5,
                "last_tick_at": timezone.now() - timedelta(hours=1),
            },
        )
        with override_settings(MARKET_HOURS=closed_now()):
            out = run()
        assert "Closed the trading day at the close" in out
        assert market_day().closed
        assert MarketState.objects.get(id=1).ticks == 11
        with override_settings(MARKET_HOURS=closed_now()):
            run()
        assert MarketState.objects.get(id=1).ticks == 11  # once

    def test_inside_the_hours_a_tick_is_its_share_of_the_session(self, market, noon):
        MarketState.objects.update_or_create(
            id=1, defaults={"ticks": 1, "day_elapsed": 0.25, "last_tick_at": noon}
        )
        with override_settings(MARKET_HOURS=always_open()):
            run()  # at noon (the `noon` fixture)
        assert MarketState.objects.get(id=1).day_elapsed == pytest.approx(0.25 + 60 / (1439 * 60))

    def test_a_waiting_ticker_keeps_its_heartbeat_and_stops_on_ctrl_c(self, market, monkeypatch):
        cache.delete(HEARTBEAT_KEY)
        naps = []

        def nap(seconds):
            naps.append(seconds)
            if len(naps) == 2:
                raise KeyboardInterrupt

        monkeypatch.setattr(tick_prices.time, "sleep", nap)
        with override_settings(MARKET_HOURS=closed_now()):
            out = run("--every", "60")
        assert "Waiting for the open" in out and out.count("The market is closed") == 1
        assert "Stopped after 0 ticks" in out
        assert naps == [tick_prices.CLOSED_BEAT_SECONDS] * 2
        beat = ticker_heartbeat()
        assert beat.seen_at is not None and beat.cache_seen_at == beat.seen_at
        assert beat.by.startswith("tick_prices (process ")

    def test_each_tick_records_the_heartbeat(self, market):
        cache.delete(HEARTBEAT_KEY)
        MarketState.objects.get_or_create(id=1)
        MarketState.objects.filter(id=1).update(ticker_seen_at=None)
        run()
        assert ticker_heartbeat().seen_at is not None

    def test_a_waiting_ticker_outlasts_a_database_hiccup(self, market, monkeypatch):
        from django.db import OperationalError

        real, calls, naps = tick_prices.market_day, [], []

        def flaky():
            calls.append(1)
            if len(calls) == 1:
                raise OperationalError("server closed the connection unexpectedly")
            return real()

        def nap(seconds):
            naps.append(seconds)
            if len(naps) == 2:
                raise KeyboardInterrupt

        monkeypatch.setattr(tick_prices, "market_day", flaky)
        monkeypatch.setattr(tick_prices.time, "sleep", nap)
        err = StringIO()
        with override_settings(MARKET_HOURS=closed_now()):
            call_command("tick_prices", "--every", "60", stdout=StringIO(), stderr=err)
        assert "Could not read the market clock" in err.getvalue()
        assert len(calls) == 2  # it tried again, found the market closed, and waited
