"""How passwords are stored: PBKDF2-SHA256 at OWASP's figure (README, "Passwords").

Django 5.2 hashes with 1,000,000 iterations: 0.30 s of CPU per log-in on a 2-core school
server, so a class of thirty logging in at once keeps both cores busy for four seconds.
OWASP's Password Storage Cheat Sheet asks 600,000 iterations of PBKDF2-HMAC-SHA256 (FIPS
140 compliant, and within the guidance's margin for a school's threat: a leaked table of
simulated-money accounts). A stored hash with any other count is rehashed at this one on
the owner's next log-in (Django's must_update), so the change reaches every account.
"""

from django.contrib.auth import hashers


class PBKDF2PasswordHasher(hashers.PBKDF2PasswordHasher):
    """Django's PBKDF2-SHA256 hasher, same algorithm name and format, at 600,000
    iterations. It replaces Django's in PASSWORD_HASHERS (two hashers with one algorithm
    name would rehash each other's hashes on every log-in)."""

    iterations = 600_000
