"""Students' API tokens in the console: read-only (the digest never shown), with one
action, revoking, which goes through api.services.revoke_token and is audited. An
instructor sees and revokes the tokens of the students in the classes they own; a
superuser sees everyone's."""

from django.contrib import admin, messages
from django.utils import timezone

from api.models import ApiToken
from api.services import revoke_token
from tradesim.admin import OwnClassFilter, OwnStudentsOnlyMixin


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("active", "Active"), ("revoked", "Revoked")]

    def queryset(self, request, queryset):
        if self.value() == "active":
            return queryset.filter(revoked_at__isnull=True)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(ApiToken)
class ApiTokenAdmin(OwnStudentsOnlyMixin, admin.ModelAdmin):
    list_display = ["name", "student", "classroom", "shown", "made", "last_used", "state"]
    list_filter = [StateFilter, ("user__classroom", OwnClassFilter)]
    list_select_related = ["user", "user__classroom", "revoked_by"]
    search_fields = ["name", "prefix", "user__username"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    list_per_page = 50
    actions = ["revoke_action"]
    fields = ["name", "user", "classroom", "shown", "made", "last_used", "state"]
    readonly_fields = fields

    @admin.display(description="Student", ordering="user__username")
    def student(self, obj):
        return obj.user.get_username()

    @admin.display(description="Class", ordering="user__classroom__name")
    def classroom(self, obj):
        return obj.user.classroom or "—"

    @admin.display(description="Token", ordering="prefix")
    def shown(self, obj):
        return f"{obj.prefix}…"

    @admin.display(description="Made", ordering="created_at")
    def made(self, obj):
        return _when(obj.created_at)

    @admin.display(description="Last used", ordering="last_used_at")
    def last_used(self, obj):
        return _when(obj.last_used_at) if obj.last_used_at else "never"

    @admin.display(description="State", ordering="revoked_at")
    def state(self, obj):
        if obj.revoked_at is None:
            return "Active"
        by = obj.revoked_by.get_username() if obj.revoked_by_id else "its owner"
        return f"Revoked {_when(obj.revoked_at)} by {by}"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_revoke_permission(self, request):
        return request.user.has_perm("api.revoke_apitoken")

    @admin.action(description="Revoke selected tokens", permissions=["revoke"])
    def revoke_action(self, request, queryset):
        """Each active token through revoke_token (audited, naming the instructor); the
        revoked ones are left as they are. The queryset is the list's: an instructor's
        own students' tokens only."""
        ids = list(
            queryset.filter(revoked_at__isnull=True).order_by("id").values_list("pk", flat=True)
        )
        revoked = 0
        for token_id in ids:
            token = revoke_token(token_id=token_id, by=request.user)
            if token is not None and token.revoked_by_id == request.user.pk:
                revoked += 1
        if revoked:
            self.message_user(
                request,
                f"Revoked {revoked} token{'s' if revoked != 1 else ''}: programs using "
                f"{'them' if revoked != 1 else 'it'} are refused from now on.",
                messages.SUCCESS,
            )
        if revoked < queryset.count():
            self.message_user(request, "Tokens already revoked stay as they are.", messages.WARNING)


def _when(moment) -> str:
    local = timezone.localtime(moment)
    return f"{local:%b} {local.day}, {local:%Y %H:%M}"
