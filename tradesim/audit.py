"""Recording instructor actions. Call inside the transaction of the action itself."""

from decimal import Decimal

from tradesim.models import AuditEntry


def record(
    *,
    actor,
    action: str,
    student=None,
    symbol: str = "",
    sector: str = "",
    amount: Decimal | None = None,
    detail: str = "",
    token: str | None = None,
) -> AuditEntry:
    return AuditEntry.objects.create(
        actor=actor,
        action=action,
        student=student,
        symbol=symbol,
        sector=sector,
        amount=amount,
        detail=detail[:300],
        token=token or None,
    )
