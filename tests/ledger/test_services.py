"""The ledger services: every rule, and that a refusal changes nothing."""

import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from classrooms.models import Classroom
from ledger import services
from ledger.models import Balance, Transaction
from ledger.services import (
    DepositLimitExceeded,
    DepositsClosed,
    DuplicateRequest,
    InsufficientFunds,
    InvalidAmount,
    LedgerError,
    NoAccount,
    RuleRefused,
    WithdrawalsClosed,
    credit,
    credit_starting_cash,
    debit,
    deposit,
    grant,
    lock_account,
    open_account,
    validate_amount,
    withdraw,
)
from tests.factories import ClassroomFactory, StudentFactory, UserFactory
from tradesim.money import MAX_MONEY

pytestmark = pytest.mark.django_db

D = Decimal


def cash(user) -> Decimal:
    return Balance.objects.get(user=user).amount


def rows(user):
    return list(Transaction.objects.filter(user=user).order_by("id"))


def signed_sum(user) -> Decimal:
    return sum((row.signed_amount for row in rows(user)), D("0.00"))


def assert_unchanged(user, balance, count):
    assert cash(user) == balance
    assert Transaction.objects.filter(user=user).count() == count


# validate_amount -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (D("12.5"), D("12.50")),
        (D("0.01"), D("0.01")),
        (3, D("3.00")),
        ("7.25", D("7.25")),
        (" 7 ", D("7.00")),
        (D("1.500"), D("1.50")),  # trailing zeros are still whole cents
        (MAX_MONEY, MAX_MONEY),
    ],
)
def test_validate_amount_accepts_whole_cents(raw, expected):
    value = validate_amount(raw)
    assert value == expected
    assert value.as_tuple().exponent == -2


FLOAT = "Amounts must be exact decimals, not floating-point numbers."
NOT_AN_AMOUNT = "Enter an amount such as 250 or 99.95."
NOT_POSITIVE = "The amount must be more than zero."
NOT_CENTS = "Amounts have at most two decimal places (whole cents)."
TOO_LARGE = "That amount is too large."


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (12.5, FLOAT),
        (True, NOT_AN_AMOUNT),
        (None, NOT_AN_AMOUNT),
        ("abc", NOT_AN_AMOUNT),
        ("", NOT_AN_AMOUNT),
        ("NaN", NOT_AN_AMOUNT),
        ("1e3", NOT_AN_AMOUNT),
        ("1_000", NOT_AN_AMOUNT),
        ("١٢", NOT_AN_AMOUNT),
        (D("NaN"), NOT_AN_AMOUNT),
        (D("sNaN"), NOT_AN_AMOUNT),
        (D("Infinity"), NOT_AN_AMOUNT),
        (D("0"), NOT_POSITIVE),
        (D("-0.00"), NOT_POSITIVE),
        (-5, NOT_POSITIVE),
        (D("1.005"), NOT_CENTS),
        (D("1E-30"), NOT_CENTS),
        (MAX_MONEY + D("0.01"), TOO_LARGE),
        (D("1E+30"), TOO_LARGE),
    ],
)
def test_validate_amount_refuses_with_a_readable_reason(raw, message):
    with pytest.raises(InvalidAmount) as excinfo:
        validate_amount(raw)
    assert excinfo.value.message == message


# deposit -------------------------------------------------------------------------------


def test_deposit_writes_one_row_and_the_new_balance(student):
    row = deposit(user=student, amount=D("250.00"), description="Birthday money")

    assert cash(student) == D("10250.00")
    assert (row.type, row.amount, row.balance_after) == ("deposit", D("250.00"), D("10250.00"))
    assert row.description == "Birthday money"
    assert row.token is None
    assert row.created_by is None
    assert Balance.objects.get(user=student).last_updated == row.timestamp
    assert len(rows(student)) == 2  # the starting cash and this one


def test_deposit_without_description_is_described_as_a_deposit(student):
    assert deposit(user=student, amount=D("1")).description == "Deposit"


def test_deposit_strips_and_truncates_the_description(student):
    row = deposit(user=student, amount=D("1"), description="  " + "x" * 250)
    assert row.description == "x" * 200


@pytest.mark.parametrize("amount", [D("0"), D("-5"), D("1.001"), D("NaN"), 1.5])
def test_deposit_of_an_invalid_amount_changes_nothing(student, amount):
    with pytest.raises(InvalidAmount):
        deposit(user=student, amount=amount)
    assert_unchanged(student, D("10000.00"), 1)


def test_deposit_above_max_deposit_is_refused_and_changes_nothing(student, settings):
    settings.MAX_DEPOSIT = D("500.00")

    with pytest.raises(InvalidAmount, match=r"at most \$500.00"):
        deposit(user=student, amount=D("500.01"))
    assert_unchanged(student, D("10000.00"), 1)

    deposit(user=student, amount=D("500.00"))
    assert cash(student) == D("10500.00")


def test_deposit_when_deposits_are_closed_is_refused_and_changes_nothing(student, settings):
    settings.DEPOSITS_OPEN = False

    with pytest.raises(DepositsClosed) as excinfo:
        deposit(user=student, amount=D("10.00"))
    assert excinfo.value.message == (
        "Deposits are closed for this class: your instructor has turned them off."
    )
    assert_unchanged(student, D("10000.00"), 1)


def test_deposit_cap_counts_own_deposits_only_and_says_what_is_left(student, instructor, settings):
    settings.MAX_TOTAL_DEPOSITS = D("500.00")
    grant(user=student, amount=D("1000.00"), reason="Prize", instructor=instructor)

    deposit(user=student, amount=D("300.00"))
    with pytest.raises(DepositLimitExceeded, match=r"at most \$200.00 more"):
        deposit(user=student, amount=D("250.00"))
    assert_unchanged(student, D("11300.00"), 3)

    deposit(user=student, amount=D("200.00"))  # exactly up to the cap
    with pytest.raises(DepositLimitExceeded) as excinfo:
        deposit(user=student, amount=D("0.01"))
    assert excinfo.value.message == (
        "You have reached the class limit of $500.00 in deposits, so no more deposits are possible."
    )
    assert_unchanged(student, D("11500.00"), 4)


def test_deposit_cap_is_per_student(student, other_student, settings):
    settings.MAX_TOTAL_DEPOSITS = D("100.00")
    deposit(user=student, amount=D("100.00"))
    deposit(user=other_student, amount=D("100.00"))
    assert cash(other_student) == D("10100.00")


def test_deposit_for_a_user_without_an_account_is_refused(instructor):
    with pytest.raises(NoAccount) as excinfo:
        deposit(user=instructor, amount=D("10.00"))
    assert excinfo.value.message == (
        "There is no cash account for this login (instructors do not hold cash)."
    )
    assert not Transaction.objects.filter(user=instructor).exists()


def test_deposit_beyond_what_a_balance_holds_is_refused(settings):
    settings.MAX_DEPOSIT = MAX_MONEY
    rich = StudentFactory(cash=str(MAX_MONEY - D("1.00")))

    with pytest.raises(InvalidAmount) as excinfo:
        deposit(user=rich, amount=D("1.01"))
    assert excinfo.value.message == "That would take the balance beyond what an account can hold."
    assert_unchanged(rich, MAX_MONEY - D("1.00"), 1)

    deposit(user=rich, amount=D("1.00"))  # up to exactly what it holds
    assert cash(rich) == MAX_MONEY


# withdraw ------------------------------------------------------------------------------


def test_withdraw_writes_one_row_and_the_new_balance(student):
    row = withdraw(user=student, amount=D("2500.50"), description="Savings")

    assert cash(student) == D("7499.50")
    assert (row.type, row.amount, row.balance_after, row.description) == (
        "withdrawal",
        D("2500.50"),
        D("7499.50"),
        "Savings",
    )


def test_withdraw_the_whole_balance_leaves_zero(student):
    withdraw(user=student, amount=D("10000.00"))
    assert cash(student) == D("0.00")
    assert rows(student)[-1].description == "Withdrawal"


def test_withdraw_more_than_the_balance_is_refused_and_changes_nothing(student):
    with pytest.raises(InsufficientFunds) as excinfo:
        withdraw(user=student, amount=D("10000.01"))
    assert excinfo.value.message == (
        "You can't withdraw $10,000.01: your balance is $10,000.00, "
        "so that is the most you can take out."
    )
    assert_unchanged(student, D("10000.00"), 1)


@pytest.mark.parametrize("amount", [D("0"), D("-1"), D("0.001"), D("Infinity")])
def test_withdraw_of_an_invalid_amount_changes_nothing(student, amount):
    with pytest.raises(InvalidAmount):
        withdraw(user=student, amount=amount)
    assert_unchanged(student, D("10000.00"), 1)


def test_withdraw_is_not_limited_by_closed_deposits(student, settings):
    settings.DEPOSITS_OPEN = False
    withdraw(user=student, amount=D("1.00"))
    assert cash(student) == D("9999.00")


# tokens --------------------------------------------------------------------------------


def test_the_same_token_twice_makes_one_deposit_and_the_repeat_is_told_so(student):
    first = deposit(user=student, amount=D("100.00"), token="t-1")

    with pytest.raises(DuplicateRequest) as excinfo:
        deposit(user=student, amount=D("100.00"), token="t-1")

    assert excinfo.value.original == first
    assert excinfo.value.balance == D("10100.00")
    assert "deposit of $100.00 was already made" in excinfo.value.message
    assert_unchanged(student, D("10100.00"), 2)


def test_the_same_token_twice_makes_one_withdrawal(student):
    withdraw(user=student, amount=D("100.00"), token="t-2")
    with pytest.raises(DuplicateRequest, match="withdrawal of \\$100.00"):
        withdraw(user=student, amount=D("100.00"), token="t-2")
    assert_unchanged(student, D("9900.00"), 2)


def test_a_used_token_is_refused_for_any_kind_of_movement(student):
    deposit(user=student, amount=D("100.00"), token="t-3")
    with pytest.raises(DuplicateRequest):
        withdraw(user=student, amount=D("5.00"), token="t-3")
    with pytest.raises(DuplicateRequest):
        debit(user=student, type="buy", amount=D("5.00"), token="t-3")
    assert_unchanged(student, D("10100.00"), 2)


def test_a_repeat_is_a_duplicate_even_after_deposits_closed(student, settings):
    deposit(user=student, amount=D("100.00"), token="t-4")
    settings.DEPOSITS_OPEN = False
    with pytest.raises(DuplicateRequest):
        deposit(user=student, amount=D("100.00"), token="t-4")


def test_a_repeat_names_the_users_own_movement_with_that_token(student, other_student):
    deposit(user=other_student, amount=D("5.00"), token="same")
    deposit(user=student, amount=D("100.00"), token="same")
    withdraw(user=other_student, amount=D("1.00"))  # a later row without the token

    with pytest.raises(DuplicateRequest) as excinfo:
        deposit(user=other_student, amount=D("5.00"), token="same")

    assert excinfo.value.message == (
        "That deposit of $5.00 was already made; it was recorded once, not twice."
    )


def test_tokens_are_per_user(student, other_student):
    deposit(user=student, amount=D("1.00"), token="same")
    deposit(user=other_student, amount=D("1.00"), token="same")
    assert cash(student) == cash(other_student) == D("10001.00")


def test_a_refused_movement_does_not_use_up_its_token(student):
    with pytest.raises(InsufficientFunds):
        withdraw(user=student, amount=D("20000.00"), token="t-5")
    withdraw(user=student, amount=D("20.00"), token="t-5")
    assert cash(student) == D("9980.00")


def test_the_starting_cash_token_cannot_be_reused_to_slip_past_the_cap(settings):
    settings.MAX_TOTAL_DEPOSITS = D("100.00")
    user = StudentFactory(cash="0.00")  # no starting-cash row holds the token

    with pytest.raises(LedgerError) as excinfo:
        deposit(user=user, amount=D("100.00"), token=services.OPENING_TOKEN)
    assert excinfo.value.message == "This form has expired: reload the page and try again."
    assert_unchanged(user, D("0.00"), 0)


def test_the_unique_constraint_catches_a_repeat_the_lookup_missed(student, monkeypatch):
    deposit(user=student, amount=D("100.00"), token="t-6")
    # As if a writer had raced past the check: only the constraint stands in the way.
    monkeypatch.setattr(services, "_token_used", lambda *args, **kwargs: False)

    with pytest.raises(DuplicateRequest) as excinfo:
        deposit(user=student, amount=D("100.00"), token="t-6")

    assert excinfo.value.original.amount == D("100.00")
    assert_unchanged(student, D("10100.00"), 2)


def test_a_repeat_the_constraint_caught_still_reports_the_balance_now(student, monkeypatch):
    # The deposit page tells the student their balance after a repeated form.
    deposit(user=student, amount=D("100.00"), token="t-6")
    withdraw(user=student, amount=D("30.00"))
    monkeypatch.setattr(services, "_token_used", lambda *args, **kwargs: False)

    with pytest.raises(DuplicateRequest) as excinfo:
        deposit(user=student, amount=D("100.00"), token="t-6")

    assert excinfo.value.balance == D("10070.00")


def test_a_refusal_inside_a_callers_transaction_leaves_it_usable(student, monkeypatch):
    """Trading calls debit/credit inside its own transaction: a refused movement rolls
    back only its own savepoint."""
    deposit(user=student, amount=D("1.00"), token="t-7")
    monkeypatch.setattr(services, "_token_used", lambda *args, **kwargs: False)

    with transaction.atomic():
        with pytest.raises(DuplicateRequest):
            credit(user=student, type="sell", amount=D("5.00"), token="t-7")
        with pytest.raises(InsufficientFunds):
            debit(user=student, type="buy", amount=D("999999.00"))
        debit(user=student, type="buy", amount=D("1.00"), symbol="ACME")

    assert cash(student) == D("10000.00")
    assert signed_sum(student) == D("10000.00")


def test_an_integrity_error_that_is_not_about_the_token_is_not_disguised(
    student, other_student, monkeypatch
):
    deposit(user=other_student, amount=D("1.00"), token="t-8")  # not this student's

    def broken_post(balance, **kwargs):
        raise IntegrityError("something else")

    monkeypatch.setattr(services, "_post", broken_post)
    with pytest.raises(IntegrityError):
        deposit(user=student, amount=D("1.00"), token="t-8")


# lock_account: the balance lock, the token check, holds ---------------------------------


def test_lock_account_refuses_a_used_token_without_breaking_the_callers_transaction(student):
    deposit(user=student, amount=D("100.00"), token="t-9")

    with transaction.atomic():
        with pytest.raises(DuplicateRequest) as excinfo:
            lock_account(user=student, token="t-9")
        # Refused before any write: the caller's transaction can still be used.
        assert Transaction.objects.filter(user=student).count() == 2

    assert excinfo.value.original.type == "deposit"
    assert excinfo.value.balance == D("10100.00")
    assert_unchanged(student, D("10100.00"), 2)


def test_an_account_journals_who_made_the_movement_and_no_description_by_default(
    student, instructor
):
    with transaction.atomic():
        account = lock_account(user=student)
        row = account.post(type="reset_credit", amount="5", created_by=instructor)

    assert (row.created_by, row.description, row.symbol) == (instructor, "", "")
    assert account.amount == cash(student) == D("10005.00")


@pytest.mark.django_db(transaction=True)
def test_lock_account_outside_a_transaction_is_refused(student):
    with pytest.raises(transaction.TransactionManagementError) as excinfo:
        lock_account(user=student)

    assert str(excinfo.value) == "lock_account needs the caller's transaction"
    assert_unchanged(student, D("10000.00"), 1)


def test_an_account_refuses_an_unknown_type_and_the_reserved_token(student):
    with transaction.atomic():
        account = lock_account(user=student)
        with pytest.raises(ValueError, match="^'bonus' is not a movement$"):
            account.post(type="bonus", amount="1")
        with pytest.raises(LedgerError) as excinfo:
            account.post(type="sell", amount="1", token="opening")
        with pytest.raises(LedgerError):
            lock_account(user=student, token="opening:3")

    assert excinfo.value.message == "This form has expired: reload the page and try again."
    assert_unchanged(student, D("10000.00"), 1)


def test_lock_account_without_a_cash_account_raises_no_account(instructor):
    with transaction.atomic(), pytest.raises(NoAccount):
        lock_account(user=instructor)


def test_held_cash_cannot_be_spent_withdrawn_or_held_twice(student):
    with transaction.atomic():
        account = lock_account(user=student)
        account.hold(D("9000.00"))
        assert (account.amount, account.held, account.available) == (
            D("10000.00"),
            D("9000.00"),
            D("1000.00"),
        )
        with pytest.raises(InsufficientFunds) as held_twice:
            account.hold(D("1000.01"))
        with pytest.raises(InsufficientFunds) as spent:
            account.post(type="buy", amount=D("1000.01"))
    with pytest.raises(InsufficientFunds) as withdrawn:
        withdraw(user=student, amount=D("1000.01"))

    assert "$1,000.00 free ($9,000.00 is held for your open orders)" in held_twice.value.message
    assert "$9,000.00 is held for your open orders, so $1,000.00 is free" in spent.value.message
    assert "$9,000.00 is held" in withdrawn.value.message
    assert Balance.objects.get(user=student).held == D("9000.00")
    withdraw(user=student, amount=D("1000.00"))  # the free cash, to the cent
    assert_unchanged(student, D("9000.00"), 2)


def test_releasing_frees_held_cash_and_never_more_than_is_held(student):
    with transaction.atomic():
        account = lock_account(user=student)
        account.hold(D("50.00"))
        account.release(D("20.00"))
        with pytest.raises(LedgerError):
            account.release(D("30.01"))
        account.release(D("30.00"))

    assert Balance.objects.get(user=student).held == D("0.00")


def test_the_database_keeps_held_cash_within_the_balance(student):
    with pytest.raises(IntegrityError), transaction.atomic():
        Balance.objects.filter(user=student).update(held=D("10000.01"))
    with pytest.raises(IntegrityError), transaction.atomic():
        Balance.objects.filter(user=student).update(held=D("-0.01"))


# debit and credit ----------------------------------------------------------------------


def test_credit_and_debit_journal_trade_rows_with_their_symbol(student):
    buy = debit(user=student, type="buy", amount=D("1234.56"), symbol="ACME", description="x")
    fee = debit(user=student, type="fee", amount=D("4.95"), symbol="ACME")
    sell = credit(user=student, type="sell", amount=D("1300.00"), symbol="ACME")

    assert (buy.symbol, buy.balance_after) == ("ACME", D("8765.44"))
    assert fee.balance_after == D("8760.49")
    assert fee.description == ""
    assert sell.balance_after == D("10060.49")
    assert cash(student) == signed_sum(student) == D("10060.49")
    assert sell.description == ""
    assert credit(user=student, type="reset_credit", amount="1").symbol == ""
    assert debit(user=student, type="reset_debit", amount="1").symbol == ""


def test_debit_beyond_the_balance_is_refused_and_changes_nothing(student):
    with pytest.raises(InsufficientFunds, match=r"you have \$10,000.00 and this needs"):
        debit(user=student, type="buy", amount=D("10000.01"))
    assert_unchanged(student, D("10000.00"), 1)


@pytest.mark.parametrize(
    ("move", "type"),
    [(credit, "withdrawal"), (credit, "buy"), (debit, "deposit"), (debit, "sell"), (debit, "x")],
)
def test_credit_and_debit_refuse_a_type_of_the_other_direction(student, move, type):
    direction = "credit" if move is credit else "debit"
    with pytest.raises(ValueError, match=f"^'{type}' is not a {direction}$"):
        move(user=student, type=type, amount=D("1.00"))
    assert_unchanged(student, D("10000.00"), 1)


def test_the_journal_runs_alongside_the_balance_through_every_kind_of_movement(student, instructor):
    deposit(user=student, amount=D("500.00"))
    withdraw(user=student, amount=D("200.00"))
    debit(user=student, type="buy", amount=D("1000.00"), symbol="ACME")
    debit(user=student, type="fee", amount=D("5.00"), symbol="ACME")
    credit(user=student, type="sell", amount=D("400.00"), symbol="ACME")
    grant(user=student, amount=D("100.00"), reason="Prize", instructor=instructor)
    debit(user=student, type="reset_debit", amount=D("9795.00"))
    credit(user=student, type="reset_credit", amount=D("10000.00"))

    running = D("0.00")
    for row in rows(student):
        running += row.signed_amount
        assert row.balance_after == running
    assert cash(student) == running == D("10000.00")


# grant ---------------------------------------------------------------------------------


def test_grant_credits_the_student_and_names_the_instructor(student, instructor):
    row = grant(user=student, amount="250", reason=" Won the quiz ", instructor=instructor)

    assert row.type == Transaction.Type.GRANT
    assert row.description == "Granted by teacher: Won the quiz"
    assert row.created_by == instructor
    assert row.amount == D("250.00")
    assert cash(student) == D("10250.00")


def test_grant_is_not_subject_to_the_deposit_rules(student, instructor, settings):
    settings.DEPOSITS_OPEN = False
    settings.MAX_DEPOSIT = D("10.00")
    settings.MAX_TOTAL_DEPOSITS = D("0.00")
    grant(user=student, amount=D("5000.00"), reason="Reset after a bug", instructor=instructor)
    assert cash(student) == D("15000.00")


def test_grant_needs_an_instructor_and_a_reason(student, other_student, instructor):
    for not_an_instructor in (other_student, None):
        with pytest.raises(LedgerError) as excinfo:
            grant(user=student, amount=D("5.00"), reason="Because", instructor=not_an_instructor)
        assert excinfo.value.message == "Only an instructor can grant cash."
    for reason in ("   ", None):
        with pytest.raises(LedgerError) as excinfo:
            grant(user=student, amount=D("5.00"), reason=reason, instructor=instructor)
        assert excinfo.value.message == (
            "Give a reason for the grant; the student sees it in their journal."
        )
    with pytest.raises(InvalidAmount):
        grant(user=student, amount=D("-5.00"), reason="Oops", instructor=instructor)
    assert_unchanged(student, D("10000.00"), 1)


def test_grant_with_a_token_is_made_once(student, instructor):
    grant(user=student, amount=D("5.00"), reason="Prize", instructor=instructor, token="g-1")
    with pytest.raises(DuplicateRequest):
        grant(user=student, amount=D("5.00"), reason="Prize", instructor=instructor, token="g-1")
    assert cash(student) == D("10005.00")


# open_account --------------------------------------------------------------------------


def test_open_account_journals_the_starting_cash(settings):
    settings.STARTING_CASH = D("2500.00")
    user = UserFactory()

    balance = open_account(user=user)

    assert balance.amount == D("2500.00")
    [row] = rows(user)
    assert balance.last_updated == row.timestamp
    assert (row.type, row.amount, row.balance_after, row.token, row.description) == (
        "deposit",
        D("2500.00"),
        D("2500.00"),
        services.OPENING_TOKEN,
        "Starting cash",
    )


def test_open_account_journals_a_starting_cash_under_a_dollar():
    user = UserFactory()

    assert open_account(user=user, starting_cash=D("0.50")).amount == D("0.50")
    assert [(row.amount, row.balance_after) for row in rows(user)] == [(D("0.50"), D("0.50"))]


def test_open_account_with_no_starting_cash_writes_no_row():
    user = UserFactory()
    assert open_account(user=user, starting_cash=D("0.00")).amount == D("0.00")
    assert rows(user) == []


def test_an_account_cannot_be_opened_twice(student):
    with pytest.raises(IntegrityError), transaction.atomic():
        open_account(user=student)
    assert_unchanged(student, D("10000.00"), 1)


# after-commit log line -----------------------------------------------------------------


def test_each_movement_logs_one_line_after_commit(
    student, caplog, django_capture_on_commit_callbacks
):
    with caplog.at_level(logging.INFO, logger="tradesim.ledger"):
        with django_capture_on_commit_callbacks() as callbacks:
            row = withdraw(user=student, amount=D("12.34"), token="secret-token-value")
        assert caplog.records == []  # nothing is said before the commit
        for callback in callbacks:
            callback()

    [record] = [r for r in caplog.records if r.name == "tradesim.ledger"]
    assert record.event == "cash.withdrawal"
    assert record.fields == {
        "user": "alice",
        "user_id": student.pk,
        "action": "withdrawal",
        "amount": "12.34",
        "balance": "9987.66",
        "row": row.pk,
        "result": "ok",
    }
    assert "secret-token-value" not in record.getMessage()


def test_the_log_line_names_the_symbol_and_the_instructor_who_moved_the_cash(
    student, instructor, caplog, django_capture_on_commit_callbacks
):
    with (
        caplog.at_level(logging.INFO, logger="tradesim.ledger"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        sale = credit(user=student, type="sell", amount="10.00", symbol="ACME")
        gift = grant(user=student, amount="5.00", reason="Prize", instructor=instructor)

    sold, granted = [r for r in caplog.records if r.name == "tradesim.ledger"]
    assert (sold.event, granted.event) == ("cash.sell", "cash.grant")
    assert sold.fields["symbol"] == "ACME" and "by" not in sold.fields
    assert granted.fields == {
        "user": "alice",
        "user_id": student.pk,
        "action": "grant",
        "amount": "5.00",
        "balance": "10015.00",
        "by": "teacher",
        "row": gift.pk,
        "result": "ok",
    }
    assert sale.pk < gift.pk


def test_a_refused_movement_logs_nothing(student, caplog, django_capture_on_commit_callbacks):
    with (
        caplog.at_level(logging.INFO, logger="tradesim.ledger"),
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(InsufficientFunds),
    ):
        withdraw(user=student, amount=D("99999.00"))
    assert callbacks == []
    assert [r for r in caplog.records if r.name == "tradesim.ledger"] == []


# The class's rules -----------------------------------------------------------------------

START = datetime(2027, 1, 11, 14, 30, tzinfo=UTC)
END = START + timedelta(days=30)


def student_in(**rules):
    return StudentFactory(classroom=ClassroomFactory(**rules))


def test_a_student_in_a_class_opens_with_its_starting_cash(settings):
    settings.STARTING_CASH = D("10000.00")
    user = student_in(starting_cash=D("25000.00"))

    (row,) = rows(user)
    assert (row.type, row.amount, row.description, row.token) == (
        "deposit",
        D("25000.00"),
        "Starting cash",
        f"{services.OPENING_TOKEN}:{user.classroom_id}",
    )
    assert cash(user) == D("25000.00")
    with pytest.raises(DuplicateRequest):  # the class's starting cash, once
        credit_starting_cash(user=user)


def test_a_student_in_no_class_opens_with_the_settings_starting_cash(settings):
    settings.STARTING_CASH = D("5000.00")
    ClassroomFactory(starting_cash=D("25000.00"))

    assert cash(StudentFactory()) == D("5000.00")


def test_a_class_that_gives_no_starting_cash_opens_an_empty_account():
    user = student_in(starting_cash=D("0.00"))

    assert_unchanged(user, D("0.00"), 0)


def join(user, classroom):
    user.classroom = classroom
    user.save(update_fields=["classroom"])


def test_joining_a_class_credits_its_starting_cash_once(student):
    join(student, ClassroomFactory(starting_cash=D("25000.00")))

    row = credit_starting_cash(user=student)

    assert (row.type, row.amount, row.description) == ("deposit", D("25000.00"), "Starting cash")
    assert cash(student) == D("35000.00") == signed_sum(student)
    with pytest.raises(DuplicateRequest):
        credit_starting_cash(user=student)
    assert_unchanged(student, D("35000.00"), 2)


def test_each_class_joined_gives_its_own_starting_cash_once(student):
    join(student, ClassroomFactory(starting_cash=D("100.00")))
    credit_starting_cash(user=student)
    join(student, ClassroomFactory(starting_cash=D("200.00")))

    credit_starting_cash(user=student)

    assert cash(student) == D("10300.00")


def test_starting_cash_may_be_given_as_an_amount(student):
    join(student, ClassroomFactory(starting_cash=D("25000.00")))

    with pytest.raises(InvalidAmount):
        credit_starting_cash(user=student, amount=D("0.00"))
    row = credit_starting_cash(user=student, amount="1500.00")

    assert row.amount == D("1500.00")


def test_a_class_that_gives_no_starting_cash_credits_nothing_on_joining(student):
    join(student, ClassroomFactory(starting_cash=D("0.00")))

    assert credit_starting_cash(user=student) is None
    assert_unchanged(student, D("10000.00"), 1)


def test_a_student_in_no_class_is_given_no_class_starting_cash(student):
    with pytest.raises(LedgerError) as no:
        credit_starting_cash(user=student)

    assert no.value.message == "Only a student in a class is given a class's starting cash."
    assert_unchanged(student, D("10000.00"), 1)


@pytest.mark.parametrize("amount", ["1.00", "0.50", "0.01"])
def test_a_class_starting_cash_of_a_dollar_or_less_is_still_given(student, amount):
    join(student, ClassroomFactory(starting_cash=D(amount)))

    row = credit_starting_cash(user=student)

    assert row.amount == D(amount)
    assert cash(student) == D("10000.00") + D(amount)


def test_a_late_joiner_gets_the_starting_cash_whatever_the_cash_rules(student, clock):
    room = ClassroomFactory(
        starting_cash=D("500.00"), deposits_open=False, starts_at=START, ends_at=END
    )
    join(student, room)
    clock(START + timedelta(days=20))

    credit_starting_cash(user=student)

    assert cash(student) == D("10500.00")


def test_the_class_starting_cash_is_outside_the_deposit_cap(student):
    join(student, ClassroomFactory(starting_cash=D("500.00"), max_total_deposits=D("100.00")))
    credit_starting_cash(user=student)

    deposit(user=student, amount=D("100.00"))

    assert cash(student) == D("10600.00")


def test_a_form_cannot_use_a_class_starting_cash_token(student):
    join(student, ClassroomFactory(max_total_deposits=D("100.00")))

    with pytest.raises(LedgerError, match="reload the page"):
        deposit(user=student, amount=D("100.00"), token=f"opening:{student.classroom_id}")
    assert_unchanged(student, D("10000.00"), 1)


def test_deposits_closed_by_the_class_are_refused_and_change_nothing(settings):
    settings.DEPOSITS_OPEN = True
    user = student_in(deposits_open=False)

    with pytest.raises(DepositsClosed, match="Deposits are closed for this class") as refused:
        deposit(user=user, amount=D("10.00"))

    assert refused.value.rule == "deposits_open"
    assert_unchanged(user, D("10000.00"), 1)


def test_a_class_with_deposits_open_is_not_closed_by_the_settings(settings):
    settings.DEPOSITS_OPEN = False
    user = student_in(deposits_open=True, max_total_deposits=None)

    deposit(user=user, amount=D("10.00"))

    assert cash(user) == D("10010.00")


def test_the_class_deposit_cap_reached_exactly_is_allowed_and_a_cent_over_is_refused(settings):
    settings.MAX_TOTAL_DEPOSITS = None
    user = student_in(max_total_deposits=D("1000.00"))
    deposit(user=user, amount=D("600.00"))

    with pytest.raises(DepositLimitExceeded, match=r"at most \$400.00 more") as refused:
        deposit(user=user, amount=D("400.01"))
    assert refused.value.rule == "max_total_deposits"
    assert_unchanged(user, D("10600.00"), 2)

    deposit(user=user, amount=D("400.00"))
    with pytest.raises(DepositLimitExceeded, match=r"reached the class limit of \$1,000.00"):
        deposit(user=user, amount=D("0.01"))
    assert_unchanged(user, D("11000.00"), 3)


def test_withdrawals_closed_by_the_class_are_refused_and_deposits_still_work():
    user = student_in(withdrawals_open=False, deposits_open=True)

    with pytest.raises(WithdrawalsClosed, match="Withdrawals are closed for this class") as no:
        withdraw(user=user, amount=D("10.00"))

    assert no.value.rule == "withdrawals_open"
    assert_unchanged(user, D("10000.00"), 1)
    deposit(user=user, amount=D("10.00"))
    assert cash(user) == D("10010.00")


def test_cash_moves_before_the_class_starts(clock):
    user = student_in(starts_at=START, ends_at=END, deposits_open=True)
    clock(START - timedelta(days=3))

    deposit(user=user, amount=D("10.00"))
    withdraw(user=user, amount=D("5.00"))

    assert cash(user) == D("10005.00")


@pytest.mark.parametrize(
    ("moment", "refused"),
    [(END - timedelta(seconds=1), False), (END, True), (END + timedelta(days=1), True)],
    ids=["the last second", "the end", "after"],
)
@pytest.mark.parametrize("move", [deposit, withdraw], ids=["deposit", "withdraw"])
def test_from_the_end_of_the_class_deposits_and_withdrawals_are_refused(
    clock, move, moment, refused
):
    user = student_in(starts_at=START, ends_at=END, deposits_open=True)
    clock(moment)

    if not refused:
        move(user=user, amount=D("10.00"))
        assert Transaction.objects.filter(user=user).count() == 2
        return
    with pytest.raises(RuleRefused, match="Your class ended") as no:
        move(user=user, amount=D("10.00"))
    assert no.value.rule == "ends_at"
    assert_unchanged(user, D("10000.00"), 1)


@pytest.mark.parametrize("cap", [None, D("500.00")], ids=["no cap", "a deposit cap"])
@pytest.mark.parametrize(
    ("move", "what"),
    [(deposit, "deposits"), (withdraw, "withdrawals")],
    ids=["deposit", "withdraw"],
)
def test_after_the_end_the_refusal_says_what_is_closed(clock, move, what, cap):
    user = student_in(starts_at=START, ends_at=END, deposits_open=True, max_total_deposits=cap)
    clock(END)

    with pytest.raises(RuleRefused) as no:
        move(user=user, amount=D("10.00"))

    assert no.value.message.endswith(f": {what} are closed and the standings are final.")


def test_a_deposit_up_to_the_cap_goes_through_in_the_last_second_of_the_class(clock):
    user = student_in(
        starts_at=START, ends_at=END, deposits_open=True, max_total_deposits=D("500.00")
    )
    clock(END - timedelta(seconds=1))

    deposit(user=user, amount=D("500.00"))

    assert cash(user) == D("10500.00")


def test_a_deposit_cap_costs_a_withdrawal_no_query():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for user in (student_in(max_total_deposits=D("500.00")), student_in()):
        with CaptureQueriesContext(connection) as queries:
            withdraw(user=user, amount=D("1.00"))
        counts.append(len(queries))

    assert counts[0] == counts[1]


def test_a_rule_change_applies_to_the_next_movement_without_reloading_the_student():
    user = student_in(deposits_open=True)
    deposit(user=user, amount=D("10.00"))
    Classroom.objects.filter(pk=user.classroom_id).update(deposits_open=False)

    with pytest.raises(DepositsClosed):
        deposit(user=user, amount=D("10.00"))


def test_a_student_in_no_class_is_not_held_to_any_class_rules(student, settings):
    settings.DEPOSITS_OPEN = True
    settings.MAX_TOTAL_DEPOSITS = None
    ClassroomFactory(
        deposits_open=False,
        withdrawals_open=False,
        max_total_deposits=D("0.00"),
        ends_at=timezone.now() - timedelta(days=1),
        starts_at=timezone.now() - timedelta(days=2),
    )

    deposit(user=student, amount=D("10.00"))
    withdraw(user=student, amount=D("20.00"))

    assert cash(student) == D("9990.00")
