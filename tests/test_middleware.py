"""The NUL guard (tradesim.middleware.RejectNulCharactersMiddleware): a NUL character in
the address or a form is a 400 with a message on every page, students' and the admin's,
on SQLite as on PostgreSQL (which refuses any text holding one)."""

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from prices.models import MarketEvent
from tests.factories import PriceFactory, UserFactory
from tests.security.helpers import money_state

pytestmark = pytest.mark.django_db

MESSAGE = "holds a NUL character (%00), which no page here accepts"


@pytest.fixture
def superuser_client():
    client = Client()
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def refused(response) -> bool:
    return response.status_code == 400 and MESSAGE in response.content.decode()


@pytest.fixture
def aapl():
    return PriceFactory(symbol="AAPL", name="Apple Inc.", price=Decimal("189.12"))


def test_a_nul_in_the_market_search_is_a_400_with_a_message(anon_client, aapl):
    assert refused(anon_client.get(reverse("prices:market"), {"q": "\x00"}))
    assert refused(anon_client.get(reverse("prices:market"), {"q": "AAPL\x00"}))


def test_a_nul_in_a_parameter_name_or_the_path_is_refused_too(anon_client, aapl):
    assert refused(anon_client.get(reverse("prices:market") + "?q%00=AAPL"))
    assert refused(anon_client.get("/prices/AAPL%00/"))


def test_a_nul_in_an_admin_filter_or_the_autocomplete_is_refused(superuser_client, aapl):
    journal = reverse("admin:ledger_transaction_changelist")
    autocomplete = reverse("admin:autocomplete")

    assert refused(superuser_client.get(journal, {"type__exact": "\x00"}))
    assert refused(superuser_client.get(journal, {"user__username": "al\x00ice"}))
    assert refused(
        superuser_client.get(
            autocomplete,
            {
                "term": "\x00",
                "app_label": "prices",
                "model_name": "marketevent",
                "field_name": "stock",
            },
        )
    )


def test_a_nul_in_a_posted_form_is_refused_and_changes_nothing(
    superuser_client, student_client, aapl
):
    before = money_state()

    assert refused(
        superuser_client.post(
            reverse("admin:prices_marketevent_add"), {"stock": "\x00", "percent": "5"}
        )
    )
    assert refused(
        student_client.post(reverse("trading:buy"), {"symbol": "AAPL", "quantity": "1\x00"})
    )
    assert not MarketEvent.objects.exists()
    assert money_state() == before


def test_the_refusal_keeps_the_security_headers(anon_client):
    response = anon_client.get(reverse("prices:market"), {"q": "\x00"})

    assert "Content-Security-Policy" in response.headers
    assert response.headers["X-Frame-Options"] == "DENY"


def test_text_without_a_nul_is_untouched(anon_client, aapl):
    response = anon_client.get(reverse("prices:market"), {"q": "Apple ⁰ ı 𝟏 \u202e"})

    assert response.status_code == 200
