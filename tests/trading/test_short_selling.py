"""Short selling: with the class's switch on, "Sell short" opens a negative
position whose proceeds are cash, and "Buy to cover" closes it; the position is a
liability at the market, a short needs equity of at least the initial margin, and the
database keeps one signed holding row per (user, symbol), never zero."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from accounts.roles import ensure_instructor_group
from ledger.models import Balance, Transaction
from portfolio.models import Holding, PortfolioSummary
from tests.factories import ClassroomFactory, InstructorFactory, PriceFactory, StudentFactory
from tests.trading.orders import money_problems
from trading import services
from trading.models import Order, Trade
from trading.services import (
    InsufficientFunds,
    NotEnoughShares,
    PositionRefused,
    RuleRefused,
    buy,
    buy_to_cover,
    sell,
    sell_short,
)

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def short_class():
    return ClassroomFactory(name="Shorts", short_selling=True)


@pytest.fixture
def student(short_class):
    return StudentFactory(username="sam", classroom=short_class)  # $10,000


@pytest.fixture
def acme():
    return PriceFactory(symbol="ACME", price=D("100.00"))


def set_price(stock, price: str) -> None:
    stock.price = D(price)
    stock.save()


def cash(user) -> Decimal:
    return Balance.objects.get(user=user).amount


def test_a_short_sale_credits_the_proceeds_and_opens_a_negative_position(student, acme):
    trade = sell_short(user=student, symbol="ACME", quantity=100, token="s-1")

    assert (trade.operation, trade.quantity, trade.total) == ("short", 100, D("10000.00"))
    assert trade.realized_pnl is None
    assert cash(student) == D("20000.00")
    holding = Holding.objects.get(user=student)
    assert (holding.quantity, holding.average_price, holding.is_short) == (-100, D("100"), True)
    row = Transaction.objects.get(user=student, type="short")
    assert (row.amount, row.balance_after) == (D("10000.00"), D("20000.00"))
    order = Order.objects.get(user=student)
    assert (order.side, order.status) == ("sell_short", "filled")
    assert money_problems() == []


def test_a_short_that_loses_half_of_the_equity(student, acme):
    # $10,000 of equity shorts $10,000 of ACME; ACME rises 50 %: covering costs $15,000.
    sell_short(user=student, symbol="ACME", quantity=100)
    set_price(acme, "150.00")

    trade = buy_to_cover(user=student, symbol="ACME", quantity=100)

    assert trade.operation == "cover"
    assert trade.realized_pnl == D("-5000.00")  # average short price minus cover price
    assert cash(student) == D("5000.00")  # the equity, halved
    assert not Holding.objects.filter(user=student).exists()
    assert PortfolioSummary.objects.get(user=student).realized_pnl == D("-5000.00")
    assert money_problems() == []


def test_a_short_that_wins_and_a_partial_cover(student, acme):
    sell_short(user=student, symbol="ACME", quantity=100)
    sell_short(user=student, symbol="ACME", quantity=50)  # average 100 at the same price
    set_price(acme, "80.00")

    trade = buy_to_cover(user=student, symbol="ACME", quantity=60)

    assert trade.realized_pnl == D("1200.00")  # (100 − 80) × 60
    holding = Holding.objects.get(user=student)
    assert (holding.quantity, holding.average_price) == (-90, D("100"))
    assert cash(student) == D("10000.00") + D("15000.00") - D("4800.00")


def test_a_short_needs_the_initial_margin(student, acme):
    # $10,000 of equity carries $20,000 of positions at a 50 % initial margin.
    sell_short(user=student, symbol="ACME", quantity=200)
    with pytest.raises(InsufficientFunds) as refused:
        sell_short(user=student, symbol="ACME", quantity=1)
    assert "Not enough equity to sell this short" in refused.value.message
    assert Holding.objects.get(user=student).quantity == -200


def test_the_class_must_allow_short_selling(acme):
    cash_only = StudentFactory(classroom=ClassroomFactory(name="Cash only"))
    with pytest.raises(RuleRefused) as refused:
        sell_short(user=cash_only, symbol="ACME", quantity=1)
    assert refused.value.rule == "short_selling"
    assert not Holding.objects.exists() and cash(cash_only) == D("10000.00")


def test_no_short_below_the_class_lowest_price(student):
    PriceFactory(symbol="PENY", price=D("4.99"))
    with pytest.raises(RuleRefused) as refused:
        sell_short(user=student, symbol="PENY", quantity=10)
    assert refused.value.rule == "min_short_price"
    assert "below $5.00" in refused.value.message


def test_a_position_is_long_or_short_never_both(student, acme):
    buy(user=student, symbol="ACME", quantity=5)
    with pytest.raises(PositionRefused, match="sell them before you sell short"):
        sell_short(user=student, symbol="ACME", quantity=5)
    sell(user=student, symbol="ACME", quantity=5)
    sell_short(user=student, symbol="ACME", quantity=5)
    with pytest.raises(PositionRefused, match="buy to cover them"):
        buy(user=student, symbol="ACME", quantity=1)
    with pytest.raises(NotEnoughShares, match="Buy to cover"):
        sell(user=student, symbol="ACME", quantity=1)
    with pytest.raises(NotEnoughShares, match="you cannot cover 6"):
        buy_to_cover(user=student, symbol="ACME", quantity=6)
    assert Holding.objects.get(user=student).quantity == -5
    assert money_problems() == []


def test_a_cover_is_never_refused_for_cash_it_borrows_what_is_missing(student, acme):
    sell_short(user=student, symbol="ACME", quantity=200)  # cash $30,000
    set_price(acme, "180.00")  # covering costs $36,000: equity −$6,000

    buy_to_cover(user=student, symbol="ACME", quantity=200)

    balance = Balance.objects.get(user=student)
    assert balance.amount == D("-6000.00")  # an account can lose more than it has
    assert balance.loan_limit == D("6000.00")
    assert money_problems() == []


def test_orders_that_wait_sell_short_and_cover(student, acme):
    def place(**fields):
        return services.place_order(
            user=student, request=services.order_request(symbol="ACME", **fields)
        )

    short = place(side="sell_short", type="limit", quantity=10, limit_price="110")
    assert (short.status, short.held_shares, short.held_cash) == ("open", 0, 0)
    set_price(acme, "110.00")
    assert services.fill_order(order_id=short.pk) == "filled"
    assert Holding.objects.get(user=student).quantity == -10

    cover = place(side="buy_to_cover", type="stop", quantity=10, stop_price="120")
    assert cover.held_shares == 10
    assert Holding.objects.get(user=student).held_quantity == 10
    with pytest.raises(NotEnoughShares):  # the shares are held for the cover
        place(side="buy_to_cover", type="limit", quantity=1, limit_price="90")
    assert money_problems() == []
    set_price(acme, "121.00")
    assert services.fill_order(order_id=cover.pk) == "filled"
    trade = Trade.objects.get(operation="cover")
    assert trade.realized_pnl == D("-110.00")  # (110 − 121) × 10
    assert not Holding.objects.exists()
    assert services.describe_order(cover).startswith("Buy to cover 10 ACME at the market price")
    assert money_problems() == []


def test_a_cancelled_cover_frees_its_shares(student, acme):
    sell_short(user=student, symbol="ACME", quantity=10)
    cover = services.place_order(
        user=student,
        request=services.order_request(
            side="buy_to_cover", symbol="ACME", quantity=10, type="limit", limit_price="90"
        ),
    )
    services.cancel_order(order_id=cover.pk, user=student)
    assert Holding.objects.get(user=student).held_quantity == 0
    assert money_problems() == []


def test_a_waiting_short_sale_is_refused_where_the_class_does_not_allow_it(acme):
    cash_only = StudentFactory(classroom=ClassroomFactory(name="Cash only"))
    with pytest.raises(RuleRefused):
        services.place_order(
            user=cash_only,
            request=services.order_request(
                side="sell_short", symbol="ACME", quantity=1, type="limit", limit_price="120"
            ),
        )
    assert not Order.objects.exists()


def test_a_reset_covers_the_shorts(student, acme, short_class):
    teacher = InstructorFactory()
    teacher.groups.add(ensure_instructor_group())
    short_class.owners.add(teacher)
    sell_short(user=student, symbol="ACME", quantity=50)
    set_price(acme, "90.00")

    result = services.reset_student(student=student, instructor=teacher, reason="again")

    assert [trade.operation for trade in result.trades] == ["cover"]
    assert not Holding.objects.exists()
    assert cash(student) == D("10000.00")
    assert money_problems() == []


def test_the_database_keeps_a_holding_signed_and_never_zero(student, acme):
    sell_short(user=student, symbol="ACME", quantity=10)
    with pytest.raises(IntegrityError), transaction.atomic():
        Holding.objects.filter(user=student).update(quantity=0)
    with pytest.raises(IntegrityError), transaction.atomic():
        Holding.objects.filter(user=student).update(held_quantity=11)
    with pytest.raises(IntegrityError), transaction.atomic():
        Trade.objects.filter(user=student).update(operation="lend")


def test_a_short_sales_proceeds_are_not_free_to_spend_or_take_out(student, acme):
    from ledger import services as ledger

    PriceFactory(symbol="BOLT", price=D("50.00"))
    sell_short(user=student, symbol="ACME", quantity=200)  # all the margin: cash $30,000
    with pytest.raises(InsufficientFunds, match="buying power is \\$0.00"):
        buy(user=student, symbol="BOLT", quantity=1)
    with pytest.raises(ledger.InsufficientFunds, match="\\$0.00 is the most you can take out"):
        ledger.withdraw(user=student, amount="1.00")
    buy_to_cover(user=student, symbol="ACME", quantity=100)  # frees half of it
    with pytest.raises(ledger.InsufficientFunds, match="\\$5,000.00 is the most"):
        ledger.withdraw(user=student, amount="5000.01")
    ledger.withdraw(user=student, amount="5000.00")
    assert money_problems() == []


def test_without_positions_a_margin_class_withdraws_as_ever(acme):
    from ledger import services as ledger

    student = StudentFactory(classroom=ClassroomFactory(name="Leverage", margin=True))
    ledger.withdraw(user=student, amount="10000.00")
    assert cash(student) == D("0.00")
