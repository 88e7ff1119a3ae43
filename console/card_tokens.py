"""The log-in cards page's form token, and the key that lets each button of the page issue
cards once.

Each time the page is shown it gets a fresh token, put in each of its forms and kept in the
teacher's session (the last MAX_KEPT, so several tabs and the Back button work). A POST
that issues cards must bring one of them: that stops a forged form, or one from a page
shown long ago. Pressing a button does not take the token out of the session: the page has
a button per student and one for every student, and each may be pressed once.

What one button of one shown page issues is keyed by key(): the page's token, the class,
the action and its student (or every student). The key goes on the cards' audit entries,
and accounts.services.issue_cards refuses, under the class's lock, a key that issued
already: a reload of the printed sheet or a second click of one button issues nothing,
while another button of the same page issues its own cards.
"""

import hashlib

from tradesim.forms import new_token

SESSION_KEY = "console.card_tokens"
MAX_KEPT = 20


def fresh(session) -> str:
    """A new token for the page about to be shown, remembered in `session`."""
    token = new_token()
    kept = session.get(SESSION_KEY)
    if not isinstance(kept, list):
        kept = []
    session[SESSION_KEY] = [*kept, token][-MAX_KEPT:]
    return token


def recent(session, token: str | None) -> bool:
    """Whether `token` is one of the last MAX_KEPT pages' shown in `session`."""
    kept = session.get(SESSION_KEY)
    return bool(token) and isinstance(kept, list) and token in kept


def key(*, token: str, classroom_id: int, action: str, student_id: int | None) -> str:
    """The key of one button of one shown page: the page's `token`, the class, the action
    and its student, or every student when `student_id` is None. 64 hex digits, the length
    of AuditEntry.token, however long the token."""
    pressed = f"{token}:{classroom_id}:{action}:{student_id or 'all'}"
    return hashlib.sha256(pressed.encode()).hexdigest()
