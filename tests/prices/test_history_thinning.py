"""Old price history is thinned to daily closes; recent history stays tick by tick."""

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from prices.models import MarketState, PriceHistory
from prices.selectors import price_history
from prices.services import THIN_HISTORY_EVERY_TICKS, advance_market, thin_history

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


def test_days_before_the_cutoff_keep_only_their_close_and_newer_rows_all_stay(market):
    old_day_1 = [at(1, 14), at(1, 15), at(1, 20, 59)]
    old_day_2 = [at(2, 14), at(2, 19)]
    recent = [at(9, 14), at(9, 14, 1), at(9, 14, 2)]
    record("AAPL", *old_day_1, *old_day_2, *recent)
    record("XOM", at(1, 14), at(1, 16))

    deleted = thin_history(now=at(10, 12), days=7)  # cutoff: 3 March, 12:00

    assert deleted == 2 + 1 + 1
    assert history("AAPL") == [at(1, 20, 59), at(2, 19), *recent]
    assert history("XOM") == [at(1, 16)]
    # The close keeps its own price: the last of the day.
    assert PriceHistory.objects.get(stock_id="AAPL", timestamp=at(1, 20, 59)).price == 102


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

    thin_history(now=at(10, 12), days=7)

    assert history("AAPL") == [at(2, 3, 30), at(2, 15)]


def test_thinning_twice_deletes_nothing_more_and_zero_days_keeps_everything(market):
    record("AAPL", at(1, 14), at(1, 15), at(2, 14))

    assert thin_history(now=at(10, 12), days=0) == 0
    assert len(history("AAPL")) == 3
    assert thin_history(now=at(10, 12), days=7) == 1
    assert thin_history(now=at(10, 12), days=7) == 0
    assert history("AAPL") == [at(1, 15), at(2, 14)]


def test_thinning_is_one_statement_however_many_rows(market, django_assert_num_queries):
    for hour in range(24):
        record("AAPL", *(at(1, hour, minute) for minute in range(0, 60, 5)))
        record("MSFT", *(at(1, hour, minute) for minute in range(0, 60, 5)))

    with django_assert_num_queries(1):
        deleted = thin_history(now=at(10, 12), days=7)

    assert deleted == 2 * (24 * 12 - 1)


def test_charts_read_the_closes_of_thinned_days(market):
    record("AAPL", at(1, 14), at(1, 20), at(2, 14), at(2, 20), at(9, 14), at(9, 15))

    thin_history(now=at(10, 12), days=7)

    assert [moment for moment, _ in price_history("AAPL")] == [
        at(1, 20),
        at(2, 20),
        at(9, 14),
        at(9, 15),
    ]


def test_the_ticker_thins_on_its_cadence_after_the_tick(
    market, settings, django_capture_on_commit_callbacks
):
    settings.TICK_HOOKS = []
    settings.PRICE_HISTORY_DAYS = 7
    now = timezone.now()
    old = (now - timedelta(days=30)).replace(hour=12, minute=0)
    record("AAPL", old, old + timedelta(minutes=1))
    MarketState.objects.update_or_create(id=1, defaults={"ticks": THIN_HISTORY_EVERY_TICKS - 2})

    with django_capture_on_commit_callbacks(execute=True):
        advance_market(seed=1, now=now)  # not on the cadence
    assert PriceHistory.objects.filter(timestamp__lt=now).count() == 2

    with django_capture_on_commit_callbacks(execute=True):
        advance_market(seed=2, now=now + timedelta(minutes=1))  # tick 60
    assert list(
        PriceHistory.objects.filter(timestamp__lt=now).values_list("timestamp", flat=True)
    ) == [old + timedelta(minutes=1)]


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


def test_the_command_thins_now_and_says_how_much(market, capsys):
    old = (timezone.now() - timedelta(days=30)).replace(hour=12, minute=0)
    record("AAPL", old, old + timedelta(minutes=1), old + timedelta(minutes=2))

    call_command("thin_price_history", "--days", "7")

    assert "Deleted 2 rows" in capsys.readouterr().out
    assert PriceHistory.objects.count() == 1


def test_the_command_refuses_to_thin_nothing(market, settings):
    settings.PRICE_HISTORY_DAYS = 0
    record("AAPL", at(1, 14), at(1, 15))

    with pytest.raises(CommandError, match="PRICE_HISTORY_DAYS is 0"):
        call_command("thin_price_history")
    with pytest.raises(CommandError, match="--days must be 1 or more"):
        call_command("thin_price_history", "--days", "0")

    assert PriceHistory.objects.count() == 2
