"""GET /api/v1/news: the market's headlines, as the news page lists them, newest first, a
page at a time."""

from ninja import Query, Router, Schema
from pydantic import Field

from api import pagination
from api.endpoints.activity import NEXT_CURSOR, _Paged
from api.endpoints.orders import filter_form
from api.problems import Problem
from api.schemas import Percent, Timestamp
from prices.forms import KINDS, NewsFilterForm
from prices.models import Headline, Price
from prices.selectors import headlines

router = Router(tags=["Market news"])


class NewsQuery(_Paged):
    symbol: str | None = Field(
        default=None, max_length=30, description="Only the headlines about this symbol."
    )
    kind: str | None = Field(default=None, description=f"Only one kind of news: {KINDS}.")


class HeadlineOut(Schema):
    id: int
    kind: str = Field(
        description="earnings, dividend, split, jump (a large move), event (your "
        "instructor's market event), scenario (a scripted market) or market (the whole "
        "market's large move)."
    )
    day: int = Field(description="The simulated trading day it came on (1 for the first).")
    published_at: Timestamp = Field(description="When the tick that wrote it ran.")
    symbol: str | None = Field(
        description="The symbol it is about; null for a sector's or the whole market's news."
    )
    sector: str = Field(description="The sector it is about (empty for the whole market).")
    text: str = Field(description="The headline.")
    percent: Percent | None = Field(
        description="The move it came with, in percent; null for news that moved nothing yet "
        "(a split announced for a later day, say)."
    )


class NewsPage(Schema):
    data: list[HeadlineOut] = Field(description="Newest first.")
    next_cursor: str | None = Field(description=NEXT_CURSOR)


def headline_out(row: Headline) -> dict:
    return {
        "id": row.pk,
        "kind": row.kind,
        "day": row.day,
        "published_at": row.published_at,
        "symbol": row.stock_id,
        "sector": row.sector,
        "text": row.text,
        "percent": row.percent,
    }


@router.get(
    "/news",
    response=NewsPage,
    summary="Market news",
    description="The market's headlines, newest first, as the news page lists them: "
    "earnings reports, dividends, splits, large moves and your instructor's market events. "
    "Filters: `kind` and `symbol` (a symbol not on the market answers 400 unknown_symbol). "
    "Any token, a student's or an instructor's.",
)
def list_news(request, query: Query[NewsQuery]):
    form = filter_form(NewsFilterForm, query, ["kind", "symbol"])
    kind, symbol = form.cleaned_data["kind"], form.cleaned_data["symbol"]
    if symbol and not Price.objects.filter(symbol=symbol).exists():
        raise Problem(
            "unknown_symbol", f"There is no symbol {symbol} on this market.", field="symbol"
        )
    found, next_cursor = pagination.page(
        headlines(kind=kind, symbol=symbol),
        cursor=query.cursor,
        limit=query.limit,
        time_field="published_at",
    )
    return {"data": [headline_out(row) for row in found], "next_cursor": next_cursor}
