import re

from django import forms
from django.core.exceptions import ValidationError

from tradesim.forms import BootstrapFormMixin, DayField, Form, OneTimeTokenField
from trading.models import Order, Trade
from trading.services import MAX_QUANTITY, SYMBOL_MAX_LENGTH, UnknownSymbol, normalize_symbol


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

    def clean_symbol(self):
        return clean_symbol_text(self.cleaned_data["symbol"])


class TradeFilterForm(BootstrapForm):
    """The history page's filters (all optional), from the query string."""

    symbol = forms.CharField(required=False, max_length=SYMBOL_MAX_LENGTH + 10)
    operation = forms.ChoiceField(
        required=False,
        choices=[("", "Buys and sells"), *Trade.Operation.choices],
        label="Side",
        error_messages={"invalid_choice": "Side must be buy or sell."},
    )
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

    def clean_symbol(self):
        value = self.cleaned_data["symbol"]
        return clean_symbol_text(value) if value else ""

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and start > end:
            raise ValidationError("The start date is after the end date.")
        return cleaned


class OrderFilterForm(BootstrapForm):
    """The orders page's filters (all optional), from the query string."""

    status = forms.ChoiceField(
        required=False,
        choices=[("", "Any status"), *Order.Status.choices],
        error_messages={
            "invalid_choice": "Status must be open, filled, cancelled, expired or rejected."
        },
    )
    symbol = forms.CharField(required=False, max_length=SYMBOL_MAX_LENGTH + 10)
    side = forms.ChoiceField(
        required=False,
        choices=[("", "Any side"), *Order.Side.choices],
        error_messages={"invalid_choice": "Side must be buy or sell."},
    )
    type = forms.ChoiceField(
        required=False,
        choices=[("", "Any type"), *Order.Type.choices],
        error_messages={
            "invalid_choice": "Type must be market, limit, stop, stop_limit or trailing_stop."
        },
    )
    start = DayField(
        required=False,
        label="Placed from",
        error_messages={"invalid": "Enter the start date as YYYY-MM-DD."},
    )
    end = DayField(
        required=False,
        label="To",
        error_messages={"invalid": "Enter the end date as YYYY-MM-DD."},
    )

    def clean_symbol(self):
        value = self.cleaned_data["symbol"]
        return clean_symbol_text(value) if value else ""

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and start > end:
            raise ValidationError("The start date is after the end date.")
        return cleaned
