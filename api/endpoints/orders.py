"""Orders: place, list, read and cancel, through trading.services as the order ticket."""

from decimal import Decimal

from django.http import HttpResponse, QueryDict
from django.urls import reverse
from ninja import Query, Router, Schema, Status
from pydantic import Field

from api import idempotency, pagination
from api.auth import student
from api.problems import Problem, from_form, from_refusal
from api.schemas import OrderIn, OrderOut
from api.services import row_id
from tradesim.market_hours import closed_until
from trading import selectors
from trading.forms import OrderFilterForm
from trading.models import Order, Trade
from trading.services import (
    DuplicateRequest,
    TradingError,
    cancel_order,
    describe_order,
    order_request,
    place_order,
)

router = Router(tags=["Orders"])


class OrderPage(Schema):
    data: list[OrderOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last."
    )


class OrderQuery(Schema):
    status: str | None = Field(
        default=None, description="open, filled, cancelled, expired or rejected"
    )
    symbol: str | None = Field(default=None, max_length=30)
    side: str | None = Field(default=None, description="buy, sell, sell_short or buy_to_cover")
    type: str | None = Field(
        default=None, description="market, limit, stop, stop_limit or trailing_stop"
    )
    start: str | None = Field(default=None, description="Placed on or after this day, YYYY-MM-DD.")
    end: str | None = Field(default=None, description="Placed on or before this day, YYYY-MM-DD.")
    cursor: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=pagination.DEFAULT_LIMIT, ge=1, le=pagination.MAX_LIMIT)


def trade_out(trade: Trade) -> dict:
    return {
        "id": trade.pk,
        "symbol": trade.stock_id,
        "side": trade.operation,
        "quantity": trade.quantity,
        "price": trade.price,
        "total": trade.total,
        "commission": trade.commission,
        "realized_pnl": trade.realized_pnl,
        "timestamp": trade.timestamp,
    }


def order_out(order: Order) -> dict:
    trade = order.trade
    return {
        "id": order.pk,
        "symbol": order.stock_id,
        "side": order.side,
        "type": order.type,
        "quantity": order.quantity,
        "limit_price": order.limit_price,
        "stop_price": order.stop_price,
        # As stored (two places), also on the order just placed, which holds what was sent.
        "trail_percent": None
        if order.trail_percent is None
        else order.trail_percent.quantize(Decimal("0.01")),
        "trail_amount": order.trail_amount,
        "duration": order.duration,
        "status": order.status,
        "description": describe_order(order),
        "held_cash": order.held_cash,
        "held_shares": order.held_shares,
        "reason": order.reason,
        "created_at": order.created_at,
        "closed_at": order.closed_at,
        "trade": None if trade is None else trade_out(trade),
    }


def filter_form(form_class, query: Schema, names: list[str], *, aliases=None):
    """The page's filter form, bound to the query's filters: the API checks them with the
    page's own rules and messages. `aliases` maps a query's name to the form's field where
    the API names a filter otherwise than the page ({"side": "operation"})."""
    aliases = aliases or {}
    api_names = {aliases.get(name, name): name for name in names}
    data = QueryDict(mutable=True)
    for name in names:
        value = getattr(query, name)
        if value not in (None, ""):
            data[aliases.get(name, name)] = value
    form = form_class(data)
    if not form.is_valid():
        raise from_form(form, names=api_names)
    return form


@router.post(
    "/orders",
    response={201: OrderOut, 200: OrderOut},
    summary="Place an order",
    description="A market order trades at once (201, with its trade); while the market is "
    "closed (its hours) it waits for the open (status open, holding its cost) or is refused "
    "(market_closed), as the class's rules say. A limit, stop, "
    "stop-limit or trailing stop waits for the price (status open) and holds its cash or "
    "shares; a limit the price already meets fills at once. With an Idempotency-Key, a retry "
    "answers 200 with the order the first request placed.",
)
def create_order(request, payload: OrderIn, response: HttpResponse):
    user = student(request)
    token = idempotency.token_of(request)
    try:
        wanted = order_request(**payload.dict())
        # A market order's key is checked against the journal under the balance lock
        # (trading.services), which tells a deposit's key apart; a resting order's only
        # against the orders.
        # A market order while the market is closed waits as a resting order does.
        resting = wanted.type != Order.Type.MARKET or closed_until() is not None
        if token and resting and idempotency.used_for_cash(user, token):
            raise idempotency.reused()
        order = place_order(user=user, request=wanted, token=token)
    except DuplicateRequest:
        original = (
            Order.objects.select_related("trade").filter(user_id=user.pk, token=token).first()
        )
        if original is None or not _same_order(original, wanted):
            raise idempotency.reused() from None
        idempotency.replayed(response)
        return Status(200, order_out(original))
    except TradingError as error:
        raise from_refusal(error) from None
    response["Location"] = location(order)
    return Status(201, order_out(order))


def _same_order(order: Order, wanted) -> bool:
    return (
        order.side == wanted.side
        and order.type == wanted.type
        and order.stock_id == wanted.symbol
        and order.quantity == wanted.quantity
        and order.limit_price == wanted.limit_price
        and order.stop_price == wanted.stop_price
        and order.trail_percent == wanted.trail_percent
        and order.trail_amount == wanted.trail_amount
        # A market order is recorded as a day order, whatever duration it was sent with.
        and (order.type == Order.Type.MARKET or order.duration == wanted.duration)
    )


@router.get(
    "/orders",
    response=OrderPage,
    summary="Your orders",
    description="Newest first, filtered as on the orders page.",
)
def list_orders(request, query: Query[OrderQuery]):
    user = student(request)
    form = filter_form(OrderFilterForm, query, ["status", "symbol", "side", "type", "start", "end"])
    rows = selectors.orders_for(user, selectors.OrderFilters(**form.cleaned_data))
    found, next_cursor = pagination.page(
        rows, cursor=query.cursor, limit=query.limit, time_field="created_at"
    )
    return {"data": [order_out(order) for order in found], "next_cursor": next_cursor}


@router.get("/orders/{order_id}", response=OrderOut, summary="One of your orders")
def get_order(request, order_id: int):
    user = student(request)
    order = (
        Order.objects.select_related("trade").filter(user_id=user.pk, pk=row_id(order_id)).first()
    )
    if order is None:
        raise Problem("not_found", "There is no such order among yours.")
    return order_out(order)


@router.delete(
    "/orders/{order_id}",
    response=OrderOut,
    summary="Cancel an open order",
    description="Frees what it holds. An order that is no longer open answers 409.",
)
def delete_order(request, order_id: int):
    user = student(request)
    try:
        order = cancel_order(order_id=row_id(order_id), user=user)
    except TradingError as error:
        raise from_refusal(error) from None
    return order_out(order)


def location(order: Order) -> str:
    return reverse("api:get_order", kwargs={"order_id": order.pk})
