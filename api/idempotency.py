"""`Idempotency-Key`: a retried POST makes one effect.

The key becomes the services' one-time token (the mechanism behind every form's hidden
token: a unique (user, token) constraint on the rows the request writes), prefixed "api:"
so that an API key never meets a form's token. A retry with the same key answers with what
the first request made, and the header `Idempotent-Replayed: true`; the same key with a
different request is refused (409 idempotency_key_reused)."""

from api.problems import Problem
from ledger.models import Transaction
from trading.models import Order

HEADER = "Idempotency-Key"
PREFIX = "api:"
MAX_LENGTH = 64 - len(PREFIX)


def token_of(request) -> str | None:
    """The one-time token for this request's Idempotency-Key, or None without one."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_LENGTH or not all("!" <= c <= "~" for c in key):
        raise Problem(
            "invalid_idempotency_key",
            f"Send an Idempotency-Key of 1 to {MAX_LENGTH} printable ASCII characters, such "
            "as a UUID.",
        )
    return PREFIX + key


def used_for_cash(user, token: str) -> bool:
    """Whether `token` made a deposit or a withdrawal (an order's key is kept on its order;
    a cash movement's only on its journal row)."""
    return Transaction.objects.filter(
        user_id=user.pk,
        token=token,
        type__in=[Transaction.Type.DEPOSIT, Transaction.Type.WITHDRAWAL],
    ).exists()


def used_for_an_order(user, token: str) -> bool:
    return Order.objects.filter(user_id=user.pk, token=token).exists()


def reused() -> Problem:
    return Problem("idempotency_key_reused")


def replayed(response):
    response["Idempotent-Replayed"] = "true"
    return response
