"""Headlines: the dated news the market writes (earnings, dividends, splits, large jumps,
instructors' market events, scenarios), from templates with the numbers filled in.

Writers call `headline(...)` to build one and `publish(...)` to store a batch in one
INSERT, inside the tick's transaction, so news never outlives a tick that was undone.
"""

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
