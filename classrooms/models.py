"""A class as a contest: its dates, its rulebook, its join code and its instructors.

The rules are columns of the class's row, so an instructor edits them in the admin and a
service reads the whole rulebook in the query that finds the class. A student in no class
plays by the defaults in the settings (classrooms.rules.Rulebook.from_settings).
"""

import secrets
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

# Eight characters without look-alikes: no 0/O, no 1/I/L.
JOIN_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
JOIN_CODE_LENGTH = 8


def new_join_code() -> str:
    return "".join(secrets.choice(JOIN_CODE_ALPHABET) for _ in range(JOIN_CODE_LENGTH))


def normalize_join_code(text: str) -> str:
    """A code as typed ("kx7m-3qpa", "KX7M 3QPA") in the form it is stored: upper case,
    without spaces or hyphens."""
    return "".join((text or "").split()).replace("-", "").upper()


def looks_like_join_code(code: str) -> bool:
    """Whether a normalized code could be one at all: the right length and alphabet."""
    return len(code) == JOIN_CODE_LENGTH and all(c in JOIN_CODE_ALPHABET for c in code)


def _default_starting_cash():
    return settings.STARTING_CASH


def _default_commission_kind():
    return Classroom.Commission.FLAT if settings.COMMISSION_PER_TRADE > 0 else "none"


def _default_commission_amount():
    return settings.COMMISSION_PER_TRADE


def _default_deposits_open():
    return settings.DEPOSITS_OPEN


def _default_max_total_deposits():
    return settings.MAX_TOTAL_DEPOSITS


MONEY = {"max_digits": 15, "decimal_places": 2}
PERCENT = {
    "max_digits": 5,
    "decimal_places": 2,
    "validators": [MinValueValidator(0), MaxValueValidator(100)],
}


class Classroom(models.Model):
    class Commission(models.TextChoices):
        NONE = "none", "None"
        FLAT = "flat", "Flat per trade"
        PER_SHARE = "per_share", "Per share"
        PERCENT = "percent", "Percent of the order's value, with a minimum"

    class OrderTypes(models.TextChoices):
        ALL = "all", "All order types (market, limit, stop, stop-limit, trailing stop)"
        MARKET = "market", "Market orders only"

    class ClosedMarketOrders(models.TextChoices):
        QUEUE = "queue", "Wait for the open, and fill at the first price"
        REFUSE = "refuse", "Refused until the market opens"

    class Ranking(models.TextChoices):
        TWR = "twr", "Time-weighted return"
        TOTAL_RETURN = "total_return", "Total return"
        EXCESS_RETURN = "excess_return", "Return over the market index"
        RISK_ADJUSTED = "risk_adjusted", "Risk-adjusted return"

    name = models.CharField(max_length=100, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    owners = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="owned_classes",
        limit_choices_to={"is_staff": True},
        help_text="The instructors who run this class and see its students.",
    )

    # Joining.
    join_code = models.CharField(
        max_length=JOIN_CODE_LENGTH,
        unique=True,
        default=new_join_code,
        help_text="Students enter it when they sign up or at Join a class.",
    )
    joining_open = models.BooleanField(
        "students may join", default=True, help_text="Untick to close joining."
    )
    seat_limit = models.PositiveIntegerField(
        null=True, blank=True, help_text="The most students the class takes; empty: no limit."
    )

    # The trading window.
    starts_at = models.DateTimeField(
        null=True, blank=True, help_text="Orders are refused before this; empty: open now."
    )
    ends_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="After this, orders and cash movements are refused and the standings freeze.",
    )

    # Cash.
    starting_cash = models.DecimalField(
        **MONEY,
        default=_default_starting_cash,
        validators=[MinValueValidator(0)],
        help_text="Given to each student on joining, also to one who joins late.",
    )
    deposits_open = models.BooleanField("deposits allowed", default=_default_deposits_open)
    max_total_deposits = models.DecimalField(
        **MONEY,
        null=True,
        blank=True,
        default=_default_max_total_deposits,
        validators=[MinValueValidator(0)],
        help_text="The most a student may deposit beyond the starting cash; empty: no cap.",
    )
    withdrawals_open = models.BooleanField("withdrawals allowed", default=True)

    # Commission.
    commission_kind = models.CharField(
        "commission",
        max_length=10,
        choices=Commission.choices,
        default=_default_commission_kind,
    )
    commission_amount = models.DecimalField(
        max_digits=15,
        decimal_places=4,
        default=_default_commission_amount,
        validators=[MinValueValidator(0)],
        help_text="Dollars per trade (flat), dollars per share (per share), or percent of "
        "the order's value (percent).",
    )
    commission_minimum = models.DecimalField(
        **MONEY,
        default=0,
        validators=[MinValueValidator(0)],
        help_text="With a percent commission: the least charged on a trade.",
    )

    # Limits.
    max_position_percent = models.DecimalField(
        "most of the portfolio in one stock (%)",
        **PERCENT,
        null=True,
        blank=True,
        help_text="After a buy, no symbol may be more than this share of the portfolio's "
        "value; empty: no limit.",
    )
    max_trades_per_day = models.PositiveIntegerField(
        "most trades per simulated day",
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
    )
    min_share_price = models.DecimalField(
        "lowest share price a student may buy",
        **MONEY,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text='The "$1 rule": no buying below this price; empty: no limit.',
    )

    # Orders.
    order_types = models.CharField(
        "order types students may use",
        max_length=6,
        choices=OrderTypes.choices,
        default=OrderTypes.ALL,
        help_text="Market orders only: students buy and sell at the current price, and "
        "limit, stop, stop-limit and trailing stop orders are refused. Switching to market "
        "orders only does not cancel the orders already open: they stay and may still fill "
        "until they expire or are cancelled (from the student's page or the Orders list).",
    )

    closed_market_orders = models.CharField(
        "market orders placed while the market is closed",
        max_length=6,
        choices=ClosedMarketOrders.choices,
        default=ClosedMarketOrders.QUEUE,
        help_text="Only with market hours set (MARKET_HOURS). Waiting orders hold their cost "
        "(with a 5 % cushion) and fill at the first tick after the open, or are rejected "
        "if the money is no longer there; limit and stop orders always wait.",
    )

    # Margin: borrowing to buy, interest, margin calls (see the README's "How margin works
    # here"). Reg T's 50 % initial and FINRA's 25 % maintenance (30 % here, as many
    # brokerages ask) are the defaults.
    margin = models.BooleanField(
        "students may buy on margin",
        default=False,
        help_text="Tick to let students borrow to buy: their buying power becomes their "
        "equity ÷ the initial margin, cash below zero is a loan that pays interest, and an "
        "account whose equity falls below the maintenance margin gets a margin call.",
    )
    initial_margin_percent = models.DecimalField(
        "initial margin (%)",
        max_digits=5,
        decimal_places=2,
        default=Decimal("50"),
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="The share of a margin buy a student pays with their own equity: 50 % "
        "lets them buy up to twice their equity; 100 % means no borrowing.",
    )
    maintenance_margin_percent = models.DecimalField(
        "maintenance margin (%)",
        max_digits=5,
        decimal_places=2,
        default=Decimal("30"),
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text="Equity below this share of the positions' market value is a margin call. "
        "At most the initial margin.",
    )
    margin_call_days = models.PositiveIntegerField(
        "days to meet a margin call",
        default=0,
        validators=[MaxValueValidator(30)],
        help_text="Simulated trading days a student has to meet a margin call before "
        "positions are sold for them, largest first; 0: sold at the call.",
    )
    loan_rate_percent = models.DecimalField(
        "interest on margin loans (% a year)",
        max_digits=5,
        decimal_places=2,
        default=Decimal("8"),
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text="Charged on the loan at each simulated day's close, 1/252 of the yearly "
        "rate a day.",
    )
    cash_rate_percent = models.DecimalField(
        "interest on cash (% a year)",
        max_digits=5,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text="Paid on positive cash at each simulated day's close, 1/252 of the yearly "
        "rate a day, in classes with margin on or off.",
    )

    # Short selling.
    short_selling = models.BooleanField(
        "students may sell short",
        default=False,
        help_text="Tick to let students sell shares they do not own (Sell short) and buy "
        "them back later (Buy to cover). A short needs equity of at least the initial "
        "margin of every position; its proceeds are cash, and the position is a liability "
        "valued at the market.",
    )
    min_short_price = models.DecimalField(
        "lowest share price a student may sell short",
        **MONEY,
        default=Decimal("5.00"),
        validators=[MinValueValidator(0)],
        help_text="Brokerages do not lend shares priced below $5 to short.",
    )
    borrow_fee_percent = models.DecimalField(
        "borrow fee on short positions (% a year)",
        max_digits=5,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text="Charged on the short positions' market value at each simulated day's "
        "close, 1/252 of the yearly rate a day.",
    )

    # The JSON API.
    api_access = models.BooleanField(
        "students may use the API",
        default=True,
        help_text="Untick to refuse every API request from this class's students (their "
        "tokens are kept, and work again when this is ticked). Their pages are not affected.",
    )

    # Ranking.
    ranking = models.CharField(
        "leaderboard ranks by", max_length=20, choices=Ranking.choices, default=Ranking.TWR
    )
    min_trades_to_rank = models.PositiveIntegerField("trades needed to be ranked", default=0)
    names_shown = models.BooleanField(
        "students see each other's names",
        default=True,
        help_text="Untick to show students only their own rank and anonymous others; "
        "instructors always see names.",
    )
    rules_changed_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When a rule last changed after the class started.",
    )

    class Meta:
        db_table = "accounts_classroom"
        ordering = ["name"]
        verbose_name = "class"
        verbose_name_plural = "classes"
        constraints = [
            models.CheckConstraint(
                condition=Q(starts_at__isnull=True)
                | Q(ends_at__isnull=True)
                | Q(starts_at__lt=models.F("ends_at")),
                name="classroom_starts_before_it_ends",
                violation_error_message="The class must start before it ends.",
            ),
            models.CheckConstraint(
                condition=Q(starting_cash__gte=0),
                name="classroom_starting_cash_gte_0",
                violation_error_message="The starting cash cannot be negative.",
            ),
            models.CheckConstraint(
                condition=Q(commission_amount__gte=0) & Q(commission_minimum__gte=0),
                name="classroom_commission_gte_0",
                violation_error_message="A commission cannot be negative.",
            ),
            models.CheckConstraint(
                condition=Q(max_position_percent__isnull=True)
                | (Q(max_position_percent__gt=0) & Q(max_position_percent__lte=100)),
                name="classroom_max_position_percent_range",
                violation_error_message="The most in one stock is a percent above 0, up to 100.",
            ),
            models.CheckConstraint(
                condition=Q(order_types__in=["all", "market"]),
                name="classroom_order_types_valid",
                violation_error_message="The order types are “all” or “market” (market "
                "orders only).",
            ),
            models.CheckConstraint(
                condition=Q(closed_market_orders__in=["queue", "refuse"]),
                name="classroom_closed_market_orders_valid",
                violation_error_message="Market orders placed while the market is closed "
                "either wait for the open (“queue”) or are refused (“refuse”).",
            ),
            models.CheckConstraint(
                condition=Q(initial_margin_percent__gte=1)
                & Q(initial_margin_percent__lte=100)
                & Q(maintenance_margin_percent__gte=0)
                & Q(maintenance_margin_percent__lte=models.F("initial_margin_percent")),
                name="classroom_margin_percents_valid",
                violation_error_message="The initial margin is a percent from 1 to 100, and "
                "the maintenance margin a percent from 0 up to the initial margin.",
            ),
            models.CheckConstraint(
                condition=Q(loan_rate_percent__gte=0)
                & Q(loan_rate_percent__lte=100)
                & Q(cash_rate_percent__gte=0)
                & Q(cash_rate_percent__lte=100),
                name="classroom_interest_rates_valid",
                violation_error_message="An interest rate is a percent a year from 0 to 100.",
            ),
            models.CheckConstraint(
                condition=Q(min_short_price__gte=0)
                & Q(borrow_fee_percent__gte=0)
                & Q(borrow_fee_percent__lte=100),
                name="classroom_short_rules_valid",
                violation_error_message="The lowest price to short cannot be negative, and "
                "the borrow fee is a percent a year from 0 to 100.",
            ),
            models.CheckConstraint(
                condition=Q(margin_call_days__lte=30),
                name="classroom_margin_call_days_lte_30",
                violation_error_message="A margin call lasts at most 30 simulated days.",
            ),
            models.CheckConstraint(
                condition=Q(seat_limit__isnull=True) | Q(seat_limit__gt=0),
                name="classroom_seat_limit_gt_0",
                violation_error_message="A seat limit is at least 1 (empty for no limit).",
            ),
            models.CheckConstraint(
                condition=Q(max_trades_per_day__isnull=True) | Q(max_trades_per_day__gt=0),
                name="classroom_max_trades_per_day_gt_0",
                violation_error_message="The most trades a day is at least 1 (empty for no limit).",
            ),
        ]

    def __str__(self):
        return self.name
