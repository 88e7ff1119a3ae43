"""The order ticket in a real browser: its estimate charges the student's class commission
the way the server does, before the order is sent, and the order then costs exactly that;
each order type shows only the fields it needs, and the plain-words preview says what the
server's describe_order says."""

from decimal import Decimal

import pytest

from ledger.models import Balance
from tests.factories import ClassroomFactory, PriceFactory, StudentFactory
from trading.models import Order, Trade
from trading.services import buy, describe_order, order_request

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


# Order types ----------------------------------------------------------------------------

# Each type's boxes (data-order-field), as trading.forms.TYPE_FIELDS says; "trail" holds
# the trail in percent or in dollars.
FIELDS = {
    "market": set(),
    "limit": {"limit_price", "duration"},
    "stop": {"stop_price", "duration"},
    "stop_limit": {"stop_price", "limit_price", "duration"},
    "trailing_stop": {"trail", "duration"},
}


@pytest.fixture
def holder(db):
    """nia, with 20 AAPL at $189.12 (cash $6,217.60)."""
    PriceFactory(symbol="AAPL", name="Apple Inc.", price=Decimal("189.12"))
    nia = StudentFactory(username="nia", password=PASSWORD)
    buy(user=nia, symbol="AAPL", quantity=20)
    return nia


def shown_fields(page) -> set[str]:
    return set(
        page.evaluate(
            """() => [...document.querySelectorAll("main [data-order-field]")]
                 .filter((box) => !box.hidden).map((box) => box.dataset.orderField)"""
        )
    )


def sent_fields(page) -> set[str]:
    """The ticket's inputs a submit would send (not disabled), other than the fixed ones."""
    return set(
        page.evaluate(
            """() => [...new FormData(
                 document.querySelector("main form[data-order-ticket]")).keys()]"""
        )
    ) - {"csrfmiddlewaretoken", "symbol", "side", "quantity", "token", "next", "type"}


@pytest.mark.parametrize("path", ["/prices/AAPL/", "/trading/buy/?symbol=AAPL"])
def test_each_type_shows_only_its_fields_and_says_the_order_in_words(browser_page, holder, path):
    b = browser_page
    page = b.page
    log_in(b, "nia")
    b.goto(path)
    form = "main form[data-order-ticket]"
    preview = page.locator(f"{form} [data-order-preview]")
    page.fill(f"{form} input[name=quantity]", "10")

    # Market: no price, no duration, and nothing else sent.
    assert shown_fields(page) == set()
    assert sent_fields(page) == set()
    assert preview.inner_text() == "Buy 10 AAPL now, at the market price"
    assert page.locator(f"{form} [data-submit]").inner_text().strip() == "Buy"

    for kind, wanted in FIELDS.items():
        page.select_option(f"{form} select[name=type]", kind)
        assert shown_fields(page) == wanted, kind
        hints = page.locator(f"{form} [data-type-hint]")
        assert [h.get_attribute("data-type-hint") for h in hints.all() if h.is_visible()] == [kind]
        # The "used by" notes are for pages without the script.
        assert not page.locator(f"{form} [data-field-uses]").first.is_visible()

    page.select_option(f"{form} select[name=type]", "limit")
    assert preview.inner_text() == "Enter a limit price to see it in words."
    page.fill(f"{form} input[name=limit_price]", "180")
    assert preview.inner_text() == (
        "Buy 10 AAPL if the price falls to $180.00 or less; good for today"
    )
    assert sent_fields(page) == {"limit_price", "duration"}
    assert page.locator(f"{form} [data-submit]").inner_text().strip() == "Place buy order"
    assert shown(page, "form[data-order-ticket] [data-hold-estimate]") == "$1,800.00"

    # A trailing stop: a trail in percent, or, by the toggle, in dollars; only one is sent.
    page.select_option(f"{form} select[name=type]", "trailing_stop")
    page.fill(f"{form} input[name=trail_percent]", "5")
    assert sent_fields(page) == {"trail_percent", "duration"}
    page.locator(f"{form} [data-trail-unit=amount]").click()
    assert page.locator(f"{form} [data-trail-unit=amount]").get_attribute("aria-pressed") == "true"
    assert not page.locator(f"{form} input[name=trail_percent]").is_visible()
    page.fill(f"{form} input[name=trail_amount]", "2.5")
    assert sent_fields(page) == {"trail_amount", "duration"}
    page.select_option(f"{form} select[name=duration]", "gtc")
    assert preview.inner_text() == (
        "Buy 10 AAPL at the market price once it rises $2.50 above its lowest point; good "
        "until cancelled (up to 90 trading days)"
    )
    assert page.locator(f"{form} [data-order-preview-box]").get_attribute("aria-live") == "polite"


# Orders the preview is compared on with the server's words (trading.services.describe_order).
EXAMPLES = [
    {"side": "buy", "type": "market", "quantity": "10"},
    {"side": "buy", "type": "limit", "quantity": "10", "limit_price": "180"},
    {"side": "sell", "type": "limit", "quantity": "1250", "limit_price": "1,234.5"},
    {"side": "buy", "type": "stop", "quantity": "5", "stop_price": "$200", "duration": "gtc"},
    {"side": "sell", "type": "stop", "quantity": "3", "stop_price": "150.05"},
    {
        "side": "buy",
        "type": "stop_limit",
        "quantity": "2",
        "stop_price": "200",
        "limit_price": "205.5",
    },
    {
        "side": "sell",
        "type": "stop_limit",
        "quantity": "7",
        "stop_price": "170",
        "limit_price": "165",
        "duration": "gtc",
    },
    {"side": "sell", "type": "trailing_stop", "quantity": "4", "trail_percent": "7.50"},
    {"side": "buy", "type": "trailing_stop", "quantity": "4", "trail_percent": "10"},
    {"side": "sell", "type": "trailing_stop", "quantity": "1", "trail_amount": "2.5"},
    {"side": "buy", "type": "trailing_stop", "quantity": "1", "trail_percent": "0.25"},
]


def test_the_preview_says_what_the_server_says(browser_page, holder):
    b = browser_page
    page = b.page
    log_in(b, "nia")
    b.goto("/prices/AAPL/")
    form = "#order-ticket form"

    for example in EXAMPLES:
        page.select_option(f"{form} select[name=side]", example["side"])
        page.select_option(f"{form} select[name=type]", example["type"])
        if "trail_amount" in example:
            page.locator(f"{form} [data-trail-unit=amount]").click()
        elif example["type"] == "trailing_stop":
            page.locator(f"{form} [data-trail-unit=percent]").click()
        for name in ("quantity", "limit_price", "stop_price", "trail_percent", "trail_amount"):
            box = page.locator(f"{form} input[name={name}]")
            if box.is_visible():
                box.fill(example.get(name, ""))
        if page.locator(f"{form} select[name=duration]").is_visible():
            page.select_option(f"{form} select[name=duration]", example.get("duration", "day"))

        server = describe_order(order_request(symbol="AAPL", **example))
        assert page.locator(f"{form} [data-order-preview]").inner_text() == server, example


def test_a_limit_order_from_the_quote_page_is_placed_and_held(browser_page, holder):
    b = browser_page
    page = b.page
    log_in(b, "nia")
    b.goto("/prices/AAPL/")
    form = "#order-ticket form"

    page.select_option(f"{form} select[name=type]", "limit")
    page.fill("#ticket-quantity", "10")
    page.fill("#ticket-limit_price", "180")
    assert shown(page, "#order-ticket [data-estimate]") == "$1,800.00"
    b.shot("41-ticket-limit")
    page.locator("#order-ticket").get_by_role("button", name="Place buy order").click()
    page.wait_for_url("**/prices/AAPL/")
    page.wait_for_load_state("networkidle")

    assert page.inner_text(".messages").startswith(
        "Order placed: Buy 10 AAPL if the price falls to $180.00 or less; good for today. "
        "$1,800.00 is held for it."
    )
    order = Order.objects.get(user=holder, type="limit")
    assert (order.status, order.held_cash) == ("open", Decimal("1800.00"))
    # The ticket now counts only the cash the order does not hold.
    assert "$4,417.60" in page.inner_text("#order-ticket")
    b.shot("42-ticket-limit-placed")

    # The news leads to the student's orders, where it waits.
    page.locator(".messages").get_by_role("link", name="See your orders").click()
    page.wait_for_url("**/trading/orders/")
    assert "if the price falls to $180.00 or less" in page.inner_text("main")


def test_a_stop_limit_sell_from_the_sell_page_holds_the_shares(browser_page, holder):
    b = browser_page
    page = b.page
    log_in(b, "nia")
    b.goto("/trading/sell/?symbol=AAPL")

    page.select_option("#id_type", "stop_limit")
    page.fill("#id_quantity", "5")
    page.fill("#id_stop_price", "170")
    page.fill("#id_limit_price", "165")
    page.select_option("#id_duration", "gtc")
    page.locator("main form[method=post] button[type=submit]").click()
    page.wait_for_load_state("networkidle")

    assert (
        "Order placed: Sell 5 AAPL once the price falls to $170.00, for at least $165.00 a "
        "share; good until cancelled (up to 90 trading days). Your 5 AAPL shares are held "
        "for it." in page.inner_text(".messages")
    )
    order = Order.objects.get(user=holder, type="stop_limit")
    assert (order.held_shares, order.duration) == (5, "gtc")


def test_a_refused_order_comes_back_with_its_fields_and_its_preview(browser_page, holder):
    b = browser_page
    page = b.page
    log_in(b, "nia")
    b.goto("/trading/buy/?symbol=AAPL")

    page.select_option("#id_type", "stop")
    page.fill("#id_quantity", "2")
    page.fill("#id_stop_price", "150")  # below the price: a buy stop would go off at once
    page.locator("main form[method=post] button[type=submit]").click()
    page.wait_for_load_state("networkidle")

    assert page.url.endswith("/trading/orders/new/")
    assert "would go off at once" in page.inner_text("#id_stop_price_error")
    assert shown_fields(page) == {"stop_price", "duration"}
    assert page.input_value("#id_stop_price") == "150"
    assert "Buy 2 AAPL at the market price once it rises to $150.00" in page.inner_text(
        "main [data-order-preview]"
    )
    assert not Order.objects.filter(user=holder, type="stop").exists()
    # Chromium logs the refused order's page (a 400) as a console error: it is the point.
    b.problems = [p for p in b.problems if "status of 400" not in p]


def test_without_a_script_every_field_shows_and_an_order_still_goes_through(
    browser_page, live_server, holder
):
    b = browser_page
    log_in(b, "nia")
    context = b.page.context.browser.new_context(
        java_script_enabled=False,
        viewport={"width": 1280, "height": 900},
        storage_state=b.page.context.storage_state(),
    )
    try:
        page = context.new_page()
        page.goto(live_server.url + "/prices/AAPL/")
        for name in ("limit_price", "stop_price", "trail_percent", "trail_amount", "duration"):
            assert page.locator(f"#ticket-{name}").is_visible(), name
        assert page.locator("#order-ticket [data-field-uses]").first.is_visible()
        assert not page.locator("#order-ticket [data-order-preview-box]").is_visible()

        page.select_option("#ticket-side", "sell")
        page.select_option("#ticket-type", "trailing_stop")
        page.fill("#ticket-quantity", "3")
        page.fill("#ticket-trail_percent", "8")
        page.fill("#ticket-limit_price", "999")  # left over: a trailing stop does not use it
        page.locator("#order-ticket").get_by_role("button", name="Place order").click()
        page.wait_for_load_state("networkidle")

        assert "Sell 3 AAPL at the market price once it falls 8 % below" in page.inner_text(
            ".messages"
        )
    finally:
        context.close()
    order = Order.objects.get(user=holder, type="trailing_stop")
    assert (order.trail_percent, order.limit_price, order.held_shares) == (Decimal("8"), None, 3)
