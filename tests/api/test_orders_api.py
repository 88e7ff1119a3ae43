"""Orders through the API: the same services, rules and messages as the order ticket."""

import base64
import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from ledger.models import Balance, Transaction
from portfolio.models import Holding
from tests.api.conftest import problem
from trading.models import Order, Trade

pytestmark = pytest.mark.django_db


def test_a_market_buy_trades_at_once_and_answers_201_with_the_trade(api, student, acme):
    response = api.post("/orders", {"symbol": "acme", "quantity": 10, "side": "buy"})
    assert response.status_code == 201, response.content
    body = response.json()
    order = Order.objects.get(user=student)
    assert response["Location"] == f"/api/v1/orders/{order.pk}"
    assert body["id"] == order.pk
    assert body["status"] == "filled"
    assert body["type"] == "market"
    assert body["trade"]["price"] == "50.00"
    assert body["trade"]["total"] == "500.00"
    assert body["description"].startswith("Buy 10 ACME")
    assert Balance.objects.get(user=student).amount == Decimal("9500.00")
    assert Holding.objects.get(user=student).quantity == 10


def test_money_is_a_decimal_string_and_times_carry_their_offset(api, acme):
    body = api.post("/orders", {"symbol": "ACME", "quantity": 3}).json()
    assert isinstance(body["trade"]["price"], str)
    assert body["held_cash"] == "0.00"
    assert body["created_at"][-6] in "+-" or body["created_at"].endswith("Z")


def test_a_limit_order_waits_and_holds_its_cash(api, student, acme):
    response = api.post(
        "/orders",
        {"symbol": "ACME", "quantity": 10, "type": "limit", "limit_price": "45.00"},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "open"
    assert body["limit_price"] == "45.00"
    assert body["held_cash"] == "450.00"
    assert body["trade"] is None
    assert Balance.objects.get(user=student).held == Decimal("450.00")


def test_a_sell_of_shares_not_held_is_refused_with_the_pages_message(api, acme):
    body = problem(
        api.post("/orders", {"symbol": "ACME", "quantity": 1, "side": "sell"}),
        400,
        "insufficient_shares",
    )
    assert "ACME" in body["detail"]
    assert not Trade.objects.exists()


def test_a_buy_beyond_the_cash_is_insufficient_funds(api, acme):
    body = problem(
        api.post("/orders", {"symbol": "ACME", "quantity": 1000}), 400, "insufficient_funds"
    )
    assert "$" in body["detail"]
    assert not Trade.objects.exists()


def test_an_unknown_symbol(api, acme):
    body = problem(api.post("/orders", {"symbol": "NOPE", "quantity": 1}), 400, "unknown_symbol")
    assert "NOPE" in body["detail"]


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"symbol": "ACME", "quantity": 1, "type": "limit"}, "invalid_order", "limit_price"),
        ({"symbol": "ACME", "quantity": 1, "type": "sideways"}, "invalid_order", "type"),
        ({"symbol": "ACME", "quantity": 1, "side": "hold"}, "invalid_order", "side"),
        (
            {"symbol": "ACME", "quantity": 1, "type": "limit", "limit_price": "4.5.0"},
            "invalid_order",
            "limit_price",
        ),
        ({"symbol": "ACME", "quantity": 0}, "validation_error", None),
        ({"symbol": "ACME", "quantity": "ten"}, "validation_error", None),
        ({"symbol": "ACME", "quantity": 1.5}, "validation_error", None),
        ({"quantity": 1}, "validation_error", None),
        (
            {"symbol": "ACME", "quantity": 1, "type": "limit", "limit_price": 45.5},
            "validation_error",
            None,
        ),
    ],
)
def test_bad_orders_are_400_with_a_code_and_change_nothing(api, student, acme, body, code, field):
    found = problem(api.post("/orders", body), 400, code)
    if field:
        assert found["field"] == field
    else:
        assert found["errors"]
    assert not Order.objects.exists()
    assert Balance.objects.get(user=student).amount == Decimal("10000.00")


def test_a_class_of_market_orders_only_refuses_a_limit_as_a_rule_violation(api, student, acme):
    from tests.factories import ClassroomFactory

    student.classroom = ClassroomFactory(order_types="market")
    student.save()
    body = problem(
        api.post(
            "/orders", {"symbol": "ACME", "quantity": 1, "type": "limit", "limit_price": "40"}
        ),
        400,
        "rule_violation",
    )
    assert body["rule"] == "order_types"


def test_a_class_that_has_ended_answers_market_closed(api, student, acme):
    from datetime import timedelta

    from django.utils import timezone

    from tests.factories import ClassroomFactory

    now = timezone.now()
    student.classroom = ClassroomFactory(
        starts_at=now - timedelta(days=10), ends_at=now - timedelta(days=1)
    )
    student.save()
    body = problem(api.post("/orders", {"symbol": "ACME", "quantity": 1}), 400, "market_closed")
    assert "ended" in body["detail"]


def test_the_same_idempotency_key_places_one_order(api, student, acme):
    key = {"Idempotency-Key": "0b7c6a2e-retry-1"}
    first = api.post("/orders", {"symbol": "ACME", "quantity": 2}, headers=key)
    again = api.post("/orders", {"symbol": "ACME", "quantity": 2}, headers=key)
    assert first.status_code == 201
    assert again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Trade.objects.count() == 1
    assert Transaction.objects.filter(user=student, type="buy").count() == 1


def test_the_same_key_for_a_limit_order_places_it_once(api, acme):
    key = {"Idempotency-Key": "limit-1"}
    body = {"symbol": "ACME", "quantity": 2, "type": "limit", "limit_price": "40.00"}
    assert api.post("/orders", body, headers=key).status_code == 201
    assert api.post("/orders", body, headers=key).status_code == 200
    assert Order.objects.count() == 1


def test_the_same_key_for_another_order_is_refused(api, acme):
    key = {"Idempotency-Key": "k-1"}
    api.post("/orders", {"symbol": "ACME", "quantity": 2}, headers=key)
    problem(
        api.post("/orders", {"symbol": "ACME", "quantity": 3}, headers=key),
        409,
        "idempotency_key_reused",
    )
    assert Trade.objects.count() == 1


@pytest.mark.parametrize("key", ["", " ", "é", "x" * 61, "a b"])
def test_an_unusable_idempotency_key_is_400(api, acme, key):
    problem(
        api.post("/orders", {"symbol": "ACME", "quantity": 2}, headers={"Idempotency-Key": key}),
        400,
        "invalid_idempotency_key",
    )
    assert not Trade.objects.exists()


def test_the_order_list_pages_with_a_cursor(api, student, acme):
    for _ in range(5):
        api.post("/orders", {"symbol": "ACME", "quantity": 1})
    first = api.get("/orders", {"limit": 2}).json()
    assert len(first["data"]) == 2
    second = api.get("/orders", {"limit": 2, "cursor": first["next_cursor"]}).json()
    third = api.get("/orders", {"limit": 2, "cursor": second["next_cursor"]}).json()
    assert third["next_cursor"] is None
    ids = [o["id"] for page in (first, second, third) for o in page["data"]]
    assert ids == sorted(Order.objects.values_list("pk", flat=True), reverse=True)


@pytest.mark.parametrize("cursor", ["nonsense", "W10", "WyJ4IiwxXQ", "WzEsMl0"])
def test_a_cursor_the_api_did_not_give_is_400(api, acme, cursor):
    problem(api.get("/orders", {"cursor": cursor}), 400, "invalid_cursor")


@pytest.mark.parametrize(
    "moment",
    [
        "2026-02-30T10:00:00+00:00",  # no such day
        "2026-03-01T10:00:00+30:00",  # no such offset
        "9999-12-31T23:59:59-23:59",  # past year 9999 in UTC
        "0001-01-01T00:00:00+23:59",  # before year 1 in UTC
    ],
)
def test_a_cursor_naming_an_impossible_moment_is_400(api, acme, moment):
    # These used to reach the database (a 500: Python's ValueError, or PostgreSQL's
    # "time zone displacement out of range").
    cursor = base64.urlsafe_b64encode(json.dumps([moment, 1]).encode()).decode()
    problem(api.get("/orders", {"cursor": cursor}), 400, "invalid_cursor")


def test_a_cursor_with_another_offset_names_the_same_moment(api, acme):
    for _ in range(3):
        api.post("/orders", {"symbol": "ACME", "quantity": 1})
    first = api.get("/orders", {"limit": 1}).json()
    moment, last_id = json.loads(base64.urlsafe_b64decode(first["next_cursor"] + "=="))
    shifted = datetime.fromisoformat(moment).astimezone(timezone(timedelta(hours=-5)))
    cursor = base64.urlsafe_b64encode(json.dumps([shifted.isoformat(), last_id]).encode())
    again = api.get("/orders", {"limit": 1, "cursor": cursor.decode()}).json()
    second = api.get("/orders", {"limit": 1, "cursor": first["next_cursor"]}).json()
    assert again == second


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"status": "pending"}, "Status must be open, filled"),
        ({"start": "2026-13-01"}, "Enter the start date as YYYY-MM-DD."),
        ({"start": "2026-03-02", "end": "2026-03-01"}, "The start date is after the end date."),
    ],
)
def test_order_filters_are_checked_as_on_the_page(api, acme, query, message):
    body = problem(api.get("/orders", query), 400, "validation_error")
    assert message in body["detail"]


def test_filters_narrow_the_orders(api, acme):
    api.post("/orders", {"symbol": "ACME", "quantity": 1})
    api.post("/orders", {"symbol": "ACME", "quantity": 1, "type": "limit", "limit_price": "40"})
    assert [o["status"] for o in api.get("/orders", {"status": "open"}).json()["data"]] == ["open"]
    assert len(api.get("/orders", {"type": "market"}).json()["data"]) == 1


def test_read_and_cancel_an_open_order(api, student, acme):
    placed = api.post(
        "/orders", {"symbol": "ACME", "quantity": 4, "type": "limit", "limit_price": "40.00"}
    ).json()
    assert api.get(f"/orders/{placed['id']}").json()["status"] == "open"
    response = api.delete(f"/orders/{placed['id']}")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert Balance.objects.get(user=student).held == Decimal("0.00")
    problem(api.delete(f"/orders/{placed['id']}"), 409, "order_not_open")


def test_another_students_order_is_not_found(api, other_api, acme):
    placed = other_api.post(
        "/orders", {"symbol": "ACME", "quantity": 4, "type": "limit", "limit_price": "40.00"}
    ).json()
    problem(api.get(f"/orders/{placed['id']}"), 404, "not_found")
    problem(api.delete(f"/orders/{placed['id']}"), 404, "not_found")
    assert Order.objects.get(pk=placed["id"]).status == "open"
    assert placed["id"] not in [o["id"] for o in api.get("/orders").json()["data"]]


@pytest.mark.parametrize("order_id", ["0", "-1", "99999999999999999999", "abc"])
def test_odd_order_ids_are_404_or_400(api, acme, order_id):
    response = api.get(f"/orders/{order_id}")
    assert response.status_code in (400, 404)
    assert response["Content-Type"] == "application/problem+json"


def test_an_instructor_token_does_not_trade(instructor_api, acme):
    problem(
        instructor_api.post("/orders", {"symbol": "ACME", "quantity": 1}), 403, "permission_denied"
    )
