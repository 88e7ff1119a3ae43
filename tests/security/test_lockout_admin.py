"""Unlocking a locked-out login from the admin (the lockout itself and the management
command are tested in tests/accounts/test_lockout.py)."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts.roles import ensure_instructor_group
from tests.factories import PASSWORD, ClassroomFactory, StudentFactory, UserFactory

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


def own_class_of(instructor, *students):
    period = ClassroomFactory(name="Period 1")
    period.owners.add(instructor)
    for student in students:
        student.classroom = period
        student.save(update_fields=["classroom"])
    return period


@pytest.mark.django_db
def test_an_instructor_unlocks_a_student_from_the_admin(student, instructor):
    instructor.groups.add(ensure_instructor_group())
    own_class_of(instructor, student)
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


# Whose locks an instructor may clear --------------------------------------------------


@pytest.fixture
def root(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def colleague(db):
    return UserFactory(username="colleague", is_staff=True)


@pytest.fixture
def console(instructor, student):
    instructor.groups.add(ensure_instructor_group())
    own_class_of(instructor, student)
    client = Client()
    client.force_login(instructor)
    return client


@pytest.fixture(params=["root", "colleague"], ids=["superuser", "other instructor"])
def staff_lock(request, root, colleague):
    """A staff account locked out (by someone guessing): the username and its attempt row."""
    from axes.models import AccessAttempt

    username = request.param
    lock_out(username)
    return username, AccessAttempt.objects.get(username=username)


def still_locked(username, attempt):
    from axes.models import AccessAttempt

    assert AccessAttempt.objects.filter(pk=attempt.pk).exists()
    right = Client().post(reverse("login"), {"username": username, "password": PASSWORD})
    assert right.status_code == 429


@pytest.mark.django_db
def test_an_instructor_does_not_see_a_staff_accounts_lock(console, student, staff_lock):
    username, attempt = staff_lock
    lock_out("alice")

    listing = console.get(CHANGELIST)

    assert listing.status_code == 200
    page = listing.content.decode()
    assert f"/admin/axes/accessattempt/{attempt.pk}/change/" not in page
    assert "alice" in page
    assert console.get(f"{CHANGELIST}{attempt.pk}/change/").status_code == 302


@pytest.mark.django_db
def test_an_instructor_does_not_see_the_locks_of_another_class(console):
    from axes.models import AccessAttempt

    StudentFactory(username="carol", classroom=ClassroomFactory(name="Period 2"))
    StudentFactory(username="dana", classroom=None)
    lock_out("carol")
    lock_out("dana")
    lock_out("alice")

    page = console.get(CHANGELIST).content.decode()

    assert "alice" in page
    assert "carol" not in page and "dana" not in page
    carol = AccessAttempt.objects.get(username="carol")
    assert console.get(f"{CHANGELIST}{carol.pk}/change/").status_code == 302


@pytest.mark.django_db
def test_an_instructor_cannot_clear_a_staff_accounts_lock_by_the_list_action(
    console, staff_lock
):
    username, attempt = staff_lock

    console.post(
        CHANGELIST,
        {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"},
    )
    console.post(
        CHANGELIST,
        {
            "action": "delete_selected",
            "select_across": "1",
            "_selected_action": [attempt.pk],
            "post": "yes",
        },
    )

    still_locked(username, attempt)


@pytest.mark.django_db
def test_an_instructor_cannot_clear_a_staff_accounts_lock_by_its_delete_page(
    console, staff_lock
):
    username, attempt = staff_lock
    delete_url = f"{CHANGELIST}{attempt.pk}/delete/"

    assert console.get(delete_url).status_code == 302
    console.post(delete_url, {"post": "yes"})

    still_locked(username, attempt)


@pytest.mark.django_db
def test_a_superuser_clears_another_superusers_lock(root):
    lock_out("root")
    other_root = Client()
    other_root.force_login(UserFactory(username="root2", is_staff=True, is_superuser=True))

    unlock_from_admin(other_root, "root")

    right = Client().post(reverse("login"), {"username": "root", "password": PASSWORD})
    assert right.status_code == 302


@pytest.mark.django_db
def test_every_action_the_lockout_list_offers_runs(admin_client, admin_user, student):
    from axes.models import AccessAttempt
    from django.contrib import admin
    from django.test import RequestFactory

    lock_out("alice")
    request = RequestFactory().get(CHANGELIST)
    request.user = admin_user
    actions = admin.site._registry[AccessAttempt].get_actions(request)
    ids = list(AccessAttempt.objects.values_list("pk", flat=True))

    for name in actions:
        response = admin_client.post(CHANGELIST, {"action": name, "_selected_action": ids})
        assert response.status_code in (200, 302), name
