from django.core.management.base import BaseCommand
from django.template.defaultfilters import pluralize

from prices.services import load_market


class Command(BaseCommand):
    help = (
        "List the sample market (US large caps and the TSIM index fund). Idempotent: "
        "symbols already listed keep their prices and parameters."
    )

    def handle(self, *args, **options):
        result = load_market()
        if result.created:
            new, old = len(result.created), len(result.existing)
            self.stdout.write(
                self.style.SUCCESS(
                    f"Listed {new} new symbol{pluralize(new)}; "
                    f"{old} {'was' if old == 1 else 'were'} already listed."
                )
            )
            self.stdout.write("Move the market with: manage.py tick_prices --every 5")
        else:
            self.stdout.write(
                f"The sample market is already listed ({len(result.existing)} symbols); "
                "nothing to do."
            )
