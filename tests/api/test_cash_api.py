"""Deposits and withdrawals through the API: the cash pages' rules and messages."""

from decimal import Decimal

import pytest

from ledger.models import Balance, Transaction
from tests.api.conftest import problem
from tests.factories import ClassroomFactory

pytestmark = pytest.mark.django_db


def cash(user) -> Decimal:
    return Balance.objects.get(user=user).amount


def test_a_deposit_is_one_journal_row_and_answers_201(api, student):
    response = api.post("/deposits", {"amount": "250.00", "description": "Birthday"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["type"] == "deposit"
    assert body["amount"] == "250.00"
    assert body["balance_after"] == "10250.00"
    assert body["description"] == "Birthday"
    assert cash(student) == Decimal("10250.00")


def test_a_withdrawal_is_signed_negative(api, student):
    body = api.post("/withdrawals", {"amount": "100"}).json()
    assert body["type"] == "withdrawal"
    assert body["amount"] == "-100.00"
    assert cash(student) == Decimal("9900.00")


def test_a_withdrawal_beyond_the_cash_is_insufficient_funds(api, student):
    body = problem(api.post("/withdrawals", {"amount": "10000.01"}), 400, "insufficient_funds")
    assert "$" in body["detail"]
    assert cash(student) == Decimal("10000.00")


@pytest.mark.parametrize("amount", ["0", "-5", "1.234", "ten", "", "1e3"])
def test_bad_amounts_are_invalid_amount_and_change_nothing(api, student, amount):
    body = problem(api.post("/deposits", {"amount": amount}), 400, "invalid_amount")
    assert body["errors"][0]["field"] == "amount"
    assert cash(student) == Decimal("10000.00")


@pytest.mark.parametrize("amount", [250, 250.5, None, True])
def test_an_amount_must_be_a_string_never_a_json_number(api, student, amount):
    problem(api.post("/deposits", {"amount": amount}), 400, "validation_error")
    assert cash(student) == Decimal("10000.00")


def test_a_class_with_deposits_closed_refuses_as_a_rule_violation(api, student):
    student.classroom = ClassroomFactory(deposits_open=False)
    student.save()
    body = problem(api.post("/deposits", {"amount": "5.00"}), 400, "rule_violation")
    assert body["rule"] == "deposits_open"


def test_the_same_idempotency_key_deposits_once(api, student):
    key = {"Idempotency-Key": "deposit-1"}
    first = api.post("/deposits", {"amount": "20.00"}, headers=key)
    again = api.post("/deposits", {"amount": "20.00"}, headers=key)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Transaction.objects.filter(user=student, amount=Decimal("20.00")).count() == 1
    assert cash(student) == Decimal("10020.00")


def test_the_same_key_for_another_amount_is_refused(api, student):
    key = {"Idempotency-Key": "deposit-2"}
    api.post("/deposits", {"amount": "20.00"}, headers=key)
    problem(api.post("/deposits", {"amount": "30.00"}, headers=key), 409, "idempotency_key_reused")
    problem(
        api.post("/withdrawals", {"amount": "20.00"}, headers=key), 409, "idempotency_key_reused"
    )
    assert cash(student) == Decimal("10020.00")


def test_an_instructor_token_cannot_deposit(instructor_api):
    problem(instructor_api.post("/deposits", {"amount": "5.00"}), 403, "permission_denied")
