"""Logging: one structured line per money movement and per refusal (who, what, why),
written after commit, and never a password, token or secret in any line."""

import json
import logging
from contextlib import contextmanager
from decimal import Decimal
from unittest import mock

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from tests.factories import PriceFactory
from tests.security.helpers import token_from
from tradesim.logging import REDACTED, StructuredFormatter, log_event, logfmt

PASSWORD = "Zebra-Quartz-Lantern-8841"
WRONG_PASSWORD = "Wrong-Guess-Velvet-5512"


class Lines(logging.Handler):
    """Every record, formatted the way the console handler formats it in production."""

    def __init__(self, output="keyvalue"):
        super().__init__(level=logging.DEBUG)
        self.setFormatter(StructuredFormatter(output))
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(self.format(record))

    def events(self, name: str) -> list[dict]:
        """The key=value lines of one event, as dicts (values unquoted only when bare)."""
        found = []
        for line in self.lines:
            pairs = dict(part.split("=", 1) for part in line.split(" ") if "=" in part)
            if pairs.get("event") == name:
                found.append(pairs)
        return found


@contextmanager
def every_log_line(output="keyvalue"):
    """Catch every record from every logger (root, Django's, axes', ours) at DEBUG: the
    root gets the ones that propagate, and "django" and "tradesim" keep theirs."""
    handler = Lines(output)
    names = ["", "django", "tradesim", "axes"]
    loggers = [logging.getLogger(name) for name in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        if lg.propagate is False or lg is logging.getLogger():
            lg.addHandler(handler)
        lg.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.removeHandler(handler)  # a no-op where it was not added
            lg.setLevel(level)


def csrf_post(client, url, data):
    """POST the way a browser does: with the CSRF token the page's cookie carries."""
    client.get(url)
    token = client.cookies[settings.CSRF_COOKIE_NAME].value
    return client.post(url, {**data, "csrfmiddlewaretoken": token})


@pytest.mark.django_db
def test_sign_up_log_in_and_deposit_never_log_a_secret(django_capture_on_commit_callbacks):
    PriceFactory(symbol="AAPL", price=Decimal("189.12"))
    client = Client(enforce_csrf_checks=True)
    secrets = {"password": PASSWORD, "wrong password": WRONG_PASSWORD}

    with every_log_line() as log, django_capture_on_commit_callbacks(execute=True):
        response = csrf_post(
            client,
            reverse("register"),
            {
                "username": "maya",
                "email": "maya@school.example",
                "password1": PASSWORD,
                "password2": PASSWORD,
            },
        )
        assert response.status_code == 302
        secrets["session key"] = client.cookies[settings.SESSION_COOKIE_NAME].value
        client.post(reverse("logout"), {"csrfmiddlewaretoken": client.cookies["csrftoken"].value})

        wrong = csrf_post(
            client, reverse("login"), {"username": "maya", "password": WRONG_PASSWORD}
        )
        assert wrong.status_code == 400
        right = csrf_post(client, reverse("login"), {"username": "maya", "password": PASSWORD})
        assert right.status_code == 302
        secrets["session key after log-in"] = client.cookies[settings.SESSION_COOKIE_NAME].value

        page = client.get(reverse("ledger:deposit")).content.decode()
        token = token_from(page)
        secrets["one-time token"] = token
        secrets["csrf token"] = client.cookies[settings.CSRF_COOKIE_NAME].value
        deposited = client.post(
            reverse("ledger:deposit"),
            {
                "amount": "250.00",
                "description": "Birthday money",
                "token": token,
                "csrfmiddlewaretoken": secrets["csrf token"],
            },
        )
        assert deposited.status_code == 302
        refused = client.post(
            reverse("ledger:withdraw"),
            {"amount": "1e3", "csrfmiddlewaretoken": secrets["csrf token"]},
        )
        assert refused.status_code == 400

    from django.contrib.auth import get_user_model

    secrets["password hash"] = get_user_model().objects.get(username="maya").password
    secrets["SECRET_KEY"] = settings.SECRET_KEY
    assert log.lines, "the flow logs something"
    for line in log.lines:
        assert "\n" not in line
        for name, secret in secrets.items():
            assert secret not in line, f"the {name} appears in a log line: {line}"

    deposits = log.events("cash.deposit")
    assert [(d["user"], d["amount"], d["result"]) for d in deposits] == [
        ("maya", "10000.00", "ok"),  # the starting cash, at sign-up
        ("maya", "250.00", "ok"),
    ]
    assert deposits[1]["balance"] == "10250.00"
    (rejected,) = log.events("cash.rejected")
    assert rejected["user"] == "maya"
    assert rejected["action"] == "withdraw"
    assert rejected["result"] == "rejected"
    assert rejected["errors"] == "amount:exponent"


@pytest.mark.django_db
def test_each_trade_and_each_refusal_is_one_line_after_commit(
    student_client, student, django_capture_on_commit_callbacks
):
    PriceFactory(symbol="AAPL", price=Decimal("100.00"))

    with every_log_line() as log:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            student_client.post(reverse("trading:buy"), {"symbol": "aapl", "quantity": "3"})
        assert log.events("trade.buy") == [], "nothing is said before the commit"
        for callback in callbacks:
            callback()
        with django_capture_on_commit_callbacks(execute=True):
            student_client.post(reverse("trading:sell"), {"symbol": "AAPL", "quantity": "99"})
            student_client.post(reverse("trading:sell"), {"symbol": "AAPL", "quantity": "-1"})
            student_client.post(reverse("ledger:withdraw"), {"amount": "999999.00"})

    (bought,) = log.events("trade.buy")
    assert {k: bought[k] for k in ("user", "side", "symbol", "quantity", "total", "result")} == {
        "user": "alice",
        "side": "buy",
        "symbol": "AAPL",
        "quantity": "3",
        "total": "300.00",
        "result": "ok",
    }
    (cash_side,) = log.events("cash.buy")
    assert cash_side["amount"] == "300.00"
    assert cash_side["balance"] == "9700.00"

    too_many, negative = log.events("trade.rejected")
    assert too_many["reason"] == "NotEnoughShares"
    assert too_many["quantity"] == "99"
    assert negative["reason"] == "invalid_input"
    assert negative["errors"] == "quantity:min_value"
    (overdrawn,) = log.events("cash.rejected")
    assert overdrawn["reason"] == "InsufficientFunds"
    assert overdrawn["amount"] == "999999.00"


@pytest.mark.django_db
def test_a_rolled_back_movement_logs_no_movement(student, django_capture_on_commit_callbacks):
    from django.db import transaction

    from ledger.services import deposit

    with (
        every_log_line() as log,
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        deposit(user=student, amount=Decimal("5.00"))
        raise RuntimeError("undo")

    assert log.events("cash.deposit") == []


def test_sensitive_keys_are_redacted_and_long_values_shortened():
    with every_log_line() as log:
        log_event(
            logging.getLogger("tradesim.test"),
            "demo",
            user="alice",
            password="hunter2",
            csrftoken="abc",
            note="x" * 5000,
        )
    (line,) = log.lines
    assert "hunter2" not in line and "abc" not in line
    assert f"password={REDACTED}" in line
    assert len(line) < 400


def test_a_traceback_stays_on_one_line_and_json_is_one_object():
    with every_log_line("json") as log:
        try:
            raise ValueError("boom\nsecond line")
        except ValueError:
            logging.getLogger("tradesim.test").exception("failed for %s", "alice")
        log_event(logging.getLogger("tradesim.test"), "cash.deposit", user="al ice", amount=1)

    first, second = log.lines
    assert "\n" not in first
    parsed = json.loads(first)
    assert parsed["msg"] == "failed for alice"
    assert "ValueError: boom\nsecond line" in parsed["exc"]
    assert json.loads(second) | {"ts": None} == {
        "ts": None,
        "level": "INFO",
        "logger": "tradesim.test",
        "event": "cash.deposit",
        "user": "al ice",
        "amount": 1,
    }


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("plain", "plain"),
        ("two words", '"two words"'),
        ('a "quote"', '"a \\"quote\\""'),
        ("line\nbreak", '"line\\nbreak"'),
        ("sep\u2028arator", '"sep\\u2028arator"'),
        ("", '""'),
        ("١٢٣", "١٢٣"),
    ],
)
def test_logfmt_quotes_what_would_break_a_line(value, written):
    assert logfmt({"k": value}) == f"k={written}"


def test_an_unknown_log_format_is_refused_clearly():
    with pytest.raises(ValueError, match="LOG_FORMAT must be one of"):
        StructuredFormatter("yaml")


@pytest.mark.django_db
def test_a_500_is_logged_with_the_request_and_the_user_beside_the_traceback(student):
    client = Client(raise_request_exception=False)
    client.force_login(student)

    with (
        every_log_line() as log,
        mock.patch("portfolio.views.render", side_effect=RuntimeError("boom")),
    ):
        response = client.get("/portfolio/?view=week&token=s3cret")

    assert response.status_code == 500
    (line,) = [line for line in log.lines if "logger=django.request" in line]
    assert "level=ERROR" in line
    assert "method=GET path=/portfolio/ " in line
    assert f'query="view=week&token=[redacted]" status=500 user_id={student.pk} ' in line
    assert "s3cret" not in line
    assert "exc=" in line and "RuntimeError: boom" in line


@pytest.mark.django_db
def test_a_500_before_anything_read_the_user_still_names_them(student):
    client = Client(raise_request_exception=False)
    client.force_login(student)

    # /healthz never reads the user.
    with (
        every_log_line("json") as log,
        mock.patch("tradesim.views.HttpResponse", side_effect=RuntimeError("boom")),
    ):
        client.head("/healthz")

    (line,) = [json.loads(line) for line in log.lines if '"django.request"' in line]
    assert {k: line.get(k) for k in ("method", "path", "status", "user_id")} == {
        "method": "HEAD",
        "path": "/healthz",
        "status": 500,
        "user_id": student.pk,
    }


@pytest.mark.django_db
def test_an_anonymous_500_logs_no_user():
    client = Client(raise_request_exception=False)

    with (
        every_log_line() as log,
        mock.patch("tradesim.views.render", side_effect=RuntimeError("boom")),
    ):
        client.get("/")

    (line,) = [line for line in log.lines if "logger=django.request" in line]
    assert "path=/ " in line and "status=500" in line
    assert "user_id" not in line
