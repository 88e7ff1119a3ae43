"""Forms for cash: the amount a student types, and the journal's filters.

Forms check shape only (a real number of dollars and cents); whether there is enough cash
or room under the class's limits is decided by the service, under the balance lock.
"""

import re
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError

from ledger.models import Transaction
from ledger.selectors import JournalFilters
from tradesim.forms import BootstrapFormMixin, DayField, Form, OneTimeTokenField
from tradesim.money import CENT, MAX_MONEY

EXAMPLE = "such as 250 or 99.95"
_SIGN_AND_DOLLAR = re.compile(r"([+-]?)\s*\$?(.*)", re.DOTALL)
_PLAIN = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)", re.ASCII)
_EXPONENT = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)[eE][+-]?\d+", re.ASCII)
_DECIMAL_COMMA = re.compile(r"\d+,\d{1,2}", re.ASCII)
_NOT_NUMBERS = {"nan", "snan", "qnan", "inf", "infinity"}
MAX_INPUT_LENGTH = 32


class AmountField(forms.Field):
    """An amount of money typed by a person: a positive number of dollars with at most two
    decimals, returned as a Decimal of whole cents. Each way to get it wrong has its own
    message. A leading "$" is allowed; commas are not (is "1,500" 1500 or 1.5?)."""

    widget = forms.TextInput(
        attrs={"inputmode": "decimal", "autocomplete": "off", "placeholder": "0.00"}
    )
    default_error_messages = {
        "required": "Enter an amount.",
        "invalid": f"Enter an amount {EXAMPLE}.",
        "too_long": "That is too long to be an amount.",
        "spaces": "Leave out the spaces: enter 1500 or 1500.00.",
        "comma": "Leave out commas: enter 1500 or 1500.00.",
        "decimal_comma": "Use a point for cents, not a comma: 12.50.",
        "digits": f"Use the digits 0–9 only, {EXAMPLE}.",
        "not_a_number": f"“%(value)s” is not an amount of money. Enter a number {EXAMPLE}.",
        "exponent": "Write the amount out in full, such as 1500, without an exponent (e).",
        "decimals": "Amounts have at most two decimal places (whole cents), such as 99.95.",
        "negative": "The amount can't be negative; enter how much, such as 250.",
        "zero": "The amount must be more than zero.",
        "too_large": "That amount is too large: the most is $%(max)s.",
    }

    def __init__(self, *, max_value: Decimal = MAX_MONEY, **kwargs):
        self.max_value = max_value
        kwargs.setdefault("label", "Amount ($)")
        super().__init__(**kwargs)

    def _error(self, code: str, **params):
        return ValidationError(self.error_messages[code], code=code, params=params or None)

    def to_python(self, value):
        if value in self.empty_values:
            return None
        text = str(value).strip()
        if not text:
            return None
        if len(text) > MAX_INPUT_LENGTH:
            raise self._error("too_long")
        sign, number = _SIGN_AND_DOLLAR.fullmatch(text).groups()
        number = number.strip()
        if any(ch.isspace() for ch in number):
            raise self._error("spaces")
        if any(not ch.isascii() and (ch.isdigit() or ch.isnumeric()) for ch in number):
            raise self._error("digits")
        if number.lower() in _NOT_NUMBERS:
            raise self._error("not_a_number", value=text)
        if _DECIMAL_COMMA.fullmatch(number):
            raise self._error("decimal_comma")
        if "," in number:
            raise self._error("comma")
        if _EXPONENT.fullmatch(number):
            raise self._error("exponent")
        if not _PLAIN.fullmatch(number):
            raise self._error("invalid")
        amount = Decimal(number)
        if sign == "-" and amount != 0:
            raise self._error("negative")
        if amount == 0:
            raise self._error("zero")
        if amount > self.max_value:
            raise self._error("too_large", max=f"{self.max_value:,.2f}")
        if amount != amount.quantize(CENT):
            raise self._error("decimals")
        return amount.quantize(CENT)


class AmountForm(BootstrapFormMixin, Form):
    """An amount, an optional note, and the one-time token. Reused by every form that moves
    a student's cash (deposit, withdraw, an instructor's grant)."""

    description_help = "Optional: a note for your journal."
    description_placeholder = ""

    amount = AmountField(label="Amount")
    description = forms.CharField(label="Description", max_length=200, required=False, strip=True)
    token = OneTimeTokenField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["description"]
        field.help_text = self.description_help
        field.widget.attrs["placeholder"] = self.description_placeholder


class DepositForm(AmountForm):
    description_help = "Optional: a note you will see in your cash journal, up to 200 characters."
    description_placeholder = "e.g. Birthday money"


class WithdrawForm(AmountForm):
    description_help = "Optional: a note you will see in your cash journal, up to 200 characters."
    description_placeholder = "e.g. Moving savings out"


_SYMBOL = re.compile(r"[A-Z0-9][A-Z0-9.\-]{0,9}", re.ASCII)


class JournalFilterForm(BootstrapFormMixin, Form):
    """The journal's filters, read from the query string. All optional."""

    type = forms.ChoiceField(
        label="Type", required=False, choices=[("", "All types"), *Transaction.Type.choices]
    )
    start = DayField(
        label="From",
        required=False,
        error_messages={"invalid": "Enter the start date as YYYY-MM-DD, such as 2026-03-14."},
    )
    end = DayField(
        label="To",
        required=False,
        error_messages={"invalid": "Enter the end date as YYYY-MM-DD, such as 2026-03-14."},
    )
    symbol = forms.CharField(
        label="Symbol",
        required=False,
        max_length=10,
        widget=forms.TextInput(attrs={"placeholder": "e.g. AAPL", "autocapitalize": "characters"}),
        error_messages={"max_length": "A symbol has at most 10 characters, such as AAPL."},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["type"].error_messages["invalid_choice"] = (
            "Pick a type from the list (deposit, withdrawal, buy, sell, …)."
        )

    def clean_symbol(self):
        symbol = self.cleaned_data["symbol"].strip().upper()
        if symbol and not _SYMBOL.fullmatch(symbol):
            raise ValidationError(
                "A symbol is letters and digits, such as AAPL or BRK.B.", code="invalid"
            )
        return symbol

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and start > end:
            raise ValidationError(
                "The start date is after the end date: swap them, or clear one.",
                code="range",
            )
        return data

    def filters(self) -> JournalFilters:
        data = self.cleaned_data
        return JournalFilters(
            type=data.get("type") or "",
            start=data.get("start"),
            end=data.get("end"),
            symbol=data.get("symbol") or "",
        )
