"""Instructors' actions on money and the market: each goes through a service, is journaled
with its author and kept in the audit log; bad input changes nothing."""

from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission
from django.urls import reverse

from console.services import grant_cash
from ledger import services as ledger
from ledger.models import Balance, Transaction
from ledger.selectors import find_mismatches
from portfolio.models import Holding
from prices.models import MarketEvent, Price
from tests.factories import ClassroomFactory
from tradesim.models import AuditEntry
from trading import services as trading
from trading.models import Trade

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:accounts_user_changelist")
GRANT = reverse("admin:accounts_user_grant_cash")
RESET = reverse("admin:accounts_user_reset")


def cash(user) -> Decimal:
    return Balance.objects.get(user=user).amount


def held(user) -> dict[str, int]:
    return dict(Holding.objects.filter(user=user).values_list("stock_id", "quantity"))


def net_traded(user) -> dict[str, int]:
    net: dict[str, int] = {}
    for symbol, operation, quantity in Trade.objects.filter(user=user).values_list(
        "stock_id", "operation", "quantity"
    ):
        net[symbol] = net.get(symbol, 0) + (quantity if operation == "buy" else -quantity)
    return {symbol: q for symbol, q in net.items() if q}


def snapshot() -> tuple:
    """Everything an action could write, to show that a refused one wrote nothing."""
    return (
        list(Balance.objects.order_by("pk").values_list("user_id", "amount")),
        Transaction.objects.count(),
        Trade.objects.count(),
        list(Holding.objects.order_by("pk").values_list("user_id", "stock_id", "quantity")),
        AuditEntry.objects.count(),
    )


def url(base, *users):
    return f"{base}?ids={','.join(str(u.pk) for u in users)}"


# Grant cash -----------------------------------------------------------------------------


def test_the_grant_form_names_the_students_and_asks_for_amount_and_reason(
    teacher_client, student, other_student
):
    response = teacher_client.get(url(GRANT, student, other_student))

    assert response.status_code == 200
    body = response.content.decode()
    assert "alice" in body and "bob" in body and "$10,000.00" in body
    assert 'name="amount"' in body and 'name="reason"' in body and 'name="token"' in body


def test_a_grant_is_journaled_with_its_author_and_audited(teacher_client, teacher, student):
    response = teacher_client.post(
        url(GRANT, student), {"amount": "250.50", "reason": "Essay prize", "token": "t-1"}
    )

    assert response.status_code == 302
    assert response.url == reverse("admin:accounts_user_change", args=[student.pk])
    assert cash(student) == Decimal("10250.50")
    row = Transaction.objects.get(user=student, type="grant")
    assert row.amount == Decimal("250.50")
    assert row.description == "Granted by teacher: Essay prize"
    assert row.created_by == teacher
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.action, entry.student, entry.amount, entry.detail) == (
        teacher,
        "grant_cash",
        student,
        Decimal("250.50"),
        "Essay prize",
    )
    assert find_mismatches() == []


def test_a_grant_to_several_students_reaches_each_once(teacher_client, student, other_student):
    response = teacher_client.post(
        url(GRANT, student, other_student),
        {"amount": "100", "reason": "Bonus", "token": "t-2"},
        follow=True,
    )

    assert cash(student) == cash(other_student) == Decimal("10100.00")
    assert AuditEntry.objects.filter(action="grant_cash").count() == 2
    assert "Granted $100.00 to alice, bob." in response.content.decode()


def test_a_double_submitted_grant_is_made_once(teacher_client, student):
    form = {"amount": "75", "reason": "Bonus", "token": "same-token"}
    teacher_client.post(url(GRANT, student), form)
    response = teacher_client.post(url(GRANT, student), form, follow=True)

    assert cash(student) == Decimal("10075.00")
    assert Transaction.objects.filter(type="grant").count() == 1
    assert AuditEntry.objects.count() == 1
    assert "not granted twice" in response.content.decode()


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"amount": "", "reason": "Bonus"}, "Enter an amount."),
        ({"amount": "abc", "reason": "Bonus"}, "Enter an amount such as 250"),
        ({"amount": "-5", "reason": "Bonus"}, "can&#x27;t be negative"),
        ({"amount": "0", "reason": "Bonus"}, "more than zero"),
        ({"amount": "1.234", "reason": "Bonus"}, "at most two decimal places"),
        ({"amount": "1,500", "reason": "Bonus"}, "Leave out commas"),
        ({"amount": "50", "reason": "   "}, "Give a reason"),
    ],
)
def test_a_bad_grant_is_refused_with_a_message_and_changes_nothing(
    teacher_client, student, form, message
):
    before = snapshot()

    response = teacher_client.post(url(GRANT, student), form)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert snapshot() == before


def test_a_grant_to_an_instructor_is_refused_with_the_reason(superuser_client, teacher):
    before = snapshot()

    response = superuser_client.post(url(GRANT, teacher), {"amount": "10", "reason": "Oops"})

    assert response.status_code == 400
    assert "no cash account" in response.content.decode()
    assert snapshot() == before


def test_the_changelist_action_leads_to_the_grant_form(teacher_client, student, other_student):
    response = teacher_client.post(
        CHANGELIST,
        {
            "action": "grant_cash_action",
            ACTION_CHECKBOX_NAME: [str(student.pk), str(other_student.pk)],
        },
    )

    assert response.status_code == 302
    assert response.url == url(GRANT, student, other_student)


@pytest.mark.parametrize("ids", ["99999999999999999999", "-1", "1e3", "١"])
def test_a_grant_form_for_rows_that_cannot_exist_asks_to_select_students(
    teacher_client, student, ids
):
    before = snapshot()

    response = teacher_client.post(f"{GRANT}?ids={ids}", {"amount": "10", "reason": "Prize"})

    assert response.status_code == 302
    assert response.url == CHANGELIST
    assert snapshot() == before


def test_staff_without_the_grant_permission_cannot_grant(instructor_client, instructor, student):
    instructor.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_user", "change_user"])
    )
    before = snapshot()

    assert instructor_client.get(url(GRANT, student)).status_code == 403
    response = instructor_client.post(url(GRANT, student), {"amount": "10", "reason": "x"})

    assert response.status_code == 403
    assert snapshot() == before
    page = instructor_client.get(CHANGELIST).content.decode()
    assert "grant_cash_action" not in page and "reset_action" not in page


def test_a_student_cannot_reach_the_grant_form(student_client, student):
    before = snapshot()

    response = student_client.post(url(GRANT, student), {"amount": "1000", "reason": "Me"})

    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))
    assert snapshot() == before


def test_the_grant_service_refuses_a_user_without_the_permission(student, other_student):
    other_student.is_staff = True
    other_student.save()
    with pytest.raises(ledger.LedgerError, match="permission"):
        grant_cash(student=student, instructor=other_student, amount="10", reason="x")
    assert not AuditEntry.objects.exists()


def test_a_grant_and_its_audit_row_are_written_together(teacher, student, monkeypatch):
    def fail(**kwargs):
        raise RuntimeError("audit table unavailable")

    monkeypatch.setattr("console.services.audit.record", fail)

    with pytest.raises(RuntimeError):
        grant_cash(student=student, instructor=teacher, amount="10", reason="x")
    assert cash(student) == Decimal("10000.00")
    assert not Transaction.objects.filter(type="grant").exists()


# Reset ----------------------------------------------------------------------------------


@pytest.fixture
def invested(student, market):
    """alice: 10 AAPL at 200 and 5 XOM at 100, then AAPL rose to 260 and XOM was halted."""
    trading.buy(user=student, symbol="AAPL", quantity=10)
    trading.buy(user=student, symbol="XOM", quantity=5)
    Price.objects.filter(symbol="AAPL").update(price=Decimal("260.00"))
    Price.objects.filter(symbol="XOM").update(halted=True)
    return student


def test_the_reset_form_explains_what_will_happen(teacher_client, invested):
    body = teacher_client.get(url(RESET, invested)).content.decode()

    assert "sold at the current market price" in body
    assert "$10,000.00" in body  # the starting cash
    assert 'name="confirm"' in body


def test_the_reset_form_names_the_starting_cash_of_the_students_class(
    teacher, teacher_client, student, other_student
):
    student.classroom = ClassroomFactory(starting_cash=Decimal("25000.00"))
    student.classroom.owners.add(teacher)
    student.save(update_fields=["classroom"])

    alone = teacher_client.get(url(RESET, student)).content.decode()
    mixed = teacher_client.get(url(RESET, student, other_student)).content.decode()

    assert "back to the starting $25,000.00" in alone
    assert "back to the starting cash of each one&#x27;s class" in mixed


def test_a_reset_sells_everything_and_brings_cash_back_to_the_start(
    teacher_client, teacher, invested, settings
):
    settings.COMMISSION_PER_TRADE = Decimal("4.95")  # waived for the reset's sales
    assert cash(invested) == Decimal("7500.00")

    response = teacher_client.post(url(RESET, invested), {"reason": "Fresh start", "confirm": "on"})

    assert response.status_code == 302
    assert held(invested) == {} == net_traded(invested)
    assert cash(invested) == Decimal("10000.00")
    sales = Trade.objects.filter(user=invested, operation="sell").order_by("stock_id")
    assert [(t.stock_id, t.quantity, t.price, t.commission) for t in sales] == [
        ("AAPL", 10, Decimal("260.00"), Decimal("0.00")),
        ("XOM", 5, Decimal("100.00"), Decimal("0.00")),  # halted: at its last price
    ]
    sells = Transaction.objects.filter(user=invested, type="sell").order_by("symbol")
    assert [(r.description, r.created_by) for r in sells] == [
        ("Reset by teacher: Sold 10 AAPL @ 260.00", teacher),
        ("Reset by teacher: Sold 5 XOM @ 100.00", teacher),
    ]
    # 7,500 + 2,600 + 500 = 10,600 after the sales: 600 taken back.
    adjustment = Transaction.objects.get(user=invested, type__startswith="reset")
    assert (adjustment.type, adjustment.amount, adjustment.description) == (
        "reset_debit",
        Decimal("600.00"),
        "Reset by teacher: Fresh start",
    )
    assert adjustment.created_by == teacher
    assert not Transaction.objects.filter(type="fee", description__startswith="Commission: Reset")
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.action, entry.student, entry.amount) == (
        teacher,
        "reset_student",
        invested,
        Decimal("-600.00"),
    )
    assert "Fresh start" in entry.detail and "sold 2 positions" in entry.detail
    assert find_mismatches() == []


def test_a_resubmitted_reset_form_resets_once(teacher_client, invested):
    form = {"reason": "Fresh start", "confirm": "on", "token": "reset-token"}
    teacher_client.post(url(RESET, invested), form)
    # Between the two submits the student buys again; the repeat must not sell it.
    trading.buy(user=invested, symbol="AAPL", quantity=3)

    response = teacher_client.post(url(RESET, invested), form, follow=True)

    assert held(invested) == {"AAPL": 3}
    assert AuditEntry.objects.filter(action="reset_student").count() == 1
    assert "not reset twice" in response.content.decode()


def test_a_reset_after_losses_credits_the_difference(teacher, student, market):
    trading.buy(user=student, symbol="MSFT", quantity=10)
    Price.objects.filter(symbol="MSFT").update(price=Decimal("300.00"))
    ledger.withdraw(user=student, amount="1000")

    result = trading.reset_student(student=student, instructor=teacher, reason="Start over")

    assert cash(student) == Decimal("10000.00")
    assert result.cash_before == Decimal("8000.00")  # 5,000 left − 1,000 + 3,000 proceeds
    assert (result.adjustment.type, result.adjustment.amount) == ("reset_credit", Decimal("2000"))
    assert held(student) == {}
    assert find_mismatches() == []


def test_a_reset_of_a_student_already_at_the_start_writes_only_the_audit_row(teacher, student):
    before = Transaction.objects.count()

    result = trading.reset_student(student=student, instructor=teacher, reason="Check")

    assert result.trades == [] and result.adjustment is None
    assert Transaction.objects.count() == before
    assert AuditEntry.objects.get().action == "reset_student"


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"reason": "Fresh start"}, "Tick the box to confirm"),
        ({"reason": "", "confirm": "on"}, "Give a reason"),
    ],
)
def test_a_bad_reset_is_refused_with_a_message_and_changes_nothing(
    teacher_client, invested, form, message
):
    before = snapshot()

    response = teacher_client.post(url(RESET, invested), form)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert snapshot() == before


def test_a_reset_is_all_or_nothing(teacher, invested, monkeypatch):
    before = snapshot()

    post = ledger.Account.post

    def fail(self, **kwargs):
        if kwargs["type"].startswith("reset_"):
            raise ledger.InvalidAmount("The adjustment could not be written.")
        return post(self, **kwargs)

    monkeypatch.setattr(ledger.Account, "post", fail)

    with pytest.raises(trading.ResetRefused, match="adjustment"):
        trading.reset_student(student=invested, instructor=teacher, reason="Fresh start")
    assert snapshot() == before


def test_the_reset_service_refuses_without_the_permission(invested, instructor):
    with pytest.raises(trading.ResetRefused, match="permission"):
        trading.reset_student(student=invested, instructor=instructor, reason="x")
    assert held(invested) == {"AAPL": 10, "XOM": 5}


def test_a_reset_of_several_students_reports_the_one_that_could_not_be_reset(
    superuser_client, teacher, invested, other_student
):
    response = superuser_client.post(
        url(RESET, invested, other_student, teacher),
        {"reason": "Unit 2", "confirm": "on"},
        follow=True,
    )

    body = response.content.decode()
    assert "Reset alice, bob to $10,000.00 in cash." in body
    assert "Not reset: teacher: teacher has no cash account" in body
    assert AuditEntry.objects.filter(action="reset_student").count() == 2


def test_a_student_cannot_reset_anyone(student_client, invested, other_student):
    before = snapshot()

    response = student_client.post(url(RESET, other_student), {"reason": "x", "confirm": "on"})

    assert response.status_code == 302 and reverse("admin:login") in response.url
    assert snapshot() == before


def test_every_movement_of_an_instructor_names_its_author(teacher_client, teacher, invested):
    teacher_client.post(url(GRANT, invested), {"amount": "10", "reason": "Bonus", "token": "g"})
    teacher_client.post(url(RESET, invested), {"reason": "Fresh start", "confirm": "on"})

    made_by_teacher = Transaction.objects.filter(user=invested, created_by=teacher)
    assert sorted(made_by_teacher.values_list("type", flat=True)) == [
        "grant",
        "reset_debit",
        "sell",
        "sell",
    ]
    # And the student's own rows name nobody.
    own = Transaction.objects.filter(user=invested, created_by__isnull=True)
    assert sorted(own.values_list("type", flat=True)) == ["buy", "buy", "deposit"]


# Halt, resume and market events (the prices admin) ----------------------------------------


def test_an_instructor_halts_and_resumes_a_symbol_and_both_are_audited(
    teacher_client, teacher, market
):
    changelist = reverse("admin:prices_price_changelist")
    ids = [str(market["XOM"].pk)]

    teacher_client.post(changelist, {"action": "halt_symbols", ACTION_CHECKBOX_NAME: ids})
    assert Price.objects.get(symbol="XOM").halted
    teacher_client.post(changelist, {"action": "resume_symbols", ACTION_CHECKBOX_NAME: ids})
    assert not Price.objects.get(symbol="XOM").halted

    assert list(AuditEntry.objects.order_by("id").values_list("actor", "action", "symbol")) == [
        (teacher.pk, "halt", "XOM"),
        (teacher.pk, "resume", "XOM"),
    ]


def test_a_market_event_on_a_sector_is_audited_with_its_author(teacher_client, teacher, market):
    response = teacher_client.post(
        reverse("admin:prices_marketevent_add"),
        {"stock": "", "sector": "Technology", "percent": "-8", "reason": "Chip export ban"},
    )

    assert response.status_code == 302
    event = MarketEvent.objects.get()
    assert (event.sector, event.percent, event.created_by) == (
        "Technology",
        Decimal("-8.00"),
        teacher,
    )
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.action, entry.sector) == (teacher, "market_event", "Technology")
    assert entry.detail == "-8.00%: Chip export ban"


def test_a_bad_market_event_is_neither_scheduled_nor_audited(teacher_client, market):
    response = teacher_client.post(
        reverse("admin:prices_marketevent_add"),
        {"stock": "XOM", "sector": "", "percent": "-100", "reason": "Gone"},
    )

    assert response.context["adminform"].form.errors
    assert not MarketEvent.objects.exists() and not AuditEntry.objects.exists()


def test_a_student_cannot_halt_or_schedule(student_client, market):
    response = student_client.post(
        reverse("admin:prices_marketevent_add"), {"stock": "XOM", "percent": "50"}
    )

    assert response.status_code == 302 and reverse("admin:login") in response.url
    assert not MarketEvent.objects.exists()


def test_students_elsewhere_are_untouched_by_a_grant(teacher_client, student, carol):
    teacher_client.post(url(GRANT, student), {"amount": "10", "reason": "Bonus", "token": "x"})

    assert cash(carol) == Decimal("10000.00")
    assert not AuditEntry.objects.filter(student=carol).exists()


@pytest.mark.django_db
def test_a_refused_grant_is_logged_with_who_whom_and_why(student, caplog):
    from django.test import Client

    from accounts.roles import ensure_instructor_group
    from tests.factories import InstructorFactory

    teacher = InstructorFactory(username="mrlog")
    teacher.groups.add(ensure_instructor_group())
    student.classroom.owners.add(teacher)
    console = Client()
    console.force_login(teacher)
    url = reverse("admin:accounts_user_grant_cash") + f"?ids={student.pk}"

    with caplog.at_level("INFO", logger="tradesim.ledger"):
        response = console.post(url, {"amount": "NaN", "reason": "prize"})

    assert response.status_code == 400
    lines = [r.getMessage() for r in caplog.records if "cash.rejected" in r.getMessage()]
    assert len(lines) == 1
    assert "user=alice" in lines[0] and "by=mrlog" in lines[0] and "action=grant" in lines[0]
    assert "NaN" not in lines[0]
