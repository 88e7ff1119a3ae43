"""Form pieces shared by the apps' forms."""

import uuid
from datetime import date

from django import forms
from django.core.exceptions import ValidationError

# The days a filter may name. Python's dates end at 9999-12-31, and a filter's day goes
# into date arithmetic ("the day after the end date") and a time-zone conversion, which
# overflow near either end; no class trades outside these years.
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2999, 12, 31)


def new_token() -> str:
    return uuid.uuid4().hex


class OneTimeTokenField(forms.CharField):
    """A hidden one-time token: the same token submitted twice (a double-click, a refresh,
    a retry) makes one effect. Services enforce it with a unique (user, token) constraint.
    A bound form that is re-rendered after a rejection keeps its token, since nothing was
    recorded under it."""

    widget = forms.HiddenInput

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("initial", new_token)
        super().__init__(**kwargs)

    def clean(self, value):
        value = super().clean(value)
        return value or None


class DayField(forms.DateField):
    """A day written YYYY-MM-DD, from FIRST_DAY to LAST_DAY."""

    widget = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    default_error_messages = {
        "out_of_range": f"Pick a date between {FIRST_DAY:%Y} and {LAST_DAY:%Y}.",
    }

    def validate(self, value):
        super().validate(value)
        if value is not None and not FIRST_DAY <= value <= LAST_DAY:
            raise ValidationError(self.error_messages["out_of_range"], code="out_of_range")
