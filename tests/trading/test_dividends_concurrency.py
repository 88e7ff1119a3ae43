"""A dividend tick racing with a student's buy of the stock, on PostgreSQL with real threads:
the ledger stays whole, and the dividend is paid on the shares the buy left if the buy
came first (at the price before the drop), or on the shares before it if the tick came
first (the buy then waits for the tick and pays the ex-dividend price)."""

import io
from decimal import Decimal

import pytest
from django.core.management import call_command

from ledger.models import Transaction
from portfolio.models import Holding
from prices.models import Price
from prices.services import advance_market
from prices.simulation import DIFFUSION_ONLY
from tests.concurrency import run_concurrently
from tests.factories import PriceFactory, StudentFactory
from trading.models import Trade
from trading.services import buy

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

D = Decimal


@pytest.mark.parametrize("round_", range(4))
def test_a_dividend_tick_racing_a_buy_pays_the_shares_held_when_it_locks(round_):
    PriceFactory(
        symbol="ACME",
        price=D("100.00"),
        drift=0.0,
        volatility=0.0,
        beta=0.0,
        dividend_yield=0.04,
        dividend_day=2,
    )
    student = StudentFactory(username=f"racer{round_}", cash="5000.00")
    buy(user=student, symbol="ACME", quantity=10)
    advance_market(seed=1, dt=1.0, model=DIFFUSION_ONLY)  # closes day 1

    results = run_concurrently(
        [
            lambda: advance_market(seed=2, dt=0.01, model=DIFFUSION_ONLY, wait=True),
            lambda: buy(user=student, symbol="ACME", quantity=5),
        ]
    )

    assert not any(isinstance(r, BaseException) for r in results), results
    assert Price.objects.get(symbol="ACME").price == D("99.00")
    assert Holding.objects.get(user=student).quantity == 15
    trade = Trade.objects.filter(user=student).latest("id")
    dividend = Transaction.objects.get(user=student, type="dividend")
    if trade.price == D("100.00"):  # the buy committed first: its shares are paid
        assert dividend.amount == D("15.00")
    else:  # the tick locked first: the buy waited and paid the ex-dividend price
        assert trade.price == D("99.00")
        assert dividend.amount == D("10.00")
    out = io.StringIO()
    call_command("check_ledger", stdout=out)
    assert "Ledger OK" in out.getvalue()


@pytest.mark.parametrize("round_", range(4))
def test_a_first_buy_racing_a_dividend_tick_is_paid_when_it_bought_before_the_drop(round_):
    """A student with none of the stock buys while the ex-date tick runs: the tick waits
    for the buy in flight (it bought at the price before the drop, and is paid), or the
    buy waits for the tick (it pays the price after the drop, and is not)."""
    PriceFactory(
        symbol="ACME",
        price=D("100.00"),
        drift=0.0,
        volatility=0.0,
        beta=0.0,
        dividend_yield=0.04,
        dividend_day=2,
    )
    holder = StudentFactory(username=f"holder{round_}", cash="5000.00")
    newcomer = StudentFactory(username=f"newcomer{round_}", cash="5000.00")
    buy(user=holder, symbol="ACME", quantity=10)
    advance_market(seed=1, dt=1.0, model=DIFFUSION_ONLY)  # closes day 1

    results = run_concurrently(
        [
            lambda: buy(user=newcomer, symbol="ACME", quantity=5),
            lambda: advance_market(seed=2, dt=0.01, model=DIFFUSION_ONLY, wait=True),
        ]
    )

    assert not any(isinstance(r, BaseException) for r in results), results
    trade = Trade.objects.get(user=newcomer)
    paid = Transaction.objects.filter(user=newcomer, type="dividend")
    if trade.price == D("100.00"):
        assert [row.amount for row in paid] == [D("5.00")]
    else:
        assert trade.price == D("99.00")
        assert not paid.exists()
    assert Transaction.objects.get(user=holder, type="dividend").amount == D("10.00")
    out = io.StringIO()
    call_command("check_ledger", stdout=out)
    assert "Ledger OK" in out.getvalue()
