"""The order ticket's short sides in a real browser: in a class that allows
selling short, "Sell short" and "Buy to cover" are there beside Buy and Sell at a phone's
width and a laptop's; the estimate and the plain-words preview of each say what the server
says, and the order does what the ticket said. Screenshots: shorts-*.png (test-artifacts,
and SHORT_SHOTS=<dir> copies them there)."""

import os
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from ledger.models import Balance
from portfolio.models import Holding
from tests.e2e.test_accessibility import BEST_PRACTICE, WCAG_TAGS, axe_violations
from tests.factories import ClassroomFactory, PriceFactory, StudentFactory
from trading.services import buy, describe_order, order_request, sell_short

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Quartz-Lantern-Harbor-2026"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def log_in(b, username):
    b.goto("/accounts/login/")
    b.page.fill("#id_username", username)
    b.page.fill("#id_password", PASSWORD)
    b.page.get_by_role("button", name="Log in").click()
    b.page.wait_for_url("**/portfolio/")


def shown(page, selector) -> str:
    return page.inner_text(f"main {selector}").strip()


def no_sideways_scroll(page):
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"the page is {width} px wide"


def shot(b, name):
    path = b.shot(name)
    if os.environ.get("SHORT_SHOTS"):
        target = Path(os.environ["SHORT_SHOTS"])
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target / path.name)


@pytest.fixture
def sam(db):
    """sam, in a class that allows selling short with a 2 % borrow fee: $10,000 of cash,
    3 ZED owned and 50 ACME short (so $14,940.00 of cash)."""
    PriceFactory(symbol="ACME", name="Acme Corp", price=Decimal("100.00"))
    PriceFactory(symbol="ZED", name="Zed Inc", price=Decimal("20.00"))
    room = ClassroomFactory(short_selling=True, borrow_fee_percent=Decimal("2"))
    student = StudentFactory(username="sam", classroom=room, password=PASSWORD)
    buy(user=student, symbol="ZED", quantity=3)
    sell_short(user=student, symbol="ACME", quantity=50)
    return student


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_short_sides_of_the_ticket(browser_page, sam, viewport):
    b = browser_page
    page = b.page
    page.set_viewport_size(viewport)
    size = "390" if viewport is PHONE else "1280"
    log_in(b, "sam")

    b.goto("/trading/buy/?symbol=ZED")
    sides = page.locator("main .side-pills .nav-link")
    assert sides.all_inner_texts() == ["Buy", "Sell", "Sell short", "Buy to cover"]
    for link in sides.all():
        box = link.bounding_box()
        assert box["height"] >= 24 and box["x"] + box["width"] <= viewport["width"]
    page.get_by_role("link", name="Sell short").click()
    page.wait_for_load_state("networkidle")
    assert page.inner_text("main h1") == "Sell short"

    page.select_option("#id_symbol", "ZED")
    assert shown(page, "[data-held-display]") == "3"
    page.select_option("#id_symbol", "ACME")
    assert shown(page, "[data-held-display]") == "Short 50"
    page.fill("#id_quantity", "10")
    assert shown(page, "[data-estimate]") == "$1,000.00"
    assert shown(page, "[data-cash-after]") == "$15,940.00"
    page.select_option("#id_type", "limit")
    page.fill("#id_limit_price", "105")
    request = order_request(
        side="sell_short", type="limit", symbol="ACME", quantity=10, limit_price="105"
    )
    assert shown(page, "[data-order-preview]") == describe_order(request)
    assert shown(page, "[data-submit]") == "Place sell-short order"
    no_sideways_scroll(page)
    assert axe_violations(b, WCAG_TAGS + [BEST_PRACTICE]) == []
    shot(b, f"shorts-sell-short-{size}")

    page.select_option("#id_type", "market")
    page.locator("main [data-submit]").click()
    page.wait_for_load_state("networkidle")
    assert "Sold short 10 ACME at $100.00 for $1,000.00." in page.inner_text(".messages")
    assert Holding.objects.get(user=sam, stock_id="ACME").quantity == -60

    b.goto("/trading/orders/new/?side=buy_to_cover")
    assert page.inner_text("main h1") == "Buy to cover"
    page.select_option("#id_symbol", "ACME")
    assert shown(page, "[data-held-display]") == "Short 60"
    page.get_by_role("button", name="Cover all").click()
    assert page.input_value("#id_quantity") == "60"
    assert shown(page, "[data-estimate]") == "$6,000.00"
    page.fill("#id_quantity", "61")
    assert shown(page, "[data-estimate-warning]") == "You are short 60 shares."
    page.fill("#id_quantity", "20")
    page.select_option("#id_type", "stop")
    page.fill("#id_stop_price", "110")
    request = order_request(
        side="buy_to_cover", type="stop", symbol="ACME", quantity=20, stop_price="110"
    )
    assert shown(page, "[data-order-preview]") == describe_order(request)
    assert shown(page, "[data-submit]") == "Place buy-to-cover order"
    no_sideways_scroll(page)
    assert axe_violations(b, WCAG_TAGS + [BEST_PRACTICE]) == []
    shot(b, f"shorts-buy-to-cover-{size}")

    page.select_option("#id_type", "market")
    page.locator("main [data-submit]").click()
    page.wait_for_load_state("networkidle")
    assert "Bought to cover 20 ACME at $100.00 for $2,000.00 (realized $0.00)." in (
        page.inner_text(".messages")
    )
    assert Balance.objects.get(user=sam).amount == Decimal("13940.00")

    b.goto("/trading/")
    no_sideways_scroll(page)
    assert axe_violations(b, WCAG_TAGS + [BEST_PRACTICE]) == []
    shot(b, f"shorts-history-{size}")
