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

from portfolio.selectors import (
    Ratio,
    live_unit_value_expression,
    percent,
    ranking,
    ratio_percent,
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
    """One line of the standings export."""

    rank: int
    username: str
    email: str
    classroom: str
    cash: Decimal
    total_value: Decimal
    net_contributions: Decimal
    return_pct: Decimal | None
    twr_pct: Decimal
    trades: int


def class_standings(*, classroom=None, owner=None) -> Iterator[StandingRow]:
    """The students of one class (or all of them; with `owner`, all of that instructor's
    classes) in leaderboard order, with cash, value, returns and trade count. One query
    (the leaderboard's ranking with three more columns), read as a stream."""
    rows = ranking(
        classroom_id=classroom.pk if classroom else None, owner_id=owner.pk if owner else None
    ).annotate(
        user_email=F("email"),
        account_cash=F("cash"),
        trade_count=trade_count_expression(),
    )
    for row in rows.iterator(chunk_size=500):
        total_value = to_cents(row["total_value"])
        net = to_cents(row["net_contributions"])
        yield StandingRow(
            rank=row["rank"],
            username=row["username"],
            email=row["user_email"],
            classroom=row["classroom_name"] or "",
            cash=to_cents(row["account_cash"]),
            total_value=total_value,
            net_contributions=net,
            return_pct=return_pct(total_value, net),
            twr_pct=twr_pct(row["score"]),
            trades=row["trade_count"],
        )
