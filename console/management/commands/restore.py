from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from console.services import restore_database
from tradesim.backups import BackupError, database_label, database_name, migration_status


class Command(BaseCommand):
    help = (
        "Replace everything in the database with a backup made by `manage.py backup`, in one "
        "transaction. Asks first (type yes or the database's name), unless --noinput. "
        "Refuses a backup of the other database engine, and while a ticker runs "
        "(systemctl stop tradesim-ticker first). Stop the web server too if students are "
        "trading: what they do meanwhile is lost."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE", help="the backup file to restore")
        parser.add_argument(
            "--noinput",
            "--no-input",
            action="store_false",
            dest="interactive",
            help="do not ask: restore at once",
        )

    def handle(self, *args, **options):
        confirm = self._confirm if options["interactive"] else None
        try:
            backup = restore_database(path=options["file"], confirm=confirm)
        except BackupError as exc:
            raise CommandError(exc.message) from exc
        except DatabaseError as exc:
            raise CommandError(f"Could not reach the database: {exc}") from exc
        if backup is None:
            self.stdout.write("Nothing was restored; the database is as it was.")
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Restored {database_label()} from {backup.path}, made {backup.made}."
            )
        )
        status = migration_status()
        if status.unknown:
            self.stdout.write(
                self.style.WARNING(
                    "This backup comes from a newer release of TradeSim: its database has "
                    f"migrations this release does not ({', '.join(status.unknown)}). Install "
                    "that release (or a newer one) before starting TradeSim again."
                )
            )
        self.stdout.write("Next:")
        if status.pending:
            self.stdout.write(
                f"  manage.py migrate        the backup is from an older release "
                f"({len(status.pending)} migration(s) to apply)"
            )
        self.stdout.write("  manage.py check_ledger   every balance must match its journal")
        self.stdout.write("  systemctl start tradesim-ticker   if you stopped the ticker")

    def _confirm(self, backup) -> bool:
        made_of = f" of the database {backup.source}" if backup.source else ""
        self.stdout.write(
            f"This replaces everything in {database_label()} with the backup {backup.path}, "
            f"made {backup.made}{made_of}. Every account, trade and deposit since then is "
            "lost."
        )
        name = database_name()
        try:
            answer = input(f"Type yes (or the database's name, {name}) to restore it: ")
        except EOFError:
            return False
        return answer.strip().lower() in {"yes", name.lower()}
