"""GET /api/v1/account: the student's account at a glance (Alpaca's account, ours)."""

from ninja import Router, Schema
from pydantic import Field

from api.auth import student
from api.problems import Problem
from api.schemas import Money, Percent
from classrooms.rules import Rulebook
from portfolio.selectors import Board, percent, portfolio_overview, standing_of

router = Router(tags=["Account"])


class ClassOut(Schema):
    id: int
    name: str


class RankOut(Schema):
    rank: int | None = Field(description="Null while not ranked (too few trades, say).")
    of: int = Field(description="How many students are ranked.")
    metric: str = Field(description="What the class ranks by.")
    metric_value: Percent | None
    trades_needed: int = Field(description="Trades still needed to be ranked.")


class AccountOut(Schema):
    cash: Money
    held_for_orders: Money = Field(description="Of the cash, what open buy orders hold.")
    buying_power: Money = Field(
        description="What a new buy may cost: the cash less what open orders hold; in a class "
        "with margin, the equity ÷ the initial margin less the positions' value and open "
        "buys (never less than the free cash). With short positions, their proceeds are in the "
        "cash but not free: the same rule's figure, long and short positions both counted."
    )
    margin_loan: Money = Field(
        description="What is borrowed: the cash below zero, as a positive amount (0.00 when "
        "not borrowing; only a class with margin lends)."
    )
    equity: Money = Field(
        description="The cash plus the long positions' value, less the short positions' "
        "value: the same as total_value. Below zero when the loan or the shorts are more "
        "than the account holds."
    )
    margin_level: Percent | None = Field(
        description="Equity ÷ the positions' market value, long and short both counted, in "
        "percent (a margin call comes below the class's maintenance margin). Null without "
        "positions."
    )
    market_value: Money = Field(
        description="What the positions are worth at the last prices: long_value less "
        "short_value (below zero when the shorts are worth more)."
    )
    long_value: Money = Field(description="What the shares owned are worth at the last prices.")
    short_value: Money = Field(
        description="What buying back the shares sold short costs at the last prices (0.00 "
        "without short positions): a liability."
    )
    total_value: Money = Field(
        description="Cash plus the market value: cash + long_value − short_value (the cash is "
        "below zero on a margin loan)."
    )
    net_contributions: Money = Field(
        description="Starting cash, deposits and grants, less withdrawals."
    )
    total_return: Money = Field(
        description="Total value less net contributions: price gains and dividends together."
    )
    total_return_pct: Percent | None
    time_weighted_return_pct: Percent = Field(
        description="The return of the decisions alone, deposits and withdrawals aside."
    )
    realized_pnl: Money
    unrealized_pnl: Money
    day_change: Money
    fees: Money
    dividends: Money = Field(
        description="Dividends received less dividends charged on short positions, in all: "
        "part of the total return, apart from the price gains."
    )
    classroom: ClassOut | None = Field(description="Null for a student in no class.")
    rank: RankOut | None


@router.get(
    "/account",
    response=AccountOut,
    summary="Your account",
    openapi_extra={"responses": {"409": {"description": "No cash account (no_account)."}}},
)
def get_account(request):
    user = student(request)
    overview = portfolio_overview(user)
    if not overview.has_account:
        raise Problem("no_account", "This account has no cash account to trade with.")
    # The class came with the token (api.auth), so its rules cost no query here.
    classroom = user.classroom
    rules = Rulebook.from_classroom(classroom) if classroom else Rulebook.from_settings()
    board = Board.of(rules)
    standing = standing_of(board, user.pk)
    classroom = {"id": rules.classroom_id, "name": rules.class_name} if rules.classroom_id else None
    rank = None
    if standing is not None:
        rank = {
            "rank": standing.rank,
            "of": standing.ranked_total,
            "metric": board.metric,
            "metric_value": standing.metric_value,
            "trades_needed": standing.trades_needed,
        }
    gross = overview.long_value + overview.short_value  # what margin covers
    return {
        "cash": overview.cash,
        "held_for_orders": overview.held,
        "buying_power": overview.buying_power,
        "margin_loan": overview.loan,
        "equity": overview.total_value,
        "margin_level": percent(overview.total_value, gross) if gross > 0 else None,
        "market_value": overview.market_value,
        "long_value": overview.long_value,
        "short_value": overview.short_value,
        "total_value": overview.total_value,
        "net_contributions": overview.net_contributions,
        "total_return": overview.total_return,
        "total_return_pct": overview.total_return_pct,
        "time_weighted_return_pct": overview.twr_pct,
        "realized_pnl": overview.realized_pnl,
        "unrealized_pnl": overview.unrealized_pnl,
        "day_change": overview.day_change,
        "fees": overview.fees,
        "dividends": overview.dividends,
        "classroom": classroom,
        "rank": rank,
    }
