from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.roles import ensure_instructor_group
from prices.models import MarketEvent, MarketParameters, Price, PriceHistory
from prices.services import MARKET_PARAMETER_FIELDS
from tests.factories import InstructorFactory
from tests.prices.conftest import make_symbols
from tradesim.models import AuditEntry

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:prices_price_changelist")


def change_url(price):
    return reverse("admin:prices_price_change", args=[price.pk])


def act(client, action, *symbols):
    ids = Price.objects.filter(symbol__in=symbols).values_list("pk", flat=True)
    return client.post(
        CHANGELIST, {"action": action, ACTION_CHECKBOX_NAME: [str(pk) for pk in ids]}, follow=True
    )


def halted() -> set[str]:
    return set(Price.objects.filter(halted=True).values_list("symbol", flat=True))


@pytest.fixture
def teacher_client(client, instructor):
    """An instructor in the Instructors group (the permissions the class console grants)."""
    instructor.groups.add(ensure_instructor_group())
    client.force_login(instructor)
    return client


def test_the_symbol_list_filters_by_sector_and_halted(admin_client, market):
    Price.objects.filter(symbol="XOM").update(halted=True)

    response = admin_client.get(CHANGELIST, {"sector": "Technology"})
    assert response.status_code == 200
    assert [p.symbol for p in response.context["cl"].result_list] == ["AAPL", "MSFT"]

    response = admin_client.get(CHANGELIST, {"halted__exact": "1"})
    assert [p.symbol for p in response.context["cl"].result_list] == ["XOM"]


def test_halt_and_resume_actions_go_through_the_service(admin_client, admin_user, market):
    response = act(admin_client, "halt_symbols", "AAPL", "MSFT")

    assert response.status_code == 200
    assert halted() == {"AAPL", "MSFT"}
    assert "Halted 2: AAPL, MSFT." in response.content.decode()
    assert set(AuditEntry.objects.values_list("actor", "action", "symbol")) == {
        (admin_user.pk, "halt", "AAPL"),
        (admin_user.pk, "halt", "MSFT"),
    }

    response = act(admin_client, "resume_symbols", "AAPL", "XOM")

    assert halted() == {"MSFT"}
    body = response.content.decode()
    assert "Resumed 1: AAPL." in body and "1 already trading; left as they were." in body


def test_an_instructor_may_halt_a_symbol(teacher_client, market):
    act(teacher_client, "halt_symbols", "XOM")
    assert halted() == {"XOM"}


def test_a_student_cannot_reach_the_admin(student_client, market):
    response = act(student_client, "halt_symbols", "XOM")
    assert halted() == set()
    assert response.redirect_chain[0][0].startswith(reverse("admin:login"))


def test_parameters_are_edited_through_the_service_and_audited(teacher_client, market):
    aapl = market["AAPL"]
    form = {"name": "Apple Inc.", "sector": "Technology", "drift": "0.11", "volatility": "0.3"}

    response = teacher_client.post(change_url(aapl), {**form, "beta": "1.25"})

    assert response.status_code == 302
    aapl.refresh_from_db()
    assert (aapl.drift, aapl.volatility, aapl.beta) == (0.11, 0.3, 1.25)
    assert aapl.price == Decimal("262.50")  # not editable here
    entry = AuditEntry.objects.get(action="parameters")
    assert entry.symbol == "AAPL" and "beta 1.0→1.25" in entry.detail


def test_a_parameter_out_of_range_is_refused_with_a_message(teacher_client, market):
    aapl = market["AAPL"]
    form = {"name": "Apple Inc.", "sector": "Technology", "drift": "0.08", "beta": "1.0"}

    response = teacher_client.post(change_url(aapl), {**form, "volatility": "5"})

    assert response.status_code == 400
    assert "volatility" in response.context["adminform"].form.errors
    aapl.refresh_from_db()
    assert aapl.volatility == 0.25


def test_the_price_and_the_halt_are_read_only_on_the_change_form(teacher_client, market):
    aapl = market["AAPL"]
    form = {"name": "Apple Inc.", "sector": "Technology", "drift": "0.08", "beta": "1.0"}

    teacher_client.post(
        change_url(aapl), {**form, "volatility": "0.25", "price": "1.00", "halted": "on"}
    )

    aapl.refresh_from_db()
    assert aapl.price == Decimal("262.50") and not aapl.halted


def test_a_superuser_lists_a_new_symbol(admin_client, market):
    response = admin_client.post(
        reverse("admin:prices_price_add"),
        {
            "symbol": "nflx",
            "name": "Netflix, Inc.",
            "sector": "Communication Services",
            "price": "108.00",
            "drift": "0.12",
            "volatility": "0.35",
            "beta": "1.25",
        },
    )

    assert response.status_code == 302
    nflx = Price.objects.get(symbol="NFLX")
    assert nflx.previous_close == Decimal("108.00")
    assert nflx.log_price == pytest.approx(4.682131227)
    assert PriceHistory.objects.filter(stock=nflx).count() == 1


def test_an_instructor_cannot_list_a_symbol(teacher_client, market):
    response = teacher_client.get(reverse("admin:prices_price_add"))
    assert response.status_code == 403


def test_an_instructor_schedules_a_market_event(teacher_client, instructor, market):
    response = teacher_client.post(
        reverse("admin:prices_marketevent_add"),
        {"stock": "XOM", "sector": "", "percent": "-12.5", "reason": "Refinery fire"},
    )

    assert response.status_code == 302
    event = MarketEvent.objects.get()
    assert (event.stock_id, event.percent, event.created_by) == (
        "XOM",
        Decimal("-12.50"),
        instructor,
    )
    assert event.applied_at is None
    assert AuditEntry.objects.filter(action="market_event", symbol="XOM").exists()


def test_a_sector_event_is_chosen_from_the_listed_sectors(teacher_client, market):
    url = reverse("admin:prices_marketevent_add")
    assert "Energy" in teacher_client.get(url).content.decode()

    teacher_client.post(url, {"stock": "", "sector": "Energy", "percent": "5"})

    assert MarketEvent.objects.get().sector == "Energy"


@pytest.mark.parametrize(
    "data",
    [
        {"stock": "XOM", "sector": "Energy", "percent": "5"},
        {"stock": "", "sector": "", "percent": "5"},
        {"stock": "XOM", "sector": "", "percent": "0"},
        {"stock": "XOM", "sector": "", "percent": "-100"},
        {"stock": "", "sector": "Shipping", "percent": "5"},
    ],
)
def test_a_bad_market_event_is_refused(teacher_client, market, data):
    response = teacher_client.post(reverse("admin:prices_marketevent_add"), data)

    assert response.status_code == 400
    assert response.context["adminform"].form.errors
    assert not MarketEvent.objects.exists()


def test_the_market_clock_is_read_only(admin_client, market):
    assert admin_client.get(reverse("admin:prices_marketstate_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:prices_marketstate_add")).status_code == 403


@pytest.mark.parametrize("model", ["price", "pricehistory", "marketevent", "marketstate"])
def test_every_market_page_of_the_admin_opens(admin_client, market, model):
    MarketEvent.objects.create(sector="Energy", percent=Decimal("3.00"))
    PriceHistory.objects.create(stock_id="AAPL", price=Decimal("262.50"))

    assert admin_client.get(reverse(f"admin:prices_{model}_changelist")).status_code == 200


# Large moves and cancelling -----------------------------------------------------------------

EVENT_ADD = reverse("admin:prices_marketevent_add")


@pytest.mark.parametrize("percent", ["-25.01", "40", "250"])
def test_a_move_beyond_25_percent_asks_for_confirmation_first(teacher_client, market, percent):
    data = {"stock": "XOM", "sector": "", "percent": percent, "reason": "Refinery fire"}

    first = teacher_client.post(EVENT_ADD, data)

    assert first.status_code == 400
    assert "tick the box to confirm" in first.content.decode()
    assert not MarketEvent.objects.exists() and not AuditEntry.objects.exists()

    second = teacher_client.post(EVENT_ADD, {**data, "confirm": "on"})

    assert second.status_code == 302
    assert MarketEvent.objects.get().percent == Decimal(percent)
    assert AuditEntry.objects.filter(action="market_event", symbol="XOM").count() == 1


@pytest.mark.parametrize("percent", ["25", "-25", "3"])
def test_a_move_within_25_percent_needs_no_confirmation(teacher_client, market, percent):
    response = teacher_client.post(EVENT_ADD, {"stock": "XOM", "sector": "", "percent": percent})

    assert response.status_code == 302
    assert MarketEvent.objects.count() == 1


def pending_and_applied():
    from django.utils import timezone

    pending = MarketEvent.objects.create(stock_id="XOM", percent=Decimal("-5"), reason="Spill")
    applied = MarketEvent.objects.create(
        stock_id="AAPL", percent=Decimal("4"), applied_at=timezone.now(), applied_day=1
    )
    return pending, applied


def test_an_instructor_cancels_pending_events_by_the_list_action(teacher_client, market):
    pending, applied = pending_and_applied()

    response = teacher_client.post(
        reverse("admin:prices_marketevent_changelist"),
        {"action": "cancel_events_action", ACTION_CHECKBOX_NAME: [pending.pk, applied.pk]},
        follow=True,
    )

    page = response.content.decode()
    assert "it will not move the market" in page
    assert "cannot be cancelled" in page
    pending.refresh_from_db()
    applied.refresh_from_db()
    assert pending.cancelled_at is not None and applied.cancelled_at is None
    assert AuditEntry.objects.filter(action="cancel_event", symbol="XOM").count() == 1


def test_a_pending_events_page_has_a_cancel_button_that_asks_first(teacher_client, market):
    pending, applied = pending_and_applied()
    cancel = reverse("admin:prices_marketevent_cancel", args=[pending.pk])

    assert (
        cancel
        in teacher_client.get(
            reverse("admin:prices_marketevent_change", args=[pending.pk])
        ).content.decode()
    )
    assert "Yes, cancel the event" in teacher_client.get(cancel).content.decode()
    pending.refresh_from_db()
    assert pending.is_pending  # asking changes nothing

    response = teacher_client.post(cancel)

    assert response.status_code == 302
    pending.refresh_from_db()
    assert pending.cancelled_at is not None
    page = teacher_client.get(response.url).content.decode()
    assert "Cancelled" in page and cancel not in page


def test_an_applied_event_says_it_cannot_be_cancelled(teacher_client, market):
    _, applied = pending_and_applied()
    cancel = reverse("admin:prices_marketevent_cancel", args=[applied.pk])

    assert (
        cancel
        not in teacher_client.get(
            reverse("admin:prices_marketevent_change", args=[applied.pk])
        ).content.decode()
    )
    assert "cannot be cancelled" in teacher_client.get(cancel).content.decode()
    response = teacher_client.post(cancel, follow=True)

    assert "cannot be cancelled" in response.content.decode()
    applied.refresh_from_db()
    assert applied.cancelled_at is None
    assert not AuditEntry.objects.filter(action="cancel_event").exists()


def test_cancelling_needs_the_permission_to_schedule(client, instructor, market):
    from django.contrib.auth.models import Permission

    instructor.user_permissions.add(Permission.objects.get(codename="view_marketevent"))
    client.force_login(instructor)
    pending, _ = pending_and_applied()

    response = client.post(reverse("admin:prices_marketevent_cancel", args=[pending.pk]))

    assert response.status_code == 403
    pending.refresh_from_db()
    assert pending.is_pending


def test_the_event_list_names_its_filter_choice_for_events_on_one_stock(teacher_client, market):
    """An event on one stock has no sector; the sector filter's choice for it has words."""
    pending_and_applied()
    MarketEvent.objects.create(sector="Energy", percent=Decimal("-3"), reason="Oil falls")
    page = teacher_client.get(reverse("admin:prices_marketevent_changelist")).content.decode()
    assert 'href="?sector=">One stock (no sector)</a>' in page
    assert 'href="?sector=Energy">Energy</a>' in page
    assert 'href="?sector="></a>' not in page


def test_dividends_and_earnings_are_edited_with_the_parameters_and_audited(teacher_client, market):
    xom = market["XOM"]
    form = {"name": "Exxon Mobil Corporation", "sector": "Energy", "drift": "0.08"}
    form |= {"volatility": "0.25", "beta": "1.0"}

    response = teacher_client.post(
        change_url(xom),
        {
            **form,
            "dividend_yield": "0.034",
            "dividend_day": "30",
            "earnings_day": "33",
            "earnings_volatility": "0.03",
        },
    )

    assert response.status_code == 302
    xom.refresh_from_db()
    assert (xom.dividend_yield, xom.dividend_day, xom.earnings_day) == (0.034, 30, 33)
    assert xom.earnings_volatility == 0.03
    entry = AuditEntry.objects.get(action="parameters")
    assert entry.symbol == "XOM"
    assert "dividend_yield 0.0→0.034" in entry.detail and "dividend_day None→30" in entry.detail


@pytest.mark.parametrize(
    "field, value", [("dividend_yield", "0.3"), ("dividend_day", "64"), ("earnings_day", "0")]
)
def test_a_dividend_or_earnings_setting_out_of_range_is_refused(
    teacher_client, market, field, value
):
    xom = market["XOM"]
    form = {"name": "Exxon Mobil Corporation", "sector": "Energy", "drift": "0.08"}
    form |= {"volatility": "0.25", "beta": "1.0"}

    response = teacher_client.post(change_url(xom), {**form, field: value})

    assert response.status_code == 400
    assert field in response.context["adminform"].form.errors
    xom.refresh_from_db()
    assert (xom.dividend_yield, xom.dividend_day, xom.earnings_day) == (0.0, None, None)
    assert not AuditEntry.objects.exists()


# The market's parameters --------------------------------------------------------------------

PARAMETERS = reverse("admin:prices_marketparameters_change", args=[1])


def parameters_form(**changes) -> dict:
    """The change form as the page fills it, with `changes`."""
    row = MarketParameters.current()
    form = {
        name: "" if getattr(row, name) is None else str(getattr(row, name))
        for name in MARKET_PARAMETER_FIELDS
    }
    return {**form, **{name: str(value) for name, value in changes.items()}}


def test_the_market_parameters_list_is_the_one_rows_page(teacher_client, db):
    MarketParameters.objects.all().delete()  # even after the row was deleted by hand

    response = teacher_client.get(reverse("admin:prices_marketparameters_changelist"))

    assert response.status_code == 302 and response["Location"] == PARAMETERS
    page = teacher_client.get(PARAMETERS).content.decode()
    for group in ["The market&#x27;s trend", "Calm and stormy weeks", "Gaps", "Splits", "News"]:
        assert group in page
    assert "How many trading days a stormy spell lasts on average" in page  # help texts
    assert "17.6% a year for the market, gaps included; stormy 20% of the days" in page
    assert "The market now" in page


def test_an_instructor_changes_the_market_parameters_audited(teacher_client, instructor, db):
    response = teacher_client.post(
        PARAMETERS, parameters_form(calm_volatility=0.1, turbulent_days=20), follow=True
    )

    assert response.status_code == 200
    row = MarketParameters.objects.get()
    assert (row.calm_volatility, row.turbulent_days) == (0.1, 20.0)
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.action) == (instructor, "market_parameters")
    assert entry.detail == "calm_volatility 0.12→0.1, turbulent_days 15.0→20.0"


def test_another_instructor_reads_the_change_in_the_audit_log(teacher_client, db):
    teacher_client.post(PARAMETERS, parameters_form(drift=0.05))
    other = InstructorFactory()
    other.groups.add(ensure_instructor_group())
    teacher_client.force_login(other)

    page = teacher_client.get(reverse("admin:tradesim_auditentry_changelist")).content.decode()

    assert "drift 0.07→0.05" in page


def test_stormy_weeks_calmer_than_calm_ones_are_refused_with_a_message(teacher_client, db):
    response = teacher_client.post(
        PARAMETERS, parameters_form(calm_volatility=0.2, turbulent_volatility=0.15)
    )

    assert response.status_code == 400
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["turbulent_volatility"]
    assert errors["turbulent_volatility"] == [
        "Stormy weeks must be at least as volatile as calm ones: 0.15 is below the calm 0.2. "
        "Set the two equal for a market without storms."
    ]
    assert MarketParameters.objects.get().calm_volatility == 0.12
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"calm_volatility": "-0.1"}, "calm_volatility"),
        ({"turbulent_days": "0.5"}, "turbulent_days"),
        ({"market_jumps_per_year": "nan"}, "market_jumps_per_year"),
        ({"drift": "seven"}, "drift"),
        ({"news_move_percent": "0"}, "news_move_percent"),
    ],
)
def test_a_market_parameter_out_of_range_is_refused(teacher_client, db, changes, field):
    response = teacher_client.post(PARAMETERS, parameters_form(**changes))

    assert response.status_code == 400
    assert field in response.context["adminform"].form.errors
    assert not AuditEntry.objects.exists()


def test_equal_volatilities_make_a_market_without_storms(teacher_client, db):
    response = teacher_client.post(
        PARAMETERS, parameters_form(calm_volatility=0.16, turbulent_volatility=0.16)
    )

    assert response.status_code == 302
    assert not MarketParameters.objects.get().market_model().switches


def test_the_market_parameters_cannot_be_added_or_deleted(admin_client, db):
    assert admin_client.get(reverse("admin:prices_marketparameters_add")).status_code == 403
    delete = reverse("admin:prices_marketparameters_delete", args=[1])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert MarketParameters.objects.exists()


def test_staff_without_the_market_permissions_cannot_change_the_market(client, db):
    clerk = InstructorFactory()  # staff, but not in the Instructors group
    client.force_login(clerk)

    assert client.get(PARAMETERS).status_code == 403
    assert client.get(reverse("admin:prices_marketparameters_changelist")).status_code == 403
    response = client.post(PARAMETERS, parameters_form(calm_volatility=0.3))

    assert response.status_code == 403
    assert MarketParameters.objects.get().calm_volatility == 0.12
    assert not AuditEntry.objects.exists()


def test_a_student_cannot_reach_the_market_parameters(student_client, db):
    response = student_client.post(PARAMETERS, parameters_form(calm_volatility=0.3))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    assert MarketParameters.objects.get().calm_volatility == 0.12


def test_the_symbol_list_shows_total_volatility_from_the_markets_parameters(teacher_client, market):
    # AAPL: beta 1, 25 % of its own; the market's long-run 17.2 % plus the gaps: 31 %.
    page = teacher_client.get(CHANGELIST).content.decode()
    assert "31% a year" in page

    MarketParameters.objects.filter(id=1).update(calm_volatility=0.5, turbulent_volatility=0.5)
    assert "56% a year" in teacher_client.get(CHANGELIST).content.decode()


def test_the_symbol_list_reads_the_markets_parameters_once(teacher_client, market):
    with CaptureQueriesContext(connection) as few:
        teacher_client.get(CHANGELIST)
    make_symbols(60)
    with CaptureQueriesContext(connection) as many:
        teacher_client.get(CHANGELIST)

    assert len(many) == len(few)
    assert sum("market_parameters" in q["sql"] for q in many.captured_queries) == 1


def test_parameters_the_service_refuses_after_the_form_show_the_reason(
    teacher_client, db, monkeypatch
):
    """A race: another instructor's change came between this form's check and its save."""
    from prices import services

    def refused(**_):
        raise services.InvalidMarketInput("Stormy weeks must be at least as volatile as calm.")

    monkeypatch.setattr(services, "update_market_parameters", refused)

    response = teacher_client.post(PARAMETERS, parameters_form(drift=0.05), follow=True)

    assert response.status_code == 200
    assert "Stormy weeks must be at least as volatile as calm." in response.content.decode()
    assert MarketParameters.current().drift == 0.07
    assert not AuditEntry.objects.exists()
