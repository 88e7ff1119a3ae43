"""WCAG 2.2 AA in a real browser: axe-core runs on every student page, every console page
an instructor uses and every form's error state, at a desktop (1280×900) and a phone
(390×844) viewport. Any violation fails the test with its rule, impact, element and help.

axe is loaded from the live server's own static URL (page.add_script_tag(url=…)), so it
runs under the site's real Content-Security-Policy, which the conftest's watch enforces.
One Chromium serves the whole module; each test gets a fresh context (cookies, viewport).
"""

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, Watched

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE_VERSION = "4.14.1"
AXE_PATH = f"vendor/axe-core-{AXE_VERSION}/axe.min.js"
# WCAG 2.0, 2.1 and 2.2 at levels A and AA. The student pages pass axe's best practices too
# (headings, landmarks, regions, table headers); the console, which is Django's admin, is
# held to WCAG only (its log-in has no h1 and its inline tables have empty headers).
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
BEST_PRACTICE = "best-practice"
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
PASSWORD = "Quartz-Lantern-Harbor-2026"

RUN_AXE = """async (tags) => {
  const result = await window.axe.run(document, {
    runOnly: {type: "tag", values: tags},
    resultTypes: ["violations"],
  });
  return result.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    nodes: v.nodes.map((n) => ({target: n.target.join(" "), summary: n.failureSummary})),
  }));
}"""


# The browser, one per module --------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread for the whole module; the
    # tests only set up and read the database between browser steps.
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    executable = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            try:
                yield browser
            finally:
                browser.close()
    finally:
        if before is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


@pytest.fixture
def plain_http(settings):
    """The live server speaks plain HTTP and serves static files without a manifest."""
    settings.SECURE_SSL_REDIRECT = False
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    settings.SECURE_HSTS_SECONDS = 0
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    return settings


@pytest.fixture
def open_page(chromium, live_server, plain_http):
    """open_page(viewport, user=None) -> a watched page in a fresh context, logged in as
    user (through a session cookie) when one is given."""
    from django.db import connections

    contexts = []
    pages = []

    def open_(viewport: str, user=None) -> Watched:
        context = chromium.new_context(viewport=VIEWPORTS[viewport])
        contexts.append(context)
        if user is not None:
            client = Client()
            client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
            cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
            context.add_cookies(
                [{"name": cookie.key, "value": cookie.value, "url": live_server.url}]
            )
        watched = Watched(context.new_page(), live_server.url)
        watched.refused = set()  # pages answered with a 4xx on purpose (errors, 404)
        watched.page.on("response", lambda r, w=watched: _note_refused(w, r))
        pages.append(watched)
        return watched

    yield open_
    try:
        for watched in pages:
            # Chromium logs a page answered with a 4xx as a console error; those pages are
            # the point here (a rejected form is a 400, the missing page a 404).
            watched.problems = [
                problem
                for problem in watched.problems
                if not any(
                    problem.startswith(f"console error at {url}: Failed to load resource")
                    for url in watched.refused
                )
            ]
            watched.assert_clean()
    finally:
        for context in contexts:
            context.close()
        connections.close_all()


def _note_refused(watched: Watched, response):
    if response.request.resource_type == "document" and response.status in (
        400,
        403,
        404,
        429,
        500,
    ):
        watched.refused.add(response.url)


def axe_violations(b: Watched, tags: list[str]) -> list[str]:
    from django.templatetags.static import static

    b.page.wait_for_load_state("networkidle")
    # A button just clicked or hovered may still be fading between its colours: axe would
    # measure the contrast of a moment in between. Wait for the page's CSS transitions.
    b.page.wait_for_function(
        "() => document.getAnimations()"
        ".filter(a => a instanceof CSSTransition).every(a => a.playState !== 'running')"
    )
    if not b.page.evaluate("typeof window.axe === 'object'"):
        b.page.add_script_tag(url=b.base_url + static(AXE_PATH))
    found = b.page.evaluate(RUN_AXE, tags)
    lines = []
    for v in found:
        for node in v["nodes"]:
            lines.append(f"{v['id']} ({v['impact']}) at {node['target']}: {v['help']}")
    return lines


# The class, the market and the people ---------------------------------------------------


@dataclass
class World:
    student: object
    instructor: object
    classroom: object
    ids: dict = field(default_factory=dict)


def build_world() -> World:
    """A class with a student who deposited, bought two stocks and sold some, and the
    market moved on, so the dashboard has holdings, a performance chart and activity."""
    from accounts.roles import ensure_instructor_group
    from accounts.services import create_instructor
    from ledger.services import deposit
    from prices.models import Price
    from prices.services import advance_market, load_market
    from prices.simulation import new_rng
    from tests.factories import ClassroomFactory, StudentFactory
    from trading.services import buy, sell

    start = timezone.now() - timedelta(minutes=40)
    load_market(now=start - timedelta(minutes=1))
    rng = new_rng(7)
    rivera = create_instructor(
        username="ms-rivera", email="rivera@school.example", password=PASSWORD
    )
    rivera.groups.add(ensure_instructor_group())
    period = ClassroomFactory(
        name="Period 1",
        starts_at=timezone.now() - timedelta(days=2),
        ends_at=timezone.now() + timedelta(days=12),
    )
    period.owners.add(rivera)
    maya = StudentFactory(username="maya", password=PASSWORD, classroom=period)
    for i in range(3):
        StudentFactory(username=f"classmate{i}", classroom=period)
    deposit(user=maya, amount=Decimal("2500.00"), description="Birthday money")
    symbols = list(Price.objects.order_by("symbol").values_list("symbol", flat=True)[:2])
    for minute in range(20):
        advance_market(rng=rng, now=start + timedelta(minutes=minute))
    for symbol in symbols:
        buy(user=maya, symbol=symbol, quantity=10)
    sell(user=maya, symbol=symbols[0], quantity=3)
    for minute in range(20, 40):
        advance_market(rng=rng, now=start + timedelta(minutes=minute))
    return World(
        student=maya,
        instructor=rivera,
        classroom=period,
        ids={"symbol": symbols[0], "other_symbol": symbols[1]},
    )


@pytest.fixture
def world(db) -> World:
    return build_world()


# Pages ------------------------------------------------------------------------------------


@dataclass
class Page:
    name: str
    who: str  # "anon", "student", "instructor" or "superuser"
    # The address, or a function of the world that returns it (and may first add what the
    # page shows: market news, a pending event, an audit entry).
    path: str | Callable[[World], str]
    # For an error state: fills the form on the page and submits it.
    submit: Callable | None = None
    summary: bool = True  # a project form: its error summary takes focus
    console: bool = False  # Django's admin: WCAG rules only, not axe's best practices
    status: int = 200
    # Runs on the page after each load, before axe (opens an explanation, a chart's table).
    then: Callable | None = None

    def url(self, w: World) -> str:
        return self.path(w) if callable(self.path) else self.path


def _news(w: World) -> World:
    """An instructor's market event on the student's stock, applied by the next tick: the
    market and quote pages show it as a news line."""
    from prices.services import advance_market, schedule_event

    if "news" not in w.ids:
        w.ids["news"] = schedule_event(
            percent=Decimal("12"),
            symbol=w.ids["symbol"],
            reason="Record sales beat every forecast",
            by=w.instructor,
        ).pk
        advance_market(seed=3)
    return w


def _events(w: World) -> World:
    """One event of each state: applied (news), pending and cancelled."""
    from prices.services import cancel_event, schedule_event

    _news(w)
    if "pending" not in w.ids:
        w.ids["pending"] = schedule_event(
            percent=Decimal("-4"), sector="Energy", reason="Oil price falls", by=w.instructor
        ).pk
        cancelled = schedule_event(
            percent=Decimal("3"), symbol=w.ids["other_symbol"], reason="Rumour", by=w.instructor
        )
        cancel_event(event_id=cancelled.pk, by=w.instructor)
    return w


def _open_orders(w: World) -> World:
    """Open orders for the student: a limit buy and a stop that sells the shares she holds,
    so her page in the console lists them with their Cancel buttons."""
    from prices.models import Price
    from trading.services import order_request, place_order

    if "order" not in w.ids:
        price = Price.objects.get(symbol=w.ids["symbol"]).price
        stop = (price / 2).quantize(Decimal("0.01"))
        w.ids["order"] = place_order(
            user=w.student,
            request=order_request(
                side="buy",
                type="limit",
                symbol=w.ids["other_symbol"],
                quantity=2,
                limit_price="1.00",
            ),
        ).pk
        place_order(
            user=w.student,
            request=order_request(
                side="sell",
                type="stop",
                symbol=w.ids["symbol"],
                quantity=7,
                stop_price=stop,
                duration="gtc",
            ),
        )
    return w


def _orders(w: World) -> World:
    """Maya's orders in every state: an open limit buy and an open trailing stop sell
    (holding cash and shares), one she cancelled, one her teacher cancelled, one that
    expired (told on her next page) and one rejected; her market orders are filled ones."""
    from prices.models import Price
    from trading.models import Order
    from trading.services import cancel_order, expire_orders, order_request, place_order

    if "orders" in w.ids:
        return w
    maya, symbol, other = w.student, w.ids["symbol"], w.ids["other_symbol"]
    price = Price.objects.get(symbol=symbol).price
    below = str((price * Decimal("0.8")).quantize(Decimal("0.01")))

    def limit_buy(duration="gtc"):
        request = order_request(
            side="buy",
            type="limit",
            symbol=symbol,
            quantity=5,
            limit_price=below,
            duration=duration,
        )
        return place_order(user=maya, request=request)

    limit_buy()
    trailing = order_request(
        side="sell",
        type="trailing_stop",
        symbol=other,
        quantity=4,
        trail_percent="5",
        duration="gtc",
    )
    place_order(user=maya, request=trailing)
    cancel_order(order_id=limit_buy().pk, user=maya)
    cancel_order(order_id=limit_buy().pk, by=_superuser(), reason="Wrong symbol, see me")
    expire_orders(day=limit_buy(duration="day").expires_day)
    Order.objects.create(
        user=maya,
        stock_id=symbol,
        side="buy",
        type="limit",
        quantity=2,
        limit_price=below,
        status="rejected",
        reason="Your class's trading window has closed.",
        closed_at=timezone.now(),
    )
    w.ids["orders"] = True
    return w


def _tokens(w: World, *, api_off: bool = False) -> World:
    """Two API tokens of the student's, one used and one revoked; with `api_off`, her
    class's API switched off."""
    from api.models import ApiToken
    from api.services import create_token, revoke_token

    if "token" not in w.ids:
        w.ids["token"] = create_token(user=w.student, name="Momentum bot").token.pk
        ApiToken.objects.filter(pk=w.ids["token"]).update(last_used_at=timezone.now())
        old = create_token(user=w.student, name="Class notebook").token
        revoke_token(token_id=old.pk, by=w.instructor)
    if api_off:
        w.classroom.api_access = False
        w.classroom.save(update_fields=["api_access"])
    return w


def _cancel_after_it_closed(page):
    """The Cancel button of an order that closed since the page was loaded: refused, 400."""
    from trading.models import Order
    from trading.services import cancel_order

    form = page.locator("#open-orders form").first
    order_id = int(form.get_attribute("action").strip("/").split("/")[-2])
    cancel_order(order_id=order_id, user=Order.objects.get(pk=order_id).user)
    with page.expect_navigation():
        form.locator("button").click()


def _cards(w: World) -> World:
    """The class's students with log-in cards, one of them revoked."""
    from accounts.services import issue_cards, revoke_card

    issue_cards(classroom=w.classroom, users=[w.student], by=w.instructor)
    revoke_card(classroom=w.classroom, user=w.student, by=w.instructor)
    issue_cards(classroom=w.classroom, users=[w.student], by=w.instructor)
    return w


def _audit_entry(w: World) -> int:
    from tradesim.models import AuditEntry

    _events(w)
    return AuditEntry.objects.order_by("pk").values_list("pk", flat=True).first()


def _row(model: str, w: World | None) -> int:
    """The first row of a model (the student's own, when the model has a user)."""
    from django.apps import apps

    rows = apps.get_model(model).objects.order_by("pk")
    if w is not None:
        rows = rows.filter(user=w.student)
    return rows.values_list("pk", flat=True).first()


def _lockout(w: World) -> int:
    """A student locked out after too many wrong passwords, as axes records it."""
    from axes.models import AccessAttempt

    attempt, _ = AccessAttempt.objects.get_or_create(
        username=w.student.username,
        ip_address="127.0.0.1",
        user_agent="Mozilla/5.0 (a school Chromebook)",
        defaults={
            "http_accept": "text/html",
            "path_info": "/accounts/login/",
            "get_data": "",
            "post_data": "username=maya",
            "failures_since_start": 5,
        },
    )
    return attempt.pk


def _open_explanation(page):
    explain = page.locator("main details.explain").first
    explain.locator("summary").click()
    page.locator("main details.explain[open]").first.wait_for()


def _open_chart_table(page):
    page.locator("[data-chart-legend='price-chart'] button").first.wait_for()  # drawn
    page.get_by_text("Show the numbers as a table").click()
    page.locator("[data-chart-table='price-chart'] tbody tr").first.wait_for()


def _reference_drawn(page):
    """The API reference once Swagger UI has drawn the operations."""
    page.locator("#swagger-ui .opblock").first.wait_for()


def _click_all(page, selector: str, text: str = ""):
    page.evaluate(
        """([selector, text]) => document.querySelectorAll(selector).forEach(
             (b) => b.textContent.includes(text) && b.click())""",
        [selector, text],
    )


def _try_every_operation(page):
    """Every operation open, Try it out on: the parameters' fields and the body's box."""
    _reference_drawn(page)
    _click_all(page, ".opblock-summary-control")
    page.locator("button.try-out__btn").first.wait_for()
    _click_all(page, "button.try-out__btn")
    page.locator("textarea.body-param__text").first.wait_for()


def _every_schema_expanded(page):
    """Every operation open on its schemas, and every schema below expanded all the way."""
    _reference_drawn(page)
    _click_all(page, ".opblock-summary-control")
    page.locator(".opblock button.tablinks").first.wait_for()
    _click_all(page, ".opblock button.tablinks", "Schema")
    _click_all(page, ".models button")
    page.locator(".models .json-schema-2020-12-expand-deep-button").first.wait_for()
    _click_all(page, "button.json-schema-2020-12-expand-deep-button")
    page.locator(".models .json-schema-2020-12-property").first.wait_for()


def _authorize_dialog(page):
    """The Authorize dialog open, a token typed in."""
    _reference_drawn(page)
    page.locator(".scheme-container button.authorize").click()
    page.locator(".modal-ux input").fill("tsk_not-a-real-token")


def _fill_and_send(values: dict, button: str | None = None):
    def submit(page):
        for selector, value in values.items():
            page.fill(selector, value)
        locator = page.locator(button or "main form[method=post] [type=submit]").first
        with page.expect_navigation():
            locator.click()

    return submit


def _choose_order_type(kind: str, values: dict | None = None):
    """An order ticket with `kind` chosen and `values` filled in, its preview written."""

    def choose(page):
        form = "main form[data-order-ticket]"
        page.select_option(f"{form} select[name=type]", kind)
        for name, value in (values or {}).items():
            page.fill(f"{form} input[name={name}]", value)
        page.locator(f"{form} [data-order-preview]").wait_for()

    return choose


def _send_order_ticket(page):
    """A limit order with a price that is not one: the ticket comes back (400)."""
    page.select_option("#id_type", "limit")
    page.fill("#id_quantity", "2")
    page.fill("#id_limit_price", "1e3")
    with page.expect_navigation():
        page.locator("main form[method=post] [type=submit]").click()


def _send_large_event(page):
    """A move over ±25 % without the confirmation box ticked: the form comes back (400)
    asking to confirm."""
    page.select_option("#id_sector", "Energy")
    page.fill("#id_percent", "40")
    page.fill("#id_reason", "Oil discovered under the school")
    with page.expect_navigation():
        page.locator("input[type=submit][name=_save]").click()


STUDENT_PAGES = [
    Page("home", "anon", "/"),
    Page("login", "anon", "/accounts/login/"),
    Page("log in with a class card", "anon", "/accounts/card/"),
    Page("register", "anon", "/accounts/register/"),
    Page("404", "anon", "/no-such-page/", status=404),
    Page("join", "student", "/classes/join/"),
    Page("profile", "student", "/accounts/profile/"),
    Page("password change", "student", "/accounts/password/"),
    Page("logout confirm", "student", "/accounts/logout/"),
    Page("dashboard", "student", "/portfolio/"),
    Page("leaderboard", "student", "/portfolio/leaderboard/"),
    Page("class rules", "student", "/classes/rules/"),
    Page("market", "student", "/prices/"),
    Page("quote", "student", lambda w: f"/prices/{w.ids['symbol']}/"),
    Page("buy ticket", "student", lambda w: f"/trading/buy/?symbol={w.ids['symbol']}"),
    Page("sell ticket", "student", lambda w: f"/trading/sell/?symbol={w.ids['symbol']}"),
    Page(
        "order ticket",
        "student",
        lambda w: f"/trading/orders/new/?symbol={w.ids['symbol']}&side=sell&type=stop_limit",
    ),
    Page(
        "quote ticket, stop-limit",
        "student",
        lambda w: f"/prices/{w.ids['symbol']}/",
        then=_choose_order_type(
            "stop_limit", {"quantity": "3", "stop_price": "1", "limit_price": "0.95"}
        ),
    ),
    Page(
        "buy ticket, trailing stop",
        "student",
        lambda w: f"/trading/buy/?symbol={w.ids['symbol']}",
        then=_choose_order_type("trailing_stop", {"quantity": "2", "trail_percent": "5"}),
    ),
    Page("trade history", "student", "/trading/"),
    Page("orders", "student", lambda w: _orders(w) and "/trading/orders/"),
    Page("open orders", "student", lambda w: _orders(w) and "/trading/orders/?status=open"),
    Page("no orders", "student", "/trading/orders/?status=open"),
    Page("orders bad filter", "student", "/trading/orders/?start=yesterday", status=400),
    Page("dashboard with open orders", "student", lambda w: _orders(w) and "/portfolio/"),
    Page("cash journal", "student", "/ledger/"),
    Page("deposit", "student", "/ledger/deposit/"),
    Page("withdraw", "student", "/ledger/withdraw/"),
    Page("glossary", "anon", "/glossary/"),
    Page("glossary signed in", "student", "/glossary/"),
    Page("dashboard explanation open", "student", "/portfolio/", then=_open_explanation),
    Page("market with news", "student", lambda w: _news(w) and "/prices/"),
    Page("quote with news", "student", lambda w: _news(w) and f"/prices/{w.ids['symbol']}/"),
    Page("news", "student", lambda w: _news(w) and "/prices/news/"),
    Page("news bad filter", "student", "/prices/news/?kind=gossip", status=400),
    Page(
        "quote chart table open",
        "student",
        lambda w: f"/prices/{w.ids['symbol']}/",
        then=_open_chart_table,
    ),
    # Error pages: a request the site refuses (a NUL character: 400), a console page the
    # signed-in account may not open (403), an address that does not exist (404, above).
    Page("unknown symbol", "student", "/prices/NOSUCH/", status=404),
    Page(
        "leaderboard (instructor)",
        "instructor",
        lambda w: f"/portfolio/leaderboard/?class={w.classroom.pk}",
    ),
    Page("400", "anon", "/glossary/?q=%00", status=400),
    # The pages about the API (public): the reference drawn by Swagger UI, closed, with every
    # operation tried or its schemas shown, and with its Authorize dialog; the error codes,
    # and the one a problem document linked to.
    Page("api reference", "anon", "/api/v1/docs", then=_reference_drawn),
    Page("api reference, trying all", "anon", "/api/v1/docs", then=_try_every_operation),
    Page("api reference, every schema", "anon", "/api/v1/docs", then=_every_schema_expanded),
    Page("api reference authorize", "student", "/api/v1/docs", then=_authorize_dialog),
    Page("api error codes", "anon", "/api/v1/errors"),
    Page("api error code linked", "anon", "/api/v1/errors#insufficient_funds"),
    Page("403", "instructor", "/admin/auth/group/", status=403),
    Page("api tokens, none", "student", "/accounts/api-tokens/"),
    Page("api tokens", "student", lambda w: _tokens(w) and "/accounts/api-tokens/"),
    Page(
        "api tokens, a new one shown once",
        "student",
        "/accounts/api-tokens/",
        then=_fill_and_send({"#id_name": "Momentum bot"}),
    ),
    Page(
        "api tokens, the class's API off",
        "student",
        lambda w: _tokens(w, api_off=True) and "/accounts/api-tokens/",
    ),
    Page(
        "api token revoke",
        "student",
        lambda w: f"/accounts/api-tokens/{_tokens(w).ids['token']}/revoke/",
    ),
]

CONSOLE_PAGES = [
    Page("admin log-in", "anon", "/admin/login/"),
    Page("admin index", "instructor", "/admin/"),
    Page("user list", "instructor", "/admin/accounts/user/"),
    Page("user change", "instructor", lambda w: f"/admin/accounts/user/{w.student.pk}/change/"),
    Page(
        "user change with open orders",
        "instructor",
        lambda w: f"/admin/accounts/user/{_open_orders(w).student.pk}/change/",
    ),
    Page("orders", "instructor", lambda w: _open_orders(w) and "/admin/trading/order/"),
    Page(
        "order",
        "instructor",
        lambda w: f"/admin/trading/order/{_open_orders(w).ids['order']}/change/",
    ),
    Page(
        "grant cash", "instructor", lambda w: f"/admin/accounts/user/grant-cash/?ids={w.student.pk}"
    ),
    Page("reset", "instructor", lambda w: f"/admin/accounts/user/reset/?ids={w.student.pk}"),
    Page("classroom list", "instructor", "/admin/classrooms/classroom/"),
    Page(
        "classroom change",
        "instructor",
        lambda w: f"/admin/classrooms/classroom/{w.classroom.pk}/change/",
    ),
    Page("classroom add", "instructor", "/admin/classrooms/classroom/add/"),
    Page(
        "log-in cards",
        "instructor",
        lambda w: _cards(w) and f"/admin/classrooms/classroom/{w.classroom.pk}/cards/",
    ),
    Page("market events", "instructor", "/admin/prices/marketevent/"),
    Page("market event add", "instructor", "/admin/prices/marketevent/add/"),
    Page("prices", "instructor", "/admin/prices/price/"),
    Page("market parameters", "instructor", "/admin/prices/marketparameters/1/change/"),
    Page("audit", "instructor", "/admin/tradesim/auditentry/"),
    Page("lockouts", "instructor", "/admin/axes/accessattempt/"),
    Page(
        "lockouts with a student",
        "instructor",
        lambda w: _lockout(w) and "/admin/axes/accessattempt/",
    ),
    Page(
        "lockout",
        "instructor",
        lambda w: f"/admin/axes/accessattempt/{_lockout(w)}/change/",
    ),
    Page(
        "class overview",
        "instructor",
        lambda w: f"/admin/classrooms/classroom/{w.classroom.pk}/overview/",
    ),
    Page(
        "new join code",
        "instructor",
        lambda w: f"/admin/classrooms/classroom/{w.classroom.pk}/new-code/",
    ),
    Page(
        "market events in each state",
        "instructor",
        lambda w: _events(w) and "/admin/prices/marketevent/",
    ),
    Page(
        "market events pending",
        "instructor",
        lambda w: _events(w) and "/admin/prices/marketevent/?state=pending",
    ),
    Page(
        "market events cancelled",
        "instructor",
        lambda w: _events(w) and "/admin/prices/marketevent/?state=cancelled",
    ),
    Page(
        "pending event",
        "instructor",
        lambda w: f"/admin/prices/marketevent/{_events(w).ids['pending']}/change/",
    ),
    Page(
        "cancel event",
        "instructor",
        lambda w: f"/admin/prices/marketevent/{_events(w).ids['pending']}/cancel/",
    ),
    Page(
        "applied event",
        "instructor",
        lambda w: f"/admin/prices/marketevent/{_news(w).ids['news']}/change/",
    ),
    Page("balances", "instructor", "/admin/ledger/balance/"),
    Page("cash journal (console)", "instructor", "/admin/ledger/transaction/"),
    Page("holdings", "instructor", "/admin/portfolio/holding/"),
    Page("trades", "instructor", "/admin/trading/trade/"),
    Page("price history", "instructor", "/admin/prices/pricehistory/"),
    Page(
        "audit entry",
        "instructor",
        lambda w: f"/admin/tradesim/auditentry/{_audit_entry(w)}/change/",
    ),
    Page(
        "class history",
        "instructor",
        lambda w: f"/admin/classrooms/classroom/{w.classroom.pk}/history/",
    ),
    Page(
        "class delete",
        "instructor",
        lambda w: f"/admin/classrooms/classroom/{w.classroom.pk}/delete/",
    ),
    Page(
        "balance",
        "instructor",
        lambda w: f"/admin/ledger/balance/{_row('ledger.Balance', w)}/change/",
    ),
    Page(
        "journal entry",
        "instructor",
        lambda w: f"/admin/ledger/transaction/{_row('ledger.Transaction', w)}/change/",
    ),
    Page(
        "holding",
        "instructor",
        lambda w: f"/admin/portfolio/holding/{_row('portfolio.Holding', w)}/change/",
    ),
    Page(
        "trade", "instructor", lambda w: f"/admin/trading/trade/{_row('trading.Trade', w)}/change/"
    ),
    Page(
        "price history row",
        "instructor",
        lambda w: f"/admin/prices/pricehistory/{_row('prices.PriceHistory', None)}/change/",
    ),
    Page("console password change", "instructor", "/admin/password_change/"),
    Page("api tokens (console)", "instructor", lambda w: _tokens(w) and "/admin/api/apitoken/"),
    Page(
        "api token (console)",
        "instructor",
        lambda w: f"/admin/api/apitoken/{_tokens(w).ids['token']}/change/",
    ),
    # What only a superuser (the school's administrator) opens.
    Page("superuser index", "superuser", "/admin/"),
    Page("groups", "superuser", "/admin/auth/group/"),
    Page(
        "group change", "superuser", lambda w: f"/admin/auth/group/{_instructors_group()}/change/"
    ),
    Page("market state", "superuser", "/admin/prices/marketstate/1/change/"),
    Page("portfolio summaries", "superuser", "/admin/portfolio/portfoliosummary/"),
    Page("portfolio snapshots", "superuser", "/admin/portfolio/portfoliosnapshot/"),
    Page("user add", "superuser", "/admin/accounts/user/add/"),
    Page(
        "user password",
        "superuser",
        lambda w: f"/admin/accounts/user/{w.student.pk}/password/",
    ),
    Page("access logs", "superuser", "/admin/axes/accesslog/"),
    Page("access failures", "superuser", "/admin/axes/accessfailurelog/"),
]


def _instructors_group() -> int:
    from accounts.roles import ensure_instructor_group

    return ensure_instructor_group().pk


ERROR_STATES = [
    Page(
        "login error",
        "anon",
        "/accounts/login/",
        _fill_and_send({"#id_username": "maya", "#id_password": "not-the-password"}),
    ),
    Page(
        "register error",
        "anon",
        "/accounts/register/",
        _fill_and_send(
            {"#id_username": "maya", "#id_password1": "short", "#id_password2": "other"}
        ),
    ),
    Page("join error", "student", "/classes/join/", _fill_and_send({"#id_code": "NOPE-NOPE"})),
    Page(
        "class card error",
        "anon",
        "/accounts/card/",
        _fill_and_send({"#id_code": "7KQ2-M9XD-4HTP-W3CF"}),
    ),
    Page("deposit error", "student", "/ledger/deposit/", _fill_and_send({"#id_amount": "-5"})),
    Page(
        "withdraw error", "student", "/ledger/withdraw/", _fill_and_send({"#id_amount": "99999999"})
    ),
    Page(
        "buy error",
        "student",
        lambda w: f"/trading/buy/?symbol={w.ids['symbol']}",
        _fill_and_send({"#id_quantity": "999999"}),
    ),
    Page(
        "sell error",
        "student",
        lambda w: f"/trading/sell/?symbol={w.ids['symbol']}",
        _fill_and_send({"#id_quantity": "9999"}),
    ),
    Page(
        "order ticket error",
        "student",
        lambda w: f"/trading/orders/new/?symbol={w.ids['symbol']}",
        _send_order_ticket,
    ),
    Page(
        "cancel refused",
        "student",
        lambda w: _orders(w) and "/trading/orders/?status=open",
        _cancel_after_it_closed,
    ),
    Page(
        "password change error",
        "student",
        "/accounts/password/",
        _fill_and_send(
            {"#id_old_password": "wrong", "#id_new_password1": "x", "#id_new_password2": "y"}
        ),
    ),
    Page("profile error", "student", "/accounts/profile/", _fill_and_send({"#id_email": "maya@"})),
    Page("api token error", "student", "/accounts/api-tokens/", _fill_and_send({"#id_name": " "})),
    Page(
        "admin grant cash error",
        "instructor",
        lambda w: f"/admin/accounts/user/grant-cash/?ids={w.student.pk}",
        _fill_and_send({"#id_amount": "-1"}, "input[type=submit][value='Grant cash']"),
        summary=False,
    ),
    Page(
        "admin classroom error",
        "instructor",
        "/admin/classrooms/classroom/add/",
        _fill_and_send({}, "input[type=submit][name=_save]"),
        summary=False,
    ),
    Page(
        "admin reset error",
        "instructor",
        lambda w: f"/admin/accounts/user/reset/?ids={w.student.pk}",
        _fill_and_send({}, ".submit-row input[type=submit]"),
        summary=False,
    ),
    Page(
        "admin classroom rule error",
        "instructor",
        lambda w: f"/admin/classrooms/classroom/{w.classroom.pk}/change/",
        _fill_and_send({"#id_max_position_percent": "-5"}, "input[type=submit][name=_save]"),
        summary=False,
    ),
    Page(
        "admin large market event",
        "instructor",
        "/admin/prices/marketevent/add/",
        _send_large_event,
        summary=False,
    ),
    Page(
        "admin market parameters error",
        "instructor",
        "/admin/prices/marketparameters/1/change/",
        _fill_and_send(
            {"#id_calm_volatility": "0.3", "#id_turbulent_volatility": "0.2"},
            "input[type=submit][name=_save]",
        ),
        summary=False,
    ),
    Page(
        "admin user add error",
        "superuser",
        "/admin/accounts/user/add/",
        _fill_and_send(
            {"#id_username": "maya", "#id_password1": "short", "#id_password2": "other"},
            "input[type=submit][name=_save]",
        ),
        summary=False,
    ),
    Page(
        "admin password error",
        "superuser",
        lambda w: f"/admin/accounts/user/{w.student.pk}/password/",
        _fill_and_send({"#id_password1": "short", "#id_password2": "other"}, "input[type=submit]"),
        summary=False,
    ),
]


for _page in CONSOLE_PAGES + [e for e in ERROR_STATES if e.name.startswith("admin ")]:
    _page.console = True


def _param(pages):
    return [pytest.param(p, id=p.name) for p in pages]


def _superuser():
    from django.contrib.auth import get_user_model

    User = get_user_model()
    return User.objects.filter(username="root").first() or User.objects.create_superuser(
        username="root", email="root@school.example", password=PASSWORD
    )


def _open(open_page, world, p: Page) -> Watched:
    user = {
        "anon": lambda: None,
        "student": lambda: world.student,
        "instructor": lambda: world.instructor,
        "superuser": _superuser,
    }[p.who]()
    url = p.url(world)
    b = open_page("desktop", user)
    response = b.goto(url)
    assert response.status == p.status, f"{p.name}: {response.status} for {url}"
    if p.then:
        p.then(b.page)
    return b


def assert_accessible_at_both_sizes(b: Watched, p: Page, *, reload: bool):
    """axe at the desktop size the page was opened at, then at the phone size: the page is
    loaded again there, or (a form's error state, the answer to a POST) only resized."""
    tags = WCAG_TAGS if p.console else [*WCAG_TAGS, BEST_PRACTICE]
    found = []
    for n, (viewport, size) in enumerate(VIEWPORTS.items()):
        if n:
            b.page.set_viewport_size(size)
            if reload:
                b.page.reload()
                b.page.wait_for_load_state("networkidle")
                if p.then:
                    p.then(b.page)
        found += [
            f"[{viewport} {size['width']}×{size['height']}] {line}"
            for line in axe_violations(b, tags)
        ]
    assert not found, f"{len(found)} accessibility violation(s) on {p.name}:\n" + "\n".join(found)


@pytest.mark.parametrize("p", _param(STUDENT_PAGES + CONSOLE_PAGES))
def test_page_has_no_violations(open_page, world, p):
    b = _open(open_page, world, p)
    assert_accessible_at_both_sizes(b, p, reload=True)


@pytest.mark.parametrize("p", _param(ERROR_STATES))
def test_form_error_state_has_no_violations(open_page, world, p):
    b = _open(open_page, world, p)
    p.submit(b.page)
    b.page.wait_for_load_state("networkidle")
    assert b.page.locator(".error-summary, .errornote").count() >= 1, "no error shown"
    # The summary (or the admin's error note) has keyboard focus, so it is read first.
    where = ".error-summary" if p.summary else ".errornote"
    assert b.page.evaluate(f"() => !!document.activeElement.closest('{where}')"), (
        f"focus is on {b.page.evaluate('document.activeElement.outerHTML.slice(0, 80)')}"
    )
    assert_accessible_at_both_sizes(b, p, reload=False)


def test_locked_out_page_has_no_violations(open_page, world, settings):
    settings.AXES_FAILURE_LIMIT = 1
    b = open_page("desktop")
    b.goto("/accounts/login/")
    for _ in range(3):
        if "Too many failed log-ins" in b.page.inner_text("main"):
            break
        b.page.fill("#id_username", "maya")
        b.page.fill("#id_password", "not-the-password")
        with b.page.expect_navigation():
            b.page.locator("main form [type=submit]").click()
    assert "Too many failed log-ins" in b.page.inner_text("main")
    assert_accessible_at_both_sizes(b, Page("locked out", "anon", ""), reload=False)


def test_form_expired_page_has_no_violations(open_page, world):
    """The CSRF failure page (403_csrf.html): a form sent after its security cookie went."""
    b = open_page("desktop")
    b.goto("/accounts/login/")
    b.page.context.clear_cookies()
    b.page.fill("#id_username", "maya")
    b.page.fill("#id_password", PASSWORD)
    with b.page.expect_navigation() as answer:
        b.page.locator("main form [type=submit]").click()
    assert answer.value.status == 403
    assert "That form has expired" in b.page.inner_text("main")
    assert_accessible_at_both_sizes(b, Page("403 form expired", "anon", ""), reload=False)


def test_server_error_page_has_no_violations(open_page, world, settings):
    """The 500 page, as Django's own handler renders it for a view that raises (the
    URLconf adds one such view to the site's own; nothing else changes)."""
    settings.ROOT_URLCONF = "tests.e2e.server_error_urls"
    b = open_page("desktop", world.student)
    response = b.goto("/raise-an-error/")
    assert response.status == 500
    assert "Something went wrong" in b.page.inner_text("h1")
    assert_accessible_at_both_sizes(b, Page("500", "student", ""), reload=True)


def test_the_api_reference_tries_an_operation_with_a_token(open_page, world):
    """Authorize with a real token, Try it out on GET /account, Execute: the answer is
    shown, and the page with it passes axe at both sizes."""
    from api.services import create_token

    secret = create_token(user=world.student, name="reference page").secret
    b = open_page("desktop")
    page = b.page
    b.goto("/api/v1/docs")
    _reference_drawn(page)
    page.locator(".scheme-container button.authorize").click()
    assert page.evaluate("() => document.activeElement.matches('.modal-ux input')")
    page.keyboard.type(secret)
    page.locator(".modal-ux button.authorize").click()
    page.locator(".modal-ux button.btn-done").wait_for()
    assert page.evaluate("() => !!document.activeElement.closest('.modal-ux')")
    page.get_by_role("button", name="Close", exact=True).last.click()
    assert page.evaluate("() => document.activeElement.matches('.scheme-container .authorize')")
    account = page.locator("#operations-Account-api_endpoints_account_get_account")
    account.locator(".opblock-summary-control").click()
    account.locator("button.try-out__btn").click()
    with page.expect_response("**/api/v1/account") as answer:
        account.locator("button.execute").click()
    assert answer.value.status == 200
    assert answer.value.request.headers["authorization"] == f"Bearer {secret}"
    body = account.locator(".live-responses-table .response-col_description pre").first
    body.wait_for()
    assert '"buying_power"' in body.inner_text()
    assert_accessible_at_both_sizes(b, Page("api reference answer", "anon", ""), reload=False)


# Keyboard and screen readers -------------------------------------------------------------

FOCUS_RING = """(el) => {
  const style = getComputedStyle(el);
  let node = el.parentElement, background = "rgba(0, 0, 0, 0)";
  while (node) {
    const bg = getComputedStyle(node).backgroundColor;
    if (bg && !bg.endsWith(", 0)") && bg !== "transparent") { background = bg; break; }
    node = node.parentElement;
  }
  return {
    style: style.outlineStyle,
    width: parseFloat(style.outlineWidth),
    color: style.outlineColor,
    background: background === "rgba(0, 0, 0, 0)" ? "rgb(255, 255, 255)" : background,
  };
}"""


def _luminance(rgb: str) -> float:
    channels = [int(float(c)) for c in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3]]

    def linear(c):
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    high, low = sorted([_luminance(a), _luminance(b)], reverse=True)
    return (high + 0.05) / (low + 0.05)


def tab_to(page, selector: str, limit: int = 80):
    """Press Tab until the element matching selector has focus (as a keyboard user would
    reach it), and return it."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"() => document.activeElement.matches({selector!r})"):
            return page.locator(":focus")
    raise AssertionError(f"Tab never reached {selector}")


@pytest.mark.parametrize(
    ("who", "path", "selectors", "viewport"),
    [
        pytest.param(
            "student",
            "/portfolio/",
            [
                "nav .navbar-brand",
                "nav a.nav-link",
                "nav button.btn-link",
                "main a.btn-success",
                "main a.btn-outline-secondary",
                "#live-toggle",
                "main .table-responsive",
                "main a[href^='/prices/']",
            ],
            "desktop",
            id="dashboard",
        ),
        pytest.param(
            "student",
            "/portfolio/",
            ["nav .navbar-brand", "nav form button", "nav .navbar-toggler"],
            "phone",
            id="phone navbar",
        ),
        pytest.param(
            "student",
            "/ledger/deposit/",
            ["#id_amount", "main button[type=submit]", "main a[href='/ledger/']"],
            "desktop",
            id="deposit",
        ),
        pytest.param(
            "instructor",
            "/admin/accounts/user/",
            ["#header a", "div.breadcrumbs a", "#searchbar", "#changelist-filter a"],
            "desktop",
            id="console user list",
        ),
    ],
)
def test_focus_rings_stand_out_at_3_to_1(open_page, world, who, path, selectors, viewport):
    user = {"student": world.student, "instructor": world.instructor}[who]
    b = open_page(viewport, user)
    b.goto(path)
    b.page.evaluate("() => document.activeElement.blur()")
    weak = []
    for selector in selectors:
        ring = b.page.evaluate(FOCUS_RING, tab_to(b.page, selector).element_handle())
        ratio = contrast(ring["color"], ring["background"])
        if ring["style"] == "none" or ring["width"] < 2 or ratio < 3:
            weak.append(f"{selector}: {ring} ({ratio:.2f}:1)")
    assert not weak, "focus rings under 3:1 or under 2 px:\n" + "\n".join(weak)


def test_the_api_references_authorize_dialog_keeps_the_keyboard_in_it(open_page, world):
    b = open_page("desktop")
    page = b.page
    b.goto("/api/v1/docs")
    _reference_drawn(page)
    page.locator(".scheme-container button.authorize").focus()
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.matches('.modal-ux input')")
    assert page.get_attribute(".modal-ux", "role") == "dialog"
    for _ in range(6):
        page.keyboard.press("Tab")
        assert page.evaluate("() => !!document.activeElement.closest('.modal-ux')")
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("() => !!document.activeElement.closest('.modal-ux')")
    page.keyboard.press("Escape")
    assert page.locator(".modal-ux").count() == 0
    assert page.evaluate("() => document.activeElement.matches('.scheme-container .authorize')")


def test_an_error_summary_takes_focus_and_leads_to_its_field(open_page, world):
    b = open_page("desktop", world.student)
    page = b.page
    b.goto("/ledger/withdraw/")
    page.fill("#id_amount", "abc")
    with page.expect_navigation():
        page.locator("main form[method=post] [type=submit]").click()
    summary = page.locator(".error-summary")
    assert "There is a problem" in summary.inner_text()
    assert page.evaluate("() => document.activeElement.matches('.error-summary')")
    # The field says what is wrong with it to a screen reader too.
    described = page.get_attribute("#id_amount", "aria-describedby").split()
    assert "id_amount_error" in described
    assert page.locator("#id_amount_error").inner_text() in summary.inner_text()
    assert page.get_attribute("#id_amount", "aria-invalid") == "true"
    page.keyboard.press("Tab")  # the first link in the summary
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "id_amount"


def test_live_updates_keep_focus_and_can_be_paused(open_page, world, monkeypatch):
    from portfolio import views

    monkeypatch.setattr(views, "LIVE_SECONDS", 1)
    b = open_page("desktop", world.student)
    page = b.page
    symbol = world.ids["symbol"]
    b.goto("/portfolio/")
    buy = tab_to(page, f"a[aria-label='Buy {symbol}']")
    page.evaluate("() => { document.activeElement.dataset.before = 'yes'; }")
    with page.expect_response("**/portfolio/live/"):
        pass
    page.wait_for_function("() => !document.querySelector('[data-before]')")  # swapped
    # The page puts the focus back on the new copy of the link right after the swap; on a
    # loaded machine that can come a moment after the marker went.
    page.wait_for_function(
        "label => document.activeElement.getAttribute('aria-label') === label", arg=f"Buy {symbol}"
    )
    assert buy.count() == 1

    # Paused: no more refreshes, and the choice outlives a reload.
    toggle = page.locator("#live-toggle")
    assert toggle.inner_text() == "Pause live updates"
    toggle.click()
    assert toggle.inner_text() == "Resume live updates"
    assert "paused" in page.inner_text("#live-state")
    asked = []
    page.on("request", lambda r: asked.append(r.url) if "/portfolio/live/" in r.url else None)
    page.wait_for_timeout(2500)
    assert asked == []
    page.reload()
    assert page.locator("#live-toggle").inner_text() == "Resume live updates"
    page.locator("#live-toggle").click()
    with page.expect_response("**/portfolio/live/"):
        pass


def test_chart_legends_are_buttons_and_charts_have_tables(open_page, world):
    b = open_page("desktop", world.student)
    page = b.page
    b.goto("/portfolio/")
    page.wait_for_function("() => window.Chart && Chart.getChart('performance-chart')")
    legend = page.locator("[data-chart-legend='performance-chart']")
    total = legend.get_by_role("button", name="Total value ($)")
    assert total.get_attribute("aria-pressed") == "false"
    total.focus()
    page.keyboard.press("Space")
    assert total.get_attribute("aria-pressed") == "true"
    assert page.evaluate("() => Chart.getChart('performance-chart').isDatasetVisible(2)")
    assert (
        page.evaluate("() => Chart.getChart('performance-chart').options.plugins.legend.display")
        is False
    )
    slices = page.locator("[data-chart-legend='allocation-chart'] button")
    assert slices.count() >= 2
    assert page.inner_text("#allocation-summary").startswith("By sector, the largest part is ")
    page.get_by_text("Show the numbers as a table").click()
    rows = page.locator("[data-chart-table='performance-chart'] tbody tr")
    assert rows.count() >= 2

    b.goto(f"/prices/{world.ids['symbol']}/")
    page.wait_for_function("() => window.Chart && Chart.getChart('price-chart')")
    summary = page.inner_text("#price-chart-summary")
    assert summary.startswith(world.ids["symbol"]) and "previous close $" in summary
    page.get_by_text("Show the numbers as a table").click()
    assert page.locator("[data-chart-table='price-chart'] tbody tr").count() >= 2
    assert page.locator("[data-chart-legend='price-chart'] button").count() == 2


def test_the_quote_pages_live_price_can_be_paused(open_page, world):
    b = open_page("desktop", world.student)
    page = b.page
    b.goto(f"/prices/{world.ids['symbol']}/")
    assert not page.evaluate("() => window.TradeSimLive.paused()")
    page.locator("#live-toggle").click()  # price-chart.js asks before each refresh
    assert page.evaluate("() => window.TradeSimLive.paused()")
    assert page.locator("#live-toggle").inner_text() == "Resume live updates"
    assert page.inner_text("#live-state") == "Live updates are paused."
