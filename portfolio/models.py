from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone


class Holding(models.Model):
    """Shares of one symbol a user owns. Table `holdings`; deleted when it reaches zero."""

    # No index of its own: the unique (user, symbol) index below begins with it and serves
    # every lookup by user, so a second one would only cost a write on every row.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="holdings", db_index=False
    )
    stock = models.ForeignKey(
        "prices.Price",
        to_field="symbol",
        db_column="symbol",
        on_delete=models.PROTECT,
        related_name="holdings",
    )
    # Signed: below zero, a short position (shares sold short, owed to the lender), its
    # average_price the average price they were sold at.
    quantity = models.IntegerField(help_text="Shares owned; below zero, shares sold short")
    average_price = models.DecimalField(max_digits=15, decimal_places=4)
    last_updated = models.DateTimeField(default=timezone.now)
    # The shares bought in the current trading day, for "Today": they count from what they
    # cost, not from the previous close. Kept by add_shares and remove_shares (a sale takes
    # the shares held longest first); they count only while day_bought_at is in the
    # market's current trading day (prices' MarketState.day_started_at), so a new day needs
    # no write here.
    day_quantity = models.PositiveIntegerField(
        default=0, help_text="Shares of this holding bought in the trading day of day_bought_at"
    )
    day_average_price = models.DecimalField(
        max_digits=15,
        decimal_places=4,
        null=True,
        blank=True,
        help_text="What those shares cost, on average",
    )
    day_bought_at = models.DateTimeField(
        null=True, blank=True, help_text="When the first of those shares was bought"
    )
    # Shares set aside for open sell orders: still the user's, but not theirs to sell again.
    held_quantity = models.PositiveIntegerField(
        default=0, db_default=0, help_text="Shares held for open sell orders"
    )

    class Meta:
        db_table = "holdings"
        ordering = ["stock"]
        constraints = [
            models.UniqueConstraint(fields=["user", "stock"], name="holdings_user_symbol_unique"),
            models.CheckConstraint(condition=~Q(quantity=0), name="holdings_quantity_not_0"),
            models.CheckConstraint(
                condition=Q(average_price__gt=0), name="holdings_average_price_gt_0"
            ),
            models.CheckConstraint(
                condition=Q(day_quantity__lte=F("quantity")) | Q(day_quantity__lte=-F("quantity")),
                name="holdings_day_quantity_lte_quantity",
                violation_error_message="The shares bought today cannot be more than the "
                "shares held.",
            ),
            models.CheckConstraint(
                condition=Q(held_quantity__lte=F("quantity"))
                | Q(held_quantity__lte=-F("quantity")),
                name="holdings_held_quantity_lte_quantity",
                violation_error_message="Open orders cannot hold more shares than are held.",
            ),
        ]

    def __str__(self):
        return f"{self.quantity} {self.stock_id} ({self.user})"

    @property
    def free_quantity(self) -> int:
        """The shares the user may sell (or, short, buy to cover) or hold for an order now."""
        return abs(self.quantity) - self.held_quantity

    @property
    def is_short(self) -> bool:
        return self.quantity < 0

    @property
    def symbol(self):
        return self.stock_id


UNITS = {"max_digits": 30, "decimal_places": 8}
UNIT_VALUE = {"max_digits": 20, "decimal_places": 8}


class PortfolioSummary(models.Model):
    """Running figures for one user that no single table row holds.

    `realized_pnl` is written by `remove_shares`, inside the trade's transaction, after the
    balance and holding locks. The unit-value state (the fund-accounting view of the
    portfolio that makes the time-weighted return one number) is written by the snapshot
    services, as of `snapshot_at`: `units` outstanding, the value of one unit, its peak so
    far and the worst fall from a peak, and the net contributions already turned into units.
    A user with no snapshot yet has `snapshot_at` NULL and the defaults."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="portfolio_summary",
    )
    realized_pnl = models.DecimalField(max_digits=15, decimal_places=2, default=0)
    last_updated = models.DateTimeField(default=timezone.now)
    units = models.DecimalField(**UNITS, default=0)
    unit_value = models.DecimalField(**UNIT_VALUE, default=1)
    peak_unit_value = models.DecimalField(**UNIT_VALUE, default=1)
    max_drawdown = models.DecimalField(
        max_digits=9, decimal_places=8, default=0, help_text="Worst fall from a peak, 0 to 1"
    )
    contributions_at_snapshot = models.DecimalField(
        max_digits=15,
        decimal_places=2,
        default=0,
        help_text="Net contributions already turned into units",
    )
    snapshot_at = models.DateTimeField(null=True, blank=True)
    regular_unit_value = models.DecimalField(
        **UNIT_VALUE,
        null=True,
        blank=True,
        help_text="The unit value at the last regular snapshot (every SNAPSHOT_EVERY_TICKS ticks)",
    )

    class Meta:
        db_table = "portfolio_summaries"
        verbose_name_plural = "portfolio summaries"
        constraints = [
            models.CheckConstraint(condition=Q(units__gte=0), name="portfolio_units_gte_0"),
            models.CheckConstraint(
                condition=Q(unit_value__gte=0), name="portfolio_unit_value_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(max_drawdown__gte=0) & Q(max_drawdown__lte=1),
                name="portfolio_max_drawdown_0_1",
            ),
        ]

    def __str__(self):
        return f"Summary for {self.user}"


class PortfolioSnapshot(models.Model):
    """A student's portfolio at one moment: the value-over-time series and the unit value
    behind the time-weighted return. Written in bulk by the snapshot services; append-only.

    Regular snapshots (every SNAPSHOT_EVERY_TICKS ticks, for every student) also carry the
    period return that the risk-adjusted ranking averages: equal periods, so a student who
    deposits often (and is snapshotted in between) has the same periods as everyone."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="portfolio_snapshots"
    )
    timestamp = models.DateTimeField()
    cash = models.DecimalField(
        max_digits=15, decimal_places=2, help_text="Below zero: a margin loan"
    )
    # Signed: long positions less short ones (a short's value is what buying it back costs,
    # a liability), so below zero when the shorts are worth more than the shares owned.
    market_value = models.DecimalField(
        max_digits=15,
        decimal_places=2,
        help_text="Long positions less short ones; below zero when the shorts are worth more",
    )
    total_value = models.DecimalField(max_digits=15, decimal_places=2)
    net_contributions = models.DecimalField(max_digits=15, decimal_places=2)
    units = models.DecimalField(**UNITS)
    unit_value = models.DecimalField(**UNIT_VALUE)
    period_return = models.DecimalField(
        max_digits=20,
        decimal_places=10,
        null=True,
        blank=True,
        help_text="On a regular snapshot: the unit value's change since the student's "
        "previous regular one (0.01 = +1 %); empty on the first and on the snapshots taken "
        "between, for a deposit or a withdrawal",
    )

    class Meta:
        db_table = "portfolio_snapshots"
        ordering = ["user", "timestamp"]
        indexes = [
            models.Index(fields=["user", "timestamp"], name="portfolio_snapshot_user_ts"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(units__gte=0), name="portfolio_snapshot_units_gte_0"
            ),
        ]

    def __str__(self):
        return f"{self.user} ${self.total_value:,.2f} at {self.timestamp:%Y-%m-%d %H:%M}"


class Valuation(models.Model):
    """Every user's market value and net contributions, summed in one pass: a read-only
    database view (`portfolio_valuations`, kept by portfolio.valuation_view) that groups all
    holdings (× current price) and all external cash flows by user and joins them to the
    users. Ranking every student reads it instead of summing each student's rows in a
    subquery of their own (portfolio.selectors.valued, `all_at_once`)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        primary_key=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="valuation",
    )
    market_value = models.DecimalField(max_digits=15, decimal_places=2)
    net_contributions = models.DecimalField(max_digits=15, decimal_places=2)

    class Meta:
        managed = False
        db_table = "portfolio_valuations"

    def __str__(self):
        return f"Valuation of {self.user_id}"
