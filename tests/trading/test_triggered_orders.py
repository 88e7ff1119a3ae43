"""Finding the open orders a tick's prices reach (trading.services.triggered_orders) and
moving the trailing stops (follow_trailing_stops): which orders, in which order, and the
plan that keeps the work to the orders reached (bench/tick.py --orders has the times)."""

import re
from decimal import Decimal

import pytest
from django.db import connection

from prices.models import Price
from tests.factories import PriceFactory, StudentFactory
from trading import services
from trading.models import Order
from trading.services import buy, cancel_order, order_request, place_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def aapl(db):
    return PriceFactory(symbol="AAPL", price=Decimal("100.00"))


@pytest.fixture
def trader(aapl):
    student = StudentFactory(username="tess", cash="100000.00")
    buy(user=student, symbol="AAPL", quantity=100)
    return student


def _place(user, side, type, symbol="AAPL", **prices):
    request = order_request(side=side, type=type, symbol=symbol, quantity=1, **prices)
    return place_order(user=user, request=request)


def _set_price(symbol, price, *, halted=False):
    Price.objects.filter(symbol=symbol).update(price=Decimal(price), halted=halted)


@pytest.fixture
def book(trader):
    """One order of each kind that waits, each 5 % from $100.00."""
    return {
        "buy limit": _place(trader, "buy", "limit", limit_price="95.00"),
        "sell stop": _place(trader, "sell", "stop", stop_price="95.00"),
        "sell trailing": _place(trader, "sell", "trailing_stop", trail_percent="5"),
        "buy stop-limit": _place(
            trader, "buy", "stop_limit", stop_price="105.00", limit_price="106.00"
        ),
        "sell limit": _place(trader, "sell", "limit", limit_price="105.00"),
        "buy stop": _place(trader, "buy", "stop", stop_price="105.00"),
        "buy trailing": _place(trader, "buy", "trailing_stop", trail_amount="5.00"),
    }


@pytest.mark.parametrize(
    ("price", "reached"),
    [
        ("100.00", []),
        ("95.01", []),
        ("95.00", ["buy limit", "sell stop", "sell trailing"]),
        ("80.00", ["buy limit", "sell stop", "sell trailing"]),
        ("104.99", []),
        ("105.00", ["buy stop-limit", "sell limit", "buy stop", "buy trailing"]),
        ("130.00", ["buy stop-limit", "sell limit", "buy stop", "buy trailing"]),
    ],
)
def test_the_orders_found_are_those_the_price_reaches_at_or_past_their_trigger(
    book, price, reached
):
    _set_price("AAPL", price)

    assert services.triggered_orders() == sorted(book[name].pk for name in reached)


def test_orders_on_a_halted_symbol_wait(book):
    _set_price("AAPL", "80.00", halted=True)

    assert services.triggered_orders() == []


def test_a_cancelled_order_is_not_found(book, trader):
    cancel_order(order_id=book["buy limit"].pk, user=trader)
    _set_price("AAPL", "80.00")

    assert services.triggered_orders() == [book["sell stop"].pk, book["sell trailing"].pk]


def test_the_orders_come_oldest_first_across_symbols_and_directions(trader):
    PriceFactory(symbol="MSFT", price=Decimal("100.00"))
    placed = [
        _place(trader, "buy", "limit", symbol="MSFT", limit_price="99.00"),
        _place(trader, "sell", "limit", limit_price="101.00"),
        _place(trader, "buy", "stop", symbol="MSFT", stop_price="101.00"),
        _place(trader, "buy", "limit", limit_price="99.00"),
    ]
    _set_price("MSFT", "99.00")
    _set_price("AAPL", "99.00")
    assert services.triggered_orders() == [placed[0].pk, placed[3].pk]

    _set_price("MSFT", "101.00")
    _set_price("AAPL", "101.00")
    assert services.triggered_orders() == [placed[1].pk, placed[2].pk]


def test_trailing_stops_follow_a_new_high_or_low_and_not_a_retreat(trader):
    sell = _place(trader, "sell", "trailing_stop", trail_percent="10")
    buy_back = _place(trader, "buy", "trailing_stop", trail_amount="5.00")

    _set_price("AAPL", "120.00")
    assert services.follow_trailing_stops() == 1
    sell.refresh_from_db()
    assert (sell.trail_mark, sell.trigger_price) == (Decimal("120.00"), Decimal("108.00"))

    _set_price("AAPL", "90.00")
    assert services.follow_trailing_stops() == 1
    buy_back.refresh_from_db()
    assert (buy_back.trail_mark, buy_back.trigger_price) == (Decimal("90.00"), Decimal("95.00"))

    _set_price("AAPL", "110.00")  # below the sell's high, above the buy's low: nothing moves
    assert services.follow_trailing_stops() == 0
    sell.refresh_from_db()
    assert (sell.trail_mark, sell.trigger_price) == (Decimal("120.00"), Decimal("108.00"))


def test_a_trailing_percent_rounds_a_sells_stop_down_to_the_cent(trader):
    sell = _place(trader, "sell", "trailing_stop", trail_percent="7.5")

    _set_price("AAPL", "101.00")  # 101.00 × 0.925 = 93.425: the whole trail is 93.42
    services.follow_trailing_stops()

    sell.refresh_from_db()
    assert (sell.trail_mark, sell.trigger_price) == (Decimal("101.00"), Decimal("93.42"))


def test_a_trailing_stop_closed_meanwhile_keeps_its_mark(trader):
    sell = _place(trader, "sell", "trailing_stop", trail_percent="10")
    cancel_order(order_id=sell.pk, user=trader)

    _set_price("AAPL", "120.00")

    assert services.follow_trailing_stops() == 0
    sell.refresh_from_db()
    assert sell.trail_mark == Decimal("100.00")


def test_the_query_reads_each_symbols_range_of_the_trigger_index(trader):
    """Per symbol and direction one range of orders_open_trigger, not every open order:
    enough orders that a planner left to choose would read them all."""
    symbols = [PriceFactory(symbol=f"S{i:02d}", price=Decimal("100.00")).symbol for i in range(20)]
    orders = []
    for symbol in symbols:
        for k in range(100):
            below = k % 2 == 0
            price = Decimal(90 - k % 40) if below else Decimal(110 + k % 40)
            orders.append(
                Order(
                    user=trader,
                    stock_id=symbol,
                    side="buy" if below else "sell",
                    type="limit",
                    quantity=1,
                    limit_price=price,
                    trigger_price=price,
                    trigger_direction="below" if below else "above",
                )
            )
    Order.objects.bulk_create(orders)
    postgres = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        if postgres:  # statistics, as autovacuum keeps them (SQLite runs without any)
            cursor.execute("ANALYZE")
        explain = "EXPLAIN " if postgres else "EXPLAIN QUERY PLAN "
        cursor.execute(explain + services._TRIGGERED_SQL[connection.vendor])
        plan = "\n".join(" ".join(map(str, row)) for row in cursor.fetchall())

    if postgres:
        ranges = [
            line
            for line in plan.splitlines()
            if "Index Cond" in line and re.search(r"symbol\)?(::text)? = \(p(_1)?\.symbol", line)
        ]
        found = sorted(
            ("below" if "'below'" in line else "above", "trigger_price >= p" in line)
            for line in ranges
        )
        assert found == [("above", False), ("below", True)], plan
        assert "orders_open_trigger" in plan and "Hash" not in plan, plan
    else:
        ranges = "orders_open_trigger (trigger_direction=? AND symbol=? AND trigger_price"
        assert plan.count(ranges) == 2, plan
