"""A margin account in a real browser: the ticket's estimate reaches as far as the
buying power, as the margin rule counts it, and no further; the dashboard and the tickets
show the margin figures at a laptop's and a phone's width, pass axe, and are photographed
to test-artifacts/screenshots/margin/ (and SHOTS_DIR, when set) to be looked at."""

import os
import shutil
from decimal import Decimal

import pytest

from ledger.models import Balance
from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.test_accessibility import BEST_PRACTICE, WCAG_TAGS, axe_violations
from tests.factories import ClassroomFactory, PriceFactory, StudentFactory
from trading.services import buy

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


def test_the_ticket_estimates_against_the_buying_power(browser_page):
    PriceFactory(symbol="ACME", name="Acme Corp", price=Decimal("100.00"))
    room = ClassroomFactory(
        margin=True,
        starting_cash=Decimal("10000.00"),
        commission_kind="flat",
        commission_amount=Decimal("10.00"),
    )
    StudentFactory(username="mia", classroom=room, password=PASSWORD)
    b = browser_page
    page = b.page
    log_in(b, "mia")

    b.goto("/trading/buy/?symbol=ACME")
    assert shown(page, "#order-buying-power") == "$20,000.00"
    page.fill("#id_quantity", "250")
    assert shown(page, "[data-estimate-warning]") == (
        "That is more than your buying power of $20,000.00: you can afford 199 shares."
    )
    # 199 shares: $19,900 and $10 of commission; the equity left, $9,990, is at least
    # 50 % of $19,900. 200 would need $10,000 of it.
    page.get_by_role("button", name="Max affordable").click()
    assert page.input_value("#id_quantity") == "199"
    assert page.locator("main [data-estimate-warning]").is_hidden()
    assert shown(page, "[data-cash-after]") == "−$9,910.00 (a margin loan)"
    page.locator("main form[method=post] button[type=submit]").click()
    page.wait_for_load_state("networkidle")
    assert "Bought 199 ACME" in page.inner_text(".messages")
    assert Balance.objects.get(user__username="mia").amount == Decimal("-9910.00")


@pytest.fixture
def leveraged(db):
    """Mia's margin class: $10,000 of cash, $15,000 of shares, $5,000 of it borrowed, and an
    open buy holding some of the buying power."""
    from trading.services import OrderRequest, place_order

    for symbol, name, price, sector in [
        ("ACME", "Acme Corp", "100.00", "Industrials"),
        ("GLOBX", "Globex Corporation", "50.00", "Technology"),
        ("INIT", "Initech", "25.00", "Technology"),
    ]:
        PriceFactory(symbol=symbol, name=name, price=Decimal(price), sector=sector)
    room = ClassroomFactory(name="Period 4 Finance", margin=True)
    mia = StudentFactory(username="mia", classroom=room, password=PASSWORD)
    StudentFactory(username="noah", classroom=room)
    buy(user=mia, symbol="ACME", quantity=100)
    buy(user=mia, symbol="GLOBX", quantity=60)
    buy(user=mia, symbol="INIT", quantity=80)
    place_order(
        user=mia,
        request=OrderRequest(
            side="buy", type="limit", symbol="INIT", quantity=20, limit_price=Decimal("20.00")
        ),
        token=None,
    )
    return mia


def save(b, name: str, parts: tuple[str, ...] = ()) -> None:
    """The whole page, and each of `parts` (selectors) alone, at its full size."""
    page = b.page
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(300)  # charts finish drawing
    folder = SCREENSHOTS / "margin"
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{name}.png"]
    page.screenshot(path=str(paths[0]), full_page=True)
    for i, selector in enumerate(parts, 1):
        paths.append(folder / f"{name}-part{i}.png")
        page.locator(selector).first.screenshot(path=str(paths[-1]))
    if os.environ.get("SHOTS_DIR"):
        for path in paths:
            shutil.copyfile(path, os.path.join(os.environ["SHOTS_DIR"], path.name))


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_the_margin_pages_read_well_and_pass_axe(browser_page, leveraged, width):
    b = browser_page
    page = b.page
    page.set_viewport_size(DESKTOP if width == "desktop" else PHONE)
    log_in(b, "mia")

    for name, path, ready, parts in [
        (
            "dashboard",
            "/portfolio/",
            "#margin-level",
            (
                "section[aria-labelledby=totals-heading]",
                "#margin",
                "#holdings tfoot",
                "section[aria-labelledby=allocation-heading]",
            ),
        ),
        ("ticket", "/trading/orders/new/?symbol=ACME", "#ticket-margin-level", ("main",)),
        ("quote", "/prices/ACME/", "#ticket-margin-level", ("#order-ticket",)),
    ]:
        b.goto(path)
        page.wait_for_selector(ready)
        assert shown(page, ready).replace("\xa0", " ") == "66.67 %"
        # Nothing runs off the side of a phone.
        assert page.evaluate("document.documentElement.scrollWidth <= innerWidth + 1")
        save(b, f"margin-{name}-{width}", parts)
        assert axe_violations(b, WCAG_TAGS + [BEST_PRACTICE]) == [], name
    b.assert_clean()
