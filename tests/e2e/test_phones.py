"""Phones: at 320, 390 and 768 px no page scrolls sideways (WCAG 1.4.10, reflow), the data
tables keep their key numbers on screen, and the primary controls are big enough for a
thumb. The pages are filled the way a busy student's are: several holdings, a long
history, a full class with long names."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from api.services import create_token
from ledger.services import deposit, withdraw
from prices.services import advance_market, load_market
from prices.simulation import new_rng
from trading.services import (
    buy,
    cancel_order,
    expire_orders,
    order_request,
    place_order,
    sell,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Quartz-Lantern-Harbor-2026"
WIDTHS = (320, 390, 768)
LONG_NAME = "maximiliana-featherstonehaugh-wolfeschlegelstein"

# Which elements stick out past the right edge of the viewport, widest first: the page
# that scrolls sideways is told with the culprit, not just "too wide".
OVERFLOWING = """
() => {
  const width = window.innerWidth;
  const out = [];
  for (const el of document.body.querySelectorAll("*")) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.right <= width + 0.5) continue;
    // Contents of a box that scrolls by itself, or is clipped, do not widen the page;
    // but an absolutely positioned element escapes every box up to its positioned
    // ancestor (the visually hidden header that widened the dashboard did).
    let clipped = false;
    let escaping = ["absolute", "fixed"].includes(getComputedStyle(el).position);
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const style = getComputedStyle(p);
      if (escaping && style.position === "static") continue;
      if (style.overflowX !== "visible") { clipped = true; break; }
      escaping = ["absolute", "fixed"].includes(style.position);
    }
    if (clipped) continue;
    const name = el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
      + (el.className && typeof el.className === "string"
         ? "." + el.className.trim().split(/\\s+/).join(".") : "");
    out.push({name, right: Math.round(box.right),
              text: (el.innerText || el.value || "").trim().slice(0, 40)});
  }
  out.sort((a, b) => b.right - a.right);
  return out.slice(0, 5);
}
"""

# Scrolling boxes inside the page (a table's .table-responsive): a box a student must
# scroll sideways to read hides numbers just as a wide page does.
SCROLLING_BOXES = """
() => [...document.querySelectorAll("main *")]
  .filter(el => el.scrollWidth > el.clientWidth + 1
          && ["auto", "scroll"].includes(getComputedStyle(el).overflowX)
          && el.getBoundingClientRect().width > 0)
  .map(el => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
       + "." + (el.className || "").toString().trim().split(/\\s+/).join(".")
       + ` (${el.scrollWidth} in ${el.clientWidth})`)
"""


@pytest.fixture
def busy_class(db):
    """A class of 25 with long names, its instructor, and maya: seven holdings and a
    history that runs to more than one page."""
    from accounts.services import create_instructor
    from tests.factories import ClassroomFactory, StudentFactory

    start = timezone.now() - timedelta(minutes=90)
    load_market(now=start - timedelta(minutes=1))
    rng = new_rng(11)
    for minute in range(60):
        advance_market(rng=rng, now=start + timedelta(minutes=minute))

    rivera = create_instructor(
        username="ms-rivera", email="rivera@school.example", password=PASSWORD
    )
    period = ClassroomFactory(
        name="Period 3 — Introduction to Personal Finance and Investing",
        starts_at=timezone.now() - timedelta(days=2),
        ends_at=timezone.now() + timedelta(days=12),
        names_shown=True,
    )
    period.owners.add(rivera)
    maya = StudentFactory(username="maya", password=PASSWORD, classroom=period)
    for i in range(24):
        StudentFactory(username=f"{LONG_NAME}-{i:02d}", classroom=period)

    deposit(user=maya, amount=Decimal("25000.00"), description="Birthday money from grandma")
    symbols = ["AAPL", "MSFT", "AMZN", "GOOGL", "NVDA", "JPM", "XOM"]
    for round_ in range(4):
        for symbol in symbols:
            buy(user=maya, symbol=symbol, quantity=3 + round_)
        advance_market(rng=rng, now=timezone.now())
    for symbol in symbols[:4]:
        sell(user=maya, symbol=symbol, quantity=2)
    withdraw(user=maya, amount=Decimal("120.50"), description="Lunch money")
    create_token(user=maya, name="Momentum bot: the five biggest movers of each day")
    # Orders that wait (two limit buys, a trailing stop sell) and two that are over.
    place_waiting_orders(maya)
    for minute in range(5):
        advance_market(rng=rng, now=timezone.now() + timedelta(seconds=minute))
    return {"student": maya, "instructor": rivera, "classroom": period}


def place_waiting_orders(student):
    from prices.models import Price

    def limit_buy(symbol, duration="gtc"):
        price = Price.objects.get(symbol=symbol).price
        request = order_request(
            side="buy",
            type="limit",
            symbol=symbol,
            quantity=2,
            limit_price=str((price * Decimal("0.9")).quantize(Decimal("0.01"))),
            duration=duration,
        )
        return place_order(user=student, request=request)

    limit_buy("NVDA")
    limit_buy("XOM")
    trailing = order_request(
        side="sell",
        type="trailing_stop",
        symbol="AAPL",
        quantity=3,
        trail_amount="7.50",
        duration="gtc",
    )
    place_order(user=student, request=trailing)
    cancel_order(order_id=limit_buy("JPM").pk, user=student)
    expire_orders(day=limit_buy("GOOGL", duration="day").expires_day)


def log_in(b, username):
    b.goto("/accounts/login/")
    b.page.fill("#id_username", username)
    b.page.fill("#id_password", PASSWORD)
    b.page.get_by_role("button", name="Log in").click()
    b.page.wait_for_load_state("networkidle")


def reflow_problems(b, pages, widths=WIDTHS):
    """Open each page at each width; what scrolls sideways, named with its widest parts."""
    problems = []
    page = b.page
    for width in widths:
        page.set_viewport_size({"width": width, "height": 844})
        for name, path, *status in pages:
            response = b.goto(path)
            if status:  # an error page, on purpose: its status is not a problem
                assert response.status == status[0], (name, response.status)
                b.problems[:] = [p for p in b.problems if "Failed to load resource" not in p]
            b.shot(f"reflow-{width}-{name.replace(' ', '-').replace(',', '')}")
            wide = page.evaluate("document.documentElement.scrollWidth")
            inner = page.evaluate("window.innerWidth")
            if wide > inner:
                culprits = page.evaluate(OVERFLOWING)
                problems.append(
                    f"{name} ({path}) at {width} px is {wide} px wide; sticking out: "
                    + "; ".join(f"{c['name']} to {c['right']} px ({c['text']!r})" for c in culprits)
                )
            if not path.startswith("/admin/"):
                for box in page.evaluate(SCROLLING_BOXES):
                    problems.append(f"{name} ({path}) at {width} px scrolls inside {box}")
    return problems


STUDENT_PAGES = [
    ("dashboard", "/portfolio/"),
    ("leaderboard", "/portfolio/leaderboard/"),
    ("class rules", "/classes/rules/"),
    ("market", "/prices/"),
    ("market, filtered to nothing", "/prices/?q=zzzz"),
    ("quote", "/prices/AAPL/"),
    ("news", "/prices/news/"),
    ("news, bad filter", "/prices/news/?kind=gossip", 400),
    ("buy ticket", "/trading/buy/?symbol=AAPL"),
    ("sell ticket", "/trading/sell/?symbol=MSFT"),
    ("order ticket", "/trading/orders/new/?symbol=AAPL&type=stop_limit"),
    ("trade history", "/trading/"),
    ("trade history, bad filter", "/trading/?start=yesterday", 400),
    ("orders", "/trading/orders/"),
    ("open orders", "/trading/orders/?status=open"),
    ("orders, bad filter", "/trading/orders/?status=pending", 400),
    ("cash journal", "/ledger/"),
    ("deposit", "/ledger/deposit/"),
    ("withdraw", "/ledger/withdraw/"),
    ("profile", "/accounts/profile/"),
    ("api tokens", "/accounts/api-tokens/"),
    ("password change", "/accounts/password/"),
    ("join a class", "/classes/join/"),
    ("log-out confirmation", "/accounts/logout/"),
    ("unknown symbol", "/prices/NOSUCHSYMBOL/", 404),
    ("page not found", "/no/such/page/", 404),
]

VISITOR_PAGES = [
    ("home", "/"),
    ("log in", "/accounts/login/"),
    ("register", "/accounts/register/"),
    ("market, logged out", "/prices/"),
    ("news, logged out", "/prices/news/"),
    ("API reference", "/api/v1/docs"),
    ("API error codes", "/api/v1/errors"),
]


def test_no_student_page_scrolls_sideways_on_a_phone(browser_page, busy_class):
    b = browser_page
    problems = reflow_problems(b, VISITOR_PAGES)
    log_in(b, "maya")
    problems += reflow_problems(b, STUDENT_PAGES)
    assert problems == [], "\n".join(problems)


def test_no_form_error_or_lockout_page_scrolls_sideways_on_a_phone(browser_page, busy_class):
    b = browser_page
    page = b.page
    problems = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 844})
        b.goto("/accounts/register/")
        page.fill("#id_username", LONG_NAME)
        page.fill("#id_password1", "short")
        page.fill("#id_password2", "other")
        page.get_by_role("button", name="Create account").click()
        page.wait_for_load_state("networkidle")
        assert page.locator(".invalid-feedback").count() > 0
        if page.evaluate("document.documentElement.scrollWidth > window.innerWidth"):
            problems.append(f"register with errors at {width} px: {page.evaluate(OVERFLOWING)}")
    b.problems.clear()  # the rejected sign-up answered 400, as it should
    # Five wrong passwords lock the name out; the page that says so fits too.
    page.set_viewport_size({"width": 320, "height": 844})
    for _ in range(6):
        b.goto("/accounts/login/")
        page.fill("#id_username", "maya")
        page.fill("#id_password", "wrong-password")
        page.get_by_role("button", name="Log in").click()
        page.wait_for_load_state("networkidle")
    assert "Too many failed log-ins" in page.inner_text("main")
    b.shot("phone-locked-out-320")
    if page.evaluate("document.documentElement.scrollWidth > window.innerWidth"):
        problems.append(f"locked out at 320 px: {page.evaluate(OVERFLOWING)}")
    b.problems.clear()  # the refused log-ins answered 4xx
    assert problems == [], "\n".join(problems)


def test_no_console_page_scrolls_sideways_on_a_phone(browser_page, busy_class):
    b = browser_page
    maya = busy_class["student"]
    period = busy_class["classroom"]
    b.goto("/admin/login/")
    b.page.fill("#id_username", "ms-rivera")
    b.page.fill("#id_password", PASSWORD)
    b.page.get_by_role("button", name="Log in").click()
    b.page.wait_for_load_state("networkidle")
    problems = reflow_problems(
        b,
        [
            ("admin index", "/admin/"),
            ("user list", "/admin/accounts/user/"),
            ("user change", f"/admin/accounts/user/{maya.pk}/change/"),
            ("class list", "/admin/classrooms/classroom/"),
            ("class change", f"/admin/classrooms/classroom/{period.pk}/change/"),
            ("market events", "/admin/prices/marketevent/"),
            ("new market event", "/admin/prices/marketevent/add/"),
        ],
    )
    assert problems == [], "\n".join(problems)


def cells_on_screen(page, selector):
    """The cells matched by `selector` that are not wholly inside the viewport."""
    return page.evaluate(
        """(selector) => [...document.querySelectorAll(selector)].filter(el => {
             const box = el.getBoundingClientRect();
             return box.width === 0 || box.left < 0 || box.right > window.innerWidth + 0.5;
           }).map(el => el.outerHTML.slice(0, 80))""",
        selector,
    )


def test_on_a_phone_the_tables_keep_their_key_numbers_on_screen(browser_page, busy_class):
    b = browser_page
    page = b.page
    log_in(b, "maya")
    page.set_viewport_size({"width": 390, "height": 844})
    checks = {
        "/portfolio/": [
            "#holdings tbody [data-cell=symbol]",
            "#holdings tbody [data-cell=value]",
            "#holdings tbody [data-cell=pnl]",
            "#holdings tbody [data-cell=weight]",
            "#holdings tfoot [data-cell=value]",
            "#cash-held",
            "#cash-free",
            "#open-orders-panel .list-group-item .btn",
        ],
        "/trading/orders/": [
            "#open-orders tbody [data-cell=order]",
            "#open-orders tbody [data-cell=held]",
            "#open-orders tbody [data-cell=actions] .btn",
            "#past-orders tbody [data-cell=order]",
            "#past-orders tbody [data-cell=outcome]",
            "#past-orders tbody [data-cell=when]",
        ],
        "/prices/": [
            "#market tbody [data-cell=symbol]",
            "#market tbody [data-cell=price]",
            "#market tbody [data-cell=change]",
        ],
        "/trading/": [
            "#trades tbody [data-cell=side]",
            "#trades tbody [data-cell=shares]",
            "#trades tbody [data-cell=symbol]",
            "#trades tbody [data-cell=total]",
            "#trades tbody [data-cell=when]",
        ],
        "/ledger/": [
            "#journal tbody [data-cell=type]",
            "#journal tbody [data-cell=amount]",
            "#journal tbody [data-cell=when]",
        ],
        "/portfolio/leaderboard/": [
            "#leaderboard tbody [data-cell=rank]",
            "#leaderboard tbody [data-cell=name]",
            "#leaderboard tbody [data-cell=metric]",
        ],
    }
    problems = []
    for path, selectors in checks.items():
        b.goto(path)
        for selector in selectors:
            if page.locator(selector).count() == 0:
                problems.append(f"{path}: nothing matches {selector}")
            off = cells_on_screen(page, selector)
            if off:
                problems.append(f"{path}: {selector} off screen at 390 px: {off[:2]}")
    assert problems == [], "\n".join(problems)
    # The market's sortable headings are out of sight on a phone: a list picks the sort.
    b.goto("/prices/")
    page.select_option("#market-sort", "-change_pct")
    page.get_by_role("button", name="Search").click()
    page.wait_for_load_state("networkidle")
    assert "sort=-change_pct" in page.url
    assert page.locator("#market-sort").input_value() == "-change_pct"
    sorted_by = page.locator("#market [aria-sort=descending]").inner_text()
    assert sorted_by.strip().startswith("% Change")

    # Still tables to a screen reader: the rows are rows and the cells are cells.
    b.goto("/portfolio/")
    assert page.get_by_role("table", name="Your holdings").count() == 1
    assert page.get_by_role("row").count() > 7
    first = page.locator("#holdings tbody tr").first
    assert first.get_by_role("cell").count() + first.get_by_role("rowheader").count() >= 6


def too_small(page, selector):
    return page.evaluate(
        """(selector) => [...document.querySelectorAll(selector)]
             .filter(el => el.offsetParent !== null)
             .map(el => [el.textContent.trim() || el.getAttribute("aria-label"),
                         el.getBoundingClientRect()])
             .filter(([, box]) => box.width < 44 || box.height < 44)
             .map(([name, box]) => `${name} ${Math.round(box.width)}×${Math.round(box.height)}`)""",
        selector,
    )


def test_on_a_phone_the_primary_controls_fit_a_thumb(browser_page, busy_class):
    b = browser_page
    page = b.page
    log_in(b, "maya")
    page.set_viewport_size({"width": 390, "height": 844})
    problems = []

    b.goto("/prices/AAPL/")
    page.wait_for_function("() => window.Chart && Chart.getChart('price-chart')")
    problems += too_small(page, "#order-ticket button, #order-ticket input, #order-ticket select")
    height = page.evaluate("document.getElementById('price-chart').getBoundingClientRect().height")
    if not 180 <= height <= 340:
        problems.append(f"the quote's chart is {height} px high at 390 px")

    b.goto("/trading/buy/?symbol=AAPL")
    problems += too_small(
        page, "main form[method=post] :is(button, input:not([type=hidden]), select)"
    )
    # A trailing stop's fields, with the trail's percent / dollars switch.
    page.select_option("#id_type", "trailing_stop")
    problems += too_small(
        page, "main form[method=post] :is(button, input:not([type=hidden]), select)"
    )

    b.goto("/portfolio/")
    problems += too_small(page, "#holdings tbody .btn")
    problems += too_small(page, "#open-orders-panel .btn")

    b.goto("/trading/orders/")
    problems += too_small(page, "#open-orders .btn, main form[method=get] :is(button, select)")
    b.goto("/portfolio/")

    # The folded menu: a big toggle, and full-width items once open.
    problems += too_small(page, ".navbar-toggler")
    page.locator(".navbar-toggler").click()
    page.wait_for_selector("#nav.show")
    widths = page.evaluate(
        """[...document.querySelectorAll('#nav .nav-link')].filter(a => a.offsetParent).map(a => {
             const box = a.getBoundingClientRect();
             return [a.textContent.trim(), box.width, box.height];
           })"""
    )
    nav_width = page.evaluate("document.getElementById('nav').getBoundingClientRect().width")
    for name, width, height in widths:
        if width < nav_width - 1 or height < 44:
            problems.append(f"menu item {name}: {width:.0f}×{height:.0f} in a {nav_width:.0f} menu")
    b.shot("phone-menu-open")
    assert problems == [], "\n".join(problems)
