"""Times in the browser: charts named by the trading sessions they cover, axis labels
that never repeat, and every page naming the site's time zone. Screenshots at 1280 and
390 px (test-artifacts/screenshots/)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from prices.services import advance_market, load_market
from prices.simulation import new_rng
from tests.e2e.conftest import SCREENSHOTS
from tests.factories import StudentFactory
from trading import services as trading

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Quartz-Lantern-Harbor-2026"

# Every label the chart draws on its time axis (a tick whose label is null is not drawn).
DRAWN_LABELS = """(id) => Chart.getChart(id).scales.x.ticks
    .map((tick) => tick.label)
    .filter((label) => label !== null && label !== undefined && label !== "")"""


@pytest.fixture
def sessions(settings):
    """Six trading sessions on six days, eight ticks of 20 seconds each (the ticker ran a
    few minutes a day), the last one now; in it, two ticks in the same second."""
    settings.TIME_ZONE = "Europe/Paris"
    settings.SNAPSHOT_EVERY_TICKS = 1
    now = timezone.now().replace(microsecond=0)
    load_market(now=now - timedelta(days=6))
    rng = new_rng(11)
    for day in range(5, 0, -1):
        opened = now - timedelta(days=day, minutes=3)
        for i in range(8):
            advance_market(rng=rng, dt=1 / 8, now=opened + timedelta(seconds=20 * i))
    return rng, now


def current_session(rng, now):
    """The sixth session: six ticks, the last two in one second."""
    opened = now - timedelta(seconds=100)
    for moment in [opened + timedelta(seconds=20 * i) for i in range(5)] + [
        opened + timedelta(seconds=80, milliseconds=400)
    ]:
        advance_market(rng=rng, dt=1 / 8, now=moment)


def drawn(page, canvas: str) -> list[str]:
    page.wait_for_function(f"() => window.Chart && Chart.getChart('{canvas}')")
    return page.evaluate(DRAWN_LABELS, canvas)


def test_the_quote_chart_names_sessions_and_never_repeats_a_label(browser_page, sessions):
    rng, now = sessions
    current_session(rng, now)
    b, page = browser_page, browser_page.page

    b.goto("/prices/AAPL/")
    labels = drawn(page, "price-chart")
    # Six ticks, two in the same second: their label is drawn once (the callback leaves
    # out a tick that repeats the one before it).
    data_labels = page.evaluate("Chart.getChart('price-chart').data.labels")
    assert len(data_labels) == 6 and len(set(data_labels)) == 5
    assert len(labels) == 5
    assert len(set(labels)) == len(labels), labels
    assert all(len(label) == 8 for label in labels), labels  # 14:05:20: seconds, no day
    assert page.inner_text("#chart-span").startswith("This session: from ")
    assert "Times are in the Europe/Paris time zone" in page.inner_text("footer")
    assert page.inner_text("[data-quote='timestamp']").endswith(("CET", "CEST"))
    b.shot("time-01-quote-this-session")

    page.get_by_role("link", name="Last 5 sessions").click()
    page.wait_for_url("**/prices/AAPL/?range=5sessions")
    labels = drawn(page, "price-chart")
    assert 2 <= len(labels) <= 8
    assert len(set(labels)) == len(labels), labels
    assert all(label[:3] in {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"} for label in labels)
    b.shot("time-02-quote-5-sessions")

    page.set_viewport_size({"width": 390, "height": 844})
    b.goto("/prices/AAPL/?range=1950")  # an old link: "5 days"
    labels = drawn(page, "price-chart")
    assert len(set(labels)) == len(labels), labels
    assert page.inner_text("#chart-span").startswith("Last 5 sessions: from ")
    width = "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    assert page.evaluate(width)
    b.shot("time-03-phone-quote-5-sessions")
    card = page.locator("#price-chart").locator("xpath=ancestor::div[contains(@class,'card')][1]")
    card.screenshot(path=str(SCREENSHOTS / "time-03b-phone-quote-chart-card.png"))


def test_the_dashboard_chart_names_its_span_and_never_repeats_a_label(browser_page, sessions):
    rng, now = sessions
    maya = StudentFactory(username="maya", password=PASSWORD)
    trading.buy(user=maya, symbol="AAPL", quantity=10)
    current_session(rng, now)
    b, page = browser_page, browser_page.page

    b.goto("/accounts/login/")
    page.fill("#id_username", "maya")
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/portfolio/")
    labels = drawn(page, "performance-chart")
    assert len(set(labels)) == len(labels), labels
    assert page.inner_text("#performance-summary").startswith("This session, since ")
    assert page.inner_text("#as-of").endswith(("CET", "CEST"))
    b.shot("time-04-dashboard")
    page.set_viewport_size({"width": 390, "height": 844})
    b.goto("/portfolio/")
    labels = drawn(page, "performance-chart")
    assert len(set(labels)) == len(labels), labels
    b.shot("time-05-phone-dashboard")
    card = page.locator("section[aria-labelledby='performance-heading']")
    card.screenshot(path=str(SCREENSHOTS / "time-05b-phone-performance-card.png"))

    for path in ("/trading/", "/trading/orders/", "/ledger/", "/portfolio/leaderboard/"):
        b.goto(path)
        assert "Times are in the Europe/Paris time zone" in page.inner_text("footer")
    b.shot("time-06-phone-journal")
