from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from tradesim.backups import BackupError, backup_database, prune_backups


class Command(BaseCommand):
    help = (
        "Back up the whole database into one file, while the class keeps trading: SQLite's "
        "online backup (a .sqlite3 file) or pg_dump's custom format (a .pgdump file; needs "
        "the PostgreSQL client tools of the server's version or newer). By default "
        "BACKUP_DIR/tradesim-YYYYmmdd-HHMMSS.sqlite3 or .pgdump. The file is readable by "
        "its owner only: it holds password hashes. Prints its path last."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--output",
            metavar="FILE",
            help="write the backup to FILE, or into FILE's folder under the default name "
            "when FILE is a folder (default: BACKUP_DIR)",
        )
        parser.add_argument(
            "--keep",
            type=int,
            metavar="N",
            help="then delete all but the newest N backups (tradesim-*.sqlite3 and "
            "tradesim-*.pgdump) in the backup's folder; other files stay",
        )

    def handle(self, *args, **options):
        keep = options["keep"]
        if keep is not None and keep < 1:
            raise CommandError("--keep must be 1 or more: the number of backups to keep.")
        try:
            path = backup_database(output=options["output"])
            deleted = prune_backups(path.parent, keep=keep) if keep else []
        except BackupError as exc:
            raise CommandError(exc.message) from exc
        except DatabaseError as exc:
            raise CommandError(f"Could not reach the database: {exc}") from exc
        for old in deleted:
            self.stdout.write(f"Deleted the older backup {old}")
        self.stdout.write(self.style.SUCCESS("Backed up the database to:"))
        self.stdout.write(str(path))
