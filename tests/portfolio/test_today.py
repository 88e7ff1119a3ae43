"""How "Today" on a holding is measured: the shares held when the trading day began count
from the previous close, the shares bought since from what they cost (buying is not a gain
or a loss), and a sale takes the shares held longest first. Worked examples, by hand."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from portfolio import selectors
from portfolio.models import Holding
from tests.portfolio.helpers import buy, listed, new_trading_day, sell, set_price

D = Decimal

pytestmark = pytest.mark.django_db


def position(user, symbol: str) -> selectors.Position:
    return next(p for p in selectors.portfolio_overview(user).positions if p.symbol == symbol)


@pytest.fixture
def day_started(db):
    """The current trading day began an hour ago: every purchase in the test is today's."""
    new_trading_day(timezone.now() - timedelta(hours=1))


def test_shares_bought_today_count_from_their_purchase_price(student, day_started):
    # Closed yesterday at 40.00; bought 10 today at 50.00; now 52.00.
    listed("NOVA", "50.00")
    set_price("NOVA", "50.00", previous_close="40.00")
    buy(student, "NOVA", 10)
    set_price("NOVA", "52.00")

    nova = position(student, "NOVA")
    assert nova.bought_today == 10
    assert nova.day_change == D("20.00")  # 10 × (52 − 50), not 10 × (52 − 40)
    assert nova.day_change_pct == D("4.00")  # 20 / 500


def test_right_after_a_purchase_today_is_zero(student, day_started):
    listed("NOVA", "50.00")
    set_price("NOVA", "50.00", previous_close="40.00")
    buy(student, "NOVA", 10)

    overview = selectors.portfolio_overview(student)
    assert overview.positions[0].day_change == D("0.00")
    assert overview.day_change == D("0.00")
    assert overview.day_change_pct == D("0.00")


def test_a_holding_partly_bought_today_mixes_the_two(student):
    # 10 held since an earlier day; the day closed at 110.00; 5 more bought today at 115.00;
    # now 120.00: 10 × (120 − 110) + 5 × (120 − 115) = 100 + 25.
    listed("AAPL", "100.00")
    buy(student, "AAPL", 10)
    new_trading_day()
    set_price("AAPL", "115.00", previous_close="110.00")
    buy(student, "AAPL", 5)
    set_price("AAPL", "120.00")

    aapl = position(student, "AAPL")
    assert (aapl.quantity, aapl.bought_today) == (15, 5)
    assert aapl.day_change == D("125.00")
    assert aapl.day_change_pct == D("7.46")  # 125 / (10 × 110 + 5 × 115 = 1,675)
    # The average cost is of all 15 shares, as before: (1,000 + 575) / 15.
    assert aapl.average_cost == D("105.0000")


def test_two_purchases_today_count_from_their_average_price(student, day_started):
    listed("XOM", "100.00")
    buy(student, "XOM", 4)  # 400.00
    set_price("XOM", "105.00")
    buy(student, "XOM", 6)  # 630.00: 10 bought today at 103.00 on average
    set_price("XOM", "110.00")

    assert Holding.objects.get(stock_id="XOM").day_average_price == D("103.0000")
    xom = position(student, "XOM")
    assert xom.day_change == D("70.00")  # 10 × (110 − 103)
    assert xom.day_change_pct == D("6.80")  # 70 / 1,030


def test_a_sale_today_takes_the_shares_held_before_today_first(student):
    listed("AAPL", "100.00")
    buy(student, "AAPL", 10)
    new_trading_day()
    set_price("AAPL", "104.00", previous_close="100.00")
    buy(student, "AAPL", 5)  # 15 held: 10 from before today, 5 bought at 104.00
    set_price("AAPL", "106.00")

    sell(student, "AAPL", 3)  # out of the 10 older ones: 7 of them left, and the 5
    aapl = position(student, "AAPL")
    assert (aapl.quantity, aapl.bought_today) == (12, 5)
    assert aapl.day_change == D("52.00")  # 7 × (106 − 100) + 5 × (106 − 104)

    sell(student, "AAPL", 9)  # the 7 older ones, then 2 of today's: 3 of today's left
    aapl = position(student, "AAPL")
    assert (aapl.quantity, aapl.bought_today) == (3, 3)
    assert aapl.day_change == D("6.00")  # 3 × (106 − 104)
    assert aapl.day_change_pct == D("1.92")  # 6 / 312


def test_the_next_day_yesterdays_purchases_count_from_the_previous_close(student, day_started):
    listed("NOVA", "50.00")
    buy(student, "NOVA", 10)
    new_trading_day()
    set_price("NOVA", "55.00", previous_close="53.00")

    nova = position(student, "NOVA")
    assert nova.bought_today == 0
    assert nova.day_change == D("20.00")  # 10 × (55 − 53)
    assert nova.day_change_pct == D("3.77")  # 2 / 53


def test_a_purchase_on_a_new_day_starts_the_days_record_again(student, day_started):
    listed("NOVA", "50.00")
    buy(student, "NOVA", 10)
    new_trading_day()
    set_price("NOVA", "60.00", previous_close="55.00")
    buy(student, "NOVA", 2)
    set_price("NOVA", "61.00")

    holding = Holding.objects.get(stock_id="NOVA")
    assert (holding.day_quantity, holding.day_average_price) == (2, D("60.0000"))
    nova = position(student, "NOVA")
    assert nova.bought_today == 2
    assert nova.day_change == D("62.00")  # 10 × (61 − 55) + 2 × (61 − 60)


def test_a_sale_clears_an_earlier_days_record(student, day_started):
    """Yesterday's 10 purchases are no longer today's: selling 5 must not leave a record of
    10 bought on a holding of 5 (the database refuses day_quantity > quantity)."""
    listed("NOVA", "50.00")
    buy(student, "NOVA", 10)
    new_trading_day()

    sell(student, "NOVA", 5)

    holding = Holding.objects.get(stock_id="NOVA")
    assert (holding.quantity, holding.day_quantity) == (5, 0)
    assert position(student, "NOVA").bought_today == 0


def test_the_dashboard_total_today_adds_the_holdings_and_is_a_share_of_the_days_start(student):
    # Cash 10,000 − 1,000 − 575 = 8,425. AAPL as in the mixed example (+125.00); XOM, 20 held
    # since an earlier day, closed at 50.00 and is now 45.00 (−100.00).
    listed("AAPL", "100.00")
    listed("XOM", "50.00")
    buy(student, "AAPL", 10)
    new_trading_day()
    set_price("AAPL", "115.00", previous_close="110.00")
    buy(student, "AAPL", 5)
    set_price("AAPL", "120.00")
    set_price("XOM", "45.00", previous_close="50.00")
    Holding.objects.create(user=student, stock_id="XOM", quantity=20, average_price=D("50"))

    overview = selectors.portfolio_overview(student)
    assert overview.day_change == D("25.00")  # 125 − 100
    # Of the value the day started from: 8,425 + 1,800 + 900 − 25 = 11,100.
    assert overview.total_value == D("11125.00")
    assert overview.day_change_pct == D("0.23")  # 25 / 11,100


def test_with_no_market_clock_yet_every_purchase_is_todays(student):
    """Before the market's first day (no market_state row), nothing has closed: a purchase
    counts from its price."""
    listed("NOVA", "50.00")
    set_price("NOVA", "50.00", previous_close="45.00")
    buy(student, "NOVA", 10)
    set_price("NOVA", "51.00")

    assert position(student, "NOVA").day_change == D("10.00")


def test_today_costs_no_extra_query(student, day_started, django_assert_num_queries):
    for symbol in ("AAA", "BBB", "CCC"):
        listed(symbol, "10.00")
        buy(student, symbol, 3)
    with django_assert_num_queries(2):
        selectors.portfolio_overview(student)
