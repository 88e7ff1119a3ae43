from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission
from django.urls import reverse

from ledger.models import Balance
from tests.factories import ClassroomFactory, InstructorFactory, PriceFactory
from tradesim.models import AuditEntry
from trading.models import Order, Trade
from trading.services import buy, expire_orders, order_request, place_order

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


# Orders -----------------------------------------------------------------------------------


def _limit_buy(user, price="100.00") -> Order:
    request = order_request(side="buy", type="limit", symbol="AAPL", quantity=2, limit_price=price)
    return place_order(user=user, request=request)


@pytest.fixture
def orders(student):
    """alice's market buy (filled) and a limit buy that waits, holding $200."""
    PriceFactory(symbol="AAPL", price=Decimal("189.12"))
    buy(user=student, symbol="AAPL", quantity=3)
    return Order.objects.get(type="market"), _limit_buy(student)


def test_orders_are_listed_in_words_with_what_they_hold(superuser_client, orders):
    response = superuser_client.get(reverse("admin:trading_order_changelist") + "?q=alice")

    assert response.status_code == 200
    page = response.content.decode()
    assert "Buy 3 AAPL now, at the market price" in page
    assert "Buy 2 AAPL if the price falls to $100.00 or less; good for today" in page
    assert "$200.00" in page
    url = reverse("admin:trading_order_changelist")
    waiting = superuser_client.get(url, {"status__exact": "open"}).context["cl"].result_list
    assert [row.pk for row in waiting] == [orders[1].pk]


def test_orders_are_read_only_even_for_superusers(superuser_client, orders):
    market, waiting = orders
    add = superuser_client.get(reverse("admin:trading_order_add"))
    delete = superuser_client.post(
        reverse("admin:trading_order_delete", args=[waiting.pk]), {"post": "yes"}
    )
    change = superuser_client.post(
        reverse("admin:trading_order_change", args=[waiting.pk]), {"status": "filled"}
    )
    view = superuser_client.get(reverse("admin:trading_order_change", args=[waiting.pk]))

    assert (add.status_code, delete.status_code, change.status_code) == (403, 403, 403)
    assert view.status_code == 200
    assert "Buy 2 AAPL if the price falls to $100.00" in view.content.decode()
    waiting.refresh_from_db()
    assert waiting.is_open and Order.objects.count() == 2


def test_the_cancel_action_cancels_the_open_ones_and_leaves_the_rest(
    superuser_client, orders, student
):
    market, waiting = orders
    another = _limit_buy(student, price="90.00")

    response = superuser_client.post(
        reverse("admin:trading_order_changelist"),
        {"action": "cancel_action", ACTION_CHECKBOX_NAME: [market.pk, waiting.pk, another.pk]},
        follow=True,
    )

    said = [str(m) for m in response.context["messages"]]
    assert said == [
        "Cancelled 2 open orders; what they held is free again.",
        "Only open orders can be cancelled: filled, expired, rejected and cancelled orders "
        "stay as they are.",
    ]
    assert set(Order.objects.values_list("status", flat=True)) == {"filled", "cancelled"}
    assert Balance.objects.get(user=student).held == Decimal("0.00")
    assert AuditEntry.objects.filter(action="cancel_order").count() == 2


def test_without_the_cancel_permission_there_is_no_cancel_action(orders, client, student):
    viewer = InstructorFactory(username="viewer", is_superuser=False)
    viewer.user_permissions.add(Permission.objects.get(codename="view_order"))
    ClassroomFactory(name="Period 1").owners.add(viewer)
    student.classroom = viewer.owned_classes.get()
    student.save()
    client.force_login(viewer)

    response = client.get(reverse("admin:trading_order_changelist"))

    assert response.status_code == 200
    assert "cancel_action" not in response.content.decode()
    client.post(
        reverse("admin:trading_order_changelist"),
        {"action": "cancel_action", ACTION_CHECKBOX_NAME: [orders[1].pk]},
    )
    orders[1].refresh_from_db()
    assert orders[1].is_open


@pytest.mark.parametrize("n", [1, 30])
def test_the_order_list_runs_a_fixed_number_of_queries(
    superuser_client, student, n, django_assert_max_num_queries
):
    PriceFactory(symbol="AAPL", price=Decimal("189.12"))
    for _ in range(n):
        _limit_buy(student, price="1.00")
        buy(user=student, symbol="AAPL", quantity=1)

    with django_assert_max_num_queries(8):
        response = superuser_client.get(reverse("admin:trading_order_changelist"))

    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == min(2 * n, 50)  # a page


def test_a_closed_orders_status_says_why(superuser_client, orders, student):
    assert expire_orders(day=orders[1].expires_day) == 1
    cancelled = _limit_buy(student, price="90.00")
    superuser_client.post(
        reverse("admin:trading_order_changelist"),
        {"action": "cancel_action", ACTION_CHECKBOX_NAME: [cancelled.pk]},
    )

    page = superuser_client.get(reverse("admin:trading_order_changelist")).content.decode()

    assert "Expired: Good for one day: the market closed before it was reached." in page
    assert "Cancelled by root<" in page and "Cancelled: Cancelled" not in page
    assert "css/console.css" in page
