"""Every write to the market: the tick, halts, simulation parameters, instructors' news
events, and listing symbols.

The market lock. `advance_market` and `set_halted` lock the single MarketState row first
(SELECT … FOR UPDATE; with NOWAIT unless asked to wait), so two ticks never run at once
and a halt lands between two ticks, never inside one. On SQLite the IMMEDIATE transaction
takes the database's write lock at BEGIN, which serializes them the same way (a second
writer waits up to the busy timeout). The row is locked for one tick only, so two
tickers could still take turns: a ticker also holds the ticker lock (prices.ticker) for
as long as it runs.

Price rows are not locked by the tick: the only other writers of price and log_price are
these services, and they hold the market lock. Trading reads the price row inside its own
transaction, so an order sees the price before or after a tick, never half of one.

"Previous close". The market runs continuously, so the engine keeps a simulated calendar:
each tick stands for `dt` of a trading day (one minute of a 6.5-hour day by default, so 390
ticks make a day). When the ticks of a day add up to a whole day, that day is closed; the
next tick opens a new one and first sets every symbol's previous close to its price at
that moment, the close of the day before. "Change since the previous close" is therefore
the change over the current simulated trading day, as on a real quote screen.
"""

import logging
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import partial

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import OperationalError, connection, transaction
from django.db.models import F, OuterRef, Subquery
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.module_loading import import_string

from prices import actions, bulk, news, quote_cache, scenarios
from prices.market_data import MARKET, Listing
from prices.models import (
    HistoryThinning,
    MarketEvent,
    MarketParameters,
    MarketState,
    Price,
    PriceHistory,
    TradingSession,
)
from prices.simulation import (
    CALM,
    MINUTES_PER_TRADING_DAY,
    ONE_MINUTE,
    REGIMES,
    TURBULENT,
    MarketModel,
    Stock,
    dollars,
    log_of,
    new_rng,
    step,
)
from tradesim import audit
from tradesim.models import AuditEntry
from tradesim.money import CENT

logger = logging.getLogger("tradesim.prices")

MAX_DT = 1.0  # a tick stands for at most one trading day
_DAY_EPSILON = 1e-9  # 390 × (1/390) adds up to 0.9999999999999…
_MARKET_OPEN = time(9, 30)
_SYMBOL_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")
SYMBOL_MAX_LENGTH = 10
THIN_HISTORY_EVERY_TICKS = 60  # how often a running market thins its old price history
MIN_LISTING_PRICE = CENT
MAX_LISTING_PRICE = Decimal("1000000000")
# A market event moving prices by more than this (either way) is asked to be confirmed.
LARGE_MOVE_PERCENT = Decimal("25")
LISTING_PRICE_RANGE = f"The price must be between ${MIN_LISTING_PRICE} and ${MAX_LISTING_PRICE:,}."


class MarketError(Exception):
    """A market operation that was refused; the message is meant for the operator."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class MarketBusy(MarketError):
    pass


class EmptyMarket(MarketError):
    pass


class UnknownSymbols(MarketError):
    def __init__(self, message: str, *, symbols: list[str]):
        super().__init__(message)
        self.symbols = symbols


class InvalidMarketInput(MarketError):
    pass


# Symbols --------------------------------------------------------------------------------


def normalize_symbol(symbol) -> str:
    """ "brk.b " → "BRK.B". Raises InvalidMarketInput for anything that cannot be a symbol."""
    text = str(symbol or "").strip().upper()
    if not text or len(text) > SYMBOL_MAX_LENGTH or not set(text) <= _SYMBOL_CHARS:
        raise InvalidMarketInput(f"“{str(symbol)[:20]}” is not a ticker symbol.")
    return text


def _normalize_symbols(symbols: Iterable[str]) -> list[str]:
    return sorted({normalize_symbol(s) for s in symbols})


# The tick -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TickResult:
    ticks: int  # the market's tick count after this tick
    timestamp: datetime
    trading_day: int  # 1 for the first simulated day
    day_elapsed: float  # share of that day simulated so far (1.0: the day is closed)
    new_day: bool  # this tick opened a new day and rolled the previous closes
    symbols: int
    advancers: int
    decliners: int
    unchanged: int
    halted: int
    events_applied: int
    index_symbol: str | None
    index_price: Decimal | None
    index_change_pct: Decimal  # the index fund's move this tick (or the market factor's)
    market_return: float  # the market factor's log-return this tick
    # What the tick hooks report after the tick (e.g. "orders: 2 filled, …"), in order.
    notes: list[str] = field(default_factory=list, compare=False)
    headlines: int = 0  # the headlines this tick wrote (prices.news)
    headline_kinds: str = ""  # their kinds in words: "1 earnings, 2 large moves"
    splits: int = 0  # the stock splits that took effect at this tick (prices.splits)
    regime: str = CALM  # the market's volatility regime after the tick (prices.simulation)
    regime_changed: bool = False  # the tick ended a calm or a stormy spell

    @property
    def clock(self) -> str:
        """Simulated time of day, e.g. "10:41"; "close" once the day is complete."""
        if self.day_elapsed >= 1 - _DAY_EPSILON:
            return "close"
        minutes = round(self.day_elapsed * MINUTES_PER_TRADING_DAY)
        opened = datetime.combine(datetime(2000, 1, 1), _MARKET_OPEN)
        return (opened + timedelta(minutes=minutes)).strftime("%H:%M")

    def summary(self) -> str:
        index = self.index_symbol or "market"
        level = f" {self.index_price}" if self.index_price is not None else ""
        parts = [
            f"Tick {self.ticks} (day {self.trading_day}, {self.clock})",
            f"{self.advancers} up, {self.decliners} down, {self.unchanged} unchanged"
            + (f", {self.halted} halted" if self.halted else ""),
            f"{index}{level} {self.index_change_pct:+.2f}%",
        ]
        if self.events_applied:
            plural = "s" if self.events_applied != 1 else ""
            parts.append(f"{self.events_applied} event{plural} applied")
        if self.new_day:
            parts.append("new trading day")
        if self.splits:
            parts.append(f"{self.splits} split{'s' if self.splits != 1 else ''}")
        if self.headlines:
            plural = "s" if self.headlines != 1 else ""
            kinds = f": {self.headline_kinds}" if self.headline_kinds else ""
            parts.append(f"{self.headlines} headline{plural}{kinds}")
        if self.regime_changed:
            parts.append("market turned stormy" if self.regime == TURBULENT else "market calmed")
        parts.extend(self.notes)
        return " | ".join(parts)


def advance_market(
    *,
    dt: float = ONE_MINUTE,
    seed: int | None = None,
    symbols: Iterable[str] | None = None,
    rng=None,
    now: datetime | None = None,
    wait: bool = False,
    model: MarketModel | None = None,
) -> TickResult:
    """Advance the market by one tick of `dt` trading days, in one database transaction.

    Guarantees:
    - the market lock (the MarketState row) is taken first; if another tick holds it the
      call raises MarketBusy at once on PostgreSQL (or waits for it with `wait=True`);
    - every listed symbol (or only `symbols`, all of which must exist) moves by the
      engine's step, except halted symbols, which keep their price and timestamp;
    - pending MarketEvents (neither applied nor cancelled) are applied once and stamped
      applied_at and applied_day (the simulated trading day): a symbol's event
      when its symbol ticks and is not halted (news waits for a halted stock to reopen),
      a sector's event at the next whole-market tick, to the sector's trading symbols;
    - one price_history row per ticked symbol (halted ones at their unchanged price);
    - the market factor moves in the market's volatility regime (MarketState.regime, calm
      or turbulent), which may switch at the end of the tick and is saved with the clock;
      the engine's model is built from the MarketParameters row, read once per tick (a
      change in the admin applies from the next tick), unless `model` is given (tests);
    - at the tick that opens a day: the splits due take effect before the prices are
      read, and the automatic ones are announced (prices.splits, settings.SPLIT_HANDLERS);
      that day's dividends and earnings reports (prices.actions): the ex-dividend price
      drops and the earnings jumps move the prices, and the dividends are paid to the
      holders in this transaction (settings.DIVIDEND_HANDLERS);
    - a headline (prices.news) for each corporate action, each event applied and each
      large move (at least MarketParameters.news_move_percent in the tick);
    - a fixed number of queries whatever the number of symbols: seven; five more when a
      new trading day rolls the previous closes, records the day's opening in
      TradingSession (one on the market's first tick), looks for the splits due and the
      stocks above the split price, and reads the day's corporate actions; a fixed number
      more for each split applied and for the dividend handlers on a day with
      dividends; one when events are applied; one when the tick writes headlines;
    - after commit: the quote cache moves to a new generation, then each
      settings.TICK_HOOKS entry is called as hook(ticks=…, timestamp=…) (trading's fills
      the orders the new prices reach, then portfolio's snapshots); a hook that returns a
      string adds it to the result's notes, which its summary line ends with; a failing
      hook is logged and does not undo the tick.

    `seed` makes the tick reproducible; `rng` (a random.Random) carries one generator
    across many ticks, and wins over `seed`. `now` stamps the tick (default: now).
    """
    if not isinstance(dt, int | float) or not 0 < dt <= MAX_DT or math.isnan(dt):
        raise InvalidMarketInput(
            f"A tick stands for a share of a trading day: more than 0, at most {MAX_DT:g}."
        )
    wanted = _normalize_symbols(symbols) if symbols is not None else None
    if wanted is not None and not wanted:
        raise InvalidMarketInput("Name at least one symbol to tick.")
    rng = rng if rng is not None else new_rng(seed)
    timestamp = now or timezone.now()

    try:
        with transaction.atomic():
            state = _lock_market(wait=wait)
            result = _tick(state, dt=dt, wanted=wanted, rng=rng, model=model, now=timestamp)
            transaction.on_commit(partial(_after_tick, result))
    except OperationalError as exc:
        if _is_lock_conflict(exc):
            raise MarketBusy(
                "Another tick_prices is advancing the market right now (the market lock "
                "is held). Only one ticker may run at a time."
            ) from exc
        raise
    return result


def _lock_market(*, wait: bool) -> MarketState:
    locked = MarketState.objects.select_for_update(nowait=not wait)
    try:
        return locked.get(id=1)
    except MarketState.DoesNotExist:
        # Only after the row was deleted by hand: the migration creates it.
        MarketState.objects.get_or_create(id=1)
        return locked.get(id=1)


def _is_lock_conflict(exc: OperationalError) -> bool:
    cause = exc.__cause__
    if getattr(cause, "sqlstate", None) == "55P03":  # PostgreSQL lock_not_available
        return True
    return "database is locked" in str(exc)  # SQLite after its busy timeout


def _tick(
    state: MarketState,
    *,
    dt: float,
    wanted: list[str] | None,
    rng,
    model: MarketModel | None,
    now: datetime,
) -> TickResult:
    # The tick's news (prices.news), stored in one INSERT at the end of the tick.
    drafts: list[news.Draft] = []
    # The market's parameters, one query: the engine's model (unless the caller passed
    # one) and the thresholds the tick's news and corporate actions read.
    params = MarketParameters.current()
    if model is None:
        model = params.market_model()
    regime = state.regime if state.regime in REGIMES else CALM

    new_day = state.day_elapsed >= 1 - _DAY_EPSILON
    if new_day:
        Price.objects.update(previous_close=F("price"))
        state.trading_day += 1
        state.day_elapsed = max(0.0, state.day_elapsed - 1.0)
        state.day_started_at = now
        # Splits (prices.splits): the day's splits take effect at its open, before the
        # rows are read, and the automatic ones are announced.
        from prices import splits  # prices.splits builds on this module

        splits_applied = splits.open_day(
            day=state.trading_day + 1, now=now, drafts=drafts, params=params
        )
    else:
        splits_applied = 0
    if new_day or state.ticks == 0:
        TradingSession.objects.bulk_create(
            [TradingSession(number=state.trading_day + 1, opened_at=now)], ignore_conflicts=True
        )

    rows = bulk.read_market(wanted)
    if wanted is not None and len(rows) != len(wanted):
        missing = sorted(set(wanted) - {row[1] for row in rows})
        raise UnknownSymbols(
            f"No such symbol{'s' if len(missing) > 1 else ''}: {', '.join(missing)}.",
            symbols=missing,
        )
    if not rows:
        raise EmptyMarket("The market has no symbols yet: run `manage.py load_market` first.")

    events = list(
        MarketEvent.objects.filter(applied_at__isnull=True, cancelled_at__isnull=True)
        .order_by("id")
        .values_list("id", "stock_id", "sector", "percent", "reason")
    )
    shocks, applied = _event_shocks(events, rows, whole_market=wanted is None)
    # The running scenario (prices.scenarios), one query, before anything draws a random
    # number: its seed and the run's tick count draw them all (a replay repeats the
    # prices), its day holds the regime and scales the volatility, its moves join the
    # events' and its headlines the news.
    scripted = scenarios.for_tick(state, rows=rows, dt=dt, new_day=new_day)
    if scripted is not None:
        rng = scripted.rng
        shocks = scripted.add_shocks(shocks)
        drafts.extend(scripted.headlines)
    # The day's corporate actions (prices.actions), at the tick that opens the day: the
    # ex-dividend drops and earnings jumps join the shocks, their headlines the drafts.
    # Under a scenario they draw from their own generator, so the engine's draws (and a
    # replay's prices) do not hang on which stocks report on the market's calendar day.
    day_actions = actions.DayActions()
    if new_day:
        day_rng = scripted.actions_rng if scripted is not None else rng
        day_actions = actions.for_day(rows, day=state.trading_day + 1, rng=day_rng)
        shocks = actions.add_shocks(shocks, day_actions)
        drafts.extend(day_actions.drafts)

    stocks = []
    for i, (_, _, _, price, log_price, drift, vol, beta, halted, is_index) in enumerate(rows):
        # The stored price is the truth; the unrounded state is kept only while it still
        # rounds to it (someone may have set the price directly, e.g. from SQL).
        if abs(math.exp(log_price) - price) > 0.0051:
            log_price = log_of(price)
        stocks.append(
            Stock(
                log_price=log_price,
                drift=drift,
                volatility=vol,
                beta=beta,
                shock=shocks.get(i, 0.0),
                halted=bool(halted),
                is_index=bool(is_index),
            )
        )
    moved = step(
        stocks,
        dt=dt,
        rng=rng,
        model=model,
        regime=scripted.regime if scripted else regime,
        volatility_scale=scripted.volatility if scripted else 1.0,
        hold_regime=bool(scripted and scripted.hold_regime),
    )

    updates, history = [], []
    up = down = flat = halted_count = 0
    index_symbol = index_price = None
    index_change = None
    for row, new_log, new_cents, new_price in zip(
        rows, moved.log_prices, moved.cents, moved.prices, strict=True
    ):
        pk, symbol, _, old_price, *_, halted, is_index = row
        old_cents = round(old_price * 100)
        if halted:
            halted_count += 1
            history.append((symbol, dollars(old_cents)))
            continue
        updates.append((pk, new_price, new_log))
        history.append((symbol, new_price))
        if new_cents > old_cents:
            up += 1
        elif new_cents < old_cents:
            down += 1
        else:
            flat += 1
        if is_index and index_symbol is None:
            index_symbol, index_price = symbol, new_price
            index_change = Decimal((new_cents - old_cents) * 100) / old_cents

    bulk.update_prices(updates, timestamp=now)
    bulk.insert_history(history, timestamp=now)
    if applied:
        # Cancelling takes the market lock too, so none of these was cancelled meanwhile.
        MarketEvent.objects.filter(id__in=applied).update(
            applied_at=now, applied_day=state.trading_day + 1
        )
        drafts += news.event_headlines(events, applied, {row[1]: row[2] for row in rows})

    # The dividends' cash (settings.DIVIDEND_HANDLERS), in this transaction with the drop.
    action_notes = actions.pay(day_actions.dividends, day=state.trading_day + 1, at=now)
    if index_change is None:
        index_change = Decimal(math.expm1(moved.market_return) * 100)
    # The large moves' news, last: a symbol, sector or market with a headline in this
    # tick's drafts already (its earnings, an event) gets no second one.
    drafts += news.large_moves(
        (
            (row[1], row[2], round(row[3] * 100), cents, bool(row[9]))
            for row, cents in zip(rows, moved.cents, strict=True)
            if not row[8]
        ),
        threshold=params.news_move_percent,
        drafts=drafts,
        market_move=index_change,
        index_symbol=index_symbol,
        tick=state.ticks + 1,
    )
    published = news.publish(drafts, day=state.trading_day + 1, at=now)

    state.ticks += 1
    state.last_tick_at = now
    state.market_log_level += moved.market_return
    state.day_elapsed += dt
    state.regime = moved.regime
    state.save(
        update_fields=[
            "ticks",
            "last_tick_at",
            "market_log_level",
            "trading_day",
            "day_elapsed",
            "day_started_at",
            "regime",
        ]
    )

    return TickResult(
        ticks=state.ticks,
        timestamp=now,
        trading_day=state.trading_day + 1,
        day_elapsed=min(state.day_elapsed, 1.0),
        new_day=new_day,
        symbols=len(rows),
        advancers=up,
        decliners=down,
        unchanged=flat,
        halted=halted_count,
        events_applied=len(applied),
        index_symbol=index_symbol,
        index_price=index_price,
        index_change_pct=index_change.quantize(CENT, rounding=ROUND_HALF_UP) + 0,  # no −0.00
        market_return=moved.market_return,
        notes=[*actions.summary(day_actions), *action_notes],
        headlines=published,
        headline_kinds=news.kinds_text(drafts),
        splits=splits_applied,
        regime=moved.regime,
        regime_changed=moved.regime != regime,
    )


def _event_shocks(events, rows, *, whole_market: bool) -> tuple[dict[int, float], list[int]]:
    """The log move each row takes from pending events, and the ids of the events applied."""
    if not events:
        return {}, []
    position = {row[1]: i for i, row in enumerate(rows)}
    by_sector = defaultdict(list)
    for i, row in enumerate(rows):
        if not row[8]:  # halted symbols miss a sector's news
            by_sector[row[2]].append(i)
    shocks: dict[int, float] = defaultdict(float)
    applied = []
    for event_id, symbol, sector, percent, *_ in events:
        move = math.log1p(float(percent) / 100)
        if symbol:
            i = position.get(symbol)
            if i is None or rows[i][8]:
                continue  # not in this tick, or halted: the news waits for it
            shocks[i] += move
        elif whole_market:
            for i in by_sector.get(sector, ()):
                shocks[i] += move
        else:
            continue
        applied.append(event_id)
    return shocks, applied


def _after_tick(result: TickResult) -> None:
    ticks, timestamp = result.ticks, result.timestamp
    quote_cache.invalidate()
    for path in settings.TICK_HOOKS:
        try:
            hook = import_string(path)
            said = hook(ticks=ticks, timestamp=timestamp)
            if isinstance(said, str) and said:
                result.notes.append(said)
        except Exception:
            logger.exception("Tick hook %s failed after tick %s", path, ticks)
    if ticks % THIN_HISTORY_EVERY_TICKS == 0:  # PRICE_HISTORY_DAYS = 0: thin_history does nothing
        try:
            thin_history(now=timestamp)
        except Exception:
            logger.exception("Thinning the price history failed after tick %s", ticks)


def thin_history(
    *, now: datetime | None = None, days: int | None = None, everything: bool = False
) -> int:
    """Thin the price history older than `days` (settings.PRICE_HISTORY_DAYS) to one row
    per symbol per calendar day in settings.TIME_ZONE, the day's last; returns the number
    of rows deleted. Index funds keep every row: the performance chart compares each
    snapshot with the index at that moment.

    A row goes when the next row of its symbol falls on the same day, so a day still
    running at the cutoff keeps its newer rows and is thinned when the cutoff passes it
    (rows at the very same moment, which ticks never write, are all kept). A pass starts
    where the last one stopped (HistoryThinning), so a running market's pass reads only
    the rows that aged past the cutoff since; `everything` rereads the whole history
    (after a change of TIME_ZONE, say, or rows restored from before the mark).

    On PostgreSQL one DELETE, which blocks no one. On SQLite, where one writer holds the
    whole database, one DELETE per symbol, each in its own transaction, so a trade waits
    behind one symbol's share at most (called outside any transaction, as the ticker and
    the command call it; inside one, the caller's transaction holds it all).
    `tick_prices` runs it every THIN_HISTORY_EVERY_TICKS ticks, after the tick's hooks."""
    days = settings.PRICE_HISTORY_DAYS if days is None else days
    if days <= 0:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    since = None
    if not everything:
        since = HistoryThinning.objects.filter(id=1).values_list("thinned_to", flat=True).first()
        if since is not None and since >= cutoff:
            return 0
    symbols = list(
        Price.objects.filter(is_index=False).order_by("symbol").values_list("symbol", flat=True)
    )

    local = timezone.get_default_timezone()
    following = (
        PriceHistory.objects.filter(
            stock_id=OuterRef("stock_id"), timestamp__gt=OuterRef("timestamp")
        )
        .order_by("timestamp")
        .values("timestamp")[:1]
    )
    old = PriceHistory.objects.filter(timestamp__lt=cutoff)
    if since is not None:
        old = old.filter(timestamp__gte=since)
    old = old.annotate(
        day=TruncDate("timestamp", tzinfo=local),
        next_day=TruncDate(Subquery(following), tzinfo=local),
    ).filter(next_day=F("day"))
    chunks = [[symbol] for symbol in symbols] if connection.vendor == "sqlite" else [symbols]
    deleted = 0
    for chunk in chunks:
        with transaction.atomic(savepoint=False):
            deleted += old.filter(stock_id__in=chunk).delete()[0]
    # Never backwards: a pass with more days than the setting leaves the mark where it was.
    if not HistoryThinning.objects.filter(id=1, thinned_to__lt=cutoff).update(thinned_to=cutoff):
        HistoryThinning.objects.get_or_create(id=1, defaults={"thinned_to": cutoff})
    if deleted:
        logger.info("price history thinned rows=%s before=%s", deleted, cutoff.isoformat())
    return deleted


# Halts, parameters, events ----------------------------------------------------------------


def set_halted(*, symbols: Iterable[str], halted: bool, by=None) -> list[str]:
    """Halt (or resume) trading and price moves in `symbols`; returns those that changed.

    Takes the market lock first, so a halt lands between two ticks. Symbols already in the
    requested state are left alone. With `by` (the instructor), one audit entry per
    symbol changed, in the same transaction. Unknown symbols raise UnknownSymbols."""
    wanted = _normalize_symbols(symbols)
    with transaction.atomic():
        _lock_market(wait=True)
        found = dict(Price.objects.filter(symbol__in=wanted).values_list("symbol", "halted"))
        missing = sorted(set(wanted) - set(found))
        if missing:
            raise UnknownSymbols(f"No such symbol: {', '.join(missing)}.", symbols=missing)
        changed = sorted(symbol for symbol, state in found.items() if state != halted)
        if changed:
            Price.objects.filter(symbol__in=changed).update(halted=halted)
            if by is not None:
                action = AuditEntry.Action.HALT if halted else AuditEntry.Action.RESUME
                for symbol in changed:
                    audit.record(actor=by, action=action, symbol=symbol)
    if changed:
        transaction.on_commit(quote_cache.invalidate)
        logger.info("%s %s", "Halted" if halted else "Resumed", ", ".join(changed))
    return changed


def _check_parameters(**values) -> None:
    """The model fields' own validators (the ranges the admin form enforces)."""
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            raise InvalidMarketInput(f"{name.capitalize()} must be a number.")
        try:
            Price._meta.get_field(name).run_validators(value)
        except ValidationError as exc:
            raise InvalidMarketInput(f"{name.capitalize()}: {' '.join(exc.messages)}") from None


_KEEP = object()  # update_symbol: leave this field as it is


def _check_actions(**values) -> None:
    """The corporate-action fields' own validators (prices.actions): a yield and an
    earnings volatility are numbers, the days whole numbers of the quarter or None."""
    for name, value in values.items():
        if value is None and name.endswith("_day"):
            continue
        if name.endswith("_day"):
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidMarketInput(f"{name.replace('_', ' ').capitalize()}: a whole day.")
        elif isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            raise InvalidMarketInput(f"{name.replace('_', ' ').capitalize()} must be a number.")
        try:
            Price._meta.get_field(name).run_validators(value)
        except ValidationError as exc:
            label = name.replace("_", " ").capitalize()
            raise InvalidMarketInput(f"{label}: {' '.join(exc.messages)}") from None


def update_symbol(
    *,
    symbol: str,
    drift: float,
    volatility: float,
    beta: float,
    name: str | None = None,
    sector: str | None = None,
    dividend_yield=_KEEP,
    dividend_day=_KEEP,
    earnings_day=_KEEP,
    earnings_volatility=_KEEP,
    by=None,
) -> Price:
    """Change one symbol's simulation parameters (from the next tick on) and, optionally,
    its company name and sector and its corporate actions (dividend yield and day,
    earnings day and volatility; a day of None stops that action).

    Locks that price row; when something changed and `by` is given, one audit entry
    names each old and new value."""
    symbol = normalize_symbol(symbol)
    _check_parameters(drift=drift, volatility=volatility, beta=beta)
    actions = {
        field: value
        for field, value in (
            ("dividend_yield", dividend_yield),
            ("dividend_day", dividend_day),
            ("earnings_day", earnings_day),
            ("earnings_volatility", earnings_volatility),
        )
        if value is not _KEEP
    }
    _check_actions(**actions)
    new = {"drift": drift, "volatility": volatility, "beta": beta, **actions}
    if name is not None:
        new["name"] = name.strip()
    if sector is not None:
        new["sector"] = sector.strip()
    if not new.get("name", "x") or not new.get("sector", "x"):
        raise InvalidMarketInput("A symbol needs a company name and a sector.")
    with transaction.atomic():
        try:
            price = Price.objects.select_for_update().get(symbol=symbol)
        except Price.DoesNotExist:
            raise UnknownSymbols(f"No such symbol: {symbol}.", symbols=[symbol]) from None
        changed = {field: value for field, value in new.items() if getattr(price, field) != value}
        if not changed:
            return price
        detail = ", ".join(f"{field} {getattr(price, field)}→{v}" for field, v in changed.items())
        for field, value in changed.items():
            setattr(price, field, value)
        price.save(update_fields=list(changed))
        if by is not None:
            audit.record(
                actor=by, action=AuditEntry.Action.PARAMETERS, symbol=symbol, detail=detail
            )
    if {"name", "sector"} & set(changed):
        transaction.on_commit(quote_cache.invalidate)
    return price


# The fields of MarketParameters an instructor edits (every one but the row's id).
MARKET_PARAMETER_FIELDS = [
    f.name for f in MarketParameters._meta.concrete_fields if not f.primary_key
]


def update_market_parameters(*, by=None, **values) -> MarketParameters:
    """Change the market's own parameters (the one MarketParameters row): the regimes'
    volatilities and spells, the jumps, the split and news thresholds. The next tick reads
    them; a tick already running keeps the values it read.

    Locks that row (not the market lock, so an edit never waits for a tick). The new values
    are checked as the admin form checks them — each field's range and the table's
    constraints (a stormy volatility at least the calm one) — and InvalidMarketInput
    names what is wrong, changing nothing. When something changed and `by` is given, the
    change is audited (MARKET_PARAMETERS, each field's old→new value) in the same
    transaction. Returns the row."""
    unknown = sorted(set(values) - set(MARKET_PARAMETER_FIELDS))
    if unknown:
        raise InvalidMarketInput(f"No such market parameter: {', '.join(unknown)}.")
    for name, value in values.items():
        if isinstance(value, bool) or (isinstance(value, float) and not math.isfinite(value)):
            raise InvalidMarketInput(f"{name.replace('_', ' ').capitalize()} must be a number.")
    with transaction.atomic():
        MarketParameters.current()  # only after the row was deleted by hand
        row = MarketParameters.objects.select_for_update().get(id=1)
        old = {name: getattr(row, name) for name in values}
        for name, value in values.items():
            setattr(row, name, value)
        try:
            row.full_clean()
        except ValidationError as exc:
            raise InvalidMarketInput(_explained(exc)) from None
        # Compared after cleaning, which turns a "0.2" into 0.2 and a 5 into Decimal("5").
        changed = [name for name in values if getattr(row, name) != old[name]]
        if not changed:
            return row
        row.save(update_fields=changed)
        if by is not None:
            for detail in _audit_details(
                [f"{name} {_shown(old[name])}→{_shown(getattr(row, name))}" for name in changed]
            ):
                audit.record(actor=by, action=AuditEntry.Action.MARKET_PARAMETERS, detail=detail)
    logger.info("Market parameters changed: %s", ", ".join(changed))
    return row


def _explained(exc: ValidationError) -> str:
    """A model's validation errors as one sentence per field, each named."""
    parts = []
    for name, messages in exc.message_dict.items():
        if name == NON_FIELD_ERRORS:
            parts.extend(messages)
        else:
            label = MarketParameters._meta.get_field(name).verbose_name.capitalize()
            parts.append(f"{label}: {' '.join(messages)}")
    return " ".join(parts)


def _shown(value) -> str:
    return "blank" if value is None else str(value)


def _audit_details(changes: list[str], limit: int = 300) -> list[str]:
    """The changes joined into as few audit details as fit (an entry holds 300 characters);
    a change is never split between two entries."""
    details: list[str] = []
    for change in changes:
        if details and len(details[-1]) + 2 + len(change) <= limit:
            details[-1] += ", " + change
        else:
            details.append(change)
    return details


def schedule_event(
    *,
    percent: Decimal,
    symbol: str | None = None,
    sector: str | None = None,
    reason: str = "",
    by=None,
) -> MarketEvent:
    """Schedule news: the symbol, or every symbol of the sector, moves by `percent` at the
    next tick (on top of its normal move). Exactly one of symbol and sector. The percent
    is above −100 and at most 1000, and not zero. Audited when `by` is given."""
    if bool(symbol) == bool(sector):
        raise InvalidMarketInput("Choose a symbol or a sector (one of them).")
    try:
        percent = Decimal(percent).quantize(CENT, rounding=ROUND_HALF_UP)
    except (ArithmeticError, TypeError, ValueError):
        raise InvalidMarketInput("Enter the move as a percent, e.g. -12.5.") from None
    if not Decimal("-100") < percent <= Decimal("1000") or percent == 0:
        raise InvalidMarketInput("The move must be above -100 % and at most 1000 %, not 0.")
    with transaction.atomic():
        if symbol:
            symbol = normalize_symbol(symbol)
            if not Price.objects.filter(symbol=symbol).exists():
                raise UnknownSymbols(f"No such symbol: {symbol}.", symbols=[symbol])
        elif not Price.objects.filter(sector=sector).exists():
            raise InvalidMarketInput(f"No symbol is in the sector “{sector}”.")
        event = MarketEvent.objects.create(
            stock_id=symbol or None,
            sector=sector or "",
            percent=percent,
            reason=reason,
            created_by=by,
        )
        if by is not None:
            audit.record(
                actor=by,
                action=AuditEntry.Action.MARKET_EVENT,
                symbol=symbol or "",
                sector=sector or "",
                detail=f"{percent:+}%{': ' + reason if reason else ''}",
            )
    return event


def cancel_event(*, event_id: int, by=None, now: datetime | None = None) -> MarketEvent:
    """Cancel a pending market event, so that no tick ever applies it.

    Takes the market lock first (waiting for a running tick to finish), as the tick does
    before it reads the pending events, and stamps the event with a conditional UPDATE
    (only while it is neither applied nor cancelled): an event is applied or cancelled,
    never both (the table's constraint says so too). Raises MarketError, naming when, for
    an event already applied or cancelled, and for one that does not exist. Audited when
    `by` is given."""
    now = now or timezone.now()
    with transaction.atomic():
        _lock_market(wait=True)
        stamped = MarketEvent.objects.filter(
            pk=event_id, applied_at__isnull=True, cancelled_at__isnull=True
        ).update(cancelled_at=now, cancelled_by=by)
        event = MarketEvent.objects.filter(pk=event_id).first()
        if event is None:
            raise MarketError("There is no such market event.")
        if not stamped:
            raise MarketError(_not_pending(event))
        if by is not None:
            audit.record(
                actor=by,
                action=AuditEntry.Action.CANCEL_EVENT,
                symbol=event.stock_id or "",
                sector=event.sector,
                detail=f"{event.percent:+}%{': ' + event.reason if event.reason else ''}",
            )
    logger.info("Cancelled market event %s (%s)", event.pk, event)
    return event


def _not_pending(event: MarketEvent) -> str:
    def when(moment):
        return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")

    if event.applied_at is not None:
        return (
            f"The event “{event}” was applied at {when(event.applied_at)}: it has moved the "
            "market and cannot be cancelled. Schedule an opposite move to correct it."
        )
    return f"The event “{event}” was already cancelled at {when(event.cancelled_at)}."


# Listing symbols --------------------------------------------------------------------------


def _new_price(listing: Listing, now: datetime) -> Price:
    return Price(
        symbol=listing.symbol,
        name=listing.name,
        sector=listing.sector,
        price=listing.price,
        previous_close=listing.price,
        log_price=log_of(listing.price),
        timestamp=now,
        drift=listing.drift,
        volatility=listing.volatility,
        beta=listing.beta,
        is_index=listing.is_index,
        dividend_yield=listing.dividend_yield,
        dividend_day=listing.dividend_day,
        earnings_day=listing.earnings_day,
        earnings_volatility=listing.earnings_volatility,
    )


def _check_listing(listing: Listing) -> None:
    if normalize_symbol(listing.symbol) != listing.symbol:
        raise InvalidMarketInput(f"Write the symbol in capitals: {listing.symbol.upper()}.")
    if not MIN_LISTING_PRICE <= listing.price <= MAX_LISTING_PRICE:
        raise InvalidMarketInput(LISTING_PRICE_RANGE)
    _check_parameters(drift=listing.drift, volatility=listing.volatility, beta=listing.beta)
    _check_actions(
        dividend_yield=listing.dividend_yield,
        dividend_day=listing.dividend_day,
        earnings_day=listing.earnings_day,
        earnings_volatility=listing.earnings_volatility,
    )


def list_symbol(listing: Listing, *, now: datetime | None = None) -> Price:
    """Add one symbol at its starting price (its previous close and first history point)."""
    _check_listing(listing)
    now = now or timezone.now()
    with transaction.atomic():
        if Price.objects.filter(symbol=listing.symbol).exists():
            raise InvalidMarketInput(f"{listing.symbol} is already listed.")
        price = _new_price(listing, now)
        price.save()
        PriceHistory.objects.create(stock_id=price.symbol, price=price.price, timestamp=now)
        # The market page and the tickets' symbol lists are kept per quote generation.
        transaction.on_commit(quote_cache.invalidate)
    return price


@dataclass(frozen=True)
class LoadResult:
    created: list[str]
    existing: list[str]


def load_market(*, listings: Iterable[Listing] = MARKET, now: datetime | None = None) -> LoadResult:
    """List every symbol of the sample market that is not listed yet; idempotent.

    Symbols already listed keep their price, parameters and halt: the market they have
    lived through is not reset. New ones start at their listed price with one history
    point. Also makes sure the market clock's row exists."""
    listings = list(listings)
    for listing in listings:
        _check_listing(listing)
    now = now or timezone.now()
    with transaction.atomic():
        MarketState.objects.get_or_create(id=1)
        symbols = [listing.symbol for listing in listings]
        existing = set(Price.objects.filter(symbol__in=symbols).values_list("symbol", flat=True))
        new = [_new_price(listing, now) for listing in listings if listing.symbol not in existing]
        Price.objects.bulk_create(new)
        PriceHistory.objects.bulk_create(
            PriceHistory(stock_id=p.symbol, price=p.price, timestamp=now) for p in new
        )
    if new:
        transaction.on_commit(quote_cache.invalidate)
    return LoadResult(created=[p.symbol for p in new], existing=sorted(existing))
