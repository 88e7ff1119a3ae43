"""A margin buy in a class that charges a commission: the commission is borrowed with the
buy, as far as the margin rule allows (the equity left after it is at least the initial
margin of the positions)."""

from decimal import Decimal

import pytest

from ledger.models import Balance, Transaction
from tests.factories import ClassroomFactory, PriceFactory, StudentFactory
from trading.services import InsufficientFunds, buy

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def mia():
    PriceFactory(symbol="ACME", price=D("100.00"))
    room = ClassroomFactory(
        margin=True, commission_kind="flat", commission_amount=D("10.00"), name="Fees"
    )
    return StudentFactory(username="mia", classroom=room)


def test_a_margin_buy_borrows_its_commission_too(mia):
    # $19,900 of ACME and $10 of commission on $10,000 of cash: the equity left, $9,990,
    # is at least 50 % of $19,900.
    buy(user=mia, symbol="ACME", quantity=199)

    balance = Balance.objects.get(user=mia)
    assert (balance.amount, balance.loan_limit) == (D("-9910.00"), D("9910.00"))
    assert list(
        Transaction.objects.filter(user=mia).order_by("id").values_list("type", "balance_after")
    ) == [("deposit", D("10000.00")), ("buy", D("-9900.00")), ("fee", D("-9910.00"))]


def test_a_margin_buy_whose_commission_passes_the_margin_is_refused(mia):
    with pytest.raises(InsufficientFunds) as refused:
        buy(user=mia, symbol="ACME", quantity=200)  # $9,990 of equity left < $10,000

    assert "buying power" in refused.value.message
    assert Balance.objects.get(user=mia).amount == D("10000.00")
