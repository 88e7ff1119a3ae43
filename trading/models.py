from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Trade(models.Model):
    """One executed order. Table `trades`; append-only."""

    class Operation(models.TextChoices):
        BUY = "buy", "Buy"
        SELL = "sell", "Sell"
        SHORT = "short", "Sell short"
        COVER = "cover", "Buy to cover"

    # No index of its own: the (user, …) indexes below begin with it and serve every lookup
    # by user, so a second one would only cost a write on every row.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="trades", db_index=False
    )
    stock = models.ForeignKey(
        "prices.Price",
        to_field="symbol",
        db_column="symbol",
        on_delete=models.PROTECT,
        related_name="trades",
    )
    operation = models.CharField(max_length=5, choices=Operation.choices)
    quantity = models.PositiveIntegerField()
    price = models.DecimalField(max_digits=15, decimal_places=2)
    total = models.DecimalField(
        max_digits=15, decimal_places=2, help_text="quantity × price, rounded to cents"
    )
    commission = models.DecimalField(max_digits=15, decimal_places=2, default=0)
    realized_pnl = models.DecimalField(
        max_digits=15,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="For sells: proceeds minus the average cost of the shares sold; for "
        "covers: the average short price minus the cover price, times the shares",
    )
    # NULL, not "", for "no token": the unique (user, token) constraint skips NULLs.
    token = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    timestamp = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "trades"
        ordering = ["-timestamp", "-id"]
        indexes = [
            models.Index(fields=["user", "-timestamp", "-id"], name="trades_user_ts"),
            models.Index(fields=["user", "stock", "-timestamp"], name="trades_user_symbol_ts"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="trades_quantity_gt_0"),
            models.CheckConstraint(condition=Q(price__gt=0), name="trades_price_gt_0"),
            models.CheckConstraint(condition=Q(total__gt=0), name="trades_total_gt_0"),
            models.CheckConstraint(condition=Q(commission__gte=0), name="trades_commission_gte_0"),
            models.CheckConstraint(
                condition=Q(operation__in=["buy", "sell", "short", "cover"]),
                name="trades_operation_valid",
            ),
            models.CheckConstraint(
                condition=Q(operation__in=["sell", "cover"]) | Q(realized_pnl__isnull=True),
                name="trades_realized_pnl_only_on_sells",
            ),
            models.UniqueConstraint(
                fields=["user", "token"],
                condition=Q(token__isnull=False),
                name="trades_user_token_unique",
            ),
        ]
        # Resetting sells at market and then adjusts cash: a trading action, so it lives here.
        permissions = [("reset_student", "Can reset a student to the starting cash")]

    def __str__(self):
        return f"{self.get_operation_display()} {self.quantity} {self.stock_id} @ {self.price}"

    @property
    def symbol(self):
        return self.stock_id


# A market order placed while the market is closed waits for the open as an order that any
# price reaches: a buy at or below the most a trigger price can hold, a sell at or above a
# cent. The first tick after the open fills it, as it fills every order it reaches.
MARKET_BUY_TRIGGER = Decimal("9999999999999.99")
MARKET_SELL_TRIGGER = Decimal("0.01")


class OrderSide(models.TextChoices):
    BUY = "buy", "Buy"
    SELL = "sell", "Sell"
    SELL_SHORT = "sell_short", "Sell short"
    BUY_TO_COVER = "buy_to_cover", "Buy to cover"


# The sides that buy (they wait for the price to fall to a limit, rise to a stop) and the
# sides that sell.
BUYING_SIDES = frozenset({OrderSide.BUY, OrderSide.BUY_TO_COVER})


class OrderType(models.TextChoices):
    MARKET = "market", "Market"
    LIMIT = "limit", "Limit"
    STOP = "stop", "Stop"
    STOP_LIMIT = "stop_limit", "Stop-limit"
    TRAILING_STOP = "trailing_stop", "Trailing stop"


class OrderDuration(models.TextChoices):
    DAY = "day", "Day"
    GTC = "gtc", "Good till cancelled"


class OrderStatus(models.TextChoices):
    OPEN = "open", "Open"
    FILLED = "filled", "Filled"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"
    REJECTED = "rejected", "Rejected"


class OrderDirection(models.TextChoices):
    BELOW = "below", "At or below"
    ABOVE = "above", "At or above"


class Order(models.Model):
    """What a student asked for: a market order, filled at once, or an order that waits
    for the market (limit, stop, stop-limit, trailing stop) until tick_prices fills it, it
    is cancelled or it expires. Table `orders`: a student's one order history.

    Trigger: an open order is reached when the symbol's price is at or below
    (`trigger_direction` "below") or at or above ("above") its `trigger_price`, which
    tick_prices finds with an index on (direction, symbol, trigger price) over open orders.
    A buy limit is reached at or below its limit, a sell limit at or above; a buy stop at or
    above its stop, a sell stop at or below; a triggered stop-limit waits as its limit; a
    trailing stop's trigger follows its mark (the highest price since it was placed, for a
    sell; the lowest, for a buy) by the trail.
    """

    Side = OrderSide
    Type = OrderType
    Duration = OrderDuration
    Status = OrderStatus
    Direction = OrderDirection

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders", db_index=False
    )
    stock = models.ForeignKey(
        "prices.Price",
        to_field="symbol",
        db_column="symbol",
        on_delete=models.PROTECT,
        related_name="orders",
        db_index=False,
    )
    side = models.CharField(max_length=12, choices=OrderSide.choices)
    type = models.CharField(max_length=13, choices=OrderType.choices)
    quantity = models.PositiveIntegerField()
    limit_price = models.DecimalField(max_digits=15, decimal_places=2, null=True, blank=True)
    stop_price = models.DecimalField(max_digits=15, decimal_places=2, null=True, blank=True)
    trail_percent = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    trail_amount = models.DecimalField(max_digits=15, decimal_places=2, null=True, blank=True)
    trail_mark = models.DecimalField(
        max_digits=15,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Trailing stop: the highest price since placing (sell), the lowest (buy)",
    )
    trigger_price = models.DecimalField(
        max_digits=15, decimal_places=2, null=True, blank=True, help_text="Open orders only"
    )
    trigger_direction = models.CharField(max_length=5, choices=OrderDirection.choices, blank=True)
    triggered_at = models.DateTimeField(
        null=True, blank=True, help_text="Stop-limit: when its stop was reached"
    )
    duration = models.CharField(
        max_length=3, choices=OrderDuration.choices, default=OrderDuration.DAY
    )
    expires_day = models.PositiveIntegerField(
        null=True, blank=True, help_text="The last simulated trading day it may fill"
    )
    status = models.CharField(max_length=9, choices=OrderStatus.choices, default=OrderStatus.OPEN)
    reason = models.CharField(
        max_length=300, blank=True, help_text="Why it was rejected or expired, for the student"
    )
    held_cash = models.DecimalField(
        max_digits=15, decimal_places=2, default=0, help_text="Cash an open buy holds"
    )
    held_shares = models.PositiveIntegerField(
        default=0, help_text="Shares an open sell holds (a buy to cover: short shares)"
    )
    trade = models.OneToOneField(
        Trade,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="order",
        help_text="The trade that filled it",
    )
    # NULL, not "", for "no token": the unique (user, token) constraint skips NULLs.
    token = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    created_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The instructor who cancelled it, if not the student",
    )
    notified = models.BooleanField(
        default=True, help_text="False until the student has been told it filled or closed"
    )

    class Meta:
        db_table = "orders"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-created_at", "-id"], name="orders_user_created"),
            # What tick_prices looks up: per symbol, the open orders the new price reaches.
            models.Index(
                fields=["trigger_direction", "stock", "trigger_price", "created_at", "id"],
                condition=Q(status="open"),
                name="orders_open_trigger",
            ),
            models.Index(
                fields=["stock", "trail_mark"],
                condition=Q(status="open", type="trailing_stop"),
                name="orders_open_trailing",
            ),
            models.Index(
                fields=["expires_day"], condition=Q(status="open"), name="orders_open_expiry"
            ),
            models.Index(fields=["user"], condition=Q(notified=False), name="orders_unnotified"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="orders_quantity_gt_0"),
            models.CheckConstraint(
                condition=Q(side__in=OrderSide.values), name="orders_side_valid"
            ),
            models.CheckConstraint(
                condition=Q(type__in=OrderType.values), name="orders_type_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=OrderStatus.values), name="orders_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(duration__in=OrderDuration.values), name="orders_duration_valid"
            ),
            models.CheckConstraint(
                condition=Q(limit_price__isnull=True) | Q(limit_price__gt=0),
                name="orders_limit_price_gt_0",
            ),
            models.CheckConstraint(
                condition=Q(stop_price__isnull=True) | Q(stop_price__gt=0),
                name="orders_stop_price_gt_0",
            ),
            models.CheckConstraint(
                condition=Q(trail_percent__isnull=True)
                | Q(trail_percent__gt=0, trail_percent__lt=100),
                name="orders_trail_percent_range",
            ),
            models.CheckConstraint(
                condition=Q(trail_amount__isnull=True) | Q(trail_amount__gt=0),
                name="orders_trail_amount_gt_0",
            ),
            # Which prices each type has: exactly these, and no others.
            models.CheckConstraint(
                condition=(
                    Q(
                        type="market",
                        limit_price__isnull=True,
                        stop_price__isnull=True,
                        trail_percent__isnull=True,
                        trail_amount__isnull=True,
                    )
                    | Q(
                        type="limit",
                        limit_price__isnull=False,
                        stop_price__isnull=True,
                        trail_percent__isnull=True,
                        trail_amount__isnull=True,
                    )
                    | Q(
                        type="stop",
                        limit_price__isnull=True,
                        stop_price__isnull=False,
                        trail_percent__isnull=True,
                        trail_amount__isnull=True,
                    )
                    | Q(
                        type="stop_limit",
                        limit_price__isnull=False,
                        stop_price__isnull=False,
                        trail_percent__isnull=True,
                        trail_amount__isnull=True,
                    )
                    | Q(
                        type="trailing_stop",
                        limit_price__isnull=True,
                        stop_price__isnull=True,
                        trail_mark__isnull=False,
                    )
                    & (
                        Q(trail_percent__isnull=False, trail_amount__isnull=True)
                        | Q(trail_percent__isnull=True, trail_amount__isnull=False)
                    )
                ),
                name="orders_prices_match_type",
            ),
            # A market order fills at once, or waits for the market's open as an order that
            # any price reaches; it never waits for a price.
            models.CheckConstraint(
                condition=~Q(type="market")
                | Q(status="filled", trigger_direction="")
                | Q(
                    side__in=["buy", "buy_to_cover"],
                    trigger_direction="below",
                    trigger_price=MARKET_BUY_TRIGGER,
                )
                | Q(
                    side__in=["sell", "sell_short"],
                    trigger_direction="above",
                    trigger_price=MARKET_SELL_TRIGGER,
                ),
                name="orders_market_fills_or_waits_for_the_open",
            ),
            models.CheckConstraint(
                condition=Q(status="filled", trade__isnull=False)
                | (~Q(status="filled") & Q(trade__isnull=True)),
                name="orders_filled_has_trade",
            ),
            # Only an open order holds anything, and only on its own side: a buy its cost,
            # a sell its shares, a buy to cover the short shares it closes; a short sale
            # holds nothing (its margin is checked when it fills).
            models.CheckConstraint(
                condition=Q(held_cash__gte=0)
                & (Q(status="open") | Q(held_cash=0, held_shares=0))
                & (Q(side="buy") | Q(held_cash=0))
                & (Q(side__in=["sell", "buy_to_cover"]) | Q(held_shares=0)),
                name="orders_holds_only_when_open",
            ),
            models.CheckConstraint(
                condition=~Q(status="open")
                | Q(trigger_price__isnull=False, trigger_direction__in=OrderDirection.values),
                name="orders_open_has_trigger",
            ),
            models.CheckConstraint(
                condition=Q(status="open") | Q(closed_at__isnull=False),
                name="orders_closed_has_time",
            ),
            models.UniqueConstraint(
                fields=["user", "token"],
                condition=Q(token__isnull=False),
                name="orders_user_token_unique",
            ),
        ]
        permissions = [("cancel_order", "Can cancel a student's open order")]

    def __str__(self):
        return (
            f"{self.get_side_display()} {self.quantity} {self.stock_id} {self.get_type_display()}"
        )

    @property
    def symbol(self):
        return self.stock_id

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN

    @property
    def buys(self) -> bool:
        """A buy or a buy to cover (BUYING_SIDES): it waits for the price to fall to a limit,
        rise to a stop."""
        return self.side in BUYING_SIDES


class MarginCallStatus(models.TextChoices):
    OPEN = "open", "Open"
    MET = "met", "Met"
    LIQUIDATED = "liquidated", "Liquidated"


class MarginCall(models.Model):
    """A margin call: at a tick, the student's equity (cash + positions at the
    market) was below their class's maintenance requirement (maintenance_margin_percent %
    of the positions' market value). Table `margin_calls`, written only by
    trading.services.check_margin_calls, at the ticks.

    It is met at the first tick where the equity is back at the requirement (a deposit, a
    sale, a price move); past its due day (at once when the class gives 0 days) positions
    are sold at the market, largest first, until the requirement is met: then it is
    liquidated, `detail` saying what was sold and cancelled. At most one open call per
    student."""

    Status = MarginCallStatus

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="margin_calls",
        db_index=False,
    )
    status = models.CharField(
        max_length=10, choices=MarginCallStatus.choices, default=MarginCallStatus.OPEN
    )
    opened_at = models.DateTimeField(default=timezone.now)
    opened_day = models.PositiveIntegerField(help_text="The simulated trading day of the call")
    due_day = models.PositiveIntegerField(
        help_text="The last simulated trading day to meet it: the opening day plus the "
        "class's days to meet a margin call"
    )
    # Equity may be negative: an account can lose more than it has.
    equity = models.DecimalField(
        max_digits=15, decimal_places=2, help_text="Cash plus positions at the call"
    )
    requirement = models.DecimalField(
        max_digits=15,
        decimal_places=2,
        help_text="The maintenance margin of the positions at the call",
    )
    met_at = models.DateTimeField(null=True, blank=True)
    liquidated_at = models.DateTimeField(null=True, blank=True)
    detail = models.CharField(
        max_length=300, blank=True, help_text="What the forced sale sold and cancelled"
    )

    class Meta:
        db_table = "margin_calls"
        ordering = ["-opened_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-opened_at"], name="margin_calls_user_opened"),
        ]
        constraints = [
            # Also what a page looks up: the student's open call.
            models.UniqueConstraint(
                fields=["user"], condition=Q(status="open"), name="margin_calls_one_open_per_user"
            ),
            models.CheckConstraint(
                condition=Q(status__in=MarginCallStatus.values), name="margin_calls_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(due_day__gte=models.F("opened_day")),
                name="margin_calls_due_on_or_after_opening",
            ),
            models.CheckConstraint(
                condition=Q(requirement__gte=0) & Q(equity__lt=models.F("requirement")),
                name="margin_calls_equity_below_requirement",
            ),
            models.CheckConstraint(
                condition=Q(status="open", met_at__isnull=True, liquidated_at__isnull=True)
                | Q(status="met", met_at__isnull=False, liquidated_at__isnull=True)
                | Q(status="liquidated", met_at__isnull=True, liquidated_at__isnull=False),
                name="margin_calls_closed_has_time",
            ),
        ]

    def __str__(self):
        return f"Margin call on {self.user} (day {self.opened_day}, {self.get_status_display()})"

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN
