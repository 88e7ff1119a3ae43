"""A class's rulebook, and one checking function per rule.

The money services (ledger's deposit and withdraw, trading's orders) read the student's
rulebook inside their transaction and ask each rule in turn; a rule answers None (allowed)
or a Refusal that names the rule and the numbers, in words a student reads on the form:
"Your class allows at most 25 % of your portfolio in one stock; after this buy AAPL would
be 31 %." A new switch (order types, short selling, margin) is a new rule here, not a new
branch in the services.

A student in no class plays by the settings (STARTING_CASH, COMMISSION_PER_TRADE,
DEPOSITS_OPEN, MAX_TOTAL_DEPOSITS), with no trading window and no limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.utils import timezone

from classrooms.models import Classroom
from tradesim.money import ZERO, to_cents

HUNDRED = Decimal("100")


@dataclass(frozen=True)
class Refusal:
    """Why a rule refused: `rule` is the rulebook's key (for logs and the API's error
    code), `message` the sentence shown to the student."""

    rule: str
    message: str

    def __str__(self):
        return self.message


@dataclass(frozen=True)
class Rulebook:
    classroom_id: int | None = None
    class_name: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    starting_cash: Decimal = Decimal("10000.00")
    deposits_open: bool = True
    max_total_deposits: Decimal | None = None
    withdrawals_open: bool = True
    commission_kind: str = Classroom.Commission.NONE
    commission_amount: Decimal = ZERO
    commission_minimum: Decimal = ZERO
    max_position_percent: Decimal | None = None
    max_trades_per_day: int | None = None
    min_share_price: Decimal | None = None
    ranking: str = Classroom.Ranking.TWR
    min_trades_to_rank: int = 0
    names_shown: bool = True
    rules_changed_at: datetime | None = None

    # Where the rules come from ------------------------------------------------------------

    @classmethod
    def from_settings(cls) -> Rulebook:
        commission = to_cents(settings.COMMISSION_PER_TRADE)
        return cls(
            starting_cash=to_cents(settings.STARTING_CASH),
            deposits_open=settings.DEPOSITS_OPEN,
            max_total_deposits=settings.MAX_TOTAL_DEPOSITS,
            commission_kind=(
                Classroom.Commission.FLAT if commission > 0 else Classroom.Commission.NONE
            ),
            commission_amount=commission,
        )

    @classmethod
    def from_classroom(cls, classroom: Classroom) -> Rulebook:
        return cls(
            classroom_id=classroom.pk,
            class_name=classroom.name,
            starts_at=classroom.starts_at,
            ends_at=classroom.ends_at,
            starting_cash=classroom.starting_cash,
            deposits_open=classroom.deposits_open,
            max_total_deposits=classroom.max_total_deposits,
            withdrawals_open=classroom.withdrawals_open,
            commission_kind=classroom.commission_kind,
            commission_amount=classroom.commission_amount,
            commission_minimum=classroom.commission_minimum,
            max_position_percent=classroom.max_position_percent,
            max_trades_per_day=classroom.max_trades_per_day,
            min_share_price=classroom.min_share_price,
            ranking=classroom.ranking,
            min_trades_to_rank=classroom.min_trades_to_rank,
            names_shown=classroom.names_shown,
            rules_changed_at=classroom.rules_changed_at,
        )

    # The trading window -----------------------------------------------------------------

    def has_started(self, now: datetime) -> bool:
        return self.starts_at is None or now >= self.starts_at

    def has_ended(self, now: datetime) -> bool:
        """The window is [starts_at, ends_at): at ends_at itself the class is over."""
        return self.ends_at is not None and now >= self.ends_at

    def check_window(self, now: datetime, *, what: str = "Orders") -> Refusal | None:
        if not self.has_started(now):
            return Refusal("starts_at", f"Trading opens {when(self.starts_at)}.")
        if self.has_ended(now):
            return Refusal(
                "ends_at",
                f"Your class ended {when(self.ends_at)}: {what.lower()} are closed and the "
                "standings are final.",
            )
        return None

    # Commission -------------------------------------------------------------------------

    def commission(self, *, quantity: int, total: Decimal) -> Decimal:
        """The commission on one trade of `quantity` shares worth `total`, in cents."""
        kind, amount = self.commission_kind, self.commission_amount
        if kind == Classroom.Commission.FLAT:
            return to_cents(amount)
        if kind == Classroom.Commission.PER_SHARE:
            return to_cents(amount * quantity)
        if kind == Classroom.Commission.PERCENT:
            share = (total * amount / HUNDRED).quantize(Decimal("0.01"), ROUND_HALF_UP)
            return max(share, to_cents(self.commission_minimum))
        return ZERO

    def describe_commission(self) -> str:
        kind, amount = self.commission_kind, self.commission_amount
        if kind == Classroom.Commission.FLAT:
            return f"${to_cents(amount):,.2f} a trade"
        if kind == Classroom.Commission.PER_SHARE:
            return f"${amount.normalize():f} a share"
        if kind == Classroom.Commission.PERCENT:
            return (
                f"{amount.normalize():f} % of the order's value, at least "
                f"${to_cents(self.commission_minimum):,.2f}"
            )
        return "none"


def when(moment: datetime) -> str:
    """"Mon 12 Jan at 09:30" in the site's time zone (the year when it is not this one)."""
    local = timezone.localtime(moment)
    year = "" if local.year == timezone.localtime().year else f" {local.year}"
    return f"{local:%a} {local.day} {local:%b}{year} at {local:%H:%M}"


def rulebook_for(user) -> Rulebook:
    """The rules `user` plays by: their class's, or the settings' for a student in no
    class. One query when the user is in a class, none otherwise."""
    classroom_id = getattr(user, "classroom_id", None)
    if classroom_id is None:
        return Rulebook.from_settings()
    classroom = Classroom.objects.filter(pk=classroom_id).first()
    return Rulebook.from_classroom(classroom) if classroom else Rulebook.from_settings()
