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
