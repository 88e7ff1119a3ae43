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
import re
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation
from functools import cache, partial

from django.contrib.auth import get_user_model
from django.core.cache import cache as shared_cache
from django.db import IntegrityError, connection, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from classrooms import rules as classroom_rules
from classrooms.rules import Rulebook, rulebook_for
from ledger import services as ledger
from ledger.models import Balance, Transaction
from portfolio import services as portfolio
from portfolio.models import Holding
from prices import services as market
from prices.models import Price
from prices.selectors import market_day
from tradesim import audit, rows
from tradesim.logging import log_event
from tradesim.market_hours import closed_since, closed_until
from tradesim.models import AuditEntry
from tradesim.money import CENT, MAX_MONEY, ZERO, to_cents
from trading.models import (
    BUYING_SIDES,
    MARKET_BUY_TRIGGER,
    MARKET_SELL_TRIGGER,
    MarginCall,
    Order,
    Trade,
)

logger = logging.getLogger("tradesim.trading")

MAX_QUANTITY = 1_000_000  # shares in one order
# An open stop buy holds its stop price plus this share, against a price that jumps past the
# stop; a fill that costs more still fills if the free cash covers it.
STOP_HOLD_CUSHION = Decimal("0.05")
GTC_DAYS = 90  # a good-till-cancelled order expires after this many simulated trading days
MAX_TRAIL_PERCENT = Decimal("50")
MAX_OPEN_ORDERS = 100  # per student: a cancel-all, a reset and an expiry stay small
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


class PositionRefused(TradingError, portfolio.PositionError):
    """A trade on the wrong side of a position: a buy while short, a short sale while
    owning the shares."""


class ResetRefused(TradingError):
    pass


class InvalidOrder(TradingError):
    """An order whose type, prices or duration do not make sense; nothing was placed.
    `field`: the order's input at fault ("side", "type", "limit_price", "stop_price",
    "trail_percent", "trail_amount", "duration"), or "" for the order as a whole."""

    def __init__(self, message: str, *, field: str = ""):
        super().__init__(message)
        self.field = field


class LimitNotReached(TradingError):
    """The price is beyond the order's limit: a limit never fills worse than its limit."""


class OrderClosed(TradingError):
    """The order is no longer open (filled, cancelled, expired or rejected meanwhile)."""


class OrderNotFound(TradingError):
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
    ).trade


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
    ).trade


def sell_short(*, user, symbol, quantity, token: str | None = None) -> Trade:
    """Sell `quantity` shares of `symbol` the user does not own, at the current price.

    Guarantees: the class allows short selling, not below its lowest price to short
    (RuleRefused); the user owns none of the symbol (PositionRefused: they sell those
    first); the equity after the commission is at least the initial margin of every
    position, this one included (InsufficientFunds, naming the equity needed). In one
    transaction it writes the journal rows (type "short", the proceeds, a credit; plus
    "fee"), the holding (created below zero, or its average short price updated) and the
    trade row (operation "short"). Locks: the user's balance row, then their holding row.
    """
    return _place(
        side=Order.Side.SELL_SHORT, user=user, symbol=symbol, quantity=quantity, token=token
    ).trade


def buy_to_cover(*, user, symbol, quantity, token: str | None = None) -> Trade:
    """Buy back `quantity` of the user's short shares of `symbol` at the current price.

    Guarantees: the user is short at least `quantity` free shares (NotEnoughShares,
    checked on the locked holding). A cover closes risk, so it is never refused for cash:
    what the cash does not pay becomes a margin loan, the account allowed it. In one
    transaction it writes the journal rows (type "cover", a debit; plus "fee"), the holding
    (towards zero, deleted at zero) and the trade row with its realized P/L: the average
    short price minus the cover price, times the shares, before commission.
    Locks: the user's balance row, then their holding row, then their portfolio summary.
    """
    return _place(
        side=Order.Side.BUY_TO_COVER, user=user, symbol=symbol, quantity=quantity, token=token
    ).trade


def _place(*, side: str, user, symbol, quantity, token: str | None) -> Order:
    """A market order, traded now: its order row, with its trade."""
    try:
        symbol = normalize_symbol(symbol)
        quantity = validate_quantity(quantity)
        try:
            order = _execute(side=side, user=user, symbol=symbol, quantity=quantity, token=token)
        except IntegrityError:
            # Two requests with one token that both got past the check (possible only if
            # the balance lock were bypassed), or a token a resting order used already:
            # a unique constraint kept the second out.
            if token and (
                Transaction.objects.filter(user_id=user.pk, token=token).exists()
                or Order.objects.filter(user_id=user.pk, token=token).exists()
            ):
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
    transaction.on_commit(lambda: _log_trade(user, order.trade))
    return order


def _duplicate() -> DuplicateRequest:
    return DuplicateRequest("This order was already placed; nothing was traded twice.")


@cache
def _quote_sql(*, trades_today: bool, portfolio: bool) -> str:
    """The statement that reads, under the balance lock, the price, the halt, and what the
    class's rules need besides: the
    student's trades this simulated day (those since prices' MarketState.day_started_at),
    and their holdings at current prices with how many of this symbol they hold."""
    columns = ["p.price", "p.halted"]
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
        columns.append(
            "(SELECT SUM(-h.quantity * hp.price) FROM holdings h"
            " JOIN prices hp ON hp.symbol = h.symbol WHERE h.user_id = %(user)s AND h.quantity < 0)"
        )
    return f"SELECT {', '.join(columns)} FROM prices p WHERE p.symbol = %(symbol)s"  # noqa: S608


def _execute(*, side: str, user, symbol: str, quantity: int, token: str | None) -> Order:
    # The reads and writes of a trade are single statements (tradesim.rows): this is the
    # project's busiest path, and the ORM's query building cost more CPU than the database.
    with transaction.atomic():
        rules = rulebook_for(user)
        account = _lock_account(user, token)
        trade = _trade_locked(
            account, rules=rules, side=side, symbol=symbol, quantity=quantity, token=token
        )
        return _record_market_order(user=user, trade=trade, token=token)


def _lock_account(user, token: str | None = None) -> ledger.Account:
    """The ledger's balance lock, the first lock of every order (with the journal token
    looked up under it), its refusals as trading errors."""
    try:
        return ledger.lock_account(user=user, token=token)
    except ledger.NoAccount:
        raise NoCashAccount("This account has no cash account to trade with.") from None
    except ledger.DuplicateRequest:
        raise _duplicate() from None
    except ledger.LedgerError as error:
        raise InvalidQuantity(error.message) from None


def _trade_locked(
    account: ledger.Account,
    *,
    rules: Rulebook,
    side: str,
    symbol: str,
    quantity: int,
    token: str | None,
    limit: Decimal | None = None,
    from_hold: int = 0,
) -> Trade:
    """One trade at the current price, with the user's account locked by the caller: the
    money path of every market order and every fill. `limit`: the worst price the order
    accepts (a buy pays at most it, a sell gets at least it), else LimitNotReached;
    `from_hold`: the shares of a sell that come out of the filled order's hold."""
    user = account.user
    # Under the lock, the price and what the class's rules need to know, in one statement:
    # an order waits for the one before it to count its trades and holdings.
    counting, valuing = rules.counts_trades_today, rules.values_portfolio
    quote = rows.fetch_one(
        _quote_sql(trades_today=counting, portfolio=valuing),
        {"user": user.pk, "symbol": symbol},
    )
    if quote is None:
        raise UnknownSymbol(f"There is no symbol {symbol} on this market.")
    price, halted = rows.decimal(quote[0], 2), bool(quote[1])
    total = to_cents(price * quantity)
    commission = rules.commission(quantity=quantity, total=total)
    extra = iter(quote[2:])
    order = classroom_rules.Order(
        side=side,
        symbol=symbol,
        quantity=quantity,
        price=price,
        total=total,
        commission=commission,
        at=timezone.now(),
        trades_today=next(extra) if counting else 0,
        **(_portfolio_figures(account, *extra) if valuing else {}),
    )
    _check_rules(rules, order)
    if halted:
        raise SymbolHalted(f"Trading in {symbol} is paused right now; try again later.")
    if limit is not None and not _within_limit(side, price, limit):
        raise LimitNotReached(
            f"{symbol} is at ${price:,.2f}, beyond the limit of ${limit:,.2f}: not filled."
        )
    if total + commission > MAX_MONEY:
        raise InvalidQuantity(
            f"That order is too large: {quantity:,} {symbol} at ${price:,.2f} comes to "
            f"${total + commission:,.2f}, and one order moves at most ${MAX_MONEY:,.2f}."
        )
    if side == Order.Side.SELL_SHORT:
        return _short_locked(account, rules=rules, order=order, commission=commission, token=token)
    if side == Order.Side.BUY_TO_COVER:
        return _cover_locked(account, order=order, token=token, from_hold=from_hold)
    if side == Trade.Operation.BUY:
        return _buy_locked(
            account,
            rules=rules,
            long_value=order.holdings_value + order.short_value,
            short_value=order.short_value,
            symbol=symbol,
            quantity=quantity,
            price=price,
            total=total,
            commission=commission,
            token=token,
        )
    return _sell_locked(
        account,
        symbol=symbol,
        quantity=quantity,
        price=price,
        total=total,
        commission=commission,
        token=token,
        from_hold=from_hold,
    )


def _within_limit(side: str, price: Decimal, limit: Decimal) -> bool:
    return price <= limit if side in BUYING_SIDES else price >= limit


def _portfolio_figures(account: ledger.Account, holdings_value, held, short_value) -> dict:
    return {
        "cash": account.amount,
        "holdings_value": to_cents(rows.decimal(holdings_value, 2) or ZERO),
        "held": int(held or 0),
        "short_value": to_cents(rows.decimal(short_value, 2) or ZERO),
    }


def _check_rules(rules: Rulebook, order: classroom_rules.Order) -> None:
    refusal = classroom_rules.check_order(rules, order)
    if refusal is not None:
        raise RuleRefused(refusal.message, rule=refusal.rule)


def _margin_account(
    account: ledger.Account, long_value: Decimal, short_value: Decimal = ZERO
) -> classroom_rules.MarginAccount:
    return classroom_rules.MarginAccount(
        cash=account.amount, held=account.held, long_value=long_value, short_value=short_value
    )


def _borrow_for(
    account: ledger.Account,
    rules: Rulebook,
    *,
    long_value: Decimal,
    need: Decimal,
    adds: Decimal,
    commission: Decimal,
    hold: bool = False,
    short_value: Decimal = ZERO,
) -> bool:
    """Whether paying (or holding, with `hold`) `need` borrows: not when the free cash
    covers it or the class has no margin. The class's margin rule must allow the buy when
    it borrows or when the account has short positions (InsufficientFunds naming the
    buying power); when it borrows, the account is allowed the loan it then needs, under
    the balance lock."""
    facts = _margin_account(account, long_value, short_value)
    refusal = classroom_rules.check_margin(
        rules, facts, need=need, adds=adds, commission=commission
    )
    if refusal is not None:
        raise InsufficientFunds(refusal.message)
    if not rules.margin or need <= account.available:
        return False
    loan = (
        classroom_rules.loan_after(facts, hold=need)
        if hold
        else classroom_rules.loan_after(facts, spend=need)
    )
    account.allow_loan(max(account.loan_limit, loan))
    return True


def _buy_locked(
    account, *, rules, long_value, symbol, quantity, price, total, commission, token, short_value
) -> Trade:
    """The buy, with the user's account locked by the caller; with the class's margin, on
    a loan as far as the margin rule allows (`long_value`: the positions' value now)."""
    user = account.user
    need = total + commission
    borrow = _borrow_for(
        account,
        rules,
        long_value=long_value,
        short_value=short_value,
        need=need,
        adds=total,
        commission=commission,
    )
    if need > account.available and not borrow:
        fee_note = f" including ${commission:,.2f} commission" if commission else ""
        held = (
            f" free (${account.held:,.2f} of your ${account.amount:,.2f} is held for your "
            "open orders)"
            if account.held
            else ""
        )
        raise InsufficientFunds(
            f"Not enough cash: {quantity:,} {symbol} at ${price:,.2f} costs ${need:,.2f}"
            f"{fee_note}, and you have ${account.available:,.2f}{held}."
        )
    try:
        portfolio.add_shares(user=user, symbol=symbol, quantity=quantity, price=price)
    except portfolio.PositionLimit as error:
        raise PositionTooLarge(error.message) from None
    except portfolio.PositionError as error:
        raise PositionRefused(error.message) from None
    return _book(
        account,
        journal=Transaction.Type.BUY,
        operation=Trade.Operation.BUY,
        description=f"Bought {quantity:,} {symbol} @ {price:.2f}",
        symbol=symbol,
        quantity=quantity,
        price=price,
        total=total,
        commission=commission,
        token=token,
        borrow=borrow,
    )


def _sell_locked(
    account,
    *,
    symbol,
    quantity,
    price,
    total,
    commission,
    token,
    note: str = "",
    created_by=None,
    from_hold: int = 0,
) -> Trade:
    """The sell, with the user's account locked by the caller. `note` prefixes the journal
    description and `created_by` names the instructor when it is not the student's own
    order (a reset); `from_hold`: how many of the shares the filled order held."""
    user = account.user
    if commission > total:
        raise InsufficientFunds(
            f"Selling {quantity:,} {symbol} brings in ${total:,.2f}, which does not cover "
            f"the ${commission:,.2f} commission."
        )
    try:
        realized = portfolio.remove_shares(
            user=user, symbol=symbol, quantity=quantity, price=price, from_hold=from_hold
        )
    except portfolio.NotEnoughShares as error:
        raise NotEnoughShares(error.message) from None
    return _book(
        account,
        journal=Transaction.Type.SELL,
        operation=Trade.Operation.SELL,
        description=f"{note}Sold {quantity:,} {symbol} @ {price:.2f}",
        symbol=symbol,
        quantity=quantity,
        price=price,
        total=total,
        commission=commission,
        token=token,
        created_by=created_by,
        after_proceeds=True,
        realized_pnl=realized,
    )


def _short_locked(account, *, rules, order: classroom_rules.Order, commission, token) -> Trade:
    """The short sale, with the user's account locked by the caller: the class's rules
    (checked by the caller) allowed it; here the margin it needs, then the position, the
    proceeds and the commission."""
    user, symbol, quantity, price, total = (
        account.user,
        order.symbol,
        order.quantity,
        order.price,
        order.total,
    )
    if commission > total:
        raise InsufficientFunds(
            f"Selling {quantity:,} {symbol} short brings in ${total:,.2f}, which does not "
            f"cover the ${commission:,.2f} commission."
        )
    facts = _margin_account(account, order.holdings_value + order.short_value, order.short_value)
    refusal = classroom_rules.check_short_margin(rules, facts, adds=total, commission=commission)
    if refusal is not None:
        raise InsufficientFunds(refusal.message)
    try:
        portfolio.open_short(user=user, symbol=symbol, quantity=quantity, price=price)
    except portfolio.PositionLimit as error:
        raise PositionTooLarge(error.message) from None
    except portfolio.PositionError as error:
        raise PositionRefused(error.message) from None
    return _book(
        account,
        journal=Transaction.Type.SHORT,
        operation=Trade.Operation.SHORT,
        description=f"Sold short {quantity:,} {symbol} @ {price:.2f}",
        symbol=symbol,
        quantity=quantity,
        price=price,
        total=total,
        commission=commission,
        token=token,
        after_proceeds=True,
    )


def _cover_locked(
    account,
    *,
    order: classroom_rules.Order,
    token,
    from_hold: int = 0,
    note: str = "",
    created_by=None,
) -> Trade:
    """The buy to cover, with the user's account locked by the caller. Never refused for
    cash: what the cash does not pay is a margin loan the account is allowed, as covering
    lowers the account's risk (the short's liability becomes cash spent)."""
    user, symbol, quantity, price, total = (
        account.user,
        order.symbol,
        order.quantity,
        order.price,
        order.total,
    )
    need = total + order.commission
    try:
        realized = portfolio.cover_short(
            user=user, symbol=symbol, quantity=quantity, price=price, from_hold=from_hold
        )
    except portfolio.NotEnoughShares as error:
        raise NotEnoughShares(error.message) from None
    loan = classroom_rules.loan_after(_margin_account(account, ZERO), spend=need)
    if loan > account.loan_limit:
        account.allow_loan(loan)
    return _book(
        account,
        journal=Transaction.Type.COVER,
        operation=Trade.Operation.COVER,
        description=f"{note}Bought to cover {quantity:,} {symbol} @ {price:.2f}",
        symbol=symbol,
        quantity=quantity,
        price=price,
        total=total,
        commission=order.commission,
        token=token,
        created_by=created_by,
        borrow=True,
        realized_pnl=realized,
    )


def _book(
    account,
    *,
    journal: str,
    operation: str,
    description: str,
    symbol: str,
    quantity: int,
    price: Decimal,
    total: Decimal,
    commission: Decimal,
    token: str | None,
    created_by=None,
    borrow: bool = False,
    after_proceeds: bool = False,
    realized_pnl: Decimal | None = None,
) -> Trade:
    """The money of a trade whose position has moved: its cash row (type `journal`, made by
    `created_by` when not the student), its commission's fee row, then the trade row.
    `borrow`, `after_proceeds`: as _move_cash and _charge_commission take them."""
    _move_cash(
        account,
        type=journal,
        amount=total,
        description=description,
        symbol=symbol,
        token=token,
        created_by=created_by,
        borrow=borrow,
    )
    _charge_commission(
        account,
        commission=commission,
        description=description,
        symbol=symbol,
        borrow=borrow,
        after_proceeds=after_proceeds,
    )
    return _record(
        user=account.user,
        stock_id=symbol,
        operation=operation,
        quantity=quantity,
        price=price,
        total=total,
        commission=commission,
        token=token or None,
        **({} if realized_pnl is None else {"realized_pnl": realized_pnl}),
    )


def _record(*, user, stock_id: str, **fields) -> Trade:
    """Write the trade row (one INSERT) and return it as a Trade."""
    return rows.create(Trade, user=user.pk, stock=stock_id, timestamp=timezone.now(), **fields)


def _move_cash(
    account, *, type, amount, description, symbol, token, created_by=None, borrow=False
) -> None:
    # The journal row is written on the locked account directly: no second lock and no
    # savepoint. lock_account looked for the token in the journal, under this lock.
    try:
        account.post(
            type=type,
            amount=amount,
            description=description,
            symbol=symbol,
            token=token,
            created_by=created_by,
            borrow=borrow,
        )
    except ledger.InsufficientFunds as error:
        raise InsufficientFunds(error.message) from None
    except ledger.LedgerError as error:
        raise InvalidQuantity(error.message) from None


def _charge_commission(
    account,
    *,
    commission: Decimal,
    description: str,
    symbol: str,
    borrow: bool = False,
    after_proceeds: bool = False,
) -> None:
    """The trade's commission, a `fee` row. `after_proceeds`: a sale's or a short sale's,
    posted after its proceeds, which are at least the commission: on a margin loan the
    proceeds lowered the loan allowed to what is still borrowed, and the fee may borrow
    back what it takes of them (the account ends borrowing less than before the trade)."""
    if commission <= ZERO:
        return
    if after_proceeds:
        loan = classroom_rules.loan_after(_margin_account(account, ZERO), spend=commission)
        if loan > account.loan_limit:
            account.allow_loan(loan)
        borrow = True
    try:
        account.post(
            type=Transaction.Type.FEE,
            amount=commission,
            description=f"Commission: {description}",
            symbol=symbol,
            borrow=borrow,
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
    - first every open order is cancelled, its holds released;
    - then one "reset_credit" or "reset_debit" row brings the cash to exactly the starting
      cash ("Reset by <instructor>: <reason>"), unless it is there already;
    - one audit entry names the instructor, the student, the adjustment and the reason.
    The journal invariant holds throughout; past performance stays in the record (the
    adjustment is an external flow, like a deposit, so it does not change the
    time-weighted return).
    Once per (student, token): a resubmitted form raises DuplicateRequest and does nothing.
    Locks: the student's balance row, then their open orders, then all their holding rows
    (in symbol order), then their portfolio summary. Raises NoCashAccount for a user
    without a cash account.
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
            account = _lock_account(student)
        except NoCashAccount:
            raise NoCashAccount(
                f"{student.get_username()} has no cash account (instructors do not trade), "
                "so there is nothing to reset."
            ) from None
        if token and AuditEntry.objects.filter(student_id=student.pk, token=token).exists():
            raise DuplicateRequest(
                f"{student.get_username()} was already reset by this form; not reset twice."
            )
        cancelled = _close_all_open_orders(
            account, status=Order.Status.CANCELLED, by=instructor, reason="Reset by " + by
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
            if quantity < 0:
                short = classroom_rules.Order(
                    side=Order.Side.BUY_TO_COVER,
                    symbol=symbol,
                    quantity=-quantity,
                    price=price,
                    total=to_cents(price * -quantity),
                    commission=ZERO,
                    at=timezone.now(),
                )
                trades.append(
                    _cover_locked(
                        account,
                        order=short,
                        token=None,
                        note=f"Reset by {by}: ",
                        created_by=instructor,
                    )
                )
                continue
            trades.append(
                _sell_locked(
                    account,
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
        cash = account.amount
        gap = target - cash
        adjustment = None
        if gap:
            try:
                adjustment = account.post(
                    type=Transaction.Type.RESET_CREDIT if gap > 0 else Transaction.Type.RESET_DEBIT,
                    amount=abs(gap),
                    description=f"Reset by {by}: {reason}",
                    created_by=instructor,
                )
            except ledger.LedgerError as error:
                raise ResetRefused(error.message) from None
        sold = f"sold {len(trades)} position{'s' if len(trades) != 1 else ''}"
        if cancelled:
            sold += f", cancelled {len(cancelled)} open order{'s' if len(cancelled) != 1 else ''}"
        audit.record(
            actor=instructor,
            action=AuditEntry.Action.RESET_STUDENT,
            student=student,
            amount=gap,
            detail=f"{reason} ({sold}; cash ${cash:,.2f} → ${target:,.2f})",
            token=token,
        )
    if cancelled:
        transaction.on_commit(partial(_tell_student, student.pk))
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


# Orders ----------------------------------------------------------------------------------
#
# Every order is a row in `orders`. A market order is written with its trade, filled. An
# order that waits holds what it may need (a buy: its worst-case cost on the user's
# balance, Balance.held; a sell: its shares, Holding.held_quantity), so that what the user
# can spend or sell is what no open order holds; each fill first releases the order's hold,
# then trades through the same path as a market order (_trade_locked), under the same locks.
# Lock order, everywhere: the balance, then the order rows, then the holding rows.

_PRICE_FIELDS = ("limit_price", "stop_price", "trail_percent", "trail_amount")
_NEEDS = {
    Order.Type.MARKET: (),
    Order.Type.LIMIT: ("limit_price",),
    Order.Type.STOP: ("stop_price",),
    Order.Type.STOP_LIMIT: ("stop_price", "limit_price"),
    Order.Type.TRAILING_STOP: ("trail",),
}
_LABELS = {
    "limit_price": "a limit price",
    "stop_price": "a stop price",
    "trail": "a trail, in percent or in dollars",
}


@dataclass(frozen=True)
class OrderRequest:
    """An order as a student asks for it, checked for shape (see `order_request`)."""

    side: str
    type: str
    symbol: str
    quantity: int
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    trail_percent: Decimal | None = None
    trail_amount: Decimal | None = None
    duration: str = Order.Duration.DAY


# A price or a trail as a person types it: the digits 0–9 (Decimal() alone would also take
# "١٨٠", "1_000" or "1e3"), a point for the cents, commas only between thousands.
_MONEY_TEXT = re.compile(r"([+-]?)\s*\$?\s*((?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|\.\d+)", re.ASCII)
_PERCENT_TEXT = re.compile(r"([+-]?)\s*(\d+(?:\.\d*)?|\.\d+)\s*%?", re.ASCII)


def _number(value, pattern: re.Pattern) -> Decimal | None:
    """`value` as a Decimal: an int or a Decimal as it is, a text if `pattern` matches it
    whole; None for anything else."""
    if isinstance(value, bool | float):
        return None
    if isinstance(value, int | Decimal):
        return Decimal(value)
    match = pattern.fullmatch(str(value).strip())
    if match is None:
        return None
    return Decimal(match[1] + match[2].replace(",", ""))


def _money_field(value, label: str, *, field: str) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    number = _number(value, _MONEY_TEXT)
    if number is None:
        raise InvalidOrder(f"Enter {label} in dollars and cents, such as 180.50.", field=field)
    if not number.is_finite() or number <= 0:
        raise InvalidOrder(f"Enter {label} above $0.00.", field=field)
    # Before the cents: rounding a number of 29 digits or more to cents overflows Decimal.
    if number > market.MAX_LISTING_PRICE:
        raise InvalidOrder(
            f"Enter {label} of at most ${market.MAX_LISTING_PRICE:,.2f}.", field=field
        )
    if number != number.quantize(Decimal("0.01")):
        raise InvalidOrder(f"Enter {label} in whole cents, such as 180.50.", field=field)
    return number.quantize(CENT)


def _percent_field(value) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    field = "trail_percent"
    number = _number(value, _PERCENT_TEXT)
    if number is None:
        raise InvalidOrder("Enter the trail in percent, such as 5 or 7.5.", field=field)
    if not number.is_finite() or number <= 0 or number > MAX_TRAIL_PERCENT:
        raise InvalidOrder(
            f"Enter a trail above 0 % and at most {MAX_TRAIL_PERCENT} %.", field=field
        )
    if number != number.quantize(Decimal("0.01")):
        raise InvalidOrder(
            "Enter the trail in percent with at most two decimals, such as 7.5.", field=field
        )
    return number


def order_request(
    *,
    side,
    type=Order.Type.MARKET,
    symbol,
    quantity,
    limit_price=None,
    stop_price=None,
    trail_percent=None,
    trail_amount=None,
    duration=Order.Duration.DAY,
) -> OrderRequest:
    """Check an order's shape (no database): the side, type and duration are known; the
    symbol can be one and the quantity is whole; the type has exactly the prices it needs
    (a stop-limit both, a trailing stop a trail in percent or in dollars, not both); every
    price is positive whole cents. Raises InvalidOrder, UnknownSymbol or InvalidQuantity
    with a message for the student."""
    side = str(side or "").strip().lower()
    if side not in Order.Side.values:
        raise InvalidOrder("Choose Buy or Sell.", field="side")
    type = str(type or Order.Type.MARKET).strip().lower()
    if type not in Order.Type.values:
        raise InvalidOrder(
            "Choose an order type: market, limit, stop, stop-limit or trailing stop.",
            field="type",
        )
    duration = str(duration or Order.Duration.DAY).strip().lower()
    if duration not in Order.Duration.values:
        raise InvalidOrder(
            "Choose how long the order lasts: today only, or until cancelled.", field="duration"
        )
    if type == Order.Type.MARKET:
        duration = Order.Duration.DAY  # it trades now, or at the next open: for one day
    values = {
        "limit_price": _money_field(limit_price, "a limit price", field="limit_price"),
        "stop_price": _money_field(stop_price, "a stop price", field="stop_price"),
        "trail_percent": _percent_field(trail_percent),
        "trail_amount": _money_field(trail_amount, "a trail in dollars", field="trail_amount"),
    }
    needs = _NEEDS[type]
    present = {name for name, value in values.items() if value is not None}
    if "trail_percent" in present and "trail_amount" in present:
        raise InvalidOrder(
            "Give the trail in percent or in dollars, not both.", field="trail_amount"
        )
    wanted = {name for name in _PRICE_FIELDS if name in needs}
    if "trail" in needs:
        wanted |= present & {"trail_percent", "trail_amount"}
        if not wanted:
            raise InvalidOrder(f"A trailing stop needs {_LABELS['trail']}.", field="trail_percent")
    for name in needs:
        if name != "trail" and name not in present:
            kind = Order.Type(type).label.lower()
            raise InvalidOrder(f"A {kind} order needs {_LABELS[name]}.", field=name)
    # Prices a type does not use are ignored (a form may send them empty or left over).
    kept = {name: (values[name] if name in wanted else None) for name in _PRICE_FIELDS}
    return OrderRequest(
        side=side,
        type=type,
        symbol=normalize_symbol(symbol),
        quantity=validate_quantity(quantity),
        duration=duration,
        **kept,
    )


def describe_order(request: OrderRequest | Order) -> str:
    """The order in plain words: "Buy 10 AAPL if the price falls to $180.00 or less; good
    for today"."""
    side = Order.Side(request.side).label
    symbol = getattr(request, "symbol", None) or request.stock_id
    head = f"{side} {request.quantity:,} {symbol}"
    buying = request.side in BUYING_SIDES
    if request.type == Order.Type.MARKET:
        if getattr(request, "trigger_direction", ""):  # an order that waited for the open
            return f"{head} at the first price after the market opens; good for that day"
        return f"{head} now, at the market price"
    if request.type == Order.Type.LIMIT:
        move = "falls to" if buying else "rises to"
        edge = "or less" if buying else "or more"
        what = f"{head} if the price {move} ${request.limit_price:,.2f} {edge}"
    elif request.type == Order.Type.STOP:
        move = "rises to" if buying else "falls to"
        what = f"{head} at the market price once it {move} ${request.stop_price:,.2f}"
    elif request.type == Order.Type.STOP_LIMIT:
        move = "rises to" if buying else "falls to"
        edge = "at most" if buying else "at least"
        what = (
            f"{head} once the price {move} ${request.stop_price:,.2f}, for {edge} "
            f"${request.limit_price:,.2f} a share"
        )
    else:
        trail = (
            f"{request.trail_percent.normalize():f} %"
            if request.trail_percent is not None
            else f"${request.trail_amount:,.2f}"
        )
        if buying:
            what = f"{head} at the market price once it rises {trail} above its lowest point"
        else:
            what = f"{head} at the market price once it falls {trail} below its highest point"
    lasts = (
        "good for today"
        if request.duration == Order.Duration.DAY
        else (f"good until cancelled (up to {GTC_DAYS} trading days)")
    )
    return f"{what}; {lasts}"


def _trigger(request, *, price: Decimal) -> tuple[Decimal, str, Decimal | None]:
    """(trigger price, direction, trailing mark) of a new order, the price being `price`."""
    buying = request.side in BUYING_SIDES
    below, above = Order.Direction.BELOW, Order.Direction.ABOVE
    if request.type == Order.Type.MARKET:  # waiting for the open: any price reaches it
        return (MARKET_BUY_TRIGGER, below, None) if buying else (MARKET_SELL_TRIGGER, above, None)
    if request.type == Order.Type.LIMIT:
        return request.limit_price, (below if buying else above), None
    if request.type in (Order.Type.STOP, Order.Type.STOP_LIMIT):
        return request.stop_price, (above if buying else below), None
    return _trail_stop(request, mark=price), (above if buying else below), price


def _trail_stop(order, *, mark: Decimal) -> Decimal:
    """A trailing stop's stop price for a mark: the trail away from it, in cents (at least
    one cent). A percent trail rounds away from the mark (a sell's stop down, a buy's up),
    so the stop never goes off before the price has moved the whole trail."""
    buying = order.side in BUYING_SIDES
    if order.trail_percent is not None:
        share = order.trail_percent / 100
        stop = (mark * (1 + share if buying else 1 - share)).quantize(
            CENT, rounding=ROUND_CEILING if buying else ROUND_FLOOR
        )
    else:
        stop = mark + order.trail_amount if buying else mark - order.trail_amount
    return max(stop, Decimal("0.01"))


def _reached(direction: str, trigger: Decimal, price: Decimal) -> bool:
    return price <= trigger if direction == Order.Direction.BELOW else price >= trigger


def _buy_hold(request, *, rules: Rulebook, trigger: Decimal, price: Decimal) -> Decimal:
    """What an open buy holds: its worst-case cost with the commission on it."""
    if request.limit_price is not None:
        worst = request.limit_price
    elif request.type == Order.Type.MARKET:  # at the open's price: the cushion on today's
        worst = to_cents(price * (1 + STOP_HOLD_CUSHION))
    else:  # a stop or trailing stop buys at the market once triggered: the cushion
        worst = to_cents(trigger * (1 + STOP_HOLD_CUSHION))
    total = to_cents(worst * request.quantity)
    return total + rules.commission(quantity=request.quantity, total=total)


def _expires_day(duration: str) -> int:
    day = market_day()
    # Placed after the close: tomorrow. The market's hours may have closed before the
    # ticker's closing tick has ended the day: the order is tomorrow's then too.
    after_close = day.closed or (day.last_tick_at is not None and closed_until() is not None)
    first = day.number + 1 if after_close else day.number
    return first if duration == Order.Duration.DAY else first + GTC_DAYS - 1


def place_order(*, user, request: OrderRequest, token: str | None = None) -> Order:
    """Place `request` for `user`: a market order trades now (buy/sell) and is recorded
    filled; any other waits for tick_prices, unless the market is already there.

    Guarantees, checked under the user's balance lock: the class lets its students use
    this type (classrooms' order_types rule) and is open (its trading window); a stop (or a
    stop-limit's stop) is still ahead of the price, not reached at once; an open buy holds
    its worst-case cost (quantity × limit, or × stop plus STOP_HOLD_CUSHION, plus the
    commission) out of the free cash (InsufficientFunds), an open sell holds its shares out
    of the free shares (NotEnoughShares); a limit the price already satisfies fills now, at
    the price, through the same path as a market order. Once per (user, token): a repeated
    token raises DuplicateRequest and changes nothing.
    Locks: the user's balance row, then their holding row for the symbol.
    Returns the order (its trade set when it filled).
    """
    opens = closed_until()
    if request.type == Order.Type.MARKET and opens is None:
        return _place(
            side=request.side,
            user=user,
            symbol=request.symbol,
            quantity=request.quantity,
            token=token,
        )
    try:
        with transaction.atomic():
            order = _place_resting(user=user, request=request, token=token, opens=opens)
    except IntegrityError:
        if token and Order.objects.filter(user_id=user.pk, token=token).exists():
            raise _duplicate() from None
        raise
    except TradingError as error:
        log_event(
            logger,
            "order.rejected",
            user=getattr(user, "username", user.pk),
            side=request.side,
            type=request.type,
            symbol=request.symbol,
            quantity=request.quantity,
            result="duplicate" if isinstance(error, DuplicateRequest) else "rejected",
            reason=type(error).__name__,
            rule=getattr(error, "rule", None) or None,
            message=error.message,
        )
        raise
    transaction.on_commit(
        lambda: log_event(
            logger,
            "order.placed",
            user=getattr(user, "username", user.pk),
            order=order.pk,
            side=order.side,
            type=order.type,
            symbol=order.stock_id,
            quantity=order.quantity,
            status=order.status,
            result="ok",
        )
    )
    return order


def _place_resting(*, user, request: OrderRequest, token: str | None, opens=None) -> Order:
    """An order that waits: any type but market, and a market order while the market is
    closed (`opens`: when it opens next), which waits for the open."""
    account = _lock_account(user)
    if token and Order.objects.filter(user_id=user.pk, token=token).exists():
        raise _duplicate()
    rules = rulebook_for(user)
    now = timezone.now()
    refusal = (
        rules.check_order_type(request.type)
        or rules.check_window(now)
        or rules.check_closed_market(request.type, opens)
    )
    if refusal is not None:
        raise RuleRefused(refusal.message, rule=refusal.rule)
    # Counted under the balance lock, which every order of the user takes first.
    if Order.objects.filter(user_id=user.pk, status=_OPEN).count() >= MAX_OPEN_ORDERS:
        raise InvalidOrder(
            f"You have {MAX_OPEN_ORDERS} open orders, the most one student may have: "
            "cancel one before placing another."
        )
    symbol = request.symbol
    quote = Price.objects.filter(symbol=symbol).values_list("price", "halted").first()
    if quote is None:
        raise UnknownSymbol(f"There is no symbol {symbol} on this market.")
    price, halted = quote
    trigger, direction, mark = _trigger(request, price=price)
    if request.type in (Order.Type.STOP, Order.Type.STOP_LIMIT) and _reached(
        direction, trigger, price
    ):
        where = "above" if request.side in BUYING_SIDES else "below"
        raise InvalidOrder(
            f"{symbol} is at ${price:,.2f}, so a {request.side} stop at ${trigger:,.2f} would "
            f"go off at once: set the stop {where} ${price:,.2f}, or use a market order.",
            field="stop_price",
        )
    fields = {
        "user_id": user.pk,
        "stock_id": symbol,
        "side": request.side,
        "type": request.type,
        "quantity": request.quantity,
        "limit_price": request.limit_price,
        "stop_price": request.stop_price,
        "trail_percent": request.trail_percent,
        "trail_amount": request.trail_amount,
        "trail_mark": mark,
        "duration": request.duration,
        "token": token or None,
        "created_at": now,
    }
    marketable = request.type == Order.Type.LIMIT and _reached(direction, trigger, price)
    if marketable and not halted and opens is None:
        # Marketable: it fills now, at the price, which is within its limit. (While the
        # market is closed it waits for the open, as every order does.)
        trade = _trade_locked(
            account,
            rules=rules,
            side=request.side,
            symbol=symbol,
            quantity=request.quantity,
            token=None,
            limit=request.limit_price,
        )
        return Order.objects.create(
            **fields, status=Order.Status.FILLED, trade=trade, closed_at=trade.timestamp
        )
    held_cash, held_shares = ZERO, 0
    if request.side == Order.Side.SELL_SHORT:
        _check_short_order(rules, user=user, symbol=symbol, price=price, at=now)
    elif request.side == Order.Side.BUY_TO_COVER:
        try:
            portfolio.hold_shares(user=user, symbol=symbol, quantity=request.quantity, short=True)
        except portfolio.NotEnoughShares as error:
            raise NotEnoughShares(error.message) from None
        held_shares = request.quantity
    elif request.side == Order.Side.BUY:
        held_cash = _buy_hold(request, rules=rules, trigger=trigger, price=price)
        if held_cash > MAX_MONEY:
            raise InvalidQuantity(f"That order is too large: it would hold ${held_cash:,.2f}.")
        borrow = False
        if (rules.margin and held_cash > account.available) or rules.short_selling:
            long_value, short_value = _position_values(user)
            borrow = _borrow_for(
                account,
                rules,
                long_value=long_value,
                short_value=short_value,
                need=held_cash,
                adds=held_cash,
                commission=ZERO,
                hold=True,
            )
        try:
            account.hold(held_cash, what=f"buying {request.quantity:,} {symbol}", borrow=borrow)
        except ledger.InsufficientFunds as error:
            raise InsufficientFunds(error.message) from None
    else:
        try:
            portfolio.hold_shares(user=user, symbol=symbol, quantity=request.quantity)
        except portfolio.NotEnoughShares as error:
            raise NotEnoughShares(error.message) from None
        held_shares = request.quantity
    return Order.objects.create(
        **fields,
        status=Order.Status.OPEN,
        trigger_price=trigger,
        trigger_direction=direction,
        expires_day=_expires_day(request.duration),
        held_cash=held_cash,
        held_shares=held_shares,
    )


_POSITION_VALUES_SQL = (
    "SELECT SUM(CASE WHEN h.quantity > 0 THEN h.quantity * p.price ELSE 0 END),"
    " SUM(CASE WHEN h.quantity < 0 THEN -h.quantity * p.price ELSE 0 END)"
    " FROM holdings h JOIN prices p ON p.symbol = h.symbol WHERE h.user_id = %s"
)


def _position_values(user) -> tuple[Decimal, Decimal]:
    """The user's long and short positions at current prices (both as positive amounts),
    read under their balance lock."""
    found = rows.fetch_one(_POSITION_VALUES_SQL, [user.pk])
    return tuple(to_cents(rows.decimal(value, 2) or ZERO) for value in found)


def margin_after_withdrawal(*, user, amount: Decimal, balance, rules: Rulebook) -> str | None:
    """settings.WITHDRAWAL_CHECKS: in a class with margin or short selling, a withdrawal
    leaves equity of at least the initial margin of the positions and open buys (Regulation
    T): a short sale's proceeds, or cash that carries positions bought on margin, are not
    free to take out. Runs under the student's balance lock (the ledger's withdraw); no
    query unless the class has margin or short selling."""
    if not (rules.margin or rules.short_selling):
        return None
    long_value, short_value = _position_values(user)
    if not (long_value or short_value):
        return None
    now = classroom_rules.MarginAccount(
        cash=balance.amount, held=balance.held, long_value=long_value, short_value=short_value
    )
    required = classroom_rules.initial_requirement(rules, now)
    if now.equity - amount >= required:
        return None
    most = max(min(to_cents(now.equity) - required, balance.available), ZERO)
    return (
        f"You can't withdraw ${amount:,.2f}: your positions need ${required:,.2f} of equity "
        f"(the {classroom_rules.percent(rules.initial_margin_percent)} % initial margin), "
        f"and yours is ${to_cents(now.equity):,.2f}, so ${most:,.2f} is the most you can take "
        "out."
    )


def _check_short_order(rules: Rulebook, *, user, symbol: str, price: Decimal, at) -> None:
    """A short sale that waits: the class allows it at this price, and the student owns
    none of the symbol (checked again, with the margin, when it fills)."""
    refusal = classroom_rules.short_selling(
        rules,
        classroom_rules.Order(
            side=Order.Side.SELL_SHORT,
            symbol=symbol,
            quantity=1,
            price=price,
            total=price,
            commission=ZERO,
            at=at,
        ),
    )
    if refusal is not None:
        raise RuleRefused(refusal.message, rule=refusal.rule)
    if Holding.objects.filter(user_id=user.pk, stock_id=symbol, quantity__gt=0).exists():
        raise PositionRefused(f"You own {symbol}: sell those shares before you sell short.")


_SIDE_OF = {
    Trade.Operation.BUY: Order.Side.BUY,
    Trade.Operation.SELL: Order.Side.SELL,
    Trade.Operation.SHORT: Order.Side.SELL_SHORT,
    Trade.Operation.COVER: Order.Side.BUY_TO_COVER,
}


def _record_market_order(*, user, trade: Trade, token: str | None) -> Order:
    """The order row of a market order that traded: one history of every order. Returns
    it, with its trade."""
    order = rows.create(
        Order,
        user=user.pk,
        stock=trade.stock_id,
        side=_SIDE_OF[trade.operation],
        type=Order.Type.MARKET,
        quantity=trade.quantity,
        duration=Order.Duration.DAY,
        status=Order.Status.FILLED,
        trade=trade.pk,
        token=token or None,
        created_at=trade.timestamp,
        closed_at=trade.timestamp,
        held_cash=ZERO,
        held_shares=0,
        reason="",
        trigger_direction="",
        notified=True,
    )
    order.trade = trade
    return order


def _release(account, order: Order) -> None:
    """Free what `order` holds (the caller holds the balance lock and the order row)."""
    if order.held_cash:
        account.release(order.held_cash)
    if order.held_shares:
        portfolio.release_shares(
            user=account.user, symbol=order.stock_id, quantity=order.held_shares
        )


def _close(order: Order, *, status: str, reason: str = "", by=None, now=None, trade=None):
    order.status = status
    order.reason = reason[:300]
    order.closed_at = now or timezone.now()
    order.held_cash, order.held_shares = ZERO, 0
    order.cancelled_by = by
    order.trade = trade
    # The student hears of what they did not do themselves on their next page.
    order.notified = status == Order.Status.CANCELLED and by is None
    order.save(
        update_fields=[
            "status",
            "reason",
            "closed_at",
            "held_cash",
            "held_shares",
            "cancelled_by",
            "trade",
            "notified",
        ]
    )


def _close_all_open_orders(account, *, status: str, by=None, reason: str = "") -> list[Order]:
    orders = list(
        Order.objects.select_for_update()
        .filter(user_id=account.user.pk, status=Order.Status.OPEN)
        .order_by("id")
    )
    now = timezone.now()
    for order in orders:
        _release(account, order)
        _close(order, status=status, reason=reason, by=by, now=now)
    return orders


def cancel_order(*, order_id, user=None, by=None, reason: str = "") -> Order:
    """Cancel an open order and release what it holds: the student's own (`user`), or, by
    an instructor (`by`, with the trading.cancel_order permission), one of a student in a
    class they own, with an audit entry.

    Exactly one of a cancel and a fill of the same order wins: both lock the student's
    balance row, then the order row, and act only on an open order (OrderClosed else).
    OrderNotFound for an order that is not the user's (or not in the instructor's classes).
    Locks: the student's balance row, then the order row, then their holding row.
    """
    orders = Order.objects.all()
    if by is not None:
        if not by.has_perm("trading.cancel_order"):
            raise OrderNotFound("Only an instructor can cancel a student's order.")
        if not by.is_superuser:
            orders = orders.filter(user__classroom__owners=by)
    elif user is not None:
        orders = orders.filter(user_id=user.pk)
    else:
        raise ValueError("cancel_order needs the user or the instructor")
    try:
        order_id = int(order_id)
        owner = orders.select_related("user").get(pk=order_id).user
    except (TypeError, ValueError, Order.DoesNotExist):
        raise OrderNotFound("There is no such order among yours.") from None
    with transaction.atomic():
        account = _lock_account(owner)
        order = Order.objects.select_for_update().get(pk=order_id)
        if not order.is_open:
            raise OrderClosed(
                f"This order is {order.get_status_display().lower()} already, so there is "
                "nothing to cancel."
            )
        _release(account, order)
        note = reason.strip() or (f"Cancelled by {by.get_username()}" if by else "")
        _close(order, status=Order.Status.CANCELLED, reason=note, by=by)
        if by is not None:
            audit.record(
                actor=by,
                action=AuditEntry.Action.CANCEL_ORDER,
                student=owner,
                symbol=order.stock_id,
                detail=f"{describe_order(order)} ({note})",
            )
    transaction.on_commit(
        lambda: log_event(
            logger,
            "order.cancelled",
            user=owner.get_username(),
            order=order.pk,
            by=by.get_username() if by else None,
            result="ok",
        )
    )
    if by is not None:  # the student did not cancel it: they hear of it, as of a fill
        transaction.on_commit(partial(_tell_student, owner.pk))
    return order


# Fills -------------------------------------------------------------------------------------


@dataclass
class FillSummary:
    filled: int = 0
    rejected: int = 0
    expired: int = 0
    triggered: int = 0  # stop-limits whose stop was reached, now waiting as limits
    failed: int = 0  # fills that hit an unexpected error; left open, logged
    interest: int = 0  # accounts charged or paid a day's interest (at a close, or caught up)
    borrow_fees: int = 0  # accounts charged a day's borrow fee on short positions (a close)
    margin_calls: "MarginCallSummary | None" = None  # said only when there were any

    def __str__(self) -> str:
        text = f"orders: {self.filled} filled, {self.rejected} rejected, {self.expired} expired"
        if self.triggered:
            text += f", {self.triggered} stop-limit{'s' if self.triggered != 1 else ''} triggered"
        if self.failed:
            text += f", {self.failed} failed (see the log)"
        if self.interest:
            text += f" | interest: {self.interest} account{'s' if self.interest != 1 else ''}"
        if self.borrow_fees:
            text += f" | borrow fees: {self.borrow_fees} account"
            text += "s" if self.borrow_fees != 1 else ""
        if self.margin_calls:
            text += f" | {self.margin_calls}"
        return text


_OPEN, _BELOW, _ABOVE = Order.Status.OPEN, Order.Direction.BELOW, Order.Direction.ABOVE


def _triggered_sql(vendor: str) -> str:
    """The open orders the prices reach: per symbol and direction, one range of the
    orders_open_trigger index (direction, symbol, trigger price), so the work grows with
    the symbols and the orders reached, not with all that are open. Left to choose, both
    planners read every open order instead (PostgreSQL a hash join, SQLite a scan of the
    index by direction, then each order's price; docs/performance.md), so the statement
    fixes the loop: over the prices, SQLite keeping a CROSS JOIN's order, PostgreSQL a
    LATERAL subquery that OFFSET 0 keeps from being flattened into a join. Halted symbols
    wait."""
    parts = []
    for direction, reached in ((_BELOW, ">="), (_ABOVE, "<=")):
        where = (
            f"o.status = '{_OPEN}' AND o.trigger_direction = '{direction}'"
            f" AND o.symbol = p.symbol AND o.trigger_price {reached} p.price"
        )
        if vendor == "postgresql":
            parts.append(
                "SELECT o.id FROM prices p CROSS JOIN LATERAL"  # noqa: S608 (constants only)
                f" (SELECT o.id FROM orders o WHERE {where} OFFSET 0) o WHERE NOT p.halted"
            )
        else:
            parts.append(
                "SELECT o.id FROM prices p CROSS JOIN orders o"  # noqa: S608 (constants only)
                f" WHERE NOT p.halted AND {where}"
            )
    return "\nUNION ALL\n".join(parts)


_TRIGGERED_SQL = {vendor: _triggered_sql(vendor) for vendor in ("postgresql", "sqlite")}
_TRAILING_SQL = f"""
SELECT o.id, o.side, o.trail_percent, o.trail_amount, p.price
FROM orders o JOIN prices p ON p.symbol = o.symbol
WHERE o.status = '{_OPEN}' AND o.type = '{Order.Type.TRAILING_STOP}' AND NOT p.halted
  AND ((o.side IN ('sell', 'sell_short') AND p.price > o.trail_mark)
    OR (o.side IN ('buy', 'buy_to_cover') AND p.price < o.trail_mark))
ORDER BY o.id
"""  # noqa: S608 (constants only)


# One statement for every mark that moved: the rows travel as arrays on PostgreSQL; SQLite,
# in-process, steps one prepared UPDATE per row (as prices.bulk writes a tick). An update()
# with a CASE branch per row cost ten times as much (docs/performance.md).
_MOVE_MARKS_SQL = {
    "postgresql": (
        "UPDATE orders AS o SET trail_mark = v.mark, trigger_price = v.stop"  # noqa: S608
        " FROM unnest(%s::bigint[], %s::numeric[], %s::numeric[]) AS v(id, mark, stop)"
        f" WHERE o.id = v.id AND o.status = '{_OPEN}'"
    ),
    "sqlite": (
        "UPDATE orders SET trail_mark = %s, trigger_price = %s"  # noqa: S608
        f" WHERE id = %s AND status = '{_OPEN}'"
    ),
}


def follow_trailing_stops() -> int:
    """Move each open trailing stop's mark to the new high (a sell) or low (a buy) and its
    stop with it, in one read and one UPDATE, in one transaction. Returns how many moved.

    Locks: the order rows it moves, in id order, as it reads them (the read and the write
    see the same marks: two runs at once never move a mark back; and the order rows are
    taken in the order a reset or an expiry takes them, so neither can deadlock with it).
    A cancel or a fill that closed an order meanwhile wins: only open orders are moved."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(_TRAILING_SQL + _for_update_of_orders())
            found = cursor.fetchall()
        if not found:
            return 0
        marks, stops = {}, {}
        for order_id, side, percent, amount, price in found:
            order = OrderRequest(
                side=side,
                type=Order.Type.TRAILING_STOP,
                symbol="",
                quantity=1,
                trail_percent=rows.decimal(percent, 2),
                trail_amount=rows.decimal(amount, 2),
            )
            marks[order_id] = rows.decimal(price, 2)
            stops[order_id] = _trail_stop(order, mark=marks[order_id])
        sql = _MOVE_MARKS_SQL[connection.vendor]
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(sql, [list(marks), list(marks.values()), list(stops.values())])
            else:
                cursor.executemany(sql, [(marks[i], stops[i], i) for i in marks])
    return len(marks)


def _for_update_of_orders() -> str:
    # The orders only: a lock on the prices rows would hold up the next tick. SQLite has
    # no row locks; its IMMEDIATE transaction serializes writers instead.
    return " FOR UPDATE OF o" if connection.features.has_select_for_update_of else ""


def triggered_orders() -> list[int]:
    """The ids of the open orders the current prices reach, oldest first (time priority)."""
    with connection.cursor() as cursor:
        cursor.execute(_TRIGGERED_SQL[connection.vendor])
        ids = sorted(row[0] for row in cursor.fetchall())
    return ids


def fill_orders(*, now=None) -> FillSummary:
    """After a tick: move the trailing stops, then fill the orders the new prices reach,
    oldest first, each in its own transaction (`fill_order`), so one student's refused
    fill rejects that order and never stops the rest; then open, meet and enforce margin
    calls (`check_margin_calls`); at a day's close, expire the orders good for that day
    only (and the good-till-cancelled ones past their last day), then charge and pay the
    day's interest (ledger.services.accrue_interest).

    An order whose last day ended without this running at its close (the hook failed, or
    the next tick came first) expires before the fills: it never fills on a day it was not
    good for. So is a day's interest that was not accrued at its close accrued before the
    fills, on the cash as the close left it (once: the ledger records the days it did)."""
    summary = FillSummary()
    day = market_day()
    # Each step on its own: a failure in one is logged and the others still run.
    summary.expired = _step(summary, expire_orders, day=day.number - 1, now=now) or 0
    if day.number > 1:
        _accrue_interest(summary, day=day.number - 1, now=now)
    _step(summary, follow_trailing_stops)
    reached = triggered_orders()
    closed_at = closed_since(now)
    if closed_at is not None and reached:
        # A tick while the market's hours have it closed (the day's closing tick): what was
        # placed after the close waits for the open, as the student was told.
        placed = Order.objects.filter(pk__in=reached, created_at__lt=closed_at)
        reached = sorted(placed.values_list("pk", flat=True))
    for order_id in reached:
        try:
            outcome = fill_order(order_id=order_id)
        except Exception:
            summary.failed += 1
            logger.exception("Filling order %s failed; it stays open", order_id)
            continue
        if outcome is not None:
            setattr(summary, outcome, getattr(summary, outcome) + 1)
    # After the fills, at the prices they filled at: the accounts they left (or the tick's
    # prices left) below the maintenance margin, and the calls that are due.
    summary.margin_calls = _step(summary, check_margin_calls, now=now)
    if day.closed:
        summary.expired += _step(summary, expire_orders, day=day.number, now=now) or 0
        _accrue_interest(summary, day=day.number, now=now)
        summary.borrow_fees = _step(summary, charge_borrow_fees, day=day.number, now=now) or 0
    if summary.filled or summary.rejected or summary.expired:
        transaction.on_commit(lambda: log_event(logger, "order.fills", result=str(summary)))
    return summary


def _step(summary: FillSummary, step, **kwargs):
    try:
        return step(**kwargs)
    except Exception:
        summary.failed += 1
        logger.exception("%s failed after a tick; the other steps went on", step.__name__)
        return None


# The students who pay a borrow fee: short positions at the market, per student, in classes
# under way with a fee. One statement, over the short holdings only.
_BORROWERS_SQL = """
SELECT h.user_id, c.borrow_fee_percent, SUM(-h.quantity * p.price)
FROM holdings h
JOIN prices p ON p.symbol = h.symbol
JOIN users u ON u.id = h.user_id
JOIN accounts_classroom c ON c.id = u.classroom_id
WHERE h.quantity < 0 AND c.borrow_fee_percent > 0
  AND (c.starts_at IS NULL OR c.starts_at <= %s) AND (c.ends_at IS NULL OR c.ends_at > %s)
GROUP BY h.user_id, c.borrow_fee_percent
ORDER BY h.user_id
"""


def charge_borrow_fees(*, day: int, now=None) -> int:
    """At a simulated day's close: charge each student with short positions their class's
    borrow fee, daily_interest(the shorts' market value, borrow_fee_percent), as one
    `borrow_fee` journal row (ledger.services.charge_borrow_fee: once per student and day,
    a transaction each). Returns how many were charged. A day whose close was missed is not
    charged later (the shorts' value then is not the close's)."""
    now = now or timezone.now()
    moment = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        cursor.execute(_BORROWERS_SQL, [moment, moment])
        found = cursor.fetchall()
    users = get_user_model().objects.in_bulk([user_id for user_id, _, _ in found])
    charged = 0
    for user_id, rate, value in found:
        value, rate = to_cents(rows.decimal(value, 2)), rows.decimal(rate, 2)
        fee = classroom_rules.daily_interest(value, rate)
        if fee <= 0:
            continue
        try:
            row = ledger.charge_borrow_fee(
                user=users[user_id],
                day=day,
                amount=fee,
                description=(
                    f"Borrow fee on your short positions of ${value:,.2f} at "
                    f"{classroom_rules.percent(rate)} % a year (day {day})"
                ),
            )
        except Exception:  # one student's failure never keeps the others' fees
            logger.exception("The borrow fee of user %s for day %s failed", user_id, day)
            continue
        charged += row is not None
    return charged


def _accrue_interest(summary: FillSummary, *, day: int, now) -> None:
    accrued = _step(summary, ledger.accrue_interest, day=day, now=now)
    if accrued is not None:
        summary.interest += accrued.accounts
        summary.failed += accrued.failed


# The order's id (creation order) is its time priority: ids grow with time.
def fill_order(*, order_id: int) -> str | None:
    """Fill one open order if the price reaches it, in a transaction of its own.

    Locks the student's balance row, then the order row (so it cannot race a cancel: one
    of them finds it no longer open), then re-reads the price: an order the price no longer
    reaches stays open. A stop-limit whose stop is reached becomes a limit at its limit
    price. The fill releases the order's hold and trades through `_trade_locked`, the path
    of a market order, at the current price, within the limit; a refusal there (cash gone,
    a rule of the class) rolls the trade back and rejects the order with the reason. A
    halted symbol's orders wait: one halted (or a price moved back) between the two reads
    leaves the order open, holding what it held. Returns "filled", "rejected",
    "triggered" or None (nothing to do).
    """
    owner = Order.objects.filter(pk=order_id, status=_OPEN).values_list("user_id", flat=True)
    owner_id = owner.first()
    if owner_id is None:
        return None
    user = get_user_model().objects.get(pk=owner_id)
    outcome = None
    with transaction.atomic():
        account = _lock_account(user)
        order = Order.objects.select_for_update().filter(pk=order_id, status=_OPEN).first()
        if order is None:
            return None
        price, halted = Price.objects.values_list("price", "halted").get(symbol=order.stock_id)
        if halted or not _reached(order.trigger_direction, order.trigger_price, price):
            return None
        now = timezone.now()
        if order.type == Order.Type.STOP_LIMIT and order.triggered_at is None:
            order.triggered_at = now
            order.trigger_price = order.limit_price
            order.trigger_direction = _BELOW if order.side in BUYING_SIDES else _ABOVE
            order.save(update_fields=["triggered_at", "trigger_price", "trigger_direction"])
            outcome = "triggered"
            if not _reached(order.trigger_direction, order.trigger_price, price):
                return outcome
        if order.held_cash:  # the cash it held pays for the trade, or is freed if refused
            account.release(order.held_cash)
        try:
            # A savepoint: a refusal half way (a position limit after the cash moved) rolls
            # the trade back; the account object is not used after that.
            with transaction.atomic():
                trade = _trade_locked(
                    account,
                    rules=rulebook_for(user),
                    side=order.side,
                    symbol=order.stock_id,
                    quantity=order.quantity,
                    token=None,
                    limit=order.limit_price,
                    from_hold=order.held_shares,  # a sell's shares come out of its hold
                )
        except (LimitNotReached, SymbolHalted):
            # The price moved back, or the symbol was halted, between the two reads (a tick
            # or a halt committed meanwhile): not yet. A halt keeps orders waiting.
            if order.held_cash:  # the loan it was allowed is still allowed
                account.hold(order.held_cash, borrow=True)
            return outcome
        except TradingError as error:
            if order.held_shares:
                portfolio.release_shares(
                    user=user, symbol=order.stock_id, quantity=order.held_shares
                )
            _close(order, status=Order.Status.REJECTED, reason=error.message, now=now)
            outcome = "rejected"
        else:
            _close(order, status=Order.Status.FILLED, now=now, trade=trade)
            outcome = "filled"
    transaction.on_commit(lambda: _tell_student(owner_id))
    return outcome


def expire_orders(*, day: int, now=None) -> int:
    """Expire the open orders whose last day is `day` or earlier (day orders at their
    day's close; good-till-cancelled ones after GTC_DAYS), releasing their holds: one
    transaction per student. Locks: each student's balance row, then their orders (in id
    order), then the holding rows whose shares they release."""
    owners = (
        Order.objects.filter(status=_OPEN, expires_day__lte=day)
        .values_list("user_id", flat=True)
        .distinct()
    )
    users = get_user_model().objects.in_bulk(list(owners))
    now = now or timezone.now()
    expired = 0
    for user in users.values():
        with transaction.atomic():
            account = _lock_account(user)
            orders = list(
                Order.objects.select_for_update()
                .filter(user_id=user.pk, status=_OPEN, expires_day__lte=day)
                .order_by("id")
            )
            for order in orders:
                _release(account, order)
                why = (
                    "Good for one day: the market closed before it was reached."
                    if order.duration == Order.Duration.DAY
                    else f"Good till cancelled for {GTC_DAYS} trading days: it was not reached."
                )
                _close(order, status=Order.Status.EXPIRED, reason=why, now=now)
            expired += len(orders)
        transaction.on_commit(partial(_tell_student, user.pk))
    return expired


def _tell_student(user_id: int) -> None:
    shared_cache.set(order_news_key(user_id), True, timeout=None)


def order_news_key(user_id: int) -> str:
    return f"trading:order-news:{user_id}"


def after_tick(*, ticks: int, timestamp, **_) -> str:
    """The market's tick hook (settings.TICK_HOOKS): fill what the new prices reach, and
    return the tick summary's part about orders."""
    return str(fill_orders(now=timestamp))


def check_holds() -> list[str]:
    """For check_ledger: every balance holds exactly what its open buys hold, and every
    holding the shares its open sells hold. Returns one line per mismatch.

    Its reads share one snapshot (REPEATABLE READ on PostgreSQL; SQLite's transaction is
    one already), so an order placed or filled while it runs is no mismatch."""
    with transaction.atomic():
        if connection.vendor == "postgresql" and not _has_read_yet():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        return _hold_problems()


def _has_read_yet() -> bool:
    # Inside a caller's transaction (a test's) the isolation is the caller's to set.
    return len(connection.atomic_blocks) > 1


def _hold_problems() -> list[str]:
    problems = []
    held_cash = dict(
        Order.objects.filter(status=_OPEN)
        .values("user_id")
        .annotate(total=Sum("held_cash"))
        .values_list("user_id", "total")
    )
    for user_id, username, amount, held, loan_limit in Balance.objects.values_list(
        "user_id", "user__username", "amount", "held", "loan_limit"
    ).filter(Q(held__gt=0) | Q(user_id__in=list(held_cash))):
        expected = held_cash.get(user_id) or ZERO
        if held != expected or amount + loan_limit < held:  # holds within cash and loan
            problems.append(
                f"HOLD MISMATCH user {user_id} ({username}): balance ${amount:,.2f} holds "
                f"${held:,.2f}; its open orders hold ${expected:,.2f}"
            )
    held_shares = {
        (u, s): t
        for u, s, t in Order.objects.filter(
            status=_OPEN, side__in=[Order.Side.SELL, Order.Side.BUY_TO_COVER]
        )
        .values("user_id", "stock_id")
        .annotate(total=Sum("held_shares"))
        .values_list("user_id", "stock_id", "total")
    }
    for user_id, symbol, quantity, held in Holding.objects.filter(
        Q(held_quantity__gt=0) | Q(user_id__in={u for u, _ in held_shares})
    ).values_list("user_id", "stock_id", "quantity", "held_quantity"):
        expected = held_shares.pop((user_id, symbol), 0)
        if held != expected or abs(quantity) < held:
            problems.append(
                f"HOLD MISMATCH user {user_id} {symbol}: holding of {quantity:,} holds "
                f"{held:,}; its open sell orders hold {expected:,}"
            )
    for (user_id, symbol), expected in held_shares.items():
        problems.append(
            f"HOLD MISMATCH user {user_id} {symbol}: no holding, and open sell orders hold "
            f"{expected:,}"
        )
    return problems


# Margin calls -------------------------------------------------------------------------------
#
# At each tick, after the fills (fill_orders): an account in a class with margin whose
# equity (cash + positions at the market) is below the maintenance requirement (the class's
# maintenance_margin_percent of the positions' market value) gets a margin call; an open
# call whose account is back at the requirement is met; a call past its due day (at once
# when the class gives 0 days) sells positions at the market, largest first, until the
# requirement is met (`_liquidate`).

# The accounts under the maintenance requirement, in one statement over balances, holdings
# × prices and classes. Equity = cash + L − S (long and short positions at the market) and
# the requirement is m·(L + S) with m ≤ 100 %: an account with cash ≥ 0 and no short
# position has equity L ≥ m·L and is never under it. So only the balances below zero (margin
# loans) and the accounts with a short position (few) are joined to their holdings. The
# cent of slack lets SQLite's float arithmetic keep every account near the line; the exact
# comparison is the one in Decimal that follows (_under_maintenance).
_UNDER_MAINTENANCE_SQL = """
SELECT o.user_id, o.amount,
       SUM(CASE WHEN h.quantity > 0 THEN h.quantity * p.price ELSE 0 END),
       SUM(CASE WHEN h.quantity < 0 THEN -h.quantity * p.price ELSE 0 END),
       o.percent, o.days, o.ended
FROM (
    SELECT b.user_id, b.amount, c.maintenance_margin_percent AS percent,
           c.margin_call_days AS days,
           CASE WHEN c.ends_at IS NOT NULL AND c.ends_at <= %s THEN 1 ELSE 0 END AS ended
    FROM balances b
    JOIN users u ON u.id = b.user_id
    JOIN accounts_classroom c ON c.id = u.classroom_id
    WHERE (b.amount < 0 AND c.margin)
       OR EXISTS (SELECT 1 FROM holdings s WHERE s.user_id = b.user_id AND s.quantity < 0)
) o
JOIN holdings h ON h.user_id = o.user_id
JOIN prices p ON p.symbol = h.symbol
GROUP BY o.user_id, o.amount, o.percent, o.days, o.ended
HAVING o.amount + SUM(h.quantity * p.price)
       < o.percent * SUM(ABS(h.quantity) * p.price) / 100 + 0.01
ORDER BY o.user_id
"""


def maintenance_requirement(percent: Decimal, positions: Decimal) -> Decimal:
    """The equity the class requires of positions worth `positions` (long and short, both
    counted): `percent` % of it, rounded up to the cent (equity is whole cents, so equity ≥
    this exactly when it is at least the unrounded requirement)."""
    return (percent * positions / 100).quantize(CENT, rounding=ROUND_CEILING)


@dataclass(frozen=True)
class _Shortfall:
    user_id: int
    equity: Decimal
    requirement: Decimal
    days: int
    ended: bool  # the class has ended: its standings are final, nothing is sold


def _under_maintenance(now) -> dict[int, _Shortfall]:
    """The accounts below their class's maintenance requirement now, by user id: one
    query."""
    found = {}
    with connection.cursor() as cursor:
        cursor.execute(_UNDER_MAINTENANCE_SQL, [connection.ops.adapt_datetimefield_value(now)])
        for user_id, amount, long_value, short_value, percent, days, ended in cursor.fetchall():
            long_value = to_cents(rows.decimal(long_value, 2))
            short_value = to_cents(rows.decimal(short_value, 2))
            equity = rows.decimal(amount, 2) + long_value - short_value
            requirement = maintenance_requirement(
                rows.decimal(percent, 2), long_value + short_value
            )
            if equity < requirement:
                found[user_id] = _Shortfall(user_id, equity, requirement, int(days), bool(ended))
    return found


@dataclass
class MarginCallSummary:
    opened: int = 0
    met: int = 0
    liquidated: int = 0
    failed: int = 0  # forced sales that hit an unexpected error; the call stays open, logged

    def __str__(self) -> str:
        parts = [f"{self.opened} opened", f"{self.met} met", f"{self.liquidated} liquidated"]
        if self.failed:
            parts.append(f"{self.failed} failed (see the log)")
        return "margin calls: " + ", ".join(parts)

    def __bool__(self) -> bool:
        return bool(self.opened or self.met or self.liquidated or self.failed)


def _is_due(call_opened_day: int, call_due_day: int, day: int) -> bool:
    """A class with 0 days sells at once; otherwise once the due day has ended."""
    return call_due_day == call_opened_day or day > call_due_day


def check_margin_calls(*, now=None) -> MarginCallSummary:
    """After a tick's fills: open a margin call for each account newly below its class's
    maintenance requirement, close as met each open call whose account is back at it, and
    sell positions of each account whose call is due (`_liquidate`, one transaction per
    student, so one student's failure never stops the rest).

    A class that has ended is left as it ended: no new call, no forced sale (its
    standings are final, and its students can no longer trade to meet a call).

    Finding them costs a fixed number of queries (the market day, the accounts under the
    requirement, the open calls, one UPDATE for the met, one INSERT for the new), however
    many students there are; only the forced sales cost per student. Runs in the one tick
    process (the market lock keeps a second out); each forced sale re-checks its call under
    the student's balance lock."""
    now = now or timezone.now()
    summary = MarginCallSummary()
    day = market_day().number
    under = _under_maintenance(now)
    open_calls = {
        user_id: (call_id, opened_day, due_day)
        for call_id, user_id, opened_day, due_day in MarginCall.objects.filter(
            status=MarginCall.Status.OPEN
        ).values_list("id", "user_id", "opened_day", "due_day")
    }
    met = [call_id for user_id, (call_id, _, _) in open_calls.items() if user_id not in under]
    if met:
        summary.met = MarginCall.objects.filter(pk__in=met, status=MarginCall.Status.OPEN).update(
            status=MarginCall.Status.MET, met_at=now
        )
    new = [
        MarginCall(
            user_id=short.user_id,
            opened_at=now,
            opened_day=day,
            due_day=day + short.days,
            equity=short.equity,
            requirement=short.requirement,
        )
        for user_id, short in under.items()
        if user_id not in open_calls and not short.ended
    ]
    if new:
        MarginCall.objects.bulk_create(new)
        summary.opened = len(new)
    due = [
        (call.user_id, call.pk) for call in new if _is_due(call.opened_day, call.due_day, day)
    ] + [
        (user_id, call_id)
        for user_id, (call_id, opened_day, due_day) in open_calls.items()
        if user_id in under and not under[user_id].ended and _is_due(opened_day, due_day, day)
    ]
    users = get_user_model().objects.in_bulk([user_id for user_id, _ in due]) if due else {}
    for user_id, call_id in sorted(due):
        try:
            outcome = _liquidate(user=users[user_id], call_id=call_id, now=now)
        except Exception:
            summary.failed += 1
            logger.exception("The forced sale of margin call %s failed; it stays open", call_id)
            continue
        if outcome == MarginCall.Status.MET:
            summary.met += 1
        elif outcome == MarginCall.Status.LIQUIDATED:
            summary.liquidated += 1
    if summary:
        transaction.on_commit(lambda: log_event(logger, "margin_call.tick", result=str(summary)))
    return summary


_MARGIN_NOTE = "Margin call: "


def _liquidate(*, user, call_id: int, now) -> str | None:
    """Sell `user`'s positions for their due margin call, in one transaction.

    Under the student's balance lock, the call is re-checked: one that is closed already
    does nothing; one the account meets again (the student's own sale or deposit got there
    first) is closed as met and nothing is sold. Otherwise the student's open orders are
    cancelled first (their holds released), then whole positions are sold at the market,
    largest market value first, through the path of every sell (`_sell_locked`: a trade
    row, a "sell" journal row described "Margin call: Sold …", the holding reduced), with
    no commission (the student did not place these orders), until the equity meets the
    requirement or nothing is left to sell. A halted symbol's position waits: while the
    requirement still needs it, the call stays open and the next tick tries again. A
    price gap can leave the equity below zero; nothing is clamped.
    Locks: the student's balance row, the call, their open orders, then their holding rows
    (in symbol order) and their portfolio summary. Returns the call's status after it, or
    None when there was nothing to do."""
    with transaction.atomic():
        account = _lock_account(user)
        call = (
            MarginCall.objects.select_for_update()
            .filter(pk=call_id, status=MarginCall.Status.OPEN)
            .first()
        )
        if call is None:
            return None
        rules = rulebook_for(user)
        percent = rules.maintenance_margin_percent
        positions = _positions(user)
        equity, carried = _equity(account, positions)
        requirement = maintenance_requirement(percent, carried)
        shorts = any(quantity < 0 for _, quantity, _, _, _ in positions)
        if not (rules.margin or shorts) or equity >= requirement:
            call.status, call.met_at = MarginCall.Status.MET, now
            call.save(update_fields=["status", "met_at"])
            return call.status
        cancelled = _close_all_open_orders(
            account, status=Order.Status.CANCELLED, reason="Cancelled by a margin call"
        )
        # Locked in symbol order, as a reset locks them; then re-read, now that the
        # cancelled sells no longer hold shares.
        positions = _positions(user, lock=True)
        sold, waiting, closed = [], [], set()
        for symbol, quantity, price, halted, value in positions:
            if equity >= requirement:
                break
            if halted:
                waiting.append(symbol)
                continue
            if quantity < 0:  # a short position: bought back at the market
                cover = classroom_rules.Order(
                    side=Order.Side.BUY_TO_COVER,
                    symbol=symbol,
                    quantity=-quantity,
                    price=price,
                    total=value,
                    commission=ZERO,
                    at=now,
                )
                trade = _cover_locked(account, order=cover, token=None, note=_MARGIN_NOTE)
            else:
                trade = _sell_locked(
                    account,
                    symbol=symbol,
                    quantity=quantity,
                    price=price,
                    total=value,
                    commission=ZERO,
                    token=None,
                    note=_MARGIN_NOTE,
                )
            sold.append(trade)
            closed.add(symbol)
            equity, carried = _equity(account, [row for row in positions if row[0] not in closed])
            requirement = maintenance_requirement(percent, carried)
        words = (
            ", ".join(
                f"{'covered' if t.operation == Trade.Operation.COVER else 'sold'} {t.quantity:,} "
                f"{t.stock_id} @ {t.price:.2f}"
                for t in sold
            )
            or "nothing"
        )
        detail = words[0].upper() + words[1:] if sold else "Sold nothing"
        if cancelled:
            detail += f"; cancelled {len(cancelled)} open order{'s' if len(cancelled) != 1 else ''}"
        detail += f"; equity ${equity:,.2f}, requirement ${requirement:,.2f}"
        if waiting and equity < requirement:
            detail += f"; waiting for {', '.join(waiting)} (halted)"
            call.detail = detail[:300]
            call.save(update_fields=["detail"])
        else:
            call.status, call.liquidated_at, call.detail = (
                MarginCall.Status.LIQUIDATED,
                now,
                detail[:300],
            )
            call.save(update_fields=["status", "liquidated_at", "detail"])
    transaction.on_commit(
        lambda: log_event(
            logger,
            "margin_call.liquidation",
            user=user.get_username(),
            call=call_id,
            sold=words,
            cancelled=len(cancelled),
            equity=equity,
            requirement=requirement,
            status=call.status,
            result="ok",
        )
    )
    for trade in sold:
        transaction.on_commit(partial(_log_trade, user, trade))
    return call.status


def _equity(account, positions) -> tuple[Decimal, Decimal]:
    """(equity, the positions' value, long and short both counted) of an account with these
    positions: cash + the shares owned − what the short positions owe."""
    signed = sum(
        (value if quantity > 0 else -value for _, quantity, _, _, value in positions), ZERO
    )
    carried = sum((value for _, _, _, _, value in positions), ZERO)
    return account.amount + signed, carried


def _positions(user, *, lock: bool = False) -> list[tuple[str, int, Decimal, bool, Decimal]]:
    """(symbol, quantity, price, halted, market value) of each of the user's positions,
    largest market value first (then by symbol); a short position has a negative quantity
    and, as its value, what buying it back costs. With `lock`, the holding rows are locked
    (in symbol order) before the prices are read."""
    holdings = Holding.objects.filter(user_id=user.pk).order_by("stock_id")
    if lock:
        holdings = holdings.select_for_update()
    held = list(holdings.values_list("stock_id", "quantity"))
    quotes = {
        symbol: (price, halted)
        for symbol, price, halted in Price.objects.filter(
            symbol__in=[symbol for symbol, _ in held]
        ).values_list("symbol", "price", "halted")
    }
    positions = []
    for symbol, quantity in held:
        price, halted = quotes[symbol]
        positions.append((symbol, quantity, price, halted, to_cents(price * abs(quantity))))
    positions.sort(key=lambda row: (-row[4], row[0]))
    return positions
