"""No input reaches a 500.

Every page the resolver knows is fetched, and sent odd values in each query parameter it
reads: the fields of its GET forms and the query strings of its links back to itself
(filters, sorting, paging, exports), `page` and `next`, which any page may be sent, and,
for an admin list, its date hierarchy and search; the admin's autocomplete gets odd terms.
Every POST form those pages show (students' and the admin's: adding and changing every
model, the actions, granting and resetting) is submitted with each field in turn spoiled,
and with each field sent twice. So a new page, filter, list or form is swept without
being named here.

Values that a field may accept and pass further in (huge and negative numbers, the first
and last days Python knows) go to one parameter or field at a time, and so does a NUL
byte to a query parameter; values refused or kept as text wherever they go (a date past
9999, a very long string, odd unicode, a repeat, a NUL in a form) go to all of a page's
parameters or a form's fields at once, which keeps the sweep to some fifteen hundred
requests. An export (?format=csv) is swept as a page of its own, and every parameter in
a path (a symbol, a row's id) gets odd values too.

Students' pages are fetched by a student, or by a visitor where a student is sent away;
the admin's by a superuser, who sees every list and form, and a student's page in the
admin by an instructor too. Nothing may answer 5xx, a streamed download must be read to its end, no
answer may show a database constraint's name, and a field a form reads, sent twice, is a
400 that moves no money. Each request runs in a savepoint that is rolled back, so every
one starts from the same classroom.
"""

import re
from contextlib import contextmanager
from decimal import Decimal

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db import transaction
from django.forms import BaseForm
from django.forms.formsets import ManagementForm
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.roles import ensure_instructor_group
from api.services import create_token
from console.services import grant_cash
from ledger.services import deposit
from portfolio.services import take_snapshots
from prices.services import set_halted
from tests.factories import (
    ClassroomFactory,
    MarketEventFactory,
    PriceFactory,
    PriceHistoryFactory,
    UserFactory,
)
from tests.security.helpers import (
    PATH_VALUES,
    admin_urls,
    all_urls,
    link_parameters,
    link_values,
    money_state,
    page_forms,
    site_urls,
)
from tradesim.forms import sent_names
from trading.services import buy, sell

pytestmark = pytest.mark.django_db

# One parameter or field at a time: values a field may accept and pass further in. A
# form's field gets the days only if it is a date input; a query parameter gets them all,
# and a NUL on its own too: the admin's lists read theirs one by one, so a refusal of one
# would hide another.
NUMBERS = ["99999999999999999999", "-1"]
DAYS = ["0001-01-01", "9999-12-31"]
EACH = [*NUMBERS, *DAYS]
EACH_PARAMETER = [*EACH, "\x00"]
# All of a page's parameters, or a form's fields, at once: values refused wherever they
# go (a NUL, a date past year 9999, a repeat), or kept as text. (A year past 9999 on its
# own is EACH's huge number, sent to a year.)
ALL_AT_ONCE = ["\x00", "10000-01-01", "x" * 5000, "ı𝟏\u202e\ufeff€", ["1", "2"]]
# Parameters any page may be sent, whether or not it links to them: one at a time where
# the page has filters, else with the rest at once.
EVERY_PAGE = {"page", "next"}
# What the console's own admin views read (grant, reset: ids; standings: class), and
# what Django's admin pages read besides their forms.
CONSOLE = {"ids", "class"}
ADMIN_PAGE = CONSOLE | {"_changelist_filters", "_to_field", "_popup"}
# A changelist's own parameters, the same code for every list: all at once.
CHANGELIST_OWN = {"q", "o", "p", "e", "all", "_facets"}
# A formset's rows (the admin's inline rows), which no form of the page reads, and the
# counts in its management form, which the formset reads to build them.
FORMSET_ROW = re.compile(r"-\d+-")
FORMSET_COUNTS = ("-TOTAL_FORMS", "-INITIAL_FORMS")
CONSTRAINT_NAME = re.compile(
    "|".join(
        re.escape(constraint.name)
        for model in apps.get_models()
        for constraint in model._meta.constraints
    )
)


# The classroom -----------------------------------------------------------------------


@pytest.fixture
def world(student, other_student, instructor):
    """alice (Period 1) has deposited, bought, sold and been granted cash; bob is in no
    class; the market has two symbols, a halt, an event, history and snapshots; there is
    one row of each of the log-in records. Every list then has rows, filters and dates."""
    period = ClassroomFactory(name="Period 1")
    student.classroom = period
    student.save()
    zal = PriceFactory(symbol="ZAL", price=Decimal("123.45"), sector="Retail")
    PriceFactory(symbol="AAPL", price=Decimal("200.00"))
    PriceHistoryFactory(stock=zal, price=Decimal("120.00"))
    deposit(user=student, amount=Decimal("100.00"), description="Gift")
    buy(user=student, symbol="ZAL", quantity=3)
    sell(user=student, symbol="ZAL", quantity=1)
    instructor.groups.add(ensure_instructor_group())
    grant_cash(student=student, instructor=instructor, amount="50", reason="Prize")
    set_halted(symbols=["AAPL"], halted=True, by=instructor)
    MarketEventFactory(stock=zal)
    take_snapshots(timestamp=timezone.now())
    seen = {"user_agent": "x", "ip_address": "127.0.0.1", "username": "alice"}
    seen |= {"http_accept": "x", "path_info": "/accounts/login/"}
    AccessAttempt.objects.create(**seen, get_data="", post_data="", failures_since_start=1)
    AccessLog.objects.create(**seen)
    AccessFailureLog.objects.create(**seen)
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    clients = {"anon": Client(raise_request_exception=False)}
    for name, user in [("alice", student), ("teacher", instructor), ("root", root)]:
        clients[name] = Client(raise_request_exception=False)
        clients[name].force_login(user)
    return clients


# Sending -----------------------------------------------------------------------------


@contextmanager
def rolled_back():
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def body(response) -> str:
    """The whole answer; a streamed one is read to its end (it fails, if at all, here)."""
    if response.streaming:
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


def read_fields(response) -> set[str]:
    """The names the page's form reads (the view's `form`, the admin's `adminform`): each
    field's, or each part's of a split one."""
    names = set()
    for context in response.context or []:
        for key in ("form", "adminform"):
            form = getattr(context.get(key), "form", context.get(key))
            if isinstance(form, BaseForm) and not isinstance(form, ManagementForm):
                for bound in form:
                    names.update(sent_names(bound))
    return names


class Sweep:
    """Sends requests as one persona, each in a savepoint that is rolled back, and notes
    what went wrong."""

    def __init__(self, client):
        self.client = client
        self.problems: list[str] = []
        self.sent = 0
        self.read: set[str] = set()

    def send(self, method: str, url: str, data, *, shown, twice: str | None = None):
        """`shown`: the part of `data` to name in a problem (what was spoiled)."""
        self.sent += 1
        where = f"{method.upper()} {url} {_short(shown)}"
        with rolled_back():
            before = money_state() if twice else None
            try:
                response = getattr(self.client, method)(url, data)
                page = body(response)
            except Exception as error:  # a stream that broke after its headers went out
                self.problems.append(f"{where}: {type(error).__name__}: {error}")
                return
            if response.status_code >= 500:
                self.problems.append(f"{where}: {response.status_code}")
            if shown_names := CONSTRAINT_NAME.findall(page):
                self.problems.append(f"{where}: shows the constraint {shown_names}")
            if twice and response.status_code != 400:
                self.problems.append(f"{where}: sent twice, got {response.status_code}")
            if twice and money_state() != before:
                self.problems.append(f"{where}: sent twice, moved money")

    def page(self, url: str) -> str | None:
        """The page as the persona sees it, or None when it is not theirs to see."""
        with rolled_back():
            response = self.client.get(url)
            page = body(response)
        if response.status_code >= 500:
            self.problems.append(f"GET {url}: {response.status_code}")
        self.read = read_fields(response) if response.status_code == 200 else set()
        return page if response.status_code == 200 else None

    def query(self, url: str, each: set[str], together: set[str] = frozenset()) -> None:
        base = url + ("&" if "?" in url else "?")
        for name in sorted(each):
            for value in EACH_PARAMETER:
                self.send("get", base, {name: value}, shown={name: value})
        everything = sorted(each | together)
        for value in ALL_AT_ONCE:
            self.send("get", base, dict.fromkeys(everything, value), shown={"*": value})
        self.send("get", base + "a%00b=1", {}, shown={"a\x00b": "1"})

    def forms(self, url: str, page: str, *, each: bool = True) -> None:
        """Every POST form of the last page fetched: each field it reads spoiled in turn
        (every field, if the page's form is not Django's to read, as for an admin
        list's actions; the far days only in a date input), and sent twice (a field
        taking several values may repeat), then every field spoiled at once. A
        formset's counts are spoiled too: the formset reads them. `each=False` leaves
        out the spoiling field by field (for a second persona on the same form)."""
        for form in page_forms(page):
            action = form.action or url
            # A form that posts to another page is swept there (the quote page's order
            # ticket on the order page); a log-out would end the session under test.
            if form.method != "post" or action.split("?")[0] != url.split("?")[0]:
                continue
            rendered = {k: v for k, v in form.fields.items() if k != "csrfmiddlewaretoken"}
            for name in rendered:
                if each and (
                    name.endswith(FORMSET_COUNTS)
                    or (not FORMSET_ROW.search(name) and (name in self.read or not self.read))
                ):
                    for value in EACH if name in form.dates else NUMBERS:
                        data = {**rendered, name: [value]}
                        self.send("post", action, data, shown={name: value})
                if name in self.read and name not in form.several:
                    twice = [*rendered[name][:1], "1"] if rendered[name] else ["1", "2"]
                    data = {**rendered, name: twice}
                    self.send("post", action, data, shown={name: twice}, twice=name)
            for value in ALL_AT_ONCE:
                self.send("post", action, dict.fromkeys(rendered, value), shown={"*": value})


def _short(data: dict) -> str:
    return str({k: (str(v)[:30] + "…" if len(str(v)) > 30 else v) for k, v in data.items()})


def verdict(sweeps: list[Sweep], at_least: int) -> None:
    assert sum(sweep.sent for sweep in sweeps) >= at_least, "the sweep sent too few requests"
    problems = [problem for sweep in sweeps for problem in sweep.problems]
    assert problems == [], "\n".join(problems)


# Students' pages -----------------------------------------------------------------------

STUDENT_PAGES = sorted(site_urls().items())


@pytest.mark.parametrize(("name", "url"), STUDENT_PAGES, ids=[n for n, _ in STUDENT_PAGES])
def test_no_students_page_answers_500(world, name, url):
    sweep = Sweep(world["alice"])
    page = sweep.page(url)
    if page is None:  # sent away: a visitor's page (log-in, sign-up), or not a page
        sweep = Sweep(world["anon"])
        page = sweep.page(url)
    names = set()
    if page is not None:
        names |= link_parameters(page, url)
        for form in page_forms(page):
            if form.method == "get" and form.action in ("", url):
                names |= set(form.fields)
        sweep.forms(url, page)
    # A page with filters may page and be sent `next` too: those one at a time as well.
    if names:
        names |= EVERY_PAGE
    sweep.query(url, names, EVERY_PAGE)
    # Its exports (?format=csv), streamed: each filter again, the download read to its end.
    for export in link_values(page or "", url, "format"):
        sweep.query(f"{url}?format={export}", names - {"format", "page"})

    verdict([sweep], at_least=len(names) * len(EACH) + len(ALL_AT_ONCE))


def test_no_token_revoke_page_answers_500(world, student):
    """The page that confirms revoking a token is the student's own token's (the sweep
    above fetches /1/, which is nobody's): it, its form and its parameters."""
    token = create_token(user=student, name="Momentum bot").token
    url = reverse("api_tokens:revoke", args=[token.pk])
    sweep = Sweep(world["alice"])
    page = sweep.page(url)
    assert page is not None and "Momentum bot" in page
    sweep.forms(url, page)
    sweep.query(url, EVERY_PAGE)

    verdict([sweep], at_least=len(ALL_AT_ONCE) * 2)


# The admin ---------------------------------------------------------------------------

ADMIN_APPS = sorted({model._meta.app_label for model in admin.site._registry})


def models_of(app_label: str) -> list:
    return [
        (model, model_admin)
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label == app_label
    ]


@pytest.mark.parametrize("app_label", ADMIN_APPS)
def test_no_admin_list_answers_500(world, app_label):
    """Each list of the app with its filters, date hierarchy, search, sorting and paging,
    its actions form where it has actions of its own, and the autocomplete of each field
    that has one."""
    sweeps = []
    for model, model_admin in models_of(app_label):
        url = reverse(f"admin:{app_label}_{model._meta.model_name}_changelist")
        sweep = Sweep(world["root"])
        sweeps.append(sweep)
        if getattr(model_admin, "one_row", False):
            # A one-row admin (the market's parameters): its list is its change page.
            url = sweep.client.get(url)["Location"]
        page = sweep.page(url)
        assert page is not None, url
        filters = link_parameters(page, url) - CHANGELIST_OWN
        if model_admin.date_hierarchy:
            parts = ("year", "month", "day")
            filters |= {f"{model_admin.date_hierarchy}__{part}" for part in parts}
        sweep.query(url, filters, CHANGELIST_OWN)
        if model_admin.actions:  # its own actions; Django's delete is the same everywhere
            sweep.forms(url, page)
        for field in model_admin.autocomplete_fields:
            source = f"app_label={app_label}&model_name={model._meta.model_name}"
            autocomplete = f"{reverse('admin:autocomplete')}?{source}&field_name={field}"
            sweep.query(autocomplete, {"term", "page"})

    verdict(sweeps, at_least=len(EACH))


@pytest.mark.parametrize("app_label", ADMIN_APPS)
def test_no_admin_form_answers_500(world, app_label):
    """Every add and change form of the app's models, as a superuser. A student's page
    also as an instructor, whose form is the console's own (the superuser's adds Django's
    fields for roles, permissions and dates): the instructor's is spoiled field by field,
    the superuser's is sent twice and spoiled at once."""
    sweeps = []
    for model, _ in models_of(app_label):
        prefix = f"admin:{app_label}_{model._meta.model_name}"
        # (url, persona, spoil field by field)
        visits = [(reverse(f"{prefix}_add"), "root", True)]
        if (saved := model.objects.order_by("pk").first()) is not None:
            change = reverse(f"{prefix}_change", args=[saved.pk])
            if model is get_user_model():
                visits += [(change, "root", False), (change, "teacher", True)]
            else:
                visits.append((change, "root", True))
        for url, persona, each in visits:
            sweep = Sweep(world[persona])
            sweeps.append(sweep)
            if (page := sweep.page(url)) is not None:
                sweep.forms(url, page, each=each)

    verdict(sweeps, at_least=0)


def test_no_other_admin_page_answers_500(world, student):
    """The admin's own pages and the console's views (grant, reset, standings) with the
    parameters they read; the lists and the add and change forms are swept above."""
    sweep = Sweep(world["root"])
    swept_above = ("_changelist", "_add", "_change", "_delete", "_history", "autocomplete")
    for name, url in admin_urls():
        if name.endswith(swept_above) or name == "admin:logout":
            continue
        if name.endswith(("_grant_cash", "_reset")):
            url = f"{url}?ids={student.pk}"
        page = sweep.page(url)
        names = set(ADMIN_PAGE)
        if page is not None:
            names |= link_parameters(page, url.split("?")[0])
            sweep.forms(url, page)
        console = name.startswith("admin:accounts_")
        sweep.query(url, CONSOLE if console else set(), names)

    verdict([sweep], at_least=100)


# What a path parameter (a symbol, a row's id) is filled with, quoted for the path.
PATH_PARAMETER = [
    "%00",
    "99999999999999999999",
    "x" * 300,
    "%C4%B1%F0%9D%9F%8F%E2%80%AE..%2F",  # ı𝟏, a right-to-left override, a way up
]


def test_no_path_parameter_answers_500(world):
    """Every URL with parameters in its path (a quote's symbol, an admin row's id), each
    filled with odd values: the admin's as a superuser, the others as a student."""
    student, root = Sweep(world["alice"]), Sweep(world["root"])
    plain = dict(all_urls())
    for value in PATH_PARAMETER:
        for name, url in all_urls(value=value):
            if url != plain[name]:  # it has parameters
                sweep = root if name.startswith("admin:") else student
                sweep.send("get", url, {}, shown={"path": url[:60]})

    verdict([student, root], at_least=len(PATH_PARAMETER) * len(PATH_VALUES))


@pytest.mark.parametrize("name", ["trading:buy", "trading:sell"])
def test_the_old_order_urls_take_the_ticket_without_a_500(world, name):
    """The order pages' ticket posts to /trading/orders/new/ and is swept there; /trading/buy/
    and /trading/sell/ still take an order (a market order: they read no side, type, price
    or duration), so the same form is swept at each of them too."""
    url = reverse(name)
    sweep = Sweep(world["alice"])
    page = sweep.page(url + "?symbol=ZAL")
    ticket = reverse("trading:order_new")
    assert f'action="{ticket}"' in page
    sweep.read -= {"side", "type", "limit_price", "stop_price", "trail_percent", "trail_amount"}
    sweep.read.discard("duration")
    sweep.forms(url, page.replace(f'action="{ticket}"', f'action="{url}"'))

    verdict([sweep], at_least=len(NUMBERS) * 5)


def test_the_sweep_finds_every_kind_of_input(world):
    """The discovery sees what it is meant to: the students' filters, the admin's list
    filters and date hierarchy, and the forms that move money with their fields."""
    alice, root = Sweep(world["alice"]), Sweep(world["root"])
    journal = alice.page(reverse("ledger:journal"))
    history = alice.page(reverse("trading:history"))
    deposit_page = alice.page(reverse("ledger:deposit"))
    read = alice.read
    trades = root.page(reverse("admin:trading_trade_changelist"))

    get_fields = {n for f in page_forms(journal) if f.method == "get" for n in f.fields}
    assert {"type", "start", "end", "symbol"} <= get_fields
    assert "format" in link_parameters(history, reverse("trading:history"))
    assert {"operation__exact", "timestamp__year"} <= link_parameters(
        trades, reverse("admin:trading_trade_changelist")
    )
    posted = [f for f in page_forms(deposit_page) if f.method == "post" and "amount" in f.fields]
    assert posted and {"amount", "description", "token"} <= set(posted[0].fields)
    assert {"amount", "description", "token"} <= read
