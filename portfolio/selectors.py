"""Reads about portfolios: valuation, P/L, allocation, performance and the leaderboard.

Every function here runs a fixed number of queries whatever the number of holdings,
snapshots or students, and returns evaluated data.

Money comes out as Decimal. Cash is the balance row; market value is Σ quantity × the
symbol's current price; net contributions are the external flows of the cash journal
(deposits, instructor grants and reset credits in; withdrawals and reset debits out). Buys,
sells and fees are internal: a fee lowers the value and so the return.

Performance over time comes from snapshots (portfolio.models.PortfolioSnapshot) that the
market ticker writes in bulk (portfolio.services.after_tick), not from rebuilding the past
out of trades and price history: a snapshot is one cheap row per student per N ticks, the
chart and the leaderboard read it directly, and the unit value it carries (see
portfolio.units) turns the time-weighted return into one number per student.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.contrib.auth import get_user_model
from django.db.models import (
    Case,
    DecimalField,
    F,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import Coalesce, FirstValue, Greatest, Rank, Round, RowNumber
from django.utils import timezone

from classrooms.models import Classroom
from ledger.models import Transaction
from portfolio.models import Holding, PortfolioSnapshot
from portfolio.units import HALF_CENT, ONE, UnitState, drawdown, live_unit_value
from prices.models import Price, PriceHistory
from tradesim.money import ZERO, to_cents

INFLOW_TYPES = (Transaction.Type.DEPOSIT, Transaction.Type.GRANT, Transaction.Type.RESET_CREDIT)
OUTFLOW_TYPES = (Transaction.Type.WITHDRAWAL, Transaction.Type.RESET_DEBIT)
FLOW_TYPES = INFLOW_TYPES + OUTFLOW_TYPES

MONEY = DecimalField(max_digits=15, decimal_places=2)
RATIO = DecimalField(max_digits=20, decimal_places=8)
HUNDRED = Decimal("100")
PCT_PLACES = Decimal("0.01")
RANK_PLACES = 6  # unit values are ranked to 6 places, so float noise on SQLite cannot split a tie
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
    day_change_pct: Decimal | None
    weight: Decimal | None  # % of total value


@dataclass(frozen=True)
class Slice:
    label: str
    value: Decimal
    weight: Decimal | None  # % of total value


@dataclass(frozen=True)
class Overview:
    """Everything "How am I doing?" needs, as of now."""

    has_account: bool
    cash: Decimal
    positions: list[Position]
    market_value: Decimal
    cost_basis: Decimal
    total_value: Decimal
    contributed: Decimal  # gross inflows: starting cash, deposits, grants, reset credits
    withdrawn: Decimal  # gross outflows: withdrawals, reset debits
    net_contributions: Decimal
    fees: Decimal
    total_return: Decimal
    total_return_pct: Decimal | None  # of net contributions
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    unrealized_pnl_pct: Decimal | None  # of the cost of what is held
    day_change: Decimal
    day_change_pct: Decimal | None  # of the total value at the previous close
    cash_weight: Decimal | None
    by_symbol: list[Slice]
    by_sector: list[Slice]
    unit_state: UnitState
    unit_value: Decimal  # now
    twr_pct: Decimal  # time-weighted return since the start, %
    max_drawdown_pct: Decimal  # worst fall of the unit value from a peak, %

    @property
    def is_empty(self) -> bool:
        return not self.positions


def _account_row(user) -> dict:
    summary = {name: F(path) for name, path in _SUMMARY_FIELDS.items()}
    row = (
        get_user_model()
        .objects.filter(pk=user.pk)
        .values(
            cash=F("balance__amount"),
            contributed=flow_total_expression(INFLOW_TYPES, signed=False),
            withdrawn=flow_total_expression(OUTFLOW_TYPES, signed=False),
            fees=flow_total_expression([Transaction.Type.FEE], signed=False),
            realized_pnl=Coalesce(
                F("portfolio_summary__realized_pnl"), Value(ZERO), output_field=MONEY
            ),
            **summary,
        )
        .first()
    )
    return row or {}


def _holdings(user) -> list[tuple]:
    return list(
        Holding.objects.filter(user_id=user.pk)
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
        )
    )


def portfolio_overview(user) -> Overview:
    """The user's cash, positions, totals, P/L, allocation and performance now.

    Two queries whatever the number of holdings: the account row (balance, journal totals
    and the summary) and the holdings with their prices. Weights are shares of the total
    value, cash included; the allocation lists cash as a slice of its own."""
    row = _account_row(user)
    cash = row.get("cash")
    has_account = cash is not None
    cash = cash if has_account else ZERO

    held = []
    for symbol, name, sector, halted, qty, avg, price, prev in _holdings(user):
        cost = to_cents(avg * qty)
        value = to_cents(price * qty)
        held.append((symbol, name, sector, halted, qty, avg, price, prev, cost, value))
    market_value = sum((h[9] for h in held), ZERO)
    cost_basis = sum((h[8] for h in held), ZERO)
    total_value = cash + market_value

    positions = []
    by_sector: dict[str, Decimal] = {}
    for symbol, name, sector, halted, qty, avg, price, prev, cost, value in held:
        day = to_cents((price - prev) * qty)
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
                unrealized_pnl_pct=percent(value - cost, cost),
                day_change=day,
                day_change_pct=percent(price - prev, prev),
                weight=percent(value, total_value),
            )
        )
        by_sector[sector] = by_sector.get(sector, ZERO) + value

    def slices(values: dict[str, Decimal]) -> list[Slice]:
        ordered = sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))
        if cash > 0:
            ordered.append((CASH_LABEL, cash))
        return [Slice(label, value, percent(value, total_value)) for label, value in ordered]

    contributed = row.get("contributed", ZERO)
    withdrawn = row.get("withdrawn", ZERO)
    net = contributed - withdrawn
    unrealized = market_value - cost_basis
    day_change = sum((p.day_change for p in positions), ZERO)
    state = _unit_state(row)
    unit_value = live_unit_value(state, total_value=total_value, net_contributions=net)
    peak = max(state.peak_unit_value, unit_value)
    worst = max(state.max_drawdown, drawdown(peak, unit_value))
    return Overview(
        has_account=has_account,
        cash=cash,
        positions=positions,
        market_value=market_value,
        cost_basis=cost_basis,
        total_value=total_value,
        contributed=contributed,
        withdrawn=withdrawn,
        net_contributions=net,
        fees=row.get("fees", ZERO),
        total_return=total_value - net,
        total_return_pct=percent(total_value - net, net) if net > 0 else None,
        realized_pnl=row.get("realized_pnl", ZERO),
        unrealized_pnl=unrealized,
        unrealized_pnl_pct=percent(unrealized, cost_basis),
        day_change=day_change,
        day_change_pct=percent(day_change, total_value - day_change),
        cash_weight=percent(cash, total_value),
        by_symbol=slices({p.symbol: p.market_value for p in positions}),
        by_sector=slices(by_sector),
        unit_state=state,
        unit_value=unit_value,
        twr_pct=ratio_percent(unit_value - ONE),
        max_drawdown_pct=ratio_percent(worst),
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

    labels: list[str]
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
    snapshots = PortfolioSnapshot.objects.filter(user_id=user.pk)
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
            "timestamp", "unit_value", "total_value", "index_price"
        )[:limit]
    )
    rows.reverse()
    now = timezone.now()
    rows.append((now, overview.unit_value, overview.total_value, index["price"] if index else None))
    timestamps = [r[0] for r in rows]
    performance = _rebased([r[1] for r in rows])
    index_series = _rebased([r[3] for r in rows])

    def change(series):
        known = [v for v in series if v is not None]
        return (known[-1] - HUNDRED).quantize(PCT_PLACES) if len(known) > 1 else None

    return ValueHistory(
        labels=[timezone.localtime(t).strftime("%b %d %H:%M") for t in timestamps[:-1]] + ["Now"],
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


@dataclass(frozen=True)
class Standing:
    """One row of the leaderboard."""

    rank: int
    position: int  # 1-based place in the board's order (ties broken by username)
    user_id: int
    username: str
    classroom: str | None
    total_value: Decimal
    net_contributions: Decimal
    unit_value: Decimal
    twr_pct: Decimal
    max_drawdown_pct: Decimal


def ranking(*, classroom_id: int | None = None, owner_id: int | None = None) -> QuerySet:
    """Every student (of one class, with `classroom_id`; of the classes an instructor owns,
    with `owner_id`) with their live unit value and rank, best first: by time-weighted
    return, then total value; equal on both, equal rank. One query for all of them (no loop
    over users); `ranking_page` returns a page of it."""
    rows = students()
    if classroom_id is not None:
        rows = rows.filter(classroom_id=classroom_id)
    if owner_id is not None:
        rows = rows.filter(classroom__in=Classroom.objects.filter(owners=owner_id).values("pk"))
    # Everyone: one grouped pass over all holdings and flows. One class (tens of students
    # out of all of them): a subquery per member, which reads only the class's rows.
    rows = valued(rows, all_at_once=classroom_id is None).annotate(
        score=Round(live_unit_value_expression(), RANK_PLACES, output_field=RATIO)
    )
    order = [F("score").desc(), F("total_value").desc()]
    place = [*order, F("username").asc(), F("pk").asc()]
    return (
        rows.annotate(
            rank=Window(Rank(), order_by=order), position=Window(RowNumber(), order_by=place)
        )
        .order_by("-score", "-total_value", "username", "pk")
        .values(
            "rank",
            "position",
            "pk",
            "username",
            "total_value",
            "net_contributions",
            "score",
            classroom_name=F("classroom__name"),
            peak=F("portfolio_summary__peak_unit_value"),
            max_drawdown=F("portfolio_summary__max_drawdown"),
        )
    )


def standings(rows) -> list[Standing]:
    """Evaluated rows of `ranking` (e.g. one page) as Standing objects."""
    result = []
    for row in rows:
        unit_value = row["score"]
        peak = max(row["peak"] or ONE, unit_value)
        worst = max(row["max_drawdown"] or ZERO, drawdown(peak, unit_value))
        result.append(
            Standing(
                rank=row["rank"],
                position=row["position"],
                user_id=row["pk"],
                username=row["username"],
                classroom=row["classroom_name"],
                total_value=to_cents(row["total_value"]),
                net_contributions=to_cents(row["net_contributions"]),
                unit_value=unit_value,
                twr_pct=ratio_percent(unit_value - ONE),
                max_drawdown_pct=ratio_percent(worst),
            )
        )
    return result


def ranked_count(*, classroom_id: int | None = None) -> int:
    """How many students `ranking` ranks (one COUNT, no valuation)."""
    rows = students()
    if classroom_id is not None:
        rows = rows.filter(classroom_id=classroom_id)
    return rows.count()


def ranking_page(
    *, first: int, last: int, viewer_id: int | None, classroom_id: int | None = None
) -> tuple[list[Standing], Standing | None]:
    """The standings at positions first..last (1-based) and the viewer's own, ranked among
    everyone, in one query that returns only those rows: the database ranks every student
    and keeps the page and the viewer (QUALIFY), so a page costs the same at 30 students
    or 10,000."""
    # The viewer is picked by a window (their own pk, as a window value), so the filter
    # stays outside the ranking (QUALIFY) and ranks count everyone; a plain pk filter
    # would rank the viewer alone.
    ranked = ranking(classroom_id=classroom_id).annotate(
        row_user=Window(FirstValue("pk"), partition_by=[F("pk")])
    )
    wanted = Q(position__gte=first, position__lte=last)
    if viewer_id is not None:
        wanted |= Q(row_user=viewer_id)
    found = standings(ranked.filter(wanted))
    page = [row for row in found if first <= row.position <= last]
    mine = next((row for row in found if row.user_id == viewer_id), None)
    return page, mine
