"""Reads for trading pages: the trade history, the order history, the dashboard's open
orders and what an order ticket needs to know.

Each runs a fixed number of queries, however many trades, holdings or symbols there are.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import (
    Case,
    Count,
    DecimalField,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from ledger.models import Balance
from portfolio.models import Holding
from prices.models import Price
from tradesim.money import ZERO, to_cents
from trading.models import Order, Trade

# A sum over many rows can be wider than one row's column.
TOTAL = DecimalField(max_digits=20, decimal_places=2)


@dataclass(frozen=True)
class TradeFilters:
    """What the history page and its CSV export are narrowed to. Empty means everything."""

    symbol: str = ""
    operation: str = ""
    start: date | None = None
    end: date | None = None

    @property
    def active(self) -> bool:
        return bool(self.symbol or self.operation or self.start or self.end)


def _start_of_day(day: date) -> datetime:
    # The class's days (TIME_ZONE), not UTC's.
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


def trades_for(user, filters: TradeFilters | None = None) -> QuerySet[Trade]:
    """The user's trades, newest first, narrowed by `filters` (dates inclusive). A lazy
    queryset: slice it for a page, or stream it with `.iterator(chunk_size=...)`."""
    qs = Trade.objects.filter(user_id=user.pk)
    if filters is not None:
        if filters.symbol:
            qs = qs.filter(stock_id=filters.symbol.upper())
        if filters.operation:
            qs = qs.filter(operation=filters.operation)
        if filters.start:
            qs = qs.filter(timestamp__gte=_start_of_day(filters.start))
        if filters.end:
            qs = qs.filter(timestamp__lt=_start_of_day(filters.end + timedelta(days=1)))
    return qs.order_by("-timestamp", "-id")


BOUGHT = (Trade.Operation.BUY, Trade.Operation.COVER)
SOLD = (Trade.Operation.SELL, Trade.Operation.SHORT)


@dataclass(frozen=True)
class TradeTotals:
    count: int
    realized_pnl: Decimal
    commission: Decimal
    bought: Decimal
    sold: Decimal


def totals_for(user, filters: TradeFilters | None = None) -> TradeTotals:
    """Totals over the filtered trades, in one aggregate query."""

    def total(field, **kw):
        return Coalesce(Sum(field, **kw), Value(ZERO), output_field=TOTAL)

    row = trades_for(user, filters).aggregate(
        count=Count("id"),
        realized_pnl=total("realized_pnl"),
        commission=total("commission"),
        # Covering a short buys shares; selling one short sells them.
        bought=total("total", filter=Q(operation__in=BOUGHT)),
        sold=total("total", filter=Q(operation__in=SOLD)),
    )
    # Rounded to cents: SQLite sums decimals in floating point.
    return TradeTotals(
        count=row["count"],
        realized_pnl=to_cents(row["realized_pnl"]),
        commission=to_cents(row["commission"]),
        bought=to_cents(row["bought"]),
        sold=to_cents(row["sold"]),
    )


@dataclass(frozen=True)
class Cash:
    """A student's cash as an order ticket shows it: all of it, and what their open
    orders hold of it."""

    amount: Decimal
    held: Decimal = ZERO

    @property
    def available(self) -> Decimal:
        """What they can spend now."""
        return self.amount - self.held


def cash_of(user) -> Cash | None:
    """The user's cash, or None without a cash account. One query."""
    row = Balance.objects.filter(user_id=user.pk).values_list("amount", "held").first()
    return Cash(*row) if row is not None else None


@dataclass(frozen=True)
class TicketFunds:
    """What an order ticket for one symbol needs to know of the user: their cash (None
    without a cash account), the shares of the symbol they own and how many of those
    open sell orders hold."""

    cash: Cash | None
    shares: int = 0  # below zero: a short position
    shares_held: int = 0

    @property
    def free_shares(self) -> int:
        """The shares they can sell now (none of a short position)."""
        return max(self.shares - self.shares_held, 0)

    @property
    def short(self) -> int:
        """The shares the user is short (0 unless the position is short)."""
        return max(-self.shares, 0)


def cash_and_shares(user, symbol: str) -> TicketFunds:
    """The user's cash and their shares of `symbol`, in one query."""
    holding = Holding.objects.filter(user_id=OuterRef("user_id"), stock_id=symbol)
    row = (
        Balance.objects.filter(user_id=user.pk)
        .values_list(
            "amount",
            "held",
            Coalesce(Subquery(holding.values("quantity")[:1]), 0),
            Coalesce(Subquery(holding.values("held_quantity")[:1]), 0),
        )
        .first()
    )
    if row is None:
        return TicketFunds(cash=None)
    amount, held, shares, shares_held = row
    return TicketFunds(cash=Cash(amount, held), shares=shares, shares_held=shares_held)


@dataclass(frozen=True)
class SymbolOption:
    symbol: str
    name: str
    price: Decimal
    halted: bool
    held: int  # the shares owned; below zero, the shares the user is short
    held_for_orders: int = 0  # of those, the shares open sell (or buy to cover) orders hold

    @property
    def is_short(self) -> bool:
        return self.held < 0

    @property
    def size(self) -> int:
        """The position's size, owned or short: 50 for "Short 50"."""
        return abs(self.held)

    @property
    def free(self) -> int:
        """The shares that can be sold now, or, of a short position, covered now."""
        return abs(self.held) - self.held_for_orders


def order_options(user, *, side: str) -> list[SymbolOption]:
    """The symbols an order page offers, with live price and shares held. Two queries.

    For a buy or a short sale: every listed symbol. For a sell: the symbols the user owns;
    for a buy to cover: the symbols the user is short."""
    held = {
        symbol: (quantity, on_hold)
        for symbol, quantity, on_hold in Holding.objects.filter(user_id=user.pk)
        .order_by()
        .values_list("stock_id", "quantity", "held_quantity")
    }
    prices = Price.objects.order_by("symbol").only("symbol", "name", "price", "halted")
    if side == Order.Side.SELL:
        prices = prices.filter(symbol__in=[s for s, (q, _) in held.items() if q > 0])
    elif side == Order.Side.BUY_TO_COVER:
        prices = prices.filter(symbol__in=[s for s, (q, _) in held.items() if q < 0])
    return [
        SymbolOption(
            symbol=p.symbol,
            name=p.name,
            price=p.price,
            halted=p.halted,
            held=held.get(p.symbol, (0, 0))[0],
            held_for_orders=held.get(p.symbol, (0, 0))[1],
        )
        for p in prices
    ]


# Orders ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderFilters:
    """What the orders page and its CSV export are narrowed to. Empty means everything;
    the dates are the days the orders were placed, inclusive."""

    status: str = ""
    symbol: str = ""
    side: str = ""
    type: str = ""
    start: date | None = None
    end: date | None = None

    @property
    def active(self) -> bool:
        return bool(self.status or self.symbol or self.side or self.type or self.start or self.end)

    def as_q(self) -> Q:
        q = Q()
        if self.status:
            q &= Q(status=self.status)
        if self.symbol:
            q &= Q(stock_id=self.symbol.upper())
        if self.side:
            q &= Q(side=self.side)
        if self.type:
            q &= Q(type=self.type)
        if self.start:
            q &= Q(created_at__gte=_start_of_day(self.start))
        if self.end:
            q &= Q(created_at__lt=_start_of_day(self.end + timedelta(days=1)))
        return q


def orders_for(user, filters: OrderFilters | None = None) -> QuerySet[Order]:
    """The user's orders, the open ones first, then newest first, each with its trade (one
    query for a page of them). A lazy queryset: slice it for a page, or stream it with
    `.iterator(chunk_size=...)`."""
    qs = Order.objects.filter(user_id=user.pk)
    if filters is not None:
        qs = qs.filter(filters.as_q())
    still_open = Case(
        When(status=Order.Status.OPEN, then=Value(0)), default=Value(1), output_field=IntegerField()
    )
    return qs.select_related("trade").order_by(still_open, "-created_at", "-id")


@dataclass(frozen=True)
class OrderTotals:
    count: int  # the orders the filters match
    open: int  # all the user's open orders, whatever the filters
    held_cash: Decimal  # what those hold
    held_shares: int


def order_totals(user, filters: OrderFilters | None = None) -> OrderTotals:
    """How many orders match `filters`, and the user's open orders and what they hold, in
    one aggregate query."""
    still_open = Q(status=Order.Status.OPEN)
    row = Order.objects.filter(user_id=user.pk).aggregate(
        count=Count("id", filter=filters.as_q() if filters is not None else Q()),
        open=Count("id", filter=still_open),
        held_cash=Coalesce(Sum("held_cash", filter=still_open), Value(ZERO), output_field=TOTAL),
        held_shares=Coalesce(Sum("held_shares", filter=still_open), Value(0)),
    )
    return OrderTotals(
        count=row["count"],
        open=row["open"],
        held_cash=to_cents(row["held_cash"]),
        held_shares=row["held_shares"],
    )


PANEL_SIZE = 5


def open_orders_panel(*, user) -> dict | None:
    """The dashboard's panel of open orders (settings.DASHBOARD_PANELS): the newest
    PANEL_SIZE of the user's open orders and how many there are, in one query; None when
    there are none, so the dashboard shows nothing."""
    rows = list(
        Order.objects.filter(user_id=user.pk, status=Order.Status.OPEN)
        .annotate(open_count=Window(Count("id")))
        .order_by("-created_at", "-id")[:PANEL_SIZE]
    )
    if not rows:
        return None
    return {
        "template": "trading/_open_orders_panel.html",
        "orders": rows,
        "count": rows[0].open_count,
        "more": rows[0].open_count - len(rows),
    }
