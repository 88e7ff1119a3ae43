from decimal import Decimal

import pytest
from django.urls import reverse

from tests.factories import InstructorFactory, PriceFactory
from trading.models import Trade
from trading.services import buy

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_client(client):
    admin = InstructorFactory(username="root", is_superuser=True)
    client.force_login(admin)
    return client


@pytest.fixture
def trade(student):
    PriceFactory(symbol="AAPL", price=Decimal("189.12"))
    return buy(user=student, symbol="AAPL", quantity=3)


def test_trades_are_listed_and_searchable(superuser_client, trade):
    response = superuser_client.get(reverse("admin:trading_trade_changelist") + "?q=alice")

    assert response.status_code == 200
    assert "AAPL" in response.content.decode()


def test_trades_are_read_only_even_for_superusers(superuser_client, trade):
    add = superuser_client.get(reverse("admin:trading_trade_add"))
    delete = superuser_client.post(
        reverse("admin:trading_trade_delete", args=[trade.pk]), {"post": "yes"}
    )
    change = superuser_client.post(
        reverse("admin:trading_trade_change", args=[trade.pk]), {"quantity": "999"}
    )

    assert add.status_code == 403
    assert delete.status_code == 403
    assert change.status_code == 403
    trade.refresh_from_db()
    assert trade.quantity == 3
    assert Trade.objects.count() == 1


@pytest.mark.parametrize("n", [1, 30])
def test_the_trade_list_runs_a_fixed_number_of_queries(
    superuser_client, student, n, django_assert_max_num_queries
):
    PriceFactory(symbol="AAPL", price=Decimal("1.00"))
    for _ in range(n):
        buy(user=student, symbol="AAPL", quantity=1)

    with django_assert_max_num_queries(8):
        response = superuser_client.get(reverse("admin:trading_trade_changelist"))

    assert response.status_code == 200
