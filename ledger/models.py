from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Balance(models.Model):
    """A user's cash: the running total of their journal. Table `balances`."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="balance"
    )
    amount = models.DecimalField(max_digits=15, decimal_places=2)
    # Not a journal movement: cash set aside for open orders, still the student's. What
    # they can spend is amount − held; the database keeps held within the amount.
    held = models.DecimalField(
        max_digits=15,
        decimal_places=2,
        default=0,
        db_default=0,
        help_text="Cash held for open orders",
    )
    # The margin loan this account is allowed: cash may go down to −loan_limit, never
    # below. 0 (every cash-only account) keeps cash at zero or more. Set under the balance
    # lock by the trade that borrows, after the class's margin check; lowered as the loan is
    # repaid; raised only by interest, which a margin call then answers.
    loan_limit = models.DecimalField(
        max_digits=15,
        decimal_places=2,
        default=0,
        db_default=0,
        help_text="The margin loan allowed: cash may go this far below zero",
    )
    last_updated = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "balances"
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gte=-models.F("loan_limit")),
                name="balances_amount_within_loan_limit",
            ),
            models.CheckConstraint(
                condition=Q(loan_limit__gte=0), name="balances_loan_limit_gte_0"
            ),
            models.CheckConstraint(condition=Q(held__gte=0), name="balances_held_gte_0"),
            models.CheckConstraint(
                condition=Q(held__lte=models.F("amount") + models.F("loan_limit")),
                name="balances_held_within_amount",
            ),
        ]

    def __str__(self):
        return f"{self.user} ${self.amount:,.2f}"

    @property
    def available(self):
        """What the student can spend now: their cash less what open orders hold."""
        return self.amount - self.held

    @property
    def loan(self):
        """The margin loan: cash below zero, as a positive amount."""
        return -self.amount if self.amount < 0 else Decimal("0.00")


class TransactionType(models.TextChoices):
    DEPOSIT = "deposit", "Deposit"
    WITHDRAWAL = "withdrawal", "Withdrawal"
    BUY = "buy", "Buy"
    SELL = "sell", "Sell"
    FEE = "fee", "Commission"
    GRANT = "grant", "Instructor grant"
    RESET_CREDIT = "reset_credit", "Reset (credit)"
    RESET_DEBIT = "reset_debit", "Reset (debit)"
    INTEREST = "interest", "Margin interest"
    CASH_INTEREST = "cash_interest", "Interest on cash"
    SHORT = "short", "Short sale"
    COVER = "cover", "Buy to cover"
    BORROW_FEE = "borrow_fee", "Borrow fee"
    DIVIDEND = "dividend", "Dividend"
    DIVIDEND_CHARGE = "dividend_charge", "Dividend owed on a short"
    SPLIT_CASH = "split_cash", "Cash for a fractional share"


class Transaction(models.Model):
    """One cash movement. Table `transactions`: the append-only cash journal.

    Amounts are positive; the type says which way the money went. For every user,
    balances.amount == Σ credits − Σ debits, kept in the same database transaction.
    """

    Type = TransactionType

    CREDIT_TYPES = frozenset(
        {
            Type.DEPOSIT,
            Type.SELL,
            Type.GRANT,
            Type.RESET_CREDIT,
            Type.CASH_INTEREST,
            Type.SHORT,
            Type.DIVIDEND,
            Type.SPLIT_CASH,
        }
    )
    DEBIT_TYPES = frozenset(
        {
            Type.WITHDRAWAL,
            Type.BUY,
            Type.FEE,
            Type.RESET_DEBIT,
            Type.INTEREST,
            Type.COVER,
            Type.BORROW_FEE,
            Type.DIVIDEND_CHARGE,
        }
    )

    # No index of its own: the (user, …) indexes below begin with it and serve every lookup
    # by user, so a second one would only cost a write on every row.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="transactions",
        db_index=False,
    )
    type = models.CharField(max_length=20, choices=TransactionType.choices)
    amount = models.DecimalField(max_digits=15, decimal_places=2)
    description = models.CharField(max_length=200, blank=True)
    timestamp = models.DateTimeField(default=timezone.now)
    balance_after = models.DecimalField(
        max_digits=15, decimal_places=2, help_text="The balance right after this row"
    )
    symbol = models.CharField(max_length=10, blank=True, help_text="For trade rows")
    # NULL, not "", for "no token": the unique (user, token) constraint skips NULLs.
    token = models.CharField(  # noqa: DJ001
        max_length=64, null=True, blank=True, help_text="One-time form token (idempotency)"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The instructor who made this movement, if not the student",
    )

    class Meta:
        db_table = "transactions"
        ordering = ["-timestamp", "-id"]
        indexes = [
            models.Index(fields=["user", "-timestamp", "-id"], name="transactions_user_ts"),
            models.Index(fields=["user", "type", "-timestamp"], name="transactions_user_type_ts"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="transactions_amount_gt_0"),
            models.CheckConstraint(
                condition=Q(type__in=TransactionType.values), name="transactions_type_valid"
            ),
            models.UniqueConstraint(
                fields=["user", "token"],
                condition=Q(token__isnull=False),
                name="transactions_user_token_unique",
            ),
        ]
        permissions = [("grant_cash", "Can grant cash to a student")]

    def __str__(self):
        return f"{self.get_type_display()} ${self.amount:,.2f} ({self.user})"

    @property
    def is_credit(self) -> bool:
        return self.type in self.CREDIT_TYPES

    @property
    def signed_amount(self):
        return self.amount if self.is_credit else -self.amount


class InterestDay(models.Model):
    """A simulated trading day whose interest was accrued (ledger.services.accrue_interest)
    for every account that owed or earned any. Table `interest_days`.

    The journal tokens already keep a day from being charged twice; this row tells a day
    that was accrued from one whose close was missed, so that the next tick catches up only
    the latter (and never bills a loan taken out the day after the close)."""

    day = models.PositiveIntegerField(primary_key=True, help_text="1 for the first trading day")
    accrued_at = models.DateTimeField(default=timezone.now)
    accounts = models.PositiveIntegerField(
        default=0, help_text="Accounts charged or paid interest for this day"
    )

    class Meta:
        db_table = "interest_days"
        ordering = ["-day"]

    def __str__(self):
        return f"Interest for trading day {self.day}"
