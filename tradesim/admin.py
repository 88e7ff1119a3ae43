from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.options import IS_FACETS_VAR, IS_POPUP_VAR, TO_FIELD_VAR
from django.contrib.admin.views.main import (
    ALL_VAR,
    ERROR_FLAG,
    ORDER_VAR,
    PAGE_VAR,
    SEARCH_VAR,
)
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import Q
from django.db.models.constants import LOOKUP_SEP
from django.http import HttpResponseRedirect

from tradesim.forms import FIRST_DAY, LAST_DAY
from tradesim.models import AuditEntry

# Audit rows about the one market every class trades in: every instructor sees them, as
# they see the market events and halts themselves.
MARKET_ACTIONS = [
    AuditEntry.Action.HALT,
    AuditEntry.Action.RESUME,
    AuditEntry.Action.MARKET_EVENT,
    AuditEntry.Action.CANCEL_EVENT,
    AuditEntry.Action.PARAMETERS,
    AuditEntry.Action.MARKET_PARAMETERS,
    AuditEntry.Action.UPLOAD_SCENARIO,
    AuditEntry.Action.START_SCENARIO,
    AuditEntry.Action.PAUSE_SCENARIO,
    AuditEntry.Action.RESUME_SCENARIO,
    AuditEntry.Action.STOP_SCENARIO,
    AuditEntry.Action.RESET_MARKET,
]


def owned_classes(user):
    """The ids of the classes `user` owns, as a subquery (no query of its own)."""
    return user.owned_classes.values("pk")


class OwnStudentsOnlyMixin:
    """An instructor (staff, not a superuser) sees the rows of the students in the classes
    they own and nobody else's: in the list, its counts and filters, and on a row's own
    page by URL (another class's row is "not found"). A staff account a superuser put in
    a class is not one of its students. A superuser sees every row, students in no class
    included.

    `student_field` is the path from a row to its student ("user"); empty when the rows are
    the users themselves. The apps below the classrooms' owners reach them through the
    user's class, so none of them imports another app for this."""

    student_field = "user"

    def get_queryset(self, request):
        rows = super().get_queryset(request)
        if request.user.is_superuser:
            return rows
        prefix = f"{self.student_field}__" if self.student_field else ""
        return rows.filter(
            **{
                f"{prefix}classroom__in": owned_classes(request.user),
                f"{prefix}is_staff": False,
                f"{prefix}is_superuser": False,
            }
        )


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

    def _changeform_view(self, request, object_id, form_url, extra_context):
        # A service that refuses what the form let through raises ValidationError from
        # save_model (a race: another instructor's change came first). Its own transaction
        # wrote nothing; the form is shown again with the reason, never a server error.
        try:
            return super()._changeform_view(request, object_id, form_url, extra_context)
        except ValidationError as error:
            self.message_user(request, " ".join(error.messages), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


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


# The changelist's query string ------------------------------------------------------

# Parameters of the changelist itself, which Django reads safely; every other one is a
# lookup (field__lookup=value) or a list filter's own parameter.
CHANGELIST_PARAMETERS = {
    ALL_VAR,
    ERROR_FLAG,
    IS_FACETS_VAR,
    IS_POPUP_VAR,
    ORDER_VAR,
    PAGE_VAR,
    SEARCH_VAR,
    TO_FIELD_VAR,
}
# The parts of a date a lookup compares by number (the date hierarchy's year, month and
# day among them), and the numbers that can name one.
DATE_PARTS = {
    "year": (FIRST_DAY.year, LAST_DAY.year),
    "iso_year": (FIRST_DAY.year, LAST_DAY.year),
    "quarter": (1, 4),
    "month": (1, 12),
    "week": (1, 53),
    "day": (1, 31),
    "week_day": (1, 7),
    "iso_week_day": (1, 7),
    "hour": (0, 23),
    "minute": (0, 59),
    "second": (0, 59),
}
# Lookups whose value is one of the field's own values (or, for "in", a list of them).
COMPARISONS = {"exact", "iexact", "gt", "gte", "lt", "lte", "in"}
PATTERNS = {"regex", "iregex"}
SHOWN_LENGTH = 40  # characters of a refused value repeated in the message


class BadChangeListInput(Exception):
    """A changelist request that names something the database cannot take."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def check_changelist_input(model_admin, request) -> None:
    """Raise BadChangeListInput, with a message for the instructor, for the first filter in
    the query string (or row picked for an action) of a changelist request that the
    database could not run: a year Python's dates cannot hold or the date hierarchy cannot
    step past, a number wider than its column, a value of the wrong kind, a regular
    expression. Django's admin checks some of these itself (a redirect to the bare list),
    others fail inside the query as a 500; this answers them all alike, before the list is
    built. NUL characters are refused earlier, for every page."""
    model = model_admin.model
    for key, values in request.GET.lists():
        if key in CHANGELIST_PARAMETERS:
            continue
        for value in values:
            _check_lookup(model, key, value)
    if request.method == "POST":
        for value in request.POST.getlist(ACTION_CHECKBOX_NAME):
            if not is_row_id(model, value):
                raise BadChangeListInput(
                    f"Choose rows from the list: {_shown(value)} is not one of them."
                )


def is_row_id(model, text: str) -> bool:
    """Whether `text` can be the primary key of a row of `model` (a key the database can
    take, which a query may then look for)."""
    try:
        return _as_field_value(model._meta.pk, text) not in (None, "")
    except ValidationError:
        return False


def _shown(value: str) -> str:
    if len(value) > SHOWN_LENGTH:
        value = value[:SHOWN_LENGTH] + "…"
    return f"“{value}”"


def _resolve(model, key: str):
    """(field, the lookup parts after it) for `key`, following relations; (None, …) when
    `key` does not start with a field (a list filter's own parameter, or nonsense, which
    Django refuses)."""
    parts = key.split(LOOKUP_SEP)
    opts, field = model._meta, None
    for index, name in enumerate(parts):
        if opts is None:
            return field, parts[index:]
        try:
            field = opts.pk if name == "pk" else opts.get_field(name)
        except FieldDoesNotExist:
            return field, parts[index:]
        opts = field.related_model._meta if field.is_relation and field.related_model else None
    return field, []


def _check_lookup(model, key: str, value: str) -> None:
    field, rest = _resolve(model, key)
    if field is None:
        return
    where = f"The list cannot be filtered by {key}={_shown(value)}"
    if rest and rest[-1] in PATTERNS:
        raise BadChangeListInput(f"{where}: filters by regular expression are not offered.")
    part = next((name for name in rest if name in DATE_PARTS), None)
    if part is not None:
        low, high = DATE_PARTS[part]
        for piece in value.split(",") if rest[-1] == "in" else [value]:
            try:
                number = int(piece)
            except ValueError:
                raise BadChangeListInput(f"{where}: a {part} is a whole number.") from None
            if not low <= number <= high:
                raise BadChangeListInput(f"{where}: a {part} is from {low} to {high}.")
        return
    lookup = rest[0] if rest else "exact"
    if len(rest) > 1 or lookup not in COMPARISONS:
        return  # isnull, contains, date, …: compared as text, or refused by Django
    if field.is_relation:
        field = getattr(field, "target_field", None) or field.related_model._meta.pk
    for piece in value.split(",") if lookup == "in" else [value]:
        try:
            _as_field_value(field, piece)
        except ValidationError as error:
            raise BadChangeListInput(f"{where}: {' '.join(error.messages)}") from None


def _as_field_value(field, text: str):
    """`text` as a value of `field`, or ValidationError: of the field's kind, within what
    its column holds (the field's own validators: length, digits, the integer's range),
    and a date within FIRST_DAY and LAST_DAY."""
    value = field.to_python(text)
    if value is None or value == "":
        return value
    field.run_validators(value)
    if hasattr(value, "year") and not FIRST_DAY.year <= value.year <= LAST_DAY.year:
        raise ValidationError(f"Pick a date between {FIRST_DAY:%Y} and {LAST_DAY:%Y}.")
    return value
