"""The admin's changelists refuse, with a 400 and the reason, a filter or a picked row the
database could not take (tradesim.admin.check_changelist_input, run for every changelist
by AdminChangeListGuardMiddleware), instead of failing inside the query."""

from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.test import Client
from django.urls import reverse

from accounts.roles import ensure_instructor_group
from prices.models import Price
from tests.factories import PriceFactory, TradeFactory, UserFactory
from tradesim.admin import is_row_id
from trading.models import Trade

pytestmark = pytest.mark.django_db

HUGE = "99999999999999999999"
JOURNAL = reverse("admin:ledger_transaction_changelist")
TRADES = reverse("admin:trading_trade_changelist")
SYMBOLS = reverse("admin:prices_price_changelist")


@pytest.fixture
def superuser_client():
    client = Client()
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def teacher_client(instructor):
    instructor.groups.add(ensure_instructor_group())
    client = Client()
    client.force_login(instructor)
    return client


@pytest.fixture
def trade(student):
    return TradeFactory(user=student, stock=PriceFactory(symbol="AAPL"), price=Decimal("10.00"))


@pytest.mark.parametrize(
    ("url", "query", "reason"),
    [
        # A year Python's dates cannot hold, in a lookup and in the date hierarchy.
        (JOURNAL, {"timestamp__year": HUGE}, "a year is from 1900 to 2999"),
        (JOURNAL, {"timestamp__year__gt": HUGE}, "a year is from 1900 to 2999"),
        (JOURNAL, {"timestamp__year": "0"}, "a year is from 1900 to 2999"),
        (TRADES, {"timestamp__year": HUGE}, "a year is from 1900 to 2999"),
        (TRADES, {"timestamp__year": "9999"}, "a year is from 1900 to 2999"),
        (
            TRADES,
            {"timestamp__year": "2026", "timestamp__month": HUGE},
            "a month is from 1 to 12",
        ),
        (TRADES, {"timestamp__year": "twenty"}, "a year is a whole number"),
        (JOURNAL, {"timestamp__gte": "0001-01-01"}, "Pick a date between 1900 and 2999"),
        # Numbers wider than their column, and values of the wrong kind.
        (JOURNAL, {"id__in": f"1,{HUGE}"}, "less than or equal to"),
        (JOURNAL, {"user__classroom__id__exact": f"-{HUGE}"}, "greater than or equal to"),
        (JOURNAL, {"amount__gt": "1e999999"}, "digits"),
        (JOURNAL, {"amount__gt": "NaN"}, "number"),
        (SYMBOLS, {"halted__exact": "2"}, "True or False"),
        # A pattern the database would fail to compile.
        (JOURNAL, {"description__regex": "("}, "regular expression"),
    ],
)
def test_a_filter_the_database_cannot_run_is_a_400_with_the_reason(
    superuser_client, trade, url, query, reason
):
    response = superuser_client.get(url, query)

    assert response.status_code == 400
    page = response.content.decode()
    assert "The list cannot be filtered by" in page
    assert reason in page
    assert f'href="{url}"' in page  # a way back to the whole list


@pytest.mark.parametrize(
    "query",
    [
        {"timestamp__year": "2026"},
        {"timestamp__year": "2999", "timestamp__month": "12", "timestamp__day": "31"},
        {"operation__exact": "buy"},
        {"user__id__exact": "1"},
        {"stock": "AAPL"},
        {
            "timestamp__gte": "2026-01-01 00:00:00+00:00",
            "timestamp__lt": "2026-02-01 00:00:00+00:00",
        },
        {"q": "alice", "o": "1", "p": "1"},
    ],
)
def test_filters_the_admin_offers_still_work(superuser_client, trade, query):
    assert superuser_client.get(TRADES, query).status_code == 200


def test_an_instructor_gets_the_same_answer(teacher_client, trade):
    response = teacher_client.get(TRADES, {"timestamp__year": HUGE})

    assert response.status_code == 400
    assert "a year is from 1900 to 2999" in response.content.decode()


def test_a_visitor_is_still_sent_to_log_in_first(anon_client):
    response = anon_client.get(TRADES, {"timestamp__year": HUGE})

    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


@pytest.mark.parametrize("picked", [HUGE, "abc", "1.5", ""])
def test_an_action_on_rows_that_cannot_exist_is_refused_and_changes_nothing(
    superuser_client, picked
):
    PriceFactory(symbol="AAPL")

    response = superuser_client.post(
        SYMBOLS, {"action": "halt_symbols", "index": "0", ACTION_CHECKBOX_NAME: [picked]}
    )

    assert response.status_code == 400
    assert "Choose rows from the list" in response.content.decode()
    assert not Price.objects.filter(halted=True).exists()


def test_an_action_on_real_rows_still_runs(superuser_client):
    aapl = PriceFactory(symbol="AAPL")

    response = superuser_client.post(
        SYMBOLS, {"action": "halt_symbols", "index": "0", ACTION_CHECKBOX_NAME: [str(aapl.pk)]}
    )

    assert response.status_code == 302
    assert Price.objects.get(pk=aapl.pk).halted


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", True), ("42", True), ("", False), (HUGE, False), ("x", False)],
)
def test_is_row_id_says_whether_a_key_fits_the_column(text, expected):
    assert is_row_id(Trade, text) is expected


def test_a_choice_of_rows_no_table_can_have_is_refused_on_the_form(superuser_client):
    response = superuser_client.post(
        reverse("admin:auth_group_add"), {"name": "Helpers", "permissions": [HUGE]}
    )

    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()


@pytest.mark.parametrize("view", ["change", "history"])
def test_the_page_of_a_row_no_table_can_have_says_it_does_not_exist(superuser_client, view):
    """A portfolio summary's key is its user (a one-to-one relation): Django's guard
    against impossible integers did not cover the relation."""
    url = reverse(f"admin:portfolio_portfoliosummary_{view}", args=[HUGE])

    response = superuser_client.get(url)

    assert response.status_code == 302
    assert response.url == reverse("admin:index")
