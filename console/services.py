"""The instructors' actions on money: each journaled by the ledger and audited, in one
transaction."""

from decimal import Decimal

from django.db import transaction

from ledger import services as ledger
from ledger.models import Transaction
from tradesim import audit
from tradesim.models import AuditEntry


def grant_cash(
    *, student, instructor, amount: Decimal | str, reason: str, token: str | None = None
) -> Transaction:
    """An instructor gives a student simulated cash, journaled and audited.

    Guarantees: `instructor` has the ledger.grant_cash permission (LedgerError otherwise);
    the amount and reason are checked by ledger.services.grant (InvalidAmount, LedgerError).
    In one transaction: the student's "grant" journal row ("Granted by <instructor>:
    <reason>", created_by the instructor), their new balance and an audit entry naming the
    instructor, the student, the amount and the reason — or nothing. Once per token
    (DuplicateRequest). Locks: the student's balance row.
    """
    if not instructor.has_perm("ledger.grant_cash"):
        raise ledger.LedgerError("Only an instructor with the grant permission can grant cash.")
    with transaction.atomic():
        row = ledger.grant(
            user=student, amount=amount, reason=reason, instructor=instructor, token=token
        )
        audit.record(
            actor=instructor,
            action=AuditEntry.Action.GRANT_CASH,
            student=student,
            amount=row.amount,
            detail=(reason or "").strip(),
        )
    return row
