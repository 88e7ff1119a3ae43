"""Helpers for the resting-order tests: placing an order in one call, moving a price, and
the money invariants every test of the order engine checks after it has run."""

import io
from collections import defaultdict
from decimal import Decimal

from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Sum

from ledger.models import Balance
from ledger.selectors import find_mismatches
from portfolio.models import Holding
from prices.models import MarketState, Price
from trading import services
from trading.models import Order, Trade


def place(user, *, side="buy", type="limit", symbol="ACME", quantity=10, token=None, **prices):
    """Place an order as a student would, through order_request and place_order."""
    request = services.order_request(
        side=side, type=type, symbol=symbol, quantity=quantity, **prices
    )
    return services.place_order(user=user, request=request, token=token)


def set_price(symbol: str, price) -> None:
    Price.objects.filter(symbol=symbol).update(price=Decimal(str(price)))


def set_market_day(*, day: int, elapsed: float = 0.5) -> None:
    """Put the market clock on simulated day `day` (1 for the first), `elapsed` of the way
    through it (1.0: closed)."""
    MarketState.objects.update_or_create(
        id=1, defaults={"trading_day": day - 1, "day_elapsed": elapsed}
    )


def cash(user) -> Decimal:
    return Balance.objects.get(user=user).amount


def held(user) -> Decimal:
    return Balance.objects.get(user=user).held


def shares(user, symbol="ACME") -> tuple[int, int]:
    """(quantity, held_quantity) of the user's holding; (0, 0) without one."""
    row = Holding.objects.filter(user=user, stock_id=symbol).values_list(
        "quantity", "held_quantity"
    )
    return row.first() or (0, 0)


def reload(order: Order) -> Order:
    return Order.objects.select_related("trade").get(pk=order.pk)


def check_ledger() -> str:
    """check_ledger's output; raises CommandError (with its output) on any mismatch."""
    out = io.StringIO()
    try:
        call_command("check_ledger", stdout=out)
    except CommandError as error:
        raise AssertionError(f"{error}\n{out.getvalue()}") from None
    return out.getvalue()


def money_problems() -> list[str]:
    """Every broken invariant of cash, holds, holdings and fills, as lines (none: all well).

    - balances.amount == Σ signed journal, per user (the ledger's own check);
    - balances.held == Σ held_cash of the user's open buys, and held ≤ amount (+ the margin
      loan allowed, balances.loan_limit: none without margin);
      holdings.held_quantity == Σ held_shares of the open sells, and ≤ quantity;
    - no balance below −loan_limit; no hold or holding below zero;
    - per (user, symbol), the holding's quantity == Σ bought − Σ sold in `trades`;
    - an open order holds what its side holds and nothing else; a closed one nothing;
    - every filled order has its trade, of its side, symbol and quantity, at a price
      within its limit (a buy at most the limit, a sell at least it).
    """
    problems = [f"journal: user {m.user_id} differs by {m.difference}" for m in find_mismatches()]
    problems += services.check_holds()

    for user_id, amount, held_cash, loan_limit in Balance.objects.values_list(
        "user_id", "amount", "held", "loan_limit"
    ):
        # Cash below zero only as far as the margin loan allowed (none without margin).
        if amount < -loan_limit or held_cash < 0 or held_cash > amount + loan_limit:
            problems.append(
                f"balance of user {user_id}: amount {amount}, held {held_cash}, "
                f"loan allowed {loan_limit}"
            )

    traded = defaultdict(int)
    for user_id, symbol, operation, total in (
        Trade.objects.values("user_id", "stock_id", "operation")
        .annotate(total=Sum("quantity"))
        .values_list("user_id", "stock_id", "operation", "total")
    ):
        traded[user_id, symbol] += total if operation in ("buy", "cover") else -total
    owned = {
        (user_id, symbol): (quantity, held_quantity)
        for user_id, symbol, quantity, held_quantity in Holding.objects.values_list(
            "user_id", "stock_id", "quantity", "held_quantity"
        )
    }
    for key in set(traded) | set(owned):
        quantity, held_quantity = owned.get(key, (0, 0))
        if quantity != traded.get(key, 0):
            problems.append(f"holding {key}: {quantity} held, trades say {traded.get(key, 0)}")
        if not 0 <= held_quantity <= abs(quantity):
            problems.append(f"holding {key}: {held_quantity} of {quantity} held for orders")

    operation_of = {"buy": "buy", "sell": "sell", "sell_short": "short", "buy_to_cover": "cover"}
    for order in Order.objects.select_related("trade"):
        buying = order.side in ("buy", "buy_to_cover")
        if order.is_open:
            # A buy holds its cost; a sell its shares; a buy to cover its short shares; a
            # short sale nothing.
            if order.side == "buy" and (order.held_cash <= 0 or order.held_shares):
                problems.append(f"open buy {order.pk} holds {order.held_cash}/{order.held_shares}")
            if order.side in ("sell", "buy_to_cover") and (
                order.held_shares != order.quantity or order.held_cash
            ):
                problems.append(
                    f"open {order.side} {order.pk} holds {order.held_shares} of {order.quantity}"
                )
            if order.side == "sell_short" and (order.held_shares or order.held_cash):
                problems.append(f"open short sale {order.pk} holds something")
        elif order.held_cash or order.held_shares:
            problems.append(f"{order.status} order {order.pk} still holds something")
        if order.status != Order.Status.FILLED:
            if order.trade_id is not None:
                problems.append(f"{order.status} order {order.pk} has a trade")
            continue
        trade = order.trade
        if trade is None:
            problems.append(f"filled order {order.pk} has no trade")
            continue
        if (trade.user_id, trade.stock_id, trade.operation, trade.quantity) != (
            order.user_id,
            order.stock_id,
            operation_of[order.side],
            order.quantity,
        ):
            problems.append(f"filled order {order.pk} and its trade {trade.pk} differ")
        if order.limit_price is not None and (
            trade.price > order.limit_price if buying else trade.price < order.limit_price
        ):
            problems.append(
                f"order {order.pk} limited to {order.limit_price} filled at {trade.price}"
            )
    return problems
