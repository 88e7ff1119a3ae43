"""The instructors' console for people: the user list with everyone's money, the user page
with their positions and journal, the two money actions (grant cash, reset) and the class
standings export.

Money is never written here: the actions call console.services.grant_cash and
trading.services.reset_student, which journal and audit every change. Non-superusers
(instructors) may change only a student's names, email, class and active flag.

An instructor sees and acts on the classes they own (Classroom.owners) and their students
only, on every page and action, by list or by URL; a superuser sees everyone, students in
no class included (tradesim.admin.OwnStudentsOnlyMixin).
"""

import logging
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm, AdminUserCreationForm, UserChangeForm
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from accounts.selectors import card_roster, cards_issued_under
from accounts.services import (
    CardError,
    CardsIssuedAlready,
    issue_cards,
    move_student,
    revoke_card,
)
from classrooms.models import Classroom
from classrooms.rules import ORDER_TYPES_MARKET, Rulebook
from classrooms.services import RULE_FIELDS, regenerate_join_code, set_joining, update_rules
from console import card_tokens, selectors
from console import cards as printing
from console.forms import CardActionForm, GrantCashForm, ResetStudentForm
from console.services import grant_cash
from ledger.models import Balance, Transaction
from ledger.services import DuplicateRequest, LedgerError, open_account
from portfolio.models import Holding
from tradesim.admin import (
    OwnClassFilter,
    OwnStudentsOnlyMixin,
    RejectedFormIs400Mixin,
    is_row_id,
    owned_classes,
)
from tradesim.exports import csv_download, decimal_cell, export_filename, safe_cell
from tradesim.forms import ModelForm, StrictFormMixin
from tradesim.logging import form_error_codes, log_event
from tradesim.money import to_cents
from tradesim.templatetags.money import position_shares
from trading import services as trading
from trading.models import Order

User = get_user_model()
ledger_logger = logging.getLogger("tradesim.ledger")

RECENT_JOURNAL_ROWS = 20
OPEN_ORDERS_SHOWN = 50  # on a student's page; the Orders list has the rest
MAX_SELECTED = 1000  # students in one grant or reset
# A button of the log-in cards page pressed with a token that is not one of the session's
# recent pages' (console.card_tokens), and that issued nothing before.
STALE_CARDS_FORM = (
    "This form has expired or did not come from this page, so no cards were printed. "
    "Press the button again on this page."
)
# Column headings for the class's ranking metric, short enough for a phone (the full name
# is the heading's title).
METRIC_SHORT = {
    Classroom.Ranking.TWR: "TWR",
    Classroom.Ranking.TOTAL_RETURN: "Return",
    Classroom.Ranking.EXCESS_RETURN: "Over index",
    Classroom.Ranking.RISK_ADJUSTED: "Risk-adj.",
}
STANDINGS_HEADER = [
    "Rank",
    "Username",
    "Email",
    "Class",
    "Cash",
    "Total value",
    "Net contributions",
    "Return %",
    "Time-weighted return %",
    "Trades",
    "Ranked by",
    "Ranking value",
    "Note",
]


def _money(value) -> str:
    """$1,234.50; below zero (a short position's value, a margin loan) −$1,234.50."""
    if value is None:
        return "—"
    value = to_cents(value)
    return f"−${-value:,.2f}" if value < 0 else f"${value:,.2f}"


def _pct(value) -> str:
    # A sign on every figure, so a loss never reads as a gain in a black-and-white printout.
    return "—" if value is None else f"{value:+,.2f}%"


def _log_grant_refusal(request, users, *, result="rejected", **why):
    """One line per refused grant, like the students' own cash forms: who, whom, why."""
    for user in users:
        log_event(
            ledger_logger,
            "cash.rejected",
            user=user.get_username(),
            action="grant",
            by=request.user.get_username(),
            result=result,
            **why,
        )


# Classes --------------------------------------------------------------------------------


class ClassroomForm(ModelForm):
    """The class's admin form: margin and short selling cannot be switched off while a
    student of the class still borrows or is short (the margin rules, interest and margin
    calls that protect those positions would stop); the message says what to do first."""

    def clean(self):
        cleaned = super().clean()
        classroom = self.instance
        if classroom.pk is None:
            return cleaned
        if classroom.short_selling and cleaned.get("short_selling") is False:
            short = Holding.objects.filter(user__classroom=classroom, quantity__lt=0)
            if short.exists():
                self.add_error(
                    "short_selling",
                    f"{short.values('user').distinct().count()} student(s) of this class "
                    "still hold short positions. Short selling can be switched off once "
                    "they are covered (or the students are reset).",
                )
        if classroom.margin and cleaned.get("margin") is False:
            borrowing = Balance.objects.filter(user__classroom=classroom, amount__lt=0)
            if borrowing.exists():
                self.add_error(
                    "margin",
                    f"{borrowing.count()} student(s) of this class still have a margin loan. "
                    "Margin can be switched off once the loans are repaid (or the students "
                    "are reset).",
                )
        return cleaned


@admin.register(Classroom)
class ClassroomAdmin(RejectedFormIs400Mixin, admin.ModelAdmin):
    """A class: its owners, join code and rules. A rule changed after the class started
    is audited with its value before and after (classrooms.services.update_rules)."""

    form = ClassroomForm

    list_display = [
        "name",
        "overview_link",
        "code",
        "joining",
        "student_count",
        "created_at",
        "leaderboard_link",
        "standings_link",
        "cards_link",
    ]
    search_fields = ["name", "join_code"]
    readonly_fields = ["join_code_with_link", "created_at", "rules_changed_at"]
    filter_horizontal = ["owners"]
    actions = ["new_join_codes_action", "open_joining_action", "close_joining_action"]
    fieldsets = [
        (None, {"fields": ["name", "owners", "created_at"]}),
        ("Joining", {"fields": ["join_code_with_link", "joining_open", "seat_limit"]}),
        ("Dates", {"fields": ["starts_at", "ends_at"]}),
        (
            "Cash",
            {
                "fields": [
                    "starting_cash",
                    "deposits_open",
                    "max_total_deposits",
                    "withdrawals_open",
                ]
            },
        ),
        ("Commission", {"fields": ["commission_kind", "commission_amount", "commission_minimum"]}),
        (
            "Limits",
            {"fields": ["max_position_percent", "max_trades_per_day", "min_share_price"]},
        ),
        ("Orders", {"fields": ["order_types", "closed_market_orders"]}),
        (
            "Margin and short selling",
            {
                "fields": [
                    "margin",
                    "initial_margin_percent",
                    "maintenance_margin_percent",
                    "margin_call_days",
                    "loan_rate_percent",
                    "cash_rate_percent",
                    "short_selling",
                    "min_short_price",
                    "borrow_fee_percent",
                ]
            },
        ),
        ("API", {"fields": ["api_access"]}),
        (
            "Ranking",
            {"fields": ["ranking", "min_trades_to_rank", "names_shown", "rules_changed_at"]},
        ),
    ]

    def save_model(self, request, obj, form, change):
        if change:
            changes = {
                name: form.cleaned_data[name] for name in form.changed_data if name in RULE_FIELDS
            }
            if changes:
                update_rules(classroom=obj, changes=changes, by=request.user)
        super().save_model(request, obj, form, change)
        if change and "order_types" in form.changed_data and obj.order_types == ORDER_TYPES_MARKET:
            self._tell_open_orders(request, obj)

    def _tell_open_orders(self, request, classroom):
        """Market orders only from now on: the orders already open stay (they were placed
        under the old rule, and a cancel is the instructor's call), so say how many."""
        n = Order.objects.filter(user__classroom=classroom, status=Order.Status.OPEN).count()
        if not n:
            return
        url = reverse("admin:trading_order_changelist") + (
            f"?user__classroom__id__exact={classroom.pk}&status__exact={Order.Status.OPEN}"
        )
        self.message_user(
            request,
            format_html(
                "{} now takes market orders only. Its students' {} placed before {} open and "
                'may still fill, until they expire or are cancelled: <a href="{}">see them in '
                "the Orders list</a>, where you can cancel them.",
                classroom.name,
                "open order" if n == 1 else f"{n} open orders",
                "stays" if n == 1 else "stay",
                url,
            ),
            messages.WARNING,
        )

    # The join code ----------------------------------------------------------------------

    @admin.display(description="Join code", ordering="join_code")
    def code(self, obj):
        return format_html('<code class="join-code">{}</code>', obj.join_code)

    @admin.display(description="Join code")
    def join_code_with_link(self, obj):
        if obj is None or obj.pk is None:
            return "Given when the class is saved."
        url = reverse("admin:classrooms_classroom_new_code", args=[obj.pk])
        return format_html(
            '<code class="join-code join-code-large">{}</code>'
            '<div class="help">Students enter it at /classes/join/ or when they sign up '
            '(any case; spaces and hyphens are ignored). <a href="{}">Give the class a new '
            "code…</a></div>",
            obj.join_code,
            url,
        )

    @admin.display(description="Joining")
    def joining(self, obj):
        state = "open" if obj.joining_open else "closed"
        if obj.seat_limit is None:
            return f"{state}, {obj.n_students} students, no seat limit"
        return f"{state}, {obj.n_students} of {obj.seat_limit} seats taken"

    @admin.action(description="Give the selected classes new join codes", permissions=["change"])
    def new_join_codes_action(self, request, queryset):
        for classroom in queryset.order_by("name"):
            code = regenerate_join_code(classroom=classroom, by=request.user)
            self.message_user(
                request,
                f"{classroom.name}: the new join code is {code}; the old one no longer works.",
                messages.SUCCESS,
            )

    @admin.action(description="Open joining for the selected classes", permissions=["change"])
    def open_joining_action(self, request, queryset):
        changed = set_joining(classroom_ids=queryset.values_list("pk", flat=True), is_open=True)
        self.message_user(request, f"Joining opened for {changed} class(es).", messages.SUCCESS)

    @admin.action(description="Close joining for the selected classes", permissions=["change"])
    def close_joining_action(self, request, queryset):
        changed = set_joining(classroom_ids=queryset.values_list("pk", flat=True), is_open=False)
        self.message_user(request, f"Joining closed for {changed} class(es).", messages.SUCCESS)

    def new_code_view(self, request, object_id):
        """GET asks to confirm; POST gives the class a new join code (audited) and goes
        back to the class."""
        classroom = self.get_object(request, unquote(object_id))
        if classroom is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_change_permission(request, classroom):
            raise PermissionDenied
        back = reverse("admin:classrooms_classroom_change", args=[classroom.pk])
        if request.method == "POST":
            code = regenerate_join_code(classroom=classroom, by=request.user)
            self.message_user(
                request,
                f"The new join code of {classroom.name} is {code}. The old code no longer "
                "works; students already in the class stay.",
                messages.SUCCESS,
            )
            return HttpResponseRedirect(back)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Give {classroom.name} a new join code?",
            "original": classroom,
            "back": back,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/classrooms/classroom/new_code.html", context)

    def get_queryset(self, request):
        classes = super().get_queryset(request)
        if not request.user.is_superuser:
            classes = classes.filter(pk__in=owned_classes(request.user))
        return classes.annotate(n_students=Count("students"))

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # Whoever adds a class runs it, or an instructor would lose sight of the class they
        # just made; a superuser who named the owners leaves them as named.
        obj = form.instance
        if not change and (not request.user.is_superuser or not obj.owners.exists()):
            obj.owners.add(request.user)

    @admin.display(description="Students", ordering="n_students")
    def student_count(self, obj):
        url = reverse("admin:accounts_user_changelist")
        return format_html(
            '<a href="{}?classroom__id__exact={}">{}</a>', url, obj.pk, obj.n_students
        )

    @admin.display(description="Overview")
    def overview_link(self, obj):
        url = reverse("admin:classrooms_classroom_overview", args=[obj.pk])
        return format_html('<a href="{}" aria-label="Overview of {}">Overview</a>', url, obj.name)

    @admin.display(description="Leaderboard")
    def leaderboard_link(self, obj):
        url = reverse("portfolio:leaderboard")
        return format_html('<a href="{}?class={}">View</a>', url, obj.pk)

    @admin.display(description="Standings")
    def standings_link(self, obj):
        url = reverse("admin:classrooms_classroom_standings")
        return format_html('<a href="{}?class={}">Download CSV</a>', url, obj.pk)

    def get_urls(self):
        return [
            path(
                "standings/",
                self.admin_site.admin_view(self.standings_view),
                name="classrooms_classroom_standings",
            ),
            path(
                "<path:object_id>/overview/",
                self.admin_site.admin_view(self.overview_view),
                name="classrooms_classroom_overview",
            ),
            path(
                "<path:object_id>/cards/",
                self.admin_site.admin_view(self.cards_view),
                name="classrooms_classroom_cards",
            ),
            path(
                "<path:object_id>/new-code/",
                self.admin_site.admin_view(self.new_code_view),
                name="classrooms_classroom_new_code",
            ),
            *super().get_urls(),
        ]

    # Log-in cards -------------------------------------------------------------------------

    @admin.display(description="Log-in cards")
    def cards_link(self, obj):
        url = reverse("admin:classrooms_classroom_cards", args=[obj.pk])
        return format_html('<a href="{}" aria-label="Log-in cards of {}">Cards</a>', url, obj.name)

    def cards_view(self, request, object_id):
        """A class's log-in cards: GET lists its students with their card's state; POST
        prints new cards for every active student or for one (the codes are shown on the
        printable page this once: accounts.services.issue_cards), or revokes one student's
        card, then comes back here. Another instructor's class, or a student not in this
        one, is not found (404).

        Printing needs the token of a recently shown page (console.card_tokens), and each
        button of a shown page issues once: a reload of the printed sheet or a second click
        issues nothing and answers 409, so the codes on the sheet keep working, while the
        page's other buttons still issue. A missing, forged or expired token is a 400."""
        if not request.user.has_perm("accounts.issue_logincard"):
            raise PermissionDenied
        classroom = self.get_object(request, unquote(object_id))
        if classroom is None:
            raise Http404("There is no such class.")
        if request.method != "POST":
            return self._cards_page(request, classroom)
        form = CardActionForm(request.POST)
        if not form.is_valid():
            errors = " ".join(e for errs in form.errors.values() for e in errs)
            return self._cards_page(request, classroom, error=errors, status=400)
        action = form.cleaned_data["action"]
        key = None
        if action in CardActionForm.ISSUING:
            token = form.cleaned_data["token"]
            one = form.cleaned_data["student"] if action == CardActionForm.NEW_CARD else None
            key = card_tokens.key(
                token=token, classroom_id=classroom.pk, action=action, student_id=one
            )
            if not card_tokens.recent(request.session, token):
                # An old page's button pressed again (its sheet reloaded long after) is told
                # so, as a recent one is; any other token is refused.
                earlier = cards_issued_under(token=key, by=request.user)
                if earlier:
                    printed = CardsIssuedAlready(earlier).message
                    return self._cards_page(request, classroom, error=printed, status=409)
                return self._cards_page(request, classroom, error=STALE_CARDS_FORM, status=400)
        back = HttpResponseRedirect(request.path)
        if action == CardActionForm.PRINT_ALL:
            students = list(
                classroom.students.filter(is_active=True, is_staff=False, is_superuser=False)
            )
            if not students:
                self.message_user(request, f"{classroom.name} has no active students yet.")
                return back
        else:
            student = classroom.students.filter(
                pk=form.cleaned_data["student"], is_staff=False, is_superuser=False
            ).first()
            if student is None:
                raise Http404("There is no such student in this class.")
            if action == CardActionForm.REVOKE:
                card = revoke_card(classroom=classroom, user=student, by=request.user)
                name = student.get_username()
                if card is None:
                    self.message_user(
                        request, f"There was no card of {name} to revoke.", messages.WARNING
                    )
                else:
                    self.message_user(
                        request,
                        f"Revoked the card of {name}: it no longer logs in.",
                        messages.SUCCESS,
                    )
                return back
            students = [student]
        try:
            issued = issue_cards(classroom=classroom, users=students, by=request.user, token=key)
        except CardsIssuedAlready as error:
            return self._cards_page(request, classroom, error=error.message, status=409)
        except CardError as error:
            self.message_user(request, error.message, messages.ERROR)
            return back
        return self._print_page(request, classroom, issued)

    def _cards_page(self, request, classroom, *, error: str = "", status: int = 200):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"{classroom.name}: log-in cards",
            "original": classroom,
            "roster": card_roster(classroom),
            "error": error,
            "card_token": card_tokens.fresh(request.session),
            "change_url": reverse("admin:classrooms_classroom_change", args=[classroom.pk]),
            "card_page": request.build_absolute_uri(reverse("login_card")),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(
            request, "admin/classrooms/classroom/cards.html", context, status=status
        )

    def _print_page(self, request, classroom, issued):
        cards = printing.printed_cards(request, classroom, issued)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"{classroom.name}: new log-in cards",
            "original": classroom,
            "sheets": printing.sheets(cards),
            "count": len(cards),
            "back": request.path,
            "change_url": reverse("admin:classrooms_classroom_change", args=[classroom.pk]),
        }
        request.current_app = self.admin_site.name
        response = TemplateResponse(request, "admin/classrooms/classroom/cards_print.html", context)
        # The codes are on this page alone: no cache of any kind may keep it.
        response["Cache-Control"] = "no-store, private"
        return response

    def overview_view(self, request, object_id):
        """The class at a glance (console.selectors.class_overview): averages, the top and
        bottom five, who has not traded, everyone's last activity. Another instructor's
        class is not found (404), as one that does not exist."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        classroom = self.get_object(request, unquote(object_id))
        if classroom is None:
            raise Http404("There is no such class.")
        overview = selectors.class_overview(classroom)
        board = overview.board

        def metric(value):
            if value is None:
                return "—"
            return _pct(value) if board.metric_is_percent else f"{value:+.2f}"

        def shown(row):
            return {
                "row": row,
                "url": reverse("admin:accounts_user_change", args=[row.user_id]),
                "value": _money(row.total_value),
                "return": _pct(row.return_pct),
                "metric": metric(row.metric_value),
            }

        averages = overview.averages
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"{classroom.name}: class overview",
            "original": classroom,
            "overview": overview,
            "metric_label": board.metric_label,
            "metric_short": METRIC_SHORT.get(board.metric, board.metric_label),
            "metric_is_return": board.metric == Classroom.Ranking.TOTAL_RETURN,
            "averages": [
                ("Average portfolio value", _money(averages.value)),
                ("Average total return", _pct(averages.return_pct)),
                *(
                    []
                    if board.metric == Classroom.Ranking.TOTAL_RETURN
                    else [(f"Average {board.metric_label.lower()}", metric(averages.metric_value))]
                ),
                (
                    "Average number of trades",
                    "—" if averages.trades is None else f"{averages.trades:,}",
                ),
            ],
            "students": [shown(row) for row in overview.students],
            "top": [shown(row) for row in overview.top],
            "bottom": [shown(row) for row in overview.bottom],
            "not_traded": [shown(row) for row in overview.not_traded],
            "change_url": reverse("admin:classrooms_classroom_change", args=[classroom.pk]),
            "students_url": reverse("admin:accounts_user_changelist")
            + f"?classroom__id__exact={classroom.pk}",
            "standings_url": reverse("admin:classrooms_classroom_standings")
            + f"?class={classroom.pk}",
            "leaderboard_url": reverse("portfolio:leaderboard") + f"?class={classroom.pk}",
            "cards_url": reverse("admin:classrooms_classroom_cards", args=[classroom.pk]),
            "open_orders_url": reverse("admin:trading_order_changelist")
            + f"?user__classroom__id__exact={classroom.pk}&status__exact={Order.Status.OPEN}",
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/classrooms/classroom/overview.html", context)

    def standings_view(self, request):
        """The standings of one class (?class=<id>) or of every student of the viewer's
        classes (a superuser's: everyone), as CSV: the leaderboard's order, with cash,
        value, returns, trade count and what the class ranks by."""
        if not request.user.has_perm("accounts.view_user"):
            raise PermissionDenied
        classroom = None
        if request.GET.get("class"):
            # Another instructor's class is answered as one that does not exist.
            try:
                classroom = self.get_queryset(request).get(pk=int(request.GET["class"]))
            except (ValueError, Classroom.DoesNotExist):
                self.message_user(request, "There is no such class.", messages.ERROR)
                return HttpResponseRedirect(reverse("admin:classrooms_classroom_changelist"))
        owner = None if request.user.is_superuser else request.user
        rows = selectors.class_standings(classroom=classroom, owner=owner)
        filename = export_filename("standings", classroom.name if classroom else "all")
        return csv_download(_standings_rows(rows), header=STANDINGS_HEADER, filename=filename)


RANKING_NAMES = dict(Classroom.Ranking.choices)


def _standings_rows(rows):
    for row in rows:
        yield [
            "" if row.rank is None else row.rank,
            safe_cell(row.username),
            safe_cell(row.email),
            safe_cell(row.classroom),
            decimal_cell(row.cash),
            decimal_cell(row.total_value),
            decimal_cell(row.net_contributions),
            decimal_cell(row.return_pct),
            decimal_cell(row.twr_pct),
            row.trades,
            RANKING_NAMES.get(row.ranked_by, row.ranked_by),
            "" if row.ranking_value is None else row.ranking_value,
            row.note,
        ]


# Roles ----------------------------------------------------------------------------------

admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(RejectedFormIs400Mixin, DjangoGroupAdmin):
    form = ModelForm


# Users ----------------------------------------------------------------------------------


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class HoldingInline(ReadOnlyInline):
    model = Holding
    verbose_name_plural = "Holdings (at current prices)"
    fields = ["stock", "shares", "average_cost", "price", "market_value", "unrealized"]
    readonly_fields = fields

    def get_queryset(self, request):
        # The user too: each row's label (str(holding)) names them.
        return super().get_queryset(request).select_related("stock", "user").order_by("stock_id")

    @admin.display(description="Shares")
    def shares(self, obj):
        """50, or "Short 50" for shares sold short (their market value is below zero)."""
        return position_shares(obj.quantity)

    @admin.display(description="Average cost (short: sold at)")
    def average_cost(self, obj):
        return _money(obj.average_price)

    @admin.display(description="Price")
    def price(self, obj):
        return _money(obj.stock.price) + (" (halted)" if obj.stock.halted else "")

    @admin.display(description="Market value")
    def market_value(self, obj):
        return _money(obj.stock.price * obj.quantity)

    @admin.display(description="Unrealized P/L")
    def unrealized(self, obj):
        gain = to_cents(obj.stock.price * obj.quantity) - to_cents(obj.average_price * obj.quantity)
        return f"{'+' if gain >= 0 else '−'}${abs(gain):,.2f}"


class RecentFormSet(BaseInlineFormSet):
    """Only the newest rows: a student's whole journal can run to thousands of rows."""

    def get_queryset(self):
        if not hasattr(self, "_recent"):
            self._recent = super().get_queryset()[:RECENT_JOURNAL_ROWS]
        return self._recent


class JournalInline(ReadOnlyInline):
    model = Transaction
    fk_name = "user"
    formset = RecentFormSet
    verbose_name_plural = f"Recent journal rows (newest {RECENT_JOURNAL_ROWS})"
    fields = ["timestamp", "type", "signed", "balance", "symbol", "description", "made_by"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user", "created_by")

    @admin.display(description="Amount")
    def signed(self, obj):
        return f"{'+' if obj.is_credit else '−'}${obj.amount:,.2f}"

    @admin.display(description="Balance after")
    def balance(self, obj):
        return _money(obj.balance_after)

    @admin.display(description="Made by")
    def made_by(self, obj):
        return obj.created_by.get_username() if obj.created_by_id else "—"


class StandingChangeList(ChangeList):
    """The user list, each row with its money from the same query (accounts.selectors)."""

    def get_queryset(self, request, exclude_parameters=None):
        if not getattr(self, "_with_standing", False):
            self.root_queryset = selectors.with_standing(self.root_queryset)
            self._with_standing = True
        return super().get_queryset(request, exclude_parameters)


class RoleFilter(admin.SimpleListFilter):
    title = "role"
    parameter_name = "role"

    def lookups(self, request, model_admin):
        return [("student", "Students"), ("staff", "Instructors and admins")]

    def queryset(self, request, queryset):
        if self.value() == "student":
            return queryset.filter(is_staff=False, is_superuser=False)
        if self.value() == "staff":
            return queryset.filter(is_staff=True) | queryset.filter(is_superuser=True)
        return queryset


class InstructorUserChangeForm(StrictFormMixin, UserChangeForm):
    def clean_email(self):
        email = (self.cleaned_data.get("email") or "").strip()
        taken = User.objects.filter(email__iexact=email).exclude(pk=self.instance.pk)
        if email and taken.exists():
            raise forms.ValidationError("Another account already uses this email address.")
        return email


class UserCreationAdminForm(StrictFormMixin, AdminUserCreationForm):
    pass


class PasswordChangeAdminForm(StrictFormMixin, AdminPasswordChangeForm):
    pass


@admin.register(User)
class UserAdmin(OwnStudentsOnlyMixin, RejectedFormIs400Mixin, DjangoUserAdmin):
    form = InstructorUserChangeForm
    add_form = UserCreationAdminForm
    change_password_form = PasswordChangeAdminForm
    # The columns an instructor reads the class by fit a 1366 px screen beside the filters
    # (tests/e2e/test_console.py): the email is searched, not shown, and an inactive
    # account is marked in its name's cell.
    list_display = [
        "student",
        "classroom",
        "cash",
        "value",
        "return_pct",
        "twr",
        "trades",
    ]
    student_field = ""
    list_filter = [RoleFilter, ("classroom", OwnClassFilter), "is_active", "date_joined"]
    list_select_related = ["classroom"]
    search_fields = ["username", "email", "first_name", "last_name"]
    actions = ["grant_cash_action", "reset_action"]
    fieldsets = (
        *DjangoUserAdmin.fieldsets[:2],
        ("Class", {"fields": ("classroom",)}),
        *DjangoUserAdmin.fieldsets[2:],
    )
    # What an instructor (a non-superuser) may change: a student's names, email, class and
    # whether the login works. Roles, permissions and passwords are for superusers.
    # Roles, groups and permissions are not shown to them at all, not even read-only: a
    # student has none, and the form ignores them when posted.
    instructor_fieldsets = (
        (None, {"fields": ("username",)}),
        ("Personal info", {"fields": ("first_name", "last_name", "email")}),
        ("Class", {"fields": ("classroom",)}),
        (
            "Log-in",
            {
                "fields": ("is_active",),
                "description": "Untick “Active” to stop the student logging in; their "
                "money and record stay.",
            },
        ),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("username", "email", "classroom", "password1", "password2"),
                "description": (
                    "A new user who is not staff is a student: they get a cash account with "
                    "the starting cash (their class's, when you choose one), as if they had "
                    "registered. Changing a student's class later is kept in the audit log; "
                    "their cash and shares stay as they are."
                ),
            },
        ),
    )
    instructor_readonly = ("username", "last_login", "date_joined")

    # The list ---------------------------------------------------------------------------

    def get_changelist(self, request, **kwargs):
        return StandingChangeList

    def get_list_filter(self, request):
        if request.user.is_superuser:
            return self.list_filter
        # An instructor's list holds students only: no roles to tell apart.
        return [f for f in self.list_filter if f is not RoleFilter]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "classroom" and not request.user.is_superuser:
            kwargs["queryset"] = Classroom.objects.filter(pk__in=owned_classes(request.user))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description="Student", ordering="username")
    def student(self, obj):
        name = obj.get_full_name()
        notes = [name] if name else []
        if not obj.is_active:
            notes.append("inactive")
        if obj.is_superuser or obj.is_staff:
            notes.append("admin" if obj.is_superuser else "instructor")
        if not notes:
            return obj.get_username()
        return format_html(
            '{}<span class="list-note">{}</span>', obj.get_username(), " · ".join(notes)
        )

    @admin.display(description="Cash", ordering="account_cash")
    def cash(self, obj):
        return _money(obj.account_cash)

    @admin.display(description="Value", ordering="total_value")
    def value(self, obj):
        return _money(obj.total_value) if obj.account_cash is not None else "—"

    @admin.display(description="Return", ordering="return_ratio")
    def return_pct(self, obj):
        if obj.account_cash is None:
            return "—"
        return _pct(selectors.return_pct(obj.total_value, obj.net_contributions))

    @admin.display(description="TWR", ordering="unit_value")
    def twr(self, obj):
        if obj.account_cash is None:
            return "—"
        return _pct(selectors.twr_pct(obj.unit_value))

    @admin.display(description="Trades", ordering="trade_count")
    def trades(self, obj):
        if not obj.trade_count:
            return "0"
        url = reverse("admin:trading_trade_changelist")
        return format_html('<a href="{}?user__id__exact={}">{}</a>', url, obj.pk, obj.trade_count)

    def changelist_view(self, request, extra_context=None):
        classroom = request.GET.get("classroom__id__exact", "")
        query = f"?{urlencode({'class': classroom})}" if classroom.isdigit() else ""
        extra_context = {
            **(extra_context or {}),
            "standings_url": reverse("admin:classrooms_classroom_standings") + query,
            "can_export_standings": request.user.has_perm("accounts.view_user"),
        }
        return super().changelist_view(request, extra_context)

    # The user page ----------------------------------------------------------------------

    def get_inlines(self, request, obj):
        # Rows to read, never submitted: a POST is handled without them, or a tampered
        # management form would have the page build rows that do not exist.
        if obj is None or request.method == "POST":
            return []
        return [HoldingInline, JournalInline]

    def get_fieldsets(self, request, obj=None):
        if obj is not None and not request.user.is_superuser:
            return self.instructor_fieldsets
        return super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and not request.user.is_superuser:
            return self.instructor_readonly
        return super().get_readonly_fields(request, obj)

    def has_change_permission(self, request, obj=None):
        # Instructors look after students; staff accounts are the superusers' business.
        if obj is not None and not request.user.is_superuser and (obj.is_staff or obj.is_superuser):
            return False
        return super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        if change and "classroom" in form.changed_data:
            move_student(student=obj, classroom=obj.classroom, by=request.user)
        super().save_model(request, obj, form, change)
        # UserAdmin.add_view runs in one transaction, so the user and the account it opens
        # exist together or not at all.
        if not change and not (obj.is_staff or obj.is_superuser):
            classroom = obj.classroom
            open_account(user=obj, starting_cash=classroom.starting_cash if classroom else None)

    def user_change_password(self, request, id, form_url=""):
        if not request.user.is_superuser:
            raise PermissionDenied
        return super().user_change_password(request, id, form_url)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        student = self.get_object(request, unquote(object_id))
        summary = orders = None
        if student is not None and not (student.is_staff or student.is_superuser):
            summary = self._summary(request, student)
            orders = self._open_orders(request, student)
        extra_context = {
            **(extra_context or {}),
            "summary": summary,
            "open_orders": orders,
            "can_grant_cash": self.has_grant_cash_permission(request),
            "can_reset": self.has_reset_permission(request),
            "grant_url": self._action_url("grant_cash", [object_id]),
            "reset_url": self._action_url("reset", [object_id]),
            "journal_url": reverse("admin:ledger_transaction_changelist")
            + f"?user__id__exact={object_id}",
            "trades_url": reverse("admin:trading_trade_changelist")
            + f"?user__id__exact={object_id}",
            "orders_url": reverse("admin:trading_order_changelist")
            + f"?user__id__exact={object_id}",
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def _summary(self, request, student) -> dict:
        """The block at the top of a student's page: who, where they stand, what they did
        last, whether they can log in."""
        found = selectors.student_summary(student)
        board = found.board
        if found.rank is not None:
            rank = f"{found.rank} of {found.ranked_total} by {board.metric_label.lower()}"
        else:
            rank = f"Not ranked ({found.note})"
        lockout = found.lockout
        if not student.is_active:
            login = "Cannot log in: the account is not active"
        elif lockout.locked:
            until = timezone.localtime(lockout.until).strftime("%H:%M")
            login = f"Locked out after {lockout.failures} failed log-ins, until {until}"
        elif lockout.failures:
            login = f"Can log in ({lockout.failures} failed log-ins lately)"
        else:
            login = "Can log in"
        classroom = student.classroom
        attempts = reverse("admin:axes_accessattempt_changelist")
        return {
            "name": student.get_full_name(),
            "classroom": classroom,
            "overview_url": (
                reverse("admin:classrooms_classroom_overview", args=[classroom.pk])
                if classroom
                else ""
            ),
            "figures": [
                ("Cash", _money(found.cash)),
                ("Portfolio value", _money(found.total_value)),
                ("Total return", _pct(found.return_pct)),
                ("Time-weighted return", _pct(found.twr_pct)),
                ("Rank", rank),
                ("Trades", f"{found.trades:,}"),
            ],
            "last_activity_at": found.last_activity_at,
            "last_activity": found.last_activity,
            "login": login,
            "locked": lockout.locked,
            "unlock_url": f"{attempts}?{urlencode({'q': student.get_username()})}"
            if lockout.failures and request.user.has_perm("axes.delete_accessattempt")
            else "",
        }

    def _open_orders(self, request, student) -> dict:
        """The student's open orders, oldest first, each in plain words with what it holds
        and a Cancel button for an instructor who may cancel them."""
        found = selectors.open_orders(student, limit=OPEN_ORDERS_SHOWN)
        held = []
        if found.held_cash:
            held.append(f"{_money(found.held_cash)} of cash")
        if found.held_shares:
            held.append(_shares(found.held_shares))
        return {
            "rows": [
                {
                    "id": order.pk,
                    "text": trading.describe_order(order),
                    "holds": _holds(order),
                    "note": "Its stop was reached: it now waits as a limit order."
                    if order.triggered_at
                    else "",
                    "created_at": order.created_at,
                }
                for order in found.orders
            ],
            "total": found.total,
            "more": found.more,
            "held": " and ".join(held),
            "can_cancel": self.has_cancel_orders_permission(request),
            "cancel_url": reverse("admin:accounts_user_cancel_orders", args=[student.pk]),
            "list_url": reverse("admin:trading_order_changelist")
            + f"?user__id__exact={student.pk}&status__exact={Order.Status.OPEN}",
        }

    # The money actions ------------------------------------------------------------------

    def has_grant_cash_permission(self, request):
        return request.user.has_perm("ledger.grant_cash")

    def has_reset_permission(self, request):
        return request.user.has_perm("trading.reset_student")

    def has_cancel_orders_permission(self, request):
        return request.user.has_perm("trading.cancel_order")

    @admin.action(description="Grant cash to the selected students…", permissions=["grant_cash"])
    def grant_cash_action(self, request, queryset):
        return self._redirect_to_form(request, queryset, "grant_cash")

    @admin.action(description="Reset the selected students…", permissions=["reset"])
    def reset_action(self, request, queryset):
        return self._redirect_to_form(request, queryset, "reset")

    def _redirect_to_form(self, request, queryset, name):
        ids = list(queryset.order_by("pk").values_list("pk", flat=True)[: MAX_SELECTED + 1])
        if len(ids) > MAX_SELECTED:
            self.message_user(
                request, f"Select at most {MAX_SELECTED:,} students at a time.", messages.ERROR
            )
            return None
        return HttpResponseRedirect(self._action_url(name, ids))

    def _action_url(self, name, ids) -> str:
        query = urlencode({"ids": ",".join(map(str, ids))}, safe=",")
        return f"{reverse(f'admin:accounts_user_{name}')}?{query}"

    def get_urls(self):
        return [
            path(
                "grant-cash/",
                self.admin_site.admin_view(self.grant_cash_view),
                name="accounts_user_grant_cash",
            ),
            path(
                "reset/",
                self.admin_site.admin_view(self.reset_view),
                name="accounts_user_reset",
            ),
            path(
                "<path:object_id>/cancel-orders/",
                self.admin_site.admin_view(self.cancel_orders_view),
                name="accounts_user_cancel_orders",
            ),
            *super().get_urls(),
        ]

    def _selected(self, request) -> list:
        """The users named by ?ids= that the list would show (an instructor: students of
        their own classes; any other id counts as unknown), with their money (one query),
        in username order."""
        ids = []
        for part in request.GET.get("ids", "").split(","):
            part = part.strip()
            if part.isascii() and part.isdigit() and is_row_id(User, part):
                ids.append(int(part))
        ids = ids[:MAX_SELECTED]
        users = (
            self.get_queryset(request)
            .filter(pk__in=ids)
            .select_related("classroom")
            .order_by("username")
        )
        return list(selectors.with_standing(users))

    def _done_url(self, users) -> str:
        if len(users) == 1:
            return reverse("admin:accounts_user_change", args=[users[0].pk])
        return reverse("admin:accounts_user_changelist")

    def _render_form(self, request, *, title, form, users, intro, submit, status=200):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "form": form,
            "users": [
                {
                    "user": user,
                    "cash": _money(user.account_cash),
                    "value": _money(user.total_value) if user.account_cash is not None else "—",
                }
                for user in users
            ],
            "intro": intro,
            "submit": submit,
            "cancel_url": self._done_url(users) if users else "",
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(
            request, "admin/accounts/user/money_action.html", context, status=status
        )

    def grant_cash_view(self, request):
        """Grant cash to the students in ?ids=: GET shows the form, POST grants (each one
        journaled and audited by console.services.grant_cash) and redirects."""
        if not self.has_grant_cash_permission(request):
            raise PermissionDenied
        users = self._selected(request)
        if not users:
            self.message_user(request, "Select the students to grant cash to.", messages.WARNING)
            return HttpResponseRedirect(reverse("admin:accounts_user_changelist"))
        form = GrantCashForm(request.POST or None)
        render = {
            "title": "Grant cash",
            "users": users,
            "intro": (
                "Each student gets the amount as an instructor grant in their cash journal, "
                "described with your name and the reason, and the grant is kept in the "
                "audit log. Deposit limits do not apply."
            ),
            "submit": "Grant cash",
        }
        if request.method != "POST":
            return self._render_form(request, form=form, **render)
        if not form.is_valid():
            _log_grant_refusal(
                request, users, reason="invalid_input", errors=form_error_codes(form)
            )
            return self._render_form(request, form=form, status=400, **render)
        granted, repeated, refused = [], [], []
        for user in users:
            try:
                grant_cash(
                    student=user,
                    instructor=request.user,
                    amount=form.cleaned_data["amount"],
                    reason=form.cleaned_data["reason"],
                    token=form.cleaned_data["token"],
                )
            except DuplicateRequest:
                repeated.append(user.get_username())
                _log_grant_refusal(request, [user], result="duplicate", reason="DuplicateRequest")
            except LedgerError as error:
                refused.append(f"{user.get_username()}: {error.message}")
                _log_grant_refusal(
                    request, [user], reason=type(error).__name__, message=error.message
                )
            else:
                granted.append(user.get_username())
        if refused and not granted and not repeated:
            for message in refused:
                form.add_error(None, message)
            return self._render_form(request, form=form, status=400, **render)
        amount = f"${form.cleaned_data['amount']:,.2f}"
        if granted:
            self.message_user(request, f"Granted {amount} to {_names(granted)}.", messages.SUCCESS)
        if repeated:
            self.message_user(
                request,
                f"Already granted to {_names(repeated)} by this form; not granted twice.",
                messages.INFO,
            )
        for message in refused:
            self.message_user(request, f"Not granted to {message}", messages.ERROR)
        return HttpResponseRedirect(self._done_url(users))

    def reset_view(self, request):
        """Reset the students in ?ids= (trading.services.reset_student, each in its own
        transaction): GET shows what will happen, POST resets and redirects."""
        if not self.has_reset_permission(request):
            raise PermissionDenied
        users = self._selected(request)
        if not users:
            self.message_user(request, "Select the students to reset.", messages.WARNING)
            return HttpResponseRedirect(reverse("admin:accounts_user_changelist"))
        form = ResetStudentForm(request.POST or None)
        # The starting cash they go back to: their class's, or the settings' outside one
        # (the classes came with the users, so no query per student).
        outside = Rulebook.from_settings().starting_cash
        starting = {
            Rulebook.from_classroom(user.classroom).starting_cash if user.classroom else outside
            for user in users
        }
        if len(starting) == 1:
            amount = f"${next(iter(starting)):,.2f}"
            done = f"{amount} in cash"
        else:
            amount = "cash of each one's class"
            done = f"the starting {amount}"
        render = {
            "title": "Reset students",
            "users": users,
            "intro": (
                "Each student's shares are all sold at the current market price (halted "
                "symbols at their last price, no commission), then their cash is brought "
                f"back to the starting {amount}. Every sale and the cash adjustment "
                "appear in their journal with your name and the reason; the reset is kept "
                "in the audit log. Their past record stays."
            ),
            "submit": "Reset",
        }
        if request.method != "POST":
            return self._render_form(request, form=form, **render)
        if not form.is_valid():
            return self._render_form(request, form=form, status=400, **render)
        reset, repeated, refused = [], [], []
        for user in users:
            try:
                trading.reset_student(
                    student=user,
                    instructor=request.user,
                    reason=form.cleaned_data["reason"],
                    token=form.cleaned_data["token"],
                )
            except trading.DuplicateRequest:
                repeated.append(user.get_username())
            except trading.TradingError as error:
                refused.append(f"{user.get_username()}: {error.message}")
            else:
                reset.append(user.get_username())
        if refused and not reset and not repeated:
            for message in refused:
                form.add_error(None, message)
            return self._render_form(request, form=form, status=400, **render)
        if reset:
            self.message_user(request, f"Reset {_names(reset)} to {done}.", messages.SUCCESS)
        if repeated:
            self.message_user(
                request,
                f"Already reset {_names(repeated)} by this form; not reset twice.",
                messages.INFO,
            )
        for message in refused:
            self.message_user(request, f"Not reset: {message}", messages.ERROR)
        return HttpResponseRedirect(self._done_url(users))

    def cancel_orders_view(self, request, object_id):
        """POST `order`, the id of one of the student's open orders or "all": cancel it (or
        each of them) through trading.services.cancel_order, which releases what it holds
        and audits the cancel, then go back to the student's page saying what happened. An
        order that filled or closed meanwhile, or is not this student's, is refused there
        in words and changes nothing. A GET goes back to the page."""
        student = self.get_object(request, unquote(object_id))
        if student is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not (
            self.has_view_permission(request, student)
            and self.has_cancel_orders_permission(request)
        ):
            raise PermissionDenied
        back = HttpResponseRedirect(reverse("admin:accounts_user_change", args=[student.pk]))
        if request.method != "POST":
            return back
        name = student.get_username()
        chosen = request.POST.getlist("order")
        if len(chosen) != 1:
            self.message_user(request, "Choose one order to cancel.", messages.ERROR)
        elif chosen[0] == "all":
            self._cancel_all(request, student)
        elif not is_row_id(Order, chosen[0]):
            self.message_user(request, "Choose an order from the list.", messages.ERROR)
        else:
            order = Order.objects.filter(pk=chosen[0], user_id=student.pk).first()
            if order is None:
                refusal = f"That order is not one of {name}'s; nothing was cancelled."
                self.message_user(request, refusal, messages.ERROR)
                return back
            try:
                trading.cancel_order(order_id=order.pk, by=request.user)
            except trading.TradingError as error:
                self.message_user(request, f"Not cancelled: {error.message}", messages.ERROR)
            else:
                held = _holds(order)  # as read before the cancel, which empties it
                self.message_user(
                    request,
                    f"Cancelled {name}'s order: {trading.describe_order(order)}."
                    + (f" The {held} it held {_is_free(held)}" if held else ""),
                    messages.SUCCESS,
                )
        return back

    def _cancel_all(self, request, student) -> None:
        name = student.get_username()
        ids = list(
            Order.objects.filter(user_id=student.pk, status=Order.Status.OPEN)
            .order_by("id")
            .values_list("pk", flat=True)
        )
        cancelled, refused = 0, []
        for order_id in ids:
            try:
                trading.cancel_order(order_id=order_id, by=request.user)
            except trading.OrderClosed:
                pass  # it filled, expired or was cancelled meanwhile: nothing left to do
            except trading.TradingError as error:
                refused.append(error.message)
            else:
                cancelled += 1
        if cancelled:
            self.message_user(
                request,
                f"Cancelled {name}'s {cancelled} open order{'s' if cancelled != 1 else ''}; "
                "what they held is free again.",
                messages.SUCCESS,
            )
        elif not refused:
            self.message_user(request, f"{name} has no open orders to cancel.", messages.INFO)
        for message in dict.fromkeys(refused):
            self.message_user(request, f"Not cancelled: {message}", messages.ERROR)


def _shares(quantity: int) -> str:
    return f"{quantity:,} share{'s' if quantity != 1 else ''}"


def _holds(order) -> str:
    """What an open order holds, in words: "$1,804.95 of cash", "10 shares"; "" for none."""
    if order.held_cash:
        return f"{_money(order.held_cash)} of cash"
    if order.held_shares:
        return _shares(order.held_shares)
    return ""


def _is_free(held: str) -> str:
    return f"{'are' if held.endswith('shares') else 'is'} free again."


def _names(usernames: list[str], shown: int = 10) -> str:
    if len(usernames) <= shown:
        return ", ".join(usernames)
    return f"{', '.join(usernames[:shown])} and {len(usernames) - shown} more"
