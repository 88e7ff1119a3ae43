"""Django's migrate, which also puts the portfolio_valuations view back if a migration fails.

The view is dropped before migrations run and created after them (portfolio.valuation_view,
through the pre_migrate and post_migrate signals). post_migrate is not sent when a
migration fails, so without this the view would stay away — and the leaderboard with it —
until the next successful migrate.
"""

from django.core.management.commands import migrate

from portfolio import valuation_view


class Command(migrate.Command):
    def handle(self, *args, **options):
        try:
            return super().handle(*args, **options)
        except BaseException:
            try:
                valuation_view.create(using=options["database"])
            except Exception as error:  # the migration's own error is the one to report
                self.stderr.write(f"The portfolio_valuations view could not be restored: {error}")
            raise
