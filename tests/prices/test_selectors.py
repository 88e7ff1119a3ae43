from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from prices.models import MarketState, Price, PriceHistory, TradingSession
from prices.selectors import (
    PAGE_SIZE,
    Quote,
    UnknownSymbol,
    all_quotes,
    get_quote,
    get_quotes,
    market_overview,
    market_summary,
    price_history,
    price_points,
    session_range,
)
from prices.services import advance_market, set_halted
from tests.factories import PriceFactory, PriceHistoryFactory
from tests.prices.conftest import make_symbols

pytestmark = pytest.mark.django_db


# get_quote --------------------------------------------------------------------------------


def test_a_quote_carries_the_change_since_the_previous_close_and_its_time(market):
    when = timezone.now() - timedelta(minutes=3)
    Price.objects.filter(symbol="AAPL").update(
        price=Decimal("270.38"), previous_close=Decimal("262.50"), timestamp=when
    )

    quote = get_quote("AAPL")

    assert quote == Quote(
        symbol="AAPL",
        name="Apple Inc.",
        sector="Technology",
        price=Decimal("270.38"),
        previous_close=Decimal("262.50"),
        change=Decimal("7.88"),
        change_pct=Decimal("3.00"),
        timestamp=when,
        halted=False,
        is_index=False,
    )


@pytest.mark.parametrize("typed", ["aapl", " AAPL ", "Aapl"])
def test_symbols_are_case_insensitive(market, typed):
    assert get_quote(typed).symbol == "AAPL"


@pytest.mark.parametrize("typed", ["NOPE", "", "<script>", "A" * 30, "AA PL"])
def test_an_unknown_symbol_raises_a_clear_error(market, typed):
    with pytest.raises(UnknownSymbol) as caught:
        get_quote(typed)
    assert caught.value.message
    if typed == "NOPE":
        assert caught.value.message == "There is no symbol NOPE on this market."


def test_a_quote_is_served_from_the_cache(market, django_assert_num_queries):
    get_quote("AAPL")

    with django_assert_num_queries(0):
        assert get_quote("aapl").price == Decimal("262.50")


def test_a_tick_invalidates_cached_quotes(market, django_capture_on_commit_callbacks):
    cached = get_quote("AAPL")
    now = timezone.now()

    with django_capture_on_commit_callbacks(execute=True):
        advance_market(seed=1, now=now)

    fresh = get_quote("AAPL")
    assert fresh.price == Price.objects.get(symbol="AAPL").price != cached.price
    assert fresh.timestamp == now


def test_without_a_tick_the_cached_quote_stands_until_it_expires(market, settings):
    get_quote("AAPL")
    Price.objects.filter(symbol="AAPL").update(price=Decimal("1.00"))
    assert get_quote("AAPL").price == Decimal("262.50")

    settings.QUOTE_CACHE_SECONDS = 0  # expiring at once: every read goes to the database
    Price.objects.filter(symbol="MSFT").update(price=Decimal("2.00"))
    get_quote("MSFT")
    Price.objects.filter(symbol="MSFT").update(price=Decimal("3.00"))
    assert get_quote("MSFT").price == Decimal("3.00")


def test_a_halt_invalidates_the_cached_quote(market, django_capture_on_commit_callbacks):
    assert not get_quote("AAPL").halted

    with django_capture_on_commit_callbacks(execute=True):
        set_halted(symbols=["AAPL"], halted=True)

    assert get_quote("AAPL").halted


def test_many_quotes_come_from_the_cache_and_one_query_for_the_rest(
    market, django_assert_num_queries
):
    get_quote("AAPL")

    with django_assert_num_queries(1):
        found = get_quotes(["MSFT", "AAPL", "NOPE", "XOM"])
    with django_assert_num_queries(0):
        again = get_quotes(["XOM", "MSFT", "AAPL"])

    assert sorted(found) == ["AAPL", "MSFT", "XOM"]
    assert found["MSFT"] == again["MSFT"] == get_quote("MSFT")


def test_many_quotes_are_read_fresh_after_a_tick(market, django_capture_on_commit_callbacks):
    before = get_quotes(["AAPL"])["AAPL"]

    with django_capture_on_commit_callbacks(execute=True):
        advance_market(seed=1, now=timezone.now())

    assert get_quotes(["AAPL"])["AAPL"].price == Price.objects.get(symbol="AAPL").price
    assert get_quotes(["AAPL"])["AAPL"].timestamp != before.timestamp


def test_every_quote_is_one_query_then_cached_until_a_tick(
    market, django_assert_num_queries, django_capture_on_commit_callbacks
):
    with django_assert_num_queries(1):
        assert [q.symbol for q in all_quotes()] == ["AAPL", "MSFT", "TSIM", "XOM"]
    with django_assert_num_queries(0):
        all_quotes()

    with django_capture_on_commit_callbacks(execute=True):
        advance_market(seed=1, now=timezone.now())

    assert all_quotes()[0].price == Price.objects.get(symbol="AAPL").price


# The market overview ----------------------------------------------------------------------


def _move(symbol, price):
    Price.objects.filter(symbol=symbol).update(price=Decimal(price))


def test_the_overview_sorts_by_any_column_with_the_symbol_breaking_ties(market):
    _move("AAPL", "288.75")  # +10 %
    _move("MSFT", "448.20")  # −10 %
    _move("XOM", "121.80")  # +5 %

    def order(sort):
        return [q.symbol for q in market_overview(sort=sort).quotes]

    assert order(None) == ["AAPL", "MSFT", "TSIM", "XOM"]
    assert order("-price") == ["TSIM", "MSFT", "AAPL", "XOM"]
    assert order("-change_pct") == ["AAPL", "XOM", "TSIM", "MSFT"]
    assert order("change") == ["MSFT", "TSIM", "XOM", "AAPL"]
    assert order("name") == ["AAPL", "XOM", "MSFT", "TSIM"]
    assert order("sector") == ["XOM", "TSIM", "AAPL", "MSFT"]
    assert order("; DROP TABLE prices") == order("symbol")


@pytest.mark.parametrize(
    ("query", "expected"),
    [("ms", ["MSFT"]), ("apple", ["AAPL"]), ("CORPORATION", ["MSFT", "XOM"]), ("zzz", [])],
)
def test_the_overview_searches_symbols_and_names(market, query, expected):
    page = market_overview(query=query)

    assert [q.symbol for q in page.quotes] == expected
    assert page.count == len(expected)


def test_the_overview_filters_by_sector(market):
    assert [q.symbol for q in market_overview(sector="Technology").quotes] == ["AAPL", "MSFT"]


def test_the_overview_pages_a_large_market(db):
    make_symbols(PAGE_SIZE + 5)

    first, last = market_overview(page=1), market_overview(page="2")

    assert len(first.quotes) == PAGE_SIZE and len(last.quotes) == 5
    assert first.count == PAGE_SIZE + 5
    assert market_overview(page="nonsense").page_obj.number == 1


@pytest.mark.parametrize("size", [5, 300])
def test_the_overview_and_summary_run_fixed_queries(db, size, django_assert_num_queries):
    make_symbols(size)
    PriceFactory(symbol="TSIM", is_index=True)

    with django_assert_num_queries(2):
        market_overview(sort="-change_pct", query="S")
    with django_assert_num_queries(4):  # counts, sectors, clock, index fund
        market_summary()


def test_the_summary_has_the_markets_regime(market):
    assert market_summary().regime == "calm" and not market_summary().stormy

    MarketState.objects.filter(id=1).update(regime="turbulent")

    assert market_summary().stormy


def test_the_summary_counts_the_day_so_far(market):
    _move("AAPL", "300.00")
    _move("MSFT", "400.00")
    Price.objects.filter(symbol="XOM").update(halted=True)

    summary = market_summary()

    assert (summary.symbols, summary.advancers, summary.decliners, summary.halted) == (4, 1, 1, 1)
    assert summary.sectors == ["Energy", "Index Fund", "Technology"]
    assert summary.index.symbol == "TSIM"


# Chart history ----------------------------------------------------------------------------


def test_history_is_the_latest_points_oldest_first_and_bounded(market, django_assert_num_queries):
    start = timezone.now() - timedelta(hours=1)
    for i in range(30):
        PriceHistoryFactory(
            stock=market["AAPL"], price=Decimal(100 + i), timestamp=start + timedelta(minutes=i)
        )
    PriceHistoryFactory(stock=market["MSFT"], price=Decimal("1.00"))

    with django_assert_num_queries(1):
        points = price_history("AAPL", limit=10)

    assert [price for _, price in points] == [Decimal(v) for v in range(120, 130)]
    assert [ts for ts, _ in points] == sorted(ts for ts, _ in points)
    assert len(price_history("AAPL")) == 30
    assert PriceHistory.objects.count() == 31


def test_history_starts_at_the_opening_of_the_session_asked_for(market, django_assert_num_queries):
    start = timezone.now() - timedelta(hours=1)
    for i in range(30):
        PriceHistoryFactory(
            stock=market["AAPL"], price=Decimal(100 + i), timestamp=start + timedelta(minutes=i)
        )
    for number, minute in enumerate([0, 10, 20], 1):  # three sessions of 10 ticks
        TradingSession.objects.create(number=number, opened_at=start + timedelta(minutes=minute))

    with django_assert_num_queries(1):
        this_session = price_history("AAPL", sessions=1)
    assert [price for _, price in this_session] == [Decimal(v) for v in range(120, 130)]
    assert len(price_history("AAPL", sessions=2)) == 20
    assert len(price_history("AAPL", sessions=3)) == 30
    assert len(price_history("AAPL", sessions=5)) == 30  # fewer on record: all sessions


def test_history_before_the_first_recorded_session_shows_only_when_none_is(market):
    start = timezone.now() - timedelta(hours=1)
    for i in range(3):
        PriceHistoryFactory(
            stock=market["AAPL"], price=Decimal(100 + i), timestamp=start + timedelta(minutes=i)
        )
    assert len(price_history("AAPL", sessions=5)) == 3  # no session on record: all of it

    TradingSession.objects.create(number=7, opened_at=start + timedelta(minutes=1))

    assert len(price_history("AAPL", sessions=5)) == 2


def test_the_session_range_is_the_low_and_high_of_the_default_chart(
    market, django_assert_num_queries
):
    start = timezone.now() - timedelta(hours=1)
    for i, price in enumerate(["90.00", "120.00", "101.00", "99.50", "110.00"]):
        PriceHistoryFactory(
            stock=market["AAPL"], price=Decimal(price), timestamp=start + timedelta(minutes=i)
        )
    TradingSession.objects.create(number=1, opened_at=start + timedelta(minutes=2))

    with django_assert_num_queries(1):
        low, high = session_range("AAPL")

    charted = [price for _, price in price_history("AAPL")]
    assert (low, high) == (min(charted), max(charted)) == (Decimal("99.50"), Decimal("110.00"))
    assert session_range("MSFT") == (None, None)


def test_price_points_without_since_are_the_newest_oldest_first(market):
    start = timezone.now() - timedelta(hours=1)
    for i in range(10):
        PriceHistoryFactory(
            stock=market["AAPL"], price=Decimal(100 + i), timestamp=start + timedelta(minutes=i)
        )

    found = price_points("AAPL", limit=3)

    assert [price for _, price in found.points] == [Decimal(107), Decimal(108), Decimal(109)]
    assert found.more is False


def test_price_points_after_since_say_whether_more_came(market, django_assert_num_queries):
    start = timezone.now() - timedelta(hours=1)
    moments = [start + timedelta(minutes=i) for i in range(10)]
    for i, moment in enumerate(moments):
        PriceHistoryFactory(stock=market["AAPL"], price=Decimal(100 + i), timestamp=moment)
    PriceHistoryFactory(stock=market["MSFT"], price=Decimal("1.00"), timestamp=moments[5])

    with django_assert_num_queries(1):
        found = price_points("AAPL", since=moments[4], limit=3)

    assert [moment for moment, _ in found.points] == moments[5:8]
    assert found.more is True
    assert price_points("AAPL", since=moments[6], limit=3).more is False
    assert price_points("AAPL", since=moments[9], limit=3).points == []
