"""Reads for the instructors' console: every user with their money, and the class standings.

The console sits on top of the other apps (it shows cash, positions, returns and trades
side by side), so these reads build on portfolio.selectors, whose valuation and unit-value
expressions are the ones the dashboard and the leaderboard use, and count trades; each
runs one query whatever the number of students.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, F, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from classrooms.rules import Rulebook
from portfolio.selectors import (
    Board,
    Ratio,
    live_unit_value_expression,
    percent,
    ranking,
    ratio_percent,
    standings,
    valued,
)
from portfolio.units import ONE
from tradesim.money import to_cents
from trading.models import Trade


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
