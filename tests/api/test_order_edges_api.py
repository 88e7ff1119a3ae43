"""The API's orders and cash at their edges: every refusal code, retries that must replay,
keys that must not be shared between an order and a cash movement, strict numbers."""

from decimal import Decimal

import pytest

from api.problems import Problem, from_refusal
from ledger.models import Balance, Transaction
from portfolio.models import Holding
from portfolio.services import MAX_SHARES_HELD
from prices.models import Price
from tests.api.conftest import ApiClient, problem, token_for
from tests.factories import PASSWORD, UserFactory
from trading import services as trading
from trading.models import Order, Trade

pytestmark = pytest.mark.django_db


def cash(user) -> Decimal:
    return Balance.objects.get(user=user).amount


def test_a_body_that_is_not_json_is_malformed_json(api, acme):
    response = api.client.post(
        "/api/v1/orders",
        "{symbol: ACME",
        content_type="application/json",
        headers={"Authorization": f"Bearer {api.secret}"},
    )
    problem(response, 400, "malformed_json")


def test_a_halted_symbol_is_symbol_halted(api, acme):
    Price.objects.filter(symbol="ACME").update(halted=True)
    body = problem(api.post("/orders", {"symbol": "ACME", "quantity": 1}), 400, "symbol_halted")
    assert "paused" in body["detail"]


def test_a_quantity_beyond_an_order_is_invalid_quantity(api, acme):
    problem(
        api.post("/orders", {"symbol": "ACME", "quantity": trading.MAX_QUANTITY + 1}),
        400,
        "invalid_quantity",
    )


def test_a_holding_beyond_the_most_one_may_hold_is_position_too_large(api, student, acme):
    Price.objects.filter(symbol="ACME").update(price=Decimal("0.01"))
    Balance.objects.filter(user=student).update(amount=Decimal("100000000.00"))
    Transaction.objects.filter(user=student).update(amount=Decimal("100000000.00"))
    Holding.objects.create(
        user=student, stock_id="ACME", quantity=MAX_SHARES_HELD, average_price=Decimal("0.01")
    )
    problem(api.post("/orders", {"symbol": "ACME", "quantity": 1}), 400, "position_too_large")


def test_a_user_with_no_cash_account_is_no_account(db, acme):
    nobody = UserFactory(username="no-cash")
    api = ApiClient(token_for(nobody))
    problem(api.get("/account"), 409, "no_account")
    problem(api.post("/orders", {"symbol": "ACME", "quantity": 1}), 409, "no_account")


@pytest.mark.parametrize("digits", [29, 31, 32])
def test_a_price_of_29_digits_or_more_is_refused_not_a_500(api, acme, digits):
    body = {"symbol": "ACME", "quantity": 1, "type": "limit", "limit_price": "1" * digits}
    found = problem(api.post("/orders", body), 400, "invalid_order")
    assert found["field"] == "limit_price"


def test_the_order_ticket_refuses_a_price_of_32_digits_too(student_client, acme):
    response = student_client.post(
        "/trading/orders/new/",
        {
            "symbol": "ACME",
            "side": "buy",
            "type": "limit",
            "quantity": "1",
            "limit_price": "1" * 32,
            "duration": "day",
        },
    )
    assert response.status_code == 400
    assert "at most" in response.content.decode()


@pytest.mark.parametrize("quantity", [True, 1.0, "1"])
def test_a_quantity_must_be_a_json_integer(api, acme, quantity):
    problem(api.post("/orders", {"symbol": "ACME", "quantity": quantity}), 400, "validation_error")
    assert not Order.objects.exists()


def test_a_market_order_sent_good_till_cancelled_replays_on_retry(api, acme):
    key = {"Idempotency-Key": "gtc-market"}
    body = {"symbol": "ACME", "quantity": 1, "duration": "gtc"}
    assert api.post("/orders", body, headers=key).status_code == 201
    again = api.post("/orders", body, headers=key)
    assert again.status_code == 200, again.content
    assert Trade.objects.count() == 1


def test_a_key_that_placed_an_order_makes_no_deposit(api, student, acme):
    key = {"Idempotency-Key": "shared-1"}
    limit = {"symbol": "ACME", "quantity": 1, "type": "limit", "limit_price": "40.00"}
    assert api.post("/orders", limit, headers=key).status_code == 201
    problem(api.post("/deposits", {"amount": "5.00"}, headers=key), 409, "idempotency_key_reused")
    assert cash(student) == Decimal("10000.00")


def test_a_key_that_made_a_deposit_places_no_order(api, student, acme):
    key = {"Idempotency-Key": "shared-2"}
    assert api.post("/deposits", {"amount": "5.00"}, headers=key).status_code == 201
    limit = {"symbol": "ACME", "quantity": 1, "type": "limit", "limit_price": "40.00"}
    problem(api.post("/orders", limit, headers=key), 409, "idempotency_key_reused")
    problem(
        api.post("/orders", {"symbol": "ACME", "quantity": 1}, headers=key),
        409,
        "idempotency_key_reused",
    )
    assert not Order.objects.exists()


def test_the_trail_in_percent_reads_the_same_when_placed_and_when_read_back(api, acme):
    placed = api.post(
        "/orders",
        {
            "symbol": "ACME",
            "quantity": 1,
            "side": "buy",
            "type": "trailing_stop",
            "trail_percent": "5",
        },
    ).json()
    assert placed["trail_percent"] == "5.00"
    assert api.get(f"/orders/{placed['id']}").json()["trail_percent"] == "5.00"


def test_a_price_that_moves_past_the_limit_while_placing_is_limit_not_reached():
    found = from_refusal(trading.LimitNotReached("ACME is at $51.00, beyond the limit."))
    assert (found.code, found.status) == ("limit_not_reached", 400)


def test_a_refusal_the_api_has_no_code_for_is_refused_not_a_500():
    found = from_refusal(trading.ResetRefused("Nothing to reset."))
    assert isinstance(found, Problem)
    assert (found.code, found.detail) == ("refused", "Nothing to reset.")


def test_logging_in_from_a_script_forgets_the_failures_before(anon_api, student, settings):
    settings.AXES_FAILURE_LIMIT = 3
    wrong = {"username": "alice", "password": "wrong", "name": "bot"}
    right = {**wrong, "password": PASSWORD}
    for _ in range(2):
        problem(anon_api.post("/auth/token", wrong), 401, "invalid_credentials")
    assert anon_api.post("/auth/token", right).status_code == 201
    problem(anon_api.post("/auth/token", wrong), 401, "invalid_credentials")
    assert anon_api.post("/auth/token", right).status_code == 201
    assert not anon_api.client.cookies
