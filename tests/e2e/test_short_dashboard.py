"""The dashboard with a short position in a real browser: the short
row reads "Short 50" with its value below zero and a Buy to cover button, the totals say
long and short apart, the allocation lists the short beside the doughnut, at a phone's
width and a laptop's, without sideways scrolling. Screenshots: shortval-*.png
(test-artifacts, and SHORT_SHOTS=<dir> copies them there)."""

from decimal import Decimal

import pytest

from prices.models import Price
from tests.e2e.test_accessibility import BEST_PRACTICE, WCAG_TAGS, axe_violations
from tests.e2e.test_short_ticket import DESKTOP, PASSWORD, PHONE, log_in, no_sideways_scroll, shot
from tests.factories import ClassroomFactory, PriceFactory, StudentFactory
from trading.services import buy, sell_short

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def sam(db):
    """sam, in a class with shorts and margin: 30 ZED owned, 50 ACME short at $100, and
    ACME since up to $120."""
    PriceFactory(symbol="ACME", name="Acme Corp", price=Decimal("100.00"), sector="Industrials")
    PriceFactory(symbol="ZED", name="Zed Inc", price=Decimal("20.00"), sector="Technology")
    room = ClassroomFactory(short_selling=True, margin=True)
    student = StudentFactory(username="sam", classroom=room, password=PASSWORD)
    buy(user=student, symbol="ZED", quantity=30)
    sell_short(user=student, symbol="ACME", quantity=50)
    Price.objects.filter(symbol="ACME").update(price=Decimal("120.00"))
    return student


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_dashboard_with_a_short_position(browser_page, sam, viewport):
    b = browser_page
    page = b.page
    page.set_viewport_size(viewport)
    log_in(b, "sam")

    row = page.locator('main tr[data-symbol="ACME"]')
    assert "Short 50" in row.inner_text()
    assert "−$6,000.00" in row.inner_text()
    cover = row.get_by_role("link", name="Buy to cover ACME")
    assert "side=buy_to_cover" in cover.get_attribute("href")
    assert page.inner_text("main #short-value") == "−$6,000.00"
    assert page.inner_text("main #total-value") == "$9,000.00"  # 15,000 + 600 − 6,000
    no_sideways_scroll(page)
    assert axe_violations(b, WCAG_TAGS + [BEST_PRACTICE]) == []
    shot(b, f"shortval-{viewport['width']}")
