"""Short positions in margin calls and the daily borrow fee: a short that rises
is a margin call like a margin loan that falls, covered at the market, largest first; a
class's borrow fee charges the shorts' value at each simulated day's close."""

from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from accounts.roles import ensure_instructor_group
from ledger.models import Balance, Transaction
from portfolio.models import Holding
from prices.models import MarketState, Price
from tests.factories import ClassroomFactory, InstructorFactory, PriceFactory, StudentFactory
from tests.instructors.helpers import form_data
from tests.trading.orders import money_problems
from trading.models import MarginCall, Trade
from trading.services import (
    FillSummary,
    buy,
    charge_borrow_fees,
    check_margin_calls,
    fill_orders,
    sell_short,
)

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def short_class():
    # 50 % initial, 30 % maintenance, 0 days: the defaults.
    return ClassroomFactory(name="Shorts", short_selling=True, borrow_fee_percent=D("3"))


@pytest.fixture
def sam(short_class):
    return StudentFactory(username="sam", classroom=short_class)  # $10,000


@pytest.fixture
def market():
    return PriceFactory(symbol="ACME", price=D("100.00")), PriceFactory(
        symbol="BOLT", price=D("50.00")
    )


def set_price(symbol: str, price: str) -> None:
    Price.objects.filter(symbol=symbol).update(price=D(price))


def cash(user) -> Decimal:
    return Balance.objects.get(user=user).amount


def test_a_short_that_rises_to_the_call_is_covered_at_once(sam, market):
    # $10,000 of equity shorts $20,000 of ACME (200 at $100): cash $30,000.
    sell_short(user=sam, symbol="ACME", quantity=200)
    set_price("ACME", "120.00")  # short value $24,000: equity $6,000 ≥ 30 % ($7,200)? no
    summary = check_margin_calls()

    assert (summary.opened, summary.liquidated) == (1, 1)
    call = MarginCall.objects.get(user=sam)
    assert (call.equity, call.requirement) == (D("6000.00"), D("7200.00"))
    assert call.status == "liquidated"
    assert "Covered 200 ACME @ 120.00" in call.detail
    cover = Trade.objects.get(user=sam, operation="cover")
    assert cover.realized_pnl == D("-4000.00")
    row = Transaction.objects.get(user=sam, type="cover")
    assert row.description == "Margin call: Bought to cover 200 ACME @ 120.00"
    assert not Holding.objects.filter(user=sam).exists()
    assert cash(sam) == D("6000.00")  # the equity, all of it cash
    assert money_problems() == []


def test_above_the_maintenance_a_short_is_left_alone(sam, market):
    sell_short(user=sam, symbol="ACME", quantity=200)
    set_price("ACME", "115.00")  # equity $7,000 ≥ 30 % of $23,000 ($6,900)
    assert not check_margin_calls()
    assert not MarginCall.objects.exists()


def test_long_and_short_positions_are_closed_largest_first_until_it_is_met(market):
    student = StudentFactory(
        classroom=ClassroomFactory(name="Both", short_selling=True, margin=True)
    )
    buy(user=student, symbol="BOLT", quantity=100)  # $5,000 long
    sell_short(user=student, symbol="ACME", quantity=150)  # $15,000 short
    # Cash $20,000; ACME doubles: short $30,000, long $5,000, equity −$5,000.
    set_price("ACME", "200.00")

    check_margin_calls()

    call = MarginCall.objects.get(user=student)
    assert call.status == "liquidated"
    # The short, the largest, goes first; the equity still short of 30 % of the BOLT left,
    # so BOLT is sold too.
    operations = list(
        Trade.objects.filter(user=student).order_by("id").values_list("operation", "stock_id")
    )
    assert operations[-2:] == [("cover", "ACME"), ("sell", "BOLT")]
    assert cash(student) == D("-5000.00")  # an account can lose more than it has
    assert money_problems() == []


def test_the_borrow_fee_charges_the_shorts_value_at_the_close(sam, market):
    sell_short(user=sam, symbol="ACME", quantity=100)  # $10,000 short, 3 % a year
    assert charge_borrow_fees(day=4) == 1
    row = Transaction.objects.get(user=sam, type="borrow_fee")
    assert row.amount == D("1.19")  # 10,000 × 3 % ÷ 252
    assert row.description == (
        "Borrow fee on your short positions of $10,000.00 at 3 % a year (day 4)"
    )
    assert charge_borrow_fees(day=4) == 0  # once a day
    assert Transaction.objects.filter(user=sam, type="borrow_fee").count() == 1
    assert cash(sam) == D("20000.00") - D("1.19")
    assert money_problems() == []


def test_no_fee_without_a_rate_or_without_shorts(market):
    free = StudentFactory(classroom=ClassroomFactory(name="No fee", short_selling=True))
    sell_short(user=free, symbol="ACME", quantity=10)
    long_only = StudentFactory(
        classroom=ClassroomFactory(name="Fee", short_selling=True, borrow_fee_percent=D("5"))
    )
    buy(user=long_only, symbol="ACME", quantity=10)
    assert charge_borrow_fees(day=1) == 0
    assert not Transaction.objects.filter(type="borrow_fee").exists()


def test_a_days_close_charges_the_borrow_fee_and_says_so(sam, market):
    sell_short(user=sam, symbol="ACME", quantity=100)
    MarketState.objects.update_or_create(
        id=1,
        defaults={"trading_day": 2, "day_elapsed": 1.0, "day_started_at": timezone.now()},
    )
    summary = fill_orders()
    assert isinstance(summary, FillSummary) and summary.borrow_fees == 1
    assert "borrow fees: 1 account" in str(summary)
    assert Transaction.objects.filter(user=sam, type="borrow_fee").count() == 1


def test_a_teacher_cannot_switch_shorts_or_margin_off_while_students_use_them(sam, market):
    teacher = InstructorFactory(username="ms.lee")
    teacher.groups.add(ensure_instructor_group())
    classroom = sam.classroom
    classroom.owners.add(teacher)
    classroom.margin = True
    classroom.save()
    sell_short(user=sam, symbol="ACME", quantity=150)
    buy_to = StudentFactory(username="lea", classroom=classroom)
    buy(user=buy_to, symbol="BOLT", quantity=300)  # $15,000: a $5,000 loan
    client = Client()
    client.force_login(teacher)
    change = f"/admin/classrooms/classroom/{classroom.pk}/change/"
    data = form_data(client.get(change).content.decode(), "classroom_form")
    data.pop("short_selling")
    data.pop("margin")

    response = client.post(change, data)

    assert response.status_code == 400
    page = response.content.decode()
    assert "1 student(s) of this class still hold short positions" in page
    assert "1 student(s) of this class still have a margin loan" in page
    classroom.refresh_from_db()
    assert classroom.short_selling and classroom.margin
