"""The log-in throttle (django-axes, configured in settings): whose failures count against
whom, so that guessing a password stays slow without letting anyone lock someone else out.

Failed log-ins count against the username and the client's address. The address is
REMOTE_ADDR, or with BEHIND_PROXY the address the proxy (deploy/nginx.conf) appended to
X-Forwarded-For: the last entry, the only one a client cannot write.
"""

import ipaddress

from axes.helpers import get_client_username
from django.conf import settings
from django.shortcuts import render


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


def lockout_response(request, original_response=None, credentials=None):
    """The page for a locked log-in (AXES_LOCKOUT_CALLABLE): HTTP 429, in plain words."""
    return render(
        request,
        "registration/locked_out.html",
        {
            "username": get_client_username(request, credentials) or "",
            "minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
        },
        status=429,
    )
