"""Stock splits: scheduling, cancelling, and applying them at the open of their day.

A split of numerator/denominator (2/1 for 2-for-1, 3/2 for 3-for-2, 1/10 for a 1-for-10
reverse split) turns every share into numerator/denominator shares, so the price is
divided by that ratio. Nobody's value moves: the apps above the market adjust what they
keep (holdings, open orders, cash in lieu of fractions) through settings.SPLIT_HANDLERS.

Scheduling and cancelling take the market lock, as cancelling a market event does, so a
split is applied or cancelled, never both. The tick that opens a trading day
(prices.services._tick, with the market lock held) calls `open_day`, inside its own
transaction and before it reads the market's rows: it applies the splits due that day
(prices, the price history the charts show, then the handlers, in that transaction) and
announces the automatic ones (MarketParameters.split_above_price).
"""

import logging
import math
import re
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from math import gcd

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.module_loading import import_string

from prices import news, quote_cache
from prices.models import MarketParameters, Price, PriceHistory, Split, what_shares_become
from prices.services import (
    InvalidMarketInput,
    MarketError,
    UnknownSymbols,
    _lock_market,
    normalize_symbol,
)
from tradesim import audit
from tradesim.models import AuditEntry
from tradesim.money import CENT, ratio_of

logger = logging.getLogger("tradesim.prices")

# The ratios the admin offers, as (numerator, denominator).
RATIOS = [(3, 2), (2, 1), (3, 1), (4, 1), (5, 1), (10, 1), (1, 2), (1, 3), (1, 4), (1, 5), (1, 10)]
RATIO_RANGE = "A split is from 3-for-2 to 10-for-1, or a reverse split from 1-for-2 to 1-for-10."
MAX_DAYS_AHEAD = 252  # a simulated year
# The lowest price a split may leave: below it the price's rounding to the cent would move
# the holders' value by more than half a percent (a $0.05 stock split 10-for-1 would
# double it), so such a split is refused when scheduled and called off on its day.
MIN_SPLIT_PRICE = Decimal("1.00")
_RATIO_TEXT = re.compile(r"^\s*(\d{1,2})\s*(?:-\s*for\s*-|:|/|\s+for\s+)\s*(\d{1,2})\s*$", re.I)


def parse_ratio(ratio) -> tuple[int, int]:
    """(numerator, denominator) from (2, 1), "2-for-1", "2:1", "2/1" or "2 for 1".
    InvalidMarketInput for anything outside RATIO_RANGE or not in lowest terms."""
    if isinstance(ratio, tuple | list) and len(ratio) == 2:
        numerator, denominator = ratio
    else:
        match = _RATIO_TEXT.match(str(ratio or ""))
        if match is None:
            raise InvalidMarketInput(
                f"“{str(ratio)[:20]}” is not a split ratio: write it as 2-for-1, 3-for-2 or "
                "1-for-10."
            )
        numerator, denominator = int(match[1]), int(match[2])
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in (numerator, denominator)):
        raise InvalidMarketInput("A split ratio is two whole numbers, such as 2-for-1.")
    if numerator == denominator:
        raise InvalidMarketInput(
            f"A {numerator}-for-{denominator} split changes nothing. {RATIO_RANGE}"
        )
    forward = (
        denominator <= 10 and 2 * numerator >= 3 * denominator and numerator <= 10 * denominator
    )
    reverse = numerator == 1 and 2 <= denominator <= 10
    if numerator < 1 or denominator < 1 or not (forward or reverse):
        raise InvalidMarketInput(RATIO_RANGE)
    if gcd(numerator, denominator) != 1:
        k = gcd(numerator, denominator)
        raise InvalidMarketInput(
            f"Write the ratio in lowest terms: {numerator // k}-for-{denominator // k}."
        )
    return numerator, denominator


def ratio_text(numerator: int, denominator: int) -> str:
    return f"{numerator}-for-{denominator}"


def split_price(price: Decimal, numerator: int, denominator: int) -> Decimal:
    """A price after the split: divided by the ratio, to the cent, half up (a cent at least)."""
    new = (Decimal(price) * denominator / numerator).quantize(CENT, rounding=ROUND_HALF_UP)
    return max(new, CENT)


def _too_low(symbol: str, price: Decimal, numerator: int, denominator: int) -> str | None:
    """Why a split of `symbol` at `price` may not happen, or None."""
    if split_price(price, numerator, denominator) >= MIN_SPLIT_PRICE:
        return None
    return (
        f"{symbol} at ${price:,.2f} would trade at ${price * denominator / numerator:,.4f} "
        f"after a {ratio_text(numerator, denominator)} split: a split must leave the price "
        f"at ${MIN_SPLIT_PRICE} or more."
    )


def called_off(symbol: str, numerator: int, denominator: int, reason: str) -> news.Draft:
    return news.headline(
        news.Kind.SPLIT,
        f"{symbol}'s {ratio_text(numerator, denominator)} split is called off: {reason}",
        symbol=symbol,
    )


def announcement(symbol: str, numerator: int, denominator: int, day: int) -> news.Draft:
    kind = "reverse split" if numerator < denominator else "split"
    return news.headline(
        news.Kind.SPLIT,
        f"{symbol} announces a {ratio_text(numerator, denominator)} {kind}, effective on day {day}",
        symbol=symbol,
    )


def on_the_day(symbol: str, numerator: int, denominator: int) -> news.Draft:
    kind = "reverse-splits" if numerator < denominator else "splits"
    return news.headline(
        news.Kind.SPLIT,
        f"{symbol} {kind} {ratio_text(numerator, denominator)} today: "
        f"{what_shares_become(numerator, denominator)}",
        symbol=symbol,
    )


# Instructors ----------------------------------------------------------------------------


def schedule_split(
    *,
    symbol: str,
    ratio,
    effective_day: int | None = None,
    days_ahead: int | None = None,
    by=None,
    now: datetime | None = None,
) -> Split:
    """Announce a split of `symbol` taking effect at the open of `effective_day`, or
    `days_ahead` trading days after today (default: MarketParameters.split_notice_days).

    Takes the market lock first (waiting for a running tick), so the day it reads is the
    day the tick will open next. Refused, with a message for the instructor: a ratio out of
    range, an unknown symbol, an index fund, a day that is not after today, and a stock
    that has a split announced already. Publishes the announcement's headline at once and,
    with `by`, writes one audit entry, all in one transaction."""
    symbol = normalize_symbol(symbol)
    numerator, denominator = parse_ratio(ratio)
    if effective_day is not None and days_ahead is not None:
        raise InvalidMarketInput("Give the day of the split or the days ahead, not both.")
    for value, label in ((effective_day, "The day"), (days_ahead, "The days ahead")):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise InvalidMarketInput(f"{label} must be a whole number.")
    now = now or timezone.now()
    with transaction.atomic():
        state = _lock_market(wait=True)
        today = state.trading_day + 1
        if effective_day is None:
            if days_ahead is None:
                days_ahead = MarketParameters.current().split_notice_days
            effective_day = today + days_ahead
        if effective_day <= today:
            raise InvalidMarketInput(
                f"Today is trading day {today}: a split takes effect on a later day "
                f"(day {today + 1} at the earliest)."
            )
        if effective_day > today + MAX_DAYS_AHEAD:
            raise InvalidMarketInput(
                f"A split is announced at most {MAX_DAYS_AHEAD} trading days ahead "
                f"(day {today + MAX_DAYS_AHEAD})."
            )
        stock = Price.objects.filter(symbol=symbol).values_list("is_index", "price").first()
        if stock is None:
            raise UnknownSymbols(f"No such symbol: {symbol}.", symbols=[symbol])
        if stock[0]:
            raise InvalidMarketInput(f"{symbol} is an index fund: it does not split.")
        if reason := _too_low(symbol, stock[1], numerator, denominator):
            raise InvalidMarketInput(reason)
        pending = Split.objects.filter(
            stock_id=symbol, applied_at__isnull=True, cancelled_at__isnull=True
        ).first()
        if pending is not None:
            raise MarketError(
                f"{symbol} already has a {pending.ratio_text} split announced for day "
                f"{pending.effective_day}: cancel it first."
            )
        split = Split.objects.create(
            stock_id=symbol,
            numerator=numerator,
            denominator=denominator,
            announced_day=today,
            effective_day=effective_day,
            created_by=by,
            created_at=now,
        )
        news.publish(
            [announcement(symbol, numerator, denominator, effective_day)], day=today, at=now
        )
        if by is not None:
            audit.record(
                actor=by,
                action=AuditEntry.Action.SCHEDULE_SPLIT,
                symbol=symbol,
                detail=f"{split.ratio_text} on day {effective_day}",
            )
        transaction.on_commit(quote_cache.invalidate)
    logger.info("Scheduled split %s", split)
    return split


def cancel_split(*, split_id, by=None, now: datetime | None = None) -> Split:
    """Cancel a split that has not taken effect. Takes the market lock first, as the tick
    does before it applies splits, and stamps the split with a conditional UPDATE: a split
    is applied or cancelled, never both. MarketError, saying why, for a split already
    applied or cancelled or one that does not exist. Audited when `by` is given."""
    now = now or timezone.now()
    try:
        split_id = int(split_id)
    except (TypeError, ValueError):
        raise MarketError("There is no such split.") from None
    with transaction.atomic():
        _lock_market(wait=True)
        stamped = Split.objects.filter(
            pk=split_id, applied_at__isnull=True, cancelled_at__isnull=True
        ).update(cancelled_at=now, cancelled_by=by)
        split = Split.objects.filter(pk=split_id).first()
        if split is None:
            raise MarketError("There is no such split.")
        if not stamped:
            if split.applied_at is not None:
                raise MarketError(
                    f"The {split} took effect already: it cannot be cancelled. Schedule "
                    "the opposite split to undo it."
                )
            raise MarketError(f"The {split} was cancelled already.")
        if by is not None:
            audit.record(
                actor=by,
                action=AuditEntry.Action.CANCEL_SPLIT,
                symbol=split.stock_id,
                detail=f"{split.ratio_text} on day {split.effective_day}",
            )
        transaction.on_commit(quote_cache.invalidate)
    logger.info("Cancelled split %s", split)
    return split


# The tick -------------------------------------------------------------------------------


def open_day(*, day: int, now: datetime, drafts: list, params: MarketParameters) -> int:
    """At the tick that opens trading day `day`, with the market lock held and the
    previous closes rolled: apply the splits due (effective on `day` or before), then
    announce the automatic ones. Appends the headlines to `drafts`; returns how many splits
    were applied. A split that would leave the price below MIN_SPLIT_PRICE (the price fell
    since it was announced) is called off instead, with a headline. Queries: one to find
    the due splits, then for each split a fixed number
    (prices, history, the split's row, and the handlers' own fixed counts), then one for
    the automatic announcements (one more when there are any)."""
    due = list(
        Split.objects.filter(
            applied_at__isnull=True, cancelled_at__isnull=True, effective_day__lte=day
        )
        .order_by("stock_id")
        .values_list(
            "id", "stock_id", "numerator", "denominator", "stock__price", "stock__log_price"
        )
    )
    applied = 0
    for split_id, symbol, numerator, denominator, price, log_price in due:
        if reason := _too_low(symbol, price, numerator, denominator):
            # The price fell since the split was announced: it is called off, and says so.
            Split.objects.filter(id=split_id).update(cancelled_at=now)
            drafts.append(called_off(symbol, numerator, denominator, reason))
            logger.info("Called off split %s of %s: %s", split_id, symbol, reason)
            continue
        applied += 1
        _apply(
            split_id,
            symbol,
            numerator,
            denominator,
            price=price,
            log_price=log_price,
            day=day,
            now=now,
        )
        drafts.append(on_the_day(symbol, numerator, denominator))
    drafts.extend(_announce_automatic(day=day, now=now, parameters=params))
    return applied


def _apply(split_id, symbol, numerator, denominator, *, price, log_price, day, now) -> None:
    new_price = split_price(price, numerator, denominator)
    # The price's previous close was rolled to this price by the tick: it splits with it.
    Price.objects.filter(symbol=symbol).update(
        price=new_price,
        previous_close=new_price,
        log_price=log_price - math.log(numerator / denominator),
    )
    # The price history the charts show, in one UPDATE: the series continues without a gap.
    PriceHistory.objects.filter(stock_id=symbol).update(
        price=ratio_of("price", numerator, denominator, places=2, at_least=CENT)
    )
    Split.objects.filter(pk=split_id).update(applied_at=now)
    for path in settings.SPLIT_HANDLERS:
        import_string(path)(
            symbol=symbol,
            numerator=numerator,
            denominator=denominator,
            price=new_price,
            day=day,
            now=now,
        )
    logger.info("Applied split %s %s at %s", symbol, ratio_text(numerator, denominator), new_price)


def _announce_automatic(
    *, day: int, now: datetime, parameters: MarketParameters
) -> list[news.Draft]:
    """A stock (not an index fund) that closed above MarketParameters.split_above_price
    and has no split announced gets a 2-for-1 (3-for-1 above three times the price),
    effective split_notice_days ahead."""
    threshold = parameters.split_above_price
    if threshold is None:
        return []
    pending = Split.objects.filter(
        stock_id=OuterRef("symbol"), applied_at__isnull=True, cancelled_at__isnull=True
    )
    candidates = list(
        Price.objects.filter(is_index=False, previous_close__gt=threshold)
        .exclude(Exists(pending))
        .order_by("symbol")
        .values_list("symbol", "previous_close")
    )
    if not candidates:
        return []
    effective = day + parameters.split_notice_days
    splits = [
        Split(
            stock_id=symbol,
            numerator=3 if close > 3 * threshold else 2,
            denominator=1,
            announced_day=day,
            effective_day=effective,
            created_at=now,
        )
        for symbol, close in candidates
    ]
    Split.objects.bulk_create(splits)
    return [announcement(s.stock_id, s.numerator, 1, effective) for s in splits]
