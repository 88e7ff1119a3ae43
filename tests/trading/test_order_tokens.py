"""One token, one order, whatever the order's type: a token an order that waits (or a
limit that filled at once) used is refused on a market order too, as a repeat."""

from decimal import Decimal

import pytest

from ledger.models import Balance
from portfolio.models import Holding
from tests.factories import PriceFactory
from trading.models import Order, Trade
from trading.services import DuplicateRequest, order_request, place_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def aapl(db):
    return PriceFactory(symbol="AAPL", price=Decimal("189.12"))


def state(user):
    balance = Balance.objects.get(user=user)
    return (
        balance.amount,
        balance.held,
        Trade.objects.filter(user=user).count(),
        Order.objects.filter(user=user).count(),
        list(Holding.objects.filter(user=user).values_list("quantity", "held_quantity")),
    )


def market(user, token, side="buy"):
    request = order_request(side=side, type="market", symbol="AAPL", quantity=1)
    return place_order(user=user, request=request, token=token)


@pytest.mark.parametrize(
    "limit_price",
    [
        "180.00",  # below the price: it waits
        "190.00",  # above the price: it fills at once, with no journal row of its own token
    ],
)
def test_a_market_order_with_the_token_of_a_limit_order_is_a_repeat(student, aapl, limit_price):
    first = order_request(
        side="buy", type="limit", symbol="AAPL", quantity=1, limit_price=limit_price
    )
    place_order(user=student, request=first, token="once")
    before = state(student)

    with pytest.raises(DuplicateRequest, match="already placed"):
        market(student, "once")

    assert state(student) == before


def test_a_market_sell_with_the_token_of_a_waiting_sell_is_a_repeat(student, aapl):
    market(student, "bought")
    market(student, "bought-again")
    waiting = order_request(side="sell", type="stop", symbol="AAPL", quantity=1, stop_price="150")
    place_order(user=student, request=waiting, token="sell-once")
    before = state(student)

    with pytest.raises(DuplicateRequest):
        market(student, "sell-once", side="sell")

    assert state(student) == before
