"""The amount a person types, and the journal's filters: each mistake has its own message."""

from datetime import date
from decimal import Decimal

import pytest

from ledger.forms import AmountField, AmountForm, DepositForm, JournalFilterForm
from ledger.selectors import JournalFilters

D = Decimal


def amount_errors(raw, **field_kwargs):
    form = AmountForm({"amount": raw})
    if field_kwargs:
        form.fields["amount"] = AmountField(**field_kwargs)
    form.is_valid()
    return form.errors.get("amount", [])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("250", D("250.00")),
        ("99.95", D("99.95")),
        ("0.01", D("0.01")),
        (".5", D("0.50")),
        ("5.", D("5.00")),
        ("  12.50\t", D("12.50")),
        ("\u00a012", D("12.00")),  # a no-break space around it is only whitespace
        ("$1500", D("1500.00")),
        ("+3", D("3.00")),
        ("1.230", D("1.23")),
        ("007", D("7.00")),
    ],
)
def test_amount_field_accepts_dollars_and_cents(raw, expected):
    form = AmountForm({"amount": raw})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["amount"] == expected
    assert form.cleaned_data["amount"].as_tuple().exponent == -2


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "Enter an amount."),
        ("   ", "Enter an amount."),
        ("NaN", "“NaN” is not an amount of money"),
        ("nan", "is not an amount of money"),
        ("Infinity", "“Infinity” is not an amount of money"),
        ("-inf", "is not an amount of money"),
        ("sNaN", "is not an amount of money"),
        ("1e3", "without an exponent"),
        ("1E+400", "without an exponent"),
        ("2.5e-1", "without an exponent"),
        ("1.234", "at most two decimal places"),
        ("0.001", "at most two decimal places"),
        ("-5", "can't be negative"),
        ("-$5", "can't be negative"),
        ("0", "must be more than zero"),
        ("0.00", "must be more than zero"),
        ("-0", "must be more than zero"),
        ("99999999999999999", "too large: the most is $9,999,999,999,999.99"),
        ("1" * 40, "too long to be an amount"),
        ("١٢٣", "digits 0–9 only"),  # Arabic-Indic digits
        ("１２３", "digits 0–9 only"),  # full-width digits
        ("12²", "digits 0–9 only"),
        ("1 000", "Leave out the spaces"),
        ("1,500", "Leave out commas"),
        ("1,500.00", "Leave out commas"),
        ("12,50", "Use a point for cents"),
        ("twelve", "such as 250 or 99.95"),
        ("1.2.3", "such as 250 or 99.95"),
        ("0x10", "such as 250 or 99.95"),
        ("1_000", "such as 250 or 99.95"),
        ("$", "such as 250 or 99.95"),
        ("12\x00", "such as 250 or 99.95"),
    ],
)
def test_amount_field_explains_each_mistake(raw, message):
    errors = amount_errors(raw)
    assert len(errors) == 1
    assert message in errors[0]


def test_amount_field_takes_a_lower_maximum():
    assert amount_errors("500.01", max_value=D("500.00")) == [
        "That amount is too large: the most is $500.00."
    ]
    assert amount_errors("500.00", max_value=D("500.00")) == []


def test_amount_form_carries_a_fresh_token_and_an_optional_description():
    first, second = DepositForm(), DepositForm()
    assert first["token"].value() != second["token"].value()
    assert len(first["token"].value()) == 32

    form = DepositForm({"amount": "5", "description": "  Birthday  ", "token": "abc"})
    assert form.is_valid()
    assert form.cleaned_data == {"amount": D("5.00"), "description": "Birthday", "token": "abc"}

    form = DepositForm({"amount": "5"})
    assert form.is_valid()
    assert form.cleaned_data["token"] is None
    assert form.cleaned_data["description"] == ""


def test_amount_form_refuses_a_long_description_and_marks_the_field():
    form = DepositForm({"amount": "abc", "description": "x" * 201})
    assert not form.is_valid()
    assert "at most 200 characters" in form.errors["description"][0]
    assert "is-invalid" in form.fields["amount"].widget.attrs["class"]
    assert "is-invalid" not in form.fields["token"].widget.attrs.get("class", "")


# journal filters -----------------------------------------------------------------------


def test_empty_filters_are_valid_and_inactive():
    form = JournalFilterForm({})
    assert form.is_valid()
    assert form.filters() == JournalFilters()
    assert not form.filters().active


def test_filters_are_cleaned():
    form = JournalFilterForm(
        {"type": "buy", "start": "2026-03-01", "end": "2026-03-31", "symbol": " brk.b "}
    )
    assert form.is_valid(), form.errors
    assert form.filters() == JournalFilters(
        type="buy", start=date(2026, 3, 1), end=date(2026, 3, 31), symbol="BRK.B"
    )
    assert form.filters().active


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"type": "bogus"}, "type", "Pick a type from the list"),
        ({"start": "yesterday"}, "start", "YYYY-MM-DD"),
        ({"end": "2026-02-30"}, "end", "YYYY-MM-DD"),
        ({"end": "9999-12-31"}, "end", "between 1900 and 2999"),
        ({"start": "0001-01-01"}, "start", "between 1900 and 2999"),
        ({"symbol": "<script>"}, "symbol", "letters and digits"),
        ({"symbol": "TOOLONGSYMBOL"}, "symbol", "at most 10 characters"),
        ({"start": "2026-03-02", "end": "2026-03-01"}, "__all__", "start date is after"),
    ],
)
def test_bad_filters_say_what_is_wrong(data, field, message):
    form = JournalFilterForm(data)
    assert not form.is_valid()
    assert message in " ".join(form.errors[field])
