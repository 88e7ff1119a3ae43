"""The order ticket tag, rendered the way the quote page includes it."""

import re
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import AnonymousUser
from django.template import RequestContext, Template
from django.test import RequestFactory
from django.utils import timezone

from tests.factories import ClassroomFactory, PriceFactory
from trading.models import Trade
from trading.services import buy

pytestmark = pytest.mark.django_db

SLOT = Template('{% include "trading/_order_ticket_slot.html" with quote=quote %}')


def quote_for(symbol="AAPL", price="189.12", halted=False):
    """The fields of prices.selectors.Quote, which the quote page passes in."""
    return SimpleNamespace(
        symbol=symbol,
        name=f"{symbol} Inc.",
        sector="Technology",
        price=Decimal(price),
        previous_close=Decimal(price),
        change=Decimal("0.00"),
        change_pct=Decimal("0.00"),
        timestamp=timezone.now(),
        halted=halted,
        is_index=False,
    )


def render(user, quote, path="/prices/AAPL/"):
    request = RequestFactory().get(path)
    request.user = user
    return SLOT.render(RequestContext(request, {"quote": quote}))


@pytest.fixture
def aapl(db):
    return PriceFactory(symbol="AAPL", price=Decimal("189.12"))


def test_anonymous_visitors_are_asked_to_log_in(aapl, django_assert_num_queries):
    with django_assert_num_queries(0):
        html = render(AnonymousUser(), quote_for())

    assert "Log in to trade" in html
    assert "/accounts/login/?next=/prices/AAPL/" in html
    assert "<form" not in html


def test_a_halted_symbol_shows_that_trading_is_paused(student, aapl, django_assert_num_queries):
    with django_assert_num_queries(0):
        html = render(student, quote_for(halted=True))

    assert "Trading in AAPL is paused" in html
    assert "<form" not in html


def test_the_ticket_shows_cash_held_price_and_posts_a_complete_order(student, aapl):
    buy(user=student, symbol="AAPL", quantity=3)

    html = render(student, quote_for())

    assert "$9,432.64" in html  # cash after buying 3 @ 189.12
    assert re.search(r"Shares held</dt><dd[^>]*>3</dd>", html)
    assert "$189.12" in html
    assert 'action="/trading/orders/new/"' in html
    assert '<option value="buy" selected>Buy</option>' in html
    assert '<option value="sell">Sell</option>' in html
    assert 'name="symbol" value="AAPL"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert re.search(r'name="token" value="[0-9a-f]{32}"', html)
    assert 'name="next" value="/prices/AAPL/"' in html
    assert 'data-price="189.12"' in html and 'data-held="3"' in html
    assert 'data-cash="9432.64"' in html
    assert "js/order-ticket.js" in html


def test_selling_is_disabled_without_shares(student, aapl):
    html = render(student, quote_for())

    assert '<option value="sell" disabled>Sell (no shares to sell)</option>' in html


def test_a_user_without_a_cash_account_is_told_only_students_trade(instructor, aapl):
    html = render(instructor, quote_for())

    assert "Only students with a cash account can trade" in html
    assert "<form" not in html


@pytest.mark.parametrize("n", [1, 30])
def test_the_ticket_runs_one_query_however_much_the_user_owns(
    student, n, django_assert_num_queries
):
    for i in range(n):
        PriceFactory(symbol=f"S{i}", price=Decimal("10.00"))
        buy(user=student, symbol=f"S{i}", quantity=1)

    with django_assert_num_queries(1):
        html = render(student, quote_for(symbol="S0", price="10.00"))

    assert 'data-held="1"' in html


def test_the_tickets_fields_place_an_order_that_returns_to_the_quote(student, client, aapl):
    html = render(student, quote_for())
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html))
    client.force_login(student)

    response = client.post("/trading/buy/", {**fields, "quantity": "2"})

    assert response.status_code == 302
    assert response.url == "/prices/AAPL/"
    assert Trade.objects.get(user=student).quantity == 2


@pytest.mark.parametrize(
    ("rules", "attributes", "described"),
    [
        (
            {"commission_kind": "flat", "commission_amount": Decimal("4.95")},
            'data-commission-kind="flat" data-commission-amount="4.9500"',
            "($4.95 a trade)",
        ),
        (
            {"commission_kind": "per_share", "commission_amount": Decimal("0.005")},
            'data-commission-kind="per_share" data-commission-amount="0.0050"',
            "($0.005 a share)",
        ),
        (
            {
                "commission_kind": "percent",
                "commission_amount": Decimal("0.25"),
                "commission_minimum": Decimal("1.50"),
            },
            'data-commission-kind="percent" data-commission-amount="0.2500"',
            "(0.25 % of the order&#x27;s value, at least $1.50)",
        ),
    ],
    ids=["flat", "per share", "percent"],
)
def test_the_ticket_knows_the_class_commission_for_its_estimate(
    student, aapl, rules, attributes, described
):
    student.classroom = ClassroomFactory(**{"commission_minimum": Decimal("1.50"), **rules})
    student.save(update_fields=["classroom"])

    html = render(student, quote_for())

    assert attributes in html
    assert 'data-commission-minimum="1.50"' in html
    assert described in html
    assert "data-commission-estimate" in html


def test_a_student_in_no_class_gets_the_settings_commission_on_the_ticket(student, aapl, settings):
    settings.COMMISSION_PER_TRADE = Decimal("2.00")

    html = render(student, quote_for())

    assert 'data-commission-kind="flat" data-commission-amount="2.00"' in html
    assert 'data-commission-minimum="0.00"' in html


def test_in_a_class_the_ticket_reads_the_class_too(student, aapl, django_assert_num_queries):
    student.classroom = ClassroomFactory()
    student.save(update_fields=["classroom"])

    with django_assert_num_queries(2):
        render(student, quote_for())
