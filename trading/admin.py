"""Trades in the admin: read-only for everybody, superusers included. A trade is written
only by trading.services, together with its journal rows and the holding. An instructor
sees the trades of the students in their own classes only."""

from django.contrib import admin

from tradesim.admin import OwnClassFilter, OwnStudentsOnlyMixin
from trading.models import Trade


@admin.register(Trade)
class TradeAdmin(OwnStudentsOnlyMixin, admin.ModelAdmin):
    list_display = [
        "timestamp",
        "user",
        "operation",
        "stock",
        "quantity",
        "price",
        "total",
        "commission",
        "realized_pnl",
    ]
    list_filter = ["operation", ("user__classroom", OwnClassFilter), "timestamp"]
    list_select_related = ["user", "stock"]
    search_fields = ["user__username", "stock__symbol"]
    date_hierarchy = "timestamp"
    # Counting every trade for "N total" gets slow on a big class.
    show_full_result_count = False
    list_per_page = 50

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
