"""The README's screenshots, desktop (1280 px) and phone (390 px), of a class in the middle
of its contest. Every run writes them to test-artifacts/screenshots/readme/; with
README_SCREENSHOTS=1 (`make screenshots`) they also replace the ones in docs/screenshots/.
The phone ones are one phone screen each (390×844), so they stay small."""

import os
import shutil
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from ledger.services import deposit
from prices.services import advance_market, load_market
from prices.simulation import new_rng
from tests.e2e.conftest import SCREENSHOTS
from trading.services import buy, sell

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Quartz-Lantern-Harbor-2026"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
CLASSMATES = {
    "amara": {"NVDA": 20, "AMZN": 10},
    "ben": {"XOM": 40, "CVX": 20},
    "chloe": {"JPM": 15, "V": 10},
    "diego": {"AAPL": 12},
    "emma": {"KO": 50, "PEP": 20},
    "farid": {"TSIM": 15},
    "grace": {"MSFT": 8, "GOOGL": 10},
    "hugo": {},
}


@pytest.fixture
def contest(db):
    """Maya's class, two hours into the market, everyone invested, the market moved on."""
    from accounts.services import create_instructor
    from tests.factories import ClassroomFactory, StudentFactory

    start = timezone.now() - timedelta(minutes=180)
    load_market(now=start - timedelta(minutes=1))
    rng = new_rng(7)
    for minute in range(60):
        advance_market(rng=rng, now=start + timedelta(minutes=minute))
    rivera = create_instructor(
        username="ms-rivera", email="rivera@school.example", password=PASSWORD
    )
    period = ClassroomFactory(
        name="Period 3 Economics",
        starts_at=timezone.now() - timedelta(days=3),
        ends_at=timezone.now() + timedelta(days=11),
        names_shown=True,
    )
    period.owners.add(rivera)
    maya = StudentFactory(username="maya", password=PASSWORD, classroom=period)
    deposit(user=maya, amount=Decimal("2500.00"), description="Birthday money")
    for symbol, quantity in {"AAPL": 10, "MSFT": 4, "NVDA": 12, "JPM": 6, "TSIM": 3}.items():
        buy(user=maya, symbol=symbol, quantity=quantity)
    for name, orders in CLASSMATES.items():
        student = StudentFactory(username=name, classroom=period)
        for symbol, quantity in orders.items():
            buy(user=student, symbol=symbol, quantity=quantity)
    for minute in range(60, 150):
        advance_market(rng=rng, now=start + timedelta(minutes=minute))
    sell(user=maya, symbol="JPM", quantity=2)
    for minute in range(150, 180):
        advance_market(rng=rng, now=start + timedelta(minutes=minute))
    return maya


def save(b, name: str, *, full_page: bool = False, clip_from: str | None = None) -> Path:
    """A screenshot: the viewport, the whole page, or one screen from an element down."""
    page = b.page
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(300)  # charts finish drawing
    folder = SCREENSHOTS / "readme"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    if clip_from:
        top = page.evaluate(
            f"document.querySelector({clip_from!r}).getBoundingClientRect().top + scrollY"
        )
        size = page.viewport_size
        height = min(size["height"], page.evaluate("document.body.scrollHeight") - top)
        page.screenshot(
            path=str(path),
            full_page=True,
            clip={"x": 0, "y": max(top - 12, 0), "width": size["width"], "height": height},
        )
    else:
        page.screenshot(path=str(path), full_page=full_page)
    assert path.stat().st_size < 400_000, f"{name}.png is {path.stat().st_size} bytes"
    if os.environ.get("README_SCREENSHOTS") == "1":
        shutil.copyfile(path, DOCS / path.name)
    return path


def test_the_readme_screenshots(browser_page, contest):
    b = browser_page
    page = b.page
    b.goto("/accounts/login/")
    page.fill("#id_username", "maya")
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/portfolio/")
    page.wait_for_function("() => window.Chart && Chart.getChart('performance-chart')")

    # Desktop: the dashboard whole, the quote's first screen.
    save(b, "dashboard", full_page=True)
    b.goto("/prices/AAPL/")
    page.wait_for_function("() => window.Chart && Chart.getChart('price-chart')")
    save(b, "quote")

    # Phone: one screen each.
    page.set_viewport_size(PHONE)
    b.goto("/portfolio/")
    page.wait_for_function("() => window.Chart && Chart.getChart('performance-chart')")
    save(b, "dashboard-phone", clip_from="#holdings-heading")
    b.goto("/prices/AAPL/")
    page.wait_for_function("() => window.Chart && Chart.getChart('price-chart')")
    save(b, "quote-phone")
    b.goto("/prices/")
    save(b, "market-phone")
    b.goto("/portfolio/leaderboard/")
    save(b, "leaderboard-phone")
    b.assert_clean()
