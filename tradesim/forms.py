"""Form pieces shared by every form that moves money."""

import uuid

from django import forms


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
