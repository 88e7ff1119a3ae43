"""Buying and selling: the only writes to trades, and the only way shares and cash move
together.

Invariants each of `buy` and `sell` keeps, at every committed moment:
- cash (balances.amount) is never negative, and it equals the sum of the user's journal
  rows: a trade writes its cash row (type buy/sell) and its commission row (type fee)
  through the ledger's debit/credit, in the same database transaction as the trade row;
- for every (user, symbol), the holding's quantity equals Σ bought − Σ sold in `trades`,
  and a holding that reaches zero is deleted;
- a trade's total is quantity × price rounded to cents, and its price is the symbol's
  price read inside the transaction, so the trade row, the journal row and the holding
  always agree;
- one trade per (user, token): a repeated token raises DuplicateRequest and changes nothing;
- the rules of the student's class (classrooms.rules.ORDER_RULES: the trading window, the
  lowest share price, the most trades per simulated day, the most of the portfolio in one
  stock) are read inside the transaction and checked under the balance lock; a refusal
  raises RuleRefused, naming the rule and the numbers, and changes nothing. The commission
  is the class's (none, flat, per share or a percent with a minimum).

Lock order (the same everywhere in the project, so concurrent orders cannot deadlock):
the user's balance row first, then the user's holding row, then the portfolio summary.
On SQLite the IMMEDIATE transaction serializes writers instead.
"""

import logging
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache, partial

from django.db import IntegrityError, transaction
from django.utils import timezone

from classrooms import rules as classroom_rules
from classrooms.rules import Rulebook, rulebook_for
from ledger import services as ledger
from ledger.models import Balance, Transaction
from portfolio import services as portfolio
from portfolio.models import Holding
from prices import services as market
from prices.models import Price
from tradesim import audit, rows
from tradesim.logging import log_event
from tradesim.models import AuditEntry
from tradesim.money import MAX_MONEY, ZERO, to_cents
from trading.models import Trade

logger = logging.getLogger("tradesim.trading")

MAX_QUANTITY = 1_000_000  # shares in one order
SYMBOL_MAX_LENGTH = market.SYMBOL_MAX_LENGTH


class TradingError(Exception):
    """An order that was refused; the message is meant for the student."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class UnknownSymbol(TradingError):
    pass


class SymbolHalted(TradingError):
    pass


class InvalidQuantity(TradingError):
    pass


# These also subclass the ledger's and the portfolio's errors, so a caller may catch either.
class NoCashAccount(TradingError, ledger.NoAccount):
    pass


class InsufficientFunds(TradingError, ledger.InsufficientFunds):
    pass


class NotEnoughShares(TradingError, portfolio.NotEnoughShares):
    pass


class PositionTooLarge(TradingError, portfolio.PositionLimit):
    pass


class DuplicateRequest(TradingError, ledger.DuplicateRequest):
    pass


class ResetRefused(TradingError):
    pass


class RuleRefused(TradingError):
    """A rule of the student's class refused the order: `rule` is the rulebook's key."""

    def __init__(self, message: str, *, rule: str = ""):
        super().__init__(message)
        self.rule = rule


def normalize_symbol(symbol) -> str:
    """ "aapl " → "AAPL" (the market's rule, prices.services.normalize_symbol);
    UnknownSymbol, with a message for the student, for anything that cannot be a symbol."""
    text = str(symbol or "").strip().upper()
    if not text:
        raise UnknownSymbol("Choose a symbol to trade.")
    try:
        return market.normalize_symbol(text)
    except market.InvalidMarketInput:
        raise UnknownSymbol(
            f"There is no symbol {text[:SYMBOL_MAX_LENGTH]!r} on this market."
        ) from None


def validate_quantity(quantity) -> int:
    """Return `quantity` as an int if it is a whole number of shares from 1 to MAX_QUANTITY.

    Accepts ints, integral Decimals and digit strings; refuses bools and floats, as the
    ledger refuses floats for money."""
    if isinstance(quantity, (bool, float)):
        raise InvalidQuantity("Enter a whole number of shares, such as 10.")
    if isinstance(quantity, int):
        value = quantity
    else:
        try:
            number = Decimal(str(quantity).strip())
        except (InvalidOperation, TypeError, ValueError):
            raise InvalidQuantity("Enter a whole number of shares, such as 10.") from None
        if not number.is_finite() or number != number.to_integral_value():
            raise InvalidQuantity("Enter a whole number of shares, such as 10.")
        value = int(number)
    if value <= 0:
        raise InvalidQuantity("The number of shares must be at least 1.")
    if value > MAX_QUANTITY:
        raise InvalidQuantity(f"One order is at most {MAX_QUANTITY:,} shares.")
    return value


def buy(*, user, symbol, quantity, token: str | None = None) -> Trade:
    """Buy `quantity` shares of `symbol` for `user` at the current price.

    Guarantees: the symbol is listed and not halted; the quantity is a whole number from 1
    to MAX_QUANTITY; the class's rules allow it (RuleRefused); total = to_cents(price ×
    quantity), at most MAX_MONEY with the commission, and cash covers total + the class's
    commission (checked on the locked balance); the holding stays within
    portfolio.MAX_SHARES_HELD (PositionTooLarge, checked on the locked holding). In one
    transaction it writes the journal rows (type "buy", plus "fee" when there is a
    commission), the holding (created, or its quantity-weighted average price updated) and
    the trade row — or nothing at all.
    Locks: the user's balance row, then their holding row for the symbol.
    Raises a TradingError subclass (with .message) on any refusal.
    """
    return _place(
        side=Trade.Operation.BUY, user=user, symbol=symbol, quantity=quantity, token=token
    )


def sell(*, user, symbol, quantity, token: str | None = None) -> Trade:
    """Sell `quantity` of the user's shares of `symbol` at the current price.

    Guarantees: the symbol is listed and not halted; the quantity is a whole number from 1
    to what the user holds (checked on the locked holding, so concurrent sells never
    oversell); the class's rules allow it (RuleRefused); the proceeds, to_cents(price ×
    quantity), cover the class's commission. In one transaction it writes the journal rows
    (type "sell", plus "fee" when there is a commission), reduces or deletes the holding
    (its average price does not change), and writes the trade row with its realized P/L:
    proceeds minus the average cost of the shares sold, before commission.
    Locks: the user's balance row, then their holding row, then their portfolio summary.
    Raises a TradingError subclass (with .message) on any refusal.
    """
    return _place(
        side=Trade.Operation.SELL, user=user, symbol=symbol, quantity=quantity, token=token
    )


def _place(*, side: str, user, symbol, quantity, token: str | None) -> Trade:
    try:
        symbol = normalize_symbol(symbol)
        quantity = validate_quantity(quantity)
        try:
            trade = _execute(side=side, user=user, symbol=symbol, quantity=quantity, token=token)
        except IntegrityError:
            # Two requests with one token that both got past the check (possible only if
            # the balance lock were bypassed): the unique constraint kept the second out.
            if token and Transaction.objects.filter(user_id=user.pk, token=token).exists():
                raise _duplicate() from None
            raise
    except TradingError as error:
        log_event(
            logger,
            "trade.rejected",
            user=getattr(user, "username", user.pk),
            side=side,
            symbol=symbol,
            quantity=quantity,
            result="duplicate" if isinstance(error, DuplicateRequest) else "rejected",
            reason=type(error).__name__,
            rule=getattr(error, "rule", None) or None,
            message=error.message,
        )
        raise
    transaction.on_commit(lambda: _log_trade(user, trade))
    return trade


def _duplicate() -> DuplicateRequest:
    return DuplicateRequest("This order was already placed; nothing was traded twice.")


@cache
def _quote_sql(*, trades_today: bool, portfolio: bool) -> str:
    """The statement that reads, under the balance lock, the price, the halt, whether the
    token is in the journal already, and what the class's rules need besides: the
    student's trades this simulated day (those since prices' MarketState.day_started_at),
    and their holdings at current prices with how many of this symbol they hold."""
    columns = [
        "p.price",
        "p.halted",
        "EXISTS(SELECT 1 FROM transactions t WHERE t.user_id = %(user)s AND t.token = %(token)s)",
    ]
    if trades_today:
        columns.append(
            "(SELECT COUNT(*) FROM trades d WHERE d.user_id = %(user)s AND d.timestamp >="
            " (SELECT m.day_started_at FROM market_state m WHERE m.id = 1))"
        )
    if portfolio:
        columns.append(
            "(SELECT SUM(h.quantity * hp.price) FROM holdings h"
            " JOIN prices hp ON hp.symbol = h.symbol WHERE h.user_id = %(user)s)"
        )
        columns.append(
            "(SELECT h.quantity FROM holdings h WHERE h.user_id = %(user)s AND h.symbol = p.symbol)"
        )
    return f"SELECT {', '.join(columns)} FROM prices p WHERE p.symbol = %(symbol)s"  # noqa: S608


def _execute(*, side: str, user, symbol: str, quantity: int, token: str | None) -> Trade:
    # The reads and writes of a trade are single statements (tradesim.rows): this is the
    # project's busiest path, and the ORM's query building cost more CPU than the database.
    with transaction.atomic():
        rules = rulebook_for(user)
        # Lock the balance first, in a statement of its own: on PostgreSQL a locking read
        # that waited for the lock sees the locked row as committed meanwhile, but not the
        # other rows it joins, so the price and the token check must come after it.
        found = rows.fetch_one(
            "SELECT id, amount FROM balances WHERE user_id = %s" + rows.for_update(),  # noqa: S608
            [user.pk],
        )
        if found is None:
            raise NoCashAccount("This account has no cash account to trade with.")
        balance = rows.loaded(Balance, found[0], user_id=user.pk, amount=rows.decimal(found[1], 2))
        # Then, under the lock, the price, whether the token is in the journal already
        # (every trade journals its cash row under its token, as does every other form that
        # moves cash) and what the class's rules need to know, in one statement: a
        # resubmitted order waits for the first at the lock and then sees its token, and an
        # order waits for the one before it to count its trades and holdings.
        counting, valuing = rules.counts_trades_today, rules.values_portfolio
        quote = rows.fetch_one(
            _quote_sql(trades_today=counting, portfolio=valuing),
            {"user": user.pk, "token": token or None, "symbol": symbol},
        )
        if quote is None:
            raise UnknownSymbol(f"There is no symbol {symbol} on this market.")
        price, halted, used = rows.decimal(quote[0], 2), bool(quote[1]), bool(quote[2])
        if used:
            raise _duplicate()
        total = to_cents(price * quantity)
        commission = rules.commission(quantity=quantity, total=total)
        extra = iter(quote[3:])
        order = classroom_rules.Order(
            side=side,
            symbol=symbol,
            quantity=quantity,
            price=price,
            total=total,
            commission=commission,
            at=timezone.now(),
            trades_today=next(extra) if counting else 0,
            **(_portfolio_figures(balance, *extra) if valuing else {}),
        )
        _check_rules(rules, order)
        if halted:
            raise SymbolHalted(f"Trading in {symbol} is paused right now; try again later.")
        if total + commission > MAX_MONEY:
            raise InvalidQuantity(
                f"That order is too large: {quantity:,} {symbol} at ${price:,.2f} comes to "
                f"${total + commission:,.2f}, and one order moves at most ${MAX_MONEY:,.2f}."
            )

        if side == Trade.Operation.BUY:
            return _buy_locked(
                user=user,
                balance=balance,
                symbol=symbol,
                quantity=quantity,
                price=price,
                total=total,
                commission=commission,
                token=token,
            )
        return _sell_locked(
            user=user,
            balance=balance,
            symbol=symbol,
            quantity=quantity,
            price=price,
            total=total,
            commission=commission,
            token=token,
        )


def _portfolio_figures(balance: Balance, holdings_value, held) -> dict:
    return {
        "cash": balance.amount,
        "holdings_value": to_cents(rows.decimal(holdings_value, 2) or ZERO),
        "held": int(held or 0),
    }


def _check_rules(rules: Rulebook, order: classroom_rules.Order) -> None:
    refusal = classroom_rules.check_order(rules, order)
    if refusal is not None:
        raise RuleRefused(refusal.message, rule=refusal.rule)


def _buy_locked(*, user, balance, symbol, quantity, price, total, commission, token) -> Trade:
    """The buy, with the balance row already locked by the caller."""
    need = total + commission
    if need > balance.amount:
        fee_note = f" including ${commission:,.2f} commission" if commission else ""
        raise InsufficientFunds(
            f"Not enough cash: {quantity:,} {symbol} at ${price:,.2f} costs ${need:,.2f}"
            f"{fee_note}, and you have ${balance.amount:,.2f}."
        )
    description = f"Bought {quantity:,} {symbol} @ {price:.2f}"
    _move_cash(
        user=user,
        balance=balance,
        type=Transaction.Type.BUY,
        amount=total,
        description=description,
        symbol=symbol,
        token=token,
    )
    _charge_commission(
        user=user, balance=balance, commission=commission, description=description, symbol=symbol
    )
    try:
        portfolio.add_shares(user=user, symbol=symbol, quantity=quantity, price=price)
    except portfolio.PositionLimit as error:
        raise PositionTooLarge(error.message) from None
    return _record(
        user=user,
        stock_id=symbol,
        operation=Trade.Operation.BUY,
        quantity=quantity,
        price=price,
        total=total,
        commission=commission,
        token=token or None,
    )


def _sell_locked(
    *,
    user,
    symbol,
    quantity,
    price,
    total,
    commission,
    token,
    note: str = "",
    created_by=None,
    balance=None,
) -> Trade:
    """The sell, with the balance row already locked by the caller (and passed as `balance`
    when the caller has it at hand). `note` prefixes the journal description and
    `created_by` names the instructor when it is not the student's own order (a reset)."""
    if commission > total:
        raise InsufficientFunds(
            f"Selling {quantity:,} {symbol} brings in ${total:,.2f}, which does not cover "
            f"the ${commission:,.2f} commission."
        )
    try:
        realized = portfolio.remove_shares(user=user, symbol=symbol, quantity=quantity, price=price)
    except portfolio.NotEnoughShares as error:
        raise NotEnoughShares(error.message) from None
    description = f"{note}Sold {quantity:,} {symbol} @ {price:.2f}"
    _move_cash(
        user=user,
        balance=balance,
        type=Transaction.Type.SELL,
        amount=total,
        description=description,
        symbol=symbol,
        token=token,
        created_by=created_by,
    )
    _charge_commission(
        user=user, balance=balance, commission=commission, description=description, symbol=symbol
    )
    return _record(
        user=user,
        stock_id=symbol,
        operation=Trade.Operation.SELL,
        quantity=quantity,
        price=price,
        total=total,
        commission=commission,
        realized_pnl=realized,
        token=token or None,
    )


def _record(*, user, stock_id: str, **fields) -> Trade:
    """Write the trade row (one INSERT) and return it as a Trade."""
    return rows.create(Trade, user=user.pk, stock=stock_id, timestamp=timezone.now(), **fields)


def _move_cash(
    *, user, type, amount, description, symbol, token, created_by=None, balance=None
) -> None:
    # With the locked balance at hand the journal row is written on it directly: no second
    # lock and no savepoint (four round trips fewer per trade).
    if balance is not None:
        # _execute looked for the token in the journal, under this lock, with the price.
        move = partial(ledger.post_locked, balance=balance, token_checked=True)
    else:
        move = ledger.credit if type in Transaction.CREDIT_TYPES else ledger.debit
    try:
        move(
            user=user,
            type=type,
            amount=amount,
            description=description,
            symbol=symbol,
            token=token,
            created_by=created_by,
        )
    except ledger.InsufficientFunds as error:
        raise InsufficientFunds(error.message) from None
    except ledger.DuplicateRequest:
        raise _duplicate() from None
    except ledger.LedgerError as error:
        raise InvalidQuantity(error.message) from None


def _charge_commission(
    *, user, commission: Decimal, description: str, symbol: str, balance=None
) -> None:
    if commission <= ZERO:
        return
    debit = ledger.debit if balance is None else partial(ledger.post_locked, balance=balance)
    try:
        debit(
            user=user,
            type=Transaction.Type.FEE,
            amount=commission,
            description=f"Commission: {description}",
            symbol=symbol,
        )
    except ledger.InsufficientFunds as error:
        raise InsufficientFunds(error.message) from None


# Instructor reset ---------------------------------------------------------------------


@dataclass(frozen=True)
class ResetResult:
    trades: list[Trade]  # the sales, one per position held
    adjustment: Transaction | None  # the reset_credit or reset_debit row; None if not needed
    cash_before: Decimal  # after the sales, before the adjustment
    cash_after: Decimal


def reset_student(*, student, instructor, reason: str, token: str | None = None) -> ResetResult:
    """Bring a student back to the start: no shares, and their class's starting cash in
    cash (settings.STARTING_CASH for a student in no class).

    Guarantees: `instructor` has the trading.reset_student permission and `reason` is not
    blank (ResetRefused otherwise). In one transaction, or not at all:
    - every holding is sold at the symbol's current price through the same path as a sell
      (a trade row with its realized P/L, a "sell" journal row, the holding deleted), the
      journal rows described "Reset by <instructor>: Sold …" and made by the instructor.
      The commission is waived: the student did not place these orders. A halted symbol is
      sold at its last price too (a halted price does not move, so the last price is the
      market's; refusing would force the instructor to reopen trading for the whole class
      to reset one student);
    - then one "reset_credit" or "reset_debit" row brings the cash to exactly the starting
      cash ("Reset by <instructor>: <reason>"), unless it is there already;
    - one audit entry names the instructor, the student, the adjustment and the reason.
    The journal invariant holds throughout; past performance stays in the record (the
    adjustment is an external flow, like a deposit, so it does not change the
    time-weighted return).
    Once per (student, token): a resubmitted form raises DuplicateRequest and does nothing.
    Locks: the student's balance row, then all their holding rows (in symbol order), then
    their portfolio summary. Raises NoCashAccount for a user without a cash account.
    """
    reason = (reason or "").strip()
    if not instructor.has_perm("trading.reset_student"):
        raise ResetRefused("Only an instructor with the reset permission can reset a student.")
    if not reason:
        raise ResetRefused("Give a reason for the reset; the student sees it in their journal.")
    by = instructor.get_username()
    with transaction.atomic():
        target = to_cents(rulebook_for(student).starting_cash)
        try:
            Balance.objects.select_for_update().get(user_id=student.pk)
        except Balance.DoesNotExist:
            raise NoCashAccount(
                f"{student.get_username()} has no cash account (instructors do not trade), "
                "so there is nothing to reset."
            ) from None
        if token and AuditEntry.objects.filter(student_id=student.pk, token=token).exists():
            raise DuplicateRequest(
                f"{student.get_username()} was already reset by this form; not reset twice."
            )
        held = list(
            Holding.objects.select_for_update()
            .filter(user_id=student.pk)
            .order_by("stock_id")
            .values_list("stock_id", "quantity")
        )
        prices = dict(
            Price.objects.filter(symbol__in=[symbol for symbol, _ in held]).values_list(
                "symbol", "price"
            )
        )
        trades = []
        for symbol, quantity in held:
            price = prices[symbol]
            trades.append(
                _sell_locked(
                    user=student,
                    symbol=symbol,
                    quantity=quantity,
                    price=price,
                    total=to_cents(price * quantity),
                    commission=ZERO,
                    token=None,
                    note=f"Reset by {by}: ",
                    created_by=instructor,
                )
            )
        cash = Balance.objects.values_list("amount", flat=True).get(user_id=student.pk)
        gap = target - cash
        adjustment = None
        description = f"Reset by {by}: {reason}"
        try:
            if gap > 0:
                adjustment = ledger.credit(
                    user=student,
                    type=Transaction.Type.RESET_CREDIT,
                    amount=gap,
                    description=description,
                    created_by=instructor,
                )
            elif gap < 0:
                adjustment = ledger.debit(
                    user=student,
                    type=Transaction.Type.RESET_DEBIT,
                    amount=-gap,
                    description=description,
                    created_by=instructor,
                )
        except ledger.LedgerError as error:
            raise ResetRefused(error.message) from None
        sold = f"sold {len(trades)} position{'s' if len(trades) != 1 else ''}"
        audit.record(
            actor=instructor,
            action=AuditEntry.Action.RESET_STUDENT,
            student=student,
            amount=gap,
            detail=f"{reason} ({sold}; cash ${cash:,.2f} → ${target:,.2f})",
            token=token,
        )
    transaction.on_commit(
        lambda: log_event(
            logger,
            "trade.reset",
            user=student.get_username(),
            by=by,
            positions=len(trades),
            cash_before=cash,
            adjustment=gap,
            result="ok",
        )
    )
    return ResetResult(trades=trades, adjustment=adjustment, cash_before=cash, cash_after=target)


def _log_trade(user, trade: Trade) -> None:
    log_event(
        logger,
        f"trade.{trade.operation}",
        user=getattr(user, "username", user.pk),
        side=trade.operation,
        symbol=trade.stock_id,
        quantity=trade.quantity,
        price=trade.price,
        total=trade.total,
        commission=trade.commission,
        realized_pnl=trade.realized_pnl,
        trade=trade.pk,
        result="ok",
    )
