"""The instructors' actions on money: each journaled by the ledger and audited, in one
transaction. And putting a backup back over the whole database, with the ticker held off."""

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from django.db import transaction

from ledger import services as ledger
from ledger.models import Transaction
from prices import quote_cache
from prices.ticker import TickerBusy, ticker_lock
from tradesim import audit
from tradesim.backups import Backup, BackupError, read_backup, replace_database
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


def restore_database(
    *, path: Path | str, confirm: Callable[[Backup], bool] | None = None
) -> Backup | None:
    """Replace everything in the database with the backup at `path`
    (tradesim.backups.replace_database: one transaction, all of it or nothing).

    Guarantees: the file is a TradeSim backup of this database's engine (BackupError
    otherwise, before anything else); no ticker moves the market meanwhile: the ticker
    lock is taken without waiting (BackupError naming the running ticker if another
    process holds it) and held from the question to the end. `confirm(backup)` is asked
    under the lock; when it returns False nothing changes and the result is None. After a
    restore the quote cache is dropped, so that pages show the backup's prices.
    """
    backup = read_backup(path)
    try:
        with ticker_lock(command="restore"):
            if confirm is not None and not confirm(backup):
                return None
            replace_database(backup.path)
    except TickerBusy as exc:
        raise BackupError(
            f"{exc.message}, and a restore must not run beside it: stop the ticker first: "
            "systemctl stop tradesim-ticker (or Ctrl-C where it runs). Start it again after "
            "the restore."
        ) from exc
    quote_cache.invalidate()
    return backup
