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
