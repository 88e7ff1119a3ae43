from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.module_loading import import_string

from ledger.selectors import find_mismatches


class Command(BaseCommand):
    help = (
        "Verify that every user's balance equals the signed sum of their cash journal, and "
        "that no balance or holding holds other than what its open orders hold (and never "
        "more than it has). Prints each mismatch; exits 0 if there is none and 1 otherwise "
        "(call_command raises CommandError then)."
    )

    def handle(self, *args, **options):
        mismatches = find_mismatches()
        for m in mismatches:
            balance = "no balance row" if m.balance is None else f"balance ${m.balance:,.2f}"
            sign = "-" if m.difference < 0 else "+"
            self.stdout.write(
                self.style.ERROR(
                    f"MISMATCH user {m.user_id} ({m.username}): {balance}, "
                    f"journal total ${m.journal_total:,.2f}, "
                    f"difference {sign}${abs(m.difference):,.2f}"
                )
            )
        problems = [line for path in settings.LEDGER_CHECKS for line in import_string(path)()]
        for line in problems:
            self.stdout.write(self.style.ERROR(line))
        if mismatches:
            raise CommandError(
                f"{len(mismatches)} account(s) do not match their journal.", returncode=1
            )
        if problems:
            raise CommandError(
                f"{len(problems)} hold(s) do not match the open orders.", returncode=1
            )
        self.stdout.write(
            self.style.SUCCESS(
                "Ledger OK: every balance matches its journal, and holds match open orders."
            )
        )
