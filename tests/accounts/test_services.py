"""Joining a class (accounts.services.join_class) and moving a student (move_student)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from accounts import code_attempts
from accounts.services import TooManyWrongCodes, join_class, move_student
from classrooms.services import AlreadyInClass, JoinRefused, UnknownCode
from ledger.models import Balance, Transaction
from ledger.services import deposit
from tests.factories import ClassroomFactory, PriceFactory, StudentFactory
from tradesim.models import AuditEntry
from trading.services import buy, sell

pytestmark = pytest.mark.django_db

User = get_user_model()
D = Decimal


@pytest.fixture
def period1():
    return ClassroomFactory(name="Period 1", join_code="KX7M3QPA", starting_cash=D("25000.00"))


@pytest.fixture
def period2():
    return ClassroomFactory(name="Period 2", join_code="HT4W9ZRE", starting_cash=D("50000.00"))


def cash(user) -> Decimal:
    return Balance.objects.get(user=user).amount


def journal(user) -> list[tuple]:
    return list(
        Transaction.objects.filter(user=user)
        .order_by("id")
        .values_list("type", "amount", "description", "balance_after")
    )


# Joining ------------------------------------------------------------------------------


def test_a_student_joins_with_the_code_and_starts_with_the_class_cash(student, period1):
    joined = join_class(user=student, code="KX7M3QPA")

    assert joined == period1
    assert student.classroom == period1
    assert User.objects.get(pk=student.pk).classroom == period1
    assert cash(student) == D("25000.00")
    assert journal(student) == [
        ("deposit", D("10000.00"), "Starting cash", D("10000.00")),
        (
            "reset_debit",
            D("10000.00"),
            "Set aside on joining Period 1: everyone in the class starts with $25,000.00",
            D("0.00"),
        ),
        ("deposit", D("25000.00"), "Starting cash", D("25000.00")),
    ]


@pytest.mark.parametrize("typed", ["kx7m3qpa", "KX7M-3QPA", " kx7m 3qpa ", "Kx7m-3Qpa"])
def test_codes_are_matched_in_any_case_with_spaces_and_hyphens_ignored(student, period1, typed):
    assert join_class(user=student, code=typed) == period1


def test_a_student_who_deposited_and_sold_starts_level_in_cash(student, period1):
    PriceFactory(symbol="ZAL", price=D("100.00"))
    deposit(user=student, amount=D("2500.00"))
    buy(user=student, symbol="ZAL", quantity=10)
    sell(user=student, symbol="ZAL", quantity=10)

    join_class(user=student, code="KX7M3QPA")

    assert cash(student) == D("25000.00")
    set_aside = Transaction.objects.get(user=student, type="reset_debit")
    assert set_aside.amount == D("12500.00")  # 10,000 + 2,500 − 1,000 + 1,000


def test_a_student_who_holds_shares_sells_them_before_joining(student, period1):
    """Otherwise spending all their cash on shares before joining would bring them the
    class's whole starting cash on top of the shares."""
    PriceFactory(symbol="ZAL", price=D("100.00"))
    buy(user=student, symbol="ZAL", quantity=10)
    before = journal(student)

    with pytest.raises(JoinRefused, match="you hold shares: sell them first"):
        join_class(user=student, code="KX7M3QPA")

    student.refresh_from_db()
    assert student.classroom is None
    assert journal(student) == before


def test_a_student_with_no_cash_left_gets_the_class_cash_and_nothing_set_aside(period1):
    broke = StudentFactory(cash="0")

    join_class(user=broke, code="KX7M3QPA")

    assert cash(broke) == D("25000.00")
    assert not Transaction.objects.filter(user=broke, type="reset_debit").exists()


def test_a_late_joiner_gets_the_class_starting_cash_journaled(student, period1):
    period1.starts_at = timezone.now() - timedelta(days=20)
    period1.ends_at = timezone.now() + timedelta(days=10)
    period1.save()

    join_class(user=student, code="KX7M3QPA")

    row = Transaction.objects.filter(user=student).latest("id")
    assert (row.type, row.amount, row.description) == ("deposit", D("25000.00"), "Starting cash")
    assert cash(student) == D("25000.00")


def test_the_class_starting_cash_is_not_counted_by_its_deposit_cap(student, period1):
    period1.max_total_deposits = D("500.00")
    period1.save()

    join_class(user=student, code="KX7M3QPA")
    student.refresh_from_db()
    deposit(user=student, amount="500.00")  # the whole cap is still the student's

    assert cash(student) == D("25500.00")


def test_deposits_from_before_joining_do_not_count_against_the_class_cap(student, period1):
    period1.max_total_deposits = D("500.00")
    period1.save()
    deposit(user=student, amount=D("2000.00"))  # in no class, set aside on joining

    join_class(user=student, code="KX7M3QPA")
    student.refresh_from_db()
    deposit(user=student, amount=D("500.00"))

    assert cash(student) == D("25500.00")


def test_rejoining_a_class_does_not_pay_its_starting_cash_twice(student, instructor, period1):
    join_class(user=student, code="KX7M3QPA")
    move_student(student=student, classroom=None, by=instructor)
    student.refresh_from_db()
    before = journal(student)

    with pytest.raises(JoinRefused, match="starting cash before"):
        join_class(user=student, code="KX7M3QPA")

    assert journal(student) == before


def test_a_class_that_has_not_started_can_be_joined(student, period1):
    period1.starts_at = timezone.now() + timedelta(days=3)
    period1.save()

    assert join_class(user=student, code="KX7M3QPA") == period1


def test_a_wrong_code_is_refused_and_changes_nothing(student, period1):
    with pytest.raises(UnknownCode, match="No class has the code KX7M3QPB; check it with"):
        join_class(user=student, code="kx7m-3qpb")

    assert User.objects.get(pk=student.pk).classroom is None
    assert cash(student) == D("10000.00")


def test_closed_joining_is_refused(student, period1):
    period1.joining_open = False
    period1.save()

    with pytest.raises(JoinRefused, match="Period 1 is not taking new students"):
        join_class(user=student, code="KX7M3QPA")
    assert User.objects.get(pk=student.pk).classroom is None


def test_the_last_seat_can_be_taken_and_then_the_class_is_full(student, other_student, period1):
    period1.seat_limit = 2
    period1.save()
    StudentFactory(classroom=period1)

    join_class(user=student, code="KX7M3QPA")  # the second of two seats
    with pytest.raises(JoinRefused, match="Period 1 is full: all 2 seats are taken"):
        join_class(user=other_student, code="KX7M3QPA")

    assert period1.students.count() == 2
    assert cash(other_student) == D("10000.00")


def test_a_class_that_has_ended_takes_no_one(student, period1):
    period1.starts_at = timezone.now() - timedelta(days=30)
    period1.ends_at = timezone.now() - timedelta(days=1)
    period1.save()

    with pytest.raises(JoinRefused, match="Period 1 ended on"):
        join_class(user=student, code="KX7M3QPA")


def test_a_second_class_is_refused_while_the_first_runs(student, period1, period2):
    period1.ends_at = timezone.now() + timedelta(days=5)
    period1.save()
    join_class(user=student, code="KX7M3QPA")

    with pytest.raises(JoinRefused, match="You are in Period 1 until it ends on .*one class at a"):
        join_class(user=student, code="HT4W9ZRE")

    assert User.objects.get(pk=student.pk).classroom == period1
    assert cash(student) == D("25000.00")


def test_a_second_class_is_refused_while_the_first_has_no_end(student, period1, period2):
    join_class(user=student, code="KX7M3QPA")

    with pytest.raises(JoinRefused, match="You are in Period 1, and a student is in one class"):
        join_class(user=student, code="HT4W9ZRE")


def test_after_the_first_class_ended_the_student_may_join_another(student, period1, period2):
    join_class(user=student, code="KX7M3QPA")
    period1.starts_at = timezone.now() - timedelta(days=30)
    period1.ends_at = timezone.now() - timedelta(seconds=1)
    period1.save()

    join_class(user=student, code="HT4W9ZRE")

    assert User.objects.get(pk=student.pk).classroom == period2
    assert cash(student) == D("50000.00")


def test_joining_the_class_one_is_in_already_changes_nothing(student, period1):
    join_class(user=student, code="KX7M3QPA")
    rows = Transaction.objects.count()

    with pytest.raises(AlreadyInClass, match="You are already in Period 1"):
        join_class(user=student, code="KX7M3QPA")

    assert Transaction.objects.count() == rows


def test_an_instructor_cannot_join_a_class(instructor, period1):
    with pytest.raises(JoinRefused, match="Instructors don't join classes"):
        join_class(user=instructor, code="KX7M3QPA")
    assert User.objects.get(pk=instructor.pk).classroom is None


# Wrong codes are rate-limited ---------------------------------------------------------


def test_too_many_wrong_codes_block_every_code_until_the_window_is_over(
    student, period1, monkeypatch
):
    for _ in range(code_attempts.PER_USER):
        with pytest.raises(UnknownCode):
            join_class(user=student, code="AAAAAAAA")

    with pytest.raises(TooManyWrongCodes, match="try again after") as refused:
        join_class(user=student, code="KX7M3QPA")  # the right code too
    assert User.objects.get(pk=student.pk).classroom is None

    later = refused.value.until + timedelta(seconds=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert join_class(user=student, code="KX7M3QPA") == period1


def test_wrong_codes_count_per_student(student, other_student, period1):
    for _ in range(code_attempts.PER_USER):
        with pytest.raises(UnknownCode):
            join_class(user=student, code="AAAAAAAA")

    assert join_class(user=other_student, code="KX7M3QPA") == period1


def test_a_refusal_for_a_real_code_is_not_counted_as_a_wrong_code(student, period1):
    period1.joining_open = False
    period1.save()
    for _ in range(code_attempts.PER_USER + 1):
        with pytest.raises(JoinRefused) as refused:
            join_class(user=student, code="KX7M3QPA")
        assert not isinstance(refused.value, TooManyWrongCodes)


def test_the_count_starts_over_after_a_successful_join(student, period1, period2):
    for _ in range(code_attempts.PER_USER - 1):
        with pytest.raises(UnknownCode):
            join_class(user=student, code="AAAAAAAA")
    join_class(user=student, code="KX7M3QPA")

    assert code_attempts.blocked_until(*code_attempts.for_user(student)) is None
    with pytest.raises(UnknownCode):
        join_class(user=student, code="AAAAAAAA")
    with pytest.raises(JoinRefused, match="You are in Period 1"):  # not "too many"
        join_class(user=student, code="HT4W9ZRE")


# Moving a student ---------------------------------------------------------------------


def test_moving_a_student_is_audited_and_keeps_their_cash(student, instructor, period1, period2):
    join_class(user=student, code="KX7M3QPA")

    entry = move_student(student=student, classroom=period2, by=instructor)

    assert User.objects.get(pk=student.pk).classroom == period2
    assert (entry.actor, entry.action, entry.student) == (instructor, "move_student", student)
    assert entry.detail == "Moved alice from Period 1 to Period 2"
    assert cash(student) == D("25000.00")


def test_moving_ignores_the_seat_limit_and_joining_being_closed(student, instructor, period2):
    period2.seat_limit = 1
    period2.joining_open = False
    period2.save()
    StudentFactory(classroom=period2)

    move_student(student=student, classroom=period2, by=instructor)

    assert period2.students.count() == 2


def test_putting_in_and_taking_out_of_a_class_read_plainly(student, instructor, period1):
    assert move_student(student=student, classroom=period1, by=instructor).detail == (
        "Put alice in Period 1"
    )
    assert move_student(student=student, classroom=None, by=instructor).detail == (
        "Took alice out of Period 1"
    )


def test_a_move_to_the_same_class_records_nothing(student, instructor, period1):
    move_student(student=student, classroom=period1, by=instructor)

    assert move_student(student=student, classroom=period1, by=instructor) is None
    assert AuditEntry.objects.count() == 1
