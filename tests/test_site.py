"""Project-wide behaviour: the landing page, /healthz, the deploy checks."""

import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
from django.db import DatabaseError
from django.urls import reverse

BASE_DIR = Path(__file__).resolve().parent.parent


@pytest.mark.django_db
def test_landing_page_explains_tradesim_to_a_newcomer(client):
    response = client.get("/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "TradeSim" in page
    assert reverse("register") in page


@pytest.mark.django_db
def test_landing_page_sends_a_logged_in_user_to_the_dashboard(student_client):
    response = student_client.get("/")
    assert response.status_code == 302
    assert response.url == reverse("portfolio:dashboard")


@pytest.mark.django_db
def test_healthz_is_ok_when_the_database_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok"


@pytest.mark.django_db
def test_healthz_answers_a_monitor_probing_with_head(client):
    response = client.head("/healthz")
    assert response.status_code == 200
    assert response.content == b""


@pytest.mark.django_db
def test_healthz_head_is_503_when_the_database_does_not_answer(client):
    with mock.patch("tradesim.views.connection.cursor", side_effect=DatabaseError("down")):
        response = client.head("/healthz")
    assert response.status_code == 503


@pytest.mark.django_db
def test_healthz_is_503_when_the_database_does_not_answer(client):
    with mock.patch("tradesim.views.connection.cursor", side_effect=DatabaseError("down")):
        response = client.get("/healthz")
    assert response.status_code == 503


def test_old_bookmarks_of_the_class_admin_reach_its_new_address(client):
    response = client.get("/admin/accounts/classroom/standings/?class=3")

    assert response.status_code == 302
    assert response.url == "/admin/classrooms/classroom/standings/?class=3"
    assert response.url == reverse("admin:classrooms_classroom_standings") + "?class=3"


def _manage(*args, **env):
    full_env = {**os.environ, **env}
    full_env.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="False",
        SECRET_KEY="a-real-production-secret-" + "x7Qp2LmZ9vR4tY8wK3nB6cF1hJ5gD0sA",
        ALLOWED_HOSTS="tradesim.school.example",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_app_refuses_to_start_without_secret_key_when_debug_is_off():
    result = _manage("check", DEBUG="False", SECRET_KEY="")
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_app_refuses_to_start_with_a_negative_commission():
    result = _manage("check", DEBUG="True", COMMISSION_PER_TRADE="-1.00")
    assert result.returncode != 0
    assert "COMMISSION_PER_TRADE must be" in result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        # systemd's EnvironmentFile (and .env) keep an inline comment as part of the value.
        ("BEHIND_PROXY", "True  # behind nginx", "BEHIND_PROXY must be True or False"),
        ("DEBUG", "yes please", "DEBUG must be True or False"),
        ("SECURE_COOKIES", "ture", "SECURE_COOKIES must be True or False"),
        ("DEPOSITS_OPEN", "False # a competition", "DEPOSITS_OPEN must be True or False"),
        ("AXES_FAILURE_LIMIT", "five", "AXES_FAILURE_LIMIT must be a whole number"),
        ("AXES_FAILURE_LIMIT", "0", "AXES_FAILURE_LIMIT must be a whole number, 1 or more"),
        ("AXES_COOLOFF_MINUTES", "15 # minutes", "AXES_COOLOFF_MINUTES must be a whole number"),
        ("SECURE_HSTS_SECONDS", "1e6", "SECURE_HSTS_SECONDS must be a whole number"),
        ("CONN_MAX_AGE", "-5", "CONN_MAX_AGE must be a whole number, 0 or more"),
        ("STARTING_CASH", "ten", "STARTING_CASH must be an amount of dollars"),
        ("MAX_DEPOSIT", "NaN", "MAX_DEPOSIT must be an amount of dollars"),
        ("MAX_TOTAL_DEPOSITS", "500 dollars", "MAX_TOTAL_DEPOSITS must be an amount of dollars"),
        ("ALLOWED_HOSTS", "trade.example.edu  # the school's", "ALLOWED_HOSTS must be"),
        ("DATABASE_URL", "sqlite:///db.sqlite3  # the default", "DATABASE_URL must be"),
        ("DATABASE_URL", "postgress://tradesim@db/tradesim", "DATABASE_URL must be"),
        ("CACHE_URL", "redis://127.0.0.1:6379/1 # shared", "CACHE_URL must be"),
        ("SESSION_ENGINE", "django.contrib.sessions.backends.db # db", "SESSION_ENGINE must be"),
        ("TIME_ZONE", "Europe/Paris  # the school's", "TIME_ZONE must be a time zone name"),
        ("LOG_LEVEL", "INFO # ours only", "LOG_LEVEL must be one of DEBUG, INFO"),
        ("LOG_FORMAT", "json # for the collector", "LOG_FORMAT must be one of keyvalue, json"),
    ],
)
def test_a_setting_that_cannot_be_read_stops_the_start_and_names_it(variable, value, expected):
    result = _manage("check", **{"DEBUG": "True", variable: value})

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert expected in result.stderr
    assert repr(value) in result.stderr


def test_an_inline_comment_is_explained_in_the_message():
    result = _manage("check", DEBUG="True", BEHIND_PROXY="True  # behind nginx")

    assert "comment" in result.stderr


def test_the_message_leaves_out_a_database_password():
    result = _manage(
        "check", DEBUG="True", DATABASE_URL="postgres://tradesim:hunter2@db/tradesim  # main"
    )

    assert "DATABASE_URL must be" in result.stderr
    assert "postgres://tradesim:***@db/tradesim" in result.stderr
    assert "hunter2" not in result.stderr


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DEBUG", " true "),
        ("BEHIND_PROXY", "off"),
        ("DEPOSITS_OPEN", "0"),
        ("AXES_FAILURE_LIMIT", "7"),
        ("MAX_TOTAL_DEPOSITS", ""),
        ("STARTING_CASH", "2500.50"),
        ("ALLOWED_HOSTS", "a.example, b.example"),
        ("TIME_ZONE", "America/New_York"),
        ("LOG_LEVEL", "warning"),
        ("LOG_FORMAT", "JSON"),
    ],
)
def test_settings_in_the_documented_forms_are_accepted(variable, value):
    result = _manage("check", **{"DEBUG": "True", variable: value})

    assert result.returncode == 0, result.stderr
