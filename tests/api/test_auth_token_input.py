"""POST /api/v1/auth/token with odd input: a clear 4xx, never a 500 (PostgreSQL refuses
text holding NUL)."""

import pytest

from api.models import ApiToken
from tests.api.conftest import problem
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "body",
    [
        {"username": "alice\x00", "password": PASSWORD, "name": "bot"},
        {"username": "alice", "password": "x\x00", "name": "bot"},
        {"username": "alice", "password": PASSWORD, "name": "b\x00t"},
    ],
)
def test_a_nul_character_is_refused_without_touching_the_database(anon_api, student, body):
    response = anon_api.post("/auth/token", body)
    assert response.status_code in (400, 401)
    assert not ApiToken.objects.exists()


def test_a_name_with_control_characters_is_refused(anon_api, student):
    body = problem(
        anon_api.post("/auth/token", {"username": "alice", "password": PASSWORD, "name": "a\x07"}),
        400,
        "validation_error",
    )
    assert body["field"] == "name"
