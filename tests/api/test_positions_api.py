"""GET /api/v1/positions: the student's holdings, valued as the dashboard values them."""

from decimal import Decimal

import pytest

from portfolio.selectors import portfolio_overview
from tests.api.conftest import problem
from tests.factories import PriceFactory
from tests.portfolio.helpers import buy, set_price

pytestmark = pytest.mark.django_db


def test_positions_are_valued_at_the_last_prices(api, student, acme):
    PriceFactory(symbol="ZED", name="Zed Inc", sector="Energy", price="20.00")
    buy(student, "ACME", 10)
    buy(student, "ZED", 3)
    set_price("ACME", "55.00", previous_close="52.00")

    body = api.get("/positions").json()

    assert [p["symbol"] for p in body["data"]] == ["ACME", "ZED"]
    acme_row = body["data"][0]
    assert acme_row == {
        "symbol": "ACME",
        "name": "Acme Corp",
        "sector": "Technology",
        "halted": False,
        "quantity": 10,
        "side": "long",
        "held_for_orders": 0,
        "available": 10,
        "average_cost": "50.0000",
        "price": "55.00",
        "previous_close": "52.00",
        "market_value": "550.00",
        "cost_basis": "500.00",
        "unrealized_pnl": "50.00",
        "unrealized_pnl_pct": "10.00",
        # bought today at 50.00: the day's change counts from the price paid
        "day_change": "50.00",
        "day_change_pct": "10.00",
        "weight_pct": acme_row["weight_pct"],
    }
    assert body["market_value"] == "610.00"
    assert body["cost_basis"] == "560.00"
    assert body["unrealized_pnl"] == "50.00"


def test_the_positions_say_what_the_dashboard_says(api, student, acme):
    buy(student, "ACME", 7)
    set_price("ACME", "48.13")
    overview = portfolio_overview(student)

    (row,) = api.get("/positions").json()["data"]

    (position,) = overview.positions
    assert Decimal(row["market_value"]) == position.market_value
    assert Decimal(row["unrealized_pnl"]) == position.unrealized_pnl
    assert Decimal(row["unrealized_pnl_pct"]) == position.unrealized_pnl_pct
    assert Decimal(row["weight_pct"]) == position.weight


def test_an_average_cost_keeps_four_places(api, student, acme):
    buy(student, "ACME", 1)
    set_price("ACME", "51.00")
    buy(student, "ACME", 2)

    (row,) = api.get("/positions").json()["data"]

    assert row["average_cost"] == "50.6667"
    assert row["cost_basis"] == "152.00"


def test_shares_an_open_sell_holds_are_counted_apart(api, student, acme):
    buy(student, "ACME", 10)
    placed = api.post(
        "/orders",
        {"symbol": "ACME", "quantity": 4, "side": "sell", "type": "limit", "limit_price": "60"},
    )
    assert placed.status_code == 201, placed.content

    (row,) = api.get("/positions").json()["data"]

    assert (row["quantity"], row["held_for_orders"], row["available"]) == (10, 4, 6)


def test_a_halted_symbol_says_so(api, student, acme):
    buy(student, "ACME", 1)
    acme.halted = True
    acme.save()

    assert api.get("/positions").json()["data"][0]["halted"] is True


def test_no_positions_is_an_empty_list_and_zero_totals(api):
    body = api.get("/positions").json()

    assert body == {
        "data": [],
        "market_value": "0.00",
        "cost_basis": "0.00",
        "unrealized_pnl": "0.00",
        "unrealized_pnl_pct": None,
        "day_change": "0.00",
    }


def test_another_students_positions_never_appear(api, other_student, acme):
    buy(other_student, "ACME", 5)

    assert api.get("/positions").json()["data"] == []


def test_an_instructor_token_has_no_positions(instructor_api):
    problem(instructor_api.get("/positions"), 403, "permission_denied")


def test_positions_need_a_token(anon_api):
    problem(anon_api.get("/positions"), 401, "not_authenticated")
