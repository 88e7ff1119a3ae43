"""Who may call the API, for every operation in its OpenAPI document (so an operation
added later is swept without being named here): without a token, with a token that is
not one, revoked, of an inactive account, of a class whose API is switched off, and past
the rate limit. Then another student's orders, and logging in from a script with
POST /api/v1/auth/token."""

import re
from types import SimpleNamespace

import pytest
from django.test import Client
from django.urls import reverse

from api.main import api as ninja_api
from api.models import ApiToken
from api.services import MAX_ACTIVE_TOKENS, create_token, revoke_token
from tests.api.conftest import ApiClient, problem, token_for
from tests.factories import PASSWORD, ClassroomFactory, StudentFactory
from tests.security.helpers import money_state
from trading.models import Order
from trading.services import order_request, place_order

pytestmark = pytest.mark.django_db

PREFIX = "/api/v1"
# Operations that take no token: logging in to get one.
PUBLIC = {("post", "/auth/token")}
BODIES = {"post", "put", "patch"}


def operations() -> list[tuple[str, str, bool]]:
    """(method, path under /api/v1 with its parameters filled, needs a token) for every
    operation of the OpenAPI document."""
    found = []
    for path, methods in ninja_api.get_openapi_schema()["paths"].items():
        for method, operation in methods.items():
            filled = re.sub(r"\{[^}]+\}", "1", path.removeprefix(PREFIX))
            secured = bool(operation.get("security"))
            found.append((method, filled, secured))
    return found


OPERATIONS = operations()
SECURED = [(method, path) for method, path, secured in OPERATIONS if secured]
IDS = [f"{method.upper()} {path}" for method, path in SECURED]


def send(client: ApiClient, method: str, path: str):
    """`method` on /api/v1`path` with the client's token; a body of {} where one is read."""
    body = {"data": "{}", "content_type": "application/json"} if method in BODIES else {}
    return getattr(client.client, method)(PREFIX + path, headers=client._headers(None), **body)


def test_the_sweep_covers_the_api():
    assert {(m, p) for m, p, _ in OPERATIONS} >= {
        ("post", "/auth/token"),
        ("get", "/account"),
        ("post", "/orders"),
        ("get", "/orders"),
        ("get", "/orders/1"),
        ("delete", "/orders/1"),
        ("post", "/deposits"),
        ("post", "/withdrawals"),
    }
    # Every operation but logging in needs a token.
    assert {(m, p) for m, p, secured in OPERATIONS if not secured} == PUBLIC


# Who is asking -------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), SECURED, ids=IDS)
def test_no_token_is_not_authenticated(anon_api, method, path):
    response = send(anon_api, method, path)

    problem(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == 'Bearer realm="TradeSim"'


@pytest.mark.parametrize(("method", "path"), SECURED, ids=IDS)
def test_a_session_is_not_a_token(student_client, method, path):
    """Logged in on the pages (a session cookie) is not logged in to the API."""
    response = getattr(student_client, method)(PREFIX + path)

    problem(response, 401, "not_authenticated")


@pytest.mark.parametrize(("method", "path"), SECURED, ids=IDS)
@pytest.mark.parametrize(
    "secret",
    ["garbage", "tsk_" + "A" * 43, "tsk_", "x" * 500],
    ids=["garbage", "unknown", "prefix only", "long"],
)
def test_a_token_that_is_not_one_is_invalid(method, path, secret):
    problem(send(ApiClient(secret), method, path), 401, "invalid_token")


@pytest.mark.parametrize(("method", "path"), SECURED, ids=IDS)
def test_a_revoked_token_is_invalid(student, method, path):
    made = create_token(user=student, name="old bot")
    revoke_token(token_id=made.token.pk, user=student)

    body = problem(send(ApiClient(made.secret), method, path), 401, "invalid_token")
    assert "revoked" in body["detail"]


@pytest.mark.parametrize(("method", "path"), SECURED, ids=IDS)
def test_an_inactive_accounts_token_is_invalid(student, method, path):
    secret = token_for(student)
    student.is_active = False
    student.save(update_fields=["is_active"])

    problem(send(ApiClient(secret), method, path), 401, "invalid_token")


@pytest.mark.parametrize(("method", "path"), SECURED, ids=IDS)
def test_a_class_with_the_api_switched_off_is_refused(student, method, path):
    student.classroom = ClassroomFactory(name="Period 3", api_access=False)
    student.save(update_fields=["classroom"])
    client = ApiClient(token_for(student))
    before = money_state()

    body = problem(send(client, method, path), 403, "api_disabled")

    assert "Period 3" in body["detail"]
    assert money_state() == before


def test_the_api_switched_back_on_takes_the_same_token(student):
    period = ClassroomFactory(name="Period 3", api_access=False)
    student.classroom = period
    student.save(update_fields=["classroom"])
    client = ApiClient(token_for(student))
    problem(client.get("/account"), 403, "api_disabled")

    period.api_access = True
    period.save(update_fields=["api_access"])

    assert client.get("/account").status_code == 200


# The rate limit ------------------------------------------------------------------------


@pytest.fixture
def stopped_clock(monkeypatch):
    """The rate limit's clock stands still, inside one minute's window."""
    monkeypatch.setattr("api.auth.time", SimpleNamespace(time=lambda: 1_800_000_030.0))


@pytest.mark.parametrize(("method", "path"), SECURED, ids=IDS)
def test_past_the_rate_limit_a_token_is_told_to_wait(
    settings, stopped_clock, student, other_student, method, path
):
    settings.API_RATE_LIMIT_PER_MINUTE = 3
    client, other = ApiClient(token_for(student)), ApiClient(token_for(other_student))
    for left in ("2", "1", "0"):
        response = send(client, method, path)
        assert response.status_code != 429
        assert response["X-RateLimit-Remaining"] == left

    refused = send(client, method, path)

    problem(refused, 429, "rate_limited")
    assert refused["Retry-After"] == "30"  # the seconds left in the minute
    assert refused["X-RateLimit-Limit"] == "3"
    assert refused["X-RateLimit-Remaining"] == "0"
    assert refused["X-RateLimit-Reset"] == "30"
    unaffected = send(other, method, path)
    assert unaffected.status_code != 429
    assert unaffected["X-RateLimit-Remaining"] == "2"


def test_the_next_minute_the_token_may_ask_again(settings, monkeypatch, api):
    settings.API_RATE_LIMIT_PER_MINUTE = 1
    now = [1_800_000_030.0]
    monkeypatch.setattr("api.auth.time", SimpleNamespace(time=lambda: now[0]))
    assert api.get("/account").status_code == 200
    problem(api.get("/account"), 429, "rate_limited")

    now[0] += 60

    assert api.get("/account").status_code == 200


# Another student's orders ----------------------------------------------------------------

ORDER_PATHS = sorted(
    (method, path)
    for path, methods in ninja_api.get_openapi_schema()["paths"].items()
    if "{order_id}" in path
    for method in methods
)


@pytest.fixture
def alices_order(student, acme):
    """alice's open limit order, holding $450.00 of her cash."""
    request = order_request(
        side="buy", type="limit", symbol="ACME", quantity=10, limit_price="45.00"
    )
    return place_order(user=student, request=request)


def test_the_order_operations_are_found():
    assert {method for method, _ in ORDER_PATHS} >= {"get", "delete"}


@pytest.mark.parametrize(("method", "path"), ORDER_PATHS, ids=[f"{m} {p}" for m, p in ORDER_PATHS])
def test_another_students_order_is_not_found_and_stays_as_it_was(
    other_api, alices_order, method, path
):
    before = money_state(), list(Order.objects.values_list("pk", "status", "held_cash"))
    url = path.removeprefix(PREFIX).replace("{order_id}", str(alices_order.pk))

    body = problem(send(other_api, method, url), 404, "not_found")

    assert "ACME" not in str(body)
    after = money_state(), list(Order.objects.values_list("pk", "status", "held_cash"))
    assert after == before
    alices_order.refresh_from_db()
    assert alices_order.status == Order.Status.OPEN


def test_alice_herself_reads_and_cancels_it(api, alices_order):
    assert api.get(f"/orders/{alices_order.pk}").status_code == 200
    assert api.delete(f"/orders/{alices_order.pk}").json()["status"] == "cancelled"


# Logging in from a script: POST /auth/token -------------------------------------------------


def log_in(client=None, username="alice", password=PASSWORD, name="my bot"):
    client = client or ApiClient()
    return client.post("/auth/token", {"username": username, "password": password, "name": name})


def test_the_right_username_and_password_get_a_token_that_works(student):
    response = log_in()

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["token"].startswith("tsk_")
    assert body["name"] == "my bot"
    token = ApiToken.objects.get(user=student)
    assert token.pk == body["id"] and token.name == "my bot"
    assert body["token"] not in str(ApiToken.objects.values_list())  # kept as a digest only
    assert ApiClient(body["token"]).get("/account").status_code == 200


def test_a_wrong_password_is_invalid_credentials_and_makes_no_token(student):
    body = problem(log_in(password="wrong-guess"), 401, "invalid_credentials")

    assert body["detail"] == "The username or the password is wrong."
    assert not ApiToken.objects.exists()


def test_an_unknown_username_is_told_the_same(student):
    body = problem(log_in(username="mallory"), 401, "invalid_credentials")

    assert body["detail"] == "The username or the password is wrong."


def test_an_inactive_account_cannot_log_in(student):
    student.is_active = False
    student.save(update_fields=["is_active"])

    problem(log_in(), 401, "invalid_credentials")
    assert not ApiToken.objects.exists()


def test_repeated_failures_lock_the_api_and_the_log_in_form_alike(student, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        problem(log_in(password="wrong-guess"), 401, "invalid_credentials")

    locked = log_in(password="wrong-guess")

    problem(locked, 429, "login_locked")
    assert locked["Retry-After"] == str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    # The right password is refused too, through the API and on the log-in page.
    problem(log_in(), 429, "login_locked")
    page = Client().post(reverse("login"), {"username": "alice", "password": PASSWORD})
    assert page.status_code == 429
    assert "Too many failed log-ins" in page.content.decode()
    assert not ApiToken.objects.exists()


def test_failures_on_the_log_in_form_lock_the_api_too(student, settings):
    browser = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        browser.post(reverse("login"), {"username": "alice", "password": "wrong-guess"})

    problem(log_in(), 429, "login_locked")
    assert not ApiToken.objects.exists()


def test_a_class_with_the_api_switched_off_gets_no_token(student):
    student.classroom = ClassroomFactory(name="Period 3", api_access=False)
    student.save(update_fields=["classroom"])

    body = problem(log_in(), 403, "api_disabled")

    assert "Period 3" in body["detail"]
    assert not ApiToken.objects.exists()


def test_the_eleventh_live_token_is_refused(student):
    for n in range(MAX_ACTIVE_TOKENS):
        assert log_in(name=f"bot {n}").status_code == 201

    body = problem(log_in(name="one too many"), 400, "validation_error")

    assert "revoke one" in body["detail"]
    assert ApiToken.objects.filter(user=student).count() == MAX_ACTIVE_TOKENS


def test_a_revoked_token_leaves_room_for_another(student):
    for n in range(MAX_ACTIVE_TOKENS):
        create_token(user=student, name=f"bot {n}")
    revoke_token(token_id=ApiToken.objects.filter(user=student).first().pk, user=student)

    assert log_in().status_code == 201


def test_a_blank_token_name_is_refused_with_the_pages_message(student):
    body = problem(log_in(name="   "), 400, "validation_error")

    assert body["field"] == "name"
    assert "Give the token a name" in body["detail"]


def test_logging_in_ignores_a_bearer_token_and_needs_the_password(student):
    client = ApiClient("garbage")

    assert log_in(client).status_code == 201
    problem(log_in(client, password="wrong-guess"), 401, "invalid_credentials")


def test_another_student_in_a_class_is_unaffected_by_a_lock(student, settings):
    StudentFactory(username="bob", email="bob@school.example")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(password="wrong-guess")

    assert log_in(username="bob").status_code == 201
