"""tradesim.form_renderer writes the plain widgets itself: the same HTML as Django's
templates, for every field of the site's forms, unbound, bound with good and bad data."""

import pytest
from django import forms
from django.forms.renderers import DjangoTemplates
from django.utils.safestring import mark_safe

from ledger.forms import DepositForm, JournalFilterForm, WithdrawForm
from tradesim.form_renderer import FastWidgetRenderer
from trading.forms import OrderFilterForm, OrderTicketForm, TradeFilterForm


class Everything(forms.Form):
    text = forms.CharField(initial="a \"quoted\" <b> & 'x'", help_text="Help")
    number = forms.IntegerField(widget=forms.NumberInput(attrs={"min": 1, "step": 1}))
    email = forms.EmailField(required=False)
    secret = forms.CharField(widget=forms.PasswordInput(render_value=True))
    hidden = forms.CharField(widget=forms.HiddenInput, initial=mark_safe("safe &amp;"))
    day = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    choice = forms.ChoiceField(
        choices=[("", "Any"), ("a&b", "A & <B>"), (3, "Three"), ("x", mark_safe("<i>x</i>"))],
        initial=3,
    )
    groups = forms.ChoiceField(choices=[("Group", [("g", "G")]), ("h", "H")])
    several = forms.MultipleChoiceField(choices=[("a", "A"), ("b", "B")], initial=["a", "b"])
    boxes = forms.MultipleChoiceField(
        choices=[("a", "A")], widget=forms.CheckboxSelectMultiple, required=False
    )
    flag = forms.BooleanField(required=False)
    note = forms.CharField(widget=forms.Textarea, required=False)


FORMS = [
    Everything,
    TradeFilterForm,
    OrderFilterForm,
    OrderTicketForm,
    JournalFilterForm,
    DepositForm,
    WithdrawForm,
]
DATA = [
    None,
    {},
    {"text": "<script>", "number": "x", "day": "2026-13-40", "choice": "a&b", "symbol": "A&B"},
    {"start": "2026-01-01", "end": "nope", "type": "limit", "quantity": "1e9", "amount": "-1"},
]


@pytest.mark.parametrize("form_class", FORMS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("data", DATA)
def test_every_field_renders_as_djangos_templates_render_it(form_class, data):
    fast, django = (
        form_class(data=data, renderer=renderer, initial={"token": "t0k3n"})
        for renderer in (FastWidgetRenderer(), DjangoTemplates())
    )
    if data is not None:
        fast.is_valid(), django.is_valid()
    for name in fast.fields:
        assert str(fast[name]) == str(django[name]), name
