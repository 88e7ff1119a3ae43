"""The margin call banner in a real browser: a student whose call is open sees it
on every page, at a phone's and a laptop's width, and it passes axe; photographed to
test-artifacts/screenshots/margin/ to be looked at."""

from decimal import Decimal

import pytest

from classrooms.models import Classroom
from prices.models import Price
from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.test_accessibility import BEST_PRACTICE, WCAG_TAGS, axe_violations
from tests.factories import ClassroomFactory, PriceFactory, StudentFactory
from trading.models import MarginCall
from trading.services import buy, check_margin_calls

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Quartz-Lantern-Harbor-2026"
SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}


@pytest.mark.parametrize("size", sorted(SIZES))
def test_an_open_margin_call_is_on_every_page(browser_page, size):
    PriceFactory(symbol="ACME", name="Acme Corp", price=Decimal("100.00"))
    room = ClassroomFactory(name="Leverage", margin=True, margin_call_days=2)
    mia = StudentFactory(username="mia", classroom=room, password=PASSWORD)
    buy(user=mia, symbol="ACME", quantity=200)  # a $10,000 loan
    Price.objects.filter(symbol="ACME").update(price=Decimal("70.00"))
    check_margin_calls()  # equity $4,000 < 30 % of $14,000: a call with two days to meet
    assert MarginCall.objects.get(user=mia).status == "open"
    assert Classroom.objects.get(pk=room.pk).margin_call_days == 2

    b = browser_page
    page = b.page
    page.set_viewport_size(SIZES[size])
    b.goto("/accounts/login/")
    page.fill("#id_username", "mia")
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/portfolio/")

    for path in ("/portfolio/", "/trading/buy/?symbol=ACME", "/ledger/"):
        b.goto(path)
        banner = page.locator("#margin-call")
        assert banner.is_visible(), path
        text = banner.inner_text()
        assert "Margin call:" in text and "$4,000.00" in text and "$4,200.00" in text
        assert axe_violations(b, WCAG_TAGS + [BEST_PRACTICE]) == [], path
        # The banner fits the width: no sideways scrolling on a phone.
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    folder = SCREENSHOTS / "margin"
    folder.mkdir(parents=True, exist_ok=True)
    b.goto("/portfolio/")
    page.screenshot(path=str(folder / f"margin-call-{size}.png"))
