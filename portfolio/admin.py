"""Positions and performance in the admin: read-only for everybody, superusers included.
Holdings are written only with their trade (trading.services), summaries and snapshots by
portfolio.services. An instructor sees the students of their own classes only."""

from django.contrib import admin

from portfolio.models import Holding, PortfolioSnapshot, PortfolioSummary
from tradesim.admin import OwnClassFilter, OwnStudentsOnlyMixin


class ReadOnlyAdmin(OwnStudentsOnlyMixin, admin.ModelAdmin):
    list_per_page = 50
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Holding)
class HoldingAdmin(ReadOnlyAdmin):
    list_display = ["user", "stock", "quantity", "average_price", "last_updated"]
    list_filter = [("user__classroom", OwnClassFilter), "stock__sector"]
    list_select_related = ["user", "stock"]
    search_fields = ["user__username", "stock__symbol"]


@admin.register(PortfolioSummary)
class PortfolioSummaryAdmin(ReadOnlyAdmin):
    list_display = [
        "user",
        "realized_pnl",
        "units",
        "unit_value",
        "peak_unit_value",
        "max_drawdown",
        "snapshot_at",
    ]
    list_filter = [("user__classroom", OwnClassFilter)]
    list_select_related = ["user"]
    search_fields = ["user__username"]


@admin.register(PortfolioSnapshot)
class PortfolioSnapshotAdmin(ReadOnlyAdmin):
    list_display = [
        "timestamp",
        "user",
        "cash",
        "market_value",
        "total_value",
        "net_contributions",
        "unit_value",
    ]
    list_filter = [("user__classroom", OwnClassFilter), "timestamp"]
    list_select_related = ["user"]
    search_fields = ["user__username"]
    date_hierarchy = "timestamp"
