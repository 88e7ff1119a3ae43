"""The API under concurrent requests, on PostgreSQL with real threads and row locks.

Each request goes through the whole API (the token, the rate limit, the endpoint, the
service) in its own thread with its own database connection, all released at once
(tests.concurrency.run_concurrently). After each race the money is checked: the journal
against the balances (check_ledger), the holds, the holdings against the trades."""

from decimal import Decimal

import pytest

from ledger.models import Balance, Transaction
from portfolio.models import Holding
from tests.api.conftest import ApiClient, token_for
from tests.concurrency import run_concurrently
from tests.factories import PriceFactory, StudentFactory
from tests.trading.orders import check_ledger, money_problems
from trading.models import Order, Trade

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

D = Decimal
ROUNDS = 5


@pytest.fixture
def acme(db):
    return PriceFactory(symbol="ACME", price=D("100.00"))


def _post(secret, path, body, key=None):
    """A job for run_concurrently: one POST through a client of its own."""
    headers = {"Idempotency-Key": key} if key else {}
    return lambda: ApiClient(secret).post(path, body, headers=headers)


def test_one_idempotency_key_sent_twice_at_once_places_one_order(acme):
    student = StudentFactory(cash="10000.00")
    secret = token_for(student)
    body = {"symbol": "ACME", "quantity": 2}

    for round in range(ROUNDS):
        key = f"twice-{round}"
        first, second = run_concurrently(
            [_post(secret, "/orders", body, key), _post(secret, "/orders", body, key)]
        )

        statuses = sorted([first.status_code, second.status_code])
        assert statuses == [200, 201], (first.content, second.content)
        created, replayed = sorted([first, second], key=lambda r: r.status_code, reverse=True)
        assert replayed["Idempotent-Replayed"] == "true"
        assert replayed.json() == created.json()
        assert Order.objects.filter(user=student, token=f"api:{key}").count() == 1

    assert Order.objects.filter(user=student).count() == ROUNDS
    assert Trade.objects.filter(user=student).count() == ROUNDS
    assert Transaction.objects.filter(user=student, type="buy").count() == ROUNDS
    assert Balance.objects.get(user=student).amount == D("10000.00") - ROUNDS * D("200.00")
    assert Holding.objects.get(user=student).quantity == 2 * ROUNDS
    assert money_problems() == []
    check_ledger()


def test_one_key_for_two_different_orders_at_once_places_one_and_refuses_the_other(acme):
    student = StudentFactory(cash="10000.00")
    secret = token_for(student)

    for round in range(ROUNDS):
        key = f"clash-{round}"
        responses = run_concurrently(
            [
                _post(secret, "/orders", {"symbol": "ACME", "quantity": 1}, key),
                _post(secret, "/orders", {"symbol": "ACME", "quantity": 5}, key),
            ]
        )

        statuses = sorted(response.status_code for response in responses)
        assert statuses == [201, 409], [r.content for r in responses]
        placed = next(r for r in responses if r.status_code == 201).json()
        order = Order.objects.get(user=student, token=f"api:{key}")
        assert (order.pk, order.quantity) == (placed["id"], placed["quantity"])

    assert Trade.objects.filter(user=student).count() == ROUNDS
    assert money_problems() == []
    check_ledger()


def test_concurrent_market_buys_beyond_the_cash_place_only_what_it_covers(acme):
    # $1,000 buys three lots of three shares at $100, and no more: of eight at once,
    # three trade and five are refused, in whatever order the locks are granted.
    student = StudentFactory(cash="1000.00")
    secret = token_for(student)
    body = {"symbol": "ACME", "quantity": 3}

    responses = run_concurrently([_post(secret, "/orders", body) for _ in range(8)])

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] * 3 + [400] * 5, [r.content for r in responses]
    for response in responses:
        if response.status_code == 400:
            assert response.json()["code"] == "insufficient_funds"
    assert Trade.objects.filter(user=student).count() == 3
    assert Balance.objects.get(user=student).amount == D("100.00")
    assert Holding.objects.get(user=student).quantity == 9
    assert money_problems() == []
    check_ledger()


def test_one_idempotency_key_on_a_deposit_sent_at_once_writes_one_journal_row(db):
    student = StudentFactory(cash="0.00")
    secret = token_for(student)
    body = {"amount": "250.00", "description": "Birthday"}

    for round in range(ROUNDS):
        key = f"gift-{round}"
        first, second = run_concurrently(
            [_post(secret, "/deposits", body, key), _post(secret, "/deposits", body, key)]
        )

        assert sorted([first.status_code, second.status_code]) == [200, 201], (
            first.content,
            second.content,
        )
        assert first.json() == second.json()
        assert Transaction.objects.filter(user=student, token=f"api:{key}").count() == 1

    assert Transaction.objects.filter(user=student, type="deposit").count() == ROUNDS
    assert Balance.objects.get(user=student).amount == ROUNDS * D("250.00")
    check_ledger()
