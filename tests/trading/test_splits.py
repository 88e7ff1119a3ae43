"""Stock splits on worked examples, through the tick that opens the split's day
(prices.splits applies it, trading.splits adjusts the students' side): holdings and their
average prices, long and short; open orders of every type; the cash in lieu of fractions;
the price history; every student's value before and after; and a fixed number of
statements however many holders and orders there are. check_ledger passes after each.

The tick is a still one (a billionth of a day: no price moves by a cent), so the prices
after it are the split prices."""

from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ledger.models import Transaction
from portfolio.models import Holding
from prices.models import MarketParameters, MarketState, Price, PriceHistory
from prices.services import advance_market
from prices.splits import schedule_split
from tests.factories import ClassroomFactory, PriceFactory, PriceHistoryFactory, StudentFactory
from tests.trading.orders import cash, check_ledger, held, place, reload, set_market_day, shares
from trading.models import Order
from trading.services import buy, order_news_key, sell_short

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture(autouse=True)
def _no_automatic_splits(db):
    MarketParameters.objects.update_or_create(id=1, defaults={"split_above_price": None})


@pytest.fixture
def acme(db):
    set_market_day(day=1, elapsed=0.5)
    return PriceFactory(symbol="ACME", price=D("120.00"))


@pytest.fixture
def shorts():
    return ClassroomFactory(name="Shorts", short_selling=True)


def price(symbol="ACME") -> Decimal:
    return Price.objects.get(symbol=symbol).price


def value(user, symbol="ACME") -> Decimal:
    """Cash plus the position at the market (a short counts against)."""
    return cash(user) + shares(user, symbol)[0] * price(symbol)


def split_at_next_open(ratio: str, symbol="ACME"):
    """Schedule the split for day 2 and run the tick that opens day 2."""
    schedule_split(symbol=symbol, ratio=ratio, effective_day=2)
    MarketState.objects.update(day_elapsed=1.0)
    return advance_market(dt=1e-9, seed=1)


def split_cash(user) -> list[tuple[Decimal, str]]:
    return list(
        Transaction.objects.filter(user=user, type="split_cash").values_list(
            "amount", "description"
        )
    )


# No one's value moves ----------------------------------------------------------------------


def test_a_2_for_1_split_at_120_dollars_leaves_every_value_exactly_where_it_was(acme, shorts):
    """$120.00 2-for-1 → $60.00 exactly: 10 shares at $120.00 are 20 at $60.00, a short of
    5 is a short of 10; cash does not move; each student's value is the same to the cent."""
    alice = StudentFactory(username="alice", cash="10000.00")
    sam = StudentFactory(username="sam", classroom=shorts)
    buy(user=alice, symbol="ACME", quantity=10)
    sell_short(user=sam, symbol="ACME", quantity=5)
    before = {alice: value(alice), sam: value(sam)}
    cash_before = {alice: cash(alice), sam: cash(sam)}

    result = split_at_next_open("2-for-1")

    assert result.splits == 1 and "1 split" in result.summary()
    assert price() == D("60.00")
    acme.refresh_from_db()
    assert acme.previous_close == D("60.00")
    assert shares(alice) == (20, 0) and shares(sam) == (-10, 0)
    assert Holding.objects.get(user=alice).average_price == D("60.0000")
    assert Holding.objects.get(user=sam).average_price == D("60.0000")
    for user in (alice, sam):
        assert cash(user) == cash_before[user]
        assert value(user) == before[user]
        assert split_cash(user) == []
    check_ledger()


def test_a_3_for_2_split_at_100_01_moves_a_value_only_by_the_rounding(acme):
    """$100.01 3-for-2 → $66.67 (100.01 × 2/3 = 66.67333…, rounded half up). 11 shares
    become 16 and a half: 16 shares and half a share paid in cash at $66.67, $33.34
    (33.335 rounded half up). Value before 11 × $100.01 = $1,100.11; after
    16 × $66.67 + $33.34 = $1,100.06: it moves by the price's rounding on 16.5 new shares
    (16.5 × −$0.00333… = −$0.055) plus the cash's rounding (+$0.005), −$0.05 in all,
    within 16.5 × ½ cent + ½ cent."""
    Price.objects.filter(symbol="ACME").update(price=D("100.01"), previous_close=D("100.01"))
    alice = StudentFactory(username="alice", cash="10000.00")
    buy(user=alice, symbol="ACME", quantity=11)
    assert value(alice) == D("10000.00")  # 11 × $100.01 = $1,100.11 of her cash

    split_at_next_open("3-for-2")

    assert price() == D("66.67")
    assert shares(alice) == (16, 0)
    assert Holding.objects.get(user=alice).average_price == D("66.6733")
    assert split_cash(alice) == [(D("33.34"), "ACME 3-for-2 split: 1/2 of a share at $66.67")]
    assert cash(alice) == D("10000.00") - D("1100.11") + D("33.34")
    assert value(alice) == D("10000.00") - D("0.05")
    check_ledger()


def test_a_short_rounds_up_to_whole_shares_and_is_paid_the_half_share(acme, shorts):
    """A short of 3 at 3-for-2 owes 4.5 shares: it owes 5, and is paid the half share it
    grew by ($30.00 at $60.00 after $90.00 3-for-2... here $120.00 → $80.00: $40.00), so
    its value is the same."""
    sam = StudentFactory(username="sam", classroom=shorts)
    sell_short(user=sam, symbol="ACME", quantity=3)
    before = value(sam)

    split_at_next_open("3-for-2")

    assert price() == D("80.00")
    assert shares(sam) == (-5, 0)
    assert split_cash(sam) == [(D("40.00"), "ACME 3-for-2 split: 1/2 of a share at $80.00")]
    assert value(sam) == before
    check_ledger()


def test_a_1_for_10_reverse_split_pays_the_fractions_and_closes_what_comes_to_no_share(
    acme, django_capture_on_commit_callbacks
):
    alice = StudentFactory(username="alice", cash="10000.00")
    bob = StudentFactory(username="bob", cash="10000.00")
    buy(user=alice, symbol="ACME", quantity=15)
    buy(user=bob, symbol="ACME", quantity=5)
    small = place(bob, side="sell", type="limit", quantity=5, limit_price="130.00")
    large = place(
        alice, side="buy", type="limit", quantity=25, limit_price="110.00", duration="gtc"
    )
    tiny = place(alice, side="buy", type="limit", quantity=9, limit_price="100.00")
    held_before = held(alice)
    values = {alice: value(alice), bob: value(bob)}
    cache.clear()

    with django_capture_on_commit_callbacks(execute=True):
        split_at_next_open("1-for-10")

    assert price() == D("1200.00")
    assert shares(alice) == (1, 0)  # 1.5 → 1 and half a share in cash
    assert split_cash(alice) == [(D("600.00"), "ACME 1-for-10 split: 5/10 of a share at $1,200.00")]
    assert not Holding.objects.filter(user=bob).exists()  # 0.5 share: all in cash
    assert split_cash(bob) == [(D("600.00"), "ACME 1-for-10 split: 5/10 of a share at $1,200.00")]
    assert value(alice) == values[alice] and value(bob) == values[bob]
    small, large, tiny = reload(small), reload(large), reload(tiny)
    assert (large.status, large.quantity, large.limit_price) == ("open", 2, D("1100.00"))
    for order in (small, tiny):
        assert order.status == "cancelled" and "less than one share" in order.reason
        assert (order.held_cash, order.held_shares, order.notified) == (0, 0, False)
    assert held(alice) == held_before - D("900.00")
    assert held(bob) == 0
    assert cache.get(order_news_key(alice.pk)) and cache.get(order_news_key(bob.pk))
    check_ledger()


# Open orders ---------------------------------------------------------------------------


def test_every_open_order_is_split_and_still_holds_what_it_should(acme):
    """2-for-1 at $120.00: quantities double, prices halve, the trailing amount halves and
    the trailing percent stays; the cash a buy holds stays (the same cost), the shares a
    sell holds double with the holding."""
    alice = StudentFactory(username="alice", cash="100000.00")
    buy(user=alice, symbol="ACME", quantity=40)
    limit_buy = place(alice, side="buy", type="limit", quantity=10, limit_price="110.01")
    stop_sell = place(alice, side="sell", type="stop", quantity=10, stop_price="100.00")
    stop_limit = place(
        alice, side="sell", type="stop_limit", quantity=5, stop_price="101.00", limit_price="99.99"
    )
    trail_amount = place(alice, side="sell", type="trailing_stop", quantity=7, trail_amount="5.00")
    trail_percent = place(alice, side="sell", type="trailing_stop", quantity=3, trail_percent="10")
    market_sell = Order.objects.create(
        user=alice,
        stock_id="ACME",
        side="buy",
        type="market",
        quantity=4,
        trigger_price=D("9999999999999.99"),
        trigger_direction="below",
    )
    held_cash = held(alice)

    split_at_next_open("2-for-1")

    limit_buy = reload(limit_buy)
    assert (limit_buy.quantity, limit_buy.limit_price, limit_buy.trigger_price) == (
        20,
        D("55.01"),  # 55.005, half up
        D("55.01"),
    )
    assert limit_buy.held_cash == D("1100.10")
    stop_sell = reload(stop_sell)
    assert (stop_sell.quantity, stop_sell.held_shares, stop_sell.stop_price) == (20, 20, 50)
    assert stop_sell.trigger_price == D("50.00")
    stop_limit = reload(stop_limit)
    assert (stop_limit.quantity, stop_limit.stop_price, stop_limit.limit_price) == (
        10,
        D("50.50"),
        D("50.00"),  # 49.995, half up
    )
    trail_amount = reload(trail_amount)
    assert (trail_amount.quantity, trail_amount.trail_amount, trail_amount.trail_mark) == (
        14,
        D("2.50"),
        D("60.00"),
    )
    assert trail_amount.trigger_price == D("57.50")
    trail_percent = reload(trail_percent)
    assert (trail_percent.quantity, trail_percent.trail_percent, trail_percent.trail_mark) == (
        6,
        D("10.00"),
        D("60.00"),
    )
    assert trail_percent.trigger_price == D("54.00")
    market_sell = reload(market_sell)
    assert (market_sell.quantity, market_sell.trigger_price) == (8, D("9999999999999.99"))
    assert held(alice) == held_cash
    assert shares(alice) == (80, 20 + 10 + 14 + 6)
    check_ledger()


def test_3_for_2_rounds_each_order_down_and_the_holding_holds_their_sum(acme):
    """Orders of 3 and 3 shares held of a holding of 7: 4.5 → 4 each, the holding 10.5 →
    10 (holding 8 for them), half a share in cash."""
    alice = StudentFactory(username="alice", cash="10000.00")
    buy(user=alice, symbol="ACME", quantity=7)
    first = place(alice, side="sell", type="limit", quantity=3, limit_price="130.00")
    second = place(alice, side="sell", type="limit", quantity=3, limit_price="131.00")

    split_at_next_open("3-for-2")

    assert (reload(first).quantity, reload(first).held_shares) == (4, 4)
    assert (reload(second).quantity, reload(second).limit_price) == (4, D("87.33"))
    assert shares(alice) == (10, 8)
    check_ledger()


# The chart, and the cost ---------------------------------------------------------------


def test_the_price_history_is_divided_so_the_chart_has_no_gap(acme):
    for cents in ("120.00", "121.01", "100.01"):
        PriceHistoryFactory(stock=acme, price=D(cents))
    other = PriceFactory(symbol="OTHR", price=D("50.00"))
    PriceHistoryFactory(stock=other, price=D("50.00"))

    split_at_next_open("3-for-2")

    acme_history = list(
        PriceHistory.objects.filter(stock_id="ACME").order_by("id").values_list("price", flat=True)
    )
    # 120.00 → 80.00, 121.01 → 80.6733 → 80.67, 100.01 → 66.67; and the tick's own row
    assert acme_history == [D("80.00"), D("80.67"), D("66.67"), D("80.00")]
    assert set(PriceHistory.objects.filter(stock_id="OTHR").values_list("price", flat=True)) == {
        D("50.00")
    }


def _holders_and_orders(count: int, symbol="ACME"):
    for i in range(count):
        student = StudentFactory(username=f"s{count}-{i}", cash="10000.00")
        buy(user=student, symbol=symbol, quantity=3 + i)
        place(student, side="sell", type="limit", quantity=3, limit_price="150.00", symbol=symbol)
        place(student, side="buy", type="limit", quantity=2, limit_price="90.00", symbol=symbol)


def _split_tick_queries(symbol: str, count: int) -> int:
    set_market_day(day=1, elapsed=0.5)
    PriceFactory(symbol=symbol, price=D("120.00"))
    _holders_and_orders(count, symbol=symbol)
    schedule_split(symbol=symbol, ratio="3-for-2", effective_day=2)
    MarketState.objects.update(day_elapsed=1.0)
    with CaptureQueriesContext(connection) as queries:
        advance_market(dt=1e-9, seed=1, symbols=[symbol])
    return len(queries)


def test_a_split_costs_a_fixed_number_of_statements_however_many_holders(db):
    """Three holders with two open orders each, or twelve: the same number of statements."""
    few = _split_tick_queries("FEW", 3)
    many = _split_tick_queries("MANY", 12)

    assert few == many
    assert Transaction.objects.filter(type="split_cash").count() == 2 + 6
    check_ledger()
