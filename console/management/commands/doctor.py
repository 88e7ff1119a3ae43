from argparse import ArgumentTypeError

from django.core.management.base import BaseCommand, CommandError

from console import doctor


def minutes(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise ArgumentTypeError("a whole number of minutes, 1 or more")
    return int(text)


class Command(BaseCommand):
    help = (
        "Check this install: its settings, the database and its migrations, the market, an "
        "instructor, the ticker, the static files and the cache. Prints each problem in "
        "plain words with what to do; exits 1 if there is a problem, 0 otherwise (warnings "
        "alone: 0). Run it with the same environment as the web server."
    )
    # It reports Django's own checks itself, and must run when they fail.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument(
            "--ticker-minutes",
            type=minutes,
            default=5,
            metavar="N",
            help="A ticker not heard from for N minutes is a problem (default 5; it reports "
            "about once a minute, also while the market is closed).",
        )

    def handle(self, *args, ticker_minutes, **options):
        report = doctor.examine(ticker_minutes=ticker_minutes)
        style = {
            doctor.Level.PROBLEM: self.style.ERROR,
            doctor.Level.WARNING: self.style.WARNING,
        }
        for finding in report.findings:
            if finding.level is doctor.Level.NOTE:
                self.stdout.write(finding.message)
        for finding in report.findings:
            if finding.level is not doctor.Level.NOTE:
                self.stdout.write("")
                self.stdout.write(style[finding.level](f"{finding.level.value}: {finding.message}"))
                if finding.fix:
                    self.stdout.write(f"  What to do: {finding.fix}")
        if report.skipped:
            self.stdout.write("")
            self.stdout.write(
                f"Not checked until the problems above are fixed: {', '.join(report.skipped)}."
            )
        self.stdout.write("")
        if report.problems:
            raise CommandError(report.summary, returncode=1)
        self.stdout.write(
            (self.style.WARNING if report.warnings else self.style.SUCCESS)(report.summary)
        )
