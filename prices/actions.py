"""Corporate actions on the simulated calendar: dividends and earnings reports.

A quarter is 63 trading days (prices.models.QUARTER_DAYS); a stock's `dividend_day` and
`earnings_day` name a day within each one. At the tick that opens trading day N
(day-in-quarter q = (N − 1) % 63 + 1), `for_day` works out that day's actions:

- Dividends. A stock whose dividend_day is q goes ex-dividend: the dividend per share is
  D = previous close × dividend_yield / 4, rounded to the cent (none below $0.01), and the
  price drops by it at this tick, as the log shock ln((P − D) / P) on top of the stock's
  normal move. `pay` hands the day's [(symbol, D), …] to settings.DIVIDEND_HANDLERS
  inside the tick's transaction (trading credits every holder and charges every short),
  so the price drop and the cash land together, or not at all.
- Earnings. A stock whose earnings_day is q (an index fund never reports) takes a jump
  ~ N(0, earnings_volatility²) in log terms, with a headline ("ACME beats estimates;
  shares up 7 %"). The jumps are drawn from the tick's generator, and only on a day when
  some stock reports, so a seeded market without earnings follows the same path as before.

A halted stock has no corporate actions: it neither moves nor trades, so its dividend for
that quarter is passed over (no price drop, no cash) and its report is not published.
"""

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db.models import Q
from django.utils.module_loading import import_string

from prices import news
from prices.models import QUARTER_DAYS, Price

CENT = Decimal("0.01")
IN_LINE_PERCENT = 1.0  # a surprise smaller than this (either way) is "in line"

Dividend = tuple[str, Decimal]  # (symbol, per-share dividend)

_BEATS = (
    "{symbol} beats estimates; shares up {move}",
    "{name} tops forecasts; {symbol} jumps {move}",
    "{symbol} earnings beat expectations; stock up {move}",
)
_MISSES = (
    "{symbol} misses estimates; shares down {move}",
    "{name} falls short of forecasts; {symbol} slides {move}",
    "{symbol} earnings disappoint; stock down {move}",
)
_IN_LINE = (
    "{symbol} reports in line with estimates; shares {way} {move}",
    "{name} earnings match forecasts; {symbol} {way} {move}",
    "{symbol} results in line with expectations; stock {way} {move}",
)


@dataclass
class DayActions:
    """One day's corporate actions: the log shock per row of the tick, the headlines, and
    the dividends to pay."""

    shocks: dict[int, float] = field(default_factory=dict)
    drafts: list[news.Draft] = field(default_factory=list)
    dividends: list[Dividend] = field(default_factory=list)
    earnings: int = 0


def quarter_day(day: int) -> int:
    """The day of the quarter (1 to 63) of trading day `day` (1 for the first)."""
    return (day - 1) % QUARTER_DAYS + 1


def dividend_per_share(price: Decimal, dividend_yield: float) -> Decimal:
    """A quarter's dividend on `price`: price × yield / 4, rounded half up to the cent."""
    amount = price * Decimal(str(dividend_yield)) / 4
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def for_day(rows: Sequence[tuple], *, day: int, rng) -> DayActions:
    """The corporate actions of trading `day` for the tick's `rows` (prices.bulk.read_market,
    whose prices are the previous closes at a day's first tick). One query: the stocks with
    a dividend or a report on the day's place in the quarter. Halted stocks are left out."""
    q = quarter_day(day)
    position = {row[1]: i for i, row in enumerate(rows)}
    found = (
        Price.objects.filter(Q(dividend_day=q) | Q(earnings_day=q), halted=False)
        .order_by("symbol")
        .values_list(
            "symbol",
            "name",
            "previous_close",
            "dividend_yield",
            "dividend_day",
            "earnings_day",
            "earnings_volatility",
            "is_index",
        )
    )
    result = DayActions()
    reporting = []
    for symbol, name, close, dividend_yield, dividend_day, earnings_day, vol, is_index in found:
        i = position.get(symbol)
        if i is None:
            continue  # not in this tick
        if dividend_day == q and dividend_yield > 0:
            _ex_dividend(result, i, symbol=symbol, close=close, dividend_yield=dividend_yield)
        if earnings_day == q and not is_index:
            reporting.append((i, symbol, name, vol))
    for i, symbol, name, vol in reporting:
        # Two draws per report, in symbol order: the surprise, then the wording.
        jump = rng.gauss(0.0, vol) if vol > 0 else 0.0
        wording = rng.randrange(3)
        result.shocks[i] = result.shocks.get(i, 0.0) + jump
        result.drafts.append(_earnings_headline(symbol, name, jump, wording))
        result.earnings += 1
    return result


def _ex_dividend(result: DayActions, i: int, *, symbol, close: Decimal, dividend_yield) -> None:
    amount = dividend_per_share(close, dividend_yield)
    if amount < CENT or amount >= close:
        return
    result.shocks[i] = result.shocks.get(i, 0.0) + math.log(float((close - amount) / close))
    result.dividends.append((symbol, amount))
    yearly = news.percent_text(dividend_yield * 100)
    result.drafts.append(
        news.headline(
            news.Kind.DIVIDEND,
            f"{symbol} goes ex-dividend: ${amount:,.2f} a share ({yearly} a year)",
            symbol=symbol,
            percent=-amount / close * 100,
        )
    )


def _earnings_headline(symbol: str, name: str, jump: float, wording: int) -> news.Draft:
    percent = math.expm1(jump) * 100
    if abs(percent) < IN_LINE_PERCENT:
        template = _IN_LINE[wording]
    elif percent > 0:
        template = _BEATS[wording]
    else:
        template = _MISSES[wording]
    text = template.format(
        symbol=symbol,
        name=name,
        move=news.percent_text(percent),
        way="down" if percent < 0 else "up",
    )
    return news.headline(news.Kind.EARNINGS, text, symbol=symbol, percent=percent)


def add_shocks(shocks: dict[int, float], actions: DayActions) -> dict[int, float]:
    """The tick's shocks with the day's actions' added (a new dict)."""
    if not actions.shocks:
        return shocks
    merged = dict(shocks)
    for i, move in actions.shocks.items():
        merged[i] = merged.get(i, 0.0) + move
    return merged


def pay(dividends: Iterable[Dividend], *, day: int, at: datetime) -> list[str]:
    """Hand the day's dividends to each settings.DIVIDEND_HANDLERS entry, called as
    handler(dividends=[(symbol, per-share Decimal), …], day=N, at=<the tick's moment>)
    inside the tick's transaction: an error undoes the whole tick, price drop included.
    Returns what the handlers said (a string each, or nothing)."""
    dividends = list(dividends)
    notes = []
    if not dividends:
        return notes
    for path in settings.DIVIDEND_HANDLERS:
        said = import_string(path)(dividends=dividends, day=day, at=at)
        if isinstance(said, str) and said:
            notes.append(said)
    return notes


def summary(actions: DayActions) -> list[str]:
    """The tick summary's words on the day's actions, e.g. "2 dividends, 1 earnings report"."""
    parts = []
    if actions.dividends:
        n = len(actions.dividends)
        parts.append(f"{n} dividend{'s' if n != 1 else ''}")
    if actions.earnings:
        parts.append(f"{actions.earnings} earnings report{'s' if actions.earnings != 1 else ''}")
    return [", ".join(parts)] if parts else []
