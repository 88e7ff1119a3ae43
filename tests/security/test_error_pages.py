"""The 400/403/404/500 pages, as a production server (DEBUG off) shows them: friendly, in
the site's look where they can be, and revealing nothing about the code or the URLs."""

from unittest import mock

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client

# Things Django's debug pages show and ours must never.
REVEALING = [
    "Traceback",
    "Using the URLconf",
    "urlpatterns",
    "tradesim.urls",
    "admin/",
    "healthz",
    "Request Method",
    "settings.py",
    "SECRET_KEY",
    "DEBUG",
    "Exception Value",
    "site-packages",
]


def assert_reveals_nothing(page: str, *also: str):
    for text in (*REVEALING, *also):
        assert text not in page, f"the error page shows {text!r}"


@pytest.fixture(autouse=True)
def production(settings):
    settings.DEBUG = False


@pytest.mark.django_db
def test_404_page_has_no_url_list_and_no_echo_of_the_path():
    response = Client().get("/no-such-page/<script>alert(1)</script>")

    assert response.status_code == 404
    page = response.content.decode()
    assert "Page not found" in page
    assert "<script>alert(1)</script>" not in page
    assert_reveals_nothing(page, "no-such-page")


@pytest.mark.django_db
def test_404_for_a_missing_record_says_nothing_about_the_lookup(student_client):
    response = student_client.get("/ledger/deposit/extra/")
    assert response.status_code == 404
    assert_reveals_nothing(response.content.decode())


@pytest.mark.django_db
def test_500_page_is_friendly_and_shows_no_traceback():
    client = Client(raise_request_exception=False)
    failure = RuntimeError("connection string postgres://teacher:hunter2@db/tradesim")

    with mock.patch("tradesim.views.render", side_effect=failure):
        response = client.get("/")

    assert response.status_code == 500
    page = response.content.decode()
    assert "Something went wrong" in page
    assert "Your money is safe" in page
    assert_reveals_nothing(page, "RuntimeError", "hunter2", "postgres://")


@pytest.mark.django_db
def test_403_page_is_the_sites_own():
    client = Client(raise_request_exception=False)

    with mock.patch("tradesim.views.render", side_effect=PermissionDenied("internal reason")):
        response = client.get("/")

    assert response.status_code == 403
    page = response.content.decode()
    assert "You can't do that" in page
    assert_reveals_nothing(page, "internal reason")


@pytest.mark.django_db
def test_400_page_for_a_forged_host_header_names_no_host():
    response = Client().get("/", HTTP_HOST="evil.example")

    assert response.status_code == 400
    page = response.content.decode()
    assert "could not be understood" in page
    assert_reveals_nothing(page, "evil.example", "ALLOWED_HOSTS")


@pytest.mark.django_db
def test_a_post_without_csrf_token_is_refused_without_detail(student):
    client = Client(enforce_csrf_checks=True)
    client.force_login(student)

    response = client.post("/ledger/deposit/", {"amount": "10"})

    assert response.status_code == 403
    page = response.content.decode()
    assert "That form has expired" in page
    assert "Nothing was changed" in page
    assert_reveals_nothing(page, "CSRF verification failed", "Referer")
