"""What a stock split does to the students' side of the market (settings.SPLIT_HANDLERS).

Called by prices.splits inside the tick that applies the split, with the market lock held
and the symbol's price already divided. In a fixed number of statements whatever the number
of holders and orders:

1. the accounts are locked (ledger.lock_all_accounts): every trade and order takes its
   student's balance lock first, so none is half-done while the split adjusts holdings
   and orders, and none starts until the tick commits (it then reads the split price);
2. open orders that would come to no whole share (a reverse split of an order smaller
   than its ratio) are cancelled, with the reason in their record, and their held cash
   freed; the students hear of it on their next page;
3. every other open order on the symbol: quantity × ratio (rounded down), the shares it
   holds likewise; limit, stop, trailing mark, trailing amount and trigger prices ÷ ratio
   (to the cent, half up, a cent at least); a percent trail is unchanged; a market order
   waiting for the open keeps its any-price trigger. The cash an open buy holds is kept:
   it was the worst case of the old order, and the new order costs the same;
4. every holding (portfolio.split_holdings), the shares it holds set to what its open
   orders now hold;
5. the cash in lieu of fractions, one `split_cash` journal row per student paid
   (ledger.post_in_bulk, on the payees' balances).

Locks. The tick holds the market lock (the MarketState row) and has updated the price rows;
then it locks the accounts (on PostgreSQL the balances table in EXCLUSIVE mode, which
waits for every transaction holding a balance row), then the symbol's open orders, then
its holdings: the order every trade, cancel and fill takes them in (balance, order,
holding). It cannot deadlock with a trade: a trade never locks the market's row or a price
row (it reads the price with a plain SELECT, which waits for no one), so while the tick
waits for the accounts the trades holding balances run to their end and commit; and once
the tick holds the accounts, no transaction can hold an order or holding row it needs
next, since those are locked only by a transaction that holds their student's balance
first. A trade that waited for its balance reads the price after the tick has committed:
the split price.
"""

from decimal import Decimal

from django.core.cache import cache as shared_cache
from django.db import transaction
from django.db.models import Case, F, OuterRef, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce

from ledger import services as ledger
from ledger.models import Transaction
from portfolio import services as portfolio
from tradesim.money import CENT, ratio_of
from trading.models import Order
from trading.services import order_news_key

_OPEN = Order.Status.OPEN


def _divided(name: str, numerator: int, denominator: int):
    """A price column ÷ the ratio, to the cent, half up, a cent at least; NULL stays NULL."""
    return ratio_of(name, numerator, denominator, places=2, at_least=CENT)


def apply_split(
    *, symbol: str, numerator: int, denominator: int, price: Decimal, day: int, now, **_
) -> None:
    """Adjust holdings, open orders and cash for a split of `symbol` at the new `price`."""
    n, d = numerator, denominator
    ledger.lock_all_accounts()
    orders = Order.objects.filter(stock_id=symbol, status=_OPEN)

    # Reverse splits only: an order of fewer shares than the ratio comes to no share.
    if n < d:
        emptied = list(
            orders.select_for_update()
            .filter(quantity__lt=-(-d // n))
            .order_by("id")
            .values_list("id", "user_id", "held_cash")
        )
        if emptied:
            held: dict[int, Decimal] = {}
            for _, user_id, cash in emptied:
                held[user_id] = held.get(user_id, Decimal(0)) + cash
            ledger.release_many(amounts=held)
            Order.objects.filter(id__in=[row[0] for row in emptied]).update(
                status=Order.Status.CANCELLED,
                reason=f"Cancelled: {symbol}'s {n}-for-{d} reverse split left this order with "
                "less than one share.",
                closed_at=now,
                held_cash=0,
                held_shares=0,
                notified=False,
            )
            # The students hear of it on their next page, as of any order closed for them.
            students = sorted(held)
            transaction.on_commit(
                lambda: shared_cache.set_many(
                    {order_news_key(user_id): True for user_id in students}, timeout=None
                )
            )

    orders.update(
        quantity=F("quantity") * Value(n) / Value(d),
        held_shares=F("held_shares") * Value(n) / Value(d),
        limit_price=_divided("limit_price", n, d),
        stop_price=_divided("stop_price", n, d),
        trail_amount=_divided("trail_amount", n, d),
        trail_mark=_divided("trail_mark", n, d),
        trigger_price=Case(
            When(type=Order.Type.MARKET, then=F("trigger_price")),
            default=_divided("trigger_price", n, d),
        ),
    )

    holds = (
        Order.objects.filter(
            user_id=OuterRef("user_id"),
            stock_id=symbol,
            status=_OPEN,
            side__in=[Order.Side.SELL, Order.Side.BUY_TO_COVER],
        )
        .values("user_id")
        .annotate(total=Sum("held_shares"))
        .values("total")
    )
    cash = portfolio.split_holdings(
        symbol=symbol,
        numerator=n,
        denominator=d,
        price=price,
        held_quantity=Coalesce(Subquery(holds), Value(0)),
        now=now,
    )
    if cash:
        balances = ledger.lock_balances(users=[row.user_id for row in cash])
        ledger.post_in_bulk(
            [
                ledger.Movement(
                    user_id=row.user_id,
                    type=Transaction.Type.SPLIT_CASH,
                    amount=row.amount,
                    description=(
                        f"{symbol} {n}-for-{d} split: {row.fraction} of a share at ${price:,.2f}"
                    ),
                    symbol=symbol,
                )
                for row in cash
            ],
            balances=balances,
            now=now,
        )
