"""API tokens: made, found and revoked here, and nowhere else.

A token is "tsk_" and 43 URL-safe characters (256 random bits). Only its SHA-256 digest is
stored with it, so a copy of the tokens table holds no usable token. (A token made on the
tokens page waits in its owner's session for the one page that shows it, and is gone from
there once that page is loaded: api.token_views.)"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from api.models import ApiToken
from tradesim import audit
from tradesim.models import AuditEntry

TOKEN_PREFIX = "tsk_"
SHOWN_CHARACTERS = 8  # "tsk_AbCd": enough to tell one's tokens apart, useless to guess with
MAX_ACTIVE_TOKENS = 10
MAX_NAME_LENGTH = 50
# last_used_at is written at most this often per token: a bot polling every second would
# otherwise write a row per request.
LAST_USED_PRECISION = timedelta(minutes=1)


class TokenError(Exception):
    def __init__(self, message: str, *, field: str = ""):
        super().__init__(message)
        self.message = message
        self.field = field


class DuplicateRequest(TokenError):
    """The form's one-time token was used already: the first request made the token and
    nothing was made again. `original` is the token it made."""

    def __init__(self, message: str, *, original: ApiToken | None = None):
        super().__init__(message)
        self.original = original


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    secret: str  # shown once, never stored


def digest_of(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def clean_name(name) -> str:
    name = " ".join(str(name or "").split())
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise TokenError("The name may not hold control characters.", field="name")
    if not name:
        raise TokenError("Give the token a name, such as “momentum bot”.", field="name")
    if len(name) > MAX_NAME_LENGTH:
        raise TokenError(f"Keep the name to {MAX_NAME_LENGTH} characters or fewer.", field="name")
    return name


def create_token(*, user, name, form_token: str | None = None) -> NewToken:
    """A new token for `user`, named `name`. At most MAX_ACTIVE_TOKENS live at once
    (checked under a lock on the user's row, so two at once cannot pass it together).
    `form_token`, the tokens page's one-time token: a second request with the same one
    makes nothing and raises DuplicateRequest (checked under the same lock; the unique
    (user, form_token) constraint backs it)."""
    name = clean_name(name)
    with transaction.atomic():
        # The user's row, not type(user)'s: a page's request.user is a lazy object.
        get_user_model().objects.select_for_update().filter(pk=user.pk).values_list("pk").first()
        if form_token is not None:
            original = ApiToken.objects.filter(user_id=user.pk, form_token=form_token).first()
            if original is not None:
                raise DuplicateRequest(
                    f"This form already made the token “{original.name}”; no second one was made.",
                    original=original,
                )
        live = ApiToken.objects.filter(user_id=user.pk, revoked_at__isnull=True).count()
        if live >= MAX_ACTIVE_TOKENS:
            raise TokenError(
                f"You have {MAX_ACTIVE_TOKENS} tokens, the most one person may have: revoke "
                "one you no longer use first."
            )
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = ApiToken.objects.create(
            user_id=user.pk,
            name=name,
            prefix=secret[:SHOWN_CHARACTERS],
            digest=digest_of(secret),
            form_token=form_token,
        )
    return NewToken(token=token, secret=secret)


def revoke_token(*, token_id, user=None, by=None, reason: str = "") -> ApiToken | None:
    """Revoke a token: its owner's (`user=`), or any of an instructor's students' (`by=`,
    audited; the caller has checked that the instructor may). Revoking a revoked token
    changes nothing. Returns the token, or None when `user` has no token `token_id`."""
    rows = ApiToken.objects.select_for_update()
    if user is not None:
        rows = rows.filter(user_id=user.pk)
    with transaction.atomic():
        token = rows.filter(pk=token_id).select_related("user").first()
        if token is None or token.revoked_at is not None:
            return token
        token.revoked_at = timezone.now()
        token.revoked_by = by
        token.save(update_fields=["revoked_at", "revoked_by"])
        if by is not None:
            detail = f"Token “{token.name}” ({token.prefix}…)"
            audit.record(
                actor=by,
                action=AuditEntry.Action.REVOKE_TOKEN,
                student=token.user,
                detail=f"{detail}: {reason}" if reason else detail,
            )
    return token


def find_token(secret: str) -> ApiToken | None:
    """The token whose secret this is, with its user and the user's class (one query), or
    None. Revoked tokens are returned too: the caller says why they no longer work."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 100:
        return None
    try:
        # get(), not first(): the digest is unique, and first() would sort by the ordering.
        return ApiToken.objects.select_related("user", "user__classroom").get(
            digest=digest_of(secret)
        )
    except ApiToken.DoesNotExist:
        return None


def mark_used(token: ApiToken, *, now=None) -> None:
    """Record that `token` was used now: at most one UPDATE per LAST_USED_PRECISION."""
    now = now or timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_PRECISION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now


def row_id(value: int) -> int:
    """`value` as a row id to look up: one beyond a BIGINT (which PostgreSQL would refuse to
    compare) or below 1 is 0, which no row has."""
    return value if 0 < value < 2**63 else 0


def disabled_message(classroom) -> str:
    return f"Your instructor has switched the API off for {classroom.name}; the pages still work."


def closed_class(user):
    """The class that has switched the API off for `user`, or None when they may use it
    (a student in no class may; an instructor is in none)."""
    if user.is_staff or user.is_superuser:
        return None
    classroom = user.classroom
    if classroom is not None and not classroom.api_access:
        return classroom
    return None
