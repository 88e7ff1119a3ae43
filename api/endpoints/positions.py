"""GET /api/v1/positions: the student's holdings, valued as the dashboard values them."""

from ninja import Router, Schema
from pydantic import Field

from api.auth import student
from api.schemas import AveragePrice, Money, Percent
from portfolio.selectors import Position, portfolio_overview

router = Router(tags=["Positions"])


class PositionOut(Schema):
    symbol: str
    name: str = Field(description="The company's name.")
    sector: str
    halted: bool = Field(description="Trading in the symbol is paused by the instructor.")
    quantity: int = Field(
        description="Shares held, those held for open orders included; below zero for a "
        "short position (-50: short 50 shares)."
    )
    side: str = Field(description='"long" (shares owned) or "short" (shares sold short).')
    held_for_orders: int = Field(
        description="Of the shares, how many open sell orders (of a short position, open buy "
        "to cover orders) hold: they cannot be sold or covered again until those orders fill "
        "or are cancelled."
    )
    available: int = Field(
        description="Shares free to sell now, or of a short position free to cover: the "
        "position's size less held_for_orders."
    )
    average_cost: AveragePrice = Field(
        description="What a share cost on average (commissions aside), to four places."
    )
    price: Money = Field(description="The last price.")
    previous_close: Money = Field(description="The price at the end of the previous trading day.")
    market_value: Money = Field(
        description="Quantity × the last price: below zero for a short position (what buying "
        "the shares back costs)."
    )
    cost_basis: Money = Field(
        description="Quantity × the average cost (of a short, the average price it was sold "
        "at): below zero for a short."
    )
    unrealized_pnl: Money = Field(
        description="Market value less cost basis: of a short, (average short price − price) "
        "× shares."
    )
    unrealized_pnl_pct: Percent | None = Field(
        description="Unrealized P/L as a percentage of the cost basis (of a short, of what it "
        "was sold for)."
    )
    day_change: Money = Field(
        description="The holding's change in value today: from the previous close for shares "
        "held when the trading day began, from the price paid for shares bought since."
    )
    day_change_pct: Percent | None = Field(
        description="The day's change as a percentage of what the holding started the day at."
    )
    weight_pct: Percent | None = Field(
        description="Market value as a percentage of what is held: the long positions and the "
        "cash, or with a margin loan (cash below zero) the long positions alone; of a short "
        "position, its share of all the short positions' value. Null when that is zero."
    )


class PositionsOut(Schema):
    data: list[PositionOut] = Field(description="One entry per symbol held, by symbol.")
    market_value: Money = Field(description="The positions' market value together.")
    cost_basis: Money = Field(description="The positions' cost basis together.")
    unrealized_pnl: Money = Field(description="Market value less cost basis, together.")
    unrealized_pnl_pct: Percent | None = Field(
        description="Unrealized P/L as a percentage of the cost basis; null with no positions."
    )
    day_change: Money = Field(description="The positions' change in value today, together.")


def position_out(position: Position) -> dict:
    return {
        "symbol": position.symbol,
        "name": position.name,
        "sector": position.sector,
        "halted": position.halted,
        "quantity": position.quantity,
        "side": "short" if position.quantity < 0 else "long",
        "held_for_orders": position.held_quantity,
        "available": abs(position.quantity) - position.held_quantity,
        "average_cost": position.average_cost,
        "price": position.price,
        "previous_close": position.previous_close,
        "market_value": position.market_value,
        "cost_basis": position.cost_basis,
        "unrealized_pnl": position.unrealized_pnl,
        "unrealized_pnl_pct": position.unrealized_pnl_pct,
        "day_change": position.day_change,
        "day_change_pct": position.day_change_pct,
        "weight_pct": position.weight,
    }


@router.get(
    "/positions",
    response=PositionsOut,
    summary="Your positions",
    description="Every symbol you hold, valued at the last prices, as the dashboard's "
    "holdings table shows it. Student tokens only.",
)
def list_positions(request):
    overview = portfolio_overview(student(request))
    return {
        "data": [position_out(position) for position in overview.positions],
        "market_value": overview.market_value,
        "cost_basis": overview.cost_basis,
        "unrealized_pnl": overview.unrealized_pnl,
        "unrealized_pnl_pct": overview.unrealized_pnl_pct,
        "day_change": overview.day_change,
    }
