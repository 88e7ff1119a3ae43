"""The market's news in a real browser: the news page (every headline, its filters, a bad
filter, an unknown symbol) and the news boxes of the market and quote pages read well at
a laptop's and a phone's width, scroll nowhere sideways, pass axe, and are photographed to
test-artifacts/screenshots/news/ to be looked at."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.test_accessibility import BEST_PRACTICE, WCAG_TAGS, axe_violations
from tests.factories import PriceFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def news(db):
    """A market with a headline of every kind, the longest words a headline takes, and
    enough of them for a second page."""
    from prices.models import Headline, MarketState
    from prices.selectors import NEWS_PAGE_SIZE

    for symbol, name, sector in [
        ("ACME", "Acme Corp", "Industrials"),
        ("GLOBX", "Globex Corporation", "Technology"),
        ("XOM", "Exxon Mobil Corporation", "Energy"),
    ]:
        PriceFactory(symbol=symbol, name=name, sector=sector, price=Decimal("100.00"))
    MarketState.objects.update_or_create(id=1, defaults={"trading_day": 33})
    now = timezone.now()
    rows = [
        ("jump", "ACME", "Industrials", "ACME soars 9.1\u00a0% in heavy trading", "9.12"),
        ("earnings", "GLOBX", "Technology", "GLOBX beats estimates; shares up 7\u00a0%", "7"),
        ("dividend", "XOM", "Energy", "XOM goes ex-dividend: $0.99 a share", "-0.85"),
        ("split", "GLOBX", "Technology", "GLOBX announces a 2-for-1 split on day 39", None),
        ("market", None, "", "Stocks drop across the board: the market falls 8.4\u00a0%", "-8.4"),
        (
            "event",
            None,
            "Energy",
            "Energy stocks plunge 40\u00a0%: Oil tanker spill in the Gulf closes every "
            "refinery on the coast for the rest of the simulated quarter",
            "-40",
        ),
    ]
    filler = [
        ("jump", "ACME", "Industrials", f"ACME sinks 8.{i}\u00a0% in a wave of selling", "-8")
        for i in range(NEWS_PAGE_SIZE)
    ]
    Headline.objects.bulk_create(
        Headline(
            kind=kind,
            stock_id=symbol,
            sector=sector,
            text=text,
            percent=Decimal(percent) if percent else None,
            day=34 if i < len(rows) else 33,
            published_at=now - timedelta(minutes=i),
        )
        for i, (kind, symbol, sector, text, percent) in enumerate(rows + filler)
    )


def save(b, name: str) -> None:
    b.page.wait_for_load_state("networkidle")
    folder = SCREENSHOTS / "news"
    folder.mkdir(parents=True, exist_ok=True)
    b.page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_the_news_pages_read_well_and_pass_axe(browser_page, news, width):
    b = browser_page
    page = b.page
    page.set_viewport_size(DESKTOP if width == "desktop" else PHONE)

    for name, path, status, ready in [
        ("news", "/prices/news/", 200, "#news-list"),
        ("news-page-2", "/prices/news/?page=2", 200, "#news-list"),
        ("news-filtered", "/prices/news/?kind=split&symbol=globx", 200, "#news-list"),
        ("news-bad-filter", "/prices/news/?kind=gossip", 400, "[data-error-summary]"),
        ("news-unknown-symbol", "/prices/news/?symbol=NOPE", 404, "#news-unknown-symbol"),
        ("market-news", "/prices/", 200, ".market-news"),
        ("quote-news", "/prices/XOM/", 200, ".market-news"),
    ]:
        response = b.goto(path)
        assert response.status == status, path
        page.wait_for_selector(ready)
        assert page.evaluate("document.documentElement.scrollWidth <= innerWidth + 1"), path
        save(b, f"{name}-{width}")
        assert axe_violations(b, WCAG_TAGS + [BEST_PRACTICE]) == [], name
    b.problems = [p for p in b.problems if "status of 40" not in p]  # the 400 and 404 above


def test_a_student_filters_the_news_from_the_navigation(browser_page, news):
    b = browser_page
    page = b.page
    page.set_viewport_size(PHONE)
    b.goto("/prices/")
    page.get_by_role("button", name="Menu").click()
    # A click on a link still sliding in can land on nothing under a loaded machine.
    page.wait_for_selector("#nav.show:not(.collapsing)")
    with page.expect_navigation(url="**/prices/news/"):
        page.locator("#nav").get_by_role("link", name="News", exact=True).click()

    page.select_option("#id_kind", "earnings")
    page.fill("#id_symbol", "globx")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_load_state("networkidle")

    items = page.locator("#news-list li")
    assert items.count() == 1
    text = items.first.inner_text()
    assert "GLOBX beats estimates" in text and "Earnings" in text and "Day 34" in text
    assert page.input_value("#id_symbol") == "GLOBX"
    with page.expect_navigation(url="**/prices/GLOBX/"):
        items.first.get_by_role("link", name="GLOBX").click()
    assert "GLOBX announces a 2-for-1 split" in page.inner_text(".market-news")
