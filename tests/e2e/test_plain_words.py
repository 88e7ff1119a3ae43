"""Plain words in a real browser: the "?" explanations open by mouse and keyboard, stay
open while the dashboard refreshes, lead to the glossary entry, and fit a phone; the
leaderboard's total return column too. Screenshots in test-artifacts/screenshots/5x-*."""

from datetime import timedelta

import pytest
from django.utils import timezone

from portfolio import views as portfolio_views
from portfolio.services import after_tick
from prices.services import advance_market, load_market
from prices.simulation import new_rng
from trading.services import buy

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Quartz-Lantern-Harbor-2026"
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 900}
NO_SIDEWAYS_SCROLL = "document.documentElement.scrollWidth <= document.documentElement.clientWidth"


@pytest.fixture(autouse=True)
def still(monkeypatch):
    """The dashboard's live section refreshes only where a test asks it to (no swap in the
    middle of a click)."""
    monkeypatch.setattr(portfolio_views, "LIVE_SECONDS", 3600)


@pytest.fixture
def contest(db):
    """The sample market with two hours of history; Period 1, ranked by time-weighted
    return, where maya and twelve classmates bought shares and were recorded."""
    from tests.factories import ClassroomFactory, StudentFactory

    start = timezone.now() - timedelta(minutes=120)
    load_market(now=start - timedelta(minutes=1))
    rng = new_rng(7)
    for minute in range(120):
        advance_market(rng=rng, now=start + timedelta(minutes=minute))
    period = ClassroomFactory(
        name="Period 1", starts_at=timezone.now() - timedelta(days=2), ranking="twr"
    )
    maya = StudentFactory(username="maya", password=PASSWORD, classroom=period)
    buy(user=maya, symbol="AAPL", quantity=10)
    buy(user=maya, symbol="XOM", quantity=20)
    for i in range(12):
        classmate = StudentFactory(username=f"classmate{i:02d}", classroom=period)
        buy(user=classmate, symbol=["MSFT", "NVDA", "KO"][i % 3], quantity=i + 1)
    after_tick(ticks=1, timestamp=timezone.now())
    now = timezone.now()
    for n in range(3):
        advance_market(rng=rng, now=now + timedelta(seconds=n + 1))
    return maya


def log_in(b, viewport):
    b.page.set_viewport_size(viewport)
    b.goto("/accounts/login/")
    b.page.fill("#id_username", "maya")
    b.page.fill("#id_password", PASSWORD)
    b.page.get_by_role("button", name="Log in").click()
    b.page.wait_for_url("**/portfolio/")
    b.page.wait_for_load_state("networkidle")


def test_explanations_open_by_click_and_keyboard_and_lead_to_the_glossary(browser_page, contest):
    b = browser_page
    page = b.page
    log_in(b, LAPTOP)
    b.shot("50-dashboard-explained-closed")

    twr = page.locator("#explain-live-time-weighted-return")
    assert not twr.locator(".explain-body").is_visible()
    twr.locator("summary").click()
    assert twr.locator(".explain-body").is_visible()
    assert "Your return from your choices alone" in twr.locator(".explain-body").inner_text()

    # Escape shuts it and gives the focus back to its "?".
    page.keyboard.press("Escape")
    assert not twr.locator(".explain-body").is_visible()
    assert page.evaluate("document.activeElement.closest('details').id") == twr.get_attribute("id")

    # By keyboard: the "?" of the holdings' Today column opens with Enter; its box stays
    # inside the window (the column is at the right edge of the table).
    page.locator("#explain-live-today-2 summary").focus()
    page.keyboard.press("Enter")
    assert page.evaluate("document.querySelector('#explain-live-today-2').open")
    # explain.js places the box on its toggle event, just after.
    page.wait_for_function(f"() => {NO_SIDEWAYS_SCROLL}", timeout=5000)
    box = page.locator("#explain-live-today-2 .explain-body").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= LAPTOP["width"]
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    b.shot("51-dashboard-explained-open")

    # One open at a time; a click elsewhere shuts it.
    twr.locator("summary").click()
    page.wait_for_function(
        "() => !document.querySelector('#explain-live-today-2').open", timeout=5000
    )
    page.locator("h1").click()
    assert not page.evaluate("document.querySelector('#explain-live-time-weighted-return').open")

    twr.locator("summary").click()
    twr.get_by_role("link", name="More in the glossary about Time-weighted return (TWR)").click()
    page.wait_for_url("**/glossary/#time-weighted-return")
    assert page.evaluate("document.querySelector(':target').id") == "time-weighted-return"
    b.shot("52-glossary-at-an-entry")


def test_an_open_explanation_stays_open_while_the_dashboard_refreshes(
    browser_page, contest, monkeypatch
):
    monkeypatch.setattr(portfolio_views, "LIVE_SECONDS", 1)
    b = browser_page
    page = b.page
    log_in(b, LAPTOP)

    page.evaluate(
        "document.body.addEventListener('htmx:afterSettle',"
        " () => { window.__swaps = (window.__swaps || 0) + 1; })"
    )
    page.locator("#explain-live-total-return summary").click()
    page.wait_for_function("() => window.__swaps >= 2", timeout=15000)  # two refreshes swapped in
    assert page.evaluate("document.querySelector('#explain-live-total-return').open")
    assert page.locator("#explain-live-total-return .explain-body").is_visible()


def test_the_words_fit_a_phone(browser_page, contest):
    b = browser_page
    page = b.page
    log_in(b, PHONE)

    page.locator("#explain-live-time-weighted-return summary").click()
    b.shot("53-phone-dashboard-explained")

    b.goto("/portfolio/leaderboard/")
    assert "Why this measure?" in page.inner_text("#ranked-by")
    header = page.inner_text("#leaderboard thead")
    assert "Time-weighted return" in header and "Total return" in header
    b.shot("54-phone-leaderboard")
    box = "document.querySelector('#leaderboard').closest('.table-responsive')"
    assert page.evaluate(f"{box}.scrollWidth <= {box}.clientWidth")  # no sideways scrolling
    # On a phone the table's headings are out of sight (each row is a card); the words
    # are explained in the line above it.
    page.locator("#your-rank details.explain summary").click()
    # explain.js moves an opened box inside the window on its toggle event, just after.
    page.wait_for_function(f"() => {NO_SIDEWAYS_SCROLL}", timeout=5000)
    b.shot("55-phone-leaderboard-explained")

    b.goto("/glossary/")
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    b.shot("56-phone-glossary")

    b.goto("/prices/AAPL/")
    page.locator("#order-ticket details.explain summary").first.click()
    page.wait_for_function(f"() => {NO_SIDEWAYS_SCROLL}", timeout=5000)
    b.shot("57-phone-quote-explained")

    b.goto("/classes/rules/")
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    b.shot("58-phone-class-rules")


def test_the_words_on_a_laptop(browser_page, contest):
    b = browser_page
    page = b.page
    log_in(b, LAPTOP)
    for path, name in [
        ("/portfolio/leaderboard/", "60-leaderboard"),
        ("/glossary/", "61-glossary"),
        ("/prices/", "62-market"),
        ("/trading/buy/?symbol=AAPL", "63-buy"),
        ("/ledger/", "64-journal"),
        ("/classes/rules/", "65-class-rules"),
    ]:
        b.goto(path)
        b.shot(name)
    b.goto("/ledger/")
    page.locator("#explain-journal-net-contributions summary").click()
    b.shot("66-journal-explained")
