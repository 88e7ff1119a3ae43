import re
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from accounts.roles import INSTRUCTORS

User = get_user_model()


@pytest.mark.django_db
def test_create_instructor_makes_a_staff_user_in_the_instructors_group():
    out = StringIO()
    call_command(
        "create_instructor",
        "msmith",
        email="msmith@school.example",
        password="Lesson-Plan-42",
        stdout=out,
    )

    user = User.objects.get(username="msmith")
    assert user.is_staff and not user.is_superuser
    assert user.groups.filter(name=INSTRUCTORS).exists()
    assert user.check_password("Lesson-Plan-42")
    assert "created" in out.getvalue()


@pytest.mark.django_db
def test_create_instructor_refuses_a_weak_password():
    with pytest.raises(CommandError, match="too common|too short"):
        call_command("create_instructor", "msmith", email="m@school.example", password="password")
    assert not User.objects.filter(username="msmith").exists()


@pytest.mark.django_db
def test_create_instructor_refuses_a_taken_email_in_any_case(student):
    with pytest.raises(CommandError, match="email"):
        call_command(
            "create_instructor",
            "msmith",
            email="ALICE@school.example",
            password="Lesson-Plan-42",
        )


@pytest.mark.django_db
def test_create_instructor_with_a_random_password_prints_the_one_it_set_once():
    out = StringIO()
    call_command(
        "create_instructor", "msmith", email="m@school.example", random_password=True, stdout=out
    )

    lines = [line for line in out.getvalue().splitlines() if "Password" in line]
    assert len(lines) == 1
    assert "write it down; it is not shown again" in lines[0]
    password = lines[0].split(": ", 1)[1].split()[0]
    assert User.objects.get(username="msmith").check_password(password)


def test_a_random_password_is_strong_and_easy_to_copy_by_hand():
    from django.contrib.auth.password_validation import validate_password

    from accounts.services import random_password

    passwords = {random_password() for _ in range(50)}
    assert len(passwords) == 50
    for password in passwords:
        assert re.fullmatch(r"[a-z2-9]{4}(-[a-z2-9]{4}){3}", password)
        assert not set(password) & set("01ilo")
        validate_password(password, User(username="teacher", email="teacher@localhost"))


@pytest.mark.django_db
def test_create_instructor_if_no_instructor_creates_none_when_there_is_one(instructor):
    out = StringIO()
    call_command(
        "create_instructor",
        "newcomer",
        email="new@school.example",
        random_password=True,
        if_no_instructor=True,
        stdout=out,
    )

    assert not User.objects.filter(username="newcomer").exists()
    assert "Password" not in out.getvalue()
    assert "There is an instructor already" in out.getvalue()


@pytest.mark.django_db
def test_create_instructor_if_no_instructor_creates_one_when_only_students_exist(student):
    call_command(
        "create_instructor",
        "teacher",
        email="teacher@localhost",
        random_password=True,
        if_no_instructor=True,
        stdout=StringIO(),
    )

    assert User.objects.get(username="teacher").is_staff


def test_create_instructor_takes_a_password_or_makes_one_up_not_both():
    with pytest.raises(CommandError, match="not allowed with"):
        call_command(
            "create_instructor",
            "msmith",
            "--email=m@school.example",
            "--password=Lesson-Plan-42",
            "--random-password",
        )


@pytest.mark.django_db
def test_create_instructor_without_a_terminal_says_how_to_give_a_password(monkeypatch):
    from accounts.management.commands import create_instructor

    monkeypatch.setattr(create_instructor.Command, "stdin_is_tty", staticmethod(lambda: False))
    with pytest.raises(CommandError, match="--random-password"):
        call_command("create_instructor", "msmith", email="m@school.example")
    assert not User.objects.filter(username="msmith").exists()
