"""Moves for the portfolio tests, made the way the trading services make them (journal row
through the ledger, shares through portfolio.services), without depending on trading."""

from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from ledger import services as ledger
from ledger.models import Transaction
from portfolio.services import add_shares, remove_shares
from prices.models import MarketState, Price, PriceHistory
from tests.factories import PriceFactory
from tradesim.money import to_cents


def listed(symbol: str, price: str, *, sector: str = "Technology", **extra) -> Price:
    return PriceFactory(symbol=symbol, price=Decimal(price), sector=sector, **extra)


def set_price(symbol: str, price: str, *, previous_close: str | None = None) -> None:
    changes = {"price": Decimal(price)}
    if previous_close is not None:
        changes["previous_close"] = Decimal(previous_close)
    Price.objects.filter(symbol=symbol).update(**changes)


def new_trading_day(at: datetime | None = None) -> None:
    """The market's clock starts a new trading day (now, or `at`): what was bought before
    it counts in "Today" from the previous close, no longer from its purchase price."""
    MarketState.objects.update_or_create(id=1, defaults={"day_started_at": at or timezone.now()})


def tick(prices: dict[str, str], at: datetime) -> None:
    """A market tick by hand: new prices, and their price-history rows stamped `at`."""
    for symbol, price in prices.items():
        set_price(symbol, price)
        PriceHistory.objects.create(stock_id=symbol, price=Decimal(price), timestamp=at)


def buy(user, symbol: str, quantity: int) -> Decimal:
    price = Price.objects.get(symbol=symbol).price
    total = to_cents(price * quantity)
    ledger.debit(
        user=user,
        type=Transaction.Type.BUY,
        amount=total,
        description=f"Bought {quantity:,} {symbol} @ {price:.2f}",
        symbol=symbol,
    )
    add_shares(user=user, symbol=symbol, quantity=quantity, price=price)
    return total


def sell(user, symbol: str, quantity: int) -> Decimal:
    """Returns the realized P/L."""
    price = Price.objects.get(symbol=symbol).price
    realized = remove_shares(user=user, symbol=symbol, quantity=quantity, price=price)
    ledger.credit(
        user=user,
        type=Transaction.Type.SELL,
        amount=to_cents(price * quantity),
        description=f"Sold {quantity:,} {symbol} @ {price:.2f}",
        symbol=symbol,
    )
    return realized
