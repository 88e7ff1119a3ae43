import getpass

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.services import create_instructor, random_password


class Command(BaseCommand):
    help = "Create an instructor: a staff login for the admin site, in the Instructors group."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--email", required=True)
        given = parser.add_mutually_exclusive_group()
        given.add_argument(
            "--password", help="Give it here (scripts) or be asked for it (safer: not in history)."
        )
        given.add_argument(
            "--random-password",
            action="store_true",
            help="Make up a strong password and print it, once.",
        )
        parser.add_argument(
            "--if-no-instructor",
            action="store_true",
            help="Do nothing if there is an instructor (a staff user) already (`make serve`).",
        )

    def handle(self, *args, username, email, password, **options):
        if options["if_no_instructor"] and get_user_model().objects.filter(is_staff=True).exists():
            self.stdout.write("There is an instructor already; none created.")
            return
        made_up = options["random_password"]
        if made_up:
            password = random_password()
        elif not password:
            if not options.get("interactive", True) or not self.stdin_is_tty():
                raise CommandError(
                    "No --password given and no terminal to ask for one "
                    "(--random-password makes one up)."
                )
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
        if made_up:
            self.stdout.write(
                f"Password for {user.username}: {password}  (write it down; it is not shown again)"
            )

    @staticmethod
    def stdin_is_tty():
        import sys

        return sys.stdin.isatty()
