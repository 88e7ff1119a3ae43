from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import F, Q
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


class LoginCard(models.Model):
    """A student's log-in card for one class: a code their teacher printed for them, which
    logs them in without a password (accounts.cards). Only the code's keyed hash is kept
    (`digest`), so the table alone gives no one a way in. A card is live until revoked;
    a student has at most one live card per class."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="login_cards"
    )
    classroom = models.ForeignKey(
        "classrooms.Classroom",
        on_delete=models.CASCADE,
        related_name="login_cards",
        verbose_name="class",
    )
    digest = models.CharField(max_length=64, unique=True)
    issued_at = models.DateTimeField(default=timezone.now)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "login_cards"
        verbose_name = "log-in card"
        default_permissions = ("view",)
        permissions = [("issue_logincard", "Can issue and revoke students' log-in cards")]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "classroom"],
                condition=Q(revoked_at__isnull=True),
                name="login_cards_one_live_card_per_student_and_class",
            ),
            models.CheckConstraint(
                condition=Q(revoked_at__isnull=True) | Q(revoked_at__gte=F("issued_at")),
                name="login_cards_revoked_after_issued",
            ),
        ]

    def __str__(self):
        return f"Log-in card of user {self.user_id} in class {self.classroom_id}"

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None
