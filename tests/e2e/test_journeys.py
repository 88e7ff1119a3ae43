"""A student's and an instructor's journeys in a real browser, with a screenshot of every
page (test-artifacts/screenshots/). The pages' scripts run under the site's
Content-Security-Policy; any console error, script error, CSP violation or missing static
file fails the test (see conftest.Watched)."""

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from ledger.models import Balance, Transaction
from portfolio.models import Holding
from prices.services import advance_market, load_market
from prices.simulation import new_rng
from trading.models import Trade

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Quartz-Lantern-Harbor-2026"


@pytest.fixture
def market(db):
    """The sample market with the last two hours of history, a tick a minute, so the charts
    have something to draw."""
    start = timezone.now() - timedelta(minutes=120)
    load_market(now=start - timedelta(minutes=1))
    rng = new_rng(7)
    for minute in range(120):
        advance_market(rng=rng, now=start + timedelta(minutes=minute))
    return rng


def tick_on(rng, ticks: int):
    """The market moves on while the student watches (portfolios are recorded every
    SNAPSHOT_EVERY_TICKS ticks, so the dashboard's performance chart fills in)."""
    now = timezone.now()
    for n in range(ticks):
        advance_market(rng=rng, now=now + timedelta(seconds=n))


def test_a_student_signs_up_deposits_trades_and_exports(browser_page, market):
    b = browser_page
    page = b.page

    # The landing page, and signing up from it.
    b.goto("/")
    b.assert_styled()
    b.shot("01-home")
    page.get_by_role("link", name="Sign up").first.click()
    page.fill("#id_username", "maya")
    page.fill("#id_email", "maya@school.example")
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    b.shot("02-register")
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/portfolio/")
    assert "Welcome to TradeSim, maya!" in page.inner_text(".messages")
    b.shot("03-dashboard-new")

    # A deposit, from the cash journal.
    page.get_by_role("link", name="Cash", exact=True).click()
    page.get_by_role("link", name="Deposit", exact=True).click()
    page.fill("#id_amount", "2500")
    page.fill("#id_description", "Birthday money")
    b.shot("04-deposit")
    page.get_by_role("button", name="Deposit").click()
    page.wait_for_url("**/ledger/")
    assert "Deposited $2,500.00" in page.inner_text(".messages")
    b.shot("05-journal")
    assert Balance.objects.get(user__username="maya").amount == Decimal("12500.00")

    # Finding a stock: the market overview, then a search that goes to the quote.
    page.get_by_role("link", name="Market", exact=True).click()
    page.wait_for_load_state("networkidle")
    b.shot("06-market")
    page.fill("#market-search", "aapl")
    page.press("#market-search", "Enter")
    page.wait_for_url("**/prices/AAPL/")
    page.wait_for_function("() => window.Chart && Chart.getChart('price-chart')")
    b.shot("07-quote")

    # Buying from the quote page's order ticket.
    page.fill("#ticket-quantity", "10")
    page.wait_for_function(
        "() => document.querySelector('[data-estimate]').textContent.includes('$')"
    )
    page.locator("#order-ticket").get_by_role("button", name="Buy").click()
    page.wait_for_load_state("networkidle")
    assert "Bought 10 AAPL" in page.inner_text(".messages")
    b.shot("08-bought")
    bought = Trade.objects.get(user__username="maya", operation="buy")
    assert (bought.stock_id, bought.quantity) == ("AAPL", 10)

    # The dashboard shows the position, and, once the market moved on, the performance.
    tick_on(market, 45)
    page.get_by_role("link", name="Portfolio", exact=True).click()
    page.wait_for_url("**/portfolio/")
    assert "AAPL" in page.inner_text("main")
    b.shot("09-dashboard")

    # Selling part of it from the sell page.
    b.goto("/trading/sell/?symbol=AAPL")
    page.fill("#id_quantity", "4")
    b.shot("10-sell")
    page.locator("main form[method=post] button[type=submit]").click()
    page.wait_for_load_state("networkidle")
    assert "Sold 4 AAPL" in page.inner_text(".messages")
    assert Holding.objects.get(user__username="maya", stock_id="AAPL").quantity == 6

    # The trade history, and its CSV export.
    b.goto("/trading/")
    b.shot("11-history")
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("CSV")).click()
    exported = Path(download.value.path()).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert sorted((r["Side"], r["Symbol"], r["Quantity"]) for r in rows) == [
        ("Buy", "AAPL", "10"),
        ("Sell", "AAPL", "4"),
    ]
    b.assert_styled()


def test_an_instructor_grants_cash_from_the_admin(browser_page, market):
    from accounts.services import create_instructor
    from tests.factories import ClassroomFactory, StudentFactory

    rivera = create_instructor(
        username="ms-rivera", email="rivera@school.example", password=PASSWORD
    )
    period = ClassroomFactory(name="Period 1")
    period.owners.add(rivera)  # an instructor sees the students of their own classes
    maya = StudentFactory(username="maya", email="maya@school.example", classroom=period)
    b = browser_page
    page = b.page

    b.goto("/admin/")
    page.fill("#id_username", "ms-rivera")
    page.fill("#id_password", PASSWORD)
    b.shot("20-admin-login")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/admin/")
    b.shot("21-admin-index")

    b.goto("/admin/accounts/user/")
    b.shot("22-admin-students")
    page.check(f"input[name=_selected_action][value='{maya.pk}']")
    page.select_option("select[name=action]", "grant_cash_action")
    page.get_by_role("button", name="Run").or_(page.locator("button[name=index]")).first.click()
    page.wait_for_url("**/grant-cash/**")
    page.fill("#id_amount", "500")
    page.fill("#id_reason", "Science fair prize")
    b.shot("23-admin-grant")
    page.locator("input[type=submit][value='Grant cash']").click()
    page.wait_for_load_state("networkidle")
    assert "Granted $500.00 to maya" in page.inner_text("#content-start, body")
    b.shot("24-admin-granted")

    grant = Transaction.objects.get(user=maya, type="grant")
    assert grant.amount == Decimal("500.00")
    assert grant.created_by.username == "ms-rivera"
    assert Balance.objects.get(user=maya).amount == Decimal("10500.00")


def test_on_a_shared_phone_log_out_is_one_tap_and_back_shows_nothing(browser_page, market):
    from tests.factories import StudentFactory

    StudentFactory(username="maya", email="maya@school.example", password=PASSWORD)
    b = browser_page
    page = b.page
    page.set_viewport_size({"width": 390, "height": 844})

    b.goto("/accounts/login/")
    page.fill("#id_username", "maya")
    page.fill("#id_password", PASSWORD)
    assert not page.is_checked("#id_remember")  # a shared computer is the default
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/portfolio/")
    assert page.is_hidden("#nav")  # the menu is folded away at this width

    page.get_by_role("button", name="Log out").click()  # one tap, menu still folded
    page.wait_for_url(b.base_url + "/")
    b.shot("30-phone-logged-out")
    assert "You are logged out." in page.inner_text("main")

    page.go_back()  # the dashboard was not stored: the browser asks again, and is refused
    page.wait_for_load_state()
    assert "/accounts/login/" in page.url
    assert "$10,000.00" not in page.content()


def test_a_student_follows_their_contest_on_a_phone(browser_page, market):
    """The class card on the dashboard, the rules page and a leaderboard with hidden names,
    at phone width: no sideways scrolling, nothing blocked by the Content-Security-Policy."""
    from tests.factories import ClassroomFactory, StudentFactory

    period = ClassroomFactory(
        name="Period 1",
        starts_at=timezone.now() - timedelta(days=2),
        # The last minute of the twelfth calendar day from today: "Ends in 12 days" at any
        # time of day (pages count calendar days in TIME_ZONE).
        ends_at=timezone.localtime().replace(hour=23, minute=59, second=0, microsecond=0)
        + timedelta(days=12),
        ranking="total_return",
        min_trades_to_rank=1,
        names_shown=False,
    )
    maya = StudentFactory(username="maya", password=PASSWORD, classroom=period)
    for i in range(12):
        StudentFactory(username=f"classmate{i:02d}", classroom=period)
    b = browser_page
    page = b.page
    page.set_viewport_size({"width": 390, "height": 844})
    b.goto("/accounts/login/")
    page.fill("#id_username", "maya")
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/portfolio/")

    assert "Period 1 · Ends in 12 days" in page.inner_text("#contest")
    b.shot("40-phone-dashboard-class")
    page.locator("#contest").get_by_role("link", name="Rules").click()
    page.wait_for_load_state("networkidle")
    assert "At least 1 trade of your own." in page.inner_text("#rules")
    assert "You need 1 more trade to be ranked." in page.inner_text("#standing")
    b.shot("41-phone-class-rules")
    b.goto("/portfolio/leaderboard/")
    table = page.inner_text("#leaderboard")
    assert "maya" in table and "classmate" not in table
    box = "document.querySelector('#leaderboard').closest('.table-responsive')"
    assert page.evaluate(f"{box}.scrollWidth <= {box}.clientWidth")  # no sideways scrolling
    b.shot("42-phone-class-leaderboard")
    assert maya.pk


def test_the_watch_catches_inline_script_and_missing_files(browser_page):
    """The checks above can fail: an injected inline script is blocked by the site's
    Content-Security-Policy and reported, and so is a file that is not there."""
    b = browser_page
    b.goto("/")
    b.page.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "window.injected = true";
            document.body.appendChild(script);
            const img = document.createElement("img");
            img.src = "/static/img/missing.png";
            document.body.appendChild(img);
        }"""
    )
    b.page.wait_for_load_state("networkidle")

    def reported(check):
        # The violation event reaches the test through an exposed function, asynchronously.
        for _ in range(200):
            if any(check(p) for p in b.problems):
                return True
            b.page.wait_for_timeout(25)
        return False

    assert b.page.evaluate("window.injected === undefined")
    assert reported(lambda p: p.startswith("CSP: script-src")), b.problems
    assert reported(lambda p: "404 for" in p and "missing.png" in p), b.problems
    b.problems.clear()
