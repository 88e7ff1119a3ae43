"""No page shows a database constraint's name. Every admin form the admin accepts a POST
of (adding or changing), and the students' forms on the users table, are submitted empty,
as rendered, and with each field a constraint names set in turn to a value that breaks it
(blank, zero, negative, huge, an existing value in another case); every answer is in
plain words. Django's model validation says "Constraint “prices_price_positive” is
violated." for a constraint without a message of its own. (The sweep in test_no_500
also looks for the names in every answer to every form.)"""

from decimal import Decimal

import pytest
from django.apps import apps
from django.contrib import admin
from django.db import models
from django.db.models import F, Q
from django.test import Client
from django.urls import reverse

from accounts.roles import ensure_instructor_group
from tests.factories import (
    PASSWORD,
    ClassroomFactory,
    MarketEventFactory,
    PriceFactory,
    UserFactory,
)
from tests.instructors.helpers import form_data

pytestmark = pytest.mark.django_db

CONSTRAINT_NAMES = sorted(
    constraint.name for model in apps.get_models() for constraint in model._meta.constraints
)
BAD_VALUES = ["", "0", "-1", "99999999999"]
# A submission each admin add form accepts, which the bad values then spoil field by field.
VALID = {
    "prices.price": {
        "symbol": "NEW",
        "name": "New Co",
        "sector": "Technology",
        "price": "10.00",
        "drift": "0.05",
        "volatility": "0.2",
        "beta": "1.0",
    },
    "prices.marketevent": {"stock": "AAPL", "percent": "5", "reason": "Earnings"},
    "prices.split": {"stock": "AAPL", "ratio": "2-for-1", "days_ahead": "3"},
    "classrooms.classroom": {
        "name": "Period 9",
        "joining_open": "on",
        "starting_cash": "10000.00",
        "deposits_open": "on",
        "withdrawals_open": "on",
        "commission_kind": "none",
        "commission_amount": "0",
        "commission_minimum": "0",
        "starts_at_0": "2027-01-11",
        "starts_at_1": "09:30:00",
        "ends_at_0": "2027-03-01",
        "ends_at_1": "16:00:00",
        "order_types": "all",
        "closed_market_orders": "queue",
        "initial_margin_percent": "50",
        "maintenance_margin_percent": "30",
        "margin_call_days": "0",
        "loan_rate_percent": "8",
        "cash_rate_percent": "0",
        "min_short_price": "5.00",
        "borrow_fee_percent": "0",
        "ranking": "twr",
        "min_trades_to_rank": "0",
        "names_shown": "on",
    },
    "accounts.user": {
        "username": "newcomer",
        "email": "newcomer@school.example",
        "password1": PASSWORD,
        "password2": PASSWORD,
    },
    "auth.group": {"name": "Helpers"},
}
# Constraints over two fields, which spoiling one field at a time does not reach.
ALSO = {
    "prices.marketevent": [{"stock": "AAPL", "sector": "Technology"}, {"stock": ""}],
    "classrooms.classroom": [
        {"ends_at_0": "2027-01-01"},  # ends before it starts
        {"maintenance_margin_percent": "60"},  # above the initial margin
    ],
}


@pytest.fixture
def root_client(student):
    PriceFactory(symbol="AAPL", sector="Technology", price=Decimal("10.00"))
    MarketEventFactory(stock_id="AAPL")
    ClassroomFactory(name="Period 1")
    ensure_instructor_group()
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    client = Client(raise_request_exception=False)
    client.force_login(root)
    client.user = root
    return client


def posted_admin_forms(rf, user) -> list[tuple]:
    """(model, url) of every admin form that accepts a POST from `user`."""
    request = rf.get("/admin/")
    request.user = user
    urls = []
    for model, model_admin in admin.site._registry.items():
        prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        if model_admin.has_add_permission(request):
            urls.append((model, reverse(f"{prefix}_add")))
        saved = model.objects.first()
        if saved is not None and model_admin.has_change_permission(request, saved):
            urls.append((model, reverse(f"{prefix}_change", args=[saved.pk])))
    return urls


def constrained_fields(model) -> set[str]:
    names = set()
    for constraint in model._meta.constraints:
        if isinstance(constraint, models.CheckConstraint):
            names |= set(Q(constraint.condition).referenced_base_fields)
        else:
            names |= set(constraint.fields)
            for expression in constraint.expressions:
                names |= {e.name for e in expression.flatten() if isinstance(e, F)}
    return names


def in_other_case(model, name: str) -> list[str]:
    field = next((f for f in model._meta.concrete_fields if f.name == name), None)
    if not isinstance(field, models.CharField) or field.is_relation:
        return []
    values = model.objects.exclude(**{name: ""}).values_list(name, flat=True)[:1]
    return [value.swapcase() for value in values if isinstance(value, str)]


def shown_names(response) -> list[str]:
    page = response.content.decode()
    return [name for name in CONSTRAINT_NAMES if name in page]


def test_no_admin_form_shows_a_constraint_name(root_client, rf):
    problems = []
    for model, url in posted_admin_forms(rf, root_client.user):
        label = model._meta.label_lower
        rendered = form_data(
            root_client.get(url).content.decode(), f"{model._meta.model_name}_form"
        )
        rendered.pop("csrfmiddlewaretoken", None)
        if url.endswith("/add/"):
            assert label in VALID, f"add a valid submission for {label} to VALID"
            rendered.update({name: [value] for name, value in VALID[label].items()})
        attempts = [{}, rendered]
        attempts += [{**rendered, **changes} for changes in ALSO.get(label, [])]
        for name in sorted(constrained_fields(model) & set(rendered)):
            for value in BAD_VALUES + in_other_case(model, name):
                attempts.append({**rendered, name: [value]})
        for data in attempts:
            response = root_client.post(url, data)
            if response.status_code >= 500 or shown_names(response):
                changed = {k: v for k, v in data.items() if rendered.get(k) != v}
                problems.append((url, changed, response.status_code, shown_names(response)))

    assert problems == []


def test_a_market_event_for_a_symbol_and_a_sector_says_so_in_plain_words(root_client):
    response = root_client.post(
        reverse("admin:prices_marketevent_add"),
        {"stock": "AAPL", "sector": "Technology", "percent": "5"},
    )

    assert response.status_code == 400
    assert shown_names(response) == []
    assert "Choose a symbol or a sector (one of them)." in response.content.decode()


def test_a_user_added_with_an_email_taken_in_another_case_says_so_in_plain_words(
    root_client, student
):
    response = root_client.post(
        reverse("admin:accounts_user_add"),
        {**VALID["accounts.user"], "email": student.email.upper()},
    )

    assert response.status_code == 400
    assert shown_names(response) == []
    assert "An account with this email address already exists." in response.content.decode()


def test_a_listing_price_beyond_the_market_is_refused_on_the_form(root_client):
    response = root_client.post(
        reverse("admin:prices_price_add"), {**VALID["prices.price"], "price": "5000000000"}
    )

    assert response.status_code == 400
    assert response.context["adminform"].form.errors["price"] == [
        "The price must be between $0.01 and $1,000,000,000."
    ]


@pytest.mark.parametrize("page", ["register", "profile"])
def test_the_students_forms_on_users_show_no_constraint_name(student, page):
    client = Client()
    if page == "profile":
        client.force_login(UserFactory(username="bob"))
    data = {
        "username": "newcomer",
        "email": student.email.upper(),
        "password1": PASSWORD,
        "password2": PASSWORD,
    }

    response = client.post(reverse(page), data)

    assert response.status_code == 400
    assert shown_names(response) == []
