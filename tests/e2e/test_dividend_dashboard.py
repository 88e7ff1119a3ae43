"""The dashboard after a dividend, in a real browser: the Dividends line under the
realized P/L and the total return's note that it counts them, at a phone's width and a
laptop's, without sideways scrolling, passing axe. Screenshots: dividends-*.png."""

from decimal import Decimal

import pytest
from django.db import transaction

from prices.models import Price
from tests.e2e.test_accessibility import BEST_PRACTICE, WCAG_TAGS, axe_violations
from tests.e2e.test_short_ticket import DESKTOP, PASSWORD, PHONE, log_in, no_sideways_scroll, shot
from tests.factories import PriceFactory, StudentFactory
from trading.dividends import pay_dividends
from trading.services import buy

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def sam(db):
    """sam holds 40 KO bought at $70.00, paid $0.51 a share; KO has since gone ex-dividend."""
    PriceFactory(symbol="KO", name="The Coca-Cola Company", price=Decimal("70.00"))
    student = StudentFactory(username="sam", password=PASSWORD)
    buy(user=student, symbol="KO", quantity=40)
    with transaction.atomic():
        pay_dividends(dividends=[("KO", Decimal("0.51"))], day=2, at=None)
    Price.objects.filter(symbol="KO").update(price=Decimal("69.49"))
    return student


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_dashboard_shows_dividend_income(browser_page, sam, viewport):
    b = browser_page
    page = b.page
    page.set_viewport_size(viewport)
    log_in(b, "sam")

    dividends = page.locator("main #dividends")
    assert "+$20.40" in dividends.inner_text()
    assert "received, apart from price gains" in dividends.inner_text()
    assert "$20.40 of it in dividends" in page.inner_text("main #total-return-dividends")
    no_sideways_scroll(page)
    assert axe_violations(b, WCAG_TAGS + [BEST_PRACTICE]) == []
    shot(b, f"dividends-{viewport['width']}")
