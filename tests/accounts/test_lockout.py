"""Brute-force protection (django-axes with accounts.lockout): repeated failures lock a
username on a browser that logged in as them before, or else from the client's address."""

from io import StringIO
from unittest import mock

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from tests.factories import PASSWORD


def fail_login(client, username="alice"):
    return client.post(reverse("login"), {"username": username, "password": "wrong-guess"})


@pytest.mark.django_db
def test_repeated_failures_lock_the_account_with_a_clear_message(client, student, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert fail_login(client).status_code == 400

    locked = fail_login(client)

    assert locked.status_code == 429
    assert "Too many failed log-ins" in locked.content.decode()
    right = client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    assert right.status_code == 429
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_lockout_is_per_username(client, student, other_student, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        fail_login(client)

    response = client.post(reverse("login"), {"username": "bob", "password": PASSWORD})

    assert response.status_code == 302


@pytest.mark.django_db
def test_management_command_unlocks_a_username(client, student, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        fail_login(client)

    call_command("axes_reset_username", "alice", stdout=StringIO())

    response = client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302


# Whose failures lock whom (accounts.lockout) ------------------------------------------

PROXY = "127.0.0.1"  # nginx in front of gunicorn: every request's REMOTE_ADDR
SCHOOL = "192.0.2.10"  # a school network's one public address (NAT)


def browser(address, forwarded=None):
    """A browser of its own (its own cookies) at `address`; with `forwarded`, behind the
    proxy, which sent X-Forwarded-For: `forwarded`."""
    headers = {"REMOTE_ADDR": address}
    if forwarded is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded
    return Client(**headers)


def log_in(client, username="alice", password=PASSWORD, url=None):
    return client.post(url or reverse("login"), {"username": username, "password": password})


def lock(client, username="alice", url=None):
    """Fail until the throttle answers; the last answer must be the lock."""
    from django.conf import settings

    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = log_in(client, username, "wrong-guess", url=url)
    assert response.status_code == 429
    return response


@pytest.fixture
def behind_proxy(settings):
    settings.BEHIND_PROXY = True


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("username", "url"),
    [("alice", "/accounts/login/"), ("teacher", "/admin/login/")],
    ids=["student", "instructor in the admin"],
)
def test_behind_the_proxy_an_attacker_elsewhere_cannot_lock_anyone_out(
    behind_proxy, student, instructor, username, url
):
    attacker = browser(PROXY, forwarded="203.0.113.66")
    lock(attacker, username, url=url)

    victim = browser(PROXY, forwarded="198.51.100.7")
    response = log_in(victim, username, url=url)

    assert response.status_code == 302
    assert response.wsgi_request.user.get_username() == username


@pytest.mark.django_db
def test_behind_the_proxy_only_the_address_nginx_appended_counts(behind_proxy, student):
    """The client writes whatever it likes to the left of nginx's entry."""
    from django.conf import settings

    attacker = browser(PROXY)
    for n in range(settings.AXES_FAILURE_LIMIT):
        attacker.defaults["HTTP_X_FORWARDED_FOR"] = f"10.9.8.{n}, 203.0.113.66"
        log_in(attacker, password="wrong-guess")

    attacker.defaults["HTTP_X_FORWARDED_FOR"] = "10.9.8.200, 203.0.113.66"
    assert log_in(attacker).status_code == 429


@pytest.mark.django_db
def test_without_behind_proxy_x_forwarded_for_is_not_trusted(settings, student):
    assert not settings.BEHIND_PROXY
    attacker = browser("203.0.113.66")
    for n in range(settings.AXES_FAILURE_LIMIT):
        attacker.defaults["HTTP_X_FORWARDED_FOR"] = f"10.9.8.{n}"
        log_in(attacker, password="wrong-guess")

    attacker.defaults["HTTP_X_FORWARDED_FOR"] = "10.9.8.200"
    assert log_in(attacker).status_code == 429


@pytest.mark.django_db
def test_a_classmate_at_the_same_address_cannot_lock_out_a_browser_that_logged_in_before(
    student, other_student
):
    alices_laptop = browser(SCHOOL)
    assert log_in(alices_laptop).status_code == 302
    alices_laptop.post(reverse("logout"))

    lock(browser(SCHOOL), "alice")  # Bob, on his own computer at school

    assert log_in(alices_laptop).status_code == 302


@pytest.mark.django_db
def test_a_known_browser_failing_is_locked_without_locking_the_address(student):
    shared_computer = browser(SCHOOL)
    assert log_in(shared_computer).status_code == 302
    shared_computer.post(reverse("logout"))

    lock(shared_computer, "alice")  # someone else at the computer Alice used

    assert log_in(shared_computer).status_code == 429
    assert log_in(browser(SCHOOL)).status_code == 302


@pytest.mark.django_db
def test_a_browser_known_for_another_user_is_unknown_for_this_one(student, other_student):
    bobs_laptop = browser(SCHOOL)
    assert log_in(bobs_laptop, "bob").status_code == 302
    bobs_laptop.post(reverse("logout"))

    lock(bobs_laptop, "alice")

    assert log_in(browser(SCHOOL)).status_code == 429


@pytest.mark.django_db
def test_a_forged_known_browser_cookie_counts_as_an_unknown_browser(student):
    from django.core import signing

    from accounts.lockout import DEVICE_COOKIE

    attacker = browser(SCHOOL)
    attacker.cookies[DEVICE_COOKIE] = signing.dumps({"alice": "f00d"}, key="guessed-key")
    lock(attacker, "alice")

    assert log_in(browser(SCHOOL)).status_code == 429


@pytest.mark.django_db
@pytest.mark.parametrize(
    "agent", ["known browser 0123456789abcdef", "Known Browser 1", "KNOWN BROWSER x"]
)
def test_a_user_agent_dressed_as_a_known_browser_is_still_an_unknown_browser(student, agent):
    # SQLite's LIKE ignores case: a label in other letters must not pass for one either.
    attacker = browser(SCHOOL)
    attacker.defaults["HTTP_USER_AGENT"] = agent
    lock(attacker, "alice")

    assert log_in(browser(SCHOOL)).status_code == 429


@pytest.mark.django_db
def test_logging_in_gives_the_browser_an_http_only_known_browser_cookie(student):
    from accounts.lockout import DEVICE_COOKIE

    response = log_in(browser(SCHOOL))

    cookie = response.cookies[DEVICE_COOKIE]
    assert cookie.value
    assert cookie["httponly"]
    assert "alice" not in cookie.value  # compressed and signed, not a readable list


@pytest.fixture
def clock():
    """Django's and axes' clock, moved by hand."""
    from datetime import timedelta

    from django.utils import timezone

    class Clock:
        now = timezone.now()

        def advance(self, **delta):
            self.now += timedelta(**delta)

    clock = Clock()
    with (
        mock.patch("django.utils.timezone.now", side_effect=lambda: clock.now),
        mock.patch("axes.handlers.proxy.now", side_effect=lambda: clock.now),
    ):
        yield clock


@pytest.mark.django_db
def test_trying_again_during_the_lock_does_not_extend_it(settings, student, clock):
    lock(browser(SCHOOL), "alice")
    minutes = settings.AXES_COOLOFF_TIME.total_seconds() / 60

    clock.advance(minutes=minutes - 1)
    lock(browser(SCHOOL), "alice")  # still locked; these tries must not count
    clock.advance(minutes=2)

    assert log_in(browser(SCHOOL)).status_code == 302


@pytest.mark.django_db
def test_the_lock_page_says_for_how_long_and_that_retrying_does_not_extend_it(
    settings, student
):
    response = lock(browser(SCHOOL), "alice")

    page = " ".join(response.content.decode().split())
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    assert f"for up to {minutes} minutes" in page
    assert "does not make the wait longer" in page
    assert "A browser where you have logged in as alice before can still log in" in page
