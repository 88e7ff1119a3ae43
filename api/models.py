from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class ApiToken(models.Model):
    """A personal API token: what a student's program sends as `Authorization: Bearer`.

    Only a SHA-256 digest of the token is kept (the token is 256 random bits, so a fast hash
    is enough, as GitHub and Stripe do); the owner sees the token once, when it is made, and
    afterwards its name, its first characters and when it was last used."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=50)
    # The token's first characters ("tsk_AbC1"), shown so its owner can tell tokens apart.
    prefix = models.CharField(max_length=12)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # The one-time token of the form that made it: a double-click or a refresh of the
    # tokens page makes one token (NULL, not "", when made otherwise; the unique
    # constraint skips NULLs).
    form_token = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001

    class Meta:
        db_table = "api_tokens"
        ordering = ["-created_at", "-id"]
        verbose_name = "API token"
        constraints = [
            models.CheckConstraint(condition=~Q(name=""), name="api_tokens_name_not_empty"),
            models.CheckConstraint(
                condition=Q(revoked_by__isnull=True) | Q(revoked_at__isnull=False),
                name="api_tokens_revoked_by_only_when_revoked",
            ),
            models.UniqueConstraint(
                fields=["user", "form_token"],
                condition=Q(form_token__isnull=False),
                name="api_tokens_user_form_token_unique",
            ),
        ]
        indexes = [models.Index(fields=["user", "revoked_at"], name="api_tokens_user_live")]
        permissions = [("revoke_apitoken", "Can revoke students' API tokens")]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
