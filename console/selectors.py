"""Reads for the instructors' console: every user with their money, and the class standings.

The console sits on top of the other apps (it shows cash, positions, returns and trades
side by side), so these reads build on portfolio.selectors, whose valuation and unit-value
expressions are the ones the dashboard and the leaderboard use, and count trades; each
runs one query whatever the number of students.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import (
    CharField,
    Count,
    DateTimeField,
    F,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    Window,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from classrooms.rules import Rulebook
from ledger.models import Transaction
from ledger.services import OPENING_TOKEN
from portfolio.selectors import (
    Board,
    Ratio,
    live_unit_value_expression,
    percent,
    ranking,
    ratio_percent,
    standing_of,
    standings,
    valued,
)
from portfolio.units import ONE
from tradesim.money import to_cents
from trading.models import Order, Trade


def trade_count_expression() -> Coalesce:
    """The number of trades of the outer query's user."""
    count = (
        Trade.objects.filter(user=OuterRef("pk"))
        .order_by()
        .values("user")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(count, output_field=IntegerField()), Value(0))


def with_standing(users: QuerySet) -> QuerySet:
    """`users` annotated, in the same query, with what the instructors' user list shows:
    `account_cash` (None for a user without a cash account), `total_value` (cash + Σ shares ×
    current price), `net_contributions`, `return_ratio` (total return ÷ net contributions,
    None when nothing was contributed), `unit_value` (1 + the time-weighted return) and
    `trade_count`."""
    return valued(users).annotate(
        account_cash=F("balance__amount"),
        unit_value=live_unit_value_expression(),
        return_ratio=Ratio(F("total_value") - F("net_contributions"), F("net_contributions")),
        trade_count=trade_count_expression(),
    )


def return_pct(total_value: Decimal, net_contributions: Decimal) -> Decimal | None:
    """Total return as a % of net contributions; None when they are not positive."""
    if net_contributions is None or net_contributions <= 0:
        return None
    return percent(to_cents(total_value) - to_cents(net_contributions), to_cents(net_contributions))


def twr_pct(unit_value: Decimal) -> Decimal:
    """The time-weighted return, %, from the live unit value."""
    return ratio_percent(Decimal(unit_value) - ONE)


@dataclass(frozen=True)
class StandingRow:
    """One line of the standings export. On a class that has ended, the money is as of the
    student's last snapshot before the end (None: no snapshot by then)."""

    rank: int | None
    username: str
    email: str
    classroom: str
    cash: Decimal | None
    total_value: Decimal | None
    net_contributions: Decimal | None
    return_pct: Decimal | None
    twr_pct: Decimal | None
    trades: int
    ranked_by: str
    ranking_value: Decimal | None
    note: str


def _cents(value) -> Decimal | None:
    return None if value is None else to_cents(value)


def _note(board: Board, standing) -> str:
    if standing.rank is not None:
        return ""
    if standing.trades_needed:
        n = standing.trades_needed
        return f"needs {n} more trade{'s' if n != 1 else ''}"
    if board.is_frozen and standing.total_value is None:
        return "no record before the class ended"
    return "not ranked yet"


def class_standings(*, classroom=None, owner=None) -> Iterator[StandingRow]:
    """The students of one class (by its ranking, as of its end once it has ended), or of
    all classes (with `owner`, that instructor's classes; by time-weighted return), in
    leaderboard order, with cash, value, returns and trade count. One query (the
    leaderboard's ranking with two more columns), read as a stream."""
    if classroom is not None:
        board = Board.of(Rulebook.from_classroom(classroom))
    else:
        board = Board(owner_id=owner.pk if owner else None)
    rows = ranking(board).annotate(user_email=F("email"), trade_count=trade_count_expression())
    for row in rows.iterator(chunk_size=500):
        (standing,) = standings([row], board)
        total_value = _cents(row["total_value"])
        net = _cents(row["net_contributions"])
        yield StandingRow(
            rank=standing.rank,
            username=row["username"],
            email=row["user_email"],
            classroom=row["classroom_name"] or "",
            cash=_cents(row["cash"]),
            total_value=total_value,
            net_contributions=net,
            return_pct=return_pct(total_value, net) if total_value is not None else None,
            twr_pct=standing.twr_pct,
            trades=row["trade_count"],
            ranked_by=board.metric,
            ranking_value=standing.metric_value,
            note=_note(board, standing),
        )


# The class overview -----------------------------------------------------------------------

SHOWN_AT_EACH_END = 5  # the top five and the bottom five
ACTIVITY_LABELS = {
    Transaction.Type.BUY: "bought shares",
    Transaction.Type.SELL: "sold shares",
    Transaction.Type.DEPOSIT: "deposited cash",
    Transaction.Type.WITHDRAWAL: "withdrew cash",
}


def _own_journal_rows():
    """The outer student's own journal rows, newest first: their trades and cash movements,
    not an instructor's grant or reset, nor the starting cash they were given, nor the
    interest the close charged or paid."""
    return (
        Transaction.objects.filter(user=OuterRef("pk"), created_by__isnull=True)
        .exclude(Q(token=OPENING_TOKEN) | Q(token__startswith=f"{OPENING_TOKEN}:"))
        .exclude(type__in=[Transaction.Type.INTEREST, Transaction.Type.CASH_INTEREST])
        .order_by("-timestamp", "-id")
    )


@dataclass(frozen=True)
class OverviewRow:
    rank: int | None
    position: int
    user_id: int
    username: str
    full_name: str
    total_value: Decimal | None
    return_pct: Decimal | None
    metric_value: Decimal | None
    trades: int
    last_activity_at: datetime | None
    last_activity: str  # "bought shares", "logged in", "" for none
    note: str  # why an unranked student is not ranked


@dataclass(frozen=True)
class ClassAverages:
    value: Decimal | None
    return_pct: Decimal | None
    metric_value: Decimal | None
    trades: Decimal | None


@dataclass(frozen=True)
class ClassOverview:
    board: Board
    students: list[OverviewRow]  # in leaderboard order
    averages: ClassAverages
    top: list[OverviewRow]
    bottom: list[OverviewRow]  # in leaderboard order, the last ranked at the end
    not_traded: list[OverviewRow]  # by username

    @property
    def ranked(self) -> int:
        return sum(row.rank is not None for row in self.students)


def _average(values, places=Decimal("0.01")) -> Decimal | None:
    values = [value for value in values if value is not None]
    if not values:
        return None
    return (sum(values, Decimal(0)) / len(values)).quantize(places, rounding=ROUND_HALF_UP)


def _last_activity(row: dict) -> tuple[datetime | None, str]:
    moved, login = row["last_move_at"], row["login_at"]
    if moved is not None and (login is None or moved >= login):
        return moved, ACTIVITY_LABELS.get(row["last_move_type"], "moved cash")
    if login is not None:
        return login, "logged in"
    return None, ""


def class_overview(classroom, *, now: datetime | None = None) -> ClassOverview:
    """One class at a glance for its instructor: every student in leaderboard order (the
    leaderboard's own ranking, as of the class's end once it has ended) with value, total
    return, the class's metric, trade count and last activity (their last trade or cash
    movement, or their last log-in if that came later); the class's averages; the top and
    bottom five ranked; who has not traded yet. One query however many students."""
    board = Board.of(Rulebook.from_classroom(classroom), now=now)
    own = _own_journal_rows()
    rows = ranking(board).annotate(
        given_name=F("first_name"),
        family_name=F("last_name"),
        login_at=F("last_login"),
        trade_count=trade_count_expression(),
        last_move_at=Subquery(own.values("timestamp")[:1], output_field=DateTimeField()),
        last_move_type=Subquery(own.values("type")[:1], output_field=CharField()),
    )
    students = []
    for row in rows:
        (standing,) = standings([row], board)
        total_value = _cents(row["total_value"])
        net = _cents(row["net_contributions"])
        at, what = _last_activity(row)
        students.append(
            OverviewRow(
                rank=standing.rank,
                position=standing.position,
                user_id=row["pk"],
                username=row["username"],
                full_name=f"{row['given_name']} {row['family_name']}".strip(),
                total_value=total_value,
                return_pct=return_pct(total_value, net) if total_value is not None else None,
                metric_value=standing.metric_value,
                trades=row["trade_count"],
                last_activity_at=at,
                last_activity=what,
                note=_note(board, standing),
            )
        )
    ranked = [row for row in students if row.rank is not None]
    bottom_start = max(len(ranked) - SHOWN_AT_EACH_END, SHOWN_AT_EACH_END)
    return ClassOverview(
        board=board,
        students=students,
        averages=ClassAverages(
            value=_average(row.total_value for row in students),
            return_pct=_average(row.return_pct for row in students),
            metric_value=_average(row.metric_value for row in students),
            trades=_average((Decimal(row.trades) for row in students), Decimal("0.1")),
        ),
        top=ranked[:SHOWN_AT_EACH_END],
        # Never the same student in both lists: a class of seven shows five and two.
        bottom=ranked[bottom_start:],
        not_traded=sorted((row for row in students if not row.trades), key=lambda r: r.username),
    )


# A student's page -------------------------------------------------------------------------


@dataclass(frozen=True)
class Lockout:
    locked: bool
    failures: int  # the most failed log-ins counted against one browser or address
    until: datetime | None  # when the last lock lifts


@dataclass(frozen=True)
class StudentSummary:
    cash: Decimal | None  # None: no cash account
    total_value: Decimal | None
    return_pct: Decimal | None
    twr_pct: Decimal | None
    trades: int
    board: Board
    rank: int | None
    ranked_total: int
    board_size: int
    note: str  # why they are not ranked
    last_activity_at: datetime | None
    last_activity: str
    lockout: Lockout


def lockout_of(username: str, *, now: datetime | None = None) -> Lockout:
    """Whether failed log-ins lock `username` out now (django-axes' records: a lock is per
    browser or address, and lifts AXES_COOLOFF_TIME after its last failure). One query."""
    now = now or timezone.now()
    cooloff = settings.AXES_COOLOFF_TIME
    limit = settings.AXES_FAILURE_LIMIT
    found = AccessAttempt.objects.filter(
        username=username, attempt_time__gte=now - cooloff
    ).aggregate(
        locked=Count("pk", filter=Q(failures_since_start__gte=limit)),
        failures=Max("failures_since_start"),
        last=Max("attempt_time", filter=Q(failures_since_start__gte=limit)),
    )
    return Lockout(
        locked=bool(found["locked"]),
        failures=found["failures"] or 0,
        until=found["last"] + cooloff if found["last"] else None,
    )


def student_summary(student, *, now: datetime | None = None) -> StudentSummary:
    """What the top of a student's page in the console says: their money (as the user list
    shows it), their rank on their class's leaderboard (or among the students in no class),
    trade count, last activity (as the class overview tells it) and whether failed log-ins
    lock them out. Three queries."""
    row = (
        with_standing(_one(student))
        .annotate(
            last_move_at=Subquery(
                _own_journal_rows().values("timestamp")[:1], output_field=DateTimeField()
            ),
            last_move_type=Subquery(
                _own_journal_rows().values("type")[:1], output_field=CharField()
            ),
            login_at=F("last_login"),
        )
        .values(
            "account_cash",
            "total_value",
            "net_contributions",
            "unit_value",
            "trade_count",
            "last_move_at",
            "last_move_type",
            "login_at",
        )
        .get()
    )
    board = Board.of(
        Rulebook.from_classroom(student.classroom)
        if student.classroom_id
        else Rulebook.from_settings(),
        now=now,
    )
    standing = standing_of(board, student.pk)
    has_account = row["account_cash"] is not None
    at, what = _last_activity(row)
    return StudentSummary(
        cash=_cents(row["account_cash"]),
        total_value=_cents(row["total_value"]) if has_account else None,
        return_pct=(
            return_pct(row["total_value"], row["net_contributions"]) if has_account else None
        ),
        twr_pct=twr_pct(row["unit_value"]) if has_account else None,
        trades=row["trade_count"],
        board=board,
        rank=standing.rank if standing else None,
        ranked_total=standing.ranked_total if standing else 0,
        board_size=standing.board_size if standing else 0,
        note=_note(board, standing) if standing else "not on a leaderboard",
        last_activity_at=at,
        last_activity=what,
        lockout=lockout_of(student.get_username(), now=now),
    )


def _one(student) -> QuerySet:
    return type(student)._default_manager.filter(pk=student.pk)


# A student's open orders ------------------------------------------------------------------


@dataclass(frozen=True)
class OpenOrders:
    orders: list[Order]  # the oldest first, at most the limit asked for
    total: int  # all of the student's open orders
    held_cash: Decimal  # what all of them hold, in cash (their buys)
    held_shares: int  # and in shares (their sells)

    @property
    def more(self) -> int:
        return self.total - len(self.orders)


def open_orders(student, *, limit: int) -> OpenOrders:
    """The student's open orders, oldest first (the order they would fill in), at most
    `limit` of them, with the count and the holds of all: one query."""
    rows = list(
        Order.objects.filter(user_id=student.pk, status=Order.Status.OPEN)
        .annotate(
            n_open=Window(Count("pk")),
            all_cash=Window(Sum("held_cash")),
            all_shares=Window(Sum("held_shares")),
        )
        .order_by("created_at", "id")[:limit]
    )
    if not rows:
        return OpenOrders(orders=[], total=0, held_cash=to_cents(0), held_shares=0)
    first = rows[0]
    return OpenOrders(
        orders=rows,
        total=first.n_open,
        held_cash=to_cents(first.all_cash or 0),
        held_shares=int(first.all_shares or 0),
    )
