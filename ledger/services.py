"""Every write to cash. Each function is atomic and journals exactly one row per change.

Lock order across the project: the balance row first, then any holding row. Functions
here that take `user` lock that user's balance row with SELECT … FOR UPDATE (on SQLite the
IMMEDIATE transaction already serializes writers), re-check on the locked copy, then write
the journal row and the new balance together.

The student's class rules (classrooms.rules) are read inside the transaction and checked
under the lock: a student in no class plays by the settings.

Idempotency: a movement may carry a one-time token. The token is looked up under the
balance lock (so a repeat that waited for the first one sees it and raises DuplicateRequest),
and the unique (user, token) constraint is the backstop for any writer that skipped the lock.
"""

import logging
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Case, Exists, F, OuterRef, Q, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.module_loading import import_string

from classrooms import rules as classroom_rules
from classrooms.rules import CashMovement, Refusal, daily_interest, rulebook_for
from ledger.models import Balance, InterestDay, Transaction
from tradesim import rows
from tradesim.logging import log_event
from tradesim.money import CENT, MAX_MONEY, ZERO

logger = logging.getLogger("tradesim.ledger")

# The starting-cash rows' tokens: "opening" for the account's first row, "opening:<class id>"
# for a class's starting cash given on joining it; one each per user, by the unique
# constraint. No form may use them, and the deposit cap leaves their rows out.
OPENING_TOKEN = "opening"
STARTING_CASH_DESCRIPTION = "Starting cash"
# A day's interest rows: "interest:<day>" (a margin loan's) and "cash-interest:<day>" (paid
# on cash), one each per user and simulated day, by the same constraint. No form may use
# them either, or a student could keep a day's interest from being charged.
INTEREST_TOKEN = "interest"
CASH_INTEREST_TOKEN = "cash-interest"
# A day's borrow fee on short positions: "borrow-fee:<day>", likewise.
BORROW_FEE_TOKEN = "borrow-fee"
# A dividend paid (or charged to a short) on a symbol's ex-date: "dividend:<SYMBOL>:<day>".
DIVIDEND_TOKEN = "dividend"
_RESERVED_PREFIXES = tuple(
    f"{name}:"
    for name in (
        OPENING_TOKEN,
        INTEREST_TOKEN,
        CASH_INTEREST_TOKEN,
        BORROW_FEE_TOKEN,
        DIVIDEND_TOKEN,
    )
)


def _is_reserved(token: str | None) -> bool:
    return bool(token) and (token == OPENING_TOKEN or token.startswith(_RESERVED_PREFIXES))


def _class_opening_token(classroom_id: int) -> str:
    return f"{OPENING_TOKEN}:{classroom_id}"


# Plain ASCII decimals only: Decimal() itself would also take "1_000", "١٢" or "1e3".
_PLAIN_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)", re.ASCII)


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
    """The token was already used: the first request succeeded and nothing was done again.

    `original` is the journal row the first request wrote (None if it cannot be read),
    `balance` the balance now."""

    def __init__(self, message: str, *, original: Transaction | None = None, balance=None):
        super().__init__(message)
        self.original = original
        self.balance = balance


class RuleRefused(LedgerError):
    """A rule of the student's class refused the movement: `rule` is the rulebook's key."""

    def __init__(self, message: str, *, rule: str = ""):
        super().__init__(message)
        self.rule = rule


class DepositsClosed(RuleRefused):
    pass


class DepositLimitExceeded(RuleRefused):
    pass


class WithdrawalsClosed(RuleRefused):
    pass


_REFUSALS = {
    "deposits_open": DepositsClosed,
    "max_total_deposits": DepositLimitExceeded,
    "withdrawals_open": WithdrawalsClosed,
}


def _refused(refusal: Refusal) -> RuleRefused:
    return _REFUSALS.get(refusal.rule, RuleRefused)(refusal.message, rule=refusal.rule)


class NoAccount(LedgerError):
    pass


def validate_amount(amount) -> Decimal:
    """Return `amount` as a Decimal of whole cents if it is a finite, positive amount that a
    balance can hold. Accepts Decimal, int or a plain ASCII decimal string; never float."""
    if isinstance(amount, float):
        raise InvalidAmount("Amounts must be exact decimals, not floating-point numbers.")
    if isinstance(amount, bool) or not isinstance(amount, Decimal | int | str):
        raise InvalidAmount("Enter an amount such as 250 or 99.95.")
    if isinstance(amount, str):
        text = amount.strip()
        if not _PLAIN_DECIMAL.fullmatch(text):
            raise InvalidAmount("Enter an amount such as 250 or 99.95.")
        amount = text
    try:
        value = amount if isinstance(amount, Decimal) else Decimal(amount)
    except (InvalidOperation, TypeError, ValueError):
        raise InvalidAmount("Enter an amount such as 250 or 99.95.") from None
    if not value.is_finite():
        raise InvalidAmount("Enter an amount such as 250 or 99.95.")
    if value <= 0:
        raise InvalidAmount("The amount must be more than zero.")
    if value > MAX_MONEY:
        raise InvalidAmount("That amount is too large.")
    cents = value.quantize(CENT)
    if cents != value:
        raise InvalidAmount("Amounts have at most two decimal places (whole cents).")
    return cents


def _duplicate(user, token: str, balance: Decimal | None = None) -> DuplicateRequest:
    original = Transaction.objects.filter(user_id=user.pk, token=token).first()
    if balance is None:
        balance = Balance.objects.filter(user_id=user.pk).values_list("amount", flat=True).first()
    if original is None:
        message = "This form was already submitted; it was carried out only once."
    else:
        message = (
            f"That {original.get_type_display().lower()} of ${original.amount:,.2f} was "
            "already made; it was recorded once, not twice."
        )
    return DuplicateRequest(message, original=original, balance=balance)


def _log_after_commit(user, row: Transaction, created_by=None) -> None:
    fields = {
        "user": getattr(user, "username", ""),
        "user_id": row.user_id,
        "action": row.type,
        "amount": row.amount,
        "balance": row.balance_after,
        "symbol": row.symbol or None,
        "by": created_by.get_username() if created_by is not None else None,
        "row": row.pk,
        "result": "ok",
    }
    transaction.on_commit(lambda: log_event(logger, f"cash.{row.type}", **fields))


def _post(
    balance: Balance,
    *,
    type: str,
    amount: Decimal,
    description: str = "",
    symbol: str = "",
    token: str | None = None,
    created_by=None,
    borrow: bool = False,
) -> Transaction:
    """Apply one movement to a locked balance and journal it. Caller holds the lock.

    A debit is paid from the free cash (the balance less what open orders hold); with
    `borrow`, also from the margin loan the account is allowed (balances.loan_limit, which
    the caller set after the class's margin check). A credit that repays a loan lowers the
    allowed loan to what is still borrowed, in the same UPDATE."""
    credit = type in Transaction.CREDIT_TYPES
    new_amount = balance.amount + amount if credit else balance.amount - amount
    if not credit:
        _check_debit(balance, amount, new_amount, borrow=borrow)
    if new_amount > MAX_MONEY:
        raise InvalidAmount("That would take the balance beyond what an account can hold.")
    # A credit lowers the allowed loan to what the account still borrows (its holds
    # counted). A debit leaves it: the loan it was allowed may be for more movements than
    # this one (a margin buy's commission, posted after the buy).
    loan_limit = balance.loan_limit
    if credit:
        loan_limit = min(loan_limit, max(balance.held - new_amount, ZERO))
    now = timezone.now()
    # Every movement of cash passes here: two single statements (tradesim.rows), not the
    # ORM's create() and save(), which cost more CPU to build than the database spends.
    row = rows.create(
        Transaction,
        user=balance.user_id,
        type=type,
        amount=amount,
        description=(description or "").strip()[:200],
        symbol=symbol,
        token=token or None,
        created_by=created_by.pk if created_by is not None else None,
        timestamp=now,
        balance_after=new_amount,
    )
    if loan_limit != balance.loan_limit:
        rows.update(
            Balance, {"id": balance.pk}, amount=new_amount, loan_limit=loan_limit, last_updated=now
        )
        balance.loan_limit = loan_limit
    else:
        rows.update(Balance, {"id": balance.pk}, amount=new_amount, last_updated=now)
    balance.amount = new_amount
    balance.last_updated = now
    _log_after_commit(balance.user, row, created_by)
    return row


def _check_debit(balance: Balance, amount: Decimal, new_amount: Decimal, *, borrow: bool) -> None:
    floor = balance.held - (balance.loan_limit if borrow else ZERO)
    if new_amount >= floor:
        return
    if borrow:
        raise InsufficientFunds(
            f"Not enough buying power: this needs ${amount:,.2f}, and your cash of "
            f"${balance.amount:,.2f} with the margin loan you are allowed "
            f"(${balance.loan_limit:,.2f}) leaves "
            f"${balance.amount + balance.loan_limit - balance.held:,.2f} free."
        )
    if balance.amount < 0:
        raise InsufficientFunds(
            f"Not enough cash: your cash is ${balance.amount:,.2f} (a margin loan), and this "
            f"needs ${amount:,.2f}. Sell shares or deposit first."
        )
    if new_amount < 0:
        raise InsufficientFunds(
            f"Not enough cash: you have ${balance.amount:,.2f} and this needs ${amount:,.2f}."
        )
    raise InsufficientFunds(
        f"Not enough cash: you have ${balance.amount:,.2f}, of which "
        f"${balance.held:,.2f} is held for your open orders, so ${balance.available:,.2f} "
        f"is free, and this needs ${amount:,.2f}."
    )


def _move(user, token: str | None, write, *, starting_cash: bool = False) -> Transaction:
    """Run `write(locked_balance)` atomically under the balance lock, after the token check.

    If the unique (user, token) constraint fires anyway (a writer that did not take the
    lock), the savepoint is rolled back and the caller gets DuplicateRequest. Only the
    starting cash (`starting_cash`) may use the reserved tokens."""
    if _is_reserved(token) and not starting_cash:
        # Reserved for the starting cash, which the deposit cap leaves out.
        raise LedgerError("This form has expired: reload the page and try again.")
    try:
        with transaction.atomic():
            return write(_lock(user, token).balance)
    except IntegrityError:
        if token and Transaction.objects.filter(user_id=user.pk, token=token).exists():
            raise _duplicate(user, token) from None
        raise


def _journal_one(
    allowed_types, *, user, type, amount, description, symbol, token, created_by
) -> Transaction:
    """credit and debit: one movement of a type of the right direction, under the lock."""
    if type not in allowed_types:
        direction = "credit" if allowed_types is Transaction.CREDIT_TYPES else "debit"
        raise ValueError(f"{type!r} is not a {direction}")
    amount = validate_amount(amount)
    return _move(
        user,
        token,
        lambda balance: _post(
            balance,
            type=type,
            amount=amount,
            description=description,
            symbol=symbol,
            token=token,
            created_by=created_by,
        ),
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
    """Add cash to `user` and journal it (a sale, a grant, a reset).

    Guarantees: one journal row of a credit `type` and the new balance, written together,
    once per token; InvalidAmount if the amount is not whole, positive cents.
    Locks: the user's balance row. Meant for other services that may already hold that lock
    inside their own transaction (re-locking a row this transaction holds is free); it runs
    in a savepoint, so a refusal leaves the caller's transaction usable.
    """
    return _journal_one(
        Transaction.CREDIT_TYPES,
        user=user,
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
    """Take cash from `user` and journal it (a purchase, a fee, a reset).

    Guarantees: InsufficientFunds, checked on the locked row, if the balance would go below
    zero; otherwise one journal row of a debit `type` and the new balance, written together,
    once per token. Locks: the user's balance row (see `credit` about callers' transactions).
    """
    return _journal_one(
        Transaction.DEBIT_TYPES,
        user=user,
        type=type,
        amount=amount,
        description=description,
        symbol=symbol,
        token=token,
        created_by=created_by,
    )


class Account:
    """A user's cash account, its balance row locked in the caller's open transaction:
    what `lock_account` returns. Post movements to it, and hold or release cash for open
    orders, without locking the row again or opening a savepoint: each refusal raises
    before anything is written, and the caller lets any other error abort its transaction.
    """

    def __init__(self, user, balance: Balance):
        self.user = user
        self._balance = balance

    @property
    def amount(self) -> Decimal:
        return self._balance.amount

    @property
    def held(self) -> Decimal:
        return self._balance.held

    @property
    def available(self) -> Decimal:
        """The cash the user can spend now: the balance less what open orders hold."""
        return self._balance.available

    @property
    def balance(self) -> Balance:
        return self._balance

    def post(
        self,
        *,
        type: str,
        amount,
        description: str = "",
        symbol: str = "",
        token: str | None = None,
        created_by=None,
        borrow: bool = False,
    ) -> Transaction:
        """Journal one movement, as credit/debit do: whole positive cents; a debit never
        takes the balance below zero or below what open orders hold (InsufficientFunds), or
        with `borrow` below −loan_limit plus what open orders hold; one journal row per
        token (`lock_account` looked the token up; the unique constraint refuses a second
        row)."""
        if type not in Transaction.CREDIT_TYPES and type not in Transaction.DEBIT_TYPES:
            raise ValueError(f"{type!r} is not a movement")
        if _is_reserved(token):
            raise LedgerError("This form has expired: reload the page and try again.")
        return _post(
            self._balance,
            type=type,
            amount=validate_amount(amount),
            description=description,
            symbol=symbol,
            token=token,
            created_by=created_by,
            borrow=borrow,
        )

    @property
    def loan_limit(self) -> Decimal:
        return self._balance.loan_limit

    def allow_loan(self, limit: Decimal) -> None:
        """Let the cash go down to −`limit` (a margin loan), for the borrowing the caller
        checked against the class's margin rule, under this lock. The balances table keeps
        the cash and the holds within it."""
        if limit < 0:
            raise LedgerError("A loan limit cannot be negative.")
        if limit != self._balance.loan_limit:
            rows.update(Balance, {"id": self._balance.pk}, loan_limit=limit)
            self._balance.loan_limit = limit

    def hold(self, amount: Decimal, *, what: str = "this order", borrow: bool = False) -> None:
        """Set `amount` of the free cash aside for an open order (not a journal row: the
        cash is still the user's). InsufficientFunds if the free cash is less; with
        `borrow`, the free cash counts the margin loan the account is allowed."""
        amount = validate_amount(amount)
        if amount > self.available + (self.loan_limit if borrow else ZERO):
            held = f" (${self.held:,.2f} is held for your open orders)" if self.held else ""
            raise InsufficientFunds(
                f"Not enough cash: {what} needs ${amount:,.2f} set aside, and you have "
                f"${self.available:,.2f} free{held}."
            )
        self._set_held(self.held + amount)

    def release(self, amount: Decimal) -> None:
        """Free `amount` held for an order that filled, was cancelled or expired."""
        if amount <= 0:
            return
        if amount > self.held:
            raise LedgerError(f"Cannot release ${amount:,.2f}: only ${self.held:,.2f} is held.")
        self._set_held(self.held - amount)

    def _set_held(self, held: Decimal) -> None:
        rows.update(Balance, {"id": self._balance.pk}, held=held)
        self._balance.held = held


_LOCK_ACCOUNT_SQL = "SELECT id, amount, held, loan_limit FROM balances WHERE user_id = %s"
_TOKEN_USED_SQL = "SELECT 1 FROM transactions WHERE user_id = %s AND token = %s"


def _token_used(user, token: str) -> bool:
    return rows.fetch_one(_TOKEN_USED_SQL, [user.pk, token]) is not None


def lock_account(*, user, token: str | None = None) -> Account:
    """Lock `user`'s balance row in the caller's transaction and return the account to post
    to, hold and release on: the one place the project takes the balance lock, the first
    lock of every money path (balance, then holding, then portfolio summary).

    `token`: a one-time form token, looked up in the journal under the lock, so a repeated
    form that waited for the first sees it (DuplicateRequest); a reserved token is refused
    (LedgerError). NoAccount for a user without a cash account.
    Locks: the user's balance row (SELECT … FOR UPDATE; on SQLite the IMMEDIATE
    transaction already serializes writers).
    """
    if not transaction.get_connection().in_atomic_block:
        raise transaction.TransactionManagementError("lock_account needs the caller's transaction")
    if _is_reserved(token):
        raise LedgerError("This form has expired: reload the page and try again.")
    return _lock(user, token)


def _lock(user, token: str | None) -> Account:
    # The balance alone, in a statement of its own: on PostgreSQL a locking read that
    # waited sees the locked row as committed meanwhile, but not the rows it might join,
    # so the token is looked up after it.
    found = rows.fetch_one(_LOCK_ACCOUNT_SQL + rows.for_update(), [user.pk])
    if found is None:
        raise NoAccount("There is no cash account for this login (instructors do not hold cash).")
    balance = rows.loaded(
        Balance,
        found[0],
        user_id=user.pk,
        amount=rows.decimal(found[1], 2),
        held=rows.decimal(found[2], 2),
        loan_limit=rows.decimal(found[3], 2),
    )
    balance.user = user  # already loaded: the log line names the user without a query
    if token and _token_used(user, token):
        raise _duplicate(user, token, balance.amount)
    return Account(user, balance)


def open_account(*, user, starting_cash: Decimal | None = None) -> Balance:
    """Create the user's balance and journal the starting cash, atomically: by default the
    starting cash of the user's class (so save the user's class first), or the settings'
    STARTING_CASH for a user in no class.

    Locks nothing: the balance row is new. A second opening is impossible (one balance per
    user, and the opening row's token is unique per user). A student who opens in a class
    gets its token "opening:<class id>", as credit_starting_cash gives it, so that class's
    starting cash is never paid to them twice.
    """
    classroom_id = getattr(user, "classroom_id", None)
    token = OPENING_TOKEN if classroom_id is None else _class_opening_token(classroom_id)
    with transaction.atomic():
        cash = rulebook_for(user).starting_cash if starting_cash is None else starting_cash
        balance = Balance.objects.create(user=user, amount=ZERO)
        if cash > 0:
            _post(
                balance,
                type=Transaction.Type.DEPOSIT,
                amount=validate_amount(cash),
                description=STARTING_CASH_DESCRIPTION,
                token=token,
            )
    return balance


def credit_starting_cash(*, user, amount=None) -> Transaction | None:
    """Give a student who joins a class (also late) that class's starting cash: one
    `deposit` row described "Starting cash", outside the deposit cap, like the opening row.

    `user.classroom_id` names the class (save it first); `amount` (positive, whole cents)
    defaults to its starting cash. Returns the journal row, or None when the class gives
    no starting cash. Once per student and class, by the row's token "opening:<class id>":
    joining the same class again raises DuplicateRequest and credits nothing. LedgerError
    for a user in no class; NoAccount without a cash account. Not subject to the class's
    deposit rules or trading window. It adds to the cash the student has: bringing them
    level first (e.g. trading.services.reset_student) is the caller's choice.
    Locks: the user's balance row.
    """
    classroom_id = getattr(user, "classroom_id", None)
    if classroom_id is None:
        raise LedgerError("Only a student in a class is given a class's starting cash.")
    token = _class_opening_token(classroom_id)

    def write(balance: Balance) -> Transaction | None:
        cash = rulebook_for(user).starting_cash if amount is None else validate_amount(amount)
        if cash <= 0:
            return None
        return _post(
            balance,
            type=Transaction.Type.DEPOSIT,
            amount=validate_amount(cash),
            description=STARTING_CASH_DESCRIPTION,
            token=token,
        )

    return _move(user, token, write, starting_cash=True)


def deposits_toward_cap(user) -> Decimal:
    """The student's own deposits in their class so far: what the class's cap on deposits
    limits. Not the starting cash, not grants, and not deposits from before they were given
    this class's starting cash (joining set that cash aside). One query."""
    rows = Transaction.objects.filter(user_id=user.pk, type=Transaction.Type.DEPOSIT).exclude(
        Q(token=OPENING_TOKEN) | Q(token__startswith=OPENING_TOKEN + ":")
    )
    classroom_id = getattr(user, "classroom_id", None)
    if classroom_id is not None:
        opened = Transaction.objects.filter(
            user_id=user.pk, token=_class_opening_token(classroom_id)
        ).values("pk")[:1]
        rows = rows.filter(pk__gt=Coalesce(Subquery(opened), Value(0)))
    return rows.aggregate(total=Coalesce(Sum("amount"), ZERO))["total"]


def _refuse(user, movement: CashMovement, check):
    """Read the user's rulebook (inside the caller's transaction) and raise the first
    refusal of `check` as a RuleRefused; returns the rulebook."""
    rules = rulebook_for(user)
    if movement.kind == classroom_rules.DEPOSIT and rules.counts_deposits:
        movement = CashMovement(
            kind=movement.kind,
            amount=movement.amount,
            at=movement.at,
            deposited=deposits_toward_cap(user),
        )
    refusal = check(rules, movement)
    if refusal is not None:
        raise _refused(refusal)
    return rules


def deposit(*, user, amount, description: str = "", token: str | None = None) -> Transaction:
    """A student adds simulated cash.

    Guarantees: 0 < amount ≤ MAX_DEPOSIT in whole cents (InvalidAmount); the rules of the
    student's class allow it, read and checked under the lock (classrooms.rules
    .DEPOSIT_RULES: the class has not ended, deposits are open (DepositsClosed), and the
    student's own deposits (not the starting cash or grants) stay within the cap
    (DepositLimitExceeded); any other as RuleRefused); one journal row and the new balance
    are written together — or nothing. A token already used raises DuplicateRequest,
    checked before the class rules, so the retry of a deposit that went through is told so
    even if deposits closed meanwhile.
    Locks: the user's balance row.
    """
    value = validate_amount(amount)
    if value > settings.MAX_DEPOSIT:
        raise InvalidAmount(
            f"A single deposit is at most ${settings.MAX_DEPOSIT:,.2f}; "
            f"${value:,.2f} is more than that."
        )

    def write(balance: Balance) -> Transaction:
        movement = CashMovement(kind=classroom_rules.DEPOSIT, amount=value, at=timezone.now())
        _refuse(user, movement, classroom_rules.check_deposit)
        return _post(
            balance,
            type=Transaction.Type.DEPOSIT,
            amount=value,
            description=description or "Deposit",
            token=token,
        )

    return _move(user, token, write)


def withdraw(*, user, amount, description: str = "", token: str | None = None) -> Transaction:
    """A student takes simulated cash out.

    Guarantees: 0 < amount ≤ the balance less what open orders hold, checked on the locked
    row (InsufficientFunds), so concurrent withdrawals can never take the balance below
    zero nor spend held cash; the rules of the
    student's class allow it, checked under the lock (classrooms.rules.WITHDRAWAL_RULES:
    the class has not ended, withdrawals are open (WithdrawalsClosed)); the apps above
    agree (settings.WITHDRAWAL_CHECKS: the margin that positions need); one journal row and
    the new balance are written together — or nothing; once per token (DuplicateRequest).
    Locks: the user's balance row.
    """
    value = validate_amount(amount)

    def write(balance: Balance) -> Transaction:
        movement = CashMovement(kind=classroom_rules.WITHDRAWAL, amount=value, at=timezone.now())
        rules = _refuse(user, movement, classroom_rules.check_withdrawal)
        if value > balance.available:
            if balance.amount < 0:
                raise InsufficientFunds(
                    f"You can't withdraw ${value:,.2f}: your cash is ${balance.amount:,.2f}, a "
                    "margin loan, and borrowed money cannot be taken out. Sell shares or "
                    "deposit to repay the loan first."
                )
            if balance.held:
                raise InsufficientFunds(
                    f"You can't withdraw ${value:,.2f}: your balance is "
                    f"${balance.amount:,.2f}, of which ${balance.held:,.2f} is held for your "
                    f"open orders, so ${balance.available:,.2f} is the most you can take out."
                )
            raise InsufficientFunds(
                f"You can't withdraw ${value:,.2f}: your balance is ${balance.amount:,.2f}, "
                "so that is the most you can take out."
            )
        for path in settings.WITHDRAWAL_CHECKS:
            refusal = import_string(path)(user=user, amount=value, balance=balance, rules=rules)
            if refusal:
                raise InsufficientFunds(refusal)
        return _post(
            balance,
            type=Transaction.Type.WITHDRAWAL,
            amount=value,
            description=description or "Withdrawal",
            token=token,
        )

    return _move(user, token, write)


def grant(*, user, amount, reason: str, instructor, token: str | None = None) -> Transaction:
    """An instructor gives a student simulated cash (not subject to the deposit limits).

    Guarantees: `instructor` is staff and `reason` is not blank (LedgerError otherwise);
    one `grant` row described "Granted by <instructor>: <reason>", with created_by set,
    and the new balance, written together — or nothing; once per token.
    Locks: the student's balance row.
    """
    reason = (reason or "").strip()
    if not getattr(instructor, "is_staff", False):
        raise LedgerError("Only an instructor can grant cash.")
    if not reason:
        raise LedgerError("Give a reason for the grant; the student sees it in their journal.")
    return credit(
        user=user,
        type=Transaction.Type.GRANT,
        amount=amount,
        description=f"Granted by {instructor.get_username()}: {reason}",
        token=token,
        created_by=instructor,
    )


# Interest -------------------------------------------------------------------------------


@dataclass(frozen=True)
class InterestSummary:
    """What `accrue_interest` did for one simulated day."""

    day: int
    charged: int = 0  # accounts charged interest on their margin loan
    loan_interest: Decimal = ZERO  # in all
    paid: int = 0  # accounts paid interest on their cash
    cash_interest: Decimal = ZERO  # in all
    failed: int = 0  # accounts whose accrual hit an unexpected error (logged); retried
    already: bool = False  # the day was accrued before: nothing was done

    @property
    def accounts(self) -> int:
        return self.charged + self.paid

    def __str__(self) -> str:
        text = f"interest: {self.accounts} account{'s' if self.accounts != 1 else ''}"
        if self.failed:
            text += f", {self.failed} failed (see the log)"
        return text


def interest_token(day: int) -> str:
    return f"{INTEREST_TOKEN}:{day}"


def cash_interest_token(day: int) -> str:
    return f"{CASH_INTEREST_TOKEN}:{day}"


def _interest_due(day: int, now):
    """The students who owe or earn interest for `day`, in ONE query over users, their
    balance and their class: a loan (cash below zero) in a class with margin on and a loan
    rate, or positive cash in a class with a cash rate; the class under way at `now`; that
    day's row not written yet. A student in no class earns and owes nothing."""
    used = Transaction.objects.filter(user_id=OuterRef("pk"))
    owes = Q(
        balance__amount__lt=0, classroom__margin=True, classroom__loan_rate_percent__gt=0
    ) & ~Exists(used.filter(token=interest_token(day)))
    earns = Q(balance__amount__gt=0, classroom__cash_rate_percent__gt=0) & ~Exists(
        used.filter(token=cash_interest_token(day))
    )
    under_way = (Q(classroom__starts_at__isnull=True) | Q(classroom__starts_at__lte=now)) & (
        Q(classroom__ends_at__isnull=True) | Q(classroom__ends_at__gt=now)
    )
    return (
        get_user_model()
        .objects.filter(owes | earns, under_way, classroom__isnull=False)
        .select_related("classroom")
        .only(
            "id",
            "username",
            "classroom__margin",
            "classroom__loan_rate_percent",
            "classroom__cash_rate_percent",
        )
        .order_by("pk")
    )


def accrue_interest(*, day: int, now=None) -> InterestSummary:
    """Charge and pay a simulated day's interest, at its close: for each student whose
    class has a rate, one `interest` row (a debit) of daily_interest(loan, loan rate) on a
    margin loan (cash below zero, in a class with margin on), or one `cash_interest` row (a
    credit) of daily_interest(cash, cash rate) on positive cash (any class); nothing when
    it rounds to $0.00, and nothing for a class not under way at `now`.

    Guarantees: once per student and day, by the rows' tokens "interest:<day>" and
    "cash-interest:<day>" (looked up under the lock; the unique (user, token) constraint is
    the backstop), so running a day again changes nothing; the amount is read on the
    locked balance. Interest may take the cash below the loan the account was allowed: the
    allowed loan is raised to cover it (a margin call answers an account that can no longer
    carry its loan). Once every account is done, the day is recorded (InterestDay), and a
    day on record is not looked at again.
    Locks: one student at a time, each in a transaction of its own: their balance row.
    Queries: three, plus a fixed number per student charged or paid.
    """
    now = now or timezone.now()
    if InterestDay.objects.filter(day=day).exists():
        return InterestSummary(day=day, already=True)
    charged = paid = failed = 0
    loan_total = cash_total = ZERO
    for user in _interest_due(day, now):
        try:
            with transaction.atomic():
                row = _accrue_for(user, day=day)
        except Exception:
            failed += 1
            logger.exception("Interest for day %s failed for user %s", day, user.pk)
            continue
        if row is None:
            continue
        if row.type == Transaction.Type.INTEREST:
            charged += 1
            loan_total += row.amount
        else:
            paid += 1
            cash_total += row.amount
    if not failed:
        InterestDay.objects.bulk_create(
            [InterestDay(day=day, accrued_at=now, accounts=charged + paid)], ignore_conflicts=True
        )
    summary = InterestSummary(
        day=day,
        charged=charged,
        loan_interest=loan_total,
        paid=paid,
        cash_interest=cash_total,
        failed=failed,
    )
    if summary.accounts or failed:
        transaction.on_commit(
            lambda: log_event(
                logger,
                "cash.interest_accrued",
                day=day,
                charged=charged,
                loan_interest=loan_total,
                paid=paid,
                cash_interest=cash_total,
                failed=failed,
            )
        )
    return summary


_INTEREST_TOKENS_SQL = "SELECT token FROM transactions WHERE user_id = %s AND token IN (%s, %s)"


def charge_borrow_fee(*, user, day: int, amount: Decimal, description: str) -> Transaction | None:
    """Charge `user` a simulated day's borrow fee on their short positions (worked out by
    the trading app, which keeps the positions): one `borrow_fee` row, once per user and
    day (its token "borrow-fee:<day>", looked up under the balance lock), None when it was
    charged already. Like interest on a loan, it may take the cash below zero, or below the
    loan allowed, which is raised to cover it: the margin call answers it.
    Locks: the user's balance row, in a transaction of its own."""
    amount = validate_amount(amount)
    token = f"{BORROW_FEE_TOKEN}:{day}"
    with transaction.atomic():
        account = _lock(user, None)
        if _token_used(user, token):
            return None
        account.allow_loan(max(account.loan_limit, account.held - (account.amount - amount)))
        return _post(
            account.balance,
            type=Transaction.Type.BORROW_FEE,
            amount=amount,
            description=description,
            token=token,
            borrow=True,
        )


def _accrue_for(user, *, day: int) -> Transaction | None:
    """One student's interest for `day`, under their balance lock: the row written, or None
    (already written, or less than half a cent). Four statements when it charges a loan
    (lock, tokens, the allowed loan with the row, the balance), three when it pays."""
    classroom = user.classroom
    account = _lock(user, None)
    loan_token, cash_token = interest_token(day), cash_interest_token(day)
    with transaction.get_connection().cursor() as cursor:
        cursor.execute(_INTEREST_TOKENS_SQL, [user.pk, loan_token, cash_token])
        used = {found for (found,) in cursor.fetchall()}
    cash = account.amount
    if cash < 0 and classroom.margin and loan_token not in used:
        rate = classroom.loan_rate_percent
        charge = daily_interest(-cash, rate)
        if charge <= 0:
            return None
        # The interest is borrowed too: the allowed loan grows to what the account then owes
        # (with what open orders hold), and the margin call, not a refusal, answers it.
        account.allow_loan(max(account.loan_limit, account.held - (cash - charge)))
        return _post(
            account.balance,
            type=Transaction.Type.INTEREST,
            amount=validate_amount(charge),
            description=(
                f"Interest on your margin loan of ${-cash:,.2f} at "
                f"{classroom_rules.percent(rate)} % a year (day {day})"
            ),
            token=loan_token,
            borrow=True,
        )
    if cash > 0 and cash_token not in used:
        rate = classroom.cash_rate_percent
        pay = daily_interest(cash, rate)
        if pay <= 0:
            return None
        return _post(
            account.balance,
            type=Transaction.Type.CASH_INTEREST,
            amount=validate_amount(pay),
            description=(
                f"Interest on your cash of ${cash:,.2f} at "
                f"{classroom_rules.percent(rate)} % a year (day {day})"
            ),
            token=cash_token,
        )
    return None


# Movements in bulk -------------------------------------------------------------------------


@dataclass(frozen=True)
class Movement:
    """One journal row to post in bulk (`post_in_bulk`)."""

    user_id: int
    type: str
    amount: Decimal
    description: str
    symbol: str = ""
    token: str | None = None


def dividend_token(symbol: str, day: int) -> str:
    return f"{DIVIDEND_TOKEN}:{symbol}:{day}"


def lock_all_accounts() -> None:
    """Wait for every money path in flight to commit, and hold every new one back until the
    caller's transaction ends: on PostgreSQL, `LOCK TABLE balances IN EXCLUSIVE MODE`,
    which conflicts with the row locks that lock_account and lock_balances take but not
    with plain reads, so pages still read balances meanwhile. On SQLite, nothing: its
    IMMEDIATE transactions already let one writer at a time.

    For the market's corporate actions inside a tick (a dividend, a split): a trade that
    read the price before the tick's change commits before the action counts the holders,
    and one that comes after sees the new price and the new holdings. Take it as the first
    lock on the accounts, before any balance row."""
    if not transaction.get_connection().in_atomic_block:
        raise transaction.TransactionManagementError(
            "lock_all_accounts needs the caller's transaction"
        )
    connection = transaction.get_connection()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("LOCK TABLE balances IN EXCLUSIVE MODE")


def lock_balances(*, users) -> dict[int, Balance]:
    """Lock the balance rows of `users` (a query of user ids, e.g. a values("user_id")
    queryset, or a list) in the caller's transaction, in ONE SELECT … FOR UPDATE ordered by
    the rows' id, so two bulk lockers cannot deadlock and a single-account path (which
    takes one balance) waits or is waited for; returns them by user id. Users without a
    cash account are left out. The first lock of a bulk money path, as lock_account is of
    a single one (balance, then holding)."""
    if not transaction.get_connection().in_atomic_block:
        raise transaction.TransactionManagementError("lock_balances needs the caller's transaction")
    locked = Balance.objects.select_for_update().filter(user_id__in=users).order_by("id")
    return {balance.user_id: balance for balance in locked}


_BULK_UPDATE_SQL = {
    "postgresql": (
        "UPDATE balances AS b SET amount = v.amount, loan_limit = v.loan_limit, "
        "last_updated = %s FROM unnest(%s::bigint[], %s::numeric[], %s::numeric[]) "
        "AS v(id, amount, loan_limit) WHERE b.id = v.id"
    ),
    "other": "UPDATE balances SET amount = %s, loan_limit = %s, last_updated = %s WHERE id = %s",
}


def post_in_bulk(movements, *, balances: dict[int, Balance], now=None) -> list[Transaction]:
    """Journal many movements on balances the caller locked (`lock_balances`), in a fixed
    number of statements whatever their number: one read of the tokens already used, one
    UPDATE of the balances and one INSERT of the journal rows (each with its balance_after,
    in the order given per user). A movement whose token the user already has is skipped,
    so a run repeated for the same tokens posts nothing twice; so is one for a user whose
    balance is not locked. Returns the rows written.

    Every debit may borrow, as interest and the borrow fee do: the allowed loan
    (balances.loan_limit) is raised to cover it and what open orders hold, and a margin
    call, not a refusal, answers an account that can no longer carry its loan. A credit
    that repays a loan lowers the allowed loan to what is still borrowed, as `_post` does."""
    movements = [m for m in movements if m.user_id in balances]
    tokens = {m.token for m in movements if m.token}
    if tokens:
        used = set(
            Transaction.objects.filter(user_id__in=balances, token__in=tokens).values_list(
                "user_id", "token"
            )
        )
        movements = [m for m in movements if (m.user_id, m.token) not in used]
    if not movements:
        return []
    now = now or timezone.now()
    state = {uid: (b.amount, b.loan_limit) for uid, b in balances.items()}
    journal = []
    for m in movements:
        if m.type not in Transaction.CREDIT_TYPES and m.type not in Transaction.DEBIT_TYPES:
            raise ValueError(f"{m.type!r} is not a movement")
        amount = validate_amount(m.amount)
        cash, limit = state[m.user_id]
        held = balances[m.user_id].held
        if m.type in Transaction.CREDIT_TYPES:
            cash += amount
            if cash > MAX_MONEY:
                raise InvalidAmount("That would take a balance beyond what an account can hold.")
            limit = min(limit, max(held - cash, ZERO))
        else:
            cash -= amount
            limit = max(limit, held - cash)
        state[m.user_id] = (cash, limit)
        journal.append(
            Transaction(
                user_id=m.user_id,
                type=m.type,
                amount=amount,
                description=m.description.strip()[:200],
                symbol=m.symbol,
                token=m.token or None,
                timestamp=now,
                balance_after=cash,
            )
        )
    changed = sorted(
        (balances[uid].pk, cash, limit)
        for uid, (cash, limit) in state.items()
        if (cash, limit) != (balances[uid].amount, balances[uid].loan_limit)
    )
    _update_balances(changed, now)
    by_pk = {balance.pk: balance for balance in balances.values()}
    for pk, cash, limit in changed:
        balance = by_pk[pk]
        balance.amount, balance.loan_limit, balance.last_updated = cash, limit, now
    Transaction.objects.bulk_create(journal)
    total = sum((row.amount for row in journal), ZERO)
    transaction.on_commit(
        lambda: log_event(logger, "cash.bulk", rows=len(journal), amount=total, result="ok")
    )
    return journal


def _update_balances(changed: list[tuple[int, Decimal, Decimal]], now) -> None:
    """Set amount, loan_limit and last_updated of each (id, amount, loan_limit): one
    statement (PostgreSQL joins the rows as arrays; SQLite, in-process, steps one prepared
    statement per row, logged as one query)."""
    if not changed:
        return
    connection = transaction.get_connection()
    moment = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            ids, amounts, limits = (list(column) for column in zip(*changed, strict=True))
            cursor.execute(_BULK_UPDATE_SQL["postgresql"], [moment, ids, amounts, limits])
        else:
            cursor.executemany(
                _BULK_UPDATE_SQL["other"],
                [(str(cash), str(limit), moment, pk) for pk, cash, limit in changed],
            )
# Corporate actions: many balances at once --------------------------------------------------


def release_many(*, amounts: dict[int, Decimal]) -> int:
    """Free cash held for open orders that were closed in bulk ({user id: amount}), in one
    UPDATE. The caller holds the accounts' lock (lock_all_accounts) and has closed the
    orders in the same transaction."""
    amounts = {user_id: amount for user_id, amount in amounts.items() if amount > 0}
    if not amounts:
        return 0
    return Balance.objects.filter(user_id__in=list(amounts)).update(
        held=Case(
            *(
                When(user_id=user_id, then=F("held") - amount)
                for user_id, amount in amounts.items()
            ),
            default=F("held"),
        )
    )
