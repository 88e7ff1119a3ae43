import getpass

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.services import create_instructor


class Command(BaseCommand):
    help = "Create an instructor: a staff login for the admin site, in the Instructors group."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--email", required=True)
        parser.add_argument(
            "--password", help="Give it here (scripts) or be asked for it (safer: not in history)."
        )

    def handle(self, *args, username, email, password, **options):
        if not password:
            if not options.get("interactive", True) or not self.stdin_is_tty():
                raise CommandError("No --password given and no terminal to ask for one.")
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("The passwords didn't match.")
        try:
            user = create_instructor(username=username, email=email, password=password)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stdout.write(
            self.style.SUCCESS(f"Instructor {user.username} created; log in at /admin/.")
        )

    @staticmethod
    def stdin_is_tty():
        import sys

        return sys.stdin.isatty()
