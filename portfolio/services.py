"""Writes to positions. Trading calls these inside its own transaction, after it has
locked the user's balance row (lock order: balance, then holding, then summary)."""

from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from portfolio.models import Holding, PortfolioSummary
from tradesim.money import to_4dp, to_cents


class PositionError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotEnoughShares(PositionError):
    pass


def add_shares(*, user, symbol: str, quantity: int, price: Decimal) -> Holding:
    """Add `quantity` shares bought at `price` to the user's holding, creating it if new.

    Guarantees: the average price becomes the quantity-weighted mean of the old average and
    `price`, to 4 places. Locks: the user's holding row for `symbol` (when it exists).
    """
    if quantity <= 0:
        raise ValueError("quantity must be positive")
    now = timezone.now()
    with transaction.atomic():
        holding = Holding.objects.select_for_update().filter(user=user, stock_id=symbol).first()
        if holding is None:
            return Holding.objects.create(
                user=user,
                stock_id=symbol,
                quantity=quantity,
                average_price=to_4dp(price),
                last_updated=now,
            )
        total_cost = holding.average_price * holding.quantity + price * quantity
        holding.quantity += quantity
        holding.average_price = to_4dp(total_cost / holding.quantity)
        holding.last_updated = now
        holding.save(update_fields=["quantity", "average_price", "last_updated"])
        return holding


def remove_shares(*, user, symbol: str, quantity: int, price: Decimal) -> Decimal:
    """Take `quantity` shares sold at `price` out of the user's holding; return the realized
    P/L (proceeds minus the average cost of the shares sold, in cents) and add it to the
    user's summary. A holding that reaches zero is deleted; the average price of what is
    left does not change.

    Raises NotEnoughShares, checked on the locked row. Locks: the holding row, then the
    user's summary row.
    """
    if quantity <= 0:
        raise ValueError("quantity must be positive")
    with transaction.atomic():
        holding = Holding.objects.select_for_update().filter(user=user, stock_id=symbol).first()
        held = holding.quantity if holding else 0
        if quantity > held:
            raise NotEnoughShares(
                f"You hold {held:,} {symbol} share{'s' if held != 1 else ''}; "
                f"you cannot sell {quantity:,}."
            )
        realized = to_cents(price * quantity) - to_cents(holding.average_price * quantity)
        if quantity == held:
            holding.delete()
        else:
            holding.quantity -= quantity
            holding.last_updated = timezone.now()
            holding.save(update_fields=["quantity", "last_updated"])
        summary, _ = PortfolioSummary.objects.select_for_update().get_or_create(user=user)
        summary.realized_pnl += realized
        summary.last_updated = timezone.now()
        summary.save(update_fields=["realized_pnl", "last_updated"])
        return realized
