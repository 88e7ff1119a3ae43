"""GET /api/v1/trades and GET /api/v1/journal: the trade history and the cash journal,
with the pages' filters (checked by the pages' own forms), newest first, a page at a time."""

from ninja import Query, Router, Schema
from pydantic import Field

from api import pagination
from api.auth import student
from api.endpoints.cash import movement_out
from api.endpoints.orders import filter_form, trade_out
from api.schemas import CashMovementOut, TradeOut
from ledger.forms import JournalFilterForm
from ledger.models import Transaction
from ledger.selectors import journal_for
from trading.forms import TradeFilterForm
from trading.selectors import TradeFilters, trades_for

router = Router(tags=["History"])

NEXT_CURSOR = "Pass as `cursor` for the next (older) page; null on the last."
CURSOR = "The next_cursor of the page before, for the page after it."
START = "From this day on (YYYY-MM-DD, the school's calendar), inclusive."
END = "Up to this day (YYYY-MM-DD), inclusive."


class _Paged(Schema):
    cursor: str | None = Field(default=None, max_length=200, description=CURSOR)
    limit: int = Field(
        default=pagination.DEFAULT_LIMIT,
        ge=1,
        le=pagination.MAX_LIMIT,
        description=f"Rows per page (1 to {pagination.MAX_LIMIT}).",
    )


class TradeQuery(_Paged):
    symbol: str | None = Field(default=None, max_length=30, description="One symbol's trades.")
    side: str | None = Field(
        default=None,
        description="buy, sell, short or cover: the trade history page's `operation` "
        "filter, by the name the orders use.",
    )
    start: str | None = Field(default=None, description=START)
    end: str | None = Field(default=None, description=END)


class TradePage(Schema):
    data: list[TradeOut] = Field(description="Newest first.")
    next_cursor: str | None = Field(description=NEXT_CURSOR)


@router.get(
    "/trades",
    response=TradePage,
    summary="Your trades",
    description="Every buy and sell you made (each fill of an order), newest first, with the "
    "trade history page's filters: `symbol`, `side` (the page calls it operation), `start` "
    "and `end`.",
)
def list_trades(request, query: Query[TradeQuery]):
    user = student(request)
    form = filter_form(
        TradeFilterForm,
        query,
        ["symbol", "side", "start", "end"],
        aliases={"side": "operation"},
    )
    rows = trades_for(user, TradeFilters(**form.cleaned_data))
    found, next_cursor = pagination.page(
        rows, cursor=query.cursor, limit=query.limit, time_field="timestamp"
    )
    return {"data": [trade_out(trade) for trade in found], "next_cursor": next_cursor}


class JournalQuery(_Paged):
    type: str | None = Field(
        default=None, description=f"One type of row: {', '.join(Transaction.Type.values)}."
    )
    symbol: str | None = Field(
        default=None, max_length=30, description="The rows of one symbol's trades."
    )
    start: str | None = Field(default=None, description=START)
    end: str | None = Field(default=None, description=END)


class JournalRowOut(CashMovementOut):
    symbol: str = Field(description="The symbol of a trade's row; empty for the others.")


class JournalPage(Schema):
    data: list[JournalRowOut] = Field(description="Newest first.")
    next_cursor: str | None = Field(description=NEXT_CURSOR)


@router.get(
    "/journal",
    response=JournalPage,
    summary="Your cash journal",
    description="Every change of your cash, newest first: deposits, withdrawals, the cash "
    "side of each trade, commissions, your instructor's grants and resets, and the interest "
    "charged on a margin loan (`interest`) or paid on cash (`cash_interest`) at each "
    "simulated day's close. `amount` is "
    "signed (money in positive, out negative) and `balance_after` is the cash right after "
    "the row. The cash journal page's filters: `type`, `symbol`, `start`, `end`.",
)
def list_journal(request, query: Query[JournalQuery]):
    user = student(request)
    form = filter_form(JournalFilterForm, query, ["type", "symbol", "start", "end"])
    found, next_cursor = pagination.page(
        journal_for(user, form.filters()),
        cursor=query.cursor,
        limit=query.limit,
        time_field="timestamp",
    )
    return {
        "data": [{**movement_out(row), "symbol": row.symbol} for row in found],
        "next_cursor": next_cursor,
    }
