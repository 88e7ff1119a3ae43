"""A classroom's shared computers: the next student must find nothing of the last one's.

Pages with money are never stored by the browser, a log-in ends with the browser unless
the student asks to be kept logged in, and log-out is one click from every page."""

import re

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from tests.factories import PASSWORD
from tests.security.test_authorization import EXPECTED, VARIANTS, body, classroom, site_urls

__all__ = ["classroom"]  # the fixture, shared with the authorization sweep

pytestmark = pytest.mark.django_db


def student_pages():
    """Every page alice may open, with the exports and filters."""
    for name, path in site_urls().items():
        if EXPECTED[name]["student"] == 200:
            for variant in VARIANTS.get(name, [""]):
                yield path + variant


def test_every_page_a_logged_in_student_gets_is_never_stored(classroom):
    alice = Client()
    alice.force_login(classroom["alice"])
    pages = list(student_pages())
    assert reverse("portfolio:dashboard") in pages and reverse("prices:market") in pages

    for url in pages:
        response = alice.get(url)
        assert "no-store" in response.get("Cache-Control", ""), url


def test_the_admin_pages_with_students_money_are_never_stored(classroom):
    teacher = Client()
    teacher.force_login(classroom["teacher"])
    for name in (
        "admin:index",
        "admin:accounts_user_changelist",
        "admin:ledger_balance_changelist",
    ):
        response = teacher.get(reverse(name))
        assert response.status_code == 200
        assert "no-store" in response["Cache-Control"], name


def _outside_the_folding_menu(page: str) -> bool:
    """A log-out form that stays visible when the navbar's menu is folded away (phones)."""
    menu = page.index('class="collapse navbar-collapse"')
    logout = f'action="{reverse("logout")}"'
    return logout in page[:menu]


def test_log_out_is_one_click_from_every_page(classroom):
    alice = Client()
    alice.force_login(classroom["alice"])
    checked = 0
    for url in student_pages():
        response = alice.get(url)
        if not response["Content-Type"].startswith("text/html") or response.streaming:
            continue
        page = body(response)
        if "<nav" not in page:  # fragments the pages poll for
            continue
        assert _outside_the_folding_menu(page), url
        checked += 1
    assert checked >= 10


def _session_cookie(client):
    return client.cookies[settings.SESSION_COOKIE_NAME]


def test_a_log_in_ends_when_the_browser_closes_by_default(student):
    client = Client()
    response = client.post(reverse("login"), {"username": "alice", "password": PASSWORD})

    assert response.status_code == 302
    cookie = _session_cookie(client)
    assert cookie.value
    assert (cookie["max-age"], cookie["expires"]) == ("", "")  # a browser-session cookie
    assert client.session.get_expire_at_browser_close()


def test_keep_me_logged_in_outlives_the_browser(student):
    client = Client()
    response = client.post(
        reverse("login"), {"username": "alice", "password": PASSWORD, "remember": "on"}
    )

    assert response.status_code == 302
    cookie = _session_cookie(client)
    assert cookie["max-age"] == settings.SESSION_COOKIE_AGE
    assert not client.session.get_expire_at_browser_close()


def test_the_log_in_form_offers_to_keep_the_student_logged_in(client, db):
    page = client.get(reverse("login")).content.decode()

    assert re.search(r'<input type="checkbox" name="remember"[^>]*id="id_remember"', page)
    assert "Keep me logged in" in page
    assert "shared computer" in page


def test_signing_up_logs_in_until_the_browser_closes(client, db):
    response = client.post(
        reverse("register"),
        {
            "username": "dana",
            "email": "dana@school.example",
            "password1": "Tr4ding-Floor-2026",
            "password2": "Tr4ding-Floor-2026",
        },
    )

    assert response.status_code == 302
    assert _session_cookie(client)["max-age"] == ""
    assert client.session.get_expire_at_browser_close()


def test_the_500_page_offers_log_out(settings):
    from unittest import mock

    settings.DEBUG = False
    alice = Client(raise_request_exception=False)
    with mock.patch("tradesim.views.render", side_effect=RuntimeError("boom")):
        page = alice.get("/").content.decode()

    assert f'href="{reverse("logout")}"' in page
