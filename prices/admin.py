import math

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from prices import services
from prices.market_data import Listing
from prices.models import MarketEvent, MarketState, Price, PriceHistory
from prices.simulation import DEFAULT_MODEL
from tradesim.admin import RejectedFormIs400Mixin
from tradesim.forms import ModelForm


def _when(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def _signed(percent) -> str:
    """The move with its sign, a real minus: "+40", "−12.5"."""
    return f"{percent.normalize():+f}".replace("-", "−")


class PriceForm(ModelForm):
    class Meta:
        model = Price
        fields = ["symbol", "name", "sector", "price", "is_index", "drift", "volatility", "beta"]

    def clean_symbol(self):
        try:
            return services.normalize_symbol(self.cleaned_data["symbol"])
        except services.InvalidMarketInput as exc:
            raise ValidationError(exc.message) from None

    def clean_price(self):
        price = self.cleaned_data["price"]
        if not services.MIN_LISTING_PRICE <= price <= services.MAX_LISTING_PRICE:
            raise ValidationError(services.LISTING_PRICE_RANGE)
        return price


@admin.register(Price)
class PriceAdmin(RejectedFormIs400Mixin, admin.ModelAdmin):
    """Symbols. Prices move only through ticks and market events; instructors change the
    simulation parameters here and halt or resume trading with the actions."""

    form = PriceForm
    list_display = [
        "symbol",
        "name",
        "sector",
        "price",
        "previous_close",
        "change_pct_display",
        "drift",
        "volatility",
        "beta",
        "total_volatility_display",
        "halted",
    ]
    list_filter = ["sector", "halted", "is_index"]
    search_fields = ["symbol", "name"]
    list_per_page = 100
    actions = ["halt_symbols", "resume_symbols"]
    fieldsets = [
        (None, {"fields": ["symbol", "name", "sector", "is_index"]}),
        ("Price", {"fields": ["price", "previous_close", "timestamp", "halted"]}),
        (
            "Simulation (annual figures)",
            {
                "fields": ["drift", "volatility", "beta", "total_volatility_display"],
                "description": (
                    "A stock's daily moves combine the market's (times beta) and its own "
                    "(the idiosyncratic volatility). Changes apply from the next tick."
                ),
            },
        ),
    ]

    def get_readonly_fields(self, request, obj=None):
        readonly = ["previous_close", "timestamp", "halted", "total_volatility_display"]
        if obj is not None:
            # Listed: the price moves only with the market; the symbol is its identity.
            readonly += ["symbol", "price", "is_index"]
        return readonly

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [
                (None, {"fields": ["symbol", "name", "sector", "price", "is_index"]}),
                ("Simulation (annual figures)", {"fields": ["drift", "volatility", "beta"]}),
            ]
        return self.fieldsets

    @admin.display(description="% change")
    def change_pct_display(self, obj):
        return f"{obj.change_pct:+.2f}%"

    @admin.display(description="Total volatility")
    def total_volatility_display(self, obj):
        if obj is None or obj.volatility is None or obj.beta is None:
            return "—"
        total = DEFAULT_MODEL.total_volatility(volatility=obj.volatility, beta=obj.beta)
        return f"{total:.0%} a year"

    def save_model(self, request, obj, form, change):
        try:
            if change:
                services.update_symbol(
                    symbol=obj.symbol,
                    name=obj.name,
                    sector=obj.sector,
                    drift=obj.drift,
                    volatility=obj.volatility,
                    beta=obj.beta,
                    by=request.user,
                )
            else:
                created = services.list_symbol(
                    Listing(
                        symbol=obj.symbol,
                        name=obj.name,
                        sector=obj.sector,
                        price=obj.price,
                        drift=obj.drift,
                        volatility=obj.volatility,
                        beta=obj.beta,
                        is_index=obj.is_index,
                    )
                )
                obj.pk = created.pk
        except services.MarketError as exc:
            # The form validated already; this is a race (e.g. listed meanwhile).
            raise ValidationError(exc.message) from exc

    @admin.action(description="Halt trading in the selected symbols", permissions=["change"])
    def halt_symbols(self, request, queryset):
        self._set_halted(request, queryset, halted=True)

    @admin.action(description="Resume trading in the selected symbols", permissions=["change"])
    def resume_symbols(self, request, queryset):
        self._set_halted(request, queryset, halted=False)

    def _set_halted(self, request, queryset, *, halted: bool):
        symbols = list(queryset.values_list("symbol", flat=True))
        changed = services.set_halted(symbols=symbols, halted=halted, by=request.user)
        verb = "Halted" if halted else "Resumed"
        if changed:
            self.message_user(
                request, f"{verb} {len(changed)}: {', '.join(changed)}.", messages.SUCCESS
            )
        unchanged = len(symbols) - len(changed)
        if unchanged:
            state = "halted" if halted else "trading"
            self.message_user(
                request, f"{unchanged} already {state}; left as they were.", messages.INFO
            )


@admin.register(PriceHistory)
class PriceHistoryAdmin(admin.ModelAdmin):
    """The chart series: written by the ticker only."""

    list_display = ["stock", "price", "timestamp"]
    search_fields = ["stock__symbol"]
    list_per_page = 100
    show_full_result_count = False  # counting millions of rows on every page is slow

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class MarketEventForm(ModelForm):
    sector = forms.ChoiceField(required=False, help_text="Or a whole sector")
    confirm = forms.BooleanField(
        required=False,
        label="Confirm a large move",
        help_text=(
            f"Needed only for a move larger than {services.LARGE_MOVE_PERCENT:g} % either "
            "way: such a move can wipe out or double a student's position in one tick."
        ),
    )

    class Meta:
        model = MarketEvent
        fields = ["stock", "sector", "percent", "reason"]
        labels = {"stock": "Symbol", "percent": "Move (%)"}
        help_texts = {
            "stock": "One symbol…",
            "percent": "Applied at the next tick on top of the normal move, e.g. -12.5 or 8.",
            "reason": "The news headline: once applied, everyone who opens the market and "
            "quote pages reads it (the market is public). Write it for students.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        sectors = Price.objects.order_by("sector").values_list("sector", flat=True).distinct()
        self.fields["sector"].choices = [("", "—"), *((s, s) for s in sectors)]

    def clean(self):
        # "A symbol or a sector" is the table's constraint, which says so in its own words.
        cleaned = super().clean()
        percent = cleaned.get("percent")
        if percent is not None and (not -100 < percent <= 1000 or percent == 0):
            self.add_error("percent", "The move must be above -100 % and at most 1000 %, not 0.")
        elif (
            percent is not None
            and abs(percent) > services.LARGE_MOVE_PERCENT
            and not cleaned.get("confirm")
        ):
            self.add_error(
                "confirm",
                f"A move of {_signed(percent)} % is larger than "
                f"{services.LARGE_MOVE_PERCENT:g} % "
                "either way. Check the number (a typo such as 50 for 5.0?), then tick the "
                "box to confirm it and save again. Nothing has been scheduled yet.",
            )
        return cleaned


class EventSectorFilter(admin.AllValuesFieldListFilter):
    """The sectors events moved; an event on one stock has no sector (a blank value), which
    the admin's own filter would list as a link with no text."""

    def choices(self, changelist):
        for choice in super().choices(changelist):
            if choice["display"] == "":
                choice["display"] = "One stock (no sector)"
            yield choice


class EventStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("pending", "Pending"), ("applied", "Applied"), ("cancelled", "Cancelled")]

    def queryset(self, request, queryset):
        if self.value() == "pending":
            return queryset.filter(applied_at__isnull=True, cancelled_at__isnull=True)
        if self.value() == "applied":
            return queryset.filter(applied_at__isnull=False)
        if self.value() == "cancelled":
            return queryset.filter(cancelled_at__isnull=False)
        return queryset


@admin.register(MarketEvent)
class MarketEventAdmin(RejectedFormIs400Mixin, admin.ModelAdmin):
    """News shocks an instructor schedules; applied once at the next tick, unless cancelled
    before (prices.services.cancel_event, audited). Students read the applied ones' reasons
    as news on the market and quote pages."""

    form = MarketEventForm
    list_display = ["created_at", "target", "percent", "reason", "created_by", "state"]
    list_filter = [EventStateFilter, ("sector", EventSectorFilter)]
    list_select_related = ["created_by", "cancelled_by"]
    autocomplete_fields = ["stock"]
    readonly_fields = ["created_by", "created_at", "state", "cancelled_by"]
    actions = ["cancel_events_action"]

    @admin.display(description="Symbol or sector")
    def target(self, obj):
        return obj.stock_id or f"Sector: {obj.sector}"

    @admin.display(description="State")
    def state(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        if obj.applied_at is not None:
            day = f" (trading day {obj.applied_day})" if obj.applied_day else ""
            return f"Applied {_when(obj.applied_at)}{day}"
        if obj.cancelled_at is not None:
            return f"Cancelled {_when(obj.cancelled_at)}"
        return "Pending: applied at the next tick"

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["stock", "sector", "percent", "reason", "confirm"]
        fields = ["stock", "sector", "percent", "reason", "created_by", "created_at", "state"]
        return [*fields, "cancelled_by"] if obj.cancelled_at else fields

    def has_change_permission(self, request, obj=None):
        return False  # an event is a fact once scheduled; schedule another to correct it

    def has_cancel_permission(self, request, obj=None):
        # Whoever may schedule news may call it off before it runs.
        return self.has_add_permission(request)

    @admin.action(description="Cancel the selected pending events", permissions=["cancel"])
    def cancel_events_action(self, request, queryset):
        for event_id in queryset.order_by("pk").values_list("pk", flat=True):
            try:
                event = services.cancel_event(event_id=event_id, by=request.user)
            except services.MarketError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                self.message_user(
                    request, f"Cancelled “{event}”: it will not move the market.", messages.SUCCESS
                )

    def get_urls(self):
        return [
            path(
                "<path:object_id>/cancel/",
                self.admin_site.admin_view(self.cancel_view),
                name="prices_marketevent_cancel",
            ),
            *super().get_urls(),
        ]

    def cancel_view(self, request, object_id):
        """GET asks to confirm; POST cancels the pending event (audited) and goes back to
        it. An event applied meanwhile is refused with a message, and the page says so."""
        event = self.get_object(request, unquote(object_id))
        if event is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_cancel_permission(request, event):
            raise PermissionDenied
        back = reverse("admin:prices_marketevent_change", args=[event.pk])
        if request.method == "POST":
            try:
                services.cancel_event(event_id=event.pk, by=request.user)
            except services.MarketError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                self.message_user(
                    request, f"Cancelled “{event}”: it will not move the market.", messages.SUCCESS
                )
            return HttpResponseRedirect(back)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Cancel the event “{event}”?",
            "original": event,
            "back": back,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/prices/marketevent/cancel.html", context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_cancel": self.has_cancel_permission(request),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        event = services.schedule_event(
            symbol=obj.stock_id,
            sector=obj.sector or None,
            percent=obj.percent,
            reason=obj.reason,
            by=request.user,
        )
        obj.pk = event.pk


@admin.register(MarketState)
class MarketStateAdmin(admin.ModelAdmin):
    list_display = ["__str__", "trading_day", "day_elapsed_display", "last_tick_at"]
    readonly_fields = [
        "ticks",
        "trading_day",
        "day_elapsed",
        "day_started_at",
        "last_tick_at",
        "market_level",
    ]

    @admin.display(description="Day elapsed")
    def day_elapsed_display(self, obj):
        return f"{min(obj.day_elapsed, 1.0):.0%}"

    @admin.display(description="Market factor level (1.0 at the start)")
    def market_level(self, obj):
        return f"{math.exp(obj.market_log_level):.4f}"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

# The Scenarios page lives in its own module; importing it registers it.
from prices import admin_scenarios  # noqa: E402, F401
