"""The order ticket's estimate in a real browser: it charges the student's class commission
the way the server does, before the order is sent, and the order then costs exactly that."""

from decimal import Decimal

import pytest

from ledger.models import Balance
from tests.factories import ClassroomFactory, PriceFactory, StudentFactory
from trading.models import Trade

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Quartz-Lantern-Harbor-2026"


def log_in(b, username):
    b.goto("/accounts/login/")
    b.page.fill("#id_username", username)
    b.page.fill("#id_password", PASSWORD)
    b.page.get_by_role("button", name="Log in").click()
    b.page.wait_for_url("**/portfolio/")


def shown(page, selector) -> str:
    return page.inner_text(f"main {selector}").strip()


def test_the_quote_ticket_estimates_a_percent_commission_with_its_minimum(browser_page):
    PriceFactory(symbol="AAPL", name="Apple Inc.", price=Decimal("189.12"))
    room = ClassroomFactory(
        commission_kind="percent",
        commission_amount=Decimal("0.5"),
        commission_minimum=Decimal("1.00"),
    )
    StudentFactory(username="nia", classroom=room, password=PASSWORD)
    b = browser_page
    page = b.page
    log_in(b, "nia")

    b.goto("/prices/AAPL/")
    assert "0.5 % of the order's value, at least $1.00" in page.inner_text("#order-ticket")

    page.fill("#ticket-quantity", "1")  # 0.5 % of $189.12 is $0.95: the minimum applies
    assert shown(page, "[data-commission-estimate]") == "$1.00"
    page.fill("#ticket-quantity", "10")  # 0.5 % of $1,891.20 is $9.456: $9.46
    assert shown(page, "[data-estimate]") == "$1,891.20"
    assert shown(page, "[data-commission-estimate]") == "$9.46"
    b.shot("40-ticket-commission")

    page.locator("#order-ticket").get_by_role("button", name="Buy").click()
    page.wait_for_load_state("networkidle")
    assert "plus $9.46 commission" in page.inner_text(".messages")
    trade = Trade.objects.get(user__username="nia")
    assert trade.commission == Decimal("9.46")
    assert Balance.objects.get(user__username="nia").amount == Decimal("8099.34")


def test_max_affordable_leaves_room_for_a_per_share_commission(browser_page):
    PriceFactory(symbol="ACME", name="Acme Corp", price=Decimal("9.99"))
    room = ClassroomFactory(
        starting_cash=Decimal("1000.00"),
        commission_kind="per_share",
        commission_amount=Decimal("0.01"),
    )
    StudentFactory(username="nia", classroom=room, password=PASSWORD)
    b = browser_page
    page = b.page
    log_in(b, "nia")

    b.goto("/trading/buy/?symbol=ACME")
    page.get_by_role("button", name="Max affordable").click()

    # 100 shares cost $999.00 + $1.00 = $1,000.00: all the cash; 101 would not fit.
    assert page.input_value("#id_quantity") == "100"
    assert shown(page, "[data-commission-estimate]") == "$1.00"
    assert shown(page, "[data-cash-after]") == "$0.00"
    page.locator("main form[method=post] button[type=submit]").click()
    page.wait_for_load_state("networkidle")
    assert "Bought 100 ACME" in page.inner_text(".messages")
    assert Balance.objects.get(user__username="nia").amount == Decimal("0.00")
