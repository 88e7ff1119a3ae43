"""order_request reads prices and trails as people type them, and names the input at fault
(InvalidOrder.field), so a form can put the message next to it."""

import re
from decimal import Decimal

import pytest

from trading.services import InvalidOrder, order_request


def limit(value):
    return order_request(side="buy", type="limit", symbol="AAPL", quantity=1, limit_price=value)


def trail(value):
    return order_request(
        side="sell", type="trailing_stop", symbol="AAPL", quantity=1, trail_percent=value
    )


@pytest.mark.parametrize(
    ("text", "price"),
    [
        ("180", Decimal("180.00")),
        ("$180.50", Decimal("180.50")),
        (" $ 180.5 ", Decimal("180.50")),
        ("1,800.00", Decimal("1800.00")),
        ("180.500", Decimal("180.50")),
        (Decimal("1E+2"), Decimal("100.00")),
        (180, Decimal("180.00")),
    ],
)
def test_a_price_in_dollars_and_cents_is_read_in_cents(text, price):
    value = limit(text).limit_price

    assert value == price
    assert value.as_tuple().exponent == -2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("١٨٠", "in dollars and cents"),  # digits of another script
        ("1_000", "in dollars and cents"),
        ("1e3", "in dollars and cents"),
        ("1,80", "in dollars and cents"),  # a comma that is not a thousands separator
        ("NaN", "in dollars and cents"),
        ("180.505", "in whole cents"),
        ("-5", "above $0.00"),
        ("0", "above $0.00"),
        (1.5, "in dollars and cents"),  # a float is never money
    ],
)
def test_a_price_that_is_not_dollars_and_cents_is_refused_on_its_field(text, message):
    with pytest.raises(InvalidOrder, match=re.escape(message)) as excinfo:
        limit(text)

    assert excinfo.value.field == "limit_price"


@pytest.mark.parametrize(
    ("text", "percent"),
    [("5", Decimal("5")), ("7.5%", Decimal("7.5")), (" 7.50 % ", Decimal("7.5"))],
)
def test_a_trail_in_percent_is_read(text, percent):
    assert trail(text).trail_percent == percent


@pytest.mark.parametrize("text", ["١", "1e1", "5..5", "five"])
def test_a_trail_that_is_not_a_percent_is_refused_on_its_field(text):
    with pytest.raises(InvalidOrder, match="in percent") as excinfo:
        trail(text)

    assert excinfo.value.field == "trail_percent"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"side": "hold"}, "side"),
        ({"type": "iceberg"}, "type"),
        ({"duration": "forever"}, "duration"),
        ({"type": "limit"}, "limit_price"),
        ({"type": "stop"}, "stop_price"),
        ({"type": "stop_limit", "stop_price": "150"}, "limit_price"),
        ({"type": "stop_limit", "limit_price": "150"}, "stop_price"),
        ({"type": "trailing_stop"}, "trail_percent"),
        ({"type": "trailing_stop", "trail_percent": "5", "trail_amount": "2"}, "trail_amount"),
        ({"type": "trailing_stop", "trail_amount": "0"}, "trail_amount"),
    ],
)
def test_each_refusal_names_its_field(fields, field):
    order = {"side": "buy", "symbol": "AAPL", "quantity": 1, **fields}

    with pytest.raises(InvalidOrder) as excinfo:
        order_request(**order)

    assert excinfo.value.field == field
