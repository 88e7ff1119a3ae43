"""Every write to cash. Each function is atomic and journals exactly one row per change.

Lock order across the project: the balance row first, then any holding row. Functions
here that take `user` lock that user's balance row with SELECT … FOR UPDATE (on SQLite the
IMMEDIATE transaction already serializes writers), re-check on the locked copy, then write
the journal row and the new balance together.
"""

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from ledger.models import Balance, Transaction
from tradesim.money import MAX_MONEY, ZERO

OPENING_TOKEN = "opening"  # the starting-cash row's token: one per user, by the unique constraint
STARTING_CASH_DESCRIPTION = "Starting cash"


class LedgerError(Exception):
    """A cash movement that was refused; the message is meant for the student."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidAmount(LedgerError):
    pass


class InsufficientFunds(LedgerError):
    pass


class DuplicateRequest(LedgerError):
    pass


class DepositsClosed(LedgerError):
    pass


class DepositLimitExceeded(LedgerError):
    pass


def validate_amount(amount) -> Decimal:
    """Return `amount` as a Decimal if it is a finite, positive number of cents."""
    if isinstance(amount, float):
        raise InvalidAmount("Amounts must be exact decimals, not floating-point numbers.")
    try:
        value = Decimal(amount) if not isinstance(amount, Decimal) else amount
    except (InvalidOperation, TypeError, ValueError):
        raise InvalidAmount("Enter an amount such as 250 or 99.95.") from None
    if not value.is_finite():
        raise InvalidAmount("Enter an amount such as 250 or 99.95.")
    if value <= 0:
        raise InvalidAmount("The amount must be more than zero.")
    if value > MAX_MONEY:
        raise InvalidAmount("That amount is too large.")
    if value.as_tuple().exponent < -2 and value != value.quantize(Decimal("0.01")):
        raise InvalidAmount("Amounts have at most two decimal places (whole cents).")
    return value.quantize(Decimal("0.01"))


def _lock_balance(user) -> Balance:
    return Balance.objects.select_for_update().get(user_id=user.pk)


def _check_token(user, token: str | None) -> None:
    if token and Transaction.objects.filter(user_id=user.pk, token=token).exists():
        raise DuplicateRequest("This request was already carried out; nothing was done twice.")


def _post(
    balance: Balance,
    *,
    type: str,
    amount: Decimal,
    description: str = "",
    symbol: str = "",
    token: str | None = None,
    created_by=None,
) -> Transaction:
    """Apply one movement to a locked balance and journal it. Caller holds the lock."""
    credit = type in Transaction.CREDIT_TYPES
    new_amount = balance.amount + amount if credit else balance.amount - amount
    if new_amount < 0:
        raise InsufficientFunds(
            f"Not enough cash: you have ${balance.amount:,.2f} and this needs ${amount:,.2f}."
        )
    if new_amount > MAX_MONEY:
        raise InvalidAmount("That would take the balance beyond what an account can hold.")
    now = timezone.now()
    balance.amount = new_amount
    balance.last_updated = now
    balance.save(update_fields=["amount", "last_updated"])
    return Transaction.objects.create(
        user_id=balance.user_id,
        type=type,
        amount=amount,
        description=description[:200],
        symbol=symbol,
        token=token or None,
        created_by=created_by,
        timestamp=now,
        balance_after=new_amount,
    )


def credit(
    *,
    user,
    type: str,
    amount,
    description: str = "",
    symbol: str = "",
    token: str | None = None,
    created_by=None,
) -> Transaction:
    """Add cash to `user` and journal it. Locks the user's balance row.

    Meant for other services (a sale, a grant) that may already hold the lock inside their
    own transaction; re-locking a row this transaction holds is free.
    """
    if type not in Transaction.CREDIT_TYPES:
        raise ValueError(f"{type!r} is not a credit")
    amount = validate_amount(amount)
    with transaction.atomic():
        balance = _lock_balance(user)
        _check_token(user, token)
        return _post(
            balance,
            type=type,
            amount=amount,
            description=description,
            symbol=symbol,
            token=token,
            created_by=created_by,
        )


def debit(
    *,
    user,
    type: str,
    amount,
    description: str = "",
    symbol: str = "",
    token: str | None = None,
    created_by=None,
) -> Transaction:
    """Take cash from `user` and journal it; InsufficientFunds if the balance would go
    below zero. Locks the user's balance row."""
    if type not in Transaction.DEBIT_TYPES:
        raise ValueError(f"{type!r} is not a debit")
    amount = validate_amount(amount)
    with transaction.atomic():
        balance = _lock_balance(user)
        _check_token(user, token)
        return _post(
            balance,
            type=type,
            amount=amount,
            description=description,
            symbol=symbol,
            token=token,
            created_by=created_by,
        )


def open_account(*, user, starting_cash: Decimal | None = None) -> Balance:
    """Create the user's balance and journal the starting cash, atomically.

    The balance row is new, so nobody else can hold it; the opening row's fixed token
    makes a second opening impossible (unique user + token).
    """
    cash = settings.STARTING_CASH if starting_cash is None else starting_cash
    with transaction.atomic():
        balance = Balance.objects.create(user=user, amount=ZERO)
        if cash > 0:
            _post(
                balance,
                type=Transaction.Type.DEPOSIT,
                amount=validate_amount(cash),
                description=STARTING_CASH_DESCRIPTION,
                token=OPENING_TOKEN,
            )
    return balance


@dataclass(frozen=True)
class DepositRules:
    open: bool
    max_deposit: Decimal
    max_total: Decimal | None


def deposit_rules() -> DepositRules:
    return DepositRules(
        open=settings.DEPOSITS_OPEN,
        max_deposit=settings.MAX_DEPOSIT,
        max_total=settings.MAX_TOTAL_DEPOSITS,
    )


def deposit(*, user, amount, description: str = "", token: str | None = None) -> Transaction:
    """A student adds simulated cash.

    Guarantees: deposits are open; 0 < amount ≤ MAX_DEPOSIT in whole cents; the student's
    own deposits (not the starting cash or grants) stay within MAX_TOTAL_DEPOSITS; one
    journal row and the new balance are written together, once per token.
    Locks: the user's balance row.
    """
    rules = deposit_rules()
    if not rules.open:
        raise DepositsClosed("Deposits are closed for this class.")
    amount = validate_amount(amount)
    if amount > rules.max_deposit:
        raise InvalidAmount(f"A single deposit is at most ${rules.max_deposit:,.2f}.")
    with transaction.atomic():
        balance = _lock_balance(user)
        _check_token(user, token)
        if rules.max_total is not None:
            so_far = (
                Transaction.objects.filter(user_id=user.pk, type=Transaction.Type.DEPOSIT)
                .exclude(token=OPENING_TOKEN)
                .aggregate(total=Sum("amount"))["total"]
                or ZERO
            )
            if so_far + amount > rules.max_total:
                room = max(rules.max_total - so_far, ZERO)
                raise DepositLimitExceeded(
                    f"Deposits are capped at ${rules.max_total:,.2f} per student; "
                    f"you can deposit ${room:,.2f} more."
                )
        return _post(
            balance,
            type=Transaction.Type.DEPOSIT,
            amount=amount,
            description=description or "Deposit",
            token=token,
        )


def withdraw(*, user, amount, description: str = "", token: str | None = None) -> Transaction:
    """A student takes simulated cash out.

    Guarantees: 0 < amount ≤ the balance, checked on the locked row, so concurrent
    withdrawals can never take the balance below zero; one journal row and the new
    balance are written together, once per token.
    Locks: the user's balance row.
    """
    amount = validate_amount(amount)
    with transaction.atomic():
        balance = _lock_balance(user)
        _check_token(user, token)
        return _post(
            balance,
            type=Transaction.Type.WITHDRAWAL,
            amount=amount,
            description=description or "Withdrawal",
            token=token,
        )
