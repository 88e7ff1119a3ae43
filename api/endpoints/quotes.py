"""Quotes and price history: what the market pages show, from the same quote cache."""

import contextlib
import re
from datetime import UTC, datetime

from django.utils.dateparse import parse_datetime
from ninja import Query, Router, Schema
from pydantic import Field

from api.problems import Problem
from api.schemas import Money, Percent, Timestamp
from prices.selectors import (
    MAX_POINTS,
    Quote,
    UnknownSymbol,
    all_quotes,
    get_quote,
    get_quotes,
    price_points,
    session_range,
)
from prices.services import InvalidMarketInput, normalize_symbol

router = Router(tags=["Quotes"])

MAX_SYMBOLS = 100
DEFAULT_POINTS = 500


class QuoteOut(Schema):
    symbol: str
    name: str = Field(description="The company's name.")
    sector: str
    price: Money = Field(description="The last price.")
    previous_close: Money = Field(description="The price at the end of the previous trading day.")
    change: Money = Field(description="Price less previous close.")
    change_pct: Percent = Field(description="The change as a percentage of the previous close.")
    halted: bool = Field(description="Trading in the symbol is paused by the instructor.")
    is_index: bool = Field(
        description="The market's index fund, which follows the whole market (a class that "
        "ranks by return over the market measures against it)."
    )
    updated_at: Timestamp = Field(description="When the price was set (the last tick).")


class QuoteDetailOut(QuoteOut):
    session_low: Money | None = Field(
        description="The lowest price of the current trading session (the quote page's chart, "
        "“This session”); null before the session's first tick."
    )
    session_high: Money | None = Field(
        description="The highest price of the current trading session; null before its first tick."
    )


class QuotesOut(Schema):
    data: list[QuoteOut] = Field(
        description="In the order asked for (each symbol once), or by symbol for every symbol."
    )


class QuotesQuery(Schema):
    symbols: str | None = Field(
        default=None,
        max_length=MAX_SYMBOLS * 12,
        description=f"Symbols separated by commas, such as AAPL,MSFT (any case; at most "
        f"{MAX_SYMBOLS}). Leave it out for every listed symbol.",
        examples=["AAPL,MSFT"],
    )


class PricePointOut(Schema):
    timestamp: Timestamp
    price: Money


class HistoryQuery(Schema):
    since: str | None = Field(
        default=None,
        max_length=64,
        description="Only the points after this moment: ISO 8601 with its offset, such as "
        "2026-03-02T10:15:00+01:00 or 2026-03-02T09:15:00Z (in a query string, write the + "
        "as %2B). Pass the last answer's next_since to get only the new points. Without it, "
        "the newest points.",
        examples=["2026-03-02T10:15:00+01:00"],
    )
    limit: int = Field(
        default=DEFAULT_POINTS,
        ge=1,
        le=MAX_POINTS,
        description=f"At most this many points (1 to {MAX_POINTS}).",
    )


class HistoryOut(Schema):
    symbol: str
    data: list[PricePointOut] = Field(
        description="One point per tick, oldest first: the first `limit` after `since`, or "
        "without it the newest `limit`. Older history keeps each day's last price only."
    )
    next_since: Timestamp | None = Field(
        description="Pass as `since` to get the points that come after these: the last "
        "point's time (or `since` again when none came). Null when there is no point at all."
    )
    has_more: bool = Field(
        description="More points after these are there already: ask again at once with next_since."
    )


def quote_out(quote: Quote) -> dict:
    return {
        "symbol": quote.symbol,
        "name": quote.name,
        "sector": quote.sector,
        "price": quote.price,
        "previous_close": quote.previous_close,
        "change": quote.change,
        "change_pct": quote.change_pct,
        "halted": quote.halted,
        "is_index": quote.is_index,
        "updated_at": quote.timestamp,
    }


def _wanted(text: str) -> list[str]:
    """The symbols a `symbols` parameter names, normalized, each once, in its order."""
    parts = [part for part in (p.strip() for p in text.split(",")) if part]
    wanted, unreadable = [], []
    for part in parts:
        try:
            wanted.append(normalize_symbol(part))
        except InvalidMarketInput:
            unreadable.append(part[:20])
    if unreadable:
        raise Problem(
            "unknown_symbol",
            f"Not ticker symbols: {', '.join(unreadable)}.",
            field="symbols",
        )
    wanted = list(dict.fromkeys(wanted))
    if len(wanted) > MAX_SYMBOLS:
        raise Problem(
            "validation_error",
            f"Ask for at most {MAX_SYMBOLS} symbols at once, or leave symbols out for every "
            "symbol.",
            field="symbols",
        )
    return wanted


@router.get(
    "/quotes",
    response=QuotesOut,
    summary="Quotes",
    description="The quotes of the symbols asked for, or of every listed symbol. A quote is "
    "never older than the last tick. A symbol not on the market answers 400 unknown_symbol, "
    "naming every such symbol. Any token, a student's or an instructor's.",
)
def list_quotes(request, query: Query[QuotesQuery]):
    wanted = _wanted(query.symbols or "")
    if not wanted:
        return {"data": [quote_out(quote) for quote in all_quotes()]}
    found = get_quotes(wanted)
    unknown = [symbol for symbol in wanted if symbol not in found]
    if unknown:
        names = ", ".join(unknown)
        raise Problem(
            "unknown_symbol",
            f"There is no symbol {names} on this market."
            if len(unknown) == 1
            else f"There are no symbols {names} on this market.",
            field="symbols",
        )
    return {"data": [quote_out(found[symbol]) for symbol in wanted]}


def _quote(symbol: str) -> Quote:
    try:
        return get_quote(symbol)
    except UnknownSymbol as error:
        raise Problem("not_found", error.message) from None


@router.get(
    "/quotes/{symbol}",
    response=QuoteDetailOut,
    summary="One quote",
    description="A symbol's quote, as its quote page shows it, with the session's low and "
    "high. The symbol in any case (brk.b is BRK.B); one not on the market answers 404.",
)
def get_one_quote(request, symbol: str):
    quote = _quote(symbol)
    low, high = session_range(quote.symbol)
    return {**quote_out(quote), "session_low": low, "session_high": high}


SINCE_EXAMPLE = "2026-03-02T10:15:00+01:00 or 2026-03-02T09:15:00Z"
# "2026-03-02T10:15:00 01:00": a "+" sent unencoded in a query string arrives as a space.
_SPACE_FOR_PLUS = re.compile(r"(T[\d:.]+) (\d{2}(:?\d{2})?)$")


def parse_since(text: str) -> datetime:
    """`since` as an aware datetime, or a validation_error that says what to send."""
    moment = None
    if text.isascii():  # the digits 0–9 only, as every number the API reads
        with contextlib.suppress(ValueError):
            moment = parse_datetime(_SPACE_FOR_PLUS.sub(r"\1+\2", text.strip()))
    if moment is None:
        message = (
            f"Give `since` as an ISO 8601 date and time with its offset, such as {SINCE_EXAMPLE}."
        )
    elif moment.tzinfo is None:
        message = f"Give `since` with its offset (+01:00, or Z for UTC), such as {SINCE_EXAMPLE}."
    else:
        try:
            return moment.astimezone(UTC)
        except OverflowError:
            message = "`since` is out of range: give a date between the years 1 and 9999."
    raise Problem(
        "validation_error", message, field="since", errors=[{"field": "since", "message": message}]
    )


@router.get(
    "/quotes/{symbol}/history",
    response=HistoryOut,
    summary="Price history",
    description="A symbol's recorded prices, one point per tick. To follow the market, ask "
    "once without `since`, then again and again with the last answer's `next_since`: each "
    "answer holds only the points that came since.",
)
def get_history(request, symbol: str, query: Query[HistoryQuery]):
    since = parse_since(query.since) if query.since else None
    quote = _quote(symbol)
    found = price_points(quote.symbol, since=since, limit=query.limit)
    last = found.points[-1][0] if found.points else since
    return {
        "symbol": quote.symbol,
        "data": [{"timestamp": moment, "price": price} for moment, price in found.points],
        "next_since": last,
        "has_more": found.more,
    }
