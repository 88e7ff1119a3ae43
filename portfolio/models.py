from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Holding(models.Model):
    """Shares of one symbol a user owns. Table `holdings`; deleted when it reaches zero."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="holdings"
    )
    stock = models.ForeignKey(
        "prices.Price",
        to_field="symbol",
        db_column="symbol",
        on_delete=models.PROTECT,
        related_name="holdings",
    )
    quantity = models.PositiveIntegerField()
    average_price = models.DecimalField(max_digits=15, decimal_places=4)
    last_updated = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "holdings"
        ordering = ["stock"]
        constraints = [
            models.UniqueConstraint(fields=["user", "stock"], name="holdings_user_symbol_unique"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="holdings_quantity_gt_0"),
            models.CheckConstraint(
                condition=Q(average_price__gt=0), name="holdings_average_price_gt_0"
            ),
        ]

    def __str__(self):
        return f"{self.quantity} {self.stock_id} ({self.user})"

    @property
    def symbol(self):
        return self.stock_id


class PortfolioSummary(models.Model):
    """Running figures for one user that no single table row holds: realized P/L so far.

    Written only by portfolio services, inside the trade's transaction, after the
    balance and holding locks."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="portfolio_summary",
    )
    realized_pnl = models.DecimalField(max_digits=15, decimal_places=2, default=0)
    last_updated = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "portfolio_summaries"

    def __str__(self):
        return f"Summary for {self.user}"
