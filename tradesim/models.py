from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditEntry(models.Model):
    """Who did what to whose money or to the market, from the instructors' console.

    Written by the service that carries the action out, in the same database transaction,
    so an action and its audit row exist together or not at all. Append-only."""

    class Action(models.TextChoices):
        GRANT_CASH = "grant_cash", "Granted cash"
        RESET_STUDENT = "reset_student", "Reset a student"
        HALT = "halt", "Halted a symbol"
        RESUME = "resume", "Resumed a symbol"
        MARKET_EVENT = "market_event", "Scheduled a market event"
        CANCEL_EVENT = "cancel_event", "Cancelled a market event"
        PARAMETERS = "parameters", "Changed simulation parameters"
        CLASS_RULES = "class_rules", "Changed a class's rule"
        NEW_JOIN_CODE = "join_code", "Gave a class a new join code"
        MOVE_STUDENT = "move_student", "Moved a student to another class"
        CANCEL_ORDER = "cancel_order", "Cancelled a student's order"
        REVOKE_TOKEN = "revoke_token", "Revoked a student's API token"
        MARKET_PARAMETERS = "market_parameters", "Changed the market's parameters"
        SCHEDULE_SPLIT = "split", "Scheduled a stock split"
        CANCEL_SPLIT = "cancel_split", "Cancelled a stock split"
        UPLOAD_SCENARIO = "scenario_upload", "Uploaded a market scenario"
        START_SCENARIO = "scenario_start", "Started a market scenario"
        PAUSE_SCENARIO = "scenario_pause", "Paused a market scenario"
        RESUME_SCENARIO = "scenario_resume", "Resumed a market scenario"
        STOP_SCENARIO = "scenario_stop", "Stopped a market scenario"
        RESET_MARKET = "market_reset", "Reset the market to a scenario's start"
        ISSUE_CARD = "login_card", "Issued a student a log-in card"
        REVOKE_CARD = "revoke_card", "Revoked a student's log-in card"

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="audit_actions"
    )
    action = models.CharField(max_length=20, choices=Action.choices)
    student = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="audit_entries",
    )
    symbol = models.CharField(max_length=10, blank=True)
    sector = models.CharField(max_length=50, blank=True)
    amount = models.DecimalField(max_digits=15, decimal_places=2, null=True, blank=True)
    detail = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # The one-time token of the form behind an action that writes no journal row of its
    # own for sure (a reset of a student already at the start), so a resubmitted form
    # cannot act twice. NULL, not "", for none: the unique constraint skips NULLs.
    token = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001

    class Meta:
        db_table = "audit_log"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["student", "token"],
                condition=models.Q(token__isnull=False),
                name="audit_log_student_token_unique",
            ),
        ]
        verbose_name = "audit entry"
        verbose_name_plural = "audit log"

    def __str__(self):
        return f"{self.actor} {self.get_action_display().lower()} {self.detail}".strip()
