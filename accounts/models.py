from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone


class User(AbstractUser):
    """A student or an instructor (staff). Table `users`, as in the original schema."""

    # Django's password field keeps its name in Python and its seed name in the table.
    password = models.CharField("password", max_length=128, db_column="password_hash")
    email = models.EmailField("email address")
    date_joined = models.DateTimeField("joined", default=timezone.now, db_column="created_at")
    classroom = models.ForeignKey(
        "classrooms.Classroom",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="students",
        verbose_name="class",
    )

    REQUIRED_FIELDS = ["email"]

    class Meta:
        db_table = "users"
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                name="users_email_ci_unique",
                violation_error_message="An account with this email address already exists.",
            ),
        ]

    @property
    def created_at(self):
        return self.date_joined
