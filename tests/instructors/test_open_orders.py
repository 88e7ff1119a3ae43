"""A student's open orders in the console: listed on their page with what each holds, and
cancelled by their instructor, one or all, through trading.services.cancel_order (the hold
released, the cancel audited); refusals in words, never a 500, nothing changed."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from ledger.models import Balance
from portfolio.models import Holding
from prices.models import Price
from tests.factories import InstructorFactory
from tradesim.models import AuditEntry
from trading import services as trading
from trading.models import Order

pytestmark = pytest.mark.django_db


def page_url(user):
    return reverse("admin:accounts_user_change", args=[user.pk])


def cancel_url(user):
    return reverse("admin:accounts_user_cancel_orders", args=[user.pk])


def place(user, **fields) -> Order:
    return trading.place_order(user=user, request=trading.order_request(**fields))


def limit_buy(user, price="180.00", quantity=10) -> Order:
    return place(
        user, side="buy", type="limit", symbol="AAPL", quantity=quantity, limit_price=price
    )


@pytest.fixture
def alice(student, market):
    """alice (Period 1): 5 MSFT; a limit buy of 10 AAPL at $180 holding $1,800, then a
    limit sell of her 5 MSFT at $450 holding the shares."""
    trading.buy(user=student, symbol="MSFT", quantity=5)
    limit_buy(student)
    place(student, side="sell", type="limit", symbol="MSFT", quantity=5, limit_price="450.00")
    return student


def held(user) -> tuple[Decimal, int]:
    cash = Balance.objects.get(user=user).held
    shares = Holding.objects.filter(user=user, stock_id="MSFT").values_list(
        "held_quantity", flat=True
    )
    return cash, shares.first() or 0


def state(user):
    """What a refused cancel must leave alone: the orders, the holds and the audit log."""
    orders = list(
        Order.objects.filter(user=user).order_by("pk").values_list("pk", "status", "held_cash")
    )
    return orders, held(user), AuditEntry.objects.count()


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# The list -------------------------------------------------------------------------------


def test_a_students_page_lists_their_open_orders_with_what_each_holds(teacher_client, alice):
    response = teacher_client.get(page_url(alice))

    assert response.status_code == 200
    page = response.content.decode()
    block = page[page.index('id="open-orders-heading"') : page.index('name="first_name"')]
    assert "Open orders (2)" in block
    assert "Buy 10 AAPL if the price falls to $180.00 or less; good for today" in block
    assert "Sell 5 MSFT if the price rises to $450.00 or more; good for today" in block
    assert "$1,800.00 of cash" in block and ">5 shares<" in block
    assert "Together they hold $1,800.00 of cash and 5 shares" in block
    # The market buy filled at once: it is a trade, not an open order.
    assert "Buy 5 MSFT" not in block
    # One Cancel per order and one for all, each submitting the cancel form, which sits
    # outside the user's form.
    for order in Order.objects.filter(user=alice, status="open"):
        assert f'form="cancel-orders" name="order" value="{order.pk}"' in block
    assert 'name="order" value="all"' in block
    form_at = page.index('<form id="cancel-orders" method="post"')
    assert f'action="{cancel_url(alice)}"' in page[form_at : form_at + 200]
    assert form_at < page.index('id="user_form"')
    # Every order of theirs, past ones too, in the Orders list.
    orders = reverse("admin:trading_order_changelist")
    assert f'<a class="button" href="{orders}?user__id__exact={alice.pk}">Orders</a>' in page


def test_a_student_without_open_orders_says_so(teacher_client, student, market):
    trading.buy(user=student, symbol="AAPL", quantity=1)

    page = teacher_client.get(page_url(student)).content.decode()

    assert "Open orders (0)" in page and "None: nothing waits to fill." in page
    assert 'id="cancel-orders"' not in page


def test_a_stop_limit_whose_stop_was_reached_says_it_waits_as_a_limit(
    teacher_client, student, market
):
    place(
        student,
        side="buy",
        type="stop_limit",
        symbol="AAPL",
        quantity=2,
        stop_price="210.00",
        limit_price="215.00",
    )
    Price.objects.filter(symbol="AAPL").update(price=Decimal("216.00"))
    assert trading.fill_orders().triggered == 1

    page = teacher_client.get(page_url(student)).content.decode()

    assert "Its stop was reached: it now waits as a limit order." in page


def test_past_fifty_the_oldest_are_shown_with_a_link_to_all(teacher_client, student, market):
    for _ in range(52):
        limit_buy(student, price="1.00", quantity=1)

    page = teacher_client.get(page_url(student)).content.decode()

    assert "Open orders (52)" in page and "Showing the oldest 50." in page
    assert page.count('form="cancel-orders" name="order" value="') == 50 + 1  # and all
    orders = reverse("admin:trading_order_changelist")
    assert f"{orders}?user__id__exact={student.pk}&amp;status__exact=open" in page


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_page_runs_the_same_queries_for_one_open_order_and_forty(
    teacher_client, student, market
):
    limit_buy(student, price="1.00", quantity=1)
    one = _queries(teacher_client, page_url(student))
    for _ in range(39):
        limit_buy(student, price="1.00", quantity=1)
    trading.buy(user=student, symbol="MSFT", quantity=3)
    place(student, side="sell", type="limit", symbol="MSFT", quantity=3, limit_price="999.00")

    assert _queries(teacher_client, page_url(student)) == one


# Cancelling -------------------------------------------------------------------------------


def test_an_instructor_cancels_one_order_and_its_hold_is_freed(teacher_client, teacher, alice):
    order = Order.objects.get(user=alice, type="limit", side="buy")

    response = teacher_client.post(cancel_url(alice), {"order": order.pk}, follow=True)

    assert response.redirect_chain == [(page_url(alice), 302)]
    assert messages_of(response) == [
        "Cancelled alice's order: Buy 10 AAPL if the price falls to $180.00 or less; good for "
        "today. The $1,800.00 of cash it held is free again."
    ]
    order.refresh_from_db()
    assert (order.status, order.cancelled_by, order.reason) == (
        "cancelled",
        teacher,
        "Cancelled by teacher",
    )
    assert held(alice) == (Decimal("0.00"), 5)  # the sell still holds its shares
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.action, entry.student, entry.symbol) == (
        teacher,
        AuditEntry.Action.CANCEL_ORDER,
        alice,
        "AAPL",
    )
    assert entry.detail.startswith("Buy 10 AAPL if the price falls to $180.00 or less")
    assert "Open orders (1)" in response.content.decode()


def test_a_sell_cancelled_frees_its_shares(teacher_client, alice):
    order = Order.objects.get(user=alice, type="limit", side="sell")

    response = teacher_client.post(cancel_url(alice), {"order": order.pk}, follow=True)

    assert messages_of(response)[0].endswith("The 5 shares it held are free again.")
    assert held(alice) == (Decimal("1800.00"), 0)


def test_an_instructor_cancels_all_of_a_students_open_orders(teacher_client, alice, other_student):
    bobs = limit_buy(other_student)

    response = teacher_client.post(cancel_url(alice), {"order": "all"}, follow=True)

    assert messages_of(response) == [
        "Cancelled alice's 2 open orders; what they held is free again."
    ]
    assert not Order.objects.filter(user=alice, status="open").exists()
    assert held(alice) == (Decimal("0.00"), 0)
    assert AuditEntry.objects.filter(action="cancel_order", student=alice).count() == 2
    bobs.refresh_from_db()
    assert bobs.is_open  # another student's orders are not touched


def test_cancelling_all_with_none_open_says_so(teacher_client, student, market):
    response = teacher_client.post(cancel_url(student), {"order": "all"}, follow=True)

    assert messages_of(response) == ["alice has no open orders to cancel."]
    assert not AuditEntry.objects.exists()


def test_an_order_that_filled_first_is_not_cancelled_and_says_why(teacher_client, alice):
    order = Order.objects.get(user=alice, type="limit", side="buy")
    Price.objects.filter(symbol="AAPL").update(price=Decimal("179.00"))
    assert trading.fill_orders().filled == 1
    before = state(alice)

    response = teacher_client.post(cancel_url(alice), {"order": order.pk}, follow=True)

    assert messages_of(response) == [
        "Not cancelled: This order is filled already, so there is nothing to cancel."
    ]
    assert state(alice) == before


def test_an_order_cancelled_twice_is_cancelled_once(teacher_client, alice):
    order = Order.objects.get(user=alice, type="limit", side="buy")
    teacher_client.post(cancel_url(alice), {"order": order.pk}, follow=True)
    before = state(alice)

    response = teacher_client.post(cancel_url(alice), {"order": order.pk}, follow=True)

    assert messages_of(response) == [
        "Not cancelled: This order is cancelled already, so there is nothing to cancel."
    ]
    assert state(alice) == before


def test_another_students_order_through_this_students_page_is_refused(
    teacher_client, alice, other_student
):
    bobs = limit_buy(other_student)
    before = state(other_student), state(alice)

    response = teacher_client.post(cancel_url(alice), {"order": bobs.pk}, follow=True)

    assert messages_of(response) == ["That order is not one of alice's; nothing was cancelled."]
    assert (state(other_student), state(alice)) == before


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "Choose one order to cancel."),
        ({"order": ["1", "2"]}, "Choose one order to cancel."),
        ({"order": ""}, "Choose an order from the list."),
        ({"order": "AAPL"}, "Choose an order from the list."),
        ({"order": "-1"}, "That order is not one of alice's; nothing was cancelled."),
        ({"order": "99999999999999999999"}, "Choose an order from the list."),
        ({"order": "\x00"}, None),  # refused before the view (a NUL: 400)
    ],
)
def test_odd_input_is_refused_in_words_and_changes_nothing(teacher_client, alice, data, message):
    before = state(alice)

    response = teacher_client.post(cancel_url(alice), data)

    assert response.status_code in (302, 400)
    if message is not None:
        assert response.status_code == 302
        assert messages_of(teacher_client.get(page_url(alice))) == [message]
    assert state(alice) == before


def test_a_get_goes_back_to_the_students_page(teacher_client, alice):
    before = state(alice)

    response = teacher_client.get(cancel_url(alice), {"order": "all"})

    assert (response.status_code, response.url) == (302, page_url(alice))
    assert state(alice) == before


def test_staff_without_the_cancel_permission_are_refused(alice, period1):
    viewer = InstructorFactory(username="viewer")
    viewer.user_permissions.add(*Permission.objects.filter(codename__in=["view_user"]))
    period1.owners.add(viewer)
    client = Client()
    client.force_login(viewer)
    before = state(alice)

    page = client.get(page_url(alice)).content.decode()
    response = client.post(cancel_url(alice), {"order": "all"})

    assert "Open orders (2)" in page  # they see them ...
    assert 'id="cancel-orders"' not in page and 'name="order"' not in page  # ... no buttons
    assert response.status_code == 403
    assert state(alice) == before


def test_a_superuser_cancels_a_students_order(superuser_client, superuser, alice):
    order = Order.objects.get(user=alice, type="limit", side="buy")

    superuser_client.post(cancel_url(alice), {"order": order.pk})

    order.refresh_from_db()
    assert (order.status, order.cancelled_by) == ("cancelled", superuser)


# The audit log ----------------------------------------------------------------------------


def test_the_audit_log_shows_the_cancel_in_words(teacher_client, alice):
    order = Order.objects.get(user=alice, type="limit", side="sell")
    teacher_client.post(cancel_url(alice), {"order": order.pk})

    response = teacher_client.get(
        reverse("admin:tradesim_auditentry_changelist"), {"action__exact": "cancel_order"}
    )

    page = response.content.decode()
    assert [row.student for row in response.context["cl"].result_list] == [alice]
    assert "Cancelled a student&#x27;s order" in page
    assert "Sell 5 MSFT if the price rises to $450.00 or more" in page
    assert "(Cancelled by teacher)" in page


def test_the_student_hears_of_an_instructors_cancel(
    teacher_client, alice, django_capture_on_commit_callbacks
):
    """As of a fill or an expiry: the order is marked for telling, and their news flag set
    once the cancel commits."""
    from django.core.cache import cache

    order = Order.objects.get(user=alice, type="limit", side="buy")
    assert not cache.get(trading.order_news_key(alice.pk))

    with django_capture_on_commit_callbacks(execute=True):
        teacher_client.post(cancel_url(alice), {"order": order.pk})

    order.refresh_from_db()
    assert order.notified is False
    assert cache.get(trading.order_news_key(alice.pk)) is True


def test_the_student_hears_of_the_orders_a_reset_cancelled(
    teacher, alice, django_capture_on_commit_callbacks
):
    from django.core.cache import cache

    with django_capture_on_commit_callbacks(execute=True):
        trading.reset_student(student=alice, instructor=teacher, reason="Fresh start")

    assert set(
        Order.objects.filter(user=alice, type="limit").values_list("status", "notified")
    ) == {("cancelled", False)}
    assert cache.get(trading.order_news_key(alice.pk)) is True
