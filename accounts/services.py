"""Writes about people: registering a student opens their cash account in the same
database transaction, so a user never exists without a balance and its journal row."""


from django.contrib.auth import get_user_model
from django.db import transaction

from ledger.services import open_account


def register_student(*, username: str, email: str, password: str, classroom=None):
    """Create a student, their balance and the starting-cash journal row, atomically.

    Guarantees: either all three rows exist afterwards or none does. Locks nothing:
    every row it writes is new.
    """
    User = get_user_model()
    with transaction.atomic():
        user = User.objects.create_user(
            username=username, email=email, password=password, classroom=classroom
        )
        open_account(user=user)
    return user


def enroll_students(*, students, password: str, classroom=None) -> list:
    """Register a roster of students who share one first password (hashed once, so a class
    of thirty takes a moment rather than thirty password hashes), each exactly as
    register_student does: the user, their balance and the starting-cash journal row.

    `students` holds (username, email, first_name, last_name) tuples. Guarantees: all of
    them or none, in one transaction. Locks nothing: every row it writes is new.
    """
    from django.contrib.auth.hashers import make_password

    User = get_user_model()
    hashed = make_password(password)
    created = []
    with transaction.atomic():
        for username, email, first_name, last_name in students:
            user = User(
                username=username,
                email=User.objects.normalize_email(email),
                first_name=first_name,
                last_name=last_name,
                classroom=classroom,
                password=hashed,
            )
            user.save()
            open_account(user=user)
            created.append(user)
    return created


def create_instructor(*, username: str, email: str, password: str):
    """Create a staff user in the Instructors group (no cash account: instructors do not
    trade and are left out of the leaderboard). Validates the password like registration."""
    from django.contrib.auth.password_validation import validate_password

    from accounts.roles import ensure_instructor_group

    User = get_user_model()
    user = User(username=username, email=email, is_staff=True)
    validate_password(password, user)
    with transaction.atomic():
        user.set_password(password)
        user.full_clean(exclude=["password"])
        user.save()
        user.groups.add(ensure_instructor_group())
    return user
