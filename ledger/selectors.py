"""Reads of cash: the journal, its statistics, deposit allowances and the ledger check.

Each runs a fixed number of queries, however many rows there are.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Case, Count, DecimalField, F, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce, Round
from django.utils import timezone

from classrooms import rules as classroom_rules
from classrooms.rules import CashMovement, Refusal, rulebook_for
from ledger.models import Balance, Transaction
from ledger.services import deposits_toward_cap
from tradesim.money import ZERO

MONEY = DecimalField(max_digits=15, decimal_places=2)
# A sum over many rows can be wider than one row's column.
TOTAL = DecimalField(max_digits=20, decimal_places=2)


@dataclass(frozen=True)
class JournalFilters:
    """What the journal page and its CSV export are narrowed to. Empty means everything."""

    type: str = ""
    start: date | None = None
    end: date | None = None
    symbol: str = ""

    @property
    def active(self) -> bool:
        return bool(self.type or self.start or self.end or self.symbol)


def _start_of_day(day: date) -> datetime:
    # Days are the site's days (TIME_ZONE), not UTC's: "March 3" means March 3 in class.
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


def _filtered(user, filters: JournalFilters | None) -> QuerySet[Transaction]:
    qs = Transaction.objects.filter(user_id=user.pk)
    if filters is None:
        return qs
    if filters.type:
        qs = qs.filter(type=filters.type)
    if filters.start:
        qs = qs.filter(timestamp__gte=_start_of_day(filters.start))
    if filters.end:
        qs = qs.filter(timestamp__lt=_start_of_day(filters.end + timedelta(days=1)))
    if filters.symbol:
        qs = qs.filter(symbol=filters.symbol.upper())
    return qs


def journal_for(user, filters: JournalFilters | None = None) -> QuerySet[Transaction]:
    """The user's journal rows, newest first, narrowed by `filters` (dates inclusive, in the
    site's time zone). A lazy queryset: slice it for a page, or stream it with
    `.iterator(chunk_size=...)` for an export. The running balance is `balance_after`."""
    return _filtered(user, filters).order_by("-timestamp", "-id")


@dataclass(frozen=True)
class JournalStatistics:
    deposited: Decimal
    withdrawn: Decimal
    granted: Decimal
    adjustments: Decimal  # instructor resets, credit minus debit
    buy_count: int
    buy_volume: Decimal
    sell_count: int
    sell_volume: Decimal
    fees: Decimal
    row_count: int
    interest_charged: Decimal = ZERO  # on margin loans
    interest_earned: Decimal = ZERO  # on cash

    @property
    def net_contributions(self) -> Decimal:
        """Cash that came from outside trading: deposits (the starting cash included) and
        grants and reset adjustments, less withdrawals."""
        return self.deposited + self.granted + self.adjustments - self.withdrawn

    @property
    def trading_cash_flow(self) -> Decimal:
        """What trading did to cash: sales in, purchases and fees out."""
        return self.sell_volume - self.buy_volume - self.fees

    @property
    def net_interest(self) -> Decimal:
        """Interest earned on cash less interest charged on loans: a gain or a loss, not a
        contribution."""
        return self.interest_earned - self.interest_charged

    @property
    def net_change(self) -> Decimal:
        """The change of the balance over these rows (the balance itself when unfiltered)."""
        return self.net_contributions + self.trading_cash_flow + self.net_interest


def _sum_of(type_or_types) -> Coalesce:
    types = [type_or_types] if isinstance(type_or_types, str) else list(type_or_types)
    return Coalesce(Sum("amount", filter=Q(type__in=types)), Value(ZERO), output_field=TOTAL)


def statistics_for(user, filters: JournalFilters | None = None) -> JournalStatistics:
    """Totals over the user's journal (narrowed by `filters`, if given). One query."""
    T = Transaction.Type
    totals = _filtered(user, filters).aggregate(
        deposited=_sum_of(T.DEPOSIT),
        withdrawn=_sum_of(T.WITHDRAWAL),
        granted=_sum_of(T.GRANT),
        reset_in=_sum_of(T.RESET_CREDIT),
        reset_out=_sum_of(T.RESET_DEBIT),
        buy_count=Count("id", filter=Q(type=T.BUY)),
        buy_volume=_sum_of(T.BUY),
        sell_count=Count("id", filter=Q(type=T.SELL)),
        sell_volume=_sum_of(T.SELL),
        fees=_sum_of(T.FEE),
        interest_charged=_sum_of(T.INTEREST),
        interest_earned=_sum_of(T.CASH_INTEREST),
        row_count=Count("id"),
    )
    money = {k: Decimal(v).quantize(ZERO) for k, v in totals.items() if not k.endswith("count")}
    return JournalStatistics(
        deposited=money["deposited"],
        withdrawn=money["withdrawn"],
        granted=money["granted"],
        adjustments=money["reset_in"] - money["reset_out"],
        buy_count=totals["buy_count"],
        buy_volume=money["buy_volume"],
        sell_count=totals["sell_count"],
        sell_volume=money["sell_volume"],
        fees=money["fees"],
        row_count=totals["row_count"],
        interest_charged=money["interest_charged"],
        interest_earned=money["interest_earned"],
    )


def balance_of(user) -> Decimal | None:
    """The user's cash, or None if they have no account (instructors). One query."""
    return Balance.objects.filter(user_id=user.pk).values_list("amount", flat=True).first()


@dataclass(frozen=True)
class DepositAllowance:
    max_deposit: Decimal  # the most one deposit can be (MAX_DEPOSIT, for everyone)
    max_total: Decimal | None  # the class's cap on deposits beyond the starting cash
    deposited: Decimal  # toward the cap
    remaining: Decimal | None  # None: no cap
    closed: Refusal | None = None  # why no deposit is possible now (deposits off, class over)

    @property
    def can_deposit(self) -> bool:
        return self.closed is None and (self.remaining is None or self.remaining > 0)

    @property
    def largest(self) -> Decimal:
        """The most one deposit can be right now."""
        if self.remaining is None:
            return self.max_deposit
        return min(self.max_deposit, self.remaining)


def deposit_allowance_for(user) -> DepositAllowance:
    """What the deposit page tells the student about their class's rules. At most two
    queries (the class, the deposits so far). Informational only: `ledger.services.deposit`
    re-checks under the lock."""
    rules = rulebook_for(user)
    # Any deposit at all: what a cent would meet, before the cap is counted.
    cent = CashMovement(kind=classroom_rules.DEPOSIT, amount=Decimal("0.01"), at=timezone.now())
    closed = classroom_rules.cash_window(rules, cent) or classroom_rules.deposits_open(rules, cent)
    so_far = deposits_toward_cap(user) if rules.counts_deposits else ZERO
    return DepositAllowance(
        max_deposit=settings.MAX_DEPOSIT,
        max_total=rules.max_total_deposits,
        deposited=so_far,
        remaining=rules.deposit_room(so_far),
        closed=closed,
    )


def withdrawals_closed_for(user) -> Refusal | None:
    """Why the student cannot withdraw at all now (their class turned withdrawals off, or
    it ended), or None. At most one query; `ledger.services.withdraw` re-checks."""
    movement = CashMovement(
        kind=classroom_rules.WITHDRAWAL, amount=Decimal("0.01"), at=timezone.now()
    )
    return classroom_rules.check_withdrawal(rulebook_for(user), movement)


@dataclass(frozen=True)
class Mismatch:
    user_id: int
    username: str
    balance: Decimal | None  # None: journal rows but no balance row
    journal_total: Decimal

    @property
    def difference(self) -> Decimal:
        return (self.balance or ZERO) - self.journal_total

    def __iter__(self):  # unpacks as (user_id, username, balance, journal_total)
        return iter((self.user_id, self.username, self.balance, self.journal_total))


def find_mismatches() -> list[Mismatch]:
    """Every user whose balance is not the signed sum of their journal, in ONE aggregate
    query over all users: a balance with no rows (unless it is zero) and rows with no
    balance count too. Users with neither (instructors) are fine. Ordered by user id."""
    signed = Case(
        When(
            transactions__type__in=sorted(Transaction.CREDIT_TYPES), then=F("transactions__amount")
        ),
        When(
            transactions__type__in=sorted(Transaction.DEBIT_TYPES),
            then=-F("transactions__amount"),
        ),
        default=Value(ZERO),
        output_field=MONEY,
    )
    rows = (
        get_user_model()
        .objects.annotate(
            journal_total=Coalesce(Sum(signed), Value(ZERO), output_field=TOTAL),
            row_count=Count("transactions"),
            balance_amount=F("balance__amount"),
        )
        # Rounded to cents: SQLite sums decimals in floating point.
        .annotate(difference=Round(F("balance_amount") - F("journal_total"), 2, output_field=TOTAL))
        .filter(
            Q(balance_amount__isnull=True, row_count__gt=0)
            | (Q(balance_amount__isnull=False) & ~Q(difference=ZERO))
        )
        .order_by("pk")
    )
    return [
        Mismatch(user_id=pk, username=username, balance=balance, journal_total=total)
        for pk, username, balance, total in rows.values_list(
            "pk", "username", "balance_amount", "journal_total"
        )
    ]
