"""Reads of cash: the journal and its filters, the statistics, allowances, the ledger check."""

import zoneinfo
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from ledger.models import Balance, Transaction
from ledger.selectors import (
    JournalFilters,
    balance_of,
    deposit_allowance_for,
    find_mismatches,
    journal_for,
    statistics_for,
    withdrawals_closed_for,
)
from ledger.services import credit, debit, deposit, grant, withdraw
from tests.factories import (
    BalanceFactory,
    ClassroomFactory,
    StudentFactory,
    TransactionFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

D = Decimal


def at(text: str, tz: str = "UTC") -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=zoneinfo.ZoneInfo(tz))


def worked_example(student, instructor):
    """Starting cash 10,000, then every kind of movement once or twice."""
    deposit(user=student, amount=D("500.00"))
    withdraw(user=student, amount=D("200.00"))
    grant(user=student, amount=D("100.00"), reason="Quiz prize", instructor=instructor)
    debit(user=student, type="buy", amount=D("1000.00"), symbol="ACME")
    debit(user=student, type="fee", amount=D("5.00"), symbol="ACME")
    debit(user=student, type="buy", amount=D("250.00"), symbol="BOLT")
    debit(user=student, type="fee", amount=D("5.00"), symbol="BOLT")
    credit(user=student, type="sell", amount=D("400.00"), symbol="ACME")
    debit(user=student, type="fee", amount=D("5.00"), symbol="ACME")


# statistics ----------------------------------------------------------------------------


def test_statistics_on_the_worked_example(student, instructor):
    worked_example(student, instructor)

    stats = statistics_for(student)

    assert stats.deposited == D("10500.00")  # 10,000 starting cash + 500
    assert stats.withdrawn == D("200.00")
    assert stats.granted == D("100.00")
    assert stats.adjustments == D("0.00")
    assert stats.net_contributions == D("10400.00")
    assert (stats.buy_count, stats.buy_volume) == (2, D("1250.00"))
    assert (stats.sell_count, stats.sell_volume) == (1, D("400.00"))
    assert stats.fees == D("15.00")
    assert stats.row_count == 10
    # 10,400 − 1,250 + 400 − 15: unfiltered, the net change is the balance itself.
    assert stats.net_change == D("9535.00") == balance_of(student)


def test_statistics_follow_the_filters(student, instructor):
    worked_example(student, instructor)

    acme = statistics_for(student, JournalFilters(symbol="acme"))
    assert (acme.buy_count, acme.buy_volume, acme.sell_volume, acme.fees) == (
        1,
        D("1000.00"),
        D("400.00"),
        D("10.00"),
    )
    assert acme.deposited == D("0.00")

    fees = statistics_for(student, JournalFilters(type="fee"))
    assert (fees.fees, fees.row_count, fees.buy_count) == (D("15.00"), 3, 0)


def test_statistics_of_an_empty_journal_are_zero():
    user = UserFactory()
    stats = statistics_for(user)
    assert stats.deposited == stats.fees == stats.net_contributions == D("0.00")
    assert stats.buy_count == stats.row_count == 0


def test_statistics_count_reset_adjustments_as_contributions(student):
    debit(user=student, type="reset_debit", amount=D("300.00"))
    credit(user=student, type="reset_credit", amount=D("50.00"))
    stats = statistics_for(student)
    assert stats.adjustments == D("-250.00")
    assert stats.net_contributions == D("9750.00") == balance_of(student)


def test_statistics_are_one_query(student, instructor, django_assert_num_queries):
    worked_example(student, instructor)
    with django_assert_num_queries(1):
        statistics_for(student, JournalFilters(start=date(2000, 1, 1)))


# journal_for ---------------------------------------------------------------------------


def test_journal_is_the_users_own_rows_newest_first(student, other_student):
    deposit(user=student, amount=D("1.00"), description="first")
    deposit(user=other_student, amount=D("2.00"), description="not yours")
    deposit(user=student, amount=D("3.00"), description="second")

    descriptions = [row.description for row in journal_for(student)]

    assert descriptions == ["second", "first", "Starting cash"]


def test_rows_at_the_same_instant_are_ordered_newest_id_first(student):
    now = timezone.now()
    a = TransactionFactory(user=student, timestamp=now, balance_after=D("1"))
    b = TransactionFactory(user=student, timestamp=now, balance_after=D("2"))
    assert list(journal_for(student, JournalFilters(start=now.date())))[:2] == [b, a]


def test_journal_filters_by_type_and_symbol(student, instructor):
    worked_example(student, instructor)

    assert {r.type for r in journal_for(student, JournalFilters(type="fee"))} == {"fee"}
    acme = list(journal_for(student, JournalFilters(symbol="ACME")))
    assert [r.type for r in acme] == ["fee", "sell", "fee", "buy"]
    assert list(journal_for(student, JournalFilters(type="buy", symbol="BOLT")))[0].amount == D(
        "250.00"
    )


def test_date_filters_are_inclusive_days_in_the_sites_time_zone(student, settings):
    settings.TIME_ZONE = "America/New_York"
    Transaction.objects.filter(user=student).update(timestamp=at("2026-01-01T12:00"))
    for when, text in [
        ("2026-03-13T23:59:59", "before"),
        ("2026-03-14T00:00:00", "first instant"),
        ("2026-03-14T23:30:00", "late evening"),  # already March 15 in UTC
        ("2026-03-15T23:59:59", "last instant"),
        ("2026-03-16T00:00:00", "after"),
    ]:
        TransactionFactory(user=student, timestamp=at(when, "America/New_York"), description=text)

    with timezone.override("America/New_York"):
        both = journal_for(student, JournalFilters(start=date(2026, 3, 14), end=date(2026, 3, 15)))
        only_14 = journal_for(
            student, JournalFilters(start=date(2026, 3, 14), end=date(2026, 3, 14))
        )
        from_16 = journal_for(student, JournalFilters(start=date(2026, 3, 16)))

        assert [r.description for r in both] == ["last instant", "late evening", "first instant"]
        assert [r.description for r in only_14] == ["late evening", "first instant"]
        assert [r.description for r in from_16] == ["after"]


# deposit allowance ---------------------------------------------------------------------


def test_deposit_allowance_without_a_cap(student, settings):
    settings.MAX_DEPOSIT = D("750.00")
    allowance = deposit_allowance_for(student)
    assert allowance.remaining is None
    assert allowance.largest == D("750.00")
    assert allowance.can_deposit


def test_deposit_allowance_with_a_cap_counts_own_deposits(student, settings):
    settings.MAX_TOTAL_DEPOSITS = D("1000.00")
    settings.MAX_DEPOSIT = D("750.00")
    deposit(user=student, amount=D("600.00"))

    allowance = deposit_allowance_for(student)

    assert (allowance.deposited, allowance.remaining, allowance.largest) == (
        D("600.00"),
        D("400.00"),
        D("400.00"),
    )
    deposit(user=student, amount=D("400.00"))
    assert not deposit_allowance_for(student).can_deposit


def test_deposit_allowance_when_closed(student, settings):
    settings.DEPOSITS_OPEN = False
    assert not deposit_allowance_for(student).can_deposit


def test_deposit_allowance_follows_the_students_class(settings, django_assert_num_queries):
    settings.MAX_TOTAL_DEPOSITS = None
    settings.MAX_DEPOSIT = D("750.00")
    user = StudentFactory(classroom=ClassroomFactory(max_total_deposits=D("1000.00")))
    deposit(user=user, amount=D("600.00"))

    with django_assert_num_queries(2):  # the class, the deposits so far
        allowance = deposit_allowance_for(user)

    assert (allowance.max_total, allowance.remaining, allowance.largest) == (
        D("1000.00"),
        D("400.00"),
        D("400.00"),
    )
    assert allowance.closed is None and allowance.can_deposit


def test_deposit_allowance_of_a_class_that_closed_deposits_or_ended():
    closed = StudentFactory(classroom=ClassroomFactory(deposits_open=False))
    over = StudentFactory(
        classroom=ClassroomFactory(
            deposits_open=True,
            starts_at=timezone.now() - timedelta(days=30),
            ends_at=timezone.now() - timedelta(seconds=1),
        )
    )

    assert deposit_allowance_for(closed).closed.rule == "deposits_open"
    assert deposit_allowance_for(over).closed.rule == "ends_at"
    assert not deposit_allowance_for(over).can_deposit


def test_withdrawals_closed_for_a_student_says_why(student, django_assert_num_queries):
    closed = StudentFactory(classroom=ClassroomFactory(withdrawals_open=False))

    with django_assert_num_queries(0):
        assert withdrawals_closed_for(student) is None
    assert withdrawals_closed_for(closed).rule == "withdrawals_open"


def test_balance_of_a_user_without_an_account_is_none(instructor, student):
    assert balance_of(instructor) is None
    assert balance_of(student) == D("10000.00")


# find_mismatches -----------------------------------------------------------------------


def test_a_consistent_ledger_has_no_mismatches(student, other_student, instructor):
    worked_example(student, instructor)
    deposit(user=other_student, amount=D("0.10"))
    deposit(user=other_student, amount=D("0.20"))  # 0.1 + 0.2 in floating point is not 0.3
    withdraw(user=other_student, amount=D("0.30"))
    UserFactory()  # no balance, no rows: fine
    assert find_mismatches() == []


def test_a_balance_changed_behind_the_ledgers_back_is_found(student, other_student):
    Balance.objects.filter(user=student).update(amount=D("10000.01"))

    [mismatch] = find_mismatches()

    assert tuple(mismatch) == (student.pk, "alice", D("10000.01"), D("10000.00"))
    assert mismatch.difference == D("0.01")


def test_a_journal_row_added_behind_the_ledgers_back_is_found(student):
    TransactionFactory(user=student, type="withdrawal", amount=D("5.00"))
    [mismatch] = find_mismatches()
    assert (mismatch.balance, mismatch.journal_total) == (D("10000.00"), D("9995.00"))


def test_a_balance_without_rows_and_rows_without_a_balance_are_found():
    lonely_balance = BalanceFactory(amount=D("100.00"))
    BalanceFactory(amount=D("0.00"))  # zero with no rows is consistent
    orphan_rows = UserFactory(username="orphan")
    TransactionFactory(user=orphan_rows, amount=D("25.00"))

    mismatches = find_mismatches()

    assert [(m.user_id, m.balance, m.journal_total) for m in mismatches] == [
        (lonely_balance.user_id, D("100.00"), D("0.00")),
        (orphan_rows.pk, None, D("25.00")),
    ]


def test_find_mismatches_is_one_query_for_any_number_of_users(django_assert_num_queries):
    for i in range(5):
        user = StudentFactory(username=f"s{i}", cash="100.00")
        deposit(user=user, amount=D("1.00"))
    Balance.objects.filter(user__username="s3").update(amount=D("0.00"))

    with django_assert_num_queries(1):
        mismatches = find_mismatches()

    assert [m.username for m in mismatches] == ["s3"]
