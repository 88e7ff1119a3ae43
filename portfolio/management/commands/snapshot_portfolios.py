from django.core.management.base import BaseCommand
from django.utils import timezone

from portfolio.services import take_snapshots


class Command(BaseCommand):
    help = (
        "Snapshot every student's portfolio now (value, and the unit value behind the "
        "time-weighted return). tick_prices does this every SNAPSHOT_EVERY_TICKS ticks."
    )

    def handle(self, *args, **options):
        now = timezone.now()
        count = take_snapshots(timestamp=now)
        plural = "" if count == 1 else "s"
        self.stdout.write(
            self.style.SUCCESS(
                f"Snapshot of {count} portfolio{plural} at {now:%Y-%m-%d %H:%M:%S %Z}."
            )
        )
