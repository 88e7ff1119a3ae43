"""The log-in throttle (django-axes, configured in settings): whose failures count against
whom, so that guessing a password stays slow without letting anyone lock someone else out.

- A browser that has logged in as a user carries a signed "known browser" cookie for that
  user (OWASP's device cookies). Its failed log-ins as that user count against that
  browser alone: a classmate failing on purpose from their own browser, even behind the
  same school address, never locks it.
- Any other attempt counts against the username and the client's address. The address is
  REMOTE_ADDR, or with BEHIND_PROXY the address the proxy (deploy/nginx.conf) appended to
  X-Forwarded-For: the last entry, the only one a client cannot write.

Attempts are axes' AccessAttempt rows, so the admin, `axes_reset_username` and the
cool-off work as before. A known browser's rows have "known browser <id>" as their user
agent; unlocking a username clears both kinds.
"""

import ipaddress
import secrets
from datetime import timedelta

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.core import signing
from django.shortcuts import render

DEVICE_COOKIE = "tradesim_browser"
DEVICE_SALT = "accounts.lockout.known-browser"
DEVICE_COOKIE_AGE = timedelta(days=365)
# A shared classroom computer remembers this many users, the most recent first.
DEVICES_PER_BROWSER = 10
DEVICE_LABEL = "known browser "


def client_ip(request) -> str | None:
    """The client's address (AXES_CLIENT_IP_CALLABLE)."""
    if settings.BEHIND_PROXY:
        # nginx appends the address it saw; anything to its left came from the client.
        nearest = request.META.get("HTTP_X_FORWARDED_FOR", "").rsplit(",", 1)[-1].strip()
        if _is_ip(nearest):
            return nearest
    address = request.META.get("REMOTE_ADDR", "")
    return address if _is_ip(address) else None


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _known_browsers(request) -> dict[str, str]:
    """{username: device id} from this browser's signed cookie ({} if absent or forged)."""
    cookie = request.COOKIES.get(DEVICE_COOKIE)
    if not cookie:
        return {}
    try:
        devices = signing.loads(cookie, salt=DEVICE_SALT, max_age=DEVICE_COOKIE_AGE)
    except signing.BadSignature:
        return {}
    if not isinstance(devices, dict):
        return {}
    return {name: device for name, device in devices.items() if isinstance(device, str)}


def known_browser(request, username: str | None) -> str | None:
    """This browser's id for `username` if it has logged in as them before, else None."""
    if not username:
        return None
    return _known_browsers(request).get(username)


def remember_browser(request, response, username: str) -> None:
    """Give (or renew) this browser's known-browser cookie for `username`."""
    devices = _known_browsers(request)
    device = devices.pop(username, None) or secrets.token_hex(8)
    kept = [(username, device), *devices.items()][:DEVICES_PER_BROWSER]
    response.set_cookie(
        DEVICE_COOKIE,
        signing.dumps(dict(kept), salt=DEVICE_SALT, compress=True),
        max_age=DEVICE_COOKIE_AGE,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


class LoginThrottle(AxesDatabaseHandler):
    """axes' database handler (AXES_HANDLER), counting a known browser's failures apart."""

    def filter_user_attempts(self, request, credentials=None):
        username = get_client_username(request, credentials)
        device = known_browser(request, username)
        if device is not None:
            label = DEVICE_LABEL + device
            return [AccessAttempt.objects.filter(username=username, user_agent=label)]
        # Per username and address (AXES_LOCKOUT_PARAMETERS), leaving out known browsers'
        # failures, which count against those browsers only.
        return [
            attempts.exclude(user_agent__startswith=DEVICE_LABEL)
            for attempts in super().filter_user_attempts(request, credentials)
        ]

    def user_login_failed(self, sender, credentials, request=None, **kwargs):
        if request is None:
            return super().user_login_failed(sender, credentials, request, **kwargs)
        # The attempt is recorded under request.axes_user_agent: the known browser's label,
        # or the client's own user agent, which must not pass for a label.
        agent = request.axes_user_agent
        device = known_browser(request, get_client_username(request, credentials))
        if device is not None:
            request.axes_user_agent = DEVICE_LABEL + device
        elif agent.lower().startswith(DEVICE_LABEL):
            # In any letters: SQLite's LIKE, behind startswith, ignores case.
            request.axes_user_agent = f"({agent})"[:255]
        try:
            return super().user_login_failed(sender, credentials, request, **kwargs)
        finally:
            request.axes_user_agent = agent

    def user_logged_in(self, sender, request, user, **kwargs):
        super().user_logged_in(sender, request, user, **kwargs)
        # KnownBrowserMiddleware sets the cookie on the response.
        request.logged_in_username = user.get_username()


def clear_failures(request, username: str) -> None:
    """Forget the failed log-ins that count against `username` from this client, as a
    successful log-in on the form does (AXES_RESET_ON_SUCCESS), without axes' log-in
    signal, which also opens a session: for a log-in by a program (POST /api/v1/auth/token),
    which keeps no cookie."""
    for attempts in LoginThrottle().filter_user_attempts(request, {"username": username}):
        attempts.delete()


class KnownBrowserMiddleware:
    """Remember the browser that has just logged in (LoginThrottle.user_logged_in)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        username = getattr(request, "logged_in_username", None)
        if username:
            remember_browser(request, response, username)
        return response


def lockout_response(request, original_response=None, credentials=None):
    """The page for a locked log-in (AXES_LOCKOUT_CALLABLE): HTTP 429, in plain words."""
    username = get_client_username(request, credentials) or ""
    return render(
        request,
        "registration/locked_out.html",
        {
            "username": username,
            "minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
            "known_browser": known_browser(request, username) is not None,
        },
        status=429,
    )
