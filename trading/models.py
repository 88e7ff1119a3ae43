from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Trade(models.Model):
    """One executed order. Table `trades`; append-only."""

    class Operation(models.TextChoices):
        BUY = "buy", "Buy"
        SELL = "sell", "Sell"

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
    operation = models.CharField(max_length=4, choices=Operation.choices)
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
        help_text="For sells: proceeds minus the average cost of the shares sold",
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
                condition=Q(operation__in=["buy", "sell"]), name="trades_operation_valid"
            ),
            models.CheckConstraint(
                condition=Q(operation="sell") | Q(realized_pnl__isnull=True),
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
