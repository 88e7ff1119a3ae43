"""A split tick racing students' orders, on PostgreSQL with real threads and row locks.

Every order and trade is wholly before the split (and split with everything else) or
wholly after it (at the split price): no order rests at an unsplit price, no holding is
split twice or not at all, and check_ledger passes."""

from decimal import Decimal

import pytest

from ledger.models import Balance
from portfolio.models import Holding
from prices.models import MarketParameters, MarketState, Price
from prices.services import advance_market
from prices.splits import schedule_split
from tests.concurrency import run_concurrently
from tests.factories import PriceFactory, StudentFactory
from tests.trading import split_gate
from tests.trading.orders import check_ledger, place, set_market_day
from trading.models import Order, Trade
from trading.services import buy

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

D = Decimal


def test_a_split_tick_racing_limit_orders_and_buys_leaves_everything_consistent(settings):
    """Four limit buys and four market buys race the tick; four more limit buys wait until
    the tick is inside the split, holding the balance locks: those wait for the tick to
    commit and see only the split price (their $110.00 limit is then marketable)."""
    settings.SPLIT_HANDLERS = ["tests.trading.split_gate.apply_split"]
    split_gate.inside.clear()
    MarketParameters.objects.update_or_create(id=1, defaults={"split_above_price": None})
    set_market_day(day=1, elapsed=0.5)
    PriceFactory(symbol="ACME", price=D("120.00"), drift=0.0, volatility=0.0, beta=0.0)
    limit_buyers = [StudentFactory(username=f"l{i}", cash="10000.00") for i in range(4)]
    late_buyers = [StudentFactory(username=f"z{i}", cash="10000.00") for i in range(4)]
    market_buyers = [StudentFactory(username=f"m{i}", cash="10000.00") for i in range(4)]
    for student in limit_buyers + market_buyers + late_buyers:
        buy(user=student, symbol="ACME", quantity=10)  # $1,200.00 each
    schedule_split(symbol="ACME", ratio="2-for-1", effective_day=2)
    MarketState.objects.update(day_elapsed=1.0)

    def tick():
        return advance_market(dt=1e-9, seed=1, wait=True)

    jobs = [tick]
    jobs += [
        (lambda s=s: place(s, side="buy", type="limit", quantity=10, limit_price="110.00"))
        for s in limit_buyers
    ]
    jobs += [(lambda s=s: buy(user=s, symbol="ACME", quantity=5)) for s in market_buyers]

    def late(student):
        assert split_gate.inside.wait(timeout=60)
        return place(student, side="buy", type="limit", quantity=10, limit_price="110.00")

    jobs += [(lambda s=s: late(s)) for s in late_buyers]

    results = run_concurrently(jobs)

    assert not any(isinstance(r, BaseException) for r in results), results
    assert results[0].splits == 1
    price = Price.objects.get(symbol="ACME").price
    assert price == D("60.00")
    # No order rests at a price from before the split.
    assert not Order.objects.filter(status="open", limit_price__gt=price).exists()
    for student in limit_buyers:
        order = Order.objects.get(user=student, type="limit")
        quantity = Holding.objects.get(user=student).quantity
        if order.status == "open":  # placed before the split, and split with it
            assert (order.quantity, order.limit_price, quantity) == (20, D("55.00"), 20)
        else:  # placed after: marketable at the split price, filled at once
            assert (order.status, order.trade.price, order.trade.quantity) == ("filled", 60, 10)
            assert quantity == 30
    for student in late_buyers:
        order = Order.objects.get(user=student, type="limit")
        assert (order.status, order.trade.price, order.trade.quantity) == ("filled", 60, 10)
        assert Holding.objects.get(user=student).quantity == 30
    for student in market_buyers:
        trade = Trade.objects.filter(user=student).latest("id")
        quantity = Holding.objects.get(user=student).quantity
        cash = Balance.objects.get(user=student).amount
        # Before the split: 15 shares split to 30; after: 20 and 5 more at $60.00.
        assert (trade.price, quantity) in ((D("120.00"), 30), (D("60.00"), 25))
        assert cash == D("10000.00") - D("1200.00") - trade.total - trade.commission
    check_ledger()
