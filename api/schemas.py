"""The API's types: money as decimal strings, times as ISO 8601 with their offset."""

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from django.utils import timezone
from ninja import Schema
from pydantic import ConfigDict, Field, PlainSerializer, StrictInt, WithJsonSchema

from tradesim.money import CENT, to_4dp


def _money(value: Decimal) -> str:
    return str(Decimal(value).quantize(CENT))


Money = Annotated[
    Decimal,
    PlainSerializer(_money, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^-?\d+\.\d{2}$",
            "description": "An amount in dollars, as a decimal string with two places.",
            "examples": ["1250.00"],
        }
    ),
]

# An average price per share, kept to four places (an average of prices in cents is rarely
# whole cents): "182.3333".
AveragePrice = Annotated[
    Decimal,
    PlainSerializer(lambda value: str(to_4dp(value)), return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^\d+\.\d{4}$",
            "description": "Dollars per share, as a decimal string with four places.",
            "examples": ["182.3333"],
        }
    ),
]

# A percentage, as a decimal string ("12.34" is 12.34 %).
Percent = Annotated[
    Decimal,
    PlainSerializer(lambda value: str(value), return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^-?\d+(\.\d+)?$",
            "description": 'A percentage as a decimal string: "12.34" is 12.34 %.',
        }
    ),
]


def _local(value: datetime) -> str:
    return timezone.localtime(value).isoformat()


Timestamp = Annotated[
    datetime,
    PlainSerializer(_local, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "description": "ISO 8601, in the school's time zone, with its offset.",
        }
    ),
]

# Amounts sent to the API: decimal strings ("250.00"), never JSON numbers (floats).
MoneyText = Annotated[
    str,
    Field(
        max_length=32,
        description='Dollars as a decimal string, such as "250.00" (whole cents).',
        examples=["250.00"],
    ),
]


class TradeOut(Schema):
    id: int
    symbol: str
    side: str = Field(
        description="buy, sell, short (a short sale) or cover (a buy to cover): the trade "
        "history page's operation."
    )
    quantity: int
    price: Money
    total: Money = Field(description="Price × quantity, before commission.")
    commission: Money
    realized_pnl: Money | None = Field(
        description="On a sale: proceeds less the average cost of the shares sold; on a "
        "cover: the average short price less the cover price, times the shares. Null on buys "
        "and short sales."
    )
    timestamp: Timestamp


class OrderOut(Schema):
    id: int
    symbol: str
    side: str = Field(description="buy, sell, sell_short or buy_to_cover")
    type: str = Field(description="market, limit, stop, stop_limit or trailing_stop")
    quantity: int
    limit_price: Money | None
    stop_price: Money | None
    trail_percent: Percent | None
    trail_amount: Money | None
    duration: str = Field(description="day (today only) or gtc (good till cancelled)")
    status: str = Field(description="open, filled, cancelled, expired or rejected")
    description: str = Field(description="The order in plain words, as the pages say it.")
    held_cash: Money = Field(description="Cash an open buy holds.")
    held_shares: int = Field(
        description="Shares an open sell holds; of an open buy to cover, the short shares it "
        "closes. An open short sale holds nothing (its margin is checked when it fills)."
    )
    reason: str = Field(description="Why it was rejected or expired.")
    created_at: Timestamp
    closed_at: Timestamp | None
    trade: TradeOut | None = Field(description="The trade that filled it.")


class OrderIn(Schema):
    # What the reference offers to send: a market buy (every field filled in would be a
    # type with prices it does not take).
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"symbol": "AAPL", "quantity": 10, "side": "buy"}]}
    )

    symbol: str = Field(max_length=20, examples=["AAPL"])
    # Strict: 1.0, "1" and true are not a number of shares.
    quantity: StrictInt = Field(ge=1, examples=[10])
    side: str = Field(
        default="buy",
        max_length=20,
        description="buy, sell, sell_short (sell shares you do not own, where your class "
        "allows it) or buy_to_cover (buy back shares you are short)",
    )
    type: str = Field(
        default="market",
        max_length=20,
        description="market, limit, stop, stop_limit or trailing_stop",
    )
    limit_price: MoneyText | None = None
    stop_price: MoneyText | None = None
    trail_percent: str | None = Field(
        default=None, max_length=32, description='The trail in percent, such as "5".'
    )
    trail_amount: MoneyText | None = None
    duration: str = Field(default="day", max_length=20, description="day or gtc")


class CashIn(Schema):
    amount: MoneyText
    description: str = Field(default="", max_length=200)


class CashMovementOut(Schema):
    id: int
    type: str
    amount: Money = Field(description="Positive for money in, negative for money out.")
    balance_after: Money
    description: str
    timestamp: Timestamp


class TokenIn(Schema):
    username: str = Field(max_length=150)
    password: str = Field(max_length=4096)
    name: str = Field(max_length=50, description='What the token is for, such as "my bot".')


class TokenOut(Schema):
    token: str = Field(description="Send it as `Authorization: Bearer <token>`. Shown once.")
    id: int
    name: str
    created_at: Timestamp
