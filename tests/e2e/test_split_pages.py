"""Splits in a real browser: the quote page's announcement at a phone's and a laptop's
width (axe clean, no sideways scrolling), and an instructor scheduling a split in the
admin; photographed to test-artifacts/screenshots/splits/."""

from decimal import Decimal

import pytest

from accounts.roles import ensure_instructor_group
from prices.models import MarketState, Split
from prices.splits import schedule_split
from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.test_accessibility import BEST_PRACTICE, WCAG_TAGS, axe_violations
from tests.factories import InstructorFactory, PriceFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Quartz-Lantern-Harbor-2026"
SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}


@pytest.fixture
def acme(db):
    MarketState.objects.update_or_create(id=1, defaults={"trading_day": 29, "day_elapsed": 0.5})
    return PriceFactory(symbol="ACME", name="Acme Corp", price=Decimal("640.00"))


@pytest.mark.parametrize("size", sorted(SIZES))
def test_the_quote_page_announces_a_split(browser_page, acme, size):
    schedule_split(symbol="ACME", ratio="2-for-1", effective_day=34)
    b = browser_page
    page = b.page
    page.set_viewport_size(SIZES[size])

    b.goto("/prices/ACME/")

    assert page.locator("[data-split]").inner_text() == "2-for-1 split on day 34"
    note = page.locator("[data-split-note]").inner_text()
    assert "each share becomes two" in note and "your value does not change" in note
    assert axe_violations(b, WCAG_TAGS + [BEST_PRACTICE]) == []
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    folder = SCREENSHOTS / "splits"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"quote-split-{size}.png"))


def test_an_instructor_schedules_a_split_in_the_admin(browser_page, acme):
    teacher = InstructorFactory(username="teacher", password=PASSWORD)
    teacher.groups.add(ensure_instructor_group())
    b = browser_page
    page = b.page
    b.goto("/admin/login/")
    page.fill("#id_username", "teacher")
    page.fill("#id_password", PASSWORD)
    page.locator("input[type=submit]").click()

    b.goto("/admin/prices/split/add/")
    page.locator(".field-stock .select2-selection").click()  # the symbol's autocomplete
    page.locator(".select2-search__field").fill("ACME")
    page.locator(".select2-results__option", has_text="ACME").click()
    page.select_option("#id_ratio", "3-for-2")
    page.fill("#id_days_ahead", "3")
    page.locator("input[name=_save]").click()

    page.wait_for_url("**/admin/prices/split/")
    assert "Pending: takes effect at the open of day 33" in page.content()
    split = Split.objects.get()
    assert (split.stock_id, split.ratio_text, split.created_by_id) == (
        "ACME",
        "3-for-2",
        teacher.pk,
    )
