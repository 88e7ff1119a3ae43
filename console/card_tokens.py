"""The one-time tokens of the log-in cards page's forms.

Each time the page is shown it gets a fresh token, kept in the teacher's session (the last
MAX_KEPT, so two open tabs both work); a POST that issues cards must bring one of them and
takes it out of the session. That stops a forged or stale form. It cannot by itself stop two
requests that arrive together: each reads its own copy of the session, and a concurrent
save may put a taken token back. So the token also goes on the cards' audit entries, and
accounts.services.issue_cards refuses, under the class's lock, a token that issued already.
"""

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


def take(session, token: str | None) -> bool:
    """Whether `session` held `token`; it holds it no longer."""
    kept = session.get(SESSION_KEY, [])
    if not token or not isinstance(kept, list) or token not in kept:
        return False
    session[SESSION_KEY] = [t for t in kept if t != token]
    return True
