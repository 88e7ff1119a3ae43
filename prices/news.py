"""Headlines: the dated news the market writes (earnings, dividends, splits, large jumps,
instructors' market events, scenarios), from templates with the numbers filled in.

Writers call `headline(...)` to build one and `publish(...)` to store a batch in one
INSERT, inside the tick's transaction, so news never outlives a tick that was undone.
"""

import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from prices.models import Headline

Kind = Headline.Kind
TENTH = Decimal("0.1")


def percent_text(percent: Decimal | float) -> str:
    """A move as a headline writes it: "7 %", "12.5 %" (no sign: the words carry it;
    a no-break space keeps the number with its unit on a phone)."""
    value = abs(Decimal(str(percent))).quantize(TENTH, rounding=ROUND_HALF_UP)
    text = f"{value:f}".removesuffix(".0")
    return f"{text}\u00a0%"


@dataclass(frozen=True)
class Draft:
    kind: str
    text: str
    symbol: str | None = None
    sector: str = ""
    percent: Decimal | None = None


def headline(
    kind: str,
    text: str,
    *,
    symbol: str | None = None,
    sector: str = "",
    percent: Decimal | float | None = None,
) -> Draft:
    if percent is not None:
        percent = Decimal(str(percent)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return Draft(kind=kind, text=text[:300], symbol=symbol, sector=sector, percent=percent)


def publish(drafts: Iterable[Draft], *, day: int, at: datetime) -> int:
    """Store the headlines of one moment (a tick) in one INSERT; returns how many."""
    rows = [
        Headline(
            kind=d.kind,
            text=d.text,
            stock_id=d.symbol,
            sector=d.sector,
            percent=d.percent,
            day=day,
            published_at=at,
        )
        for d in drafts
    ]
    if rows:
        Headline.objects.bulk_create(rows)
    return len(rows)


# What the tick writes itself: instructors' market events and large moves ------------------

# A headline's kind in the ticker's summary line: (one, several).
KIND_WORDS = {
    Kind.EARNINGS: ("earnings", "earnings"),
    Kind.DIVIDEND: ("dividend", "dividends"),
    Kind.SPLIT: ("split", "splits"),
    Kind.JUMP: ("large move", "large moves"),
    Kind.EVENT: ("market event", "market events"),
    Kind.SCENARIO: ("scenario", "scenario"),
    Kind.MARKET: ("market move", "market moves"),
}

# A large move's words, one picked per symbol and tick (never by the tick's random numbers,
# so headlines change no price a seed replays).
RISES = (
    "{symbol} soars {percent} in heavy trading",
    "{symbol} jumps {percent} as buyers rush in",
    "{symbol} surges {percent} in a burst of buying",
)
FALLS = (
    "{symbol} plunges {percent} in heavy trading",
    "{symbol} tumbles {percent} as sellers rush out",
    "{symbol} sinks {percent} in a wave of selling",
)
MARKET_RISES = "Stocks rally across the board: the market rises {percent}"
MARKET_FALLS = "Stocks drop across the board: the market falls {percent}"


def kinds_text(drafts: Iterable[Draft]) -> str:
    """The kinds of a batch in words, in Kind's order: "1 earnings, 2 large moves"."""
    counts: dict[str, int] = {}
    for draft in drafts:
        counts[draft.kind] = counts.get(draft.kind, 0) + 1
    parts = []
    for kind in Kind.values:
        if counts.get(kind):
            one, several = KIND_WORDS[kind]
            parts.append(f"{counts[kind]} {one if counts[kind] == 1 else several}")
    return ", ".join(parts)


def event_text(*, symbol: str | None, sector: str, percent: Decimal, reason: str) -> str:
    """An instructor's market event as a headline: "XOM jumps 12 %: Refinery fire",
    "Energy stocks fall 8 %"."""
    big = abs(percent) >= 10
    if symbol:
        verb = ("jumps" if big else "rises") if percent > 0 else ("plunges" if big else "falls")
        text = f"{symbol} {verb} {percent_text(percent)}"
    else:
        verb = ("soar" if big else "rise") if percent > 0 else ("plunge" if big else "fall")
        text = f"{sector} stocks {verb} {percent_text(percent)}"
    reason = reason.strip()
    return f"{text}: {reason}" if reason else text


def event_headlines(events, applied: Iterable[int], sectors: dict[str, str]) -> list[Draft]:
    """One headline for each market event applied: `events` are the tick's pending events
    as (id, symbol, sector, percent, reason), `sectors` each ticked symbol's sector."""
    applied = set(applied)
    drafts = []
    for event_id, symbol, sector, percent, reason in events:
        if event_id not in applied:
            continue
        text = event_text(symbol=symbol, sector=sector, percent=percent, reason=reason)
        drafts.append(
            headline(
                Kind.EVENT,
                text,
                symbol=symbol or None,
                sector=sectors.get(symbol, "") if symbol else sector,
                percent=percent,
            )
        )
    return drafts


def _pick(templates: tuple[str, ...], key: str) -> str:
    return templates[zlib.crc32(key.encode()) % len(templates)]


def large_moves(
    moves: Iterable[tuple[str, str, int, int, bool]],
    *,
    threshold: Decimal,
    drafts: list[Draft],
    market_move: Decimal,
    index_symbol: str | None,
    tick: int,
) -> list[Draft]:
    """Headlines for the tick's large moves, given each ticked symbol's move as
    (symbol, sector, cents before, cents after, is an index fund), halted ones left out.

    The market (the index fund's move, or the market factor's without one) makes one
    Kind.MARKET headline when it moves at least `threshold` percent either way; a stock
    makes a Kind.JUMP headline when it does. A symbol that already has a headline in
    `drafts` (its earnings, an event) gets none more; nor does a stock whose sector, or
    the whole market, has one: that headline tells its story. Index funds make no
    headline of their own but the market's."""
    # Whole numbers: a move is large when |after − before| × 10,000 ≥ threshold × 100 ×
    # before (the threshold has two decimals).
    limit = int(threshold * 100)
    told = {d.symbol for d in drafts if d.symbol}
    told_sectors = {d.sector for d in drafts if not d.symbol and d.sector}
    whole_market = any(not d.symbol and not d.sector for d in drafts) or (
        index_symbol is not None and index_symbol in told
    )
    found = []
    if not whole_market and abs(market_move) >= threshold:
        template = MARKET_RISES if market_move > 0 else MARKET_FALLS
        found.append(
            headline(
                Kind.MARKET,
                template.format(percent=percent_text(market_move)),
                symbol=index_symbol,
                percent=market_move,
            )
        )
        whole_market = True
    if whole_market:
        return found
    for symbol, sector, before, after, is_index in moves:
        if is_index or symbol in told or sector in told_sectors or before <= 0:
            continue
        if abs(after - before) * 10_000 < limit * before:
            continue
        percent = Decimal((after - before) * 100) / before
        template = _pick(RISES if after > before else FALLS, f"{symbol}:{tick}")
        found.append(
            headline(
                Kind.JUMP,
                template.format(symbol=symbol, percent=percent_text(percent)),
                symbol=symbol,
                sector=sector,
                percent=percent,
            )
        )
    return found
