"""Unlocking a locked-out login from the admin (the lockout itself and the management
command are tested in tests/accounts/test_lockout.py)."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts.roles import ensure_instructor_group
from tests.factories import PASSWORD, UserFactory

WRONG = "Wrong-Guess-Velvet-5512"
CHANGELIST = "/admin/axes/accessattempt/"


def lock_out(username="alice"):
    """A fresh client (another computer) fails until the lockout; returns that client."""
    from django.conf import settings

    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": username, "password": WRONG})
    right = client.post(reverse("login"), {"username": username, "password": PASSWORD})
    assert right.status_code == 429
    return client


def unlock_from_admin(admin_client, username="alice"):
    from axes.models import AccessAttempt

    listing = admin_client.get(CHANGELIST, {"q": username})
    assert listing.status_code == 200
    assert username in listing.content.decode()
    ids = list(AccessAttempt.objects.filter(username=username).values_list("pk", flat=True))
    assert ids
    confirm = admin_client.post(
        CHANGELIST,
        {"action": "delete_selected", "_selected_action": ids},
    )
    assert confirm.status_code == 200  # "Are you sure?"
    done = admin_client.post(
        CHANGELIST,
        {"action": "delete_selected", "_selected_action": ids, "post": "yes"},
    )
    assert done.status_code == 302
    return done


@pytest.mark.django_db
def test_a_superuser_unlocks_a_student_from_the_admin(student):
    locked = lock_out()
    root = Client()
    root.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))

    unlock_from_admin(root)

    response = locked.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302


@pytest.mark.django_db
def test_an_instructor_unlocks_a_student_from_the_admin(student, instructor):
    instructor.groups.add(ensure_instructor_group())
    locked = lock_out()
    console = Client()
    console.force_login(instructor)

    unlock_from_admin(console)

    response = locked.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302


@pytest.mark.django_db
def test_a_student_cannot_reach_the_lockout_list(student_client):
    response = student_client.get(CHANGELIST)
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


@pytest.mark.django_db
def test_the_failed_password_is_not_stored_with_the_attempt(student):
    from axes.models import AccessAttempt

    lock_out()

    (attempt,) = AccessAttempt.objects.filter(username="alice")
    assert WRONG not in attempt.post_data
    assert WRONG not in attempt.get_data
