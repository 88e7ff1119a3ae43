from django.contrib import admin

from tradesim.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """The audit log is evidence: nobody edits or deletes it, superusers included."""

    list_display = [
        "created_at",
        "actor",
        "action",
        "student",
        "symbol",
        "sector",
        "amount",
        "detail",
    ]
    list_filter = ["action", "student__classroom", "created_at"]
    search_fields = ["actor__username", "student__username", "symbol", "detail"]
    list_select_related = ["actor", "student"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
