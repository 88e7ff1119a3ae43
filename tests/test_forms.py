"""The form pieces every app shares (tradesim.forms)."""

import contextlib
import importlib
from datetime import date

import pytest
from django import forms
from django.contrib import admin
from django.core.exceptions import NON_FIELD_ERRORS
from django.http import QueryDict
from django.test import Client
from django.urls import reverse

from accounts.roles import ensure_instructor_group
from tests.factories import ClassroomFactory, MarketEventFactory, UserFactory
from tradesim.forms import FIRST_DAY, LAST_DAY, DayField, StrictFormMixin


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


# One value per field ------------------------------------------------------------------


class OrderLikeForm(StrictFormMixin, forms.Form):
    symbol = forms.CharField()
    quantity = forms.IntegerField()
    sides = forms.MultipleChoiceField(choices=[("buy", "Buy"), ("sell", "Sell")], required=False)
    when = forms.SplitDateTimeField(required=False)
    token = forms.CharField(widget=forms.HiddenInput, max_length=4, required=False)

    def clean(self):
        data = super().clean()
        self.seen_by_clean = dict(data)
        return data


def bound(query: str) -> OrderLikeForm:
    form = OrderLikeForm(QueryDict(query))
    form.is_valid()
    return form


def test_a_field_sent_twice_is_refused_not_read_as_its_last_value():
    form = bound("symbol=AAPL&quantity=1&quantity=1000")

    assert not form.is_valid()
    assert form.errors["quantity"] == ["This field was sent twice; send it once."]
    assert form.has_error("quantity", "repeated")
    assert "quantity" not in form.seen_by_clean  # clean() never acts on it


def test_the_count_is_told_past_two():
    form = bound("symbol=A&symbol=B&symbol=C&quantity=1")

    assert form.errors["symbol"] == ["This field was sent 3 times; send it once."]


def test_a_field_that_takes_several_values_may_repeat():
    form = bound("symbol=AAPL&quantity=1&sides=buy&sides=sell")

    assert form.is_valid(), form.errors
    assert form.cleaned_data["sides"] == ["buy", "sell"]


def test_a_split_field_is_refused_when_one_of_its_parts_repeats():
    form = bound("symbol=A&quantity=1&when_0=2026-03-14&when_1=10:00&when_1=11:00")

    assert form.has_error("when", "repeated")


def test_a_form_built_from_a_plain_dict_is_checked_as_usual():
    form = OrderLikeForm({"symbol": "AAPL", "quantity": "1"})

    assert form.is_valid(), form.errors


def test_an_error_on_a_hidden_field_is_told_above_the_form():
    form = bound("symbol=AAPL&quantity=1&token=toolong")

    assert form.has_error("token")
    assert form.non_field_errors() == [
        "Part of this form was changed or has expired: reload the page and try again."
    ]


def test_a_hidden_field_sent_twice_is_told_above_the_form_too():
    form = bound("symbol=AAPL&quantity=1&token=ab&token=cd")

    assert form.has_error("token", "repeated")
    assert form.has_error(NON_FIELD_ERRORS, "hidden")


# Every form uses it --------------------------------------------------------------------

PROJECT_PACKAGES = {"tradesim", "accounts", "ledger", "portfolio", "prices", "trading"}


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_every_form_class_of_the_project_refuses_repeated_fields():
    for module in ["forms", "admin", "admin_site", "auth_views"]:
        for package in PROJECT_PACKAGES:
            with contextlib.suppress(ModuleNotFoundError):
                importlib.import_module(f"{package}.{module}")
    ours = {
        cls
        for cls in _subclasses(forms.BaseForm)
        if cls.__module__.split(".")[0] in PROJECT_PACKAGES
    }

    assert len(ours) > 10
    assert [cls for cls in ours if not issubclass(cls, StrictFormMixin)] == []


def test_the_log_in_and_password_forms_refuse_repeated_fields():
    from accounts.auth_views import LoginView, PasswordChangeView

    assert issubclass(LoginView.authentication_form, StrictFormMixin)
    assert issubclass(PasswordChangeView.form_class, StrictFormMixin)
    assert issubclass(admin.site.login_form, StrictFormMixin)


@pytest.mark.django_db
def test_every_admin_form_refuses_repeated_fields(rf):
    superuser = UserFactory(username="root", is_staff=True, is_superuser=True)
    ensure_instructor_group()
    ClassroomFactory()
    MarketEventFactory()
    request = rf.get("/admin/")
    request.user = superuser
    checked = set()
    for model, model_admin in admin.site._registry.items():
        posted = []  # the forms the admin accepts a POST of, for adding and changing
        if model_admin.has_add_permission(request):
            posted.append(model_admin.get_form(request))
        saved = model.objects.first()
        if saved is not None and model_admin.has_change_permission(request, saved):
            posted.append(model_admin.get_form(request, saved))
        for form in posted:
            if form.base_fields:
                checked.add(model.__name__)
                assert issubclass(form, StrictFormMixin), model

    assert checked >= {"Price", "MarketEvent", "Classroom", "User", "Group"}


@pytest.mark.django_db
def test_the_admins_own_password_form_refuses_repeated_fields():
    client = Client()
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))

    response = client.get(reverse("admin:password_change"))

    assert isinstance(response.context["form"], StrictFormMixin)
