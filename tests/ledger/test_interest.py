"""Interest: at each simulated day's close a margin loan is charged its class's
loan rate and positive cash is paid the cash rate, 1/252 of the yearly rate a day, as one
journal row each, once per student and day."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from classrooms.rules import daily_interest
from ledger import services as ledger
from ledger.models import Balance, InterestDay, Transaction
from ledger.selectors import find_mismatches, statistics_for
from ledger.services import LedgerError, accrue_interest
from prices.services import advance_market
from prices.simulation import ONE_MINUTE
from tests.api.conftest import ApiClient, token_for
from tests.factories import ClassroomFactory, PriceFactory, StudentFactory
from tests.trading.orders import set_market_day
from trading import services as trading
from trading.services import fill_orders

pytestmark = pytest.mark.django_db

D = Decimal
T = Transaction.Type


@pytest.fixture
def margin_class():
    return ClassroomFactory(name="Leverage", margin=True, starting_cash=D("10000.00"))


@pytest.fixture
def saver_class():
    """Cash only, paying 4 % a year on cash."""
    return ClassroomFactory(name="Savers", cash_rate_percent=D("4"), starting_cash=D("10000.00"))


def borrow(user, loan: Decimal) -> None:
    """Spend all the student's cash and `loan` more, as a margin buy does: the cash goes
    to −loan, and the account is allowed exactly that loan."""
    with transaction.atomic():
        account = ledger.lock_account(user=user)
        account.allow_loan(loan)
        account.post(
            type=T.BUY,
            amount=account.amount + loan,
            symbol="ACME",
            description="Bought on margin",
            borrow=True,
        )


def borrower(classroom, name="mia", loan="10000.00"):
    student = StudentFactory(username=name, classroom=classroom)
    borrow(student, D(loan))
    return student


def balance(user) -> Balance:
    return Balance.objects.get(user=user)


def interest_rows(user, type=T.INTEREST):
    return list(Transaction.objects.filter(user=user, type=type).order_by("id"))


def ledger_ok() -> str:
    out = io.StringIO()
    call_command("check_ledger", stdout=out)  # raises CommandError on any mismatch
    return out.getvalue()


# The formula ----------------------------------------------------------------------------


def test_a_days_interest_is_the_yearly_rate_over_252_in_whole_cents():
    assert daily_interest(D("10000.00"), D("8")) == D("3.17")  # 3.1746…
    assert daily_interest(D("10000.00"), D("4")) == D("1.59")  # 1.5873…
    assert daily_interest(D("10001.25"), D("8")) == D("3.18")  # 3.175 rounds half up
    assert daily_interest(D("15.75"), D("8")) == D("0.01")  # 0.005 rounds up to a cent
    assert daily_interest(D("15.74"), D("8")) == D("0.00")


# Worked example: interest over a simulated month ---------------------------------------


def test_a_10000_loan_at_8_percent_over_a_simulated_month(margin_class):
    student = borrower(margin_class)
    assert balance(student).amount == D("-10000.00")

    for day in range(1, 22):  # 21 trading days: a month
        summary = accrue_interest(day=day)
        assert (summary.charged, summary.paid, summary.failed) == (1, 0, 0)

    rows = interest_rows(student)
    assert len(rows) == 21
    # Day 1 charges $3.17 on the $10,000. The interest is added to the loan, so from day 2
    # the loan is $10,003.17 and a day costs $3.18 (3.1756…), and from day 12 $3.19: the
    # month costs $66.87, not 21 × $3.17 = $66.57. Each day is computed on the cash the
    # close finds, as the journal says.
    amounts = [row.amount for row in rows]
    assert amounts == [D("3.17")] + [D("3.18")] * 10 + [D("3.19")] * 10
    assert sum(amounts) == D("66.87")
    assert balance(student).amount == D("-10066.87")
    # The interest is borrowed too: the allowed loan grew with it.
    assert balance(student).loan_limit == D("10066.87")
    assert rows[0].description == (
        "Interest on your margin loan of $10,000.00 at 8 % a year (day 1)"
    )
    assert rows[1].description == (
        "Interest on your margin loan of $10,003.17 at 8 % a year (day 2)"
    )
    assert rows[-1].balance_after == D("-10066.87")
    assert [row.token for row in rows] == [f"interest:{day}" for day in range(1, 22)]
    assert "Ledger OK" in ledger_ok()
    assert InterestDay.objects.count() == 21


def test_cash_earns_the_cash_rate_in_any_class(saver_class):
    student = StudentFactory(username="sam", classroom=saver_class)  # $10,000, margin off

    summary = accrue_interest(day=7)

    assert (summary.charged, summary.paid) == (0, 1)
    assert summary.cash_interest == D("1.59")
    [row] = interest_rows(student, T.CASH_INTEREST)
    assert row.amount == D("1.59") and row.is_credit
    assert row.description == "Interest on your cash of $10,000.00 at 4 % a year (day 7)"
    assert row.token == "cash-interest:7"
    assert balance(student).amount == D("10001.59")
    assert str(summary) == "interest: 1 account"
    assert find_mismatches() == []


def test_a_margin_class_with_a_cash_rate_charges_the_loans_and_pays_the_cash(margin_class):
    margin_class.cash_rate_percent = D("4")
    margin_class.save()
    owes = borrower(margin_class, "owes")
    saves = StudentFactory(username="saves", classroom=margin_class)

    summary = accrue_interest(day=3)

    assert (summary.charged, summary.paid, summary.accounts) == (1, 1, 2)
    assert balance(owes).amount == D("-10003.17")
    assert interest_rows(owes, T.CASH_INTEREST) == []
    assert balance(saves).amount == D("10001.59")
    assert interest_rows(saves) == []
    assert str(summary) == "interest: 2 accounts"


def test_a_class_with_margin_off_charges_no_loan_interest(margin_class):
    student = borrower(margin_class)
    margin_class.margin = False  # switched off after the student borrowed
    margin_class.save()

    summary = accrue_interest(day=1)

    assert summary.accounts == 0
    assert interest_rows(student) == []
    assert balance(student).amount == D("-10000.00")


def test_no_rate_means_no_rows(margin_class):
    margin_class.loan_rate_percent = D("0")
    margin_class.save()
    owes = borrower(margin_class, "owes")
    saves = StudentFactory(username="saves", classroom=margin_class)  # cash rate 0: default

    summary = accrue_interest(day=1)

    assert summary.accounts == 0
    assert Transaction.objects.filter(type__in=[T.INTEREST, T.CASH_INTEREST]).count() == 0
    assert balance(owes).amount == D("-10000.00")
    assert balance(saves).amount == D("10000.00")


def test_a_student_in_no_class_gets_nothing(settings):
    loner = StudentFactory(username="loner")  # the settings' rulebook: no rates
    borrow(loner, D("500.00"))
    saver = StudentFactory(username="saver")

    assert accrue_interest(day=1).accounts == 0
    assert Transaction.objects.filter(type__in=[T.INTEREST, T.CASH_INTEREST]).count() == 0
    assert balance(loner).amount == D("-500.00")
    assert balance(saver).amount == D("10000.00")


def test_less_than_half_a_cent_is_no_row(margin_class, saver_class):
    tiny_loan = borrower(margin_class, "tiny", loan="15.74")
    little_cash = StudentFactory(username="little", classroom=saver_class)
    ledger.debit(user=little_cash, type=T.BUY, amount=D("9968.51"), symbol="ACME")  # $31.49

    summary = accrue_interest(day=1)

    assert summary.accounts == 0
    assert Transaction.objects.filter(type__in=[T.INTEREST, T.CASH_INTEREST]).count() == 0
    assert balance(tiny_loan).amount == D("-15.74")
    assert InterestDay.objects.filter(day=1).exists()


def test_a_class_not_under_way_accrues_nothing(margin_class, saver_class):
    now = timezone.now()
    margin_class.ends_at = now - timedelta(days=1)
    margin_class.starts_at = now - timedelta(days=30)
    margin_class.save()
    saver_class.starts_at = now + timedelta(days=1)
    saver_class.save()
    owes = borrower(margin_class, "owes")
    saves = StudentFactory(username="saves", classroom=saver_class)

    assert accrue_interest(day=1, now=now).accounts == 0
    assert balance(owes).amount == D("-10000.00")
    assert balance(saves).amount == D("10000.00")


# Once per day -----------------------------------------------------------------------------


def test_accruing_a_day_twice_charges_it_once(margin_class, saver_class):
    owes = borrower(margin_class, "owes")
    saves = StudentFactory(username="saves", classroom=saver_class)

    first = accrue_interest(day=5)
    again = accrue_interest(day=5)

    assert first.accounts == 2
    assert again.already and again.accounts == 0
    # Even without the day's record (a run that stopped before writing it), the rows'
    # tokens keep anyone from being charged or paid twice.
    InterestDay.objects.all().delete()
    assert accrue_interest(day=5).accounts == 0
    assert len(interest_rows(owes)) == 1 and len(interest_rows(saves, T.CASH_INTEREST)) == 1
    assert balance(owes).amount == D("-10003.17")
    assert balance(saves).amount == D("10001.59")
    assert find_mismatches() == []


def test_the_interest_tokens_are_reserved_for_the_close(saver_class):
    student = StudentFactory(username="sneaky", classroom=saver_class)
    for token in ("interest:1", "cash-interest:1"):
        with pytest.raises(LedgerError):
            ledger.deposit(user=student, amount=D("1.00"), token=token)
        with pytest.raises(LedgerError), transaction.atomic():
            ledger.lock_account(user=student, token=token)

    assert accrue_interest(day=1).paid == 1


def test_interest_may_take_the_cash_below_the_loan_allowed_and_counts_the_holds(margin_class):
    student = borrower(margin_class, loan="5000.00")
    with transaction.atomic():
        ledger.lock_account(user=student).allow_loan(D("6000.00"))
        ledger.lock_account(user=student).hold(D("1000.00"), borrow=True)  # an open buy
    assert (balance(student).amount, balance(student).held) == (D("-5000.00"), D("1000.00"))

    accrue_interest(day=1)

    row = balance(student)
    assert row.amount == D("-5001.59")  # $5,000 × 8 % ÷ 252 = 1.5873…
    # The loan the account may carry covers the cash and the hold.
    assert row.loan_limit == D("6001.59")


# Fixed queries ------------------------------------------------------------------------------


def _accrual_queries(day: int) -> int:
    with CaptureQueriesContext(connection) as queries:
        summary = accrue_interest(day=day)
    assert summary.failed == 0
    return len(queries.captured_queries), summary.charged


def test_finding_the_students_takes_a_fixed_number_of_queries(margin_class, saver_class):
    other_margin = ClassroomFactory(name="Leverage 2", margin=True)
    for i in range(2):
        borrower(margin_class if i % 2 else other_margin, f"early{i}")
    StudentFactory(username="loner")  # in no class: never visited
    StudentFactory(username="idle", classroom=margin_class)  # no cash rate: never visited

    two, charged = _accrual_queries(day=1)
    assert charged == 2
    for i in range(4):
        borrower(margin_class if i % 2 else other_margin, f"late{i}")
    six, charged = _accrual_queries(day=2)
    assert charged == 6

    # Three for the day, however many students and classes: is it on record, who owes or
    # earns (one query joining users, balances and classes), and the record. Each student
    # charged then costs the same statements: a savepoint and its release (the test's
    # transaction; a real tick opens a transaction instead), the balance lock, the day's
    # tokens, the allowed loan, the journal row and the balance.
    per_student = (six - two) // 4
    assert six - two == 4 * per_student
    assert per_student == 7
    assert two - 2 * per_student == 3


# At the close, through a real tick ---------------------------------------------------


@pytest.fixture
def acme(db):
    return PriceFactory(symbol="ACME", price=D("100.00"))


def tick(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return advance_market(seed=1)


def test_the_closing_tick_accrues_the_days_interest(
    margin_class, saver_class, acme, django_capture_on_commit_callbacks
):
    owes = StudentFactory(username="owes", classroom=margin_class)
    trading.buy(user=owes, symbol="ACME", quantity=150)  # $15,000: a $5,000 loan
    assert balance(owes).amount == D("-5000.00")
    saves = StudentFactory(username="saves", classroom=saver_class)
    set_market_day(day=3, elapsed=1 - 2 * ONE_MINUTE)
    InterestDay.objects.create(day=2)  # day 2's close was accrued

    result = tick(django_capture_on_commit_callbacks)  # the day's last minute but one
    assert result.clock != "close"
    assert "interest" not in result.summary()
    assert Transaction.objects.filter(type__in=[T.INTEREST, T.CASH_INTEREST]).count() == 0

    result = tick(django_capture_on_commit_callbacks)  # the close of day 3
    assert result.clock == "close"
    assert "interest: 2 accounts" in result.summary()
    [charged] = interest_rows(owes)
    assert charged.amount == D("1.59") and charged.token == "interest:3"
    [paid] = interest_rows(saves, T.CASH_INTEREST)
    assert paid.amount == D("1.59") and paid.token == "cash-interest:3"

    result = tick(django_capture_on_commit_callbacks)  # day 4 opens: day 3 is done
    assert result.trading_day == 4
    assert "interest" not in result.summary()
    assert len(interest_rows(owes)) == 1 and len(interest_rows(saves, T.CASH_INTEREST)) == 1
    assert "Ledger OK" in ledger_ok()  # the journal, and the holds


@pytest.mark.django_db(transaction=True)
def test_the_tick_prices_command_reports_the_interest(margin_class, acme):
    borrower(margin_class)
    set_market_day(day=1, elapsed=1 - ONE_MINUTE)
    out = io.StringIO()

    call_command("tick_prices", "--seed", "7", stdout=out)

    assert "interest: 1 account" in out.getvalue()
    assert balance(Balance.objects.get().user).amount == D("-10003.17")


def test_a_close_whose_interest_was_missed_is_caught_up_at_the_next_tick(margin_class):
    student = borrower(margin_class)
    # The tick that closed day 1 accrued nothing (its hook failed, say); day 2 is under way.
    set_market_day(day=2, elapsed=0.5)

    summary = fill_orders()

    assert summary.interest == 1
    assert "interest: 1 account" in str(summary)
    [row] = interest_rows(student)
    assert row.token == "interest:1"
    assert fill_orders().interest == 0  # and only once


def test_a_loan_taken_after_a_close_is_not_charged_for_that_day(margin_class):
    set_market_day(day=1, elapsed=1.0)
    fill_orders()  # day 1's close: nobody owes anything
    assert InterestDay.objects.filter(day=1, accounts=0).exists()
    student = borrower(margin_class)  # borrows on day 2
    set_market_day(day=2, elapsed=0.5)

    assert fill_orders().interest == 0
    assert interest_rows(student) == []

    set_market_day(day=2, elapsed=1.0)  # day 2's close
    assert fill_orders().interest == 1
    assert [row.token for row in interest_rows(student)] == ["interest:2"]


def test_a_failing_accrual_is_logged_and_the_other_steps_go_on(margin_class, monkeypatch, caplog):
    borrower(margin_class)
    set_market_day(day=1, elapsed=1.0)

    def accrue_interest(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(ledger, "accrue_interest", accrue_interest)
    summary = fill_orders()

    assert summary.failed == 1 and summary.interest == 0
    assert "accrue_interest failed after a tick" in caplog.text


def test_one_students_failure_leaves_the_day_open_for_the_next_tick(margin_class, monkeypatch):
    first = borrower(margin_class, "first")
    second = borrower(margin_class, "second")
    real = ledger._accrue_for

    def fails_for_first(user, *, day):
        if user.pk == first.pk:
            raise RuntimeError("boom")
        return real(user, day=day)

    monkeypatch.setattr(ledger, "_accrue_for", fails_for_first)
    summary = accrue_interest(day=1)
    assert (summary.charged, summary.failed) == (1, 1)
    assert "1 failed" in str(summary)
    assert not InterestDay.objects.filter(day=1).exists()

    monkeypatch.setattr(ledger, "_accrue_for", real)
    assert accrue_interest(day=1).charged == 1  # the first, now; the second not again
    assert len(interest_rows(first)) == len(interest_rows(second)) == 1


# Interest is a gain or a loss, not a contribution ------------------------------------------


def test_interest_is_not_a_contribution_in_the_journal_statistics(margin_class, saver_class):
    owes = borrower(margin_class, "owes")
    saves = StudentFactory(username="saves", classroom=saver_class)
    accrue_interest(day=1)

    owed = statistics_for(owes)
    assert owed.net_contributions == D("10000.00")
    assert owed.interest_charged == D("3.17") and owed.net_interest == D("-3.17")
    assert owed.net_change == balance(owes).amount == D("-10003.17")
    saved = statistics_for(saves)
    assert saved.net_contributions == D("10000.00")
    assert saved.interest_earned == D("1.59")
    assert saved.net_change == balance(saves).amount == D("10001.59")


# Where a student reads it -------------------------------------------------------------------


@pytest.fixture
def charged_and_paid(margin_class):
    """mia owes interest on a loan and earns it on cash, over two days."""
    margin_class.cash_rate_percent = D("4")
    margin_class.save()
    student = borrower(margin_class)
    accrue_interest(day=1)
    ledger.deposit(user=student, amount=D("20000.00"))
    accrue_interest(day=2)
    return student


def test_the_journal_page_labels_and_filters_the_interest_rows(client, charged_and_paid):
    client.force_login(charged_and_paid)

    page = client.get(reverse("ledger:journal")).content.decode()
    assert "Margin interest" in page and "Interest on cash" in page
    assert "Interest on your margin loan of $10,000.00 at 8 % a year (day 1)" in page
    assert "Interest on your cash of $9,996.83 at 4 % a year (day 2)" in page
    assert "$3.17 charged on your margin loan" in page
    assert "$1.59 earned on your cash" in page
    # The type filter offers both, and finds each.
    assert '<option value="interest">Margin interest</option>' in page
    assert '<option value="cash_interest">Interest on cash</option>' in page
    only = client.get(reverse("ledger:journal"), {"type": "cash_interest"}).content.decode()
    assert "Interest on your cash" in only and "Interest on your margin loan" not in only


def test_the_csv_export_and_the_api_name_the_interest_rows(client, charged_and_paid):
    client.force_login(charged_and_paid)

    response = client.get(reverse("ledger:journal"), {"format": "csv", "type": "interest"})
    body = b"".join(response.streaming_content).decode()
    [header, row] = list(csv.reader(io.StringIO(body)))
    assert header[1:5] == ["Type", "Symbol", "Description", "Amount"]
    assert row[1:5] == [
        "Margin interest",
        "",
        "Interest on your margin loan of $10,000.00 at 8 % a year (day 1)",
        "-3.17",
    ]

    api = ApiClient(token_for(charged_and_paid))
    data = api.get("/journal", {"type": "cash_interest"}).json()["data"]
    assert [(r["type"], r["amount"]) for r in data] == [("cash_interest", "1.59")]
    data = api.get("/journal", {"type": "interest"}).json()["data"]
    assert [(r["type"], r["amount"]) for r in data] == [("interest", "-3.17")]
