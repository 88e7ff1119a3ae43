"""Reads about people that are more than one filter."""

from dataclasses import dataclass

from django.contrib.auth import get_user_model

from accounts.models import LoginCard
from tradesim.models import AuditEntry


@dataclass(frozen=True)
class CardStatus:
    student: object
    live: LoginCard | None  # the card that logs them in, if any
    last_revoked: LoginCard | None  # their most recently revoked card, if any

    @property
    def issued(self) -> bool:
        return self.live is not None


def card_roster(classroom) -> list[CardStatus]:
    """Every student of `classroom` (active or not), by name, with their live log-in card
    for it and their last revoked one. Two queries, however many students and cards."""
    User = get_user_model()
    students = list(
        User.objects.filter(classroom=classroom, is_staff=False, is_superuser=False).order_by(
            "last_name", "first_name", "username"
        )
    )
    live: dict[int, LoginCard] = {}
    revoked: dict[int, LoginCard] = {}
    cards = LoginCard.objects.filter(classroom=classroom, user__in=students).order_by(
        "-issued_at", "-pk"
    )
    for card in cards.only("pk", "user_id", "issued_at", "last_used_at", "revoked_at"):
        if card.revoked_at is None:
            live.setdefault(card.user_id, card)
        else:
            kept = revoked.get(card.user_id)
            if kept is None or card.revoked_at > kept.revoked_at:
                revoked[card.user_id] = card
    return [
        CardStatus(student=s, live=live.get(s.pk), last_revoked=revoked.get(s.pk)) for s in students
    ]


def cards_issued_under(*, token: str, by) -> int:
    """How many log-in cards `by` issued under this token, the key of one press of a button
    (accounts.services.issue_cards keeps it on their audit entries). One query."""
    if not token:
        return 0
    return AuditEntry.objects.filter(
        actor_id=by.pk, action=AuditEntry.Action.ISSUE_CARD, token=token
    ).count()
