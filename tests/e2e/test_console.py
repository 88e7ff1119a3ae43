"""The instructors' console in a real browser: the user list's key columns fit a 1366 px
laptop screen, and the class overview, a student's page (with open orders to cancel),
market events and the students' market news look finished on a laptop and on a phone
(screenshots in test-artifacts/screenshots/)."""

from decimal import Decimal

import pytest

from prices.models import Headline, MarketEvent, MarketState, Price
from prices.services import load_market

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Quartz-Lantern-Harbor-2026"
LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def classroom(db):
    """Ms Rivera's Period 1: a dozen students with long names and addresses, some of
    whom have traded and gained or lost."""
    from accounts.services import create_instructor
    from ledger.services import deposit
    from tests.factories import ClassroomFactory, StudentFactory
    from trading.services import buy

    load_market()
    MarketState.objects.get_or_create(id=1)
    rivera = create_instructor(
        username="ms-rivera", email="rivera@school.example", password=PASSWORD
    )
    period = ClassroomFactory(name="Period 1 · Economics")
    period.owners.add(rivera)
    names = [
        ("maximilian.featherstonehaugh", "Maximilian", "Featherstonehaugh"),
        ("alexandra.konstantinopoulou", "Alexandra", "Konstantinopoulou"),
        ("maya", "Maya", "Chen"),
        ("jo", "Jo", "Li"),
        ("sam.okafor", "Sam", "Okafor"),
        ("priya.raghunathan", "Priya", "Raghunathan"),
        ("lucas.vandenberghe", "Lucas", "Vandenberghe"),
        ("ines.garcia", "Inés", "García"),
        ("tom", "Tom", "Baker"),
        ("zoe.williamson-smythe", "Zoë", "Williamson-Smythe"),
        ("noah", "Noah", "Kim"),
        ("emma.oconnor", "Emma", "O'Connor"),
    ]
    students = []
    for i, (username, first, last) in enumerate(names):
        student = StudentFactory(
            username=username,
            first_name=first,
            last_name=last,
            email=f"{username}@students.riverside-high-school.example",
            classroom=period,
        )
        students.append(student)
        if i % 3 == 0:
            continue  # has not traded yet
        deposit(user=student, amount=str(1234 * i))
        buy(user=student, symbol=["AAPL", "MSFT", "XOM", "NVDA"][i % 4], quantity=5 + i)
    Price.objects.filter(symbol="AAPL").update(price=Decimal("312.34"))
    Price.objects.filter(symbol="XOM").update(price=Decimal("61.10"))
    return {"teacher": rivera, "class": period, "students": students}


def log_in(b, username="ms-rivera"):
    b.goto("/admin/login/")
    b.page.fill("#id_username", username)
    b.page.fill("#id_password", PASSWORD)
    b.page.get_by_role("button", name="Log in").click()
    b.page.wait_for_url("**/admin/")


def no_sideways_scroll(page):
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.viewport_size["width"]
    assert width <= viewport, f"the page is {width} px wide in a {viewport} px window"


def test_the_user_lists_key_columns_fit_a_1366_px_screen(browser_page, classroom):
    b = browser_page
    b.page.set_viewport_size(LAPTOP)
    log_in(b)

    b.goto("/admin/accounts/user/")
    b.shot("console-user-list-1366")

    headers = b.page.eval_on_selector_all(
        "#result_list thead th", "cells => cells.map(c => c.innerText.trim())"
    )
    for key in ["STUDENT", "CLASS", "VALUE", "RETURN", "TWR", "TRADES"]:
        assert key in headers, headers
    # The list scrolls inside its own box when it is too wide: the last key column must
    # end inside that box, and the box must not scroll.
    right = b.page.eval_on_selector(
        "#result_list thead th.column-trades", "th => th.getBoundingClientRect().right"
    )
    box = b.page.eval_on_selector(
        "#changelist .results",
        "box => [box.getBoundingClientRect().right, box.scrollWidth, box.clientWidth]",
    )
    assert right <= min(box[0], LAPTOP["width"]), f"the Trades column ends at {right} px: {box}"
    assert box[1] <= box[2], f"the list scrolls sideways: {box}"
    no_sideways_scroll(b.page)


def test_the_class_overview_on_a_laptop_and_a_phone(browser_page, classroom):
    b = browser_page
    b.page.set_viewport_size(LAPTOP)
    log_in(b)
    b.goto("/admin/")
    b.shot("console-index-1366")
    b.page.get_by_role("link", name="Overview of Period 1 · Economics").click()
    b.page.wait_for_load_state("networkidle")
    assert "class overview" in b.page.inner_text("#content h1")
    assert "Not traded yet (4)" in b.page.inner_text("#content")
    b.shot("console-overview-1366")
    no_sideways_scroll(b.page)

    b.page.set_viewport_size(PHONE)
    b.page.reload()
    b.shot("console-overview-390")
    no_sideways_scroll(b.page)


def test_a_students_page_on_a_laptop_and_a_phone(browser_page, classroom):
    b = browser_page
    maya = classroom["students"][2]
    b.page.set_viewport_size(LAPTOP)
    log_in(b)
    b.goto(f"/admin/accounts/user/{maya.pk}/change/")
    text = b.page.inner_text("#content")
    assert "Portfolio value" in text and "Rank" in text and "Can log in" in text
    assert "Superuser status" not in text and "Groups" not in text
    b.shot("console-student-1366")
    b.page.set_viewport_size(PHONE)
    b.page.reload()
    b.shot("console-student-390")


def test_an_instructor_cancels_a_students_open_order_on_a_laptop_and_a_phone(
    browser_page, classroom
):
    """maya's open orders on her page, with what each holds; Cancel on one frees its hold
    and says so; the page fits a phone without sideways scrolling."""
    from ledger.models import Balance
    from trading.models import Order
    from trading.services import order_request, place_order

    maya = classroom["students"][2]  # holds 7 XOM
    waiting = [
        order_request(side="buy", type="limit", symbol="AAPL", quantity=10, limit_price="250.00"),
        order_request(
            side="sell", type="stop", symbol="XOM", quantity=7, stop_price="55.00", duration="gtc"
        ),
        order_request(
            side="buy", type="trailing_stop", symbol="MSFT", quantity=2, trail_percent="5"
        ),
    ]
    for request in waiting:
        place_order(user=maya, request=request)
    b = browser_page
    b.page.set_viewport_size({"width": 1280, "height": 900})
    log_in(b)
    b.goto(f"/admin/accounts/user/{maya.pk}/change/")
    orders = b.page.locator(".open-orders")
    assert "Open orders (3)" in orders.inner_text()
    assert "Buy 10 AAPL if the price falls to $250.00 or less; good for today" in (
        orders.inner_text()
    )
    assert "$2,500.00 of cash" in orders.inner_text()
    b.shot("console-student-orders-1280")
    no_sideways_scroll(b.page)
    b.page.set_viewport_size(PHONE)
    b.page.reload()
    b.shot("console-student-orders-390")
    no_sideways_scroll(b.page)

    b.page.get_by_role("button", name="Cancel the order: Buy 10 AAPL").click()
    b.page.wait_for_load_state("networkidle")
    said = b.page.inner_text("ul.messagelist")
    assert "Cancelled maya's order: Buy 10 AAPL" in said
    assert "The $2,500.00 of cash it held is free again." in said
    assert "Open orders (2)" in b.page.inner_text(".open-orders")
    assert Order.objects.get(user=maya, stock_id="AAPL", type="limit").status == "cancelled"
    assert Balance.objects.get(user=maya).held > 0  # the trailing stop's hold stays
    b.shot("console-student-orders-cancelled-390")
    no_sideways_scroll(b.page)


def test_a_large_event_is_confirmed_then_students_read_it_as_news(browser_page, classroom):
    b = browser_page
    b.page.set_viewport_size(LAPTOP)
    log_in(b)
    b.goto("/admin/prices/marketevent/add/")
    b.page.select_option("#id_sector", "Energy")
    b.page.fill("#id_percent", "-40")
    b.page.fill("#id_reason", "Oil tanker spill in the Gulf")
    b.page.locator("input[name=_save]").click()
    b.page.wait_for_load_state("networkidle")
    assert "tick the box to confirm" in b.page.inner_text("#content")
    assert not MarketEvent.objects.exists()
    # The refused form answered 400 on purpose, which the browser logs as an error.
    b.problems = [p for p in b.problems if "status of 400" not in p]
    b.shot("console-event-confirm-1366")
    b.page.check("#id_confirm")
    b.page.locator("input[name=_save]").click()
    b.page.wait_for_load_state("networkidle")
    event = MarketEvent.objects.get()

    # A pending event can be cancelled from its page.
    second = MarketEvent.objects.create(stock_id="AAPL", percent=Decimal("5"), reason="Rumour")
    b.goto(f"/admin/prices/marketevent/{second.pk}/change/")
    b.shot("console-event-pending-1366")
    b.page.get_by_role("link", name="Cancel this event").click()
    b.page.wait_for_load_state("networkidle")
    b.shot("console-event-cancel-1366")
    b.page.get_by_role("button", name="Yes, cancel the event").click()
    b.page.wait_for_load_state("networkidle")
    second.refresh_from_db()
    assert second.cancelled_at is not None

    # The ticker applies the first; students read it on the market and quote pages.
    from prices.services import advance_market

    advance_market(seed=3)
    event.refresh_from_db()
    assert event.applied_at is not None
    Headline.objects.create(
        kind="event",
        stock_id="AAPL",
        sector="Technology",
        percent=Decimal("12"),
        text="AAPL jumps 12\u00a0%: Record iPhone sales beat every forecast",
        day=event.applied_day,
    )
    b.page.context.clear_cookies()
    for width, size in [(1280, "1280"), (390, "390")]:
        b.page.set_viewport_size({"width": width, "height": 900})
        b.goto("/prices/")
        news = b.page.inner_text(".market-news")
        assert "Oil tanker spill in the Gulf" in news and "−40.0 %" in news
        assert "Rumour" not in news
        b.shot(f"market-news-{size}")
        no_sideways_scroll(b.page)
        b.goto("/prices/XOM/")
        assert "Oil tanker spill" in b.page.inner_text(".market-news")
        b.shot(f"quote-news-{size}")
        no_sideways_scroll(b.page)
