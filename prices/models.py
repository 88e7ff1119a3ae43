from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Substr, Upper
from django.db.models.lookups import GreaterThanOrEqual
from django.utils import timezone

from prices.simulation import Jumps, MarketModel

QUARTER_DAYS = 63  # trading days in a simulated quarter; a year is four of them


class Price(models.Model):
    """A listed symbol and its current price. Table `prices`, as in the original schema.

    Beyond the seed's columns it carries the company, its sector, the simulation
    parameters of the single-index model and the unrounded log-price the engine
    continues from, so rounding to cents never compounds.
    """

    symbol = models.CharField(max_length=10, unique=True)
    price = models.DecimalField(max_digits=15, decimal_places=2)
    timestamp = models.DateTimeField(default=timezone.now)
    name = models.CharField(max_length=100)
    sector = models.CharField(max_length=50, db_index=True)
    previous_close = models.DecimalField(
        max_digits=15,
        decimal_places=2,
        help_text="The price at the end of the previous simulated trading day",
    )
    # Simulation parameters (annualized): drift mu, idiosyncratic volatility, beta.
    drift = models.FloatField(
        default=0.07,
        validators=[MinValueValidator(-1.0), MaxValueValidator(1.0)],
        help_text="Expected annual return, e.g. 0.08 for 8 %",
    )
    volatility = models.FloatField(
        default=0.25,
        validators=[MinValueValidator(0.0), MaxValueValidator(2.0)],
        help_text="Idiosyncratic (company-specific) annual volatility, e.g. 0.25 for 25 %",
    )
    beta = models.FloatField(
        default=1.0,
        validators=[MinValueValidator(-1.0), MaxValueValidator(3.0)],
        help_text="Sensitivity to the market, e.g. 1.1 moves 1.1 % for each 1 % of the market",
    )
    log_price = models.FloatField(help_text="Unrounded state of the price engine")
    halted = models.BooleanField(
        default=False, help_text="A halted symbol neither moves nor trades"
    )
    is_index = models.BooleanField(default=False, help_text="Tracks the market factor")
    # Corporate actions on the simulated calendar (prices.actions): a quarter is 63 trading
    # days, and these name a day within each one.
    dividend_yield = models.FloatField(
        default=0.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(0.25)],
        help_text="Annual dividend as a share of the price, e.g. 0.03 for 3 % (paid quarterly)",
    )
    dividend_day = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(QUARTER_DAYS)],
        help_text="The day of each 63-day quarter the stock goes ex-dividend (blank: pays none)",
    )
    earnings_day = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(QUARTER_DAYS)],
        help_text="The day of each 63-day quarter the company reports (blank: never)",
    )
    earnings_volatility = models.FloatField(
        default=0.05,
        validators=[MinValueValidator(0.0), MaxValueValidator(0.5)],
        help_text="The typical size of an earnings surprise (log move), e.g. 0.05 for about 5 %",
    )

    class Meta:
        db_table = "prices"
        ordering = ["symbol"]
        constraints = [
            models.CheckConstraint(
                condition=Q(price__gt=0),
                name="prices_price_positive",
                violation_error_message="The price must be more than zero.",
            ),
            models.CheckConstraint(
                condition=Q(previous_close__gt=0),
                name="prices_previous_close_positive",
                violation_error_message="The previous close must be more than zero.",
            ),
            models.CheckConstraint(
                condition=Q(volatility__gte=0),
                name="prices_volatility_gte_0",
                violation_error_message="The volatility cannot be negative.",
            ),
            models.CheckConstraint(
                condition=Q(dividend_yield__gte=0) & Q(dividend_yield__lte=0.25),
                name="prices_dividend_yield_range",
                violation_error_message="The dividend yield is between 0 and 0.25 (25 %).",
            ),
            models.CheckConstraint(
                condition=(
                    Q(dividend_day__isnull=True)
                    | (Q(dividend_day__gte=1) & Q(dividend_day__lte=QUARTER_DAYS))
                )
                & (
                    Q(earnings_day__isnull=True)
                    | (Q(earnings_day__gte=1) & Q(earnings_day__lte=QUARTER_DAYS))
                ),
                name="prices_action_days_in_quarter",
                violation_error_message="A day of the quarter is between 1 and 63.",
            ),
            models.CheckConstraint(
                condition=Q(earnings_volatility__gte=0),
                name="prices_earnings_volatility_gte_0",
                violation_error_message="The earnings volatility cannot be negative.",
            ),
            models.CheckConstraint(
                condition=Q(symbol=Upper(F("symbol"))),
                name="prices_symbol_upper",
                violation_error_message="Write the symbol in capitals, such as AAPL.",
            ),
        ]

    def __str__(self):
        return self.symbol

    @property
    def change(self):
        return self.price - self.previous_close

    @property
    def change_pct(self):
        return (self.price - self.previous_close) / self.previous_close * 100


class PriceHistory(models.Model):
    """One row per symbol per tick: the series behind the charts."""

    stock = models.ForeignKey(
        Price,
        to_field="symbol",
        db_column="symbol",
        on_delete=models.CASCADE,
        related_name="history",
    )
    price = models.DecimalField(max_digits=15, decimal_places=2)
    timestamp = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "price_history"
        ordering = ["stock", "timestamp"]
        verbose_name_plural = "price history"
        indexes = [models.Index(fields=["stock", "timestamp"], name="price_history_sym_ts")]
        constraints = [
            models.CheckConstraint(condition=Q(price__gt=0), name="price_history_price_positive"),
        ]

    def __str__(self):
        return f"{self.stock_id} {self.price} at {self.timestamp:%Y-%m-%d %H:%M}"


class MarketState(models.Model):
    """The market clock: one row. Its lock keeps two tickers from advancing at once."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    ticks = models.PositiveBigIntegerField(default=0)
    last_tick_at = models.DateTimeField(null=True, blank=True)
    market_log_level = models.FloatField(
        default=0.0, help_text="Cumulative market-factor log-return"
    )
    # The simulated calendar: a trading day ends when the ticks' dt (in trading days) add
    # up to one; the first tick after that rolls every symbol's previous close.
    trading_day = models.PositiveIntegerField(default=0, help_text="Completed trading days")
    day_elapsed = models.FloatField(
        default=0.0, help_text="Share of the current trading day already simulated"
    )
    # A class's "most trades per simulated day" counts the trades made since this moment.
    day_started_at = models.DateTimeField(
        default=timezone.now, help_text="When the current trading day began"
    )
    # The running ticker's heartbeat (prices.ticker.heartbeat): after each tick, and about
    # once a minute while the market is closed. `manage.py doctor` reads it.
    ticker_seen_at = models.DateTimeField(
        null=True, blank=True, help_text="When a running tick_prices was last seen"
    )
    # The market factor's volatility regime now (prices.simulation): calm or turbulent.
    regime = models.CharField(
        max_length=10,
        choices=[("calm", "Calm"), ("turbulent", "Turbulent")],
        default="calm",
        help_text="The market's volatility regime now",
    )

    class Meta:
        db_table = "market_state"
        constraints = [models.CheckConstraint(condition=Q(id=1), name="market_state_singleton")]

    def __str__(self):
        return f"Market after {self.ticks} ticks"


class TradingSession(models.Model):
    """One simulated trading day, by the moment its first tick came: the charts' ranges
    ("This session", "Last 5 sessions") start at these moments. The tick that opens a
    day writes its row (prices.services.advance_market)."""

    number = models.PositiveIntegerField(
        unique=True, help_text="1 for the market's first trading day"
    )
    opened_at = models.DateTimeField(help_text="When the day's first tick came")

    class Meta:
        db_table = "trading_sessions"
        ordering = ["-number"]

    def __str__(self):
        return f"Trading day {self.number}"


class HistoryThinning(models.Model):
    """How far the price history has been thinned (prices.services.thin_history): one row,
    apart from the market lock's row, so that a pass never holds up a tick."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    thinned_to = models.DateTimeField(
        help_text="Rows before this moment keep only each symbol's last price of the day"
    )

    class Meta:
        db_table = "price_history_thinning"
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="price_history_thinning_singleton")
        ]

    def __str__(self):
        return f"Price history thinned to {self.thinned_to:%Y-%m-%d %H:%M}"


class MarketEvent(models.Model):
    """A news shock an instructor schedules: a symbol or a sector moves by X % next tick."""

    stock = models.ForeignKey(
        Price,
        to_field="symbol",
        db_column="symbol",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
    )
    sector = models.CharField(max_length=50, blank=True)
    percent = models.DecimalField(max_digits=6, decimal_places=2)
    reason = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    applied_at = models.DateTimeField(null=True, blank=True)
    # The simulated trading day (1 for the first) the event moved the market on: the news
    # students read goes back a few sessions, not a few hours.
    applied_day = models.PositiveIntegerField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        db_table = "market_events"
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(stock__isnull=False) & Q(sector=""))
                | (Q(stock__isnull=True) & ~Q(sector="")),
                name="market_events_symbol_xor_sector",
                violation_error_message="Choose a symbol or a sector (one of them).",
            ),
            models.CheckConstraint(
                condition=Q(percent__gt=-100) & Q(percent__lte=1000) & ~Q(percent=0),
                name="market_events_percent_range",
                violation_error_message="The move must be above -100 % and at most 1000 %, not 0.",
            ),
            models.CheckConstraint(
                condition=Q(applied_at__isnull=True) | Q(cancelled_at__isnull=True),
                name="market_events_applied_or_cancelled",
                violation_error_message="An event is either applied or cancelled, not both.",
            ),
        ]

    def __str__(self):
        target = self.stock_id or f"sector {self.sector}"
        return f"{target} {self.percent:+}%"

    @property
    def is_pending(self) -> bool:
        return self.applied_at is None and self.cancelled_at is None


class Headline(models.Model):
    """A dated line of market news: an earnings report, a dividend, a split, a large jump,
    an instructor's market event or a scenario's script. Written by the market (prices.news)
    from templates with the numbers filled in; read by the news page, the quote page and
    the market page."""

    class Kind(models.TextChoices):
        EARNINGS = "earnings", "Earnings"
        DIVIDEND = "dividend", "Dividend"
        SPLIT = "split", "Split"
        JUMP = "jump", "Large move"
        EVENT = "event", "Market event"
        SCENARIO = "scenario", "Scenario"
        MARKET = "market", "Market"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    # The simulated trading day it came on (1 for the first) and the moment of the tick.
    day = models.PositiveIntegerField()
    published_at = models.DateTimeField(default=timezone.now)
    stock = models.ForeignKey(
        Price,
        to_field="symbol",
        db_column="symbol",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="headlines",
    )
    sector = models.CharField(max_length=50, blank=True)
    text = models.CharField(max_length=300)
    # The move the news came with, in percent (None for news that moved nothing yet,
    # such as a split announced for a later day).
    percent = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)

    class Meta:
        db_table = "headlines"
        ordering = ["-published_at", "-id"]
        indexes = [
            models.Index(fields=["-published_at", "-id"], name="headlines_newest"),
            models.Index(fields=["stock", "-published_at"], name="headlines_symbol_newest"),
            models.Index(fields=["day"], name="headlines_day"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(text=""),
                name="headlines_text_not_empty",
                violation_error_message="A headline needs its text.",
            ),
        ]

    def __str__(self):
        return self.text


class MarketParameters(models.Model):
    """The market's own parameters, one row, edited in the admin: the market factor's
    drift and its two volatility regimes, the jumps, when a stock splits on its own, and
    how large a move makes news. Apart from the market lock's row, so an edit never waits
    for a tick and a tick never overwrites an edit."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    drift = models.FloatField(
        default=0.07,
        validators=[MinValueValidator(-0.5), MaxValueValidator(0.5)],
        help_text="The market factor's expected annual return, e.g. 0.07 for 7 %",
    )
    calm_volatility = models.FloatField(
        default=0.12,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.5)],
        help_text="The market's annual volatility in calm weeks, e.g. 0.12 for 12 %",
    )
    turbulent_volatility = models.FloatField(
        default=0.30,
        validators=[MinValueValidator(0.0), MaxValueValidator(2.0)],
        help_text="The market's annual volatility in stormy weeks, e.g. 0.30 for 30 %",
    )
    calm_days = models.FloatField(
        default=60.0,
        validators=[MinValueValidator(1.0), MaxValueValidator(2520.0)],
        help_text="How many trading days a calm spell lasts on average",
    )
    turbulent_days = models.FloatField(
        default=15.0,
        validators=[MinValueValidator(1.0), MaxValueValidator(2520.0)],
        help_text="How many trading days a stormy spell lasts on average",
    )
    market_jumps_per_year = models.FloatField(
        default=1.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(52.0)],
        help_text="Market-wide gaps a year, on average",
    )
    market_jump_mean = models.FloatField(
        default=-0.02,
        validators=[MinValueValidator(-0.5), MaxValueValidator(0.5)],
        help_text="A market gap's average log size, e.g. -0.02 for about −2 %",
    )
    market_jump_volatility = models.FloatField(
        default=0.03,
        validators=[MinValueValidator(0.0), MaxValueValidator(0.5)],
        help_text="How much market gaps vary in size (log), e.g. 0.03",
    )
    stock_jumps_per_year = models.FloatField(
        default=2.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(52.0)],
        help_text="Company news gaps a year per stock, on average",
    )
    stock_jump_volatility = models.FloatField(
        default=0.05,
        validators=[MinValueValidator(0.0), MaxValueValidator(0.5)],
        help_text="How much company gaps vary in size (log), e.g. 0.05 for about 5 %",
    )
    split_above_price = models.DecimalField(
        max_digits=15,
        decimal_places=2,
        null=True,
        blank=True,
        default=Decimal("1500.00"),
        validators=[MinValueValidator(Decimal("2.00"))],
        help_text="A stock that closes above this price splits on its own (blank: never)",
    )
    split_notice_days = models.PositiveSmallIntegerField(
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(60)],
        help_text="How many trading days ahead a split is announced",
    )
    news_move_percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=Decimal("8.00"),
        validators=[MinValueValidator(Decimal("1.00")), MaxValueValidator(Decimal("100.00"))],
        help_text="A stock that moves this much (%) in one tick makes the news",
    )

    class Meta:
        db_table = "market_parameters"
        verbose_name = "market parameters"
        verbose_name_plural = "market parameters"
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="market_parameters_singleton"),
            models.CheckConstraint(
                condition=Q(calm_volatility__gte=0) & Q(turbulent_volatility__gte=0),
                name="market_parameters_volatility_gte_0",
                violation_error_message="A volatility cannot be negative.",
            ),
            models.CheckConstraint(
                condition=Q(calm_days__gte=1) & Q(turbulent_days__gte=1),
                name="market_parameters_spells_gte_1_day",
                violation_error_message="A calm or stormy spell lasts at least one day.",
            ),
            # Equal volatilities make a market without storms; a "stormy" spell calmer
            # than a calm one would only swap the names the students read.
            models.CheckConstraint(
                condition=Q(turbulent_volatility__gte=F("calm_volatility")),
                name="market_parameters_stormy_gte_calm",
                violation_error_message=(
                    "Stormy weeks must be at least as volatile as calm ones "
                    "(equal volatilities make a market without storms)."
                ),
            ),
        ]

    def __str__(self):
        return "Market parameters"

    def market_model(self) -> MarketModel:
        """The price engine's model for these parameters (company gaps average zero)."""
        return MarketModel(
            drift=self.drift,
            calm_volatility=self.calm_volatility,
            turbulent_volatility=self.turbulent_volatility,
            calm_days=self.calm_days,
            turbulent_days=self.turbulent_days,
            market_jumps=Jumps(
                intensity=self.market_jumps_per_year,
                mean=self.market_jump_mean,
                volatility=self.market_jump_volatility,
            ),
            stock_jumps=Jumps(
                intensity=self.stock_jumps_per_year, volatility=self.stock_jump_volatility
            ),
        )

    @classmethod
    def current(cls) -> "MarketParameters":
        """The row (made with the defaults if it is missing)."""
        return cls.objects.get_or_create(id=1)[0]


_NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 10: "ten"}


def what_shares_become(numerator: int, denominator: int) -> str:
    def word(n):
        return _NUMBER_WORDS.get(n, str(n))

    if denominator == 1:
        return f"each share becomes {word(numerator)}"
    return f"every {word(denominator)} shares become {word(numerator)}"


class Split(models.Model):
    """A stock split on the simulated calendar: each share becomes numerator/denominator
    shares (2/1 for 2-for-1, 3/2 for 3-for-2, 1/10 for a 1-for-10 reverse split) at the
    open of `effective_day`. Announced on `announced_day` by an instructor (`created_by`)
    or by the market itself (a price above MarketParameters.split_above_price). Applied
    by prices.splits at the tick that opens its day; cancelled only before then."""

    stock = models.ForeignKey(
        Price,
        to_field="symbol",
        db_column="symbol",
        on_delete=models.CASCADE,
        related_name="splits",
    )
    numerator = models.PositiveSmallIntegerField(help_text="Shares after: 2 in 2-for-1")
    denominator = models.PositiveSmallIntegerField(help_text="Shares before: 1 in 2-for-1")
    announced_day = models.PositiveIntegerField(help_text="The trading day it was announced")
    effective_day = models.PositiveIntegerField(help_text="The trading day it takes effect")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The instructor who scheduled it; empty for the market's own",
    )
    created_at = models.DateTimeField(default=timezone.now)
    applied_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        db_table = "splits"
        ordering = ["-effective_day", "-id"]
        constraints = [
            # Forward splits from 3-for-2 to 10-for-1; reverse splits 1-for-2 to 1-for-10.
            models.CheckConstraint(
                condition=Q(
                    numerator__gt=F("denominator"),
                    numerator__lte=F("denominator") * 10,
                    denominator__gte=1,
                    denominator__lte=10,
                )
                & Q(GreaterThanOrEqual(F("numerator") * 2, F("denominator") * 3))
                | Q(numerator=1, denominator__gte=2, denominator__lte=10),
                name="splits_ratio_range",
                violation_error_message="A split is from 3-for-2 to 10-for-1, or a reverse "
                "split from 1-for-2 to 1-for-10.",
            ),
            models.CheckConstraint(
                condition=Q(effective_day__gt=F("announced_day")),
                name="splits_effective_after_announcement",
                violation_error_message="A split takes effect on a day after it is announced.",
            ),
            models.CheckConstraint(
                condition=Q(applied_at__isnull=True) | Q(cancelled_at__isnull=True),
                name="splits_applied_or_cancelled",
                violation_error_message="A split is either applied or cancelled, not both.",
            ),
            models.UniqueConstraint(
                fields=["stock"],
                condition=Q(applied_at__isnull=True, cancelled_at__isnull=True),
                name="splits_one_pending_per_stock",
                violation_error_message="This stock already has a split announced.",
            ),
        ]
        indexes = [
            models.Index(
                fields=["effective_day"],
                condition=Q(applied_at__isnull=True, cancelled_at__isnull=True),
                name="splits_pending_day",
            ),
        ]

    def __str__(self):
        return f"{self.stock_id} {self.ratio_text} on day {self.effective_day}"

    @property
    def ratio_text(self) -> str:
        return f"{self.numerator}-for-{self.denominator}"

    @property
    def is_pending(self) -> bool:
        return self.applied_at is None and self.cancelled_at is None

    @property
    def what_a_share_becomes(self) -> str:
        """ "each share becomes two", "every two shares become three", "every ten shares
        become one"."""
        return what_shares_become(self.numerator, self.denominator)

    @property
    def status(self) -> str:
        if self.applied_at is not None:
            return "applied"
        if self.cancelled_at is not None:
            return "cancelled"
        return "pending"


class Scenario(models.Model):
    """A market scenario: a TOML script of the market over some trading days
    (prices.scenarios). The shipped ones are loaded from prices/scenarios/ (builtin);
    instructors upload others."""

    name = models.CharField(max_length=50, unique=True)
    title = models.CharField(max_length=200)
    description = models.TextField()
    source = models.TextField(help_text="The scenario file (TOML)")
    seed = models.BigIntegerField(default=1, help_text="The default seed of a run")
    days = models.PositiveIntegerField(help_text="Its length in trading days")
    builtin = models.BooleanField(
        default=False, verbose_name="shipped", help_text="Shipped with TradeSim"
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    uploaded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "scenarios"
        ordering = ["-builtin", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(days__gte=1),
                name="scenarios_days_gte_1",
                violation_error_message="A scenario lasts at least one trading day.",
            ),
        ]

    def __str__(self):
        return self.title


class ScenarioRun(models.Model):
    """One run of a scenario on the market. Its day counts the market's trading days
    since it started, less the days it spent paused; its random numbers come from its
    seed and its own tick count, so a replay from the same start repeats the prices."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        PAUSED = "paused", "Paused"
        STOPPED = "stopped", "Stopped"
        FINISHED = "finished", "Finished"

    scenario = models.ForeignKey(Scenario, on_delete=models.PROTECT, related_name="runs")
    seed = models.BigIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    start_day = models.PositiveIntegerField(
        help_text="The market's trading day (1 for the first) that is the scenario's day 1"
    )
    start_tick = models.PositiveBigIntegerField(help_text="The market's ticks before the run")
    paused_days = models.PositiveIntegerField(default=0)
    paused_ticks = models.PositiveBigIntegerField(default=0)
    # Where the current pause began (the market's day and ticks), while paused.
    pause_day = models.PositiveIntegerField(null=True, blank=True)
    pause_tick = models.PositiveBigIntegerField(null=True, blank=True)
    day_reached = models.PositiveIntegerField(
        default=0, help_text="The scenario day reached when it was last paused or ended"
    )
    started_at = models.DateTimeField(default=timezone.now)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    stopped_at = models.DateTimeField(null=True, blank=True)
    stopped_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "scenario_runs"
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                Substr("status", 1, 0),
                condition=Q(status__in=["running", "paused"]),
                name="scenario_runs_one_live",
                violation_error_message="A scenario is already running or paused: stop it first.",
            ),
        ]

    def __str__(self):
        return f"{self.scenario} (seed {self.seed}, {self.get_status_display().lower()})"

    def day_at(self, market_day: int) -> int:
        """The scenario day that the market's `market_day` is while this run runs."""
        return market_day - self.start_day + 1 - self.paused_days

    @property
    def is_live(self) -> bool:
        return self.status in (self.Status.RUNNING, self.Status.PAUSED)
