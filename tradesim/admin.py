from django.contrib import admin
from django.db.models import Q

from tradesim.models import AuditEntry

# Audit rows about the one market every class trades in: every instructor sees them, as
# they see the market events and halts themselves.
MARKET_ACTIONS = [
    AuditEntry.Action.HALT,
    AuditEntry.Action.RESUME,
    AuditEntry.Action.MARKET_EVENT,
    AuditEntry.Action.PARAMETERS,
]


def owned_classes(user):
    """The ids of the classes `user` owns, as a subquery (no query of its own)."""
    return user.owned_classes.values("pk")


class OwnStudentsOnlyMixin:
    """An instructor (staff, not a superuser) sees the rows of the students in the classes
    they own and nobody else's: in the list, its counts and filters, and on a row's own
    page by URL (another class's row is "not found"). A superuser sees every row, students
    in no class included.

    `student_field` is the path from a row to its student ("user"); empty when the rows are
    the users themselves. The apps below the classrooms' owners reach them through the
    user's class, so none of them imports another app for this."""

    student_field = "user"

    def get_queryset(self, request):
        rows = super().get_queryset(request)
        if request.user.is_superuser:
            return rows
        prefix = f"{self.student_field}__" if self.student_field else ""
        return rows.filter(**{f"{prefix}classroom__in": owned_classes(request.user)})


class OwnClassFilter(admin.RelatedFieldListFilter):
    """The "By class" filter: an instructor is offered the classes they own (a superuser
    every class, and "no class")."""

    def __init__(self, field, request, params, model, model_admin, field_path):
        self.everyone = request.user.is_superuser
        super().__init__(field, request, params, model, model_admin, field_path)

    @property
    def include_empty_choice(self):
        return self.everyone and super().include_empty_choice

    def field_choices(self, field, request, model_admin):
        ordering = self.field_admin_ordering(field, request, model_admin)
        limit = None if self.everyone else {"owners": request.user}
        return field.get_choices(include_blank=False, ordering=ordering, limit_choices_to=limit)


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
    """The audit log is evidence: nobody edits or deletes it, superusers included.

    An instructor sees the entries about the students of their classes, their own actions,
    and the market's (halts, events, parameters); a superuser sees every entry."""

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
    list_filter = ["action", ("student__classroom", OwnClassFilter), "created_at"]
    search_fields = ["actor__username", "student__username", "symbol", "detail"]
    list_select_related = ["actor", "student"]
    date_hierarchy = "created_at"

    def get_queryset(self, request):
        rows = super().get_queryset(request)
        if request.user.is_superuser:
            return rows
        # Subqueries, not joins through the owners: an entry matching two ways stays one row.
        return rows.filter(
            Q(student__classroom__in=owned_classes(request.user))
            | Q(student__isnull=True, action__in=MARKET_ACTIONS)
            | Q(actor=request.user)
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
