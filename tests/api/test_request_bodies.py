"""What every JSON body is checked for before its operation reads it (api.main.JsonBody)."""

import json
from decimal import Decimal

import pytest

from api.models import ApiToken
from ledger.models import Balance, Transaction
from tests.api.conftest import problem
from tests.factories import PASSWORD
from trading.models import Order

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/orders", {"symbol": "AC\x00ME", "quantity": 1}, "symbol"),
        ("/orders", {"symbol": "ACME", "quantity": 1, "side": "\x00"}, "side"),
        (
            "/orders",
            {"symbol": "ACME", "quantity": 1, "type": "limit", "limit_price": "45.00\x00"},
            "limit_price",
        ),
        ("/deposits", {"amount": "10.00", "description": "gift\x00"}, "description"),
        ("/withdrawals", {"amount": "1\x000"}, "amount"),
    ],
)
def test_a_nul_character_anywhere_in_a_body_is_400_and_changes_nothing(
    api, student, acme, path, body, field
):
    found = problem(api.post(path, body), 400, "validation_error")
    assert found["field"] == field
    assert "NUL" in found["detail"]
    assert not Order.objects.exists()
    assert not Transaction.objects.filter(user=student).exclude(type="deposit").exists()
    assert Balance.objects.get(user=student).amount == Decimal("10000.00")


@pytest.mark.parametrize("field", ["username", "password", "name"])
def test_a_nul_character_in_a_log_in_is_400_not_a_database_error(anon_api, student, field):
    # PostgreSQL refuses NUL in text: a username holding one would reach the log-in
    # lock's query and fail there (500).
    body = {"username": "alice", "password": PASSWORD, "name": "bot"}
    body[field] += "\x00"
    found = problem(anon_api.post("/auth/token", body), 400, "validation_error")
    assert found["field"] == field
    assert not ApiToken.objects.exists()


def test_a_nul_character_in_a_key_or_a_list_is_found_too(api, acme):
    assert (
        problem(
            api.post("/orders", {"symbol": "ACME", "quantity": 1, "x\x00": 1}),
            400,
            "validation_error",
        )["field"]
        == "x\x00"
    )
    found = problem(
        api.post("/deposits", {"amount": "5", "tags": ["ok", "no\x00"]}), 400, "validation_error"
    )
    assert found["field"] == "tags.1"


def test_a_body_that_is_not_json_is_still_malformed_json(api, acme):
    response = api.client.post(
        "/api/v1/orders",
        "{not json",
        content_type="application/json",
        headers=api._headers(None),
    )
    problem(response, 400, "malformed_json")


def test_the_escape_itself_is_ordinary_text(api, student, acme):
    # "\\u0000" written out (a backslash and five characters) is no NUL.
    response = api.post("/deposits", {"amount": "5.00", "description": json.dumps("\x00")})
    assert response.status_code == 201, response.content
