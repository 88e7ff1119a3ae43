"""A log-in by card lasts only as long as its card: revoking or replacing the card ends the
sessions it opened at their next request (a phone that restored its tabs included).

The session keeps the card's id (SESSION_KEY). CardSessionMiddleware asks whether that card
is still live at most once a minute per card and process (the answer is cached for
CHECK_SECONDS), so a card's pages cost no more queries than a password's. Revoking drops
the cached answer: at once where the cache is shared (CACHE_URL, Redis), else within
CHECK_SECONDS in the other server processes.
"""

from django.conf import settings
from django.contrib.auth import logout
from django.core.cache import cache
from django.db import transaction

from accounts.models import LoginCard

SESSION_KEY = "_login_card"
CHECK_SECONDS = 60


def _key(card_id) -> str:
    return f"login-card-live:{card_id}"


def remember(request, card) -> None:
    """Tie this (just logged-in) session to `card`."""
    request.session[SESSION_KEY] = card.pk
    cache.set(_key(card.pk), True, CHECK_SECONDS)


def forget(card_ids) -> None:
    """The cards `card_ids` were revoked: their sessions end at their next request (after
    the transaction commits)."""
    keys = [_key(card_id) for card_id in card_ids]
    if keys:
        transaction.on_commit(lambda: cache.delete_many(keys))


def is_live(card_id, user_id) -> bool:
    key = _key(card_id)
    live = cache.get(key)
    if live is None:
        live = LoginCard.objects.filter(
            pk=card_id, user_id=user_id, revoked_at__isnull=True
        ).exists()
        cache.set(key, live, CHECK_SECONDS)
    return live


class CardSessionMiddleware:
    """Log out a session opened by a card that has since been revoked (after
    AuthenticationMiddleware)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # Only a request with a session cookie can carry a card's session; others are not
        # made to load one (nor to answer Vary: Cookie).
        if settings.SESSION_COOKIE_NAME not in request.COOKIES:
            return self.get_response(request)
        card_id = request.session.get(SESSION_KEY)
        if (
            card_id is not None
            and request.user.is_authenticated
            and not is_live(card_id, request.user.pk)
        ):
            logout(request)
        return self.get_response(request)
