"""Joining under concurrent requests, on PostgreSQL with real threads and row locks."""

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from accounts.services import join_class, register_student
from classrooms.models import Classroom
from classrooms.services import AlreadyInClass, JoinRefused
from ledger.models import Balance, Transaction
from tests.concurrency import run_concurrently
from tests.factories import ClassroomFactory, StudentFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

User = get_user_model()


@pytest.fixture
def last_seat():
    """Period 1 with 3 seats, 2 taken."""
    room = ClassroomFactory(
        name="Period 1", join_code="KX7M3QPA", seat_limit=3, starting_cash=Decimal("25000")
    )
    StudentFactory.create_batch(2, classroom=room)
    return room


def test_students_racing_for_the_last_seat_get_it_once(last_seat):
    racers = StudentFactory.create_batch(6)

    results = run_concurrently(
        [lambda user=user: join_class(user=user, code="KX7M3QPA") for user in racers]
    )

    joined = [r for r in results if isinstance(r, Classroom)]
    full = [r for r in results if isinstance(r, JoinRefused) and "is full" in r.message]
    assert (len(joined), len(full)) == (1, 5), results
    assert last_seat.students.count() == 3
    winner = User.objects.get(classroom=last_seat, pk__in=[u.pk for u in racers])
    assert Balance.objects.get(user=winner).amount == Decimal("25000.00")
    for loser in User.objects.filter(pk__in=[u.pk for u in racers]).exclude(pk=winner.pk):
        assert Balance.objects.get(user=loser).amount == Decimal("10000.00")


def test_sign_ups_racing_for_the_last_seat_create_one_student(last_seat):
    def sign_up(n):
        return register_student(
            username=f"new{n}",
            email=f"new{n}@school.example",
            password="Tr4ding-Floor-2026",
            class_code="KX7M3QPA",
        )

    results = run_concurrently([lambda n=n: sign_up(n) for n in range(4)])

    refused = [r for r in results if isinstance(r, JoinRefused)]
    assert len(refused) == 3, results
    assert last_seat.students.count() == 3
    assert User.objects.filter(username__startswith="new").count() == 1


def test_a_double_submitted_join_pays_the_starting_cash_once(last_seat):
    student = StudentFactory()

    results = run_concurrently([lambda: join_class(user=student, code="KX7M3QPA")] * 2)

    assert sorted(type(r).__name__ for r in results) == ["AlreadyInClass", "Classroom"], results
    assert isinstance(next(r for r in results if not isinstance(r, Classroom)), AlreadyInClass)
    assert Balance.objects.get(user=student).amount == Decimal("25000.00")
    assert Transaction.objects.filter(user=student, description="Starting cash").count() == 2


def test_joining_while_the_student_moves_cash_neither_deadlocks_nor_breaks_the_books(last_seat):
    from ledger.selectors import find_mismatches
    from ledger.services import deposit

    student = StudentFactory()
    jobs = [lambda: join_class(user=student, code="KX7M3QPA")]
    jobs += [lambda: deposit(user=student, amount=Decimal("100.00"))] * 5

    results = run_concurrently(jobs)

    assert isinstance(results[0], Classroom), results
    assert all(isinstance(r, Transaction) for r in results[1:]), results
    assert find_mismatches() == []
    # Deposits that came before the join were set aside with the rest of the cash.
    after_join = Transaction.objects.filter(
        user=student, pk__gt=Transaction.objects.get(user=student, type="reset_debit").pk
    )
    deposits_after = sum(r.amount for r in after_join if r.description == "Deposit")
    assert Balance.objects.get(user=student).amount == Decimal("25000.00") + deposits_after


def test_teachers_printing_a_class_cards_at_once_leave_one_live_card_each():
    from accounts.models import LoginCard
    from accounts.services import issue_cards
    from tests.factories import InstructorFactory

    room = ClassroomFactory(name="Period 1")
    students = StudentFactory.create_batch(5, classroom=room)
    teachers = [InstructorFactory(username=f"t{n}") for n in range(4)]

    results = run_concurrently(
        [lambda by=by: issue_cards(classroom=room, users=students, by=by) for by in teachers]
    )

    assert all(isinstance(r, list) and len(r) == 5 for r in results), results
    live = LoginCard.objects.filter(revoked_at__isnull=True)
    assert sorted(live.values_list("user_id", flat=True)) == sorted(s.pk for s in students)
    assert LoginCard.objects.count() == 20
    # The codes that work are the last printing's.
    last = max(results, key=lambda r: LoginCard.objects.get(digest=_digest(r[0][1])).pk)
    assert {_digest(code) for _, code in last} == set(live.values_list("digest", flat=True))


def test_one_form_token_printed_at_once_issues_one_sheet():
    from accounts.models import LoginCard
    from accounts.services import CardsIssuedAlready, issue_cards
    from tests.factories import InstructorFactory
    from tradesim.models import AuditEntry

    room = ClassroomFactory(name="Period 1")
    students = StudentFactory.create_batch(3, classroom=room)
    teacher = InstructorFactory(username="teacher")

    results = run_concurrently(
        [
            lambda: issue_cards(classroom=room, users=students, by=teacher, token="f" * 32)
            for _ in range(4)
        ]
    )

    issued = [r for r in results if isinstance(r, list)]
    repeated = [r for r in results if isinstance(r, CardsIssuedAlready)]
    assert (len(issued), len(repeated)) == (1, 3), results
    assert LoginCard.objects.count() == 3
    assert {_digest(code) for _, code in issued[0]} == set(
        LoginCard.objects.values_list("digest", flat=True)
    )
    assert AuditEntry.objects.filter(action="login_card").count() == 3


def _digest(code):
    from accounts import cards

    return cards.digest(code)
