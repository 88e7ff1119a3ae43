"""Log-in cards' codes: made, written, read back and hashed here, and nowhere else.

A code is 16 characters of Crockford's base32 (digits and letters without I, L, O and U:
32 symbols, so 80 random bits), printed in groups of four, `7KQ2-M9XD-4HTP-W3CF`. Typed
back in any case, with spaces or dashes, O read as 0 and I or L as 1.

Only a keyed hash of a code is stored: HMAC-SHA256 under a key derived from SECRET_KEY
(salted_hmac with this module's own salt). 80 random bits need no slow hash to resist
guessing, so a log-in by card costs one HMAC per key instead of a PBKDF2 run; and without
the SECRET_KEY a copy of the table gives no code back. A code is looked up under the
current key and every key in SECRET_KEY_FALLBACKS, so rotating the key leaves the cards
working while the old key is kept as a fallback (and a card used meanwhile is rehashed
under the new key: accounts.services.login_by_card).
"""

import secrets

from django.conf import settings
from django.utils.crypto import salted_hmac

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base32
LENGTH = 16
GROUP = 4
KEY_SALT = "tradesim.accounts.cards.login-card"
# What a student may type for a character of the alphabet: the look-alikes Crockford reads.
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})


def new_code() -> str:
    """A fresh code, ungrouped (16 characters)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def grouped(code: str) -> str:
    """`7KQ2M9XD4HTPW3CF` as it is printed: `7KQ2-M9XD-4HTP-W3CF`."""
    return "-".join(code[i : i + GROUP] for i in range(0, len(code), GROUP))


def normalize(text) -> str:
    """A code as typed (`7kq2 m9xd-4htp-w3cf`, `7KQ2M9XD4HTPW3CF`) in its ungrouped form:
    without spaces or dashes, upper case, O read as 0 and I or L as 1. Not checked: see
    is_well_formed."""
    text = "".join(str(text or "").split()).replace("-", "").upper()
    return text.translate(_READ_AS)


def is_well_formed(code: str) -> bool:
    """Whether a normalized code could be one: 16 characters of the alphabet."""
    return len(code) == LENGTH and all(c in ALPHABET for c in code)


def digest(code: str, *, secret: str | None = None) -> str:
    """The stored form of a normalized code: HMAC-SHA256 under SECRET_KEY (or `secret`),
    64 hex digits."""
    key = settings.SECRET_KEY if secret is None else secret
    return salted_hmac(KEY_SALT, code, secret=key, algorithm="sha256").hexdigest()


def digests(code: str) -> list[str]:
    """The code's digest under SECRET_KEY, then under each of SECRET_KEY_FALLBACKS."""
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return [digest(code, secret=key) for key in keys]
