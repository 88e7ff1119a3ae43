"""Writes to positions and portfolio snapshots.

`add_shares` and `remove_shares`: trading calls these inside its own transaction, after it
has locked the user's balance row (lock order: balance, then holding, then summary).

`take_snapshots` and `after_tick`: the value history and the unit-value state behind the
time-weighted return, written in bulk for every student (see portfolio.units for the
method and portfolio.selectors for the valuation).
"""

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from portfolio import selectors
from portfolio.models import Holding, PortfolioSnapshot, PortfolioSummary
from portfolio.units import next_state
from tradesim import rows
from tradesim.money import ratio_of, to_4dp, to_cents

logger = logging.getLogger("tradesim.portfolio")

# Any fixed number: it names the PostgreSQL advisory lock that keeps snapshots one at a time.
SNAPSHOT_LOCK_KEY = 7_460_001
# The most shares one holding can record: holdings.quantity is a PositiveIntegerField, a
# 4-byte integer on PostgreSQL. The same limit on SQLite, which would store more.
MAX_SHARES_HELD = 2_147_483_647

PERIOD_RETURN_PLACES = Decimal("0.0000000001")


class PositionError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotEnoughShares(PositionError):
    pass


class PositionLimit(PositionError):
    pass


def add_shares(*, user, symbol: str, quantity: int, price: Decimal) -> Holding:
    """Add `quantity` shares bought at `price` to the user's holding, creating it if new.

    Guarantees: the average price becomes the quantity-weighted mean of the old average and
    `price`, to 4 places; the shares bought in the current trading day (day_quantity, for
    "Today") grow by `quantity` and their average price likewise, or start again from this
    purchase when the ones recorded are from an earlier day; the holding stays within
    MAX_SHARES_HELD shares (PositionLimit, checked on the locked row, before any write).
    Locks: the user's holding row for `symbol` (when it exists).
    """
    if quantity <= 0:
        raise ValueError("quantity must be positive")
    now = timezone.now()
    # No savepoint inside a caller's transaction (a trade): a database error must abort the
    # whole trade anyway, and the refusal is raised after the block, having written nothing,
    # so a caller may still go on. Single statements (tradesim.rows): this runs in every buy.
    with transaction.atomic(savepoint=False):
        held = _lock_holding(user, symbol)
        if held is not None and held.quantity < 0:
            raise PositionError(
                f"You are short {_shares(-held.quantity)} of {symbol}: buy to cover them "
                "before you buy."
            )
        old_quantity = 0 if held is None else held.quantity
        if old_quantity + quantity <= MAX_SHARES_HELD:
            if held is None:
                return rows.create(
                    Holding,
                    user=user.pk,
                    stock=symbol,
                    quantity=quantity,
                    average_price=to_4dp(price),
                    last_updated=now,
                    day_quantity=quantity,
                    day_average_price=to_4dp(price),
                    day_bought_at=now,
                )
            total_cost = held.average_price * held.quantity + price * quantity
            new_quantity = held.quantity + quantity
            changes = {
                "quantity": new_quantity,
                "average_price": to_4dp(total_cost / new_quantity),
                "last_updated": now,
            }
            if held.day_quantity:
                day_cost = held.day_average_price * held.day_quantity + price * quantity
                changes["day_quantity"] = held.day_quantity + quantity
                changes["day_average_price"] = to_4dp(day_cost / changes["day_quantity"])
            else:  # the first purchase of the day
                changes.update(
                    day_quantity=quantity, day_average_price=to_4dp(price), day_bought_at=now
                )
            rows.update(Holding, {"id": held.id}, **changes)
            return rows.loaded(Holding, held.id, user_id=user.pk, stock_id=symbol, **changes)
    room = MAX_SHARES_HELD - old_quantity
    can = f"you can buy at most {room:,} more" if room else "you cannot buy more"
    raise PositionLimit(
        f"One holding can have at most {MAX_SHARES_HELD:,} shares. You hold "
        f"{old_quantity:,} {symbol}, so {can}."
    )


@dataclass(frozen=True)
class _Held:
    id: int
    quantity: int
    average_price: Decimal
    day_quantity: int  # shares bought in the current trading day, still held
    day_average_price: Decimal | None
    held_quantity: int  # shares set aside for open sell orders


# The day's purchases are compared in SQL, as trading counts a day's trades; with no market
# clock yet (no market_state row) every recorded purchase is today's.
_LOCK_HOLDING_SQL = (
    "SELECT h.id, h.quantity, h.average_price,"
    " CASE WHEN h.day_bought_at >= COALESCE("
    "(SELECT m.day_started_at FROM market_state m WHERE m.id = 1), h.day_bought_at)"
    " THEN h.day_quantity ELSE 0 END,"
    " h.day_average_price, h.held_quantity"
    " FROM holdings h WHERE h.user_id = %s AND h.symbol = %s"
)


def _lock_holding(user, symbol: str) -> _Held | None:
    """The user's holding of `symbol`, row locked; None if they hold none. Its day_quantity
    is 0 when the shares it records were bought before the current trading day began (or
    the market has no clock yet and none were recorded)."""
    row = rows.fetch_one(_LOCK_HOLDING_SQL + rows.for_update(), [user.pk, symbol])
    if row is None:
        return None
    return _Held(row[0], row[1], rows.decimal(row[2], 4), row[3], rows.decimal(row[4], 4), row[5])


def _shares(count: int) -> str:
    return f"{count:,} share{'s' if count != 1 else ''}"


def _not_enough(symbol: str, quantity: int, owned: int, held: int, verb: str) -> NotEnoughShares:
    if held:
        return NotEnoughShares(
            f"You hold {_shares(owned)} of {symbol}, and {held:,} of them are held for your "
            f"open sell orders, so you can {verb} {owned - held:,}, not {quantity:,}."
        )
    plural = "s" if owned != 1 else ""
    return NotEnoughShares(
        f"You hold {owned:,} {symbol} share{plural}; you cannot {verb} {quantity:,}."
    )


def hold_shares(*, user, symbol: str, quantity: int, short: bool = False) -> int:
    """Set `quantity` of the user's free shares of `symbol` aside for an open sell order
    (with `short`, of their short shares for an open buy to cover); return how many they
    then hold for orders. NotEnoughShares, checked on the locked row, if fewer are free
    (owned, or short, less those held already), so no two orders sell (or cover) one share.
    Locks: the user's holding row for `symbol` (the caller holds the balance lock first).
    """
    if quantity <= 0:
        raise ValueError("quantity must be positive")
    with transaction.atomic(savepoint=False):
        found = _lock_holding(user, symbol)
        owned = _side_quantity(found, short=short)
        held = 0 if found is None or not owned else found.held_quantity
        if quantity > owned - held:
            if short:
                raise _not_enough_short(symbol, quantity, owned, held)
            raise _not_enough(symbol, quantity, owned, held, "sell")
        rows.update(Holding, {"id": found.id}, held_quantity=held + quantity)
        return held + quantity


def _side_quantity(found: _Held | None, *, short: bool) -> int:
    """The shares a holding has on one side: owned (a long position) or short."""
    if found is None:
        return 0
    return max(-found.quantity, 0) if short else max(found.quantity, 0)


def _not_enough_short(symbol: str, quantity: int, short: int, held: int) -> NotEnoughShares:
    if not short:
        return NotEnoughShares(f"You are not short {symbol}: there is nothing to buy to cover.")
    if held:
        return NotEnoughShares(
            f"You are short {_shares(short)} of {symbol}, and {held:,} of them are held for "
            f"your open buy-to-cover orders, so you can cover {short - held:,}, not "
            f"{quantity:,}."
        )
    return NotEnoughShares(
        f"You are short {_shares(short)} of {symbol}; you cannot cover {quantity:,}."
    )


def release_shares(*, user, symbol: str, quantity: int) -> None:
    """Free `quantity` shares of `symbol` held for an order that was cancelled, expired or
    rejected. Locks: the user's holding row for `symbol`."""
    if quantity <= 0:
        return
    with transaction.atomic(savepoint=False):
        found = _lock_holding(user, symbol)
        if found is None or found.held_quantity < quantity:
            raise PositionError(f"Cannot release {quantity:,} {symbol}: fewer are held.")
        rows.update(Holding, {"id": found.id}, held_quantity=found.held_quantity - quantity)


def remove_shares(
    *, user, symbol: str, quantity: int, price: Decimal, from_hold: int = 0
) -> Decimal:
    """Take `quantity` shares sold at `price` out of the user's holding; return the realized
    P/L (proceeds minus the average cost of the shares sold, in cents) and add it to the
    user's summary. A holding that reaches zero is deleted; the average price of what is
    left does not change. The shares sold come out of those held before the current trading
    day first, then out of the day's purchases (day_quantity), whose average price stays.

    `from_hold`: how many of the shares come out of those held for the open sell order
    being filled (its hold ends with the sale); the rest must be free shares.
    Raises NotEnoughShares, checked on the locked row. Locks: the holding row, then the
    user's summary row.
    """
    if quantity <= 0 or not 0 <= from_hold <= quantity:
        raise ValueError("quantity must be positive, and from_hold within it")
    # As in add_shares: no savepoint (the refusal comes before any write), single
    # statements (this runs in every sell).
    with transaction.atomic(savepoint=False):
        found = _lock_holding(user, symbol)
        if found is not None and found.quantity < 0:
            raise NotEnoughShares(
                f"You own no {symbol}: you are short {_shares(-found.quantity)}. Buy to cover "
                "to close a short position."
            )
        held = 0 if found is None else found.quantity
        reserved = 0 if found is None else found.held_quantity
        if from_hold > reserved or quantity - from_hold > held - reserved:
            raise _not_enough(symbol, quantity, held, reserved - from_hold, "sell")
        realized = to_cents(price * quantity) - to_cents(found.average_price * quantity)
        now = timezone.now()
        if quantity == held:
            with connection.cursor() as cursor:
                cursor.execute("DELETE FROM holdings WHERE id = %s", [found.id])
        else:
            # The shares held longest go first: today's purchases only once the shares held
            # before today are all sold. (An earlier day's record is cleared: 0.)
            from_today = max(quantity - (held - found.day_quantity), 0)
            rows.update(
                Holding,
                {"id": found.id},
                quantity=held - quantity,
                last_updated=now,
                day_quantity=found.day_quantity - from_today,
                held_quantity=reserved - from_hold,
            )
        _add_realized(user, realized, now)
        return realized


def open_short(*, user, symbol: str, quantity: int, price: Decimal) -> Holding:
    """Sell `quantity` shares of `symbol` short at `price`: the user's holding goes (further)
    below zero. Guarantees, as add_shares for a purchase: the average short price becomes
    the quantity-weighted mean, to 4 places; the shares shorted in the current trading day
    (day_quantity, counted as a positive number) and their average price likewise; the
    position stays within MAX_SHARES_HELD shares (PositionLimit). A user who owns shares of
    the symbol sells them first (PositionError): a holding is long or short, never both.
    Locks: the user's holding row for `symbol` (when it exists)."""
    if quantity <= 0:
        raise ValueError("quantity must be positive")
    now = timezone.now()
    with transaction.atomic(savepoint=False):
        held = _lock_holding(user, symbol)
        if held is not None and held.quantity > 0:
            raise PositionError(
                f"You own {_shares(held.quantity)} of {symbol}: sell them before you sell short."
            )
        short = 0 if held is None else -held.quantity
        if short + quantity > MAX_SHARES_HELD:
            room = MAX_SHARES_HELD - short
            can = f"you can sell at most {room:,} more short" if room else "you cannot short more"
            raise PositionLimit(
                f"One position can have at most {MAX_SHARES_HELD:,} shares. You are short "
                f"{short:,} {symbol}, so {can}."
            )
        if held is None:
            return rows.create(
                Holding,
                user=user.pk,
                stock=symbol,
                quantity=-quantity,
                average_price=to_4dp(price),
                last_updated=now,
                day_quantity=quantity,
                day_average_price=to_4dp(price),
                day_bought_at=now,
            )
        new_short = short + quantity
        changes = {
            "quantity": -new_short,
            "average_price": to_4dp((held.average_price * short + price * quantity) / new_short),
            "last_updated": now,
        }
        if held.day_quantity:
            day_value = held.day_average_price * held.day_quantity + price * quantity
            changes["day_quantity"] = held.day_quantity + quantity
            changes["day_average_price"] = to_4dp(day_value / changes["day_quantity"])
        else:
            changes.update(
                day_quantity=quantity, day_average_price=to_4dp(price), day_bought_at=now
            )
        rows.update(Holding, {"id": held.id}, **changes)
        return rows.loaded(Holding, held.id, user_id=user.pk, stock_id=symbol, **changes)


def cover_short(*, user, symbol: str, quantity: int, price: Decimal, from_hold: int = 0) -> Decimal:
    """Buy `quantity` shares of `symbol` at `price` to cover the user's short position;
    return the realized P/L (the average short price minus the cover price, times the
    shares, in cents) and add it to the user's summary. A position that reaches zero is
    deleted; the average short price of what is left does not change. As remove_shares: the
    shares shorted before today are covered first; `from_hold`: how many come out of those
    held for the open buy-to-cover order being filled. NotEnoughShares, checked on the
    locked row. Locks: the holding row, then the user's summary row."""
    if quantity <= 0 or not 0 <= from_hold <= quantity:
        raise ValueError("quantity must be positive, and from_hold within it")
    with transaction.atomic(savepoint=False):
        found = _lock_holding(user, symbol)
        short = _side_quantity(found, short=True)
        reserved = found.held_quantity if short else 0
        if from_hold > reserved or quantity - from_hold > short - reserved:
            raise _not_enough_short(symbol, quantity, short, reserved - from_hold)
        realized = to_cents(found.average_price * quantity) - to_cents(price * quantity)
        now = timezone.now()
        if quantity == short:
            with connection.cursor() as cursor:
                cursor.execute("DELETE FROM holdings WHERE id = %s", [found.id])
        else:
            from_today = max(quantity - (short - found.day_quantity), 0)
            rows.update(
                Holding,
                {"id": found.id},
                quantity=-(short - quantity),
                last_updated=now,
                day_quantity=found.day_quantity - from_today,
                held_quantity=reserved - from_hold,
            )
        _add_realized(user, realized, now)
        return realized


def _add_realized(user, realized: Decimal, now) -> None:
    """Add to the user's realized P/L, creating their summary row if they have none; the
    UPDATE locks the row, as select_for_update() would."""
    with connection.cursor() as cursor:
        cursor.execute(
            # ROUND: exact on PostgreSQL's numeric; on SQLite, which adds in floating
            # point, it keeps the stored sum at whole cents instead of letting it drift.
            "UPDATE portfolio_summaries SET realized_pnl = ROUND(realized_pnl + %s, 2),"
            " last_updated = %s WHERE user_id = %s",
            [
                *rows.prepared(PortfolioSummary, {"realized_pnl": realized, "last_updated": now}),
                user.pk,
            ],
        )
        if cursor.rowcount:
            return
    summary, created = PortfolioSummary.objects.get_or_create(
        user=user, defaults={"realized_pnl": realized, "last_updated": now}
    )
    if not created:  # made meanwhile (by a snapshot): add to it
        _add_realized(user, realized, now)


def _lock_snapshots() -> None:
    """Hold the snapshot lock until the transaction ends, so snapshot runs take turns: each
    reads the unit state the previous one committed (two interleaved runs would overwrite
    each other's peak and drawdown), and a repeated run for the same moment sees that it
    was done. On SQLite the IMMEDIATE transaction already lets one writer in at a time."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SNAPSHOT_LOCK_KEY])


def take_snapshots(
    *,
    timestamp: datetime,
    prices_before: datetime | None = None,
    only_with_flows: bool = False,
    regular: bool = False,
) -> int:
    """Value every student now and write one snapshot each, in bulk; return how many.

    For each student: cash + Σ quantity × current price, net contributions from the journal,
    and the unit-value state carried forward (portfolio.units.next_state): the external
    flows since their last snapshot buy or redeem units at the unit value just before them,
    measured at the prices before `prices_before` (the tick that just moved the market;
    None for a snapshot between ticks, when nothing has moved since the flows).

    `only_with_flows` snapshots just the students with flows not yet turned into units (and
    those never snapshotted). Students already snapshotted at or after `timestamp` are
    skipped, so a repeated call for the same tick writes nothing twice.

    `regular` marks the snapshots of the cadence (after_tick's every N ticks): each carries
    its period return, the unit value's change since the student's previous regular
    snapshot (none on their first), which the risk-adjusted ranking reads.

    Guarantees: all of it or nothing, in one transaction, in a fixed number of queries
    whatever the number of students (the snapshot lock, one valuation query, one
    bulk_create of snapshots, one upsert of the summaries; SQLite splits bulk writes into
    batches of 999 parameters). The summaries' realized P/L is never touched.
    Locks: the snapshot advisory lock (PostgreSQL); the summary rows it upserts.
    """
    with transaction.atomic():
        _lock_snapshots()
        rows = selectors.snapshot_valuations(
            prices_before=prices_before, only_with_flows=only_with_flows, before=timestamp
        )
        snapshots, summaries = [], []
        for row in rows:
            value_after = row["cash"] + row["market_value"]
            value_before = row["cash"] + row.get("market_value_before", row["market_value"])
            state = next_state(
                row["state"],
                value_before=value_before,
                value_after=value_after,
                net_contributions=row["net_contributions"],
            )
            regular_unit_value = row["regular_unit_value"]
            period_return = None
            if regular:
                period_return = _period_return(regular_unit_value, state.unit_value)
                regular_unit_value = state.unit_value
            snapshots.append(
                PortfolioSnapshot(
                    user_id=row["pk"],
                    timestamp=timestamp,
                    cash=row["cash"],
                    market_value=row["market_value"],
                    total_value=value_after,
                    net_contributions=row["net_contributions"],
                    units=state.units,
                    unit_value=state.unit_value,
                    period_return=period_return,
                )
            )
            summaries.append(
                PortfolioSummary(
                    user_id=row["pk"],
                    units=state.units,
                    unit_value=state.unit_value,
                    peak_unit_value=state.peak_unit_value,
                    max_drawdown=state.max_drawdown,
                    contributions_at_snapshot=state.contributions,
                    snapshot_at=timestamp,
                    regular_unit_value=regular_unit_value,
                )
            )
        if snapshots:
            PortfolioSnapshot.objects.bulk_create(snapshots)
            # An upsert: creates the summaries of students who never sold, and leaves
            # realized_pnl (kept by remove_shares) alone on the others.
            PortfolioSummary.objects.bulk_create(
                summaries,
                update_conflicts=True,
                unique_fields=["user"],
                update_fields=[
                    "units",
                    "unit_value",
                    "peak_unit_value",
                    "max_drawdown",
                    "contributions_at_snapshot",
                    "snapshot_at",
                    "regular_unit_value",
                ],
            )
    return len(snapshots)


def _period_return(previous: Decimal | None, unit_value: Decimal) -> Decimal | None:
    """unit_value / previous − 1 to ten places; None with no previous regular snapshot."""
    if previous is None or previous <= 0:
        return None
    return (unit_value / previous - 1).quantize(PERIOD_RETURN_PLACES, rounding=ROUND_HALF_UP)


def after_tick(*, ticks: int, timestamp: datetime) -> int:
    """The market's tick hook (settings.TICK_HOOKS), called after each committed tick.

    Every settings.SNAPSHOT_EVERY_TICKS ticks it snapshots every student; on the other
    ticks only the students who deposited or withdrew since their last snapshot, so that
    every flow is turned into units at the prices of the tick before it and the
    time-weighted return stays exact (0 or less turns the regular snapshots off, not that).
    The tick wrote its price history at `timestamp`, so "the prices before the tick" are
    the history rows before it. Returns the number of snapshots written.
    """
    every = settings.SNAPSHOT_EVERY_TICKS
    on_cadence = every > 0 and ticks % every == 0
    count = take_snapshots(
        timestamp=timestamp,
        prices_before=timestamp,
        only_with_flows=not on_cadence,
        regular=on_cadence,
    )
    if count:
        logger.info("portfolio snapshots tick=%s count=%s cadence=%s", ticks, count, on_cadence)
    return count


# Stock splits ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SplitCash:
    """Cash in lieu of a fraction of a share at a split: `shares` (a fraction, in
    denominators: 1 of 2 is half a share) at the new price, rounded to the cent."""

    user_id: int
    amount: Decimal
    fraction: str  # "1/2"


def split_holdings(
    *, symbol: str, numerator: int, denominator: int, price: Decimal, held_quantity, now=None
) -> list[SplitCash]:
    """Split every holding of `symbol` numerator-for-denominator, in a fixed number of
    statements whatever the number of holders; returns the cash in lieu owed to each
    holder a fraction of a share is left over for (the caller credits it).

    - A long holding of q shares becomes ⌊q·n/d⌋; the fraction left over is paid in cash at
      the new `price`. One that would come to no whole share (a reverse split of fewer
      shares than its ratio) is deleted: all of it is paid in cash.
    - A short position of q shares owed becomes ⌈q·n/d⌉ shares owed: the lender is owed
      whole shares, so the short rounds up, and the student is paid the part of a share it
      grew by, at the new price, so its value stays what it was.
    - The average price (and the day's average price) is divided by the ratio, to four
      places; the shares bought today are multiplied, rounded down.
    - held_quantity becomes `held_quantity` (an expression the caller computes from its open
      orders, already split), so what the holding holds is what its orders hold.

    Locks: the holding rows of `symbol` (the caller holds the balance locks before)."""
    now = now or timezone.now()
    n, d = numerator, denominator
    found = list(
        Holding.objects.select_for_update()
        .filter(stock_id=symbol)
        .order_by("id")
        .values_list("id", "user_id", "quantity")
    )
    cash, vanishing = [], []
    for holding_id, user_id, quantity in found:
        # In d-ths of a new share: the fraction a long is left with, or the part of a share
        # a short grows by to the whole share above (Python's % is never negative).
        parts = quantity * n % d
        if 0 < quantity * n < d:
            vanishing.append(holding_id)
        if parts:
            amount = to_cents(price * parts / d)
            if amount > 0:
                cash.append(SplitCash(user_id=user_id, amount=amount, fraction=f"{parts}/{d}"))
    if vanishing:
        Holding.objects.filter(id__in=vanishing).delete()
    if found:
        whole = F("quantity") * Value(n) / Value(d)
        owed = -((-F("quantity") * Value(n) + Value(d - 1)) / Value(d))

        def divided(name):
            return ratio_of(name, n, d, places=4, at_least=Decimal("0.0001"))

        Holding.objects.filter(stock_id=symbol).update(
            quantity=Case(When(quantity__gt=0, then=whole), default=owed),
            average_price=divided("average_price"),
            day_average_price=divided("day_average_price"),
            day_quantity=F("day_quantity") * Value(n) / Value(d),
            held_quantity=held_quantity,
            last_updated=now,
        )
    return cash
