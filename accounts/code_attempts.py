"""How many wrong class codes someone may try: a few typos are normal, guessing is not.

Wrong codes are counted in the cache (shared by every app server when CACHE_URL names
Redis) per log-in, and per client address on the sign-up form, where there is no log-in
yet. A school's students often share one address, so that allowance is larger. A count
runs for WINDOW from the first wrong code; once it reaches the allowance, every code is
refused, the right one too, until the window is over. Only a code that could be one
(eight characters of the alphabet) and matches no class is counted: a mistyped length
tells a guesser nothing.

The same counting serves log-in cards (accounts.services.login_by_card), under its own
`kind`, so a class's mistyped card codes and its mistyped class codes count apart.
"""

from datetime import datetime, timedelta

from django.core.cache import cache
from django.utils import timezone

WINDOW = timedelta(minutes=15)
PER_USER = 10
PER_ADDRESS = 50  # a class of thirty signing up behind one school address


def for_user(user) -> tuple[str, int]:
    return f"user:{user.pk}", PER_USER


def for_address(address: str | None) -> tuple[str, int]:
    return f"address:{address or 'unknown'}", PER_ADDRESS


JOIN_CODES = "join-code"


def _keys(who: str, kind: str) -> tuple[str, str]:
    return f"{kind}:{who}:since", f"{kind}:{who}:count"


def blocked_until(who: str, allowance: int, *, kind: str = JOIN_CODES) -> datetime | None:
    """When `who` may try codes again, or None if they may now."""
    since_key, count_key = _keys(who, kind)
    found = cache.get_many([since_key, count_key])
    since, count = found.get(since_key), found.get(count_key, 0)
    if since is None or count < allowance:
        return None
    until = since + WINDOW
    return until if timezone.now() < until else None


def count_wrong(who: str, *, kind: str = JOIN_CODES) -> None:
    since_key, count_key = _keys(who, kind)
    now = timezone.now()
    since = cache.get(since_key)
    # Kept a minute past the window: the window is judged by `since`, not by the cache.
    timeout = int(WINDOW.total_seconds()) + 60
    if since is None or now >= since + WINDOW:
        cache.set_many({since_key: now, count_key: 1}, timeout)
        return
    try:
        cache.incr(count_key)
    except ValueError:  # the count expired between the two reads
        cache.set(count_key, 1, timeout)


def forget(who: str, *, kind: str = JOIN_CODES) -> None:
    cache.delete_many(_keys(who, kind))
