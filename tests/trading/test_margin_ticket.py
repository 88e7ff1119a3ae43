"""The order tickets of a margin account: the order pages and the quote page's
ticket show the buying power, the loan, the equity and the margin level, and hand the
buying power to the ticket's estimate; a class without margin keeps its cash wording."""

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import ClassroomFactory, PriceFactory, StudentFactory
from tests.trading.test_templatetags import quote_for, render
from trading import selectors
from trading.services import buy

D = Decimal

pytestmark = pytest.mark.django_db

NEW = reverse("trading:order_new")
BUY = reverse("trading:buy")


@pytest.fixture
def acme():
    return PriceFactory(symbol="ACME", price=D("100.00"))


@pytest.fixture
def mia(acme):
    """The worked example: $10,000 of cash buys $15,000 of ACME, $5,000 of it borrowed."""
    user = StudentFactory(username="mia", classroom=ClassroomFactory(name="L", margin=True))
    buy(user=user, symbol="ACME", quantity=150)
    return user


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def text(page: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</', page, re.DOTALL)
    assert match, f"no #{element_id}"
    return " ".join(match.group(1).replace("&nbsp;", " ").split())


def test_the_cash_of_a_margin_account_carries_its_figures(mia):
    from classrooms.rules import rulebook_for

    cash = selectors.cash_of(mia, rules=rulebook_for(mia))

    assert (cash.amount, cash.positions_value) == (D("-5000.00"), D("15000.00"))
    margin = cash.margin
    assert (margin.buying_power, margin.loan, margin.equity, margin.level) == (
        D("5000.00"),
        D("5000.00"),
        D("10000.00"),
        D("66.67"),
    )
    assert selectors.cash_of(mia).margin is None  # without the rules, no margin read


def test_the_tickets_margin_figures_count_a_short_position(acme):
    """Long and short value apart, as the dashboard: equity = cash + long − short, and the
    buying power counts both sides (classrooms.rules.buying_power)."""
    from classrooms.rules import rulebook_for
    from trading.services import sell_short

    student = StudentFactory(classroom=ClassroomFactory(margin=True, short_selling=True))
    PriceFactory(symbol="BOLT", price=D("50.00"))
    buy(user=student, symbol="BOLT", quantity=40)
    sell_short(user=student, symbol="ACME", quantity=30)

    cash = selectors.cash_of(student, rules=rulebook_for(student))
    assert (cash.amount, cash.positions_value, cash.short_value) == (
        D("11000.00"),
        D("2000.00"),
        D("3000.00"),
    )
    assert cash.margin.equity == D("10000.00")
    assert cash.margin.buying_power == D("15000.00")  # 10,000 ÷ 50 % − 2,000 − 3,000
    assert cash.margin.level == D("200.00")  # 10,000 ÷ 5,000


@pytest.mark.parametrize("url", [BUY, NEW + "?symbol=ACME"])
def test_the_order_pages_show_the_margin_account(mia, url):
    page = client_of(mia).get(url).content.decode()

    assert text(page, "order-buying-power") == "$5,000.00"
    assert text(page, "order-cash") == "−$5,000.00"
    assert text(page, "ticket-margin-loan") == "$5,000.00"
    assert text(page, "ticket-equity") == "$10,000.00"
    assert text(page, "ticket-margin-level") == "66.67 %"
    assert "Maintenance 30&nbsp;%, initial 50&nbsp;%." in page
    assert 'data-buying-power="5000.00"' in page
    assert 'data-initial-margin="50.00"' in page
    assert 'data-cash="-5000.00"' in page
    for term in ("buying-power", "margin", "equity", "margin-call"):
        assert f'id="explain-order-{term}"' in page  # the glossary's words beside each


def test_the_quote_pages_ticket_shows_the_margin_account(mia):
    html = render(mia, quote_for(symbol="ACME", price="100.00"), path="/prices/ACME/")

    assert text(html, "ticket-buying-power") == "$5,000.00"
    assert text(html, "ticket-margin-loan") == "$5,000.00"
    assert text(html, "ticket-equity") == "$10,000.00"
    assert text(html, "ticket-margin-level") == "66.67 %"
    assert 'data-buying-power="5000.00"' in html


def test_the_ticket_says_when_the_equity_is_below_the_maintenance_margin(mia, acme):
    acme.price = D("45.00")  # $6,750 of shares on a $5,000 loan: 25.93 %
    acme.save()

    page = client_of(mia).get(BUY).content.decode()

    assert text(page, "ticket-margin-level") == "25.93 %"
    assert "Below the maintenance margin: a margin call." in page
    assert text(page, "order-buying-power") == "$0.00"


def test_a_class_without_margin_keeps_the_cash_wording(acme):
    student = StudentFactory(classroom=ClassroomFactory(name="Cash only"))
    buy(user=student, symbol="ACME", quantity=10)

    page = client_of(student).get(BUY).content.decode()
    html = render(student, quote_for(symbol="ACME", price="100.00"), path="/prices/ACME/")

    for shown in (page, html):
        assert 'id="ticket-margin' not in shown
        assert "data-buying-power" not in shown
        assert "Margin loan" not in shown
    assert "Cash available" in page
    assert text(page, "order-cash") == "$9,000.00"


@pytest.mark.parametrize("margin", [False, True])
def test_a_margin_class_costs_the_tickets_no_more_queries(acme, margin):
    student = StudentFactory(classroom=ClassroomFactory(name="P", margin=margin))
    for i in range(3):
        PriceFactory(symbol=f"S{i}", price=D("10.00"))
        buy(user=student, symbol=f"S{i}", quantity=5)
    client = client_of(student)

    # session, user, holdings, prices, the class, the cash (and positions' value), the
    # margin call banner's open call
    for url in (BUY, NEW + "?symbol=ACME&side=sell"):
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        assert len(ctx.captured_queries) == 7
    # the class, the cash and shares (and positions' value)
    with CaptureQueriesContext(connection) as ctx:
        html = render(student, quote_for(symbol="ACME", price="100.00"), path="/prices/ACME/")
    assert len(ctx.captured_queries) == 2
    assert ("data-buying-power" in html) is margin
