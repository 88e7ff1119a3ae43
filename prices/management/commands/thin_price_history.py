from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from prices.services import THIN_HISTORY_EVERY_TICKS, thin_history

MAX_DAYS = 36500


class Command(BaseCommand):
    help = (
        "Thin the whole price history older than PRICE_HISTORY_DAYS days (or --days) to "
        "each symbol's last price of the day (index funds keep every tick), now. tick_prices "
        f"thins what has aged every {THIN_HISTORY_EVERY_TICKS} ticks; this is for a long "
        "history before the first such tick, or after TIME_ZONE changed."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--days",
            type=int,
            help="keep every tick of the last DAYS days (default: PRICE_HISTORY_DAYS; at most "
            f"{MAX_DAYS})",
        )

    def handle(self, *args, **options):
        days = settings.PRICE_HISTORY_DAYS if options["days"] is None else options["days"]
        if days < 1:
            raise CommandError(
                f"Give --days 1 or more (PRICE_HISTORY_DAYS is {days}: the history is kept whole)."
                if options["days"] is None
                else "--days must be 1 or more."
            )
        if days > MAX_DAYS:  # far enough back, the cutoff would fall before the year 1
            raise CommandError(
                f"--days must be from 1 to {MAX_DAYS} (a hundred years)"
                + (f"; PRICE_HISTORY_DAYS is {days}." if options["days"] is None else ".")
            )
        deleted = thin_history(days=days, everything=True)
        self.stdout.write(
            f"Deleted {deleted} row{'s' if deleted != 1 else ''} of price history older than "
            f"{days} day{'s' if days != 1 else ''}; each day before that keeps its last price."
        )
