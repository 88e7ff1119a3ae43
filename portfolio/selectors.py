"""Reads about portfolios: valuation, P/L, allocation, performance and the leaderboard.

Every function here runs a fixed number of queries whatever the number of holdings,
snapshots or students, and returns evaluated data.

Money comes out as Decimal. Cash is the balance row; market value is Σ quantity × the
symbol's current price, signed: a short position (quantity below zero) counts below zero,
what buying it back costs, so the total value (cash + market value) is the equity, cash +
long value − short value; net contributions are the external flows of the cash journal
(deposits, instructor grants and reset credits in; withdrawals and reset debits out). Buys,
sells and fees are internal: a fee lowers the value and so the return.

Performance over time comes from snapshots (portfolio.models.PortfolioSnapshot) that the
market ticker writes in bulk (portfolio.services.after_tick), not from rebuilding the past
out of trades and price history: a snapshot is one cheap row per student per N ticks, the
chart and the leaderboard read it directly, and the unit value it carries (see
portfolio.units) turns the time-weighted return into one number per student.
"""

import functools
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.contrib.auth import get_user_model
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import (
    Aggregate,
    Avg,
    Case,
    Count,
    DateTimeField,
    DecimalField,
    F,
    FloatField,
    Func,
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
from django.db.models.functions import Coalesce, Greatest, Rank, Round, RowNumber
from django.utils import timezone

from classrooms.describe import RANKING_TERMS
from classrooms.models import Classroom
from classrooms.rules import MarginAccount, Rulebook, buying_power
from ledger.models import Transaction
from portfolio.models import Holding, PortfolioSnapshot
from portfolio.units import HALF_CENT, ONE, UnitState, drawdown, live_unit_value
from prices.models import MarketState, Price, PriceHistory
from prices.selectors import session_at, sessions_label
from tradesim.charts import axis_labels
from tradesim.money import ZERO, to_cents

INFLOW_TYPES = (Transaction.Type.DEPOSIT, Transaction.Type.GRANT, Transaction.Type.RESET_CREDIT)
OUTFLOW_TYPES = (Transaction.Type.WITHDRAWAL, Transaction.Type.RESET_DEBIT)
FLOW_TYPES = INFLOW_TYPES + OUTFLOW_TYPES

MONEY = DecimalField(max_digits=15, decimal_places=2)
RATIO = DecimalField(max_digits=20, decimal_places=8)
HUNDRED = Decimal("100")
PCT_PLACES = Decimal("0.01")
RECENT_ACTIVITY = 10
HISTORY_POINTS = 500  # the chart shows the most recent snapshots, plus "now"
CASH_LABEL = "Cash"

_SUMMARY_FIELDS = {
    "units": "portfolio_summary__units",
    "unit_value": "portfolio_summary__unit_value",
    "peak_unit_value": "portfolio_summary__peak_unit_value",
    "max_drawdown": "portfolio_summary__max_drawdown",
    "contributions": "portfolio_summary__contributions_at_snapshot",
    "snapshot_at": "portfolio_summary__snapshot_at",
}


def percent(part: Decimal, whole: Decimal) -> Decimal | None:
    """part / whole as a percentage to two places; None when there is no whole."""
    if not whole:
        return None
    return (part / whole * HUNDRED).quantize(PCT_PLACES, rounding=ROUND_HALF_UP)


def ratio_percent(ratio: Decimal) -> Decimal:
    """0.125 → 12.50 (%)."""
    return (ratio * HUNDRED).quantize(PCT_PLACES, rounding=ROUND_HALF_UP)


# SQL building blocks ---------------------------------------------------------------------


class Ratio(Func):
    """a / b, NULL when b is 0. SQLite keeps whole amounts in NUMERIC columns as integers and
    would divide them as integers (11000 / 10000 = 1), so there the dividend becomes REAL."""

    arity = 2
    output_field = RATIO

    def as_sql(self, compiler, connection, **extra_context):
        dividend, divisor = self.get_source_expressions()
        a_sql, a_params = compiler.compile(dividend)
        b_sql, b_params = compiler.compile(divisor)
        if connection.vendor == "sqlite":
            a_sql = f"CAST({a_sql} AS REAL)"
        return f"({a_sql} / NULLIF({b_sql}, 0))", (*a_params, *b_params)


def students() -> QuerySet:
    """The users who have a portfolio to rank and snapshot: active, with a cash account,
    neither staff nor superusers."""
    return get_user_model().objects.filter(
        is_active=True, is_staff=False, is_superuser=False, balance__isnull=False
    )


def _per_user_sum(rows: QuerySet, amount) -> Coalesce:
    """Σ amount over `rows` of the outer query's user, 0 when there are none."""
    total = (
        rows.filter(user=OuterRef("pk"))
        .order_by()
        .values("user")
        .annotate(total=Sum(amount, output_field=MONEY))
        .values("total")
    )
    return Coalesce(Subquery(total, output_field=MONEY), Value(ZERO), output_field=MONEY)


def market_value_expression(*, prices_before: datetime | None = None) -> Coalesce:
    """Σ quantity × price of the outer user's holdings: at the current prices, or at the last
    prices recorded in the price history before `prices_before` (the current price for a
    symbol with no history that old)."""
    price = F("stock__price")
    if prices_before is not None:
        earlier = (
            PriceHistory.objects.filter(stock_id=OuterRef("stock_id"), timestamp__lt=prices_before)
            .order_by("-timestamp")
            .values("price")[:1]
        )
        price = Coalesce(Subquery(earlier, output_field=MONEY), F("stock__price"))
    return _per_user_sum(Holding.objects.all(), F("quantity") * price)


def flow_total_expression(types=FLOW_TYPES, *, signed: bool = True) -> Coalesce:
    """Σ of the outer user's journal rows of `types`: inflows positive and outflows negative
    when `signed` (net contributions, by default), plain amounts otherwise."""
    amount = F("amount")
    if signed:
        amount = Case(
            When(type__in=INFLOW_TYPES, then=F("amount")),
            default=-F("amount"),
            output_field=MONEY,
        )
    return _per_user_sum(Transaction.objects.filter(type__in=types), amount)


def dividends_expression(*, today: bool = False) -> Coalesce:
    """Σ the outer user's dividends received less the dividends charged on their shorts;
    with `today`, those of the current simulated trading day only (since its first tick)."""
    amount = Case(
        When(type=Transaction.Type.DIVIDEND, then=F("amount")),
        default=-F("amount"),
        output_field=MONEY,
    )
    rows = Transaction.objects.filter(
        type__in=[Transaction.Type.DIVIDEND, Transaction.Type.DIVIDEND_CHARGE]
    )
    if today:
        day_started_at = MarketState.objects.filter(id=1).values("day_started_at")[:1]
        rows = rows.filter(timestamp__gte=Subquery(day_started_at))
    return _per_user_sum(rows, amount)


def valued(users: QuerySet, *, all_at_once: bool = False) -> QuerySet:
    """`users` annotated with cash, market_value, total_value and net_contributions.

    By default each user's sums are subqueries of their own rows (through the indexes on
    user): cheap for one user or a page of them. `all_at_once` reads them from the
    portfolio_valuations view instead, which sums every user's holdings and flows in one
    grouped pass: for a query over all students (ranking, snapshots), where a subquery
    per student, repeated wherever the value is referenced, costs many times more."""
    if all_at_once:
        sums = {
            "market_value": Coalesce(F("valuation__market_value"), Value(ZERO), output_field=MONEY),
            "net_contributions": Coalesce(
                F("valuation__net_contributions"), Value(ZERO), output_field=MONEY
            ),
        }
    else:
        sums = {
            "market_value": market_value_expression(),
            "net_contributions": flow_total_expression(),
        }
    return users.annotate(
        cash=Coalesce(F("balance__amount"), Value(ZERO), output_field=MONEY), **sums
    ).annotate(total_value=F("cash") + F("market_value"))


def live_unit_value_expression() -> Greatest:
    """The SQL twin of portfolio.units.live_unit_value, over a `valued` queryset."""
    no_snapshot = Q(portfolio_summary__snapshot_at__isnull=True)
    flows = F("net_contributions") - F("portfolio_summary__contributions_at_snapshot")
    value = Case(
        When(
            no_snapshot & Q(net_contributions__gt=0), then=Ratio("total_value", "net_contributions")
        ),
        When(no_snapshot, then=Value(ONE)),
        When(
            portfolio_summary__units__gt=0,
            then=Ratio(F("total_value") - flows, "portfolio_summary__units"),
        ),
        default=F("portfolio_summary__unit_value"),
        output_field=RATIO,
    )
    return Greatest(value, Value(ZERO), output_field=RATIO)


def _unit_state(row: dict) -> UnitState:
    if row.get("snapshot_at") is None:
        return UnitState()
    return UnitState(
        units=row["units"],
        unit_value=row["unit_value"],
        peak_unit_value=row["peak_unit_value"],
        max_drawdown=row["max_drawdown"],
        contributions=row["contributions"],
        started=True,
    )


# One student -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Position:
    symbol: str
    name: str
    sector: str
    halted: bool
    quantity: int
    average_cost: Decimal
    price: Decimal
    previous_close: Decimal
    cost_basis: Decimal
    market_value: Decimal
    unrealized_pnl: Decimal
    unrealized_pnl_pct: Decimal | None
    day_change: Decimal
    day_change_pct: Decimal | None  # of what the holding started the day at
    weight: Decimal | None  # % of what is held (a short: % of the short positions' value)
    bought_today: int = 0  # of `quantity`, in the current trading day (holding_day_change)
    held_quantity: int = 0  # of `quantity`, set aside for open sell orders

    @property
    def is_short(self) -> bool:
        """Shares sold short: a negative quantity, valued as a liability (market value below
        zero: what buying them back costs) and its P/L (average short price − price) × shares."""
        return self.quantity < 0


@dataclass(frozen=True)
class Slice:
    label: str
    value: Decimal
    weight: Decimal | None  # % of what the student holds (Overview.holds)


@dataclass(frozen=True)
class Margin:
    """A margin account at a glance, in a class with margin on (classrooms.rules): what a
    new buy may cost, the loan (cash below zero), the equity (the total value) and the
    margin level, equity ÷ the positions' market value, beside the class's margins."""

    initial_percent: Decimal
    maintenance_percent: Decimal
    buying_power: Decimal
    loan: Decimal
    equity: Decimal
    positions_value: Decimal  # the long and the short positions' value, both counted
    level: Decimal | None  # %, to two places; None without positions
    short_value: Decimal = ZERO  # of `positions_value`, the short positions' (buying them back)

    @property
    def long_value(self) -> Decimal:
        return self.positions_value - self.short_value

    @property
    def cash(self) -> Decimal:
        return self.equity - self.long_value + self.short_value

    @property
    def below_maintenance(self) -> bool:
        return self.level is not None and self.level < self.maintenance_percent

    @property
    def below_initial(self) -> bool:
        """Equity too thin to borrow more (the buying power is the free cash at most)."""
        return self.level is not None and self.level < self.initial_percent


def margin_figures(
    rules: Rulebook,
    *,
    cash: Decimal,
    held: Decimal,
    positions_value: Decimal,
    short_value: Decimal = ZERO,
) -> Margin | None:
    """The Margin of an account with `cash` (below zero: a loan), `held` of it set aside
    for open buys, `positions_value` of shares owned and `short_value` of shares sold short
    at the last prices (both ≥ 0); None when the class has no margin. No query."""
    if not rules.margin:
        return None
    account = MarginAccount(
        cash=cash, held=held, long_value=positions_value, short_value=short_value
    )
    return Margin(
        initial_percent=rules.initial_margin_percent,
        maintenance_percent=rules.maintenance_margin_percent,
        buying_power=buying_power(rules, account),
        loan=account.loan,
        equity=account.equity,
        positions_value=account.positions,
        level=percent(account.equity, account.positions) if account.positions > 0 else None,
        short_value=short_value,
    )


@dataclass(frozen=True)
class Overview:
    """Everything "How am I doing?" needs, as of now."""

    has_account: bool
    cash: Decimal
    held: Decimal  # of `cash`, set aside for open buy orders (balances.held)
    positions: list[Position]
    market_value: Decimal
    cost_basis: Decimal
    total_value: Decimal
    contributed: Decimal  # gross inflows: starting cash, deposits, grants, reset credits
    withdrawn: Decimal  # gross outflows: withdrawals, reset debits
    net_contributions: Decimal
    fees: Decimal
    total_return: Decimal  # total value − net contributions: price gains, dividends, all
    total_return_pct: Decimal | None  # of net contributions
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    unrealized_pnl_pct: Decimal | None  # of the cost of what is held
    day_change: Decimal
    day_change_pct: Decimal | None  # of the total value at the day's start (or at purchase)
    cash_weight: Decimal | None
    by_symbol: list[Slice]
    by_sector: list[Slice]
    unit_state: UnitState
    unit_value: Decimal  # now
    twr_pct: Decimal  # time-weighted return since the start, %
    max_drawdown_pct: Decimal  # worst fall of the unit value from a peak, %
    margin: Margin | None = None  # in a class with margin on
    long_value: Decimal = ZERO  # the positions owned (market_value = long − short value)
    short_value: Decimal = ZERO  # what buying back the short positions costs now, ≥ 0
    shorts: tuple[Slice, ...] = ()  # the short positions, apart from the allocation's slices
    short_buying_power: Decimal | None = None  # with shorts in a class without margin
    # Dividends received less those charged on short positions: cash, so already in the
    # total value and the total return; shown apart from the price gains.
    dividends: Decimal = ZERO

    @property
    def is_empty(self) -> bool:
        return not self.positions

    @property
    def has_shorts(self) -> bool:
        return bool(self.shorts)

    @property
    def gross_cost(self) -> Decimal:
        """What the unrealized P/L % is of: the long positions' cost and the short
        positions' proceeds, both counted (for longs alone, the cost basis)."""
        return sum((abs(p.cost_basis) for p in self.positions), ZERO)

    @property
    def free_cash(self) -> Decimal:
        """What the student can spend now: their cash less what open orders hold."""
        return self.cash - self.held

    @property
    def loan(self) -> Decimal:
        """The margin loan: cash below zero, as a positive amount."""
        return max(-self.cash, ZERO)

    @property
    def holds(self) -> Decimal:
        """What the weights are shares of: the long positions and the cash, or with a
        margin loan the long positions alone (a loan is owed, not held, and has no slice;
        nor has a short position, which is owed shares)."""
        return self.long_value + max(self.cash, ZERO)

    @property
    def buying_power(self) -> Decimal:
        """What a new buy may cost: the free cash, or with margin equity ÷ the initial
        margin less what the positions and open buys use (classrooms.rules.buying_power);
        with short positions, their proceeds are not free (the same rule's figure)."""
        if self.margin is not None:
            return self.margin.buying_power
        if self.short_buying_power is not None:
            return self.short_buying_power
        return max(self.free_cash, ZERO)


def _account_row(user) -> dict:
    summary = {name: F(path) for name, path in _SUMMARY_FIELDS.items()}
    row = (
        get_user_model()
        .objects.filter(pk=user.pk)
        .values(
            cash=F("balance__amount"),
            held=F("balance__held"),
            contributed=flow_total_expression(INFLOW_TYPES, signed=False),
            withdrawn=flow_total_expression(OUTFLOW_TYPES, signed=False),
            fees=flow_total_expression([Transaction.Type.FEE], signed=False),
            dividends=dividends_expression(),
            dividends_today=dividends_expression(today=True),
            realized_pnl=Coalesce(
                F("portfolio_summary__realized_pnl"), Value(ZERO), output_field=MONEY
            ),
            # The class's margin rules, joined here rather than read apart: the dashboard's
            # live part and the API read no class of their own.
            margin=F("classroom__margin"),
            initial_margin_percent=F("classroom__initial_margin_percent"),
            maintenance_margin_percent=F("classroom__maintenance_margin_percent"),
            **summary,
        )
        .first()
    )
    return row or {}


def _margin_rules(row: dict) -> Rulebook:
    if not row.get("margin"):
        # Short positions need the initial margin with margin off too (buying_power).
        initial = row.get("initial_margin_percent") or Rulebook.initial_margin_percent
        return Rulebook(initial_margin_percent=initial)
    return Rulebook(
        margin=True,
        initial_margin_percent=row["initial_margin_percent"],
        maintenance_margin_percent=row["maintenance_margin_percent"],
    )


def _holdings(user) -> list[tuple]:
    """The user's holdings with their prices, how many of each were bought in the current
    trading day and at what average price (0 and None when none were), and how many open
    sell orders hold."""
    day_started_at = MarketState.objects.filter(id=1).values("day_started_at")[:1]
    # No market clock yet (no market_state row): every recorded purchase is today's, as
    # portfolio.services counts them.
    today = Q(day_bought_at__gte=Coalesce(Subquery(day_started_at), F("day_bought_at")))
    return list(
        Holding.objects.filter(user_id=user.pk)
        .annotate(
            bought_today=Case(
                When(today, then=F("day_quantity")), default=Value(0), output_field=IntegerField()
            )
        )
        .order_by("stock_id")
        .values_list(
            "stock_id",
            "stock__name",
            "stock__sector",
            "stock__halted",
            "quantity",
            "average_price",
            "stock__price",
            "stock__previous_close",
            "bought_today",
            "day_average_price",
            "held_quantity",
        )
    )


def holding_day_change(
    *, quantity: int, price: Decimal, previous_close: Decimal, bought_today: int, paid: Decimal
) -> tuple[Decimal, Decimal | None]:
    """A holding's change over the current trading day, in dollars (to the cent) and as a %
    of what it started the day at: the shares held when the day began count from the
    previous close, the `bought_today` shares bought since from `paid`, their average price
    (buying is not a gain or a loss). `bought_today` are the ones still held: a sale takes
    the shares held longest first.

    A short position (`quantity` below zero) alike, with the short's sign: `bought_today`
    are the shares shorted today (a positive count) at `paid`, their average short price;
    a rise in price is a loss, and the % is of the amount the short started the day at."""
    sign = -1 if quantity < 0 else 1
    bought_today = min(bought_today, quantity * sign) * sign if paid is not None else 0
    start = previous_close * (quantity - bought_today) + (paid or ZERO) * bought_today
    change = price * quantity - start
    return to_cents(change), percent(change, abs(start))


def portfolio_overview(user) -> Overview:
    """The user's cash, positions, totals, P/L, allocation and performance now.

    Two queries whatever the number of holdings: the account row (balance, journal totals,
    the summary and the class's margin rules) and the holdings with their prices. Weights
    are shares of what the student holds (`Overview.holds`): the long positions and the
    cash, as a slice of its own; with a margin loan (cash below zero), the long positions'
    value, and the loan is no slice: a doughnut cannot draw a negative part, and weights of
    the equity would run past 100 % (150 % of shares, −50 % of cash). The total value is cash
    plus positions all the same, and below zero when the loan is more than the shares are
    worth.

    A short position (negative quantity) is a liability: its market value is below zero
    (what buying the shares back costs), so the total value is cash + long value − short
    value, the equity. Shorts are no slice either: they are listed apart (`shorts`), each
    weighed as a share of the short positions' value."""
    row = _account_row(user)
    cash = row.get("cash")
    has_account = cash is not None
    cash = cash if has_account else ZERO

    held = []
    for holding in _holdings(user):
        qty, avg, price = holding[4:7]
        held.append((*holding, to_cents(avg * qty), to_cents(price * qty)))
    long_value = sum((h[-1] for h in held if h[-1] > 0), ZERO)
    short_value = -sum((h[-1] for h in held if h[-1] < 0), ZERO)
    market_value = long_value - short_value
    cost_basis = sum((h[-2] for h in held), ZERO)
    gross_cost = sum((abs(h[-2]) for h in held), ZERO)
    total_value = cash + market_value
    holds = long_value + max(cash, ZERO)

    positions = []
    by_sector: dict[str, Decimal] = {}
    for *holding, cost, value in held:
        symbol, name, sector, halted, qty, avg, price, prev, today, paid, on_hold = holding
        day, day_pct = holding_day_change(
            quantity=qty, price=price, previous_close=prev, bought_today=today, paid=paid
        )
        positions.append(
            Position(
                symbol=symbol,
                name=name,
                sector=sector,
                halted=halted,
                quantity=qty,
                average_cost=avg,
                price=price,
                previous_close=prev,
                cost_basis=cost,
                market_value=value,
                unrealized_pnl=value - cost,
                unrealized_pnl_pct=percent(value - cost, abs(cost)),
                day_change=day,
                day_change_pct=day_pct,
                weight=percent(-value, short_value) if qty < 0 else percent(value, holds),
                bought_today=min(today, abs(qty)) if paid is not None else 0,
                held_quantity=on_hold,
            )
        )
        if qty > 0:
            by_sector[sector] = by_sector.get(sector, ZERO) + value

    def slices(values: dict[str, Decimal]) -> list[Slice]:
        ordered = sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))
        if cash > 0:
            ordered.append((CASH_LABEL, cash))
        return [Slice(label, value, percent(value, holds)) for label, value in ordered]

    shorts = tuple(
        sorted(
            (Slice(p.symbol, p.market_value, p.weight) for p in positions if p.is_short),
            key=lambda s: (s.value, s.label),
        )
    )
    contributed = row.get("contributed", ZERO)
    withdrawn = row.get("withdrawn", ZERO)
    net = contributed - withdrawn
    unrealized = market_value - cost_basis
    # The day's change of the whole account: the positions' moves and the dividends the
    # day paid (an ex-dividend drop is a position's loss and as much cash in).
    day_change = sum((p.day_change for p in positions), ZERO) + row.get("dividends_today", ZERO)
    state = _unit_state(row)
    unit_value = live_unit_value(state, total_value=total_value, net_contributions=net)
    peak = max(state.peak_unit_value, unit_value)
    worst = max(state.max_drawdown, drawdown(peak, unit_value))
    day_start = total_value - day_change
    rules = _margin_rules(row)
    held_cash = row.get("held") or ZERO
    return Overview(
        has_account=has_account,
        cash=cash,
        held=held_cash,
        positions=positions,
        market_value=market_value,
        cost_basis=cost_basis,
        total_value=total_value,
        contributed=contributed,
        withdrawn=withdrawn,
        net_contributions=net,
        fees=row.get("fees", ZERO),
        dividends=row.get("dividends", ZERO),
        total_return=total_value - net,
        total_return_pct=percent(total_value - net, net) if net > 0 else None,
        realized_pnl=row.get("realized_pnl", ZERO),
        unrealized_pnl=unrealized,
        # Of what the positions cost, long and short both counted.
        unrealized_pnl_pct=percent(unrealized, gross_cost),
        day_change=day_change,
        # Of a leveraged account's equity; none of an equity at or below zero.
        day_change_pct=percent(day_change, day_start) if day_start > 0 else None,
        cash_weight=percent(cash, holds) if cash >= 0 else None,
        by_symbol=slices({p.symbol: p.market_value for p in positions if not p.is_short}),
        by_sector=slices(by_sector),
        unit_state=state,
        unit_value=unit_value,
        twr_pct=ratio_percent(unit_value - ONE),
        max_drawdown_pct=ratio_percent(worst),
        margin=margin_figures(
            rules,
            cash=cash,
            held=held_cash,
            positions_value=long_value,
            short_value=short_value,
        ),
        long_value=long_value,
        short_value=short_value,
        shorts=shorts,
        short_buying_power=(
            buying_power(
                rules,
                MarginAccount(
                    cash=cash, held=held_cash, long_value=long_value, short_value=short_value
                ),
            )
            if short_value and not rules.margin
            else None
        ),
    )


def recent_activity(user, *, limit: int = RECENT_ACTIVITY) -> list[Transaction]:
    """The user's newest journal rows (trades' cash, deposits, fees…), newest first."""
    return list(Transaction.objects.filter(user_id=user.pk).order_by("-timestamp", "-id")[:limit])


@dataclass(frozen=True)
class ValueHistory:
    """The value-over-time chart: one point per snapshot, then "now".

    `performance` is the unit value and `index` the market index, both rebased to 100 at
    the first point, so a line above the index beat the market whatever was deposited;
    `total_value` is the plain dollar value. Lists hold None where there is no number."""

    labels: list[str]  # the time axis's, in the site's time zone (tradesim.charts)
    span: str  # "This session", "Last 3 sessions"; "" before any session on record
    timestamps: list[datetime]
    performance: list[Decimal | None]
    index: list[Decimal | None]
    total_value: list[Decimal]
    index_symbol: str | None
    index_name: str | None
    performance_change_pct: Decimal | None
    index_change_pct: Decimal | None

    @property
    def has_history(self) -> bool:
        return len(self.timestamps) > 1


def _rebased(values: list[Decimal | None]) -> list[Decimal | None]:
    base = next((v for v in values if v), None)
    if base is None:
        return [None] * len(values)
    return [None if v is None else (v / base * HUNDRED).quantize(PCT_PLACES) for v in values]


def value_history(user, overview: Overview, *, limit: int = HISTORY_POINTS) -> ValueHistory:
    """The user's snapshots (the most recent `limit`) and the market index at each, plus the
    live point from `overview`. Two queries: the index symbol, and the snapshots with the
    index's last recorded price at or before each one."""
    index = Price.objects.filter(is_index=True).order_by("symbol").values("symbol", "name", "price")
    index = index.first()
    snapshots = PortfolioSnapshot.objects.filter(user_id=user.pk).annotate(
        session=session_at(OuterRef("timestamp")), current_session=session_at(None)
    )
    if index:
        snapshots = snapshots.annotate(
            index_price=Subquery(
                PriceHistory.objects.filter(
                    stock_id=index["symbol"], timestamp__lte=OuterRef("timestamp")
                )
                .order_by("-timestamp")
                .values("price")[:1]
            )
        )
    else:
        snapshots = snapshots.annotate(index_price=Value(None, output_field=MONEY))
    rows = list(
        snapshots.order_by("-timestamp").values_list(
            "timestamp", "unit_value", "total_value", "index_price", "session", "current_session"
        )[:limit]
    )
    rows.reverse()
    # The span in trading sessions, from the first snapshot's to the current one.
    first_session, current = (rows[0][4], rows[0][5]) if rows else (None, None)
    span = sessions_label(current - first_session + 1) if first_session and current else ""
    rows = [row[:4] for row in rows]
    now = timezone.now()
    rows.append((now, overview.unit_value, overview.total_value, index["price"] if index else None))
    timestamps = [r[0] for r in rows]
    performance = _rebased([r[1] for r in rows])
    index_series = _rebased([r[3] for r in rows])

    def change(series):
        known = [v for v in series if v is not None]
        return (known[-1] - HUNDRED).quantize(PCT_PLACES) if len(known) > 1 else None

    return ValueHistory(
        labels=[*axis_labels(timestamps)[:-1], "Now"],
        span=span,
        timestamps=timestamps,
        performance=performance,
        index=index_series,
        total_value=[r[2] for r in rows],
        index_symbol=index["symbol"] if index else None,
        index_name=index["name"] if index else None,
        performance_change_pct=change(performance),
        index_change_pct=change(index_series),
    )


# All students ----------------------------------------------------------------------------


def snapshot_valuations(
    *, prices_before: datetime | None = None, only_with_flows: bool = False, before=None
) -> list[dict]:
    """One row per student for a snapshot, in one query: cash, market value (and, with
    `prices_before`, the market value at the prices before that moment), net contributions
    and the unit-value state of the last snapshot.

    `only_with_flows` keeps the students with external flows not yet turned into units, and
    those never snapshotted; `before` skips the students already snapshotted at or after it.
    """
    rows = valued(students(), all_at_once=True)
    if prices_before is not None:
        rows = rows.annotate(
            market_value_before=market_value_expression(prices_before=prices_before)
        )
    if before is not None:
        rows = rows.filter(
            Q(portfolio_summary__snapshot_at__isnull=True)
            | Q(portfolio_summary__snapshot_at__lt=before)
        )
    if only_with_flows:
        # A tolerance, not equality: on SQLite the journal sum is a float.
        rows = rows.annotate(
            unconverted=F("net_contributions") - F("portfolio_summary__contributions_at_snapshot")
        ).filter(
            Q(portfolio_summary__snapshot_at__isnull=True)
            | Q(unconverted__gte=HALF_CENT)
            | Q(unconverted__lte=-HALF_CENT)
        )
    fields = ["pk", "cash", "market_value", "net_contributions"]
    if prices_before is not None:
        fields.append("market_value_before")
    summary = {name: F(path) for name, path in _SUMMARY_FIELDS.items()}
    summary["regular_unit_value"] = F("portfolio_summary__regular_unit_value")
    return [
        {**row, "state": _unit_state(row)} for row in rows.order_by("pk").values(*fields, **summary)
    ]


# The leaderboard ---------------------------------------------------------------------------


class SampleStdDev(Aggregate):
    """The sample standard deviation (n − 1) of a numeric column; NULL for fewer than two
    values. PostgreSQL has STDDEV_SAMP. SQLite has no such function (Django adds one in
    Python that fails on a group of one), so there it is
    √(max(Σx² − (Σx)²/n, 0) / (n − 1)), in floating point."""

    function = "STDDEV_SAMP"
    name = "SampleStdDev"
    output_field = FloatField()

    def as_sqlite(self, compiler, connection, **extra_context):
        column = self.get_source_expressions()[0]
        x, params = compiler.compile(column)
        if params:
            raise ValueError("SampleStdDev on SQLite takes a column, not an expression")
        x = f"CAST({x} AS REAL)"
        sql = (
            f"SQRT(MAX(SUM({x} * {x}) - SUM({x}) * SUM({x}) / COUNT({x}), 0)"
            f" / NULLIF(COUNT({x}) - 1, 0))"
        )
        return sql, ()


# A standard deviation below this is no variation at all (cash, or float noise on SQLite):
# mean ÷ deviation would be a huge number with no meaning.
NO_VARIATION = 1e-9
METRIC_PLACES = 6  # metrics are ranked to 6 places, so float noise cannot split a tie
TRADE_TYPES = (Transaction.Type.BUY, Transaction.Type.SELL)
RANKINGS = Classroom.Ranking


@dataclass(frozen=True)
class Board:
    """Whom a leaderboard ranks, by what, and as of when.

    `classroom_id`: one class's students; `no_class`: the students in no class;
    `owner_id`: the students of the classes an instructor owns; none of them: every student.
    `frozen_at`: the class's end once it has passed; the board then shows each student as
    of their last snapshot at or before it, so nothing after the end moves it."""

    classroom_id: int | None = None
    no_class: bool = False
    owner_id: int | None = None
    metric: str = RANKINGS.TWR
    min_trades: int = 0
    names_shown: bool = True
    starts_at: datetime | None = None
    frozen_at: datetime | None = None

    @classmethod
    def of(cls, rulebook: Rulebook, *, now: datetime | None = None) -> "Board":
        """The board of a rulebook's class, or of the students in no class (the settings'
        rulebook: time-weighted return, no minimum, names shown)."""
        if rulebook.classroom_id is None:
            return cls(no_class=True)
        now = now or timezone.now()
        return cls(
            classroom_id=rulebook.classroom_id,
            metric=rulebook.ranking,
            min_trades=rulebook.min_trades_to_rank,
            names_shown=rulebook.names_shown,
            starts_at=rulebook.starts_at,
            frozen_at=rulebook.ends_at if rulebook.has_ended(now) else None,
        )

    @property
    def is_frozen(self) -> bool:
        return self.frozen_at is not None

    @property
    def metric_label(self) -> str:
        return RANKINGS(self.metric).label

    @property
    def metric_is_percent(self) -> bool:
        return self.metric != RANKINGS.RISK_ADJUSTED

    @property
    def metric_term(self) -> str:
        """The metric's entry in the glossary (tradesim.glossary)."""
        return RANKING_TERMS[self.metric]

    @property
    def shows_total_return(self) -> bool:
        """Whether the board shows each student's total return beside the metric: when it
        ranks by something else, so a student sees both."""
        return self.metric != RANKINGS.TOTAL_RETURN


def _members(board: Board) -> QuerySet:
    rows = students()
    if board.classroom_id is not None:
        rows = rows.filter(classroom_id=board.classroom_id)
    if board.no_class:
        rows = rows.filter(classroom__isnull=True)
    if board.owner_id is not None:
        rows = rows.filter(
            classroom__in=Classroom.objects.filter(owners=board.owner_id).values("pk")
        )
    return rows


def _everyone(board: Board) -> bool:
    return board.classroom_id is None and board.owner_id is None and not board.no_class


def _span_start(board: Board):
    """When the contest began for each student: the class's start, or the sign-up of one
    who joined after it (a student's own sign-up on a board with no start)."""
    if board.starts_at is None:
        return F("date_joined")
    return Case(
        When(date_joined__gt=board.starts_at, then=F("date_joined")),
        default=Value(board.starts_at),
        output_field=DateTimeField(),
    )


def _snapshot_at_or_before(field: str, moment, output_field=RATIO) -> Subquery:
    """`field` of the outer student's last snapshot at or before `moment` (a datetime or an
    OuterRef)."""
    rows = PortfolioSnapshot.objects.filter(user=OuterRef("pk"), timestamp__lte=moment)
    return Subquery(rows.order_by("-timestamp").values(field)[:1], output_field=output_field)


def _index_price_at(moment) -> Coalesce:
    """The market index's last recorded price at or before `moment`, or its first one after
    (an index listed later than the moment). With two index symbols, the first by symbol,
    as the dashboard's chart takes it."""
    history = PriceHistory.objects.filter(stock__is_index=True)
    before = history.filter(timestamp__lte=moment).order_by("stock_id", "-timestamp")
    after = history.filter(timestamp__gt=moment).order_by("stock_id", "timestamp")
    return Coalesce(
        Subquery(before.values("price")[:1], output_field=MONEY),
        Subquery(after.values("price")[:1], output_field=MONEY),
    )


def _with_values(rows: QuerySet, board: Board) -> QuerySet:
    """cash, total_value, net_contributions and the unit value `uv` of each student: now,
    or on a frozen board as of their last snapshot at or before the end (NULL for a student
    with none: nothing is known of them by the end), with `end_at`, that snapshot's time."""
    if board.frozen_at is None:
        # One class (tens of students out of all of them): a subquery per member, which reads
        # only the class's rows. But SQLite's parser refuses those subqueries nested under a
        # metric as deep as the excess return's, and SQLite serves one small school, where
        # summing everyone at once (the view) is cheap.
        all_at_once = _everyone(board) or connection.vendor == "sqlite"
        return valued(rows, all_at_once=all_at_once).annotate(
            uv=live_unit_value_expression(), end_at=Value(None, output_field=DateTimeField())
        )
    end = board.frozen_at
    return rows.annotate(
        cash=_snapshot_at_or_before("cash", end, MONEY),
        total_value=_snapshot_at_or_before("total_value", end, MONEY),
        net_contributions=_snapshot_at_or_before("net_contributions", end, MONEY),
        uv=_snapshot_at_or_before("unit_value", end),
        end_at=_snapshot_at_or_before("timestamp", end, DateTimeField()),
    )


def _metric(board: Board):
    """The board's metric as a ratio (0.05 = +5 %); NULL where it cannot be told."""
    if board.metric == RANKINGS.TOTAL_RETURN:
        return Case(
            When(
                net_contributions__gt=0,
                then=Ratio(F("total_value") - F("net_contributions"), F("net_contributions")),
            ),
            default=None,
            output_field=RATIO,
        )
    if board.metric == RANKINGS.EXCESS_RETURN:
        index_now = (
            _index_price_at(OuterRef("end_at"))
            if board.is_frozen
            else Subquery(
                Price.objects.filter(is_index=True).order_by("symbol").values("price")[:1],
                output_field=MONEY,
            )
        )
        return Ratio(F("uv"), F("uv_start")) - Ratio(index_now, F("index_start"))
    if board.metric == RANKINGS.RISK_ADJUSTED:
        returns = PortfolioSnapshot.objects.filter(
            user=OuterRef("pk"), period_return__isnull=False, timestamp__gt=OuterRef("span_start")
        )
        if board.is_frozen:
            returns = returns.filter(timestamp__lte=board.frozen_at)
        score = (
            returns.order_by()
            .values("user")
            .annotate(
                n=Count("pk"),
                mean=Avg("period_return", output_field=RATIO),
                deviation=SampleStdDev("period_return"),
            )
            .annotate(
                score=Case(
                    When(n__gte=2, deviation__gt=NO_VARIATION, then=Ratio("mean", "deviation")),
                    default=None,
                    output_field=RATIO,
                )
            )
            .values("score")
        )
        return Subquery(score, output_field=RATIO)
    return F("uv") - Value(ONE)


def _trade_count(board: Board) -> Coalesce:
    """The student's own buys and sells on the board's span (a reset's sales are the
    instructor's, not theirs): their journal rows, one per trade."""
    trades = Transaction.objects.filter(
        user=OuterRef("pk"),
        type__in=TRADE_TYPES,
        created_by__isnull=True,
        timestamp__gte=OuterRef("span_start"),
    )
    if board.is_frozen:
        trades = trades.filter(timestamp__lte=board.frozen_at)
    count = trades.order_by().values("user").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(count, output_field=IntegerField()), Value(0))


def ranking(board: Board = Board()) -> QuerySet:
    """The board's students with their values, metric and rank, best first.

    Ranked students first, by the board's metric, then by total value; equal on both, equal
    rank. Then the unranked ones (too few trades, or a metric that cannot be told yet), by
    total value, with no rank (`rank` is only meaningful where `ranked`, which `standings`
    tells). One query for all of them (no loop over users); `ranking_page` returns a page
    of it."""
    rows = _members(board).annotate(span_start=_span_start(board))
    rows = _with_values(rows, board)
    if board.metric == RANKINGS.EXCESS_RETURN:
        rows = rows.annotate(
            uv_start=Coalesce(_snapshot_at_or_before("unit_value", OuterRef("span_start")), ONE),
            index_start=_index_price_at(OuterRef("span_start")),
        )
    rows = rows.annotate(metric=Round(_metric(board), METRIC_PLACES, output_field=RATIO))
    # The score is the metric of the ranked and NULL for the others. Django writes an
    # annotation out in full wherever it is referenced, and the metric is deep: each window
    # refers to the score once.
    if board.min_trades:
        rows = rows.annotate(own_trades=_trade_count(board))
        score = Case(
            When(own_trades__gte=board.min_trades, then=F("metric")),
            default=None,
            output_field=RATIO,
        )
    else:
        rows = rows.annotate(own_trades=Value(None, IntegerField()))
        score = F("metric")
    rows = rows.alias(score=score)
    order = [F("score").desc(nulls_last=True), F("total_value").desc(nulls_last=True)]
    place = [*order, F("username").asc(), F("pk").asc()]
    frozen = board.is_frozen
    return (
        rows.annotate(
            rank=Window(Rank(), order_by=order),
            position=Window(RowNumber(), order_by=place),
            ranked_total=Window(Count("score")),
            board_size=Window(Count("pk")),
        )
        .order_by("position")
        .values(
            "rank",
            "position",
            "pk",
            "username",
            "cash",
            "total_value",
            "net_contributions",
            "uv",
            "metric",
            "own_trades",
            "ranked_total",
            "board_size",
            classroom_name=F("classroom__name"),
            peak=Value(None, RATIO) if frozen else F("portfolio_summary__peak_unit_value"),
            max_drawdown=Value(None, RATIO) if frozen else F("portfolio_summary__max_drawdown"),
        )
    )


def _is_ranked(board: Board, row: dict) -> bool:
    if row["metric"] is None:
        return False
    return not board.min_trades or row["own_trades"] >= board.min_trades


@dataclass(frozen=True)
class Standing:
    """One row of the leaderboard. `rank` is None for an unranked student; `name` is
    "Student <position>" for a classmate the viewer may not see by name."""

    rank: int | None
    position: int  # 1-based place in the board's order (ties broken by username)
    user_id: int
    name: str
    anonymous: bool
    classroom: str | None
    total_value: Decimal | None
    net_contributions: Decimal | None
    unit_value: Decimal | None
    twr_pct: Decimal | None
    max_drawdown_pct: Decimal | None
    metric_value: Decimal | None  # % for the returns, a plain ratio for risk-adjusted
    trades: int | None
    trades_needed: int
    ranked_total: int
    board_size: int
    loan: Decimal | None = None  # a margin loan (cash below zero) inside total_value

    @property
    def username(self) -> str:
        return self.name

    @property
    def total_return_pct(self) -> Decimal | None:
        """Total value less net contributions, as a % of net contributions (as the
        dashboard's total return); None when nothing was put in or nothing is known."""
        if self.total_value is None or not self.net_contributions or self.net_contributions < 0:
            return None
        return percent(self.total_value - self.net_contributions, self.net_contributions)


def _metric_value(board: Board, metric) -> Decimal | None:
    if metric is None:
        return None
    metric = Decimal(metric)
    if board.metric_is_percent:
        return ratio_percent(metric)
    return metric.quantize(PCT_PLACES, rounding=ROUND_HALF_UP)


def _loan(cash: Decimal | None) -> Decimal | None:
    return to_cents(-cash) if cash is not None and cash < 0 else None


def standings(rows, board: Board = Board(), *, viewer_id=None, names=True) -> list[Standing]:
    """Evaluated rows of `ranking` (e.g. one page) as Standing objects; with `names` False,
    every student but the viewer is "Student <their place>"."""
    result = []
    for row in rows:
        unit_value = row["uv"]
        twr = worst = None
        if unit_value is not None:
            unit_value = Decimal(unit_value)
            twr = ratio_percent(unit_value - ONE)
            if row["peak"] is not None or not board.is_frozen:
                peak = max(row["peak"] or ONE, unit_value)
                worst = ratio_percent(max(row["max_drawdown"] or ZERO, drawdown(peak, unit_value)))
        hidden = not names and row["pk"] != viewer_id
        trades = row["own_trades"]
        needed = max(board.min_trades - trades, 0) if trades is not None else 0
        result.append(
            Standing(
                rank=row["rank"] if _is_ranked(board, row) else None,
                position=row["position"],
                user_id=row["pk"],
                name=f"Student {row['position']}" if hidden else row["username"],
                anonymous=hidden,
                classroom=row["classroom_name"],
                total_value=None if row["total_value"] is None else to_cents(row["total_value"]),
                net_contributions=(
                    None if row["net_contributions"] is None else to_cents(row["net_contributions"])
                ),
                unit_value=unit_value,
                twr_pct=twr,
                max_drawdown_pct=worst,
                metric_value=_metric_value(board, row["metric"]),
                trades=trades,
                trades_needed=needed,
                ranked_total=row["ranked_total"] or 0,
                board_size=row["board_size"],
                loan=_loan(row["cash"]),
            )
        )
    return result


def visible_classes(user) -> list[Classroom]:
    """The classes whose leaderboard `user` may see, by name: a superuser's every class, an
    instructor's their own, a student's their one (no query for a student in no class)."""
    if user.is_superuser:
        return list(Classroom.objects.order_by("name"))
    if user.is_staff:
        return list(Classroom.objects.filter(owners=user).order_by("name"))
    if user.classroom_id is None:
        return []
    return list(Classroom.objects.filter(pk=user.classroom_id))


def own_classroom(user) -> Classroom | None:
    """A student's class (one query), None for anyone in no class (none)."""
    if getattr(user, "classroom_id", None) is None:
        return None
    return Classroom.objects.filter(pk=user.classroom_id).first()


def ranked_count(board: Board = Board()) -> int:
    """How many students the board lists (one COUNT, no valuation)."""
    return _members(board).count()


def ranking_page(
    board: Board, *, first: int, last: int, viewer_id: int | None, names: bool = True
) -> tuple[list[Standing], Standing | None]:
    """The standings at positions first..last (1-based) and the viewer's own, ranked among
    everyone, in one query that returns only those rows: the database ranks every student
    and keeps the page and the viewer, so a page costs the same at 30 students or 10,000."""
    found = standings(
        _RankedPage.of(board).rows(first, last, viewer_id), board, viewer_id=viewer_id, names=names
    )
    page = [row for row in found if first <= row.position <= last]
    mine = next((row for row in found if row.user_id == viewer_id), None)
    return page, mine


@dataclass(frozen=True)
class _RankedPage:
    """`ranking(board)` compiled once, wrapped in a filter on the position and the viewer.

    Building and compiling the ranking's expression tree (subqueries per metric, windows)
    costs ~20 ms of CPU, ten times what the database takes to run it, and every student of a
    class asks for the same board, each time the dashboard or the leaderboard is opened. The
    SQL depends only on the board and the database (its parameters are the board's own
    values and constants: no clock, setting or row is read while it is built), so it is
    compiled once per board (a rule change makes another board) and run with the page and
    the viewer as parameters. The rows are what `ranking(board).values(...)` returns: the
    same names, through the same converters as the ORM's (Decimal from SQLite's numbers)."""

    sql: str | None  # None: a board that can hold nobody (the ORM's EmptyResultSet)
    params: tuple
    names: tuple[str, ...]
    # (column, its converter functions, the expression they are given), as the ORM's
    # SQLCompiler.get_converters() finds them
    converters: tuple[tuple[int, tuple, object], ...]

    @classmethod
    def of(cls, board: Board) -> "_RankedPage":
        # Whether names are shown changes what is drawn, not the SQL: one entry for both.
        return _compiled_page(replace(board, names_shown=True), connection.alias)

    def rows(self, first: int, last: int, viewer_id: int | None) -> list[dict]:
        if self.sql is None:
            return []
        with connection.cursor() as cursor:
            cursor.execute(self.sql, (*self.params, first, last, viewer_id))
            found = cursor.fetchall()
        result = []
        for row in found:
            row = list(row)
            for column, functions, expression in self.converters:
                value = row[column]
                for convert in functions:
                    value = convert(value, expression, connection)
                row[column] = value
            result.append(dict(zip(self.names, row, strict=True)))
        return result


@functools.lru_cache(maxsize=256)
def _compiled_page(board: Board, alias: str) -> _RankedPage:
    # The viewer is a column of its own (the student's pk under a name the outer filter can
    # use); ranks are computed inside, over everyone, before the page is kept.
    query = ranking(board).annotate(row_user=F("pk")).query
    # As QuerySet.values() names the columns (the order it was given them in).
    names = (
        tuple(query.selected)
        if query.selected
        else (*query.extra_select, *query.values_select, *query.annotation_select)
    )
    compiler = query.get_compiler(alias)
    try:
        inner, params = compiler.as_sql()
    except EmptyResultSet:
        return _RankedPage(sql=None, params=(), names=names, converters=())
    converters = compiler.get_converters(
        [column for column, _, _ in compiler.select[: compiler.col_count]]
    )
    name = compiler.connection.ops.quote_name
    position, user = name("position"), name("row_user")
    # The ORM's own SQL and quoted constant names; every value is a parameter.
    sql = (
        f"SELECT * FROM ({inner}) ranked WHERE (ranked.{position} >= %s "  # noqa: S608
        f"AND ranked.{position} <= %s) OR ranked.{user} = %s ORDER BY ranked.{position}"
    )
    return _RankedPage(
        sql=sql,
        params=tuple(params),
        names=names,
        converters=tuple(
            (column, tuple(functions), expression)
            for column, (functions, expression) in sorted(converters.items())
        ),
    )


def standing_of(board: Board, user_id: int) -> Standing | None:
    """One student's row of the board, ranked among everyone (one query)."""
    return ranking_page(board, first=0, last=-1, viewer_id=user_id)[1]


def holds_shares(user) -> bool:
    """Whether `user` holds any shares."""
    return Holding.objects.filter(user_id=user.pk).exists()
