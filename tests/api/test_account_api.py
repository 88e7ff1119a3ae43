"""GET /api/v1/account: the dashboard's figures for a program."""

import pytest

from tests.factories import ClassroomFactory

pytestmark = pytest.mark.django_db


def test_a_new_student_has_their_starting_cash_and_nothing_else(api):
    body = api.get("/account").json()
    assert body["cash"] == "10000.00"
    assert body["buying_power"] == "10000.00"
    assert body["held_for_orders"] == "0.00"
    assert body["market_value"] == "0.00"
    assert body["total_value"] == "10000.00"
    assert body["total_return"] == "0.00"
    assert body["classroom"] is None


def test_after_a_buy_and_a_limit_order(api, acme):
    api.post("/orders", {"symbol": "ACME", "quantity": 10})
    api.post("/orders", {"symbol": "ACME", "quantity": 10, "type": "limit", "limit_price": "40"})
    body = api.get("/account").json()
    assert body["cash"] == "9500.00"
    assert body["held_for_orders"] == "400.00"
    assert body["buying_power"] == "9100.00"
    assert body["market_value"] == "500.00"
    assert body["total_value"] == "10000.00"


def test_a_student_in_a_class_sees_the_class_and_their_rank(api, student, other_student):
    classroom = ClassroomFactory(name="Period 3")
    for user in (student, other_student):
        user.classroom = classroom
        user.save()
    body = api.get("/account").json()
    assert body["classroom"] == {"id": classroom.pk, "name": "Period 3"}
    assert body["rank"]["of"] == 2
    assert body["rank"]["metric"] == classroom.ranking
