"""Brute-force protection: django-axes locks a username + address after repeated failures."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from tests.factories import PASSWORD


def fail_login(client, username="alice"):
    return client.post(reverse("login"), {"username": username, "password": "wrong-guess"})


@pytest.mark.django_db
def test_repeated_failures_lock_the_account_with_a_clear_message(client, student, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert fail_login(client).status_code == 400

    locked = fail_login(client)

    assert locked.status_code == 429
    assert "Too many failed log-ins" in locked.content.decode()
    right = client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    assert right.status_code == 429
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_lockout_is_per_username(client, student, other_student, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        fail_login(client)

    response = client.post(reverse("login"), {"username": "bob", "password": PASSWORD})

    assert response.status_code == 302


@pytest.mark.django_db
def test_management_command_unlocks_a_username(client, student, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        fail_login(client)

    call_command("axes_reset_username", "alice", stdout=StringIO())

    response = client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
