import math

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from prices import services, splits
from prices.market_data import Listing
from prices.models import (
    Headline,
    MarketEvent,
    MarketParameters,
    MarketState,
    Price,
    PriceHistory,
    Split,
)
from prices.simulation import TURBULENT
from tradesim.admin import RejectedFormIs400Mixin
from tradesim.forms import ModelForm


def _when(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def _signed(percent) -> str:
    """The move with its sign, a real minus: "+40", "−12.5"."""
    return f"{percent.normalize():+f}".replace("-", "−")


ACTION_FIELDS = ["dividend_yield", "dividend_day", "earnings_day", "earnings_volatility"]
ACTIONS_FIELDSET = (
    "Dividends and earnings (63-day quarters)",
    {
        "fields": ACTION_FIELDS,
        "description": (
            "On its dividend day of each quarter the stock goes ex-dividend: the price drops "
            "by a quarter of the yearly yield and every holder is paid it (every short "
            "charged it). On its earnings day the company reports: the price jumps by a "
            "surprise of about the earnings volatility, with a headline. Leave a day blank "
            "for none. Changes apply from the next trading day."
        ),
    },
)


class PriceForm(ModelForm):
    class Meta:
        model = Price
        fields = [
            "symbol",
            "name",
            "sector",
            "price",
            "is_index",
            "drift",
            "volatility",
            "beta",
            *ACTION_FIELDS,
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Left out of a form, the yield and the earnings volatility keep what they were.
        for name in ("dividend_yield", "earnings_volatility"):
            self.fields[name].required = False

    def _kept(self, name):
        value = self.cleaned_data.get(name)
        if value is None:
            return getattr(self.instance, name)
        return value

    def clean_dividend_yield(self):
        return self._kept("dividend_yield")

    def clean_earnings_volatility(self):
        return self._kept("earnings_volatility")

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


def _total_volatility(model, price) -> str:
    """A symbol's long-run volatility under the market's model (calm and stormy weeks
    mixed as they come on average, gaps included)."""
    if price is None or price.volatility is None or price.beta is None:
        return "—"
    total = model.total_volatility(volatility=price.volatility, beta=price.beta)
    return f"{total:.0%} a year"


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
        ACTIONS_FIELDSET,
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
                ACTIONS_FIELDSET,
            ]
        return self.fieldsets

    @admin.display(description="% change")
    def change_pct_display(self, obj):
        return f"{obj.change_pct:+.2f}%"

    @admin.display(description="Total volatility")
    def total_volatility_display(self, obj):
        return _total_volatility(MarketParameters.current().market_model(), obj)

    def get_list_display(self, request):
        # The market's parameters read once for the whole list, not once a row (and
        # once a request: the admin asks for the columns more than once).
        model = getattr(request, "_market_model", None)
        if model is None:
            model = request._market_model = MarketParameters.current().market_model()

        @admin.display(description="Total volatility")
        def total_volatility(obj):
            return _total_volatility(model, obj)

        return [
            total_volatility if name == "total_volatility_display" else name
            for name in self.list_display
        ]

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
                    dividend_yield=obj.dividend_yield,
                    dividend_day=obj.dividend_day,
                    earnings_day=obj.earnings_day,
                    earnings_volatility=obj.earnings_volatility,
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
                        dividend_yield=obj.dividend_yield,
                        dividend_day=obj.dividend_day,
                        earnings_day=obj.earnings_day,
                        earnings_volatility=obj.earnings_volatility,
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


class HeadlineDayFilter(admin.SimpleListFilter):
    """By simulated trading day, counted back from the current one."""

    title = "trading day"
    parameter_name = "days"
    SPANS = {"1": "Today", "5": "The last 5 days", "21": "The last 21 days (a month)"}

    def lookups(self, request, model_admin):
        return list(self.SPANS.items())

    def queryset(self, request, queryset):
        if self.value() not in self.SPANS:
            return queryset
        today = (
            MarketState.objects.filter(id=1).values_list("trading_day", flat=True).first() or 0
        ) + 1
        return queryset.filter(day__gt=today - int(self.value()))


@admin.register(Headline)
class HeadlineAdmin(admin.ModelAdmin):
    """The market's news, as the market wrote it (prices.news): read-only for everyone,
    instructors included; nobody edits the record of what students read."""

    list_display = ["published_at", "day", "kind", "stock", "sector", "text", "percent"]
    list_filter = ["kind", HeadlineDayFilter]
    search_fields = ["stock__symbol", "text"]
    list_per_page = 100
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class SplitForm(ModelForm):
    ratio = forms.ChoiceField(
        choices=[(f"{n}-for-{d}", f"{n}-for-{d}") for n, d in splits.RATIOS],
        initial="2-for-1",
        help_text="2-for-1: each share becomes two at half the price. 1-for-10 (a reverse "
        "split): every ten shares become one at ten times the price.",
    )
    days_ahead = forms.IntegerField(
        min_value=1,
        max_value=splits.MAX_DAYS_AHEAD,
        help_text="Trading days from today until it takes effect (at that day's open)",
    )

    class Meta:
        model = Split
        fields = ["stock"]
        labels = {"stock": "Symbol"}
        help_texts = {
            "stock": "Every holding, open order and the price history are adjusted at the "
            "split, so no student's value moves (a fraction of a share is paid in cash).",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["days_ahead"].initial = MarketParameters.current().split_notice_days

    def clean(self):
        cleaned = super().clean()
        stock, ratio = cleaned.get("stock"), cleaned.get("ratio")
        if ratio:
            try:
                cleaned["parsed_ratio"] = splits.parse_ratio(ratio)
            except services.MarketError as exc:
                self.add_error("ratio", exc.message)
        if stock is not None:
            if stock.is_index:
                self.add_error("stock", f"{stock.symbol} is an index fund: it does not split.")
            pending = Split.objects.filter(
                stock=stock, applied_at__isnull=True, cancelled_at__isnull=True
            ).first()
            if pending is not None:
                self.add_error(
                    "stock",
                    f"{stock.symbol} already has a {pending.ratio_text} split announced for "
                    f"day {pending.effective_day}: cancel it first.",
                )
        return cleaned


@admin.register(Split)
class SplitAdmin(RejectedFormIs400Mixin, admin.ModelAdmin):
    """Stock splits: scheduled by an instructor or announced by the market itself (above
    the market parameters' split price); applied at the open of their day, unless cancelled
    before (prices.splits, both audited)."""

    form = SplitForm
    list_display = [
        "stock",
        "ratio_text",
        "announced_day",
        "effective_day",
        "state",
        "scheduled_by",
    ]
    list_filter = [EventStateFilter]
    list_select_related = ["stock", "created_by", "cancelled_by"]
    search_fields = ["stock__symbol"]
    autocomplete_fields = ["stock"]
    readonly_fields = [
        "ratio_text",
        "announced_day",
        "effective_day",
        "scheduled_by",
        "created_at",
        "state",
        "cancelled_by",
    ]
    actions = ["cancel_splits_action"]

    @admin.display(description="Ratio")
    def ratio_text(self, obj):
        return obj.ratio_text

    @admin.display(description="Scheduled by")
    def scheduled_by(self, obj):
        return obj.created_by or "The market (automatic)"

    @admin.display(description="State")
    def state(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        if obj.applied_at is not None:
            return f"Applied {_when(obj.applied_at)} (trading day {obj.effective_day})"
        if obj.cancelled_at is not None:
            return f"Cancelled {_when(obj.cancelled_at)}"
        return f"Pending: takes effect at the open of day {obj.effective_day}"

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["stock", "ratio", "days_ahead"]
        return ["stock", *self.readonly_fields]

    def has_change_permission(self, request, obj=None):
        return False  # a split is announced news; cancel it and schedule another

    def has_delete_permission(self, request, obj=None):
        return False

    def has_cancel_permission(self, request, obj=None):
        # Whoever may schedule a split may call it off before it takes effect.
        return self.has_add_permission(request)

    @admin.action(description="Cancel the selected pending splits", permissions=["cancel"])
    def cancel_splits_action(self, request, queryset):
        for split_id in queryset.order_by("pk").values_list("pk", flat=True):
            try:
                split = splits.cancel_split(split_id=split_id, by=request.user)
            except services.MarketError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                self.message_user(
                    request, f"Cancelled the {split}: it will not take effect.", messages.SUCCESS
                )

    def save_model(self, request, obj, form, change):
        try:
            split = splits.schedule_split(
                symbol=obj.stock_id,
                ratio=form.cleaned_data["parsed_ratio"],
                days_ahead=form.cleaned_data["days_ahead"],
                by=request.user,
            )
        except services.MarketError as exc:
            # The form validated already: a split was announced meanwhile, or the price
            # moved below what a split may leave.
            raise ValidationError(exc.message) from exc
        obj.pk = split.pk


class MarketParametersForm(ModelForm):
    class Meta:
        model = MarketParameters
        fields = services.MARKET_PARAMETER_FIELDS
        labels = {
            "drift": "Expected annual return",
            "calm_volatility": "Volatility in calm weeks",
            "turbulent_volatility": "Volatility in stormy weeks",
            "calm_days": "Calm spell, trading days",
            "turbulent_days": "Stormy spell, trading days",
            "market_jumps_per_year": "Market gaps a year",
            "market_jump_mean": "Market gap, average size",
            "market_jump_volatility": "Market gap, spread of sizes",
            "stock_jumps_per_year": "Company gaps a year",
            "stock_jump_volatility": "Company gap, spread of sizes",
            "split_above_price": "Split a stock above",
            "split_notice_days": "Split notice, trading days",
            "news_move_percent": "News for a move of (%)",
        }

    def clean(self):
        cleaned = super().clean()
        calm, stormy = cleaned.get("calm_volatility"), cleaned.get("turbulent_volatility")
        if calm is not None and stormy is not None and stormy < calm:
            self.add_error(
                "turbulent_volatility",
                f"Stormy weeks must be at least as volatile as calm ones: {stormy:g} is below "
                f"the calm {calm:g}. Set the two equal for a market without storms.",
            )
        return cleaned


@admin.register(MarketParameters)
class MarketParametersAdmin(RejectedFormIs400Mixin, admin.ModelAdmin):
    """The market's own parameters: one row, edited on its change page (the list goes
    straight to it; nothing to add or delete). Saved through
    prices.services.update_market_parameters, which audits the change; the next tick
    reads them.

    Whoever may change the symbols' simulation parameters (prices.change_price: the
    Instructors group, superusers) may change the market's too, as may anyone granted
    this model's own change permission."""

    one_row = True  # the list answers with a redirect to the row's change page
    form = MarketParametersForm
    readonly_fields = ["long_run_display", "regime_display"]
    fieldsets = [
        (
            "The market's trend",
            {
                "fields": ["drift"],
                "description": (
                    "The market factor every stock follows (times its beta). Annual figures: "
                    "0.07 means 7 % a year. Changes apply from the next tick."
                ),
            },
        ),
        (
            "Calm and stormy weeks",
            {
                "fields": [
                    "calm_volatility",
                    "turbulent_volatility",
                    "calm_days",
                    "turbulent_days",
                    "long_run_display",
                    "regime_display",
                ],
                "description": (
                    "The market is calm or stormy. In a stormy spell its daily moves are "
                    "larger; a spell lasts the set number of trading days on average (some "
                    "shorter, some longer), then the market changes mood, so quiet weeks "
                    "follow quiet weeks and wild weeks follow wild ones, as in real markets. "
                    "Set both volatilities equal for a market without storms."
                ),
            },
        ),
        (
            "Gaps",
            {
                "fields": [
                    "market_jumps_per_year",
                    "market_jump_mean",
                    "market_jump_volatility",
                    "stock_jumps_per_year",
                    "stock_jump_volatility",
                ],
                "description": (
                    "Sudden moves on top of the daily ones: the whole market (a crash "
                    "or a rally), or one company (news). Sizes are in log terms: 0.05 is "
                    "about 5 %."
                ),
            },
        ),
        ("Splits", {"fields": ["split_above_price", "split_notice_days"]}),
        ("News", {"fields": ["news_move_percent"]}),
    ]

    @admin.display(description="Long-run volatility")
    def long_run_display(self, obj):
        model = obj.market_model()
        return (
            f"{model.market_volatility():.1%} a year for the market, gaps included; stormy "
            f"{model.turbulent_share:.0%} of the days on average"
        )

    @admin.display(description="The market now")
    def regime_display(self, obj):
        regime = MarketState.objects.filter(id=1).values_list("regime", flat=True).first()
        return "Stormy" if regime == TURBULENT else "Calm"

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) or request.user.has_perm(
            "prices.change_price"
        )

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) or self.has_change_permission(request)

    def changelist_view(self, request, extra_context=None):
        """One row: its change page is the list."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        row = MarketParameters.current()
        return HttpResponseRedirect(reverse("admin:prices_marketparameters_change", args=[row.pk]))

    def save_model(self, request, obj, form, change):
        # Only the fields this form changed: another instructor's edit of the others
        # since the page was opened stays.
        changed = {name: form.cleaned_data[name] for name in form.changed_data}
        try:
            services.update_market_parameters(by=request.user, **changed)
        except services.MarketError as exc:
            # The form validated already: the row changed meanwhile (a race).
            raise ValidationError(exc.message) from exc
        obj.refresh_from_db()


# The Scenarios page lives in its own module; importing it registers it.
from prices import admin_scenarios  # noqa: E402, F401
