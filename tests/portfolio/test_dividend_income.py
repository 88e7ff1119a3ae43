"""Dividend income on the dashboard and in the API's account: shown apart from the price
gains, counted in the total return, at the same queries as before."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.urls import reverse

from ledger.models import Transaction
from portfolio.selectors import portfolio_overview
from prices.models import MarketState, Price
from tests.api.conftest import ApiClient, token_for
from tests.factories import HoldingFactory, PriceFactory
from tests.portfolio.helpers import buy, listed
from trading.dividends import pay_dividends

pytestmark = pytest.mark.django_db

D = Decimal
DASHBOARD = reverse("portfolio:dashboard")
LIVE = reverse("portfolio:live")


def pay(symbol: str, per_share: str, day: int = 2) -> None:
    with transaction.atomic():
        pay_dividends(dividends=[(symbol, D(per_share))], day=day, at=None)


@pytest.fixture
def paid(student):
    """alice: $10,000, buys 10 ACME at $100, is paid $1.00 a share; the price drops to $99."""
    listed("ACME", "100.00")
    buy(student, "ACME", 10)
    pay("ACME", "1.00")
    Price.objects.filter(symbol="ACME").update(price=D("99.00"))
    return student


def test_the_dashboard_shows_dividends_apart_from_price_gains(paid, student_client):
    page = student_client.get(DASHBOARD).content.decode()

    assert 'id="dividends"' in page
    assert "▲ +$10.00" in page.split('id="dividends"')[1][:3000]
    assert "received, apart from price gains" in page
    # The total return is price gains and dividends together: −$10.00 + $10.00.
    assert 'id="total-return"><span class="pnl pnl-flat">$0.00</span>' in page
    assert "Price gains and dividends together" in page
    assert "$10.00</span> of it in dividends" in page


def test_a_short_sellers_dividend_charge_shows_as_owed(student, student_client):
    listed("ACME", "100.00")
    HoldingFactory(user=student, stock_id="ACME", quantity=-5, average_price=D("100.0000"))
    pay("ACME", "1.00")

    page = student_client.get(LIVE, HTTP_HX_REQUEST="true").content.decode()

    assert "▼ −$5.00" in page.split('id="dividends"')[1][:3000]
    assert "owed on your short positions" in page


def test_without_dividends_the_dashboard_says_nothing_of_them(student, student_client):
    listed("ACME", "100.00")
    buy(student, "ACME", 10)

    page = student_client.get(DASHBOARD).content.decode()

    assert 'id="dividends"' not in page and "of it in dividends" not in page


def test_the_journal_filter_offers_the_dividend_types(paid, student_client):
    response = student_client.get(reverse("ledger:journal"), {"type": "dividend"})

    assert response.status_code == 200
    page = response.content.decode()
    assert "Dividend ACME $1.00 × 10" in page
    assert 'value="dividend_charge"' in page


def test_the_api_account_has_the_dividends(paid, django_assert_num_queries):
    api = ApiClient(token_for(paid))
    api.get("/account")  # the token's first use is stamped once

    # token; the account row; the holdings; the ranked row (as without dividends)
    with django_assert_num_queries(4):
        body = api.get("/account").json()

    assert body["dividends"] == "10.00"
    assert body["total_return"] == "0.00"
    assert body["cash"] == "9010.00"


@pytest.mark.parametrize("holdings", [1, 30])
def test_the_dashboard_with_dividends_costs_its_pinned_queries(
    student, student_client, holdings, django_assert_num_queries
):
    listed("MKT", "1000.00", is_index=True)
    for i in range(holdings):
        stock = PriceFactory(symbol=f"S{i:03d}", price=D("10.00"))
        HoldingFactory(user=student, stock=stock, quantity=5, average_price=D("8.0000"))
    with transaction.atomic():
        pay_dividends(dividends=[(f"S{i:03d}", D("0.10")) for i in range(holdings)], day=2, at=None)
    assert Transaction.objects.filter(type="dividend").count() == holdings

    # session, user, account row, holdings, index, snapshots, activity, open orders
    with django_assert_num_queries(8):
        assert student_client.get(DASHBOARD).status_code == 200


def test_the_days_change_counts_the_dividend_paid_with_the_drop(paid, student):
    """On the ex-date the position loses the drop and the cash gains the dividend: the
    account's change today is the two together, here nothing; the position's own change
    is the drop."""
    # The day began before the dividend was paid, at the previous close of $100.
    Price.objects.filter(symbol="ACME").update(previous_close=D("100.00"))
    first = Transaction.objects.earliest("id").timestamp
    MarketState.objects.filter(id=1).update(day_started_at=first)

    overview = portfolio_overview(student)

    assert overview.positions[0].day_change == D("-10.00")
    assert overview.day_change == D("0.00")

    # The next day the dividend is past: it no longer counts in the day's change.
    MarketState.objects.filter(id=1).update(
        day_started_at=Transaction.objects.latest("id").timestamp + timedelta(seconds=1)
    )
    assert portfolio_overview(student).day_change == D("-10.00")
