"""Writes about classes: join codes, creating a class, and rule changes after the start."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from classrooms.models import (
    JOIN_CODE_ALPHABET,
    JOIN_CODE_LENGTH,
    Classroom,
    looks_like_join_code,
    new_join_code,
    normalize_join_code,
)
from classrooms.services import (
    RULE_FIELDS,
    create_class,
    regenerate_join_code,
    set_joining,
    update_rules,
)
from tests.factories import ClassroomFactory, StudentFactory
from tradesim.models import AuditEntry

D = Decimal


# Join codes ---------------------------------------------------------------------------


def test_a_join_code_is_eight_characters_without_look_alikes():
    assert JOIN_CODE_LENGTH == 8
    assert not set("0O1IL") & set(JOIN_CODE_ALPHABET)
    codes = {new_join_code() for _ in range(200)}
    assert all(len(code) == 8 and set(code) <= set(JOIN_CODE_ALPHABET) for code in codes)
    assert len(codes) > 190  # random, not a sequence


@pytest.mark.parametrize(
    "typed, stored",
    [("kx7m3qpa", "KX7M3QPA"), ("KX7M-3QPA", "KX7M3QPA"), (" kx7m 3qpa\t", "KX7M3QPA")],
)
def test_a_typed_code_is_normalized_to_the_stored_form(typed, stored):
    assert normalize_join_code(typed) == stored
    assert looks_like_join_code(normalize_join_code(typed))


@pytest.mark.parametrize("code", ["KX7M3QP", "KX7M3QPAB", "KX7M3QP0", "KX7M3QPO", "KX7M3QPÉ", ""])
def test_a_code_of_the_wrong_length_or_alphabet_cannot_be_one(code):
    assert not looks_like_join_code(code)


@pytest.mark.django_db
def test_regenerating_a_code_replaces_it_and_is_audited(instructor):
    room = ClassroomFactory(name="Period 1", join_code="KX7M3QPA")
    student = StudentFactory(classroom=room)

    code = regenerate_join_code(classroom=room, by=instructor)

    assert code != "KX7M3QPA" and looks_like_join_code(code)
    assert room.join_code == code
    assert Classroom.objects.get(pk=room.pk).join_code == code
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.action) == (instructor, "join_code")
    assert entry.detail == f"Period 1: new join code {code} (the old code KX7M3QPA no longer works)"
    assert student.classroom == room  # students already in it stay


@pytest.mark.django_db
def test_joining_is_opened_and_closed_for_several_classes():
    one, two = ClassroomFactory(), ClassroomFactory(joining_open=False)

    assert set_joining(classroom_ids=[one.pk, two.pk], is_open=False) == 1

    assert not Classroom.objects.filter(joining_open=True).exists()


# Creating a class ---------------------------------------------------------------------


@pytest.mark.django_db
def test_a_class_is_created_with_its_rules_owners_and_a_code(instructor):
    room = create_class(
        name=" Period 3 ",
        owners=[instructor],
        rules={"starting_cash": D("25000.00"), "max_position_percent": D("25")},
    )

    room.refresh_from_db()
    assert room.name == "Period 3"
    assert list(room.owners.all()) == [instructor]
    assert room.starting_cash == D("25000.00")
    assert room.max_position_percent == D("25")
    assert looks_like_join_code(room.join_code)


@pytest.mark.django_db
def test_a_class_needs_an_instructor_as_owner(student):
    with pytest.raises(ValidationError, match="at least one instructor"):
        create_class(name="Period 3", owners=[])
    with pytest.raises(ValidationError, match="Only instructors .* alice"):
        create_class(name="Period 3", owners=[student])
    assert not Classroom.objects.exists()


@pytest.mark.django_db
def test_a_class_that_ends_before_it_starts_is_refused_in_plain_words(instructor):
    now = timezone.now()
    with pytest.raises(ValidationError, match="The class must start before it ends"):
        create_class(
            name="Period 3",
            owners=[instructor],
            rules={"starts_at": now, "ends_at": now - timedelta(days=1)},
        )
    assert not Classroom.objects.exists()


@pytest.mark.django_db
def test_a_name_in_use_is_refused(instructor):
    ClassroomFactory(name="Period 3")
    with pytest.raises(ValidationError) as refused:
        create_class(name="Period 3", owners=[instructor])
    assert "name" in refused.value.message_dict


@pytest.mark.django_db
def test_an_unknown_rule_is_refused(instructor):
    with pytest.raises(ValueError, match="Not a rule of a class: colour"):
        create_class(name="Period 3", owners=[instructor], rules={"colour": "blue"})


# Rule changes -------------------------------------------------------------------------


def test_every_rule_of_the_rulebook_is_watched():
    assert set(RULE_FIELDS) >= {
        "starts_at",
        "ends_at",
        "starting_cash",
        "deposits_open",
        "commission_kind",
        "max_position_percent",
        "ranking",
        "names_shown",
    }
    assert "name" not in RULE_FIELDS and "join_code" not in RULE_FIELDS


@pytest.mark.django_db
def test_a_rule_change_after_the_start_is_audited_with_before_and_after(instructor):
    room = ClassroomFactory(
        name="Period 1", starts_at=timezone.now() - timedelta(days=1), commission_kind="none"
    )

    entries = update_rules(
        classroom=room,
        changes={
            "commission_kind": "flat",
            "commission_amount": D("4.95"),
            "max_position_percent": D("25"),
            "deposits_open": room.deposits_open,  # unchanged: no entry
        },
        by=instructor,
    )

    assert [e.detail for e in entries] == [
        "Period 1: Commission: None → Flat per trade",
        "Period 1: Commission amount: 0 → 4.95",
        "Period 1: Most of the portfolio in one stock (%): none → 25",
    ]
    assert all(e.actor == instructor and e.action == "class_rules" for e in entries)
    room.refresh_from_db()
    assert (room.commission_kind, room.commission_amount) == ("flat", D("4.95"))
    assert room.rules_changed_at is not None


@pytest.mark.django_db
def test_a_class_with_no_start_date_has_started(instructor):
    room = ClassroomFactory(names_shown=True)

    entries = update_rules(classroom=room, changes={"names_shown": False}, by=instructor)

    assert [e.detail for e in entries] == [
        f"{room.name}: Students see each other's names: yes → no"
    ]


@pytest.mark.django_db
def test_a_rule_change_before_the_start_is_not_audited(instructor):
    room = ClassroomFactory(starts_at=timezone.now() + timedelta(days=2))

    entries = update_rules(classroom=room, changes={"starting_cash": D("50000.00")}, by=instructor)

    assert entries == []
    assert not AuditEntry.objects.exists()
    room.refresh_from_db()
    assert room.starting_cash == D("50000.00")
    assert room.rules_changed_at is None


@pytest.mark.django_db
def test_moving_the_start_is_judged_by_the_start_before_the_change(instructor):
    later = timezone.now() + timedelta(days=2)
    started = ClassroomFactory(starts_at=timezone.now() - timedelta(hours=1))
    not_yet = ClassroomFactory(starts_at=later)

    assert len(update_rules(classroom=started, changes={"starts_at": later}, by=instructor)) == 1
    now = timezone.now()
    assert update_rules(classroom=not_yet, changes={"starts_at": now}, by=instructor) == []


@pytest.mark.django_db
def test_a_dated_rule_change_reads_as_a_date(instructor):
    room = ClassroomFactory(name="Period 1", ends_at=None)
    end = timezone.now() + timedelta(days=30)

    (entry,) = update_rules(classroom=room, changes={"ends_at": end}, by=instructor)

    assert entry.detail.startswith("Period 1: Ends at: none → ")
    assert " at " in entry.detail.removeprefix("Period 1: Ends at: none → ")


@pytest.mark.django_db
def test_only_rules_go_through_update_rules(instructor):
    room = ClassroomFactory()
    with pytest.raises(ValueError, match="Not a rule of a class: name"):
        update_rules(classroom=room, changes={"name": "Other"}, by=instructor)
