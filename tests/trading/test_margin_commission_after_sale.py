"""A sale's or a short sale's commission on a margin loan: the proceeds lower the loan the
account is allowed to what it still borrows, and the commission, posted after them, may
borrow back what it takes of them; the account ends borrowing less than before."""

from decimal import Decimal

import pytest

from ledger.models import Balance
from tests.factories import ClassroomFactory, PriceFactory, StudentFactory
from trading.services import buy, sell, sell_short

pytestmark = pytest.mark.django_db


@pytest.fixture
def mia():
    PriceFactory(symbol="ACME", price=Decimal("100.00"))
    PriceFactory(symbol="BETA", price=Decimal("50.00"))
    room = ClassroomFactory(
        margin=True,
        short_selling=True,
        commission_kind="flat",
        commission_amount=Decimal("10.00"),
        name="Fees",
    )
    return StudentFactory(username="mia", classroom=room)  # $10,000


def test_partial_sale_with_a_loan_and_a_commission(mia):
    buy(user=mia, symbol="ACME", quantity=150)  # $15,000 + $10: cash -5,010
    assert Balance.objects.get(user=mia).amount == Decimal("-5010.00")
    # Sell 10 of 150 ($1,000): the loan goes to $4,010, then the $10 fee.
    sell(user=mia, symbol="ACME", quantity=10)
    assert Balance.objects.get(user=mia).amount == Decimal("-4020.00")


def test_short_sale_with_a_loan_and_a_commission(mia):
    buy(user=mia, symbol="ACME", quantity=120)  # cash -2,010; equity 9,990; req 6,000
    # Short $1,000 of BETA: 50 % of ($12,000 + $1,000) = $6,500 ≤ $9,980 of equity.
    sell_short(user=mia, symbol="BETA", quantity=20)
    assert Balance.objects.get(user=mia).amount == Decimal("-1020.00")
    assert Balance.objects.get(user=mia).loan_limit == Decimal("1020.00")
