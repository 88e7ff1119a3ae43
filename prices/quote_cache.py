"""The quote cache's generation: every cached quote's key carries it, and each committed tick
starts a new one, so no quote cached before a tick is served after it.

Changing one key is O(1) however many symbols are cached; the old generation's entries
simply expire (QUOTE_CACHE_SECONDS). The cache has to be shared by the ticker and the web
processes for this to reach them: Redis (CACHE_URL=redis://…) in production. A
local-memory cache lives inside one process, so there a separate ticker cannot reach the
web server's cache and a quote may lag by up to QUOTE_CACHE_SECONDS.
"""

import uuid

from django.core.cache import cache

GENERATION_KEY = "prices:quote-generation"


def generation() -> str:
    current = cache.get(GENERATION_KEY)
    if current is None:
        # Missing (first use, cleared or evicted): start a generation no cached quote has.
        cache.add(GENERATION_KEY, uuid.uuid4().hex, timeout=None)
        current = cache.get(GENERATION_KEY) or "0"
    return current


def quote_key(symbol: str, *, current: str | None = None) -> str:
    """The cache key of `symbol`'s quote in the `current` generation (read when not given:
    pass it to build many keys with one read)."""
    return f"prices:quote:{current or generation()}:{symbol}"


def market_key(current: str | None = None) -> str:
    """The cache key of every listed symbol's quote at once."""
    return f"prices:quotes:{current or generation()}"


def invalidate() -> None:
    cache.set(GENERATION_KEY, uuid.uuid4().hex, timeout=None)
