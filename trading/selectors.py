"""Reads for trading pages: the trade history, the order history, the dashboard's open
orders and what an order ticket needs to know.

Each runs a fixed number of queries, however many trades, holdings or symbols there are.
"""

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import (
    Case,
    Count,
    DecimalField,
    F,
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

from classrooms.rules import Rulebook
from ledger.models import Balance
from portfolio.models import Holding
from portfolio.selectors import Margin, margin_figures
from prices import quote_cache
from prices.models import Price
from tradesim import rows
from tradesim.money import ZERO, to_cents
from trading.models import MarginCall, Order, Trade
from trading.services import maintenance_requirement

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
    """A student's cash as an order ticket shows it: all of it (below zero: a margin
    loan), what their open orders hold of it, and, for a class with margin, their
    positions' value at the last prices and the margin figures (portfolio.selectors.Margin)
    that `with_margin` works out."""

    amount: Decimal
    held: Decimal = ZERO
    positions_value: Decimal | None = None  # owned, read only for a class with margin
    margin: Margin | None = None
    short_value: Decimal = ZERO  # buying back the short positions, with positions_value

    @property
    def available(self) -> Decimal:
        """What they can spend now."""
        return self.amount - self.held

    def with_margin(self, rules: Rulebook) -> "Cash":
        """This cash with its margin figures, in a class with margin (no query)."""
        if not rules.margin or self.positions_value is None:
            return self
        figures = margin_figures(
            rules,
            cash=self.amount,
            held=self.held,
            positions_value=self.positions_value,
            short_value=self.short_value,
        )
        return replace(self, margin=figures)


def _positions_value(*, short: bool = False) -> Coalesce:
    """Σ |quantity| × last price of the outer balance's user's long holdings (with `short`,
    of their short ones: what buying them back costs): a subquery of the same query."""
    value = (
        Holding.objects.filter(
            user_id=OuterRef("user_id"), **({"quantity__lt": 0} if short else {"quantity__gt": 0})
        )
        .order_by()
        .values("user_id")
        .annotate(
            value=Sum(
                (-F("quantity") if short else F("quantity")) * F("stock__price"),
                output_field=TOTAL,
            )
        )
        .values("value")
    )
    return Coalesce(Subquery(value, output_field=TOTAL), Value(ZERO), output_field=TOTAL)


def cash_of(user, *, rules: Rulebook | None = None) -> Cash | None:
    """The user's cash, or None without a cash account. One query; with the `rules` of a
    class with margin, the same query reads the positions' value, and the cash comes with
    its margin figures."""
    fields = ["amount", "held"]
    if rules is not None and rules.margin:
        fields.extend([_positions_value(), _positions_value(short=True)])
    row = Balance.objects.filter(user_id=user.pk).values_list(*fields).first()
    if row is None:
        return None
    return _cash(row, rules)


def _cash(row, rules: Rulebook | None) -> Cash:
    amount, held, *positions = row
    if not positions:
        return Cash(amount, held)
    long_value, short_value = (to_cents(value) for value in positions)
    return Cash(amount, held, positions_value=long_value, short_value=short_value).with_margin(
        rules
    )


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


def cash_and_shares(user, symbol: str, *, rules: Rulebook | None = None) -> TicketFunds:
    """The user's cash and their shares of `symbol`, in one query; with the `rules` of a
    class with margin, the cash's margin figures too (as cash_of)."""
    holding = Holding.objects.filter(user_id=OuterRef("user_id"), stock_id=symbol)
    fields = [
        Coalesce(Subquery(holding.values("quantity")[:1]), 0),
        Coalesce(Subquery(holding.values("held_quantity")[:1]), 0),
        "amount",
        "held",
    ]
    if rules is not None and rules.margin:
        fields.extend([_positions_value(), _positions_value(short=True)])
    row = Balance.objects.filter(user_id=user.pk).values_list(*fields).first()
    if row is None:
        return TicketFunds(cash=None)
    shares, shares_held, *cash = row
    return TicketFunds(cash=_cash(cash, rules), shares=shares, shares_held=shares_held)


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
    held = ticket_holdings(user)
    # Tuples, not models: a buy lists every symbol, thousands on a large market.
    prices = Price.objects.order_by("symbol").values_list("symbol", "name", "price", "halted")
    if side == Order.Side.SELL:
        prices = prices.filter(symbol__in=[s for s, (q, _) in held.items() if q > 0])
    elif side == Order.Side.BUY_TO_COVER:
        prices = prices.filter(symbol__in=[s for s, (q, _) in held.items() if q < 0])
    none = (0, 0)
    return [
        SymbolOption(symbol, name, price, halted, *held.get(symbol, none))
        for symbol, name, price, halted in prices
    ]


def ticket_holdings(user) -> dict[str, tuple[int, int]]:
    """symbol → (shares held, of them held for open orders), of every position. One query."""
    return {
        symbol: (quantity, on_hold)
        for symbol, quantity, on_hold in Holding.objects.filter(user_id=user.pk)
        .order_by()
        .values_list("stock_id", "quantity", "held_quantity")
    }


def market_mark() -> str:
    """What changes whenever the listed symbols or their prices do: the quote cache's
    generation, a new one at each tick, halt or listing (prices.quote_cache). No query; a
    page may keep what it made of the market while the mark stays the same, as the quote
    cache keeps quotes."""
    return quote_cache.generation()


def listed_options() -> list[SymbolOption]:
    """Every listed symbol as a ticket offers it to someone who holds none. One query."""
    prices = Price.objects.order_by("symbol").values_list("symbol", "name", "price", "halted")
    return [SymbolOption(*row, held=0) for row in prices]


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


# Margin calls ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MarginCallNotice:
    """What the banner on every page says of the student's margin call: an open one, with
    the equity and requirement now; or one liquidated this simulated day, with the figures
    at the call."""

    status: str
    equity: Decimal
    requirement: Decimal
    percent: Decimal  # the class's maintenance margin
    due_day: int
    sells_at_once: bool  # the class gives 0 days: positions are (being) sold at the call
    past_due: bool  # open, past its day: waiting for a halted symbol's trading to resume
    today: int  # the simulated trading day (prices.selectors.market_day's number)

    @property
    def liquidated(self) -> bool:
        return self.status == MarginCall.Status.LIQUIDATED

    @property
    def message(self) -> str:
        """ "Margin call: your equity is $4,000.00, below the $4,200.00 your class requires
        (30 % of your positions). Deposit cash or sell by the close of day 3, or …" """
        return f"Margin call: {self.text}"

    @property
    def text(self) -> str:
        """The message after its "Margin call:"."""
        share = f"{_percent(self.percent)} % of your positions"
        if self.liquidated:
            return (
                f"your equity was {_dollars(self.equity)}, below the "
                f"{_dollars(self.requirement)} your class requires ({share}), so positions "
                "were sold for you at the market, largest first."
            )
        if self.equity >= self.requirement:  # a deposit or a sale since the last tick
            return (
                f"your equity of {_dollars(self.equity)} is back at the "
                f"{_dollars(self.requirement)} your class requires ({share}): the call "
                "closes at the market's next tick."
            )
        head = (
            f"your equity is {_dollars(self.equity)}, below the "
            f"{_dollars(self.requirement)} your class requires ({share})."
        )
        if self.sells_at_once or self.past_due:
            return (
                f"{head} Positions were sold for you, largest first; a halted symbol's are "
                "sold when its trading resumes, unless you deposit cash first."
            )
        return (
            f"{head} Deposit cash or sell by the close of day {self.due_day} (today is day "
            f"{self.today}), or positions will be sold for you, largest first."
        )


def _dollars(amount: Decimal) -> str:
    return f"-${-amount:,.2f}" if amount < 0 else f"${amount:,.2f}"


def _percent(value: Decimal) -> str:
    return f"{value.normalize():f}"


# One statement: the open call (the partial unique index margin_calls_one_open_per_user
# finds it), or the latest one liquidated since the simulated day began, with the class's
# maintenance margin, the cash and the positions at the market now, and the day.
_NOTICE_SQL = f"""
SELECT m.status, m.equity, m.requirement, m.opened_day, m.due_day, b.amount,
       (SELECT SUM(h.quantity * p.price) FROM holdings h JOIN prices p ON p.symbol = h.symbol
        WHERE h.user_id = m.user_id),
       c.maintenance_margin_percent, s.trading_day
FROM margin_calls m
JOIN balances b ON b.user_id = m.user_id
JOIN users u ON u.id = m.user_id
LEFT JOIN accounts_classroom c ON c.id = u.classroom_id
LEFT JOIN market_state s ON s.id = 1
WHERE m.user_id = %s
  AND (m.status = '{MarginCall.Status.OPEN}'
       OR (m.status = '{MarginCall.Status.LIQUIDATED}' AND m.liquidated_at >= s.day_started_at))
ORDER BY CASE WHEN m.status = '{MarginCall.Status.OPEN}' THEN 0 ELSE 1 END, m.id DESC
LIMIT 1
"""  # noqa: S608 (constants only)


def margin_call_notice(user_id: int) -> MarginCallNotice | None:
    """The student's margin call to show on every page, or None: one query."""
    found = rows.fetch_one(_NOTICE_SQL, [user_id])
    if found is None:
        return None
    status, equity, requirement, opened_day, due_day, cash, long_value, percent, trading_day = found
    percent = rows.decimal(percent, 2) if percent is not None else Decimal("0")
    if status == MarginCall.Status.OPEN:
        long_value = to_cents(rows.decimal(long_value, 2) or ZERO)
        equity = rows.decimal(cash, 2) + long_value
        requirement = maintenance_requirement(percent, long_value)
    day = (trading_day or 0) + 1  # prices.selectors.market_day's number
    return MarginCallNotice(
        status=status,
        equity=rows.decimal(equity, 2),
        requirement=rows.decimal(requirement, 2),
        percent=percent,
        due_day=int(due_day),
        sells_at_once=due_day == opened_day,
        past_due=status == MarginCall.Status.OPEN and day > due_day,
        today=day,
    )
