from django.contrib import admin

from tradesim.models import AuditEntry


class RejectedFormIs400Mixin:
    """A change or add form the admin refuses answers HTTP 400, as every form here does.

    Django's admin re-renders an invalid form with 200; it reaches render_change_form on a
    POST only when the form or an inline did not validate (a valid one redirects)."""

    def render_change_form(self, request, context, *args, **kwargs):
        response = super().render_change_form(request, context, *args, **kwargs)
        if request.method == "POST":
            response.status_code = 400
        return response


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
