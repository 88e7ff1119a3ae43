"""A class's rulebook, and one checking function per rule.

The money services (ledger's deposit and withdraw, trading's orders) read the student's
rulebook inside their transaction and ask each rule in turn; a rule answers None (allowed)
or a Refusal that names the rule and the numbers, in words a student reads on the form:
"Your class allows at most 25 % of your portfolio in one stock; after this buy AAPL would
be 31 %." A new switch (order types, short selling, margin) is a new rule here, not a new
branch in the services.

A student in no class plays by the settings (STARTING_CASH, COMMISSION_PER_TRADE,
DEPOSITS_OPEN, MAX_TOTAL_DEPOSITS), with no trading window and no limits.

The rules see facts, not the database: the service gathers an Order or a CashMovement
inside its transaction, under the student's balance lock, reading only what the rulebook
needs (`Rulebook.counts_trades_today`, `values_portfolio`, `counts_deposits`), and asks
`check_order`, `check_deposit` or `check_withdrawal` for the first refusal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, ROUND_UP, Decimal

from django.conf import settings
from django.utils import timezone

from classrooms.models import Classroom
from tradesim.market_hours import opens_words
from tradesim.money import CENT, ZERO, to_cents

HUNDRED = Decimal("100")
ORDER_TYPES_ALL = Classroom.OrderTypes.ALL.value
ORDER_TYPES_MARKET = Classroom.OrderTypes.MARKET.value  # market orders only
BUY, SELL = "buy", "sell"
SELL_SHORT, BUY_TO_COVER = "sell_short", "buy_to_cover"
DEPOSIT, WITHDRAWAL = "deposit", "withdrawal"


@dataclass(frozen=True)
class Refusal:
    """Why a rule refused: `rule` is the rulebook's key (for logs and the API's error
    code), `message` the sentence shown to the student."""

    rule: str
    message: str

    def __str__(self):
        return self.message


@dataclass(frozen=True)
class Rulebook:
    classroom_id: int | None = None
    class_name: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    starting_cash: Decimal = Decimal("10000.00")
    deposits_open: bool = True
    max_total_deposits: Decimal | None = None
    withdrawals_open: bool = True
    commission_kind: str = Classroom.Commission.NONE
    commission_amount: Decimal = ZERO
    commission_minimum: Decimal = ZERO
    max_position_percent: Decimal | None = None
    max_trades_per_day: int | None = None
    min_share_price: Decimal | None = None
    ranking: str = Classroom.Ranking.TWR
    min_trades_to_rank: int = 0
    names_shown: bool = True
    rules_changed_at: datetime | None = None
    order_types: str = ORDER_TYPES_ALL
    closed_market_orders: str = Classroom.ClosedMarketOrders.QUEUE
    api_access: bool = True
    margin: bool = False
    initial_margin_percent: Decimal = Decimal("50")
    maintenance_margin_percent: Decimal = Decimal("30")
    margin_call_days: int = 0
    loan_rate_percent: Decimal = Decimal("8")
    cash_rate_percent: Decimal = ZERO
    short_selling: bool = False
    min_short_price: Decimal = Decimal("5.00")
    borrow_fee_percent: Decimal = ZERO

    # Where the rules come from ------------------------------------------------------------

    @classmethod
    def from_settings(cls) -> Rulebook:
        commission = to_cents(settings.COMMISSION_PER_TRADE)
        return cls(
            starting_cash=to_cents(settings.STARTING_CASH),
            deposits_open=settings.DEPOSITS_OPEN,
            max_total_deposits=settings.MAX_TOTAL_DEPOSITS,
            commission_kind=(
                Classroom.Commission.FLAT if commission > 0 else Classroom.Commission.NONE
            ),
            commission_amount=commission,
        )

    @classmethod
    def from_classroom(cls, classroom: Classroom) -> Rulebook:
        return cls(
            classroom_id=classroom.pk,
            class_name=classroom.name,
            starts_at=classroom.starts_at,
            ends_at=classroom.ends_at,
            starting_cash=classroom.starting_cash,
            deposits_open=classroom.deposits_open,
            max_total_deposits=classroom.max_total_deposits,
            withdrawals_open=classroom.withdrawals_open,
            commission_kind=classroom.commission_kind,
            commission_amount=classroom.commission_amount,
            commission_minimum=classroom.commission_minimum,
            max_position_percent=classroom.max_position_percent,
            max_trades_per_day=classroom.max_trades_per_day,
            min_share_price=classroom.min_share_price,
            ranking=classroom.ranking,
            min_trades_to_rank=classroom.min_trades_to_rank,
            names_shown=classroom.names_shown,
            rules_changed_at=classroom.rules_changed_at,
            order_types=classroom.order_types,
            closed_market_orders=classroom.closed_market_orders,
            api_access=classroom.api_access,
            margin=classroom.margin,
            initial_margin_percent=classroom.initial_margin_percent,
            maintenance_margin_percent=classroom.maintenance_margin_percent,
            margin_call_days=classroom.margin_call_days,
            loan_rate_percent=classroom.loan_rate_percent,
            cash_rate_percent=classroom.cash_rate_percent,
            short_selling=classroom.short_selling,
            min_short_price=classroom.min_short_price,
            borrow_fee_percent=classroom.borrow_fee_percent,
        )

    # The trading window -----------------------------------------------------------------

    def has_started(self, now: datetime) -> bool:
        return self.starts_at is None or now >= self.starts_at

    def has_ended(self, now: datetime) -> bool:
        """The window is [starts_at, ends_at): at ends_at itself the class is over."""
        return self.ends_at is not None and now >= self.ends_at

    def check_window(self, now: datetime, *, what: str = "Orders") -> Refusal | None:
        if not self.has_started(now):
            return Refusal("starts_at", f"Trading opens {when(self.starts_at)}.")
        return self.check_ended(now, what=what)

    def check_ended(self, now: datetime, *, what: str) -> Refusal | None:
        if self.has_ended(now):
            return Refusal(
                "ends_at",
                f"Your class ended {when(self.ends_at)}: {what.lower()} are closed and the "
                "standings are final.",
            )
        return None

    # What a service must read for the rules --------------------------------------------

    @property
    def counts_trades_today(self) -> bool:
        return self.max_trades_per_day is not None

    @property
    def values_portfolio(self) -> bool:
        return self.max_position_percent is not None or self.margin or self.short_selling

    @property
    def counts_deposits(self) -> bool:
        return self.max_total_deposits is not None

    def deposit_room(self, deposited: Decimal) -> Decimal | None:
        """How much more the student may deposit, having deposited `deposited` beyond the
        starting cash; None without a cap."""
        if self.max_total_deposits is None:
            return None
        return max(self.max_total_deposits - deposited, ZERO)

    # Order types ------------------------------------------------------------------------

    def check_order_type(self, order_type: str) -> Refusal | None:
        """Whether the class lets its students place an order of `order_type` (the
        trading app's Order.Type values: "market", "limit", …)."""
        if self.order_types == ORDER_TYPES_MARKET and order_type != "market":
            return Refusal(
                "order_types",
                "Your class trades with market orders only: buy or sell at the current price.",
            )
        return None

    def check_closed_market(self, order_type: str, opens: datetime | None) -> Refusal | None:
        """A market order while the market is closed (`opens`: when it opens next, or None
        while it is open): it waits for the open, unless the class refuses it."""
        if (
            opens is None
            or order_type != "market"
            or self.closed_market_orders == Classroom.ClosedMarketOrders.QUEUE
        ):
            return None
        instead = (
            "place yours then."
            if self.order_types == ORDER_TYPES_MARKET
            else "place yours then, or place a limit order, which waits for the open."
        )
        return Refusal(
            "closed_market_orders",
            f"The market is closed; it opens {opens_words(opens)}. Your class takes no market "
            f"orders while it is closed: {instead}",
        )

    # Commission -------------------------------------------------------------------------

    def commission(self, *, quantity: int, total: Decimal) -> Decimal:
        """The commission on one trade of `quantity` shares worth `total`, in cents."""
        kind, amount = self.commission_kind, self.commission_amount
        if kind == Classroom.Commission.FLAT:
            return to_cents(amount)
        if kind == Classroom.Commission.PER_SHARE:
            return to_cents(amount * quantity)
        if kind == Classroom.Commission.PERCENT:
            share = to_cents(total * amount / HUNDRED)
            return max(share, to_cents(self.commission_minimum))
        return ZERO

    def describe_commission(self) -> str:
        kind, amount = self.commission_kind, self.commission_amount
        if kind == Classroom.Commission.FLAT:
            return f"${to_cents(amount):,.2f} a trade"
        if kind == Classroom.Commission.PER_SHARE:
            return f"${amount.normalize():f} a share"
        if kind == Classroom.Commission.PERCENT:
            return (
                f"{amount.normalize():f} % of the order's value, at least "
                f"${to_cents(self.commission_minimum):,.2f}"
            )
        return "none"


# Orders -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Order:
    """An order as the rules see it: priced inside the trade's transaction, with the
    student's figures read under their balance lock. The figures a rulebook does not ask
    for (see Rulebook.counts_trades_today, values_portfolio) are left at their defaults."""

    side: str  # BUY or SELL
    symbol: str
    quantity: int
    price: Decimal
    total: Decimal  # quantity × price, in cents
    commission: Decimal
    at: datetime
    trades_today: int = 0  # the student's trades so far this simulated day
    cash: Decimal = ZERO  # before the order
    # Every holding at its current price, before the order: owned shares less short ones.
    holdings_value: Decimal = ZERO
    held: int = 0  # shares of `symbol` held before the order (below zero: short)
    short_value: Decimal = ZERO  # the short positions at their current price, as a positive


def trading_window(rules: Rulebook, order: Order) -> Refusal | None:
    return rules.check_window(order.at, what="Orders")


def min_share_price(rules: Rulebook, order: Order) -> Refusal | None:
    """The "$1 rule": no buying below the class's lowest share price (selling is allowed)."""
    floor = rules.min_share_price
    if floor is None or order.side != BUY or order.price >= floor:
        return None
    return Refusal(
        "min_share_price",
        f"Your class does not allow buying shares priced below ${floor:,.2f}; "
        f"{order.symbol} is at ${order.price:,.2f}.",
    )


def max_trades_per_day(rules: Rulebook, order: Order) -> Refusal | None:
    limit = rules.max_trades_per_day
    if limit is None or order.trades_today < limit:
        return None
    return Refusal(
        "max_trades_per_day",
        f"Your class allows at most {limit:,} trade{'s' if limit != 1 else ''} per market "
        f"day, and you have made {order.trades_today:,} today. You can trade again when the "
        "market opens its next day.",
    )


def max_position_percent(rules: Rulebook, order: Order) -> Refusal | None:
    """After a buy, the symbol's share of the whole portfolio (cash included, at current
    prices, the commission paid) is at most the class's limit; exactly the limit is allowed."""
    limit = rules.max_position_percent
    if limit is None or order.side != BUY:
        return None
    position = order.held * order.price + order.total
    value = order.cash + order.holdings_value - order.commission
    if position * HUNDRED <= limit * value:
        return None
    share = position * HUNDRED / value if value > 0 else HUNDRED
    return Refusal(
        "max_position_percent",
        f"Your class allows at most {percent(limit)} % of your portfolio in one stock; "
        f"after this buy {order.symbol} would be {percent(share, above=limit)} %.",
    )


def short_selling(rules: Rulebook, order: Order) -> Refusal | None:
    """Selling short: only where the class allows it, and not below its lowest price to
    short (brokerages do not lend shares under $5)."""
    if order.side != SELL_SHORT:
        return None
    if not rules.short_selling:
        return Refusal(
            "short_selling",
            "Your class does not allow selling short: you can sell only shares you own.",
        )
    if order.price < rules.min_short_price:
        return Refusal(
            "min_short_price",
            f"Your class does not allow selling short below ${rules.min_short_price:,.2f} a "
            f"share; {order.symbol} is at ${order.price:,.2f}.",
        )
    return None


ORDER_RULES: tuple[Callable[[Rulebook, Order], Refusal | None], ...] = (
    trading_window,
    short_selling,
    min_share_price,
    max_trades_per_day,
    max_position_percent,
)


def check_order(rules: Rulebook, order: Order) -> Refusal | None:
    """The first rule that refuses `order`, or None when every rule allows it."""
    return _first_refusal(ORDER_RULES, rules, order)


# Margin -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MarginAccount:
    """An account as the margin rule sees it, read under the balance lock: its cash (below
    zero: a margin loan), the cash its open buy orders hold, and its positions' market
    value."""

    cash: Decimal
    held: Decimal = ZERO
    long_value: Decimal = ZERO
    short_value: Decimal = ZERO  # what buying back the short positions costs now

    @property
    def equity(self) -> Decimal:
        """What the account is worth to its owner: cash plus the shares owned, less what
        the short positions owe (a loan is cash below zero)."""
        return self.cash + self.long_value - self.short_value

    @property
    def positions(self) -> Decimal:
        """The long and short positions' market value, both counted: what margin covers."""
        return self.long_value + self.short_value

    @property
    def loan(self) -> Decimal:
        return max(-self.cash, ZERO)


def buying_power(rules: Rulebook, account: MarginAccount) -> Decimal:
    """What the student may spend on a new buy now. Cash only: the free cash (cash less
    what open orders hold). With margin (Regulation T): equity ÷ the initial margin, less
    the positions and open buys it already carries; never less than the free cash. With
    short positions, their proceeds are in the cash but not free: the margin rule's figure,
    and without margin never more than the free cash."""
    free = max(account.cash - account.held, ZERO)
    if not rules.margin and not account.short_value:
        return free
    power = (
        account.equity * HUNDRED / rules.initial_margin_percent - account.positions - account.held
    ).quantize(CENT, ROUND_FLOOR)
    if account.short_value:
        power = max(power, ZERO)
        return power if rules.margin else min(power, free)
    return max(power, free)


def initial_requirement(rules: Rulebook, account: MarginAccount, *, adds=ZERO) -> Decimal:
    """The equity the initial margin asks of the account's positions and open buys, with
    `adds` more of positions: rounded up to the cent, so whole-cent equity meets it exactly
    when it meets the unrounded figure."""
    carried = account.positions + account.held + adds
    return (rules.initial_margin_percent * carried / HUNDRED).quantize(CENT, ROUND_CEILING)


def check_margin(
    rules: Rulebook, account: MarginAccount, *, need: Decimal, adds: Decimal, commission: Decimal
) -> Refusal | None:
    """A buy (or an open buy's hold) that costs `need` and adds `adds` of positions: allowed
    when the free cash pays for it and the account has no short positions; otherwise (with
    margin, borrowing; or spending a short sale's proceeds) when the equity left after the
    commission is at least the initial margin of every position and open buy, this one
    included. None when borrowing where the class has no margin: the cash check refuses
    what cash cannot pay."""
    borrowing = need > account.cash - account.held
    if borrowing and not rules.margin:
        return None
    if not borrowing and not account.short_value:
        return None
    if account.equity - commission >= initial_requirement(rules, account, adds=adds):
        return None
    power = buying_power(rules, account)
    return Refusal(
        "margin",
        f"Not enough buying power: this needs ${need:,.2f}, and your buying power is "
        f"${power:,.2f} (your equity of ${to_cents(account.equity):,.2f} ÷ the "
        f"{percent(rules.initial_margin_percent)} % initial margin, less what your positions "
        "and open orders use).",
    )


def check_short_margin(
    rules: Rulebook, account: MarginAccount, *, adds: Decimal, commission: Decimal
) -> Refusal | None:
    """A short sale of `adds` (its value at the price): its proceeds are cash, and the
    position owes as much, so the equity does not change; what it needs is equity, after
    the commission, of at least the initial margin of every position and open buy, this
    one included (Regulation T's 150 % of the short's value, the proceeds counted)."""
    required = initial_requirement(rules, account, adds=adds)
    if account.equity - commission >= required:
        return None
    return Refusal(
        "margin",
        f"Not enough equity to sell this short: it needs ${required:,.2f} of equity (the "
        f"{percent(rules.initial_margin_percent)} % initial margin of your positions, this "
        f"one included), and yours is ${to_cents(account.equity - commission):,.2f}.",
    )


# A year of interest is this many simulated trading days: a day's interest is 1/252 of the
# yearly rate, charged (or paid) at the day's close.
TRADING_DAYS_A_YEAR = 252


def daily_interest(amount: Decimal, rate_percent: Decimal) -> Decimal:
    """A day's interest on `amount` at `rate_percent` a year: amount × rate / 100 / 252, in
    whole cents (half away from zero). $10,000 at 8 %: $3.17."""
    return to_cents(amount * rate_percent / HUNDRED / TRADING_DAYS_A_YEAR)


def loan_after(account: MarginAccount, *, spend: Decimal = ZERO, hold: Decimal = ZERO) -> Decimal:
    """The margin loan an account needs once it spends `spend` and holds `hold` more: what
    its cash no longer covers of the holds."""
    return max(account.held + hold - (account.cash - spend), ZERO)


# Cash ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CashMovement:
    """A deposit or a withdrawal as the rules see it, under the student's balance lock."""

    kind: str  # DEPOSIT or WITHDRAWAL
    amount: Decimal
    at: datetime
    deposited: Decimal = ZERO  # the student's own deposits so far (Rulebook.counts_deposits)


def cash_window(rules: Rulebook, movement: CashMovement) -> Refusal | None:
    """Cash moves before the class starts (a student may get ready), not after it ends."""
    return rules.check_ended(movement.at, what=f"{movement.kind}s")


def deposits_open(rules: Rulebook, movement: CashMovement) -> Refusal | None:
    if rules.deposits_open:
        return None
    return Refusal(
        "deposits_open",
        "Deposits are closed for this class: your instructor has turned them off.",
    )


def max_total_deposits(rules: Rulebook, movement: CashMovement) -> Refusal | None:
    """The cap on deposits beyond the starting cash: reaching it exactly is allowed."""
    room = rules.deposit_room(movement.deposited)
    if room is None or movement.amount <= room:
        return None
    cap = rules.max_total_deposits
    if room == 0:
        return Refusal(
            "max_total_deposits",
            f"You have reached the class limit of ${cap:,.2f} in deposits, so no more "
            "deposits are possible.",
        )
    return Refusal(
        "max_total_deposits",
        f"Deposits are capped at ${cap:,.2f} per student; you can deposit at most "
        f"${room:,.2f} more.",
    )


def withdrawals_open(rules: Rulebook, movement: CashMovement) -> Refusal | None:
    if rules.withdrawals_open:
        return None
    return Refusal(
        "withdrawals_open",
        "Withdrawals are closed for this class: your instructor has turned them off.",
    )


DEPOSIT_RULES: tuple[Callable[[Rulebook, CashMovement], Refusal | None], ...] = (
    cash_window,
    deposits_open,
    max_total_deposits,
)
WITHDRAWAL_RULES: tuple[Callable[[Rulebook, CashMovement], Refusal | None], ...] = (
    cash_window,
    withdrawals_open,
)


def check_deposit(rules: Rulebook, movement: CashMovement) -> Refusal | None:
    return _first_refusal(DEPOSIT_RULES, rules, movement)


def check_withdrawal(rules: Rulebook, movement: CashMovement) -> Refusal | None:
    return _first_refusal(WITHDRAWAL_RULES, rules, movement)


def _first_refusal(checks, rules: Rulebook, facts) -> Refusal | None:
    for check in checks:
        refusal = check(rules, facts)
        if refusal is not None:
            return refusal
    return None


# Words --------------------------------------------------------------------------------


def percent(value: Decimal, *, above: Decimal | None = None) -> str:
    """25.00 → "25", 12.50 → "12.5". With `above` (a limit the value is over): rounded to
    as few decimals as still show it over the limit (30.6 → "31", but 25.04 → "25.04")."""
    if above is None:
        return f"{value.normalize():f}"
    for places in (0, 1, 2):
        shown = value.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)
        if shown > above:
            return f"{shown.normalize():f}"
    return f"{value.quantize(Decimal('0.01'), ROUND_UP):f}"


def when(moment: datetime) -> str:
    """ "Mon 12 Jan at 09:30" in the site's time zone (the year when it is not this one)."""
    local = timezone.localtime(moment)
    year = "" if local.year == timezone.localtime().year else f" {local.year}"
    return f"{local:%a} {local.day} {local:%b}{year} at {local:%H:%M}"


def rulebook_for(user) -> Rulebook:
    """The rules `user` plays by: their class's, or the settings' for a student in no
    class. One query when the user is in a class, none otherwise."""
    classroom_id = getattr(user, "classroom_id", None)
    if classroom_id is None:
        return Rulebook.from_settings()
    classroom = Classroom.objects.filter(pk=classroom_id).first()
    return Rulebook.from_classroom(classroom) if classroom else Rulebook.from_settings()
