"""Writes about classes: creating one, its join code, its rules, and who may take a seat."""

import dataclasses
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from classrooms.models import (
    Classroom,
    looks_like_join_code,
    new_join_code,
    normalize_join_code,
)
from classrooms.rules import Rulebook, when
from tradesim import audit
from tradesim.models import AuditEntry

# The columns of the rulebook: a change to one of them after the start is audited.
RULE_FIELDS = tuple(
    field.name
    for field in dataclasses.fields(Rulebook)
    if field.name not in {"classroom_id", "class_name", "rules_changed_at"}
)
# What create_class may set besides the name: the rules and the joining settings.
SETTABLE_FIELDS = frozenset(RULE_FIELDS) | {"joining_open", "seat_limit"}


class JoinRefused(Exception):
    """Why a student cannot join a class; the message is meant for them."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class UnknownCode(JoinRefused):
    pass


class AlreadyInClass(JoinRefused):
    def __init__(self, message: str, *, classroom: Classroom):
        super().__init__(message)
        self.classroom = classroom


def create_class(*, name: str, owners, rules: dict | None = None) -> Classroom:
    """A new class run by `owners` (staff users), with `rules` (column name → value; the
    rest from the settings' defaults) and a fresh join code.

    Guarantees: the class is valid as the admin would check it (full_clean: each field's
    limits and the table's constraints), else ValidationError keyed by field; every owner
    is staff and there is at least one. Writes the class and its owners together.
    Locks nothing: the row is new.
    """
    rules = dict(rules or {})
    unknown = sorted(set(rules) - SETTABLE_FIELDS)
    if unknown:
        raise ValueError(f"Not a rule of a class: {', '.join(unknown)}")
    owners = list(owners)
    if not owners:
        raise ValidationError({"owners": "A class needs at least one instructor."})
    not_staff = [user.get_username() for user in owners if not user.is_staff]
    if not_staff:
        raise ValidationError(
            {"owners": f"Only instructors (staff) can own a class: {', '.join(not_staff)}."}
        )
    classroom = Classroom(name=(name or "").strip(), join_code=_unused_join_code(), **rules)
    classroom.full_clean()
    with transaction.atomic():
        classroom.save()
        classroom.owners.set(owners)
    return classroom


def _unused_join_code() -> str:
    # 31⁸ codes: a clash is all but impossible, and the unique constraint stops one anyway.
    for _ in range(10):
        code = new_join_code()
        if not Classroom.objects.filter(join_code=code).exists():
            return code
    raise RuntimeError("Could not find an unused join code.")


def regenerate_join_code(*, classroom: Classroom, by) -> str:
    """Give `classroom` a new join code; the old one stops working at once. Students
    already in the class stay.

    Guarantees: the new code and an audit entry naming `by`, the class and both codes,
    together. Locks: the class row (FOR NO KEY UPDATE, as every lock on it here: rows
    that point at the class need not wait).
    """
    with transaction.atomic():
        locked = Classroom.objects.select_for_update(no_key=True).get(pk=classroom.pk)
        old, code = locked.join_code, _unused_join_code()
        locked.join_code = code
        locked.save(update_fields=["join_code"])
        audit.record(
            actor=by,
            action=AuditEntry.Action.NEW_JOIN_CODE,
            detail=f"{locked.name}: new join code {code} (the old code {old} no longer works)",
        )
    classroom.join_code = code
    return code


def set_joining(*, classroom_ids, is_open: bool) -> int:
    """Open or close joining for the given classes; returns how many changed."""
    return (
        Classroom.objects.filter(pk__in=list(classroom_ids))
        .exclude(joining_open=is_open)
        .update(joining_open=is_open)
    )


def update_rules(*, classroom: Classroom, changes: dict, by) -> list[AuditEntry]:
    """Apply `changes` (rule column → new value) to `classroom`.

    Guarantees: once the class has started (judged by its stored start, before this
    change; a class with no start date started when it was made), each rule whose value
    really changes gets an audit entry naming `by`, the class, the rule and its value
    before and after, and the class's rules_changed_at is set to now; before the start,
    changes are made without either. The values are written with the entries, or
    nothing is. The values are not validated here: the admin's form has done it, and the
    table's constraints hold anyway. Locks: the class row.
    Also sets the new values (and rules_changed_at) on `classroom` itself, so a caller
    that saves the instance afterwards does not write the old ones back.
    """
    unknown = sorted(set(changes) - set(RULE_FIELDS))
    if unknown:
        raise ValueError(f"Not a rule of a class: {', '.join(unknown)}")
    entries = []
    with transaction.atomic():
        stored = Classroom.objects.select_for_update(no_key=True).get(pk=classroom.pk)
        now = timezone.now()
        started = Rulebook.from_classroom(stored).has_started(now)
        changed = [name for name, value in changes.items() if getattr(stored, name) != value]
        for name in changed:
            before, after = getattr(stored, name), changes[name]
            setattr(stored, name, after)
            setattr(classroom, name, after)
            if started:
                entries.append(
                    audit.record(
                        actor=by,
                        action=AuditEntry.Action.CLASS_RULES,
                        detail=f"{stored.name}: {_label(name)}: {_shown(name, before)} → "
                        f"{_shown(name, after)}",
                    )
                )
        fields = list(changed)
        if changed and started:
            stored.rules_changed_at = classroom.rules_changed_at = now
            fields.append("rules_changed_at")
        if fields:
            stored.save(update_fields=fields)
    return entries


def _label(name: str) -> str:
    label = str(Classroom._meta.get_field(name).verbose_name)
    return label[:1].upper() + label[1:]


def _shown(name: str, value) -> str:
    field = Classroom._meta.get_field(name)
    if value is None:
        return "none"
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return when(value)
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    return str(value)


def take_seat(*, code: str, student, now: datetime | None = None) -> Classroom:
    """The class whose join code is `code` (any case, spaces and hyphens ignored), if
    `student` may join it now; the caller then puts them in it.

    Refuses (JoinRefused, with the reason for the student) when: no class has the code
    (UnknownCode); the student is staff; they are in this class already (AlreadyInClass);
    they are in another class that has not ended (one class at a time); the class has
    ended; joining is closed; every seat is taken. Starting late is allowed.
    Locks: the class row (FOR NO KEY UPDATE, so it does not hold up the foreign-key checks
    of rows that point at the class), until the caller's transaction ends: two students
    taking the last seat are counted one after the other. Call it inside the transaction
    that puts the student in the class, after locking the student's row.
    """
    if not transaction.get_connection().in_atomic_block:
        raise transaction.TransactionManagementError("take_seat needs the caller's transaction")
    now = now or timezone.now()
    code = normalize_join_code(code)
    classroom = None
    if looks_like_join_code(code):
        classroom = Classroom.objects.select_for_update(no_key=True).filter(join_code=code).first()
    if classroom is None:
        raise UnknownCode(f"No class has the code {code}; check it with your teacher.")
    if student.is_staff or student.is_superuser:
        raise JoinRefused("Instructors don't join classes: a class's owners run it from the admin.")
    if student.classroom_id == classroom.pk:
        raise AlreadyInClass(f"You are already in {classroom.name}.", classroom=classroom)
    if student.classroom_id is not None:
        current = Classroom.objects.filter(pk=student.classroom_id).first()
        if current is not None and not Rulebook.from_classroom(current).has_ended(now):
            until = f" until it ends on {when(current.ends_at)}" if current.ends_at else ""
            raise JoinRefused(
                f"You are in {current.name}{until}, and a student is in one class at a time. "
                f"If you should be in {classroom.name}, ask your teacher to move you."
            )
    if Rulebook.from_classroom(classroom).has_ended(now):
        raise JoinRefused(
            f"{classroom.name} ended on {when(classroom.ends_at)}; it takes no new students."
        )
    if not classroom.joining_open:
        raise JoinRefused(
            f"{classroom.name} is not taking new students: joining is closed. Ask your "
            "teacher to open it."
        )
    if classroom.seat_limit is not None:
        taken = classroom.students.count()
        if taken >= classroom.seat_limit:
            raise JoinRefused(
                f"{classroom.name} is full: all {classroom.seat_limit} seats are taken. Ask "
                "your teacher for a seat."
            )
    return classroom
