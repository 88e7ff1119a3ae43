import html
import json
import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils.safestring import mark_safe

from prices.services import MAX_LISTING_PRICE
from tradesim.forms import BootstrapFormMixin, DayField, Form, OneTimeTokenField
from trading.models import Order, Trade
from trading.services import (
    GTC_DAYS,
    MAX_QUANTITY,
    MAX_TRAIL_PERCENT,
    STOP_HOLD_CUSHION,
    SYMBOL_MAX_LENGTH,
    InvalidOrder,
    InvalidQuantity,
    UnknownSymbol,
    normalize_symbol,
    order_request,
)


def clean_symbol_text(value: str) -> str:
    try:
        return normalize_symbol(value)
    except UnknownSymbol as error:
        raise ValidationError(error.message) from None


class BootstrapForm(BootstrapFormMixin, Form):
    """A strict form in the site's look (tradesim.forms.BootstrapFormMixin)."""


class SymbolSelect(forms.Select):
    """A symbol picker whose options carry the live price and the shares held, for the
    estimate script. `option_data` maps symbol → dict of data- attributes; an entry with
    "disabled" set cannot be chosen (a halted symbol)."""

    def __init__(self, *args, option_data=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.option_data = option_data or {}

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        for key, data in self.option_data.get(value, {}).items():
            if key == "disabled":
                option["attrs"]["disabled"] = bool(data)
            else:
                option["attrs"][f"data-{key}"] = data
        return option

    def render(self, name, value, attrs=None, renderer=None):
        """The HTML of Django's select.html and select_option.html, written out here: the
        templates render once per option, which for a market of thousands of symbols cost
        seconds a page. Flat choices only (no option groups), as the ticket's are."""
        chosen = set(self.format_value(value))
        parts = [
            f'<select name="{_escape(name)}"{_attributes(self.build_attrs(self.attrs, attrs))}>'
        ]
        option_data = self.option_data
        for option_value, label in self.choices:
            option_value = "" if option_value is None else str(option_value)
            selected = option_value in chosen
            if selected:
                chosen = ()  # one selected option, as Select.optgroups marks it
            parts.append(option_html(option_value, label, option_data.get(option_value), selected))
        parts.append("\n</select>")
        return mark_safe("".join(parts))  # noqa: S308 (every value above is escaped)


class ListedSymbolSelect(SymbolSelect):
    """The symbol picker over a prepared listing: the options' HTML made once for a
    student who holds none of them (`listing.html`, in `listing.position` order), and
    `overrides` (symbol → (label, option data)) for the ones this student holds. The HTML
    is SymbolSelect's; the work per page is one list copy and a join, whatever the size
    of the market."""

    def __init__(self, *args, listing, overrides, placeholder, **kwargs):
        super().__init__(*args, **kwargs)
        self.listing, self.overrides, self.placeholder = listing, overrides, placeholder

    def use_required_attribute(self, initial):
        # As Select decides it with the placeholder, an empty value, as its first choice.
        return forms.Widget.use_required_attribute(self, initial)

    def render(self, name, value, attrs=None, renderer=None):
        (raw,) = self.format_value(value)
        head = f'<select name="{_escape(name)}"{_attributes(self.build_attrs(self.attrs, attrs))}>'
        body = list(self.listing.html)
        position = self.listing.position
        for symbol, (label, data) in self.overrides.items():
            if symbol in position:
                body[position[symbol]] = option_html(symbol, label, data, symbol == raw)
        if raw in position and raw not in self.overrides:
            option = self.listing.options[position[raw]]
            body[position[raw]] = option_html(raw, *self.listing.labels(option), selected=True)
        first = option_html("", self.placeholder, None, raw == "")
        return mark_safe(f"{head}{first}{''.join(body)}\n</select>")  # noqa: S308 (escaped)


def option_html(value: str, label, data: dict | None, selected: bool) -> str:
    """One <option> as Django's select_option.html writes it, in a select.html loop."""
    extra = " selected" if selected else ""
    for key, item in (data or {}).items():
        if key == "disabled":
            extra += " disabled" if item else ""
        elif item is True:
            extra += f" data-{key}"
        elif item is not False:
            extra += f' data-{key}="{_escape(item)}"'
    return f'\n  <option value="{_escape(value)}"{extra}>{_escape(label)}</option>\n'


def _escape(value) -> str:
    """Django's escaping (conditional_escape) without its lazy-string wrapper."""
    if hasattr(value, "__html__"):
        return value.__html__()
    return html.escape(str(value))


def _attributes(attrs: dict) -> str:
    """Django's widgets/attrs.html."""
    out = ""
    for key, value in attrs.items():
        if value is True:
            out += f" {key}"
        elif value is not False:
            out += f' {key}="{_escape(value)}"'
    return out


_WHOLE_NUMBER = re.compile(r"[+-]?\d+(?:\.0*)?", re.ASCII)


class QuantityField(forms.IntegerField):
    """A whole number of shares written with the digits 0–9, as the cash forms require:
    int() alone would also take "١٢٣", "１２" or "1_000"."""

    def to_python(self, value):
        if value not in self.empty_values and not _WHOLE_NUMBER.fullmatch(str(value).strip()):
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


class OrderForm(BootstrapForm):
    """The shape of an order. Whether the symbol trades, the cash and the shares are the
    service's to check, under the lock."""

    symbol = forms.CharField(max_length=SYMBOL_MAX_LENGTH + 10, strip=True)
    quantity = QuantityField(
        min_value=1,
        max_value=MAX_QUANTITY,
        label="Shares",
        error_messages={
            "invalid": "Enter a whole number of shares, such as 10.",
            "min_value": "The number of shares must be at least 1.",
            "max_value": f"One order is at most {MAX_QUANTITY:,} shares.",
            "required": "Enter how many shares.",
        },
        widget=forms.NumberInput(attrs={"min": 1, "step": 1, "inputmode": "numeric"}),
    )
    token = OneTimeTokenField()
    next = forms.CharField(required=False, widget=forms.HiddenInput, max_length=200)

    def __init__(self, *args, symbol_choices=None, option_data=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["symbol"].error_messages["required"] = "Choose a symbol to trade."
        if symbol_choices is not None:
            self.use_symbol_choices(symbol_choices=symbol_choices, option_data=option_data)

    def use_symbol_choices(self, *, symbol_choices, option_data=None) -> None:
        """Show the symbol as a picker of `symbol_choices`. The field stays a text field
        under the picker: an unlisted symbol still reaches the service, which refuses it
        with its own message. Callable after validation (a refused order's page keeps its
        error styling)."""
        field = self.fields["symbol"]
        css = field.widget.attrs.get("class", "").replace("form-control", "form-select")
        field.widget = SymbolSelect(
            choices=[("", "Choose a symbol…"), *symbol_choices],
            option_data=option_data,
            attrs={"class": css.strip()} if css.strip() else None,
        )

    def use_symbol_listing(self, *, listing, overrides) -> None:
        """As use_symbol_choices, over a prepared listing (ListedSymbolSelect)."""
        field = self.fields["symbol"]
        css = field.widget.attrs.get("class", "").replace("form-control", "form-select")
        field.widget = ListedSymbolSelect(
            listing=listing,
            overrides=overrides,
            placeholder="Choose a symbol…",
            attrs={"class": css.strip()} if css.strip() else None,
        )

    def clean_symbol(self):
        return clean_symbol_text(self.cleaned_data["symbol"])


class OpenChoiceField(forms.ChoiceField):
    """A choice shown as a picker whose value is checked by the service (order_request), so
    a student reads one message for it wherever the order comes from."""

    def validate(self, value):
        pass


class PriceField(forms.CharField):
    """A price or a trail as typed ("180.50", "$1,800", "7.5 %"); order_request reads it."""

    def __init__(self, **kwargs):
        attrs = {"inputmode": "decimal", "autocomplete": "off"}
        kwargs.setdefault("widget", forms.TextInput(attrs=attrs))
        kwargs.setdefault("error_messages", {"max_length": "That is too long to be a price."})
        super().__init__(required=False, max_length=32, **kwargs)


ORDER_TYPES = Order.Type.choices
DURATIONS = [
    (Order.Duration.DAY, "Good for today"),
    (Order.Duration.GTC, "Good till cancelled"),
]
# The inputs each type uses (the ticket's script shows only these; the service ignores the
# others). trading.services._NEEDS is the rule; this says which boxes to show.
TYPE_FIELDS = {
    Order.Type.MARKET: (),
    Order.Type.LIMIT: ("limit_price", "duration"),
    Order.Type.STOP: ("stop_price", "duration"),
    Order.Type.STOP_LIMIT: ("stop_price", "limit_price", "duration"),
    Order.Type.TRAILING_STOP: ("trail_percent", "trail_amount", "duration"),
}
ORDER_FIELDS = ("side", "type", "limit_price", "stop_price", "trail_percent", "trail_amount")


def ticket_settings() -> dict:
    """What the ticket's script needs to know of the service's rules, for its estimate and
    its preview (data- attributes on the form)."""
    return {
        "type_fields_json": json.dumps({str(kind): names for kind, names in TYPE_FIELDS.items()}),
        "stop_cushion": STOP_HOLD_CUSHION,
        "gtc_days": GTC_DAYS,
        "max_price": MAX_LISTING_PRICE,
        "max_trail_percent": MAX_TRAIL_PERCENT,
    }


class OrderTicketForm(OrderForm):
    """An order of any type (POST /trading/orders/new/): its shape is order_request's to
    check, and each of its refusals is shown on the input it names. The order, checked,
    is cleaned_data["order"] (a trading.services.OrderRequest)."""

    # Hidden on the order pages (their side is the page's); the quote page's ticket shows
    # it as a Buy / Sell switch.
    side = OpenChoiceField(
        choices=Order.Side.choices, required=False, label="Side", widget=forms.HiddenInput
    )
    # Each help text is what the ticket shows under its field (its aria-describedby).
    type = OpenChoiceField(
        choices=ORDER_TYPES,
        required=False,
        initial=Order.Type.MARKET,
        label="Order type",
        help_text="What each type does.",
    )
    limit_price = PriceField(
        label="Limit price ($)",
        help_text="The most you pay for a share when buying, the least you take when selling.",
    )
    stop_price = PriceField(
        label="Stop price ($)",
        help_text="The price that sets the order off: for a buy, above the price now; for a "
        "sell, below it.",
    )
    trail_percent = PriceField(
        label="Trail in percent (%)",
        help_text="How far the stop stays from the best price since you placed it, in "
        "percent, such as 5.",
    )
    trail_amount = PriceField(
        label="Trail in dollars ($)",
        help_text="How far the stop stays from the best price since you placed it, in "
        "dollars, such as 2.50.",
    )
    duration = OpenChoiceField(
        choices=DURATIONS,
        required=False,
        initial=Order.Duration.DAY,
        label="How long it waits",
        help_text=f"Good for today ends at today's close; good till cancelled waits until you "
        f"cancel it, at most {GTC_DAYS} trading days.",
    )

    field_order = ["symbol", "side", "quantity", "type", *ORDER_FIELDS[2:], "duration"]

    def clean(self):
        cleaned = super().clean()
        # A price's refusal is worth showing together with the symbol's or the quantity's:
        # when those failed already, stand-ins let order_request read the rest.
        symbol = cleaned.get("symbol") or "A"
        quantity = cleaned.get("quantity") or 1
        try:
            order = order_request(
                symbol=symbol,
                quantity=quantity,
                **{name: cleaned.get(name) for name in (*ORDER_FIELDS, "duration")},
            )
        except InvalidOrder as error:
            # A hidden input's error goes above the form, where it is seen.
            field = error.field if error.field in self.fields else None
            self.add_error(field if field and not self[field].is_hidden else None, error.message)
        except UnknownSymbol as error:
            self.add_error("symbol", error.message)
        except InvalidQuantity as error:
            self.add_error("quantity", error.message)
        else:
            if not self.errors:
                cleaned["order"] = order
        return cleaned

    def chosen_side(self) -> str:
        """The side the ticket is for, even when the form is refused: the side sent, if it
        is one (trading.models.OrderSide), else buy."""
        value = self["side"].value()
        return value if value in Order.Side.values else Order.Side.BUY


class _HistoryFilterForm(BootstrapForm):
    """What the history pages' filters share: a symbol and a range of days."""

    start_label = "From"

    symbol = forms.CharField(required=False, max_length=SYMBOL_MAX_LENGTH + 10)
    start = DayField(
        required=False,
        label="From",
        error_messages={"invalid": "Enter the start date as YYYY-MM-DD."},
    )
    end = DayField(
        required=False,
        label="To",
        error_messages={"invalid": "Enter the end date as YYYY-MM-DD."},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["start"].label = self.start_label

    def clean_symbol(self):
        value = self.cleaned_data["symbol"]
        return clean_symbol_text(value) if value else ""

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and start > end:
            raise ValidationError("The start date is after the end date.")
        return cleaned


class TradeFilterForm(_HistoryFilterForm):
    """The history page's filters (all optional), from the query string."""

    field_order = ["symbol", "operation", "start", "end"]

    operation = forms.ChoiceField(
        required=False,
        choices=[("", "Any side"), *Trade.Operation.choices],
        label="Side",
        error_messages={"invalid_choice": "Side must be buy, sell, short or cover."},
    )


class OrderFilterForm(_HistoryFilterForm):
    """The orders page's filters (all optional), from the query string."""

    start_label = "Placed from"
    field_order = ["status", "symbol", "side", "type", "start", "end"]

    status = forms.ChoiceField(
        required=False,
        choices=[("", "Any status"), *Order.Status.choices],
        error_messages={
            "invalid_choice": "Status must be open, filled, cancelled, expired or rejected."
        },
    )
    side = forms.ChoiceField(
        required=False,
        choices=[("", "Any side"), *Order.Side.choices],
        error_messages={"invalid_choice": "Side must be buy, sell, sell_short or buy_to_cover."},
    )
    type = forms.ChoiceField(
        required=False,
        choices=[("", "Any type"), *Order.Type.choices],
        error_messages={
            "invalid_choice": "Type must be market, limit, stop, stop_limit or trailing_stop."
        },
    )
