"""Market fixtures: a few named symbols, and any number of generated ones in one query."""

import math
from decimal import Decimal

import pytest

from prices.models import Price
from tests.factories import PriceFactory


def make_symbols(n: int, *, prefix="S", sector="Technology", price="100.00", **params):
    """n symbols S00000, S00001, … in one INSERT (factories would take a query each)."""
    price = Decimal(price)
    fields = {"drift": 0.08, "volatility": 0.25, "beta": 1.0, **params}
    return Price.objects.bulk_create(
        Price(
            symbol=f"{prefix}{i:05d}",
            name=f"{prefix} Company {i}",
            sector=sector,
            price=price,
            previous_close=price,
            log_price=math.log(price),
            **fields,
        )
        for i in range(n)
    )


@pytest.fixture
def market(db):
    """Three stocks in two sectors and the index fund."""
    return {
        "AAPL": PriceFactory(
            symbol="AAPL", name="Apple Inc.", sector="Technology", price=Decimal("262.50")
        ),
        "MSFT": PriceFactory(
            symbol="MSFT",
            name="Microsoft Corporation",
            sector="Technology",
            price=Decimal("498.00"),
        ),
        "XOM": PriceFactory(
            symbol="XOM", name="Exxon Mobil Corporation", sector="Energy", price=Decimal("116.00")
        ),
        "TSIM": PriceFactory(
            symbol="TSIM",
            name="TradeSim Total Market Index Fund",
            sector="Index Fund",
            price=Decimal("500.00"),
            volatility=0.01,
            is_index=True,
        ),
    }


@pytest.fixture
def still(market):
    """Make the market's stocks deterministic: no drift, no volatility, no beta, so a tick
    changes a price only through an event (and the default model's jumps are switched off
    by the tests that use this with DIFFUSION_ONLY)."""
    Price.objects.update(drift=0.0, volatility=0.0, beta=0.0)
    return market
