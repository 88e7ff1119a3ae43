"""The order pages: the student's orders (open ones with Cancel, past ones with their
outcome; filters, CSV, pages), cancelling over HTTP, the dashboard's open orders and held
cash, and the news of fills on the next page load."""

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from ledger.models import Balance
from portfolio.models import Holding
from tests.factories import ClassroomFactory, InstructorFactory, PriceFactory, StudentFactory
from trading.models import Order, Trade
from trading.services import (
    buy,
    cancel_order,
    expire_orders,
    fill_orders,
    order_news_key,
    order_request,
    place_order,
    reset_student,
)

pytestmark = pytest.mark.django_db

ORDERS = reverse("trading:orders")
DASHBOARD = reverse("portfolio:dashboard")


def cancel_url(order) -> str:
    return reverse("trading:cancel_order", args=[order.pk])


@pytest.fixture
def aapl(db):
    return PriceFactory(symbol="AAPL", name="Apple Inc.", price=Decimal("200.00"))


@pytest.fixture
def msft(db):
    return PriceFactory(symbol="MSFT", name="Microsoft", price=Decimal("400.00"))


def place(user, side="buy", type="limit", symbol="AAPL", quantity=10, **prices) -> Order:
    request = order_request(side=side, type=type, symbol=symbol, quantity=quantity, **prices)
    return place_order(user=user, request=request)


def limit_buy(user, quantity=10, limit="180.00", symbol="AAPL", **kw) -> Order:
    return place(user, "buy", "limit", symbol, quantity, limit_price=limit, **kw)


def limit_sell(user, quantity=5, limit="250.00", symbol="AAPL", **kw) -> Order:
    return place(user, "sell", "limit", symbol, quantity, limit_price=limit, **kw)


def set_price(symbol: str, price: str) -> None:
    from prices.models import Price

    Price.objects.filter(symbol=symbol).update(price=Decimal(price))


def cash(user) -> tuple[Decimal, Decimal]:
    balance = Balance.objects.get(user=user)
    return balance.amount, balance.held


def flashes(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def text_of(response) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


def table(page: str, table_id: str) -> str:
    match = re.search(rf'<table[^>]*id="{table_id}".*?</table>', page, re.DOTALL)
    return match.group(0) if match else ""


def closed_order(user, status, *, symbol="AAPL", side="buy", quantity=3, reason="", **kw):
    """A past order as the services leave one (for outcomes the market is slow to make)."""
    now = timezone.now()
    return Order.objects.create(
        user=user,
        stock_id=symbol,
        side=side,
        type=Order.Type.LIMIT,
        quantity=quantity,
        limit_price=Decimal("150.00"),
        status=status,
        reason=reason,
        created_at=kw.pop("created_at", now - timedelta(hours=1)),
        closed_at=kw.pop("closed_at", now),
        **kw,
    )


def fill_now(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return fill_orders()


# The orders page ---------------------------------------------------------------------


def test_the_page_asks_a_visitor_to_log_in(anon_client):
    response = anon_client.get(ORDERS)

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_open_orders_come_first_with_what_they_hold_and_a_cancel_button(
    student_client, student, aapl
):
    buy(user=student, symbol="AAPL", quantity=10)
    closed_order(student, Order.Status.EXPIRED, reason="Good for one day: it was not reached.")
    order = limit_buy(student, quantity=10, limit="180.00")
    sell = limit_sell(student, quantity=4, limit="250.00")

    page = student_client.get(ORDERS).content.decode()

    open_table = table(page, "open-orders")
    assert page.index('id="open-orders"') < page.index('id="past-orders"')
    assert "if the price falls to $180.00 or less; good for today" in open_table
    assert "$1,800.00" in open_table  # 10 × $180.00, no commission in this class
    assert "4 shares" in open_table
    for held in (order, sell):
        form = re.search(
            rf'<form method="post" action="{cancel_url(held)}">.*?</form>', open_table, re.DOTALL
        )
        assert form and "csrfmiddlewaretoken" in form.group(0)
        assert 'name="next" value="/trading/orders/"' in form.group(0)
    assert 'Cancel<span class="visually-hidden"> the order to Buy 10 AAPL if' in open_table
    # The totals: two open orders, the cash and the shares they hold.
    assert re.search(r'id="open-count">2<', page)
    assert re.search(r'id="held-cash">\$1,800.00<', page)
    assert re.search(r'id="held-shares">4<', page)


def test_past_orders_tell_their_outcome(student_client, student, instructor, aapl):
    buy(user=student, symbol="AAPL", quantity=2)  # a market order: filled at $200.00
    closed_order(student, Order.Status.CANCELLED)
    closed_order(
        student,
        Order.Status.CANCELLED,
        symbol="AAPL",
        quantity=7,
        cancelled_by=instructor,
        reason="Wrong symbol, ask me",
    )
    closed_order(student, Order.Status.EXPIRED, reason="Good for one day: it was not reached.")
    closed_order(
        student,
        Order.Status.REJECTED,
        reason="Your class's trading window has closed.",
    )

    page = student_client.get(ORDERS).content.decode()

    past = table(page, "past-orders")
    assert "now, at the market price" in past
    assert re.search(r"Filled</span>\s*at \$200.00 for \$400.00", past)
    assert re.search(r"Cancelled</span>\s*by you", past)
    assert re.search(r"Cancelled</span>\s*by your teacher: Wrong symbol, ask me", past)
    assert re.search(r"Expired</span> Good for one day: it was not reached.", past)
    assert re.search(r"Rejected</span> Your class&#x27;s trading window has closed.", past)
    assert 'id="no-open-orders"' in page
    assert "No open orders. Place a limit or stop order from a stock's page." in page


def test_a_student_with_no_orders_is_told_how_to_place_one(student_client):
    page = student_client.get(ORDERS).content.decode()

    assert "You haven't placed any orders yet." in page
    assert "No open orders. Place a limit or stop order from a stock's page" in page
    assert 'href="/prices/"' in page


def test_no_open_orders_says_so_in_plain_words(student_client, student, aapl):
    buy(user=student, symbol="AAPL", quantity=1)

    page = student_client.get(ORDERS + "?status=open").content.decode()

    assert "No open orders. Place a limit or stop order from a stock's page." in page
    assert 'id="past-orders"' not in page


def test_another_students_orders_are_not_shown(student_client, other_student, aapl):
    limit_buy(other_student, quantity=33, limit="111.00")

    page = student_client.get(ORDERS).content.decode()

    assert "111.00" not in page
    assert "You haven't placed any orders yet." in page


# Filters ---------------------------------------------------------------------------------


@pytest.fixture
def many_kinds(student, aapl, msft):
    """An open buy limit on AAPL, an open sell stop on MSFT, a filled market buy of each,
    an old expired AAPL buy and a rejected MSFT sell."""
    buy(user=student, symbol="MSFT", quantity=5)
    buy(user=student, symbol="AAPL", quantity=1)
    limit_buy(student, quantity=10, limit="180.00")
    place(student, "sell", "stop", "MSFT", 3, stop_price="350.00", duration="gtc")
    closed_order(
        student,
        Order.Status.EXPIRED,
        created_at=timezone.now() - timedelta(days=10),
        closed_at=timezone.now() - timedelta(days=10),
        reason="Good for one day: the market closed before it was reached.",
    )
    closed_order(
        student, Order.Status.REJECTED, symbol="MSFT", side="sell", reason="Trading is paused."
    )
    return student


def rows_shown(page: str) -> int:
    return len(re.findall(r'<tr role="row" data-order=', page))


@pytest.mark.parametrize(
    ("query", "count"),
    [
        ("", 6),
        ("?status=open", 2),
        ("?status=filled", 2),
        ("?status=expired", 1),
        ("?status=rejected", 1),
        ("?status=cancelled", 0),
        ("?symbol=msft", 3),
        ("?side=sell", 2),
        ("?type=limit", 3),
        ("?type=stop", 1),
        ("?type=market", 2),
        ("?symbol=AAPL&status=open&side=buy&type=limit", 1),
        (f"?start={(timezone.localdate() - timedelta(days=1)).isoformat()}", 5),
        (f"?end={(timezone.localdate() - timedelta(days=5)).isoformat()}", 1),
    ],
)
def test_filters_narrow_the_list(student_client, many_kinds, query, count):
    response = student_client.get(ORDERS + query)

    assert response.status_code == 200
    assert rows_shown(response.content.decode()) == count


def test_the_filter_form_keeps_its_values(student_client, many_kinds):
    page = student_client.get(ORDERS + "?status=open&symbol=aapl&side=buy&type=limit").content
    page = page.decode()

    assert re.search(r'<option value="open" selected>', page)
    assert re.search(r'<option value="buy" selected>', page)
    assert re.search(r'<option value="limit" selected>', page)
    assert 'name="symbol" value="aapl"' in page
    assert 'href="/trading/orders/"' in page  # Clear


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?status=pending", "Status must be open, filled, cancelled, expired or rejected."),
        ("?side=lend", "Side must be buy, sell, sell_short or buy_to_cover."),
        ("?type=iceberg", "Type must be market, limit, stop, stop_limit or trailing_stop."),
        ("?start=yesterday", "Enter the start date as YYYY-MM-DD."),
        ("?start=2026-03-02&end=2026-03-01", "The start date is after the end date."),
        ("?symbol=%24%24%24", "symbol"),
        ("?format=pdf", "The format can be csv"),
        ("?status=open&status=filled", "sent twice"),
    ],
)
def test_bad_filters_get_a_clear_message_and_400(student_client, many_kinds, query, message):
    response = student_client.get(ORDERS + query)

    assert response.status_code == 400
    page = response.content.decode()
    assert "There is a problem" in page
    assert message.replace("'", "&#x27;") in page
    assert 'id="open-orders"' not in page


def test_pages_of_25_keep_the_filters(student_client, student, aapl):
    for i in range(30):
        closed_order(student, Order.Status.EXPIRED, created_at=timezone.now() - timedelta(i))
    limit_buy(student)

    first = student_client.get(ORDERS + "?symbol=AAPL").content.decode()
    second = student_client.get(ORDERS + "?symbol=AAPL&page=2").content.decode()

    assert rows_shown(first) == 25 and rows_shown(second) == 6
    assert 'id="open-orders"' in first and 'id="open-orders"' not in second
    assert "1–25 of 31 orders" in first
    assert 'href="/trading/orders/?symbol=AAPL&amp;page=2"' in first
    # Page 2 shows no "No open orders" note: there is one, on page 1.
    assert 'id="no-open-orders"' not in second


# CSV ---------------------------------------------------------------------------------------


def test_csv_holds_exactly_the_filtered_orders_in_the_one_style(
    student_client, many_kinds, settings
):
    settings.TIME_ZONE = "Europe/Paris"

    response = student_client.get(ORDERS + "?symbol=MSFT&format=csv")

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    today = timezone.localdate().isoformat()
    assert f'filename="tradesim-orders-alice-{today}.csv"' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(text_of(response))))
    header, data = rows[0], rows[1:]
    assert header[0] == "Date and time (Europe/Paris)"
    assert header[1:4] == ["Symbol", "Side", "Type"]
    assert header[-2:] == ["Closed (Europe/Paris)", "ID"]
    assert len(data) == 3 and {row[1] for row in data} == {"MSFT"}
    record = [dict(zip(header, row, strict=True)) for row in data]
    stop = next(r for r in record if r["Type"] == "Stop")
    assert (stop["Side"], stop["Quantity"], stop["Stop price"], stop["Limit price"]) == (
        "Sell",
        "3",
        "350.00",
        "",
    )
    assert stop["Status"] == "Open" and stop["Closed (Europe/Paris)"] == ""
    assert stop["Duration"] == "Good till cancelled"
    assert stop["Description"].startswith("Sell 3 MSFT at the market price once it falls to")
    filled = next(r for r in record if r["Status"] == "Filled")
    assert (filled["Fill price"], filled["Amount"], filled["Commission"]) == (
        "400.00",
        "2000.00",
        "0.00",
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", filled["Closed (Europe/Paris)"])
    rejected = next(r for r in record if r["Status"] == "Rejected")
    assert rejected["Reason"] == "Trading is paused."


def test_csv_makes_a_reason_inert_in_a_spreadsheet(student_client, student, aapl):
    closed_order(student, Order.Status.CANCELLED, reason="=HYPERLINK(1)")

    rows = list(csv.reader(io.StringIO(text_of(student_client.get(ORDERS + "?format=csv")))))

    assert rows[1][rows[0].index("Reason")] == "'=HYPERLINK(1)"


def test_the_page_links_to_its_csv_with_the_filters(student_client, many_kinds):
    page = student_client.get(ORDERS + "?side=sell").content.decode()

    assert 'href="/trading/orders/?side=sell&amp;format=csv"' in page


# Cancelling ------------------------------------------------------------------------------


def test_cancel_frees_the_cash_and_says_so(student_client, student, aapl):
    order = limit_buy(student, quantity=10, limit="180.00")
    assert cash(student) == (Decimal("10000.00"), Decimal("1800.00"))

    response = student_client.post(cancel_url(order))

    assert response.status_code == 302 and response.url == ORDERS
    assert flashes(response) == [
        "Cancelled: Buy 10 AAPL if the price falls to $180.00 or less; good for today. "
        "$1,800.00 is free again."
    ]
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED and order.cancelled_by is None
    assert cash(student) == (Decimal("10000.00"), Decimal("0.00"))


def test_cancel_frees_the_shares_and_says_so(student_client, student, aapl):
    buy(user=student, symbol="AAPL", quantity=10)
    order = limit_sell(student, quantity=4, limit="250.00")

    response = student_client.post(cancel_url(order), {"next": "/portfolio/"})

    assert response.url == "/portfolio/"
    assert flashes(response)[0].endswith("Your 4 AAPL shares are free to sell again.")
    assert Holding.objects.get(user=student).held_quantity == 0


def test_cancel_goes_back_only_to_a_page_of_this_site(student_client, student, aapl):
    order = limit_buy(student)

    response = student_client.post(cancel_url(order), {"next": "https://evil.example/"})

    assert response.url == ORDERS


def test_another_students_order_is_not_found_and_stays_open(student_client, other_student, aapl):
    order = limit_buy(other_student)
    before = cash(other_student)

    response = student_client.post(cancel_url(order))

    assert response.status_code == 404
    order.refresh_from_db()
    assert order.status == Order.Status.OPEN and cash(other_student) == before


@pytest.mark.parametrize("order_id", ["999999", "99999999999999999999"])
def test_an_order_that_does_not_exist_is_not_found(student_client, order_id):
    assert student_client.post(f"/trading/orders/{order_id}/cancel/").status_code == 404


def test_an_order_no_longer_open_is_refused_with_the_reason_and_nothing_changes(
    student_client, student, aapl, django_capture_on_commit_callbacks
):
    order = limit_buy(student, quantity=10, limit="180.00")
    set_price("AAPL", "179.00")
    fill_now(django_capture_on_commit_callbacks)
    before = (cash(student), list(Trade.objects.values_list("id", flat=True)))

    response = student_client.post(cancel_url(order))

    assert response.status_code == 400
    page = response.content.decode()
    assert "That order was not cancelled" in page
    assert "This order is filled already, so there is nothing to cancel." in page
    assert "data-error-summary" in page
    # The page is the orders list, whose links and filters lead back to it.
    assert 'action="/trading/orders/"' in page
    assert 'href="/trading/orders/?format=csv"' in page
    order.refresh_from_db()
    assert order.status == Order.Status.FILLED
    assert (cash(student), list(Trade.objects.values_list("id", flat=True))) == before


def test_a_cancelled_order_cannot_be_cancelled_twice(student_client, student, aapl):
    order = limit_buy(student)
    student_client.post(cancel_url(order))

    response = student_client.post(cancel_url(order))

    assert response.status_code == 400
    assert "This order is cancelled already" in response.content.decode()
    assert cash(student) == (Decimal("10000.00"), Decimal("0.00"))


def test_cancel_is_a_post_only(student_client, student, aapl):
    order = limit_buy(student)

    assert student_client.get(cancel_url(order)).status_code == 405
    order.refresh_from_db()
    assert order.is_open


def test_a_visitor_cancels_nothing(anon_client, student, aapl):
    order = limit_buy(student)

    response = anon_client.post(cancel_url(order))

    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    order.refresh_from_db()
    assert order.is_open


def test_cancel_needs_the_csrf_token(student, aapl):
    from django.test import Client

    order = limit_buy(student)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(student)

    assert browser.post(cancel_url(order)).status_code == 403
    order.refresh_from_db()
    assert order.is_open


# The dashboard ------------------------------------------------------------------------------


def test_the_dashboard_lists_open_orders_and_the_cash_they_hold(student_client, student, aapl):
    order = limit_buy(student, quantity=10, limit="180.00")

    page = student_client.get(DASHBOARD).content.decode()

    panel = re.search(r'<section[^>]*id="open-orders-panel".*?</section>', page, re.DOTALL)
    assert panel, "the open orders panel"
    panel = panel.group(0)
    assert "Open orders (1)" in panel
    assert "if the price falls to $180.00 or less; good for today" in panel
    assert "$1,800.00" in panel
    assert f'action="{cancel_url(order)}"' in panel
    assert 'name="next" value="/portfolio/"' in panel
    assert 'href="/trading/orders/">All orders</a>' in panel
    # The cash card: all of it, what is held, what is free to spend.
    assert re.search(r'id="cash">\$10,000.00<', page)
    assert re.search(r'Held for open orders .*?id="cash-held">\$1,800.00<', page, re.DOTALL)
    assert re.search(r'Free to spend .*?id="cash-free">\$8,200.00<', page, re.DOTALL)


def test_the_dashboard_says_nothing_of_orders_when_there_are_none(student_client, student):
    page = student_client.get(DASHBOARD).content.decode()

    assert 'id="open-orders-panel"' not in page
    assert 'id="cash-split"' not in page


def test_the_dashboard_shows_the_newest_five_and_how_many_more(student_client, student, aapl):
    for i in range(7):
        limit_buy(student, quantity=1, limit=f"{150 + i}.00")

    page = student_client.get(DASHBOARD).content.decode()

    assert "Open orders (7)" in page
    assert page.count('class="list-group-item') == 5
    assert "$156.00 or less" in page and "$151.00 or less" not in page
    assert "and 2 more" in page and 'href="/trading/orders/?status=open"' in page


def test_the_live_section_shows_held_cash_and_shares_held(student_client, student, aapl):
    buy(user=student, symbol="AAPL", quantity=10)
    limit_sell(student, quantity=4)
    limit_buy(student, quantity=1, limit="100.00")

    page = student_client.get(reverse("portfolio:live"), HTTP_HX_REQUEST="true").content.decode()

    assert re.search(r'id="cash-held">\$100.00<', page)
    assert re.search(r'id="cash-free">\$7,900.00<', page)  # $8,000 − $100
    assert "4 held for orders" in page


def test_a_cancel_from_the_dashboard_comes_back_to_it(student_client, student, aapl):
    order = limit_buy(student)

    response = student_client.post(cancel_url(order), {"next": DASHBOARD}, follow=True)

    assert response.redirect_chain == [(DASHBOARD, 302)]
    page = response.content.decode()
    assert "Cancelled: Buy 10 AAPL" in page
    assert 'id="open-orders-panel"' not in page


# News of fills ---------------------------------------------------------------------------------


def test_a_fill_is_told_once_on_the_next_page(
    student_client, student, aapl, django_capture_on_commit_callbacks
):
    limit_buy(student, quantity=10, limit="180.00")
    student_client.get(DASHBOARD)  # nothing to tell yet
    set_price("AAPL", "179.50")

    summary = fill_now(django_capture_on_commit_callbacks)

    assert summary.filled == 1
    assert cache.get(order_news_key(student.pk))
    page = student_client.get(reverse("prices:market")).content.decode()
    assert "Your order filled: Bought 10 AAPL at $179.50 for $1,795.00." in page
    assert Order.objects.get(type="limit").notified
    assert cache.get(order_news_key(student.pk)) is None
    again = student_client.get(reverse("prices:market")).content.decode()
    assert "Your order filled" not in again


def test_an_expiry_is_told_on_the_next_page(
    student_client, student, aapl, django_capture_on_commit_callbacks
):
    order = limit_buy(student, quantity=10, limit="180.00")
    with django_capture_on_commit_callbacks(execute=True):
        assert expire_orders(day=order.expires_day) == 1

    response = student_client.get(ORDERS)

    assert flashes(response) == [
        "Your day order to buy 10 AAPL if the price falls to $180.00 or less expired at the close."
    ]


def test_a_rejection_is_told_with_its_reason(
    student_client, student, aapl, django_capture_on_commit_callbacks
):
    period = ClassroomFactory(
        name="Period 9",
        starts_at=timezone.now() - timedelta(days=1),
        ends_at=timezone.now() + timedelta(days=1),
    )
    student.classroom = period
    student.save(update_fields=["classroom"])
    limit_buy(student, quantity=10, limit="180.00")
    period.ends_at = timezone.now() - timedelta(minutes=1)
    period.save(update_fields=["ends_at"])
    set_price("AAPL", "179.00")

    assert fill_now(django_capture_on_commit_callbacks).rejected == 1
    messages = flashes(student_client.get(DASHBOARD))

    assert len(messages) == 1
    assert messages[0].startswith(
        "Your order to buy 10 AAPL if the price falls to $180.00 or less was rejected: "
    )
    assert messages[0].endswith(Order.objects.get().reason.rstrip(".") + ".")


def test_a_teachers_cancel_is_told_to_the_student(
    student_client, student, aapl, django_capture_on_commit_callbacks
):
    teacher = InstructorFactory(username="ms-rivera", is_superuser=True)
    order = limit_buy(student)

    with django_capture_on_commit_callbacks(execute=True):
        cancel_order(order_id=order.pk, by=teacher, reason="Wrong symbol")

    assert flashes(student_client.get(DASHBOARD)) == [
        "Your teacher cancelled your order to buy 10 AAPL if the price falls to $180.00 or "
        "less: Wrong symbol."
    ]


def test_a_reset_that_cancels_orders_is_told_to_the_student(
    student_client, student, aapl, django_capture_on_commit_callbacks
):
    teacher = InstructorFactory(username="ms-rivera", is_superuser=True)
    limit_buy(student)

    with django_capture_on_commit_callbacks(execute=True):
        reset_student(student=student, instructor=teacher, reason="Fresh start")

    assert flashes(student_client.get(DASHBOARD)) == [
        "Your teacher cancelled your order to buy 10 AAPL if the price falls to $180.00 or "
        "less: Reset by ms-rivera."
    ]


def test_the_students_own_cancel_is_not_news(student_client, student, aapl):
    order = limit_buy(student)
    student_client.post(cancel_url(order), follow=True)

    assert flashes(student_client.get(DASHBOARD)) == []
    assert cache.get(order_news_key(student.pk)) is None


def test_many_orders_are_told_as_a_few_and_a_count(student_client, student, aapl):
    for i in range(5):
        closed_order(student, Order.Status.EXPIRED, notified=False, reason=f"r{i}")
    cache.set(order_news_key(student.pk), True)

    messages = flashes(student_client.get(DASHBOARD))

    assert len(messages) == 4
    assert messages[-1] == "…and 2 more: see your orders."
    assert not Order.objects.filter(notified=False).exists()


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        (reverse("portfolio:live"), {"HTTP_HX_REQUEST": "true"}),
        (ORDERS + "?format=csv", {}),
        ("/static/css/tradesim.css", {}),
        ("/healthz", {}),
    ],
)
def test_news_waits_for_a_page(student_client, student, aapl, path, headers):
    closed_order(student, Order.Status.EXPIRED, notified=False, reason="r")
    cache.set(order_news_key(student.pk), True)

    text_of(student_client.get(path, **headers))

    assert Order.objects.filter(notified=False).count() == 1
    assert cache.get(order_news_key(student.pk))


def test_news_is_not_told_on_a_post(student_client, student, aapl):
    closed_order(student, Order.Status.EXPIRED, notified=False, reason="r")
    cache.set(order_news_key(student.pk), True)
    order = limit_buy(student)

    student_client.post(cancel_url(order))

    assert Order.objects.filter(notified=False).count() == 1


def test_another_students_news_stays_theirs(student_client, student, other_student, aapl):
    closed_order(other_student, Order.Status.EXPIRED, notified=False, reason="r")
    cache.set(order_news_key(other_student.pk), True)

    assert flashes(student_client.get(DASHBOARD)) == []
    assert Order.objects.filter(notified=False).count() == 1


def test_no_news_costs_no_query(student_client, student, aapl):
    closed_order(student, Order.Status.EXPIRED, notified=False, reason="r")
    with CaptureQueriesContext(connection) as without_key:
        student_client.get(reverse("glossary"))
    assert not any("orders" in q["sql"] for q in without_key.captured_queries)

    cache.set(order_news_key(student.pk), True)
    with CaptureQueriesContext(connection) as with_key:
        student_client.get(reverse("glossary"))

    # One read of the orders not yet told, one update marking them told.
    assert len(with_key.captured_queries) == len(without_key.captured_queries) + 2


# Queries ----------------------------------------------------------------------------------------


def make_orders(user, n: int) -> None:
    symbols = [PriceFactory(symbol=s, price=Decimal("50.00")).symbol for s in ("AAA", "BBB")]
    for i in range(n):
        symbol = symbols[i % 2]
        if i % 3 == 0:
            limit_buy(user, quantity=1, limit="40.00", symbol=symbol)
        elif i % 3 == 1:
            buy(user=user, symbol=symbol, quantity=1)
        else:
            closed_order(user, Order.Status.EXPIRED, symbol=symbol, reason="r")


@pytest.mark.parametrize("n", [3, 60])
def test_the_orders_page_runs_a_fixed_number_of_queries(
    student_client, student, n, django_assert_max_num_queries
):
    make_orders(student, n)

    # session, user, one aggregate (count, open, held), one page of orders with their trades
    with django_assert_max_num_queries(4):
        response = student_client.get(ORDERS + "?side=buy")

    assert response.status_code == 200


@pytest.mark.parametrize("n", [3, 60])
def test_the_orders_csv_runs_a_fixed_number_of_queries(
    student_client, student, n, django_assert_max_num_queries
):
    make_orders(student, n)

    with django_assert_max_num_queries(3):
        body = text_of(student_client.get(ORDERS + "?format=csv"))

    assert body.count("\n") == n + 1


@pytest.mark.parametrize("n", [1, 12])
def test_the_dashboard_panel_is_one_query(student, n, django_assert_num_queries):
    from trading.selectors import open_orders_panel

    make_orders(student, n * 3)

    with django_assert_num_queries(1):
        panel = open_orders_panel(user=student)

    assert panel["count"] == n


@pytest.mark.parametrize("n", [1, 12])
def test_a_cancel_runs_a_fixed_number_of_queries(
    student_client, student, n, django_assert_max_num_queries
):
    make_orders(student, n * 3)
    order = Order.objects.filter(status="open").first()

    with django_assert_max_num_queries(12):
        response = student_client.post(cancel_url(order))

    assert response.status_code == 302


def test_a_student_in_another_students_class_sees_only_their_own(student_client, aapl):
    other = StudentFactory(username="carol")
    limit_buy(other, quantity=42)

    page = student_client.get(ORDERS + "?status=open").content.decode()

    assert "42" not in table(page, "open-orders")
