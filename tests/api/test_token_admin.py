"""Students' API tokens in the console: an instructor sees and revokes those of the
students in their own classes (audited); nobody sees a token's digest or changes a row."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from accounts.roles import ensure_instructor_group
from api.services import create_token, revoke_token
from tests.api.conftest import ApiClient, problem
from tests.factories import ClassroomFactory, InstructorFactory, StudentFactory, UserFactory
from tradesim.models import AuditEntry

pytestmark = pytest.mark.django_db

User = get_user_model()
CHANGELIST = reverse("admin:api_apitoken_changelist")


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def change_url(token) -> str:
    return reverse("admin:api_apitoken_change", args=[token.pk])


def revoke(client, *tokens):
    return client.post(
        CHANGELIST,
        {"action": "revoke_action", "_selected_action": [str(t.pk) for t in tokens]},
        follow=True,
    )


@pytest.fixture
def school(db):
    """Ms Rivera runs Period 1 (alice), Ms Bee Period 2 (carol); each student has a token,
    and Ms Rivera has one of her own."""
    group = ensure_instructor_group()
    rivera = InstructorFactory(username="rivera")
    bee = InstructorFactory(username="msbee")
    for teacher in (rivera, bee):
        teacher.groups.add(group)
    period1, period2 = ClassroomFactory(name="Period 1"), ClassroomFactory(name="Period 2")
    period1.owners.add(rivera)
    period2.owners.add(bee)
    alice = StudentFactory(username="alice", email="alice@school.example", classroom=period1)
    carol = StudentFactory(username="carol", email="carol@school.example", classroom=period2)
    made = {
        "alice": create_token(user=alice, name="alices momentum bot"),
        "carol": create_token(user=carol, name="carols notebook"),
        "rivera": create_token(user=rivera, name="riveras standings"),
    }
    return {
        "rivera": rivera,
        "bee": bee,
        "alice": alice,
        "carol": carol,
        "tokens": {name: new.token for name, new in made.items()},
        "secrets": {name: new.secret for name, new in made.items()},
    }


def test_an_instructor_sees_the_tokens_of_their_own_students_only(school):
    page = logged_in(school["rivera"]).get(CHANGELIST).content.decode()

    assert "alices momentum bot" in page
    assert f"{school['tokens']['alice'].prefix}…" in page
    assert "Period 1" in page
    assert "carols notebook" not in page
    assert "riveras standings" not in page  # staff tokens are the superusers' business


def test_another_classs_instructor_sees_none_of_them(school):
    bee = logged_in(school["bee"])

    page = bee.get(CHANGELIST).content.decode()
    assert "carols notebook" in page
    assert "alices momentum bot" not in page
    response = bee.get(change_url(school["tokens"]["alice"]), follow=True)
    assert "alices momentum bot" not in response.content.decode()


def test_a_superuser_sees_every_token(school):
    root = UserFactory(username="root", is_staff=True, is_superuser=True)

    page = logged_in(root).get(CHANGELIST).content.decode()

    for name in ("alices momentum bot", "carols notebook", "riveras standings"):
        assert name in page


def test_a_token_is_read_only_and_its_digest_never_shown(school):
    rivera = logged_in(school["rivera"])
    token = school["tokens"]["alice"]

    page = rivera.get(change_url(token)).content.decode()

    assert "alices momentum bot" in page
    assert token.digest not in page
    assert school["secrets"]["alice"] not in page
    assert 'name="name"' not in page  # nothing to edit
    assert rivera.post(change_url(token), {"name": "renamed"}).status_code == 403
    assert rivera.get(reverse("admin:api_apitoken_add")).status_code == 403
    assert rivera.get(reverse("admin:api_apitoken_delete", args=[token.pk])).status_code == 403
    token.refresh_from_db()
    assert token.name == "alices momentum bot"


def test_the_list_never_shows_a_digest(school):
    root = UserFactory(username="root", is_staff=True, is_superuser=True)

    page = logged_in(root).get(CHANGELIST).content.decode()

    for token in school["tokens"].values():
        assert token.digest not in page


def test_revoking_is_audited_and_refuses_the_token_from_then_on(school):
    token = school["tokens"]["alice"]

    response = revoke(logged_in(school["rivera"]), token)

    assert "Revoked 1 token: programs using it are refused from now on." in (
        response.content.decode()
    )
    token.refresh_from_db()
    assert token.revoked_at is not None and token.revoked_by == school["rivera"]
    entry = AuditEntry.objects.get(action=AuditEntry.Action.REVOKE_TOKEN)
    assert (entry.actor, entry.student) == (school["rivera"], school["alice"])
    assert entry.detail == f"Token “alices momentum bot” ({token.prefix}…)"
    problem(ApiClient(school["secrets"]["alice"]).get("/account"), 401, "invalid_token")


def test_the_list_says_who_revoked_a_token(school):
    revoke(logged_in(school["rivera"]), school["tokens"]["alice"])

    page = logged_in(school["rivera"]).get(CHANGELIST).content.decode()

    assert "by rivera" in page and "Revoked " in page


def test_another_classs_instructor_cannot_revoke(school):
    token = school["tokens"]["alice"]

    revoke(logged_in(school["bee"]), token)

    token.refresh_from_db()
    assert token.is_active
    assert not AuditEntry.objects.exists()
    assert ApiClient(school["secrets"]["alice"]).get("/account").status_code == 200


def test_a_revoked_token_is_left_as_it_was(school):
    token = school["tokens"]["alice"]
    revoke_token(token_id=token.pk, user=school["alice"])
    token.refresh_from_db()
    when = token.revoked_at

    response = revoke(logged_in(school["rivera"]), token)

    assert "Tokens already revoked stay as they are." in response.content.decode()
    token.refresh_from_db()
    assert (token.revoked_at, token.revoked_by) == (when, None)
    assert not AuditEntry.objects.exists()


def test_staff_without_the_revoke_permission_is_not_offered_the_action(school):
    helper = InstructorFactory(username="helper")
    helper.user_permissions.add(Permission.objects.get(codename="view_apitoken"))
    school["alice"].classroom.owners.add(helper)
    client = logged_in(helper)

    page = client.get(CHANGELIST).content.decode()
    assert "alices momentum bot" in page
    assert "revoke_action" not in page
    revoke(client, school["tokens"]["alice"])
    school["tokens"]["alice"].refresh_from_db()
    assert school["tokens"]["alice"].is_active


def test_an_instructor_may_view_and_revoke_tokens_and_nothing_more(db):
    granted = set(
        ensure_instructor_group().permissions.values_list("content_type__app_label", "codename")
    )

    assert {("api", "view_apitoken"), ("api", "revoke_apitoken")} <= granted
    assert not {("api", "add_apitoken"), ("api", "change_apitoken"), ("api", "delete_apitoken")} & (
        granted
    )
