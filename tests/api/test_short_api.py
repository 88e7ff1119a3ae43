"""Short selling through the API: POST /api/v1/orders takes side sell_short and
buy_to_cover for every order type, with the ticket's rules and messages; the refusals'
problem codes; GET /api/v1/positions shows a short with a negative quantity and its side."""

from decimal import Decimal

import pytest

from api.main import api as ninja_api
from api.problems import CODES
from ledger.models import Balance
from portfolio.models import Holding
from tests.api.conftest import ApiClient, problem, token_for
from tests.factories import ClassroomFactory, PriceFactory, StudentFactory
from tests.trading.orders import money_problems
from trading.models import Order
from trading.services import buy, sell_short

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def acme(db):
    return PriceFactory(symbol="ACME", name="Acme Corp", price=D("100.00"))


@pytest.fixture
def shorter(db):
    return StudentFactory(username="sam", classroom=ClassroomFactory(short_selling=True))


@pytest.fixture
def sam(shorter):
    return ApiClient(token_for(shorter))


@pytest.fixture
def carl(db):
    student = StudentFactory(username="carl", classroom=ClassroomFactory(name="Plain"))
    return ApiClient(token_for(student))


def test_a_market_short_sale_answers_201_with_its_trade(sam, shorter, acme):
    response = sam.post("/orders", {"symbol": "ACME", "quantity": 10, "side": "sell_short"})

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["side"], body["status"], body["held_shares"]) == ("sell_short", "filled", 0)
    assert body["description"].startswith("Sell short 10 ACME")
    assert body["trade"]["side"] == "short"
    assert body["trade"]["total"] == "1000.00"
    assert body["trade"]["realized_pnl"] is None
    assert Balance.objects.get(user=shorter).amount == D("11000.00")
    assert Holding.objects.get(user=shorter).quantity == -10


def test_a_market_cover_answers_with_its_realized_pnl(sam, shorter, acme):
    sell_short(user=shorter, symbol="ACME", quantity=10)
    acme.price = D("120.00")
    acme.save()

    response = sam.post("/orders", {"symbol": "ACME", "quantity": 10, "side": "buy_to_cover"})

    assert response.status_code == 201, response.content
    trade = response.json()["trade"]
    assert (trade["side"], trade["total"], trade["realized_pnl"]) == (
        "cover",
        "1200.00",
        "-200.00",
    )
    assert money_problems() == []


# Prices that wait: a sell's limit above the price, its stop below; a buy's the other way.
SELL_WAITS = {
    "limit": {"limit_price": "110.00"},
    "stop": {"stop_price": "90.00"},
    "stop_limit": {"stop_price": "90.00", "limit_price": "89.00"},
    "trailing_stop": {"trail_percent": "5"},
}
BUY_WAITS = {
    "limit": {"limit_price": "90.00"},
    "stop": {"stop_price": "110.00"},
    "stop_limit": {"stop_price": "110.00", "limit_price": "111.00"},
    "trailing_stop": {"trail_amount": "5.00"},
}


@pytest.mark.parametrize("type_", list(SELL_WAITS))
def test_a_short_sale_of_every_type_waits_and_holds_nothing(sam, shorter, acme, type_):
    body = {"symbol": "ACME", "quantity": 10, "side": "sell_short", "type": type_}
    response = sam.post("/orders", {**body, "duration": "gtc", **SELL_WAITS[type_]})

    assert response.status_code == 201, response.content
    order = response.json()
    assert (order["side"], order["type"], order["status"]) == ("sell_short", type_, "open")
    assert (order["held_cash"], order["held_shares"]) == ("0.00", 0)


@pytest.mark.parametrize("type_", list(BUY_WAITS))
def test_a_buy_to_cover_of_every_type_holds_the_short_shares(sam, shorter, acme, type_):
    sell_short(user=shorter, symbol="ACME", quantity=30)
    body = {"symbol": "ACME", "quantity": 10, "side": "buy_to_cover", "type": type_}

    response = sam.post("/orders", {**body, **BUY_WAITS[type_]})

    assert response.status_code == 201, response.content
    order = response.json()
    assert (order["side"], order["type"], order["status"]) == ("buy_to_cover", type_, "open")
    assert (order["held_cash"], order["held_shares"]) == ("0.00", 10)
    assert Holding.objects.get(user=shorter).held_quantity == 10


def test_the_orders_list_filters_by_the_short_sides(sam, shorter, acme):
    sell_short(user=shorter, symbol="ACME", quantity=30)
    sam.post(
        "/orders",
        {
            "symbol": "ACME",
            "quantity": 5,
            "side": "buy_to_cover",
            **BUY_WAITS["limit"],
            "type": "limit",
        },
    )

    covers = sam.get("/orders", {"side": "buy_to_cover"}).json()["data"]
    shorts = sam.get("/orders", {"side": "sell_short"}).json()["data"]
    trades = sam.get("/trades", {"side": "short"}).json()["data"]

    assert [o["side"] for o in covers] == ["buy_to_cover"]
    assert [o["side"] for o in shorts] == ["sell_short"]
    assert [t["side"] for t in trades] == ["short"]


# Refusals ---------------------------------------------------------------------------------


def test_a_class_without_short_selling_refuses_with_the_rule(carl, acme):
    body = problem(
        carl.post("/orders", {"symbol": "ACME", "quantity": 1, "side": "sell_short"}),
        400,
        "rule_violation",
    )

    assert body["rule"] == "short_selling"
    assert body["detail"] == (
        "Your class does not allow selling short: you can sell only shares you own."
    )


@pytest.mark.parametrize("type_", ["market", "limit"])
def test_a_stock_under_the_lowest_price_to_short_is_a_rule_violation(sam, type_):
    PriceFactory(symbol="PENNY", price=D("4.00"))
    order = {"symbol": "PENNY", "quantity": 1, "side": "sell_short", "type": type_}
    if type_ == "limit":
        order["limit_price"] = "4.50"

    body = problem(sam.post("/orders", order), 400, "rule_violation")

    assert body["rule"] == "min_short_price"


@pytest.mark.parametrize(
    ("side", "type_"),
    [("sell_short", "market"), ("sell_short", "limit"), ("buy", "market")],
)
def test_an_order_on_the_other_side_of_a_position_is_a_position_conflict(
    sam, shorter, acme, side, type_
):
    if side == "sell_short":
        buy(user=shorter, symbol="ACME", quantity=1)
    else:
        sell_short(user=shorter, symbol="ACME", quantity=1)
    order = {"symbol": "ACME", "quantity": 1, "side": side, "type": type_}
    if type_ == "limit":
        order["limit_price"] = "110.00"

    body = problem(sam.post("/orders", order), 400, "position_conflict")

    assert body["detail"]


def test_covering_more_than_the_short_position_is_insufficient_shares(sam, shorter, acme):
    sell_short(user=shorter, symbol="ACME", quantity=5)

    problem(
        sam.post("/orders", {"symbol": "ACME", "quantity": 6, "side": "buy_to_cover"}),
        400,
        "insufficient_shares",
    )


def test_a_short_beyond_the_margin_is_insufficient_funds(sam, shorter, acme):
    # $10,000 of equity at a 50 % initial margin covers $20,000 of positions.
    body = problem(
        sam.post("/orders", {"symbol": "ACME", "quantity": 201, "side": "sell_short"}),
        400,
        "insufficient_funds",
    )

    assert "equity" in body["detail"]
    assert Holding.objects.filter(user=shorter).count() == 0


@pytest.mark.parametrize("side", ["sell short", "SHORT", "cover", ""])
def test_an_unknown_side_is_a_400(sam, acme, side):
    response = sam.post("/orders", {"symbol": "ACME", "quantity": 1, "side": side})

    assert response.status_code == 400
    assert Order.objects.count() == 0


# Positions and the schema -------------------------------------------------------------


def test_a_short_position_has_a_negative_quantity_and_its_side(sam, shorter, acme):
    PriceFactory(symbol="ZED", price=D("20.00"))
    buy(user=shorter, symbol="ZED", quantity=3)
    sell_short(user=shorter, symbol="ACME", quantity=50)
    sam.post(
        "/orders",
        {
            "symbol": "ACME",
            "quantity": 10,
            "side": "buy_to_cover",
            "type": "limit",
            "limit_price": "90.00",
        },
    )

    rows = {row["symbol"]: row for row in sam.get("/positions").json()["data"]}

    acme_row = rows["ACME"]
    assert (acme_row["quantity"], acme_row["side"]) == (-50, "short")
    assert (acme_row["held_for_orders"], acme_row["available"]) == (10, 40)
    assert (rows["ZED"]["quantity"], rows["ZED"]["side"]) == (3, "long")


def test_the_schema_and_the_codes_tell_the_short_sides():
    schemas = ninja_api.get_openapi_schema()["components"]["schemas"]

    assert "sell_short" in schemas["OrderIn"]["properties"]["side"]["description"]
    assert "buy_to_cover" in schemas["OrderOut"]["properties"]["side"]["description"]
    assert "short" in schemas["TradeOut"]["properties"]["side"]["description"]
    assert "side" in schemas["PositionOut"]["required"]
    assert "short" in schemas["PositionOut"]["properties"]["side"]["description"]
    assert CODES["position_conflict"].status == 400
    assert "min_short_price" in CODES["rule_violation"].meaning
