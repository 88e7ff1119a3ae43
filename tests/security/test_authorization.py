"""Who gets what, for every URL the resolver knows.

The table EXPECTED classifies every URL of the site by name; a URL added without being
classified here fails `test_every_url_is_classified`. Each page is then fetched by an
anonymous visitor, a student (alice), another student (bob) and an instructor, and bob's
copy of every page and export is searched for alice's data. Every admin URL is fetched
by an anonymous visitor and by a student, who both must be sent to the admin's log-in.
"""

import re
from decimal import Decimal

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.roles import ensure_instructor_group
from api.services import create_token
from ledger.services import deposit
from tests.factories import ClassroomFactory, InstructorFactory, PriceFactory, StudentFactory
from tests.security.helpers import PATH_VALUES, admin_urls, money_state, site_urls
from trading.models import MarginCall
from trading.services import buy

# What a persona gets: a status code, or one of these redirects.
LOGIN = "login"  # 302 to /accounts/login/?next=<the page>
ADMIN_LOGIN = "admin login"  # 302 to /admin/login/?next=<the page>
DASHBOARD = "dashboard"  # 302 to /portfolio/ (a logged-in user has no use for the page)

PUBLIC_FOR_VISITORS = {"anon": 200, "student": DASHBOARD, "instructor": DASHBOARD}
PUBLIC = {"anon": 200, "student": 200, "instructor": 200}
PRIVATE = {"anon": LOGIN, "student": 200, "instructor": 200}

# Every non-admin URL by name: how a GET is answered per persona. "student" stands for
# both students (each sees their own page). Instructors have no cash account: their money
# pages render empty, and any order or movement they send is refused by the service.
EXPECTED = {
    "home": PUBLIC_FOR_VISITORS,
    "glossary": PUBLIC,
    "healthz": PUBLIC,
    "favicon": {"anon": 301, "student": 301, "instructor": 301},
    "moved_class_admin": {"anon": 302, "student": 302, "instructor": 302},
    "register": PUBLIC_FOR_VISITORS,
    "login": PUBLIC_FOR_VISITORS,
    # Open to a logged-in user too: on a shared device a card logs its own student in.
    "login_card": PUBLIC,
    # GET shows the button that POSTs; a visitor is sent home.
    "logout": {"anon": 302, "student": 200, "instructor": 200},
    "profile": PRIVATE,
    "password_change": PRIVATE,
    "prices:market": PUBLIC,
    "prices:news": PUBLIC,
    "prices:quote": PUBLIC,
    "prices:quote_live": PUBLIC,
    "ledger:journal": PRIVATE,
    "ledger:deposit": PRIVATE,
    "ledger:withdraw": PRIVATE,
    "portfolio:dashboard": PRIVATE,
    "portfolio:live": PRIVATE,
    "portfolio:holdings_csv": PRIVATE,
    "portfolio:leaderboard": PRIVATE,
    "classes:rules": PRIVATE,
    "trading:history": PRIVATE,
    "trading:buy": PRIVATE,
    "trading:sell": PRIVATE,
    "trading:orders": PRIVATE,
    "trading:order_new": PRIVATE,
    # POST only: a GET is refused (405) once logged in.
    "trading:cancel_order": {"anon": LOGIN, "student": 405, "instructor": 405},
    # The form; an instructor is told instructors don't join, and a join is refused.
    "classes:join": PRIVATE,
    # One's own API tokens; a token that is not one's own (none here) is not found.
    "api_tokens:list": PRIVATE,
    "api_tokens:revoke": {"anon": LOGIN, "student": 404, "instructor": 404},
    # The API's document and the pages about the API (its reference, error codes and
    # guide) are public: read before making a token. Anything under /api/ that is not the
    # API is a problem document (404). The API's operations are classified below, from
    # that document.
    "api:openapi-json": PUBLIC,
    "api_reference": PUBLIC,
    "api_errors": PUBLIC,
    "api_guide": PUBLIC,
    "api:api-root": {"anon": 404, "student": 404, "instructor": 404},
    "not_found": {"anon": 404, "student": 404, "instructor": 404},
}


def api_operations() -> dict[str, dict]:
    """Every operation of the API's OpenAPI document, so one added later is classified
    too: it takes a bearer token, never the session, so a browser's GET is answered 401
    whoever is logged in (405 where it takes no GET). tests/api/test_authorization.py
    sweeps each one with tokens."""
    from api.main import api

    methods = {
        re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES.get(m[1], "1"), path): set(operations)
        for path, operations in api.get_openapi_schema()["paths"].items()
    }
    found = {}
    for name, path in site_urls().items():
        if name.startswith("api:") and path in methods:
            status = 401 if "get" in methods[path] else 405
            found[name] = {"anon": status, "student": status, "instructor": status}
    return found


EXPECTED.update(api_operations())

# Extra query strings fetched for a URL name: the exports and filters.
VARIANTS = {
    "ledger:journal": ["", "?format=csv", "?type=deposit&symbol=ZAL"],
    "trading:history": ["", "?format=csv", "?symbol=ZAL"],
    "trading:orders": ["", "?format=csv", "?status=open", "?symbol=ZAL"],
    "prices:news": ["", "?kind=earnings&symbol=ZAL"],
}

# Pages that show other students by design: the leaderboard ranks everyone by name and
# total value (never their cash, holdings or notes).
SHARED_BY_DESIGN = {"portfolio:leaderboard": ["alice", "12,345.67"]}

# The classroom -----------------------------------------------------------------------


@pytest.fixture
def classroom(student, other_student, instructor):
    """alice: $10,000, deposits $2,345.67 ("Aunt Ida"), buys 37 ZAL at $123.45 ($4,567.65),
    leaving $7,778.02 cash and $12,345.67 in total. bob: $10,000 and a $100.00 deposit.
    Both are in Period 1, the teacher's class."""
    PriceFactory(symbol="ZAL", price=Decimal("123.45"), name="Zalando Trading")
    deposit(user=student, amount=Decimal("2345.67"), description="Aunt Ida's gift")
    buy(user=student, symbol="ZAL", quantity=37)
    deposit(user=other_student, amount=Decimal("100.00"), description="Pocket money")
    instructor.groups.add(ensure_instructor_group())
    period = ClassroomFactory(name="Period 1")
    period.owners.add(instructor)
    for user in (student, other_student):
        user.classroom = period
        user.save(update_fields=["classroom"])
    # A margin call of hers, met long ago: a row of every table the admin lists.
    MarginCall.objects.create(
        user=student,
        opened_day=1,
        due_day=1,
        equity=Decimal("4000.00"),
        requirement=Decimal("4200.00"),
        status=MarginCall.Status.MET,
        met_at=timezone.now(),
    )
    return {"alice": student, "bob": other_student, "teacher": instructor}


# What is alice's and nobody else's (bob's pages must show none of it).
ALICE_PRIVATE = [
    "alice@school.example",
    "Aunt Ida",
    "7,778.02",  # her cash
    "7778.02",
    "4,567.65",  # her purchase
    "4567.65",
    "12345.67",  # her total, unformatted (exports)
]
ALICE_NAMED = ["alice", "12,345.67"]


def clients(classroom) -> dict[str, Client]:
    made = {"anon": Client()}
    for persona, username in [("student", "alice"), ("other", "bob"), ("instructor", "teacher")]:
        made[persona] = Client()
        made[persona].force_login(classroom[username])
    return made


def body(response) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


def check(response, expected, path):
    where = f"GET {path}"
    if expected == LOGIN:
        assert response.status_code == 302, where
        assert response.url.startswith(reverse("login") + "?next="), where
    elif expected == ADMIN_LOGIN:
        assert response.status_code == 302, where
        assert response.url.startswith(reverse("admin:login")), where
    elif expected == DASHBOARD:
        assert response.status_code == 302, where
        assert response.url == reverse("portfolio:dashboard"), where
    else:
        assert response.status_code == expected, f"{where}: {response.status_code}"


# Tests -------------------------------------------------------------------------------


def test_every_url_is_classified():
    names = set(site_urls())
    unclassified = sorted(names - set(EXPECTED))
    stale = sorted(set(EXPECTED) - names)
    assert unclassified == [], f"add these URLs to EXPECTED in {__name__}: {unclassified}"
    assert stale == [], f"these URLs are gone; remove them from EXPECTED: {stale}"


@pytest.mark.django_db
def test_each_persona_gets_what_the_table_says(classroom):
    personas = clients(classroom)
    for name, path in site_urls().items():
        for variant in VARIANTS.get(name, [""]):
            for persona, client in personas.items():
                key = "student" if persona == "other" else persona
                check(client.get(path + variant), EXPECTED[name][key], path + variant)


@pytest.mark.django_db
def test_alices_pages_show_her_data(classroom):
    """The markers the leak test looks for are really on alice's own pages (so the test
    below would see them if they leaked)."""
    alice = clients(classroom)["student"]
    seen = "".join(
        body(alice.get(path + variant))
        for name, path in site_urls().items()
        if EXPECTED[name]["student"] == 200
        for variant in VARIANTS.get(name, [""])
    )
    for marker in ALICE_PRIVATE:
        assert marker in seen, marker


@pytest.mark.django_db
def test_another_student_never_sees_alices_data(classroom):
    bob = clients(classroom)["other"]
    alice_id = classroom["alice"].pk
    # Parameters a curious student might try, on every page.
    probes = ["", f"?user={alice_id}&user_id={alice_id}&owner={alice_id}&pk={alice_id}"]
    for name, path in site_urls().items():
        for variant in VARIANTS.get(name, [""]):
            for probe in probes:
                joiner = "&" if "?" in variant and probe else ""
                url = path + variant + joiner + (probe.lstrip("?") if joiner else probe)
                page = body(bob.get(url))
                forbidden = ALICE_PRIVATE + [
                    m for m in ALICE_NAMED if m not in SHARED_BY_DESIGN.get(name, [])
                ]
                for marker in forbidden:
                    assert marker not in page, f"bob sees {marker!r} at {url}"


@pytest.mark.django_db
def test_the_leaderboard_shares_only_name_and_total(classroom):
    page = body(clients(classroom)["other"].get(reverse("portfolio:leaderboard")))
    assert "alice" in page
    assert "12,345.67" in page


@pytest.mark.django_db
def test_anonymous_posts_change_nothing_and_ask_to_log_in(classroom):
    anon = Client()
    before = money_state()
    for name, path in site_urls().items():
        if EXPECTED[name]["anon"] != LOGIN:
            continue
        response = anon.post(path, {"amount": "100", "symbol": "ZAL", "quantity": "1"})
        check(response, LOGIN, f"POST {path}")
    assert money_state() == before


@pytest.mark.django_db
def test_every_admin_url_sends_visitors_and_students_to_the_admin_log_in(classroom):
    personas = clients(classroom)
    urls = admin_urls()
    assert len(urls) > 50  # the walk reached every registered model's URLs
    for name, path in urls:
        for persona in ("anon", "student"):
            response = personas[persona].get(path)
            if name == "admin:login":
                assert response.status_code == 200, path
            elif name == "admin:logout":
                # The admin sends a visitor who is not staff from its log-out to its index,
                # which asks them to log in.
                assert (response.status_code, response.url) == (302, reverse("admin:index"))
            else:
                check(response, ADMIN_LOGIN, path)


@pytest.mark.django_db
def test_an_instructor_reads_every_students_money_in_the_admin(classroom):
    from ledger.models import Transaction

    teacher = clients(classroom)["instructor"]
    row = Transaction.objects.filter(user=classroom["alice"], description__contains="Aunt").get()
    pages = {
        "admin:index": {},
        "admin:ledger_balance_changelist": {},
        "admin:ledger_transaction_changelist": {},
        "admin:ledger_transaction_change": {"object_id": row.pk},
        "admin:trading_trade_changelist": {},
        "admin:trading_order_changelist": {},
        "admin:portfolio_holding_changelist": {},
        "admin:accounts_user_changelist": {},
    }
    seen = ""
    for name, kwargs in pages.items():
        response = teacher.get(reverse(name, kwargs=kwargs))
        assert response.status_code == 200, name
        seen += body(response)
    for marker in ["alice", "bob", "Aunt Ida", "7,778.02"]:
        assert marker in seen


# Another class's instructor -------------------------------------------------------------


@pytest.fixture
def colleague(classroom, settings):
    """Ms Bee runs Period 2 (carol); alice has a row in every table the console shows."""
    from console.services import grant_cash
    from portfolio.services import after_tick

    bee = InstructorFactory(username="msbee", email="bee@school.example")
    bee.groups.add(ensure_instructor_group())
    # Beyond the Instructors group, so the portfolio's own lists are tried too.
    bee.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_portfoliosummary", "view_portfoliosnapshot"])
    )
    period2 = ClassroomFactory(name="Period 2")
    period2.owners.add(bee)
    StudentFactory(username="carol", email="carol@school.example", classroom=period2)
    create_token(user=classroom["alice"], name="Momentum bot")
    grant_cash(student=classroom["alice"], instructor=classroom["teacher"], amount="1", reason="x")
    settings.SNAPSHOT_EVERY_TICKS = 1
    after_tick(ticks=1, timestamp=timezone.now())
    client = Client()
    client.force_login(bee)
    return client


def _alices_row(name: str, alice) -> str:
    """The id of alice's row (or her class) in the model an admin URL name is about."""
    match = re.fullmatch(
        r"admin:(\w+?)_(\w+)_(change|history|delete|password_change|overview)", name
    )
    if not match:
        return PATH_VALUES["object_id"]
    app_label, model_name = match[1], match[2]
    if name == "admin:auth_user_password_change":
        app_label, model_name = "accounts", "user"
    model = apps.get_model(app_label, model_name)
    if model is get_user_model():
        return str(alice.pk)
    if model._meta.label == "classrooms.Classroom":
        return str(alice.classroom_id)
    for field in ("user", "student"):
        if any(f.name == field and f.many_to_one for f in model._meta.get_fields()):
            row = model.objects.filter(**{field: alice}).first()
            assert row is not None, f"alice has no {model._meta.label} row"
            return str(row.pk)
    return PATH_VALUES["object_id"]


@pytest.mark.django_db
def test_another_classs_instructor_sees_none_of_alices_data_anywhere_in_the_admin(
    classroom, colleague
):
    alice = classroom["alice"]
    markers = [*ALICE_PRIVATE, "alice", "Period 1"]
    pages = 0
    for name, path in admin_urls():
        if name in ("admin:logout", "admin:<unnamed (?P<url>.*)$>"):
            continue
        path = path.replace("/1/", f"/{_alices_row(name, alice)}/")
        for query in ["", f"?ids={alice.pk}", f"?class={alice.classroom_id}", "?q=alic"]:
            response = colleague.get(path + query)
            assert response.status_code in (200, 302, 403, 404), f"{path}{query}"
            pages += response.status_code == 200
            page = body(response)
            for marker in markers:
                assert marker not in page, f"msbee sees {marker!r} at {path}{query}"
    assert pages > 40  # the sweep opened real pages, not only refusals


@pytest.mark.django_db
def test_only_the_classs_own_instructor_opens_its_overview(classroom, colleague):
    url = reverse("admin:classrooms_classroom_overview", args=[classroom["alice"].classroom_id])
    own = body(clients(classroom)["instructor"].get(url))
    assert "alice" in own and "bob" in own
    response = colleague.get(url)
    assert response.status_code == 404
    assert "alice" not in body(response)


@pytest.mark.django_db
def test_another_classs_instructor_cannot_move_alices_money(classroom, colleague):
    alice = classroom["alice"]
    before = money_state()
    for name in ("admin:accounts_user_grant_cash", "admin:accounts_user_reset"):
        colleague.post(
            reverse(name) + f"?ids={alice.pk}",
            {"amount": "100", "reason": "Mine", "confirm": "on", "token": "t"},
        )
    colleague.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "grant_cash_action", "_selected_action": [str(alice.pk)]},
    )
    assert money_state() == before


@pytest.mark.django_db
def test_another_classs_instructor_cannot_cancel_alices_orders(classroom, colleague):
    from trading.models import Order
    from trading.services import order_request, place_order

    alice = classroom["alice"]
    waiting = place_order(
        user=alice,
        request=order_request(
            side="sell", type="limit", symbol="ZAL", quantity=5, limit_price="200.00"
        ),
    )
    before = money_state(), list(Order.objects.values_list("pk", "status", "held_shares"))
    cancel = reverse("admin:accounts_user_cancel_orders", args=[alice.pk])
    orders = reverse("admin:trading_order_changelist")

    for data in [{"order": str(waiting.pk)}, {"order": "all"}]:
        response = colleague.post(cancel, data)
        assert response.status_code == 302 and response.url == reverse("admin:index")
    colleague.post(orders, {"action": "cancel_action", "_selected_action": [str(waiting.pk)]})

    assert (money_state(), list(Order.objects.values_list("pk", "status", "held_shares"))) == (
        before
    )
