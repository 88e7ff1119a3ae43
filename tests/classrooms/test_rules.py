"""The rulebook: where a student's rules come from, and the rules that need no data."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from classrooms.models import Classroom
from classrooms.rules import Rulebook, rulebook_for
from tests.factories import ClassroomFactory, StudentFactory

START = datetime(2027, 1, 11, 14, 30, tzinfo=UTC)  # Mon 11 Jan 2027, 14:30 UTC
END = START + timedelta(days=30)


def test_a_student_in_no_class_plays_by_the_settings(settings, db):
    settings.STARTING_CASH = Decimal("5000.00")
    settings.COMMISSION_PER_TRADE = Decimal("4.95")
    settings.DEPOSITS_OPEN = False

    rules = rulebook_for(StudentFactory(classroom=None))

    assert rules.classroom_id is None
    assert rules.starting_cash == Decimal("5000.00")
    assert rules.commission(quantity=10, total=Decimal("1000.00")) == Decimal("4.95")
    assert rules.deposits_open is False
    assert rules.check_window(START) is None


def test_a_student_in_a_class_plays_by_its_rules(db, django_assert_num_queries):
    room = ClassroomFactory(starting_cash=Decimal("25000.00"), max_position_percent=25)
    student = StudentFactory(classroom=room)

    with django_assert_num_queries(1):
        rules = rulebook_for(student)

    assert (rules.classroom_id, rules.class_name) == (room.pk, room.name)
    assert rules.starting_cash == Decimal("25000.00")
    assert rules.max_position_percent == Decimal("25")


@pytest.mark.parametrize(
    ("moment", "refused_by"),
    [
        (START - timedelta(seconds=1), "starts_at"),
        (START, None),  # the first second of the window
        (END - timedelta(seconds=1), None),  # the last second
        (END, "ends_at"),
    ],
)
def test_the_trading_window_includes_its_first_and_last_second(moment, refused_by):
    refusal = Rulebook(starts_at=START, ends_at=END).check_window(moment)

    assert (refusal.rule if refusal else None) == refused_by


def test_before_the_start_the_refusal_says_when_trading_opens(settings):
    settings.TIME_ZONE = "UTC"

    refusal = Rulebook(starts_at=START).check_window(START - timedelta(days=1))

    assert refusal.message == "Trading opens Mon 11 Jan 2027 at 14:30."


@pytest.mark.parametrize(
    ("kind", "amount", "minimum", "quantity", "total", "commission"),
    [
        (Classroom.Commission.NONE, "9", "0", 10, "1000.00", "0.00"),
        (Classroom.Commission.FLAT, "4.95", "0", 10, "1000.00", "4.95"),
        (Classroom.Commission.PER_SHARE, "0.005", "0", 10, "1000.00", "0.05"),
        (Classroom.Commission.PER_SHARE, "0.005", "0", 1, "100.00", "0.01"),  # half a cent up
        (Classroom.Commission.PERCENT, "0.5", "1.00", 10, "1000.00", "5.00"),
        (Classroom.Commission.PERCENT, "0.5", "1.00", 1, "100.00", "1.00"),  # the minimum
        (Classroom.Commission.PERCENT, "0.25", "0", 1, "1.02", "0.00"),  # 0.255 cents
        (Classroom.Commission.PERCENT, "0.25", "0", 1, "2.00", "0.01"),  # 0.5 cent, half up
    ],
)
def test_commission_by_kind(kind, amount, minimum, quantity, total, commission):
    rules = Rulebook(
        commission_kind=kind,
        commission_amount=Decimal(amount),
        commission_minimum=Decimal(minimum),
    )

    assert rules.commission(quantity=quantity, total=Decimal(total)) == Decimal(commission)
