"""Cash in the admin: read-only for everybody, superusers included. The journal is
append-only, and a balance changes only through ledger.services (with its journal row).
An instructor sees the cash of the students in their own classes only."""

from django.contrib import admin

from ledger.models import Balance, Transaction
from tradesim.admin import OwnClassFilter, OwnStudentsOnlyMixin


class ReadOnlyAdmin(OwnStudentsOnlyMixin, admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Balance)
class BalanceAdmin(ReadOnlyAdmin):
    list_display = ["user", "amount", "last_updated"]
    list_filter = [("user__classroom", OwnClassFilter)]
    list_select_related = ["user"]
    search_fields = ["user__username"]
    ordering = ["user__username"]


@admin.register(Transaction)
class TransactionAdmin(ReadOnlyAdmin):
    list_display = [
        "timestamp",
        "user",
        "type",
        "amount",
        "balance_after",
        "symbol",
        "description",
        "created_by",
    ]
    list_filter = ["type", ("user__classroom", OwnClassFilter), "timestamp"]
    list_select_related = ["user", "created_by"]
    search_fields = ["user__username"]
    # Counting the whole journal for "N total" gets slow on a big class.
    show_full_result_count = False
    list_per_page = 50
