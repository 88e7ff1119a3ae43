"""The API's test client: a Django test client that sends a bearer token and JSON."""

import json

import pytest
from django.test import Client

from api.services import create_token
from tests.factories import PriceFactory


class ApiClient:
    """`api.get("/account")`, `api.post("/orders", {...}, headers={...})`: paths are under
    /api/v1; the body goes as JSON; the token as `Authorization: Bearer`."""

    def __init__(self, secret: str | None = None):
        self.secret = secret
        self.client = Client(HTTP_HOST="localhost")

    def _headers(self, headers):
        sent = {}
        if self.secret:
            sent["Authorization"] = f"Bearer {self.secret}"
        sent.update(headers or {})
        return sent

    def get(self, path, data=None, *, headers=None):
        return self.client.get("/api/v1" + path, data, headers=self._headers(headers))

    def post(self, path, body=None, *, headers=None):
        return self.client.post(
            "/api/v1" + path,
            json.dumps(body if body is not None else {}),
            content_type="application/json",
            headers=self._headers(headers),
        )

    def delete(self, path, *, headers=None):
        return self.client.delete("/api/v1" + path, headers=self._headers(headers))


def token_for(user, name="test"):
    return create_token(user=user, name=name).secret


@pytest.fixture
def api(student):
    return ApiClient(token_for(student))


@pytest.fixture
def other_api(other_student):
    return ApiClient(token_for(other_student))


@pytest.fixture
def instructor_api(instructor):
    return ApiClient(token_for(instructor))


@pytest.fixture
def anon_api(db):
    return ApiClient()


@pytest.fixture
def acme(db):
    return PriceFactory(symbol="ACME", name="Acme Corp", price="50.00")


def problem(response, status: int, code: str) -> dict:
    """The response's problem document, checked for its status, type and code."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == code, body
    assert body["status"] == status
    assert body["type"] == f"/api/v1/errors#{code}"
    return body
