"""The news page's filters, from the query string."""

from django import forms
from django.core.exceptions import ValidationError

from prices.models import Headline
from prices.services import SYMBOL_MAX_LENGTH, InvalidMarketInput, normalize_symbol
from tradesim.forms import BootstrapFormMixin, Form

KINDS = ", ".join(Headline.Kind.values)


class NewsFilterForm(BootstrapFormMixin, Form):
    """A kind of news and a symbol, both optional. Whether the symbol is listed is the
    view's to check (a well-formed symbol may be on no market)."""

    kind = forms.ChoiceField(
        required=False,
        choices=[("", "All kinds of news"), *Headline.Kind.choices],
        label="Kind",
        error_messages={"invalid_choice": f"The kind of news must be one of {KINDS}."},
    )
    symbol = forms.CharField(
        required=False,
        max_length=SYMBOL_MAX_LENGTH + 10,
        label="Symbol",
        error_messages={
            "max_length": "That is not a ticker symbol: a symbol is short, such as AAPL."
        },
    )

    def clean_symbol(self):
        value = self.cleaned_data["symbol"]
        if not value:
            return ""
        try:
            return normalize_symbol(value)
        except InvalidMarketInput as error:
            raise ValidationError(error.message) from None
