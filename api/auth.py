"""Who is asking: the bearer token, the class's API switch, and the token's rate limit.

One query per request (the token with its user and class); at most one UPDATE a minute
per token for its last-used time; the rate limit is counted in the shared cache."""

import math
import time

from django.conf import settings
from django.core.cache import cache
from ninja.security import HttpBearer

from api import services
from api.problems import Problem

RATE_WINDOW_SECONDS = 60


class BearerToken(HttpBearer):
    """`Authorization: Bearer tsk_…`. Sets request.auth to the ApiToken."""

    def __call__(self, request):
        header = request.headers.get("Authorization", "")
        scheme, _, secret = header.partition(" ")
        if not header:
            raise Problem("not_authenticated")
        if scheme.lower() != "bearer" or not secret.strip():
            raise Problem(
                "not_authenticated",
                "Send the token as `Authorization: Bearer <token>`.",
            )
        return self.authenticate(request, secret.strip())

    def authenticate(self, request, token):
        found = services.find_token(token)
        if found is None:
            raise Problem("invalid_token", "This token is not one of TradeSim's tokens.")
        if found.revoked_at is not None:
            raise Problem(
                "invalid_token",
                "This token was revoked; make a new one on the API tokens page of your account.",
            )
        user = found.user
        if not user.is_active:
            raise Problem("invalid_token", "This token's account is switched off.")
        classroom = services.closed_class(user)
        if classroom is not None:
            raise Problem("api_disabled", services.disabled_message(classroom))
        check_rate(request, found)
        services.mark_used(found)
        return found


def rate_limit() -> int:
    return settings.API_RATE_LIMIT_PER_MINUTE


def check_rate(request, token) -> None:
    """Count this request against the token's limit for the current minute; past the
    limit, answer 429 with Retry-After (the seconds left in the minute)."""
    limit = rate_limit()
    now = time.time()
    window = int(now // RATE_WINDOW_SECONDS)
    key = f"api:rate:{token.pk}:{window}"
    count = _count(key)
    reset = (window + 1) * RATE_WINDOW_SECONDS
    wait = max(1, math.ceil(reset - now))
    request.api_rate = {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(max(limit - count, 0)),
        "X-RateLimit-Reset": str(wait),
    }
    if count > limit:
        raise Problem(
            "rate_limited",
            f"This token may send {limit} requests a minute; wait {wait} seconds.",
            headers={"Retry-After": str(wait), **request.api_rate},
        )


def _count(key: str) -> int:
    """Add one to the minute's count: one cache call, but for the minute's first request."""
    try:
        return cache.incr(key)
    except ValueError:  # the minute's first request (or the count was evicted)
        if cache.add(key, 1, timeout=RATE_WINDOW_SECONDS * 2):
            return 1
        return cache.incr(key)  # another request started the count meanwhile


def student(request):
    """The student behind the token; instructors have no trading account."""
    user = request.auth.user
    if user.is_staff or user.is_superuser:
        raise Problem(
            "permission_denied",
            "Instructors do not trade: an instructor's token reads their classes' "
            "standings (GET /api/v1/classes).",
        )
    return user


def instructor(request):
    user = request.auth.user
    if not (user.is_staff or user.is_superuser):
        raise Problem("permission_denied", "Only an instructor's token reads a class's standings.")
    return user
