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


def test_a_margin_account_shows_its_buying_power_loan_equity_and_margin_level(
    api, student, acme, django_assert_num_queries
):
    # The worked example: $10,000 of cash buys $15,000 of ACME at a 50 % initial margin.
    student.classroom = ClassroomFactory(name="Leverage", margin=True)
    student.save()
    placed = api.post("/orders", {"symbol": "ACME", "quantity": 300})  # ACME at $50.00
    assert placed.status_code == 201, placed.content

    # token (with the class); the account row; the holdings; the ranked row
    with django_assert_num_queries(4):
        body = api.get("/account").json()

    assert body["cash"] == "-5000.00"
    assert body["margin_loan"] == "5000.00"
    assert body["equity"] == body["total_value"] == "10000.00"
    assert body["buying_power"] == "5000.00"
    assert body["margin_level"] == "66.67"


def test_without_positions_the_margin_level_is_null(api):
    body = api.get("/account").json()

    assert body["margin_level"] is None
    assert (body["margin_loan"], body["equity"]) == ("0.00", "10000.00")


def test_the_schema_documents_the_margin_fields():
    from api.main import api as ninja_api

    account = ninja_api.get_openapi_schema()["components"]["schemas"]["AccountOut"]
    fields = account["properties"]

    assert {"buying_power", "margin_loan", "equity", "margin_level"} <= set(fields)
    for name in ("buying_power", "margin_loan", "equity"):
        assert fields[name]["pattern"] == r"^-?\d+\.\d{2}$"  # Money: a decimal string
        assert name in account["required"]
    assert {"type": "null"} in fields["margin_level"]["anyOf"]
