"""The quote page's chart in a real browser: Chart.js draws from the json_script data under
the Content-Security-Policy, with no script error."""

import shutil
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from prices.models import PriceHistory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def aapl_history(market):
    start = timezone.now() - timedelta(minutes=30)
    PriceHistory.objects.bulk_create(
        PriceHistory(
            stock_id="AAPL", price=Decimal(260 + i % 7), timestamp=start + timedelta(minutes=i)
        )
        for i in range(30)
    )


@pytest.fixture
def page(live_server):
    """A Chromium page. Set up data before asking for it: while Playwright's event loop
    runs, the ORM would open a second, context-local connection that outlives the test."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM:
        pytest.skip("needs Chromium (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            yield browser.new_page()
        finally:
            browser.close()


def test_the_quote_chart_draws_without_script_errors(aapl_history, page, live_server):
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

    page.goto(f"{live_server.url}/prices/AAPL/")
    page.wait_for_function("() => window.Chart && Chart.getChart('price-chart')")

    points = page.evaluate("() => Chart.getChart('price-chart').data.datasets[0].data.length")
    assert points == 30
    assert errors == []
