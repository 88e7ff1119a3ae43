"""The form pieces every app shares (tradesim.forms)."""

from datetime import date

import pytest
from django import forms

from tradesim.forms import FIRST_DAY, LAST_DAY, DayField


class DayForm(forms.Form):
    day = DayField(required=False)


@pytest.mark.parametrize("text", ["1900-01-01", "2026-03-14", "2999-12-31", ""])
def test_a_day_within_the_range_is_accepted(text):
    form = DayForm({"day": text})

    assert form.is_valid(), form.errors
    assert form.cleaned_data["day"] == (date.fromisoformat(text) if text else None)


@pytest.mark.parametrize("text", ["0001-01-01", "1899-12-31", "3000-01-01", "9999-12-31"])
def test_a_day_outside_the_range_is_refused_with_the_range(text):
    form = DayForm({"day": text})

    assert not form.is_valid()
    assert form.errors["day"] == [f"Pick a date between {FIRST_DAY:%Y} and {LAST_DAY:%Y}."]


@pytest.mark.parametrize("text", ["10000-01-01", "99999999999999999999-01-01", "2026-02-30"])
def test_a_day_python_cannot_hold_is_not_a_date(text):
    form = DayForm({"day": text})

    assert not form.is_valid()
    assert form.has_error("day", "invalid")
