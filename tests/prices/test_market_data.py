"""The sample market is realistic: enough names, sectors and sensible parameters."""

from collections import Counter
from decimal import Decimal

from prices.market_data import INDEX_SYMBOL, MARKET
from prices.services import normalize_symbol
from prices.simulation import DEFAULT_MODEL


def stocks():
    return [listing for listing in MARKET if not listing.is_index]


def test_at_least_40_large_caps_in_at_least_8_sectors():
    assert len(stocks()) >= 40
    assert len({listing.sector for listing in stocks()}) >= 8
    assert min(Counter(listing.sector for listing in stocks()).values()) >= 2


def test_symbols_are_unique_and_well_formed():
    symbols = [listing.symbol for listing in MARKET]
    assert len(symbols) == len(set(symbols))
    assert all(normalize_symbol(symbol) == symbol for symbol in symbols)


def test_parameters_are_in_realistic_ranges():
    for listing in stocks():
        total = DEFAULT_MODEL.total_volatility(volatility=listing.volatility, beta=listing.beta)
        assert 0.15 <= total <= 0.60, listing.symbol
        assert 0.5 <= listing.beta <= 1.8, listing.symbol
        assert -0.05 <= listing.drift <= 0.20, listing.symbol
        assert Decimal("1.00") <= listing.price <= Decimal("5000.00"), listing.symbol
        assert listing.price == listing.price.quantize(Decimal("0.01"))


def test_one_index_fund_tracks_the_market_factor():
    (index,) = [listing for listing in MARKET if listing.is_index]
    assert index.symbol == INDEX_SYMBOL
    assert index.beta == 1.0
    assert index.drift == DEFAULT_MODEL.drift
    assert index.volatility <= 0.02


def test_the_sample_market_pays_dividends_and_reports_earnings_as_such_companies_do():
    by_symbol = {listing.symbol: listing for listing in MARKET}
    for listing in MARKET:
        assert 0 <= listing.dividend_yield <= 0.25
        assert (listing.dividend_day is None) == (listing.dividend_yield == 0)
        assert listing.dividend_day is None or 1 <= listing.dividend_day <= 63
        assert 0 < listing.earnings_volatility <= 0.5
    # Utilities, staples and energy yield 2–4 %, big tech under 1 %, growth names nothing.
    for symbol in ("DUK", "SO", "PG", "KO", "PEP", "XOM", "CVX"):
        assert 0.02 <= by_symbol[symbol].dividend_yield <= 0.045
    for symbol in ("AAPL", "MSFT", "GOOGL", "META"):
        assert 0 < by_symbol[symbol].dividend_yield < 0.01
    for symbol in ("AMZN", "TSLA", "NFLX", "AMD"):
        assert by_symbol[symbol].dividend_yield == 0
    # Every company reports, spread over the quarter; the index fund never does.
    reports = [listing.earnings_day for listing in MARKET if not listing.is_index]
    assert all(day is not None for day in reports) and len(set(reports)) >= 20
    index = by_symbol["TSIM"]
    assert index.earnings_day is None and index.dividend_yield > 0
