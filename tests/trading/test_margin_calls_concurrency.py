"""Forced liquidation racing the student's own sale of the same shares, on PostgreSQL with
real threads and real row locks: the shares are never oversold, the holdings equal the
trades, the ledger's checks are clean, and there is at most one open call."""

import io
import time
from decimal import Decimal
from functools import partial

import pytest
from django.core.management import call_command
from django.db.models import Sum
from django.utils import timezone

from ledger import services as ledger
from ledger.models import Balance
from portfolio.models import Holding
from prices.models import Price
from tests.concurrency import run_concurrently
from tests.factories import ClassroomFactory, PriceFactory, StudentFactory
from trading import services
from trading.models import MarginCall, Trade
from trading.services import NotEnoughShares, buy, check_margin_calls, sell

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

D = Decimal
ROUNDS = 8


def traded(user, operation) -> int:
    rows = Trade.objects.filter(user=user, stock_id="ACME", operation=operation)
    return rows.aggregate(n=Sum("quantity"))["n"] or 0


def assert_consistent(user):
    holding = Holding.objects.filter(user=user, stock_id="ACME").first()
    held = holding.quantity if holding else 0
    assert held >= 0
    assert traded(user, "sell") <= 200  # never oversold
    assert held == traded(user, "buy") - traded(user, "sell")
    assert MarginCall.objects.filter(user=user, status="open").count() <= 1


@pytest.mark.parametrize("own_sale", [200, 120])
def test_forced_liquidation_racing_the_students_own_sale_never_oversells(own_sale):
    classroom = ClassroomFactory(name="Leverage", margin=True, starting_cash=D("10000.00"))
    PriceFactory(symbol="ACME", price=D("100.00"))
    outcomes = []
    for _ in range(ROUNDS):
        student = StudentFactory(classroom=classroom)
        buy(user=student, symbol="ACME", quantity=200)  # $10,000 loan
        Price.objects.filter(symbol="ACME").update(price=D("70.00"))  # equity $4,000 < $4,200

        tick, own = run_concurrently(
            [
                lambda: check_margin_calls(),
                lambda student=student: sell(user=student, symbol="ACME", quantity=own_sale),
            ]
        )

        assert not isinstance(tick, BaseException), tick
        assert tick.failed == 0
        # The student's sale either went through or found the shares sold for them.
        assert isinstance(own, (Trade, NotEnoughShares)), own
        assert_consistent(student)
        sold = traded(student, "sell")
        if isinstance(own, Trade):
            # Theirs came first, or the forced sale sold what theirs left (none is needed:
            # what is left meets the requirement).
            assert sold == own_sale
        else:
            assert sold == 200  # the forced sale took every share first
        # Equity is what it was: sales at the market move no value.
        assert Balance.objects.get(user=student).amount + 70 * (200 - sold) == D("4000.00")
        call = MarginCall.objects.filter(user=student).first()
        if call is not None:
            assert call.status in ("met", "liquidated")
            outcomes.append(call.status)
        else:
            outcomes.append("none")  # the sale came before the tick looked
        Price.objects.filter(symbol="ACME").update(price=D("100.00"))

    # The ledger's own audit, holds included (it raises CommandError on any mismatch).
    call_command("check_ledger", stdout=io.StringIO())
    print(own_sale, outcomes)  # how the races fell, for a look with -s
    assert len(outcomes) == ROUNDS


def after(delay, job):
    time.sleep(delay)
    return job()


def _liquidate(student, call_id):
    return services._liquidate(user=student, call_id=call_id, now=timezone.now())


def _sell(student, quantity):
    return sell(user=student, symbol="ACME", quantity=quantity)


@pytest.mark.parametrize("own_sale", [200, 120])
def test_the_forced_sale_of_a_due_call_racing_the_students_own_sale(own_sale):
    # The call is open and due (opened with 0 days while ACME was halted); then the forced
    # sale and the student's sale start together, one or the other a little later.
    classroom = ClassroomFactory(name="Leverage", margin=True, starting_cash=D("10000.00"))
    PriceFactory(symbol="ACME", price=D("100.00"))
    outcomes = []
    for attempt in range(ROUNDS):
        student = StudentFactory(classroom=classroom)
        buy(user=student, symbol="ACME", quantity=200)
        Price.objects.filter(symbol="ACME").update(price=D("70.00"), halted=True)
        check_margin_calls()
        call = MarginCall.objects.get(user=student, status="open")
        Price.objects.filter(symbol="ACME").update(halted=False)
        forced_delay, own_delay = (0, 0.002 * attempt) if attempt % 2 else (0.002 * attempt, 0)

        forced, own = run_concurrently(
            [
                partial(after, forced_delay, partial(_liquidate, student, call.pk)),
                partial(after, own_delay, partial(_sell, student, own_sale)),
            ]
        )

        assert forced in ("met", "liquidated"), forced
        assert isinstance(own, (Trade, NotEnoughShares)), own
        assert_consistent(student)
        sold = traded(student, "sell")
        call.refresh_from_db()
        assert call.status == forced
        if forced == "met":  # the student's sale came first and met it: nothing forced
            assert isinstance(own, Trade) and sold == own_sale
        elif isinstance(own, Trade):  # the forced sale sold what the student's left
            assert sold == 200
        else:
            assert sold == 200
        assert Balance.objects.get(user=student).amount + 70 * (200 - sold) == D("4000.00")
        outcomes.append((forced, type(own).__name__))
        Price.objects.filter(symbol="ACME").update(price=D("100.00"))

    call_command("check_ledger", stdout=io.StringIO())
    print(own_sale, outcomes)  # how the races fell, for a look with -s
    assert len(outcomes) == ROUNDS


def test_a_deposit_racing_the_forced_sale_meets_the_call_or_comes_after_it():
    classroom = ClassroomFactory(name="Leverage", margin=True, starting_cash=D("10000.00"))
    PriceFactory(symbol="ACME", price=D("100.00"))
    for _ in range(ROUNDS):
        student = StudentFactory(classroom=classroom)
        buy(user=student, symbol="ACME", quantity=200)
        Price.objects.filter(symbol="ACME").update(price=D("70.00"))

        tick, deposit = run_concurrently(
            [
                lambda: check_margin_calls(),
                lambda student=student: ledger.deposit(user=student, amount="1000.00"),
            ]
        )

        assert not isinstance(tick, BaseException) and tick.failed == 0, tick
        assert not isinstance(deposit, BaseException), deposit
        assert_consistent(student)
        sold = traded(student, "sell")
        assert sold in (0, 200)
        call = MarginCall.objects.filter(user=student).first()
        if sold:
            assert call.status == "liquidated"
        else:
            assert call is None or call.status == "met"
        assert Balance.objects.get(user=student).amount + 70 * (200 - sold) == D("5000.00")
        Price.objects.filter(symbol="ACME").update(price=D("100.00"))

    call_command("check_ledger", stdout=io.StringIO())


@pytest.mark.parametrize("own_cover", [200, 120])
def test_forced_cover_racing_the_students_own_cover_never_overcovers(own_cover):
    classroom = ClassroomFactory(name="Shorts", short_selling=True, starting_cash=D("10000.00"))
    PriceFactory(symbol="ACME", price=D("100.00"))
    outcomes = set()
    for _ in range(ROUNDS):
        student = StudentFactory(classroom=classroom)
        Price.objects.filter(symbol="ACME").update(price=D("100.00"))
        services.sell_short(user=student, symbol="ACME", quantity=200)  # cash $30,000
        Price.objects.filter(symbol="ACME").update(price=D("120.00"))  # equity $6,000 < $7,200

        tick, own = run_concurrently(
            [
                lambda: check_margin_calls(),
                lambda student=student: services.buy_to_cover(
                    user=student, symbol="ACME", quantity=own_cover
                ),
            ]
        )

        assert not isinstance(tick, BaseException), tick
        assert tick.failed == 0
        assert isinstance(own, (Trade, NotEnoughShares)), own
        holding = Holding.objects.filter(user=student, stock_id="ACME").first()
        short = -holding.quantity if holding else 0
        covered = traded(student, "cover")
        assert covered <= 200 and short == 200 - covered  # never covered twice
        assert MarginCall.objects.filter(user=student, status="open").count() <= 1
        # Covers at the market move no value: the equity is still $6,000.
        assert Balance.objects.get(user=student).amount - 120 * short == D("6000.00")
        call = MarginCall.objects.filter(user=student).first()
        outcomes.add(call.status if call else "none")
    out = io.StringIO()
    call_command("check_ledger", stdout=out)
    assert outcomes <= {"met", "liquidated", "none"}
