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
