"""Old price history is thinned to each day's last price; recent history stays tick by tick,
and so does the index fund's whole history."""

import logging
from datetime import datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from prices import services
from prices.models import HistoryThinning, MarketState, PriceHistory
from prices.selectors import price_history
from prices.services import THIN_HISTORY_EVERY_TICKS, advance_market, thin_history
from tests.prices import hooks

pytestmark = pytest.mark.django_db

UTC = ZoneInfo("UTC")


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def record(symbol: str, *moments: datetime) -> None:
    PriceHistory.objects.bulk_create(
        PriceHistory(stock_id=symbol, price=Decimal(100 + i), timestamp=moment)
        for i, moment in enumerate(moments)
    )


def history(symbol: str) -> list[datetime]:
    return list(
        PriceHistory.objects.filter(stock_id=symbol)
        .order_by("timestamp")
        .values_list("timestamp", flat=True)
    )


def thinned_to():
    return HistoryThinning.objects.get(id=1).thinned_to


# What goes and what stays -----------------------------------------------------------------


def test_days_before_the_cutoff_keep_only_their_last_row_and_newer_rows_all_stay(market):
    old_day_1 = [at(1, 14), at(1, 15), at(1, 20, 59)]
    old_day_2 = [at(2, 14), at(2, 19)]
    recent = [at(9, 14), at(9, 14, 1), at(9, 14, 2)]
    record("AAPL", *old_day_1, *old_day_2, *recent)
    record("XOM", at(1, 14), at(1, 16))

    deleted = thin_history(now=at(10, 12), days=7)  # cutoff: 3 March, 12:00

    assert deleted == 2 + 1 + 1
    assert history("AAPL") == [at(1, 20, 59), at(2, 19), *recent]
    assert history("XOM") == [at(1, 16)]
    # The day's last row keeps its own price.
    assert PriceHistory.objects.get(stock_id="AAPL", timestamp=at(1, 20, 59)).price == 102
    assert thinned_to() == at(3, 12)


def test_a_day_running_at_the_cutoff_keeps_its_rows_after_the_cutoff(market):
    record("AAPL", at(3, 9), at(3, 11), at(3, 13), at(3, 15))

    thin_history(now=at(10, 12), days=7)  # cutoff: 3 March, 12:00

    # 09:00 and 11:00 are before the cutoff, and a later row of the same day exists.
    assert history("AAPL") == [at(3, 13), at(3, 15)]

    thin_history(now=at(11, 12), days=7)  # a day later the whole day is past the cutoff

    assert history("AAPL") == [at(3, 15)]


def test_days_are_the_markets_days_in_its_time_zone(market, settings):
    settings.TIME_ZONE = "America/New_York"  # UTC-5 in early March
    # 03:30 UTC on 2 March is 22:30 on 1 March in New York: the same day as 20:00 UTC.
    record("AAPL", at(1, 20), at(2, 3, 30), at(2, 15))

    with timezone.override("UTC"):  # a request's zone (here UTC) does not move the days
        thin_history(now=at(10, 12), days=7)

    assert history("AAPL") == [at(2, 3, 30), at(2, 15)]


def test_the_index_funds_history_is_never_thinned(market):
    # The performance chart compares every snapshot with the index at that moment.
    record("TSIM", at(1, 14), at(1, 15), at(1, 16))
    record("AAPL", at(1, 14), at(1, 15), at(1, 16))

    thin_history(now=at(10, 12), days=7)

    assert history("TSIM") == [at(1, 14), at(1, 15), at(1, 16)]
    assert history("AAPL") == [at(1, 16)]


def test_zero_days_keeps_everything_and_a_second_pass_finds_nothing_more(market):
    record("AAPL", at(1, 14), at(1, 15), at(2, 14))

    assert thin_history(now=at(10, 12), days=0) == 0
    assert len(history("AAPL")) == 3
    assert thin_history(now=at(10, 12), days=7) == 1
    assert thin_history(now=at(10, 12), days=7) == 0
    assert history("AAPL") == [at(1, 15), at(2, 14)]


def test_a_pass_starts_where_the_last_one_stopped_unless_asked_for_everything(market):
    record("AAPL", at(5, 14), at(5, 15))
    thin_history(now=at(10, 12), days=7)  # thinned to 3 March, 12:00
    record("XOM", at(1, 14), at(1, 15))  # older than that, written afterwards

    assert thin_history(now=at(11, 12), days=7) == 0  # reads only 3–4 March
    assert len(history("XOM")) == 2

    assert thin_history(now=at(11, 12), days=7, everything=True) == 1
    assert history("XOM") == [at(1, 15)]


def test_the_mark_never_moves_back_when_more_days_are_kept(market):
    record("AAPL", at(1, 14), at(1, 15), at(4, 14), at(4, 15))
    thin_history(now=at(10, 12), days=7)  # thinned to 3 March, 12:00
    assert thinned_to() == at(3, 12)

    # PRICE_HISTORY_DAYS raised to 10: nothing to do until the cutoff passes the mark.
    assert thin_history(now=at(11, 12), days=10) == 0
    # A whole pass keeping 5 days thins 4 March, and moves the mark on.
    assert thin_history(now=at(11, 12), days=5, everything=True) == 1
    assert thinned_to() == at(6, 12)
    # A whole pass keeping 10 days leaves the mark where it was.
    thin_history(now=at(11, 12), days=10, everything=True)
    assert thinned_to() == at(6, 12)
    assert history("AAPL") == [at(1, 15), at(4, 15)]


def test_charts_read_the_last_price_of_thinned_days(market):
    record("AAPL", at(1, 14), at(1, 20), at(2, 14), at(2, 20), at(9, 14), at(9, 15))

    thin_history(now=at(10, 12), days=7)

    assert [moment for moment, _ in price_history("AAPL")] == [
        at(1, 20),
        at(2, 20),
        at(9, 14),
        at(9, 15),
    ]


# How it runs ------------------------------------------------------------------------------


def test_one_delete_on_postgresql_and_one_per_symbol_on_sqlite(
    market, is_postgres, django_assert_num_queries
):
    for hour in range(24):
        record("AAPL", *(at(1, hour, minute) for minute in range(0, 60, 5)))
        record("MSFT", *(at(1, hour, minute) for minute in range(0, 60, 5)))
    stocks = len([s for s in market.values() if not s.is_index])
    HistoryThinning.objects.create(id=1, thinned_to=at(1, 0))

    # Where the last pass stopped, the symbols, the delete(s), where this one stopped.
    with django_assert_num_queries(3 + (1 if is_postgres else stocks)):
        deleted = thin_history(now=at(10, 12), days=7)

    assert deleted == 2 * (24 * 12 - 1)


def test_the_ticker_thins_on_its_cadence_after_the_tick_commits_and_its_hooks(
    market, settings, django_capture_on_commit_callbacks
):
    settings.TICK_HOOKS = ["tests.prices.hooks.record"]
    hooks.calls.clear()
    settings.PRICE_HISTORY_DAYS = 7
    now = timezone.now()
    old = (now - timedelta(days=30)).replace(hour=12, minute=0)
    record("AAPL", old, old + timedelta(minutes=1))
    MarketState.objects.update_or_create(id=1, defaults={"ticks": THIN_HISTORY_EVERY_TICKS - 2})

    with django_capture_on_commit_callbacks(execute=True):
        advance_market(seed=1, now=now)  # tick 59: not on the cadence
    assert len(history("AAPL")) == 3

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        advance_market(seed=2, now=now + timedelta(minutes=1))  # tick 60
    assert len(history("AAPL")) == 4  # nothing before the commit
    for callback in callbacks:
        callback()

    assert history("AAPL") == [old + timedelta(minutes=1), now, now + timedelta(minutes=1)]
    assert [ticks for ticks, _ in hooks.calls] == [59, 60]


def test_the_ticker_thins_after_the_ticks_hooks(market, settings, monkeypatch):
    settings.TICK_HOOKS = ["tests.prices.hooks.record"]
    hooks.calls.clear()
    settings.PRICE_HISTORY_DAYS = 7
    monkeypatch.setattr(services, "thin_history", lambda **kwargs: hooks.calls.append("thin"))
    now = timezone.now()

    services._after_tick(SimpleNamespace(ticks=THIN_HISTORY_EVERY_TICKS, timestamp=now, notes=[]))

    assert hooks.calls == [(THIN_HISTORY_EVERY_TICKS, now), "thin"]


@pytest.mark.skipif(
    connection.vendor != "sqlite", reason="SQLite only: PostgreSQL deletes in one statement"
)
@pytest.mark.django_db(transaction=True)
def test_on_sqlite_each_symbol_is_thinned_in_its_own_transaction(market):
    for symbol in ("AAPL", "MSFT", "XOM"):
        record(symbol, at(1, 14), at(1, 15))
    HistoryThinning.objects.create(id=1, thinned_to=at(1, 0))

    with CaptureQueriesContext(connection) as queries:
        assert thin_history(now=at(10, 12), days=7) == 3

    statements = [q["sql"].split()[0] for q in queries.captured_queries]
    deletes = [i for i, word in enumerate(statements) if word == "DELETE"]
    assert len(deletes) == 3
    assert all(statements[i - 1] == "BEGIN" for i in deletes)  # each a transaction of its own


def test_a_failed_thinning_is_logged_and_the_tick_stands(
    market, settings, monkeypatch, django_capture_on_commit_callbacks, caplog
):
    settings.TICK_HOOKS = ["tests.prices.hooks.record"]
    hooks.calls.clear()
    settings.PRICE_HISTORY_DAYS = 7

    def fail(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "thin_history", fail)
    MarketState.objects.update_or_create(id=1, defaults={"ticks": THIN_HISTORY_EVERY_TICKS - 1})

    with (
        caplog.at_level(logging.ERROR, logger="tradesim.prices"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        advance_market(seed=1)

    assert MarketState.objects.get(id=1).ticks == THIN_HISTORY_EVERY_TICKS
    assert [ticks for ticks, _ in hooks.calls] == [THIN_HISTORY_EVERY_TICKS]
    assert any("Thinning the price history failed" in r.getMessage() for r in caplog.records)


def test_the_ticker_keeps_everything_when_thinning_is_off(
    market, settings, django_capture_on_commit_callbacks
):
    settings.TICK_HOOKS = []
    settings.PRICE_HISTORY_DAYS = 0
    now = timezone.now()
    old = (now - timedelta(days=30)).replace(hour=12, minute=0)
    record("AAPL", old, old + timedelta(minutes=1))
    MarketState.objects.update_or_create(id=1, defaults={"ticks": THIN_HISTORY_EVERY_TICKS - 1})

    with django_capture_on_commit_callbacks(execute=True):
        advance_market(seed=1, now=now)

    assert PriceHistory.objects.filter(timestamp__lt=now).count() == 2


# The command ------------------------------------------------------------------------------


def test_the_command_thins_everything_now_and_says_how_much(market, capsys):
    old = (timezone.now() - timedelta(days=30)).replace(hour=12, minute=0)
    record("AAPL", old, old + timedelta(minutes=1), old + timedelta(minutes=2))
    HistoryThinning.objects.create(id=1, thinned_to=timezone.now() - timedelta(days=7))

    call_command("thin_price_history", "--days", "7")

    assert "Deleted 2 rows" in capsys.readouterr().out
    assert history("AAPL") == [old + timedelta(minutes=2)]


def test_the_command_refuses_to_thin_nothing(market, settings):
    settings.PRICE_HISTORY_DAYS = 0
    record("AAPL", at(1, 14), at(1, 15))

    with pytest.raises(CommandError, match="PRICE_HISTORY_DAYS is 0"):
        call_command("thin_price_history")
    with pytest.raises(CommandError, match="--days must be 1 or more"):
        call_command("thin_price_history", "--days", "0")

    assert PriceHistory.objects.count() == 2


@pytest.mark.parametrize("days", ["36501", "1000000", "99999999999"])
def test_the_command_refuses_more_than_a_hundred_years_of_days(market, days):
    record("AAPL", at(1, 14), at(1, 15))

    with pytest.raises(CommandError, match="--days must be from 1 to 36500"):
        call_command("thin_price_history", "--days", days)

    assert PriceHistory.objects.count() == 2


def test_the_command_refuses_a_setting_of_more_than_a_hundred_years(market, settings):
    settings.PRICE_HISTORY_DAYS = 1000000

    with pytest.raises(CommandError, match="PRICE_HISTORY_DAYS is 1000000"):
        call_command("thin_price_history")
