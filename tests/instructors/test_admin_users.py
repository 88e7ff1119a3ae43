"""The user list and the user page of the instructors' console, and who may do what there."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from console.services import grant_cash
from ledger import services as ledger
from ledger.models import Balance, Transaction
from portfolio.models import Holding
from prices.models import Price
from tests.factories import (
    InstructorFactory,
    StudentFactory,
)
from tests.instructors.helpers import form_data
from tradesim.models import AuditEntry
from trading import services as trading
from trading.models import Trade

pytestmark = pytest.mark.django_db

User = get_user_model()
CHANGELIST = reverse("admin:accounts_user_changelist")


def change_url(user):
    return reverse("admin:accounts_user_change", args=[user.pk])


def listed(response) -> list[str]:
    return [user.username for user in response.context["cl"].result_list]


@pytest.fixture
def alice(student, market, period1):
    """alice (Period 1): 10 AAPL bought at 200, AAPL now 260, a $500 deposit, one trade."""
    student.classroom = period1
    student.save()
    trading.buy(user=student, symbol="AAPL", quantity=10)
    ledger.deposit(user=student, amount="500")
    Price.objects.filter(symbol="AAPL").update(price=Decimal("260.00"))
    return student


# The list -------------------------------------------------------------------------------


def test_the_list_shows_cash_value_returns_and_trades(teacher_client, alice):
    response = teacher_client.get(CHANGELIST, {"q": "alice"})

    assert response.status_code == 200
    (row,) = response.context["cl"].result_list
    # cash 10,000 − 2,000 + 500; value + 10 × 260; contributed 10,500.
    assert row.account_cash == Decimal("8500.00")
    assert row.total_value == Decimal("11100.00")
    assert row.trade_count == 1
    body = response.content.decode()
    for text in ["$8,500.00", "$11,100.00", "+5.71%", "Period 1"]:
        assert text in body
    # Before any snapshot the unit value is value ÷ contributions: the same +5.71%.
    assert body.count("+5.71%") == 2


def test_instructors_have_no_money_columns(superuser_client, teacher):
    response = superuser_client.get(CHANGELIST, {"q": "teacher"})

    (row,) = response.context["cl"].result_list
    assert row.account_cash is None
    assert "$" not in response.content.decode().split('id="result_list"', 1)[1].split("</table>")[0]


def test_the_list_is_searched_by_username_and_email(teacher_client, alice, other_student):
    assert listed(teacher_client.get(CHANGELIST, {"q": "bob@school"})) == ["bob"]
    assert listed(teacher_client.get(CHANGELIST, {"q": "alic"})) == ["alice"]


def test_the_list_filters_by_class_active_and_joined(
    teacher_client, alice, other_student, carol, period2
):
    other_student.is_active = False
    other_student.date_joined = timezone.now() - timedelta(days=60)
    other_student.save()

    by_class = teacher_client.get(CHANGELIST, {"classroom__id__exact": period2.pk})
    assert listed(by_class) == ["carol"]
    inactive = teacher_client.get(CHANGELIST, {"is_active__exact": "0"})
    assert listed(inactive) == ["bob"]
    everyone = teacher_client.get(CHANGELIST, {"o": "1"})
    assert listed(everyone) == ["alice", "bob", "carol"]  # students only: no staff
    since = str(timezone.now() - timedelta(days=7))  # as the "Past 7 days" link sends it
    recent = teacher_client.get(CHANGELIST, {"date_joined__gte": since, "o": "1"})
    assert listed(recent) == ["alice", "carol"]


def test_a_superuser_filters_the_list_by_role(superuser_client, superuser, alice, carol, teacher):
    students = superuser_client.get(CHANGELIST, {"role": "student", "o": "1"})
    assert listed(students) == ["alice", "carol"]
    staff = superuser_client.get(CHANGELIST, {"role": "staff", "o": "1"})
    assert listed(staff) == ["root", "teacher"]


def test_the_list_sorts_by_cash(teacher_client, alice, other_student, carol):
    ledger.withdraw(user=carol, amount="100")
    # Columns: 0 checkbox, 1 student, 2 class, 3 cash.
    response = teacher_client.get(CHANGELIST, {"o": "-3"})
    assert listed(response) == ["bob", "carol", "alice"]


def _students(n: int, market, prefix="s", classroom=None) -> None:
    """n students (of `classroom`), each with a holding and a trade (written directly: only
    their number matters here)."""
    aapl = market["AAPL"]
    users = [StudentFactory(username=f"{prefix}{i:03d}", classroom=classroom) for i in range(n)]
    Holding.objects.bulk_create(
        Holding(user=u, stock=aapl, quantity=1, average_price=Decimal("200")) for u in users
    )
    Trade.objects.bulk_create(
        Trade(user=u, stock=aapl, operation="buy", quantity=1, price=Decimal("200"),
              total=Decimal("200"))
        for u in users
    )  # fmt: skip


def _queries(client, url, params=None) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params or {})
        assert response.status_code == 200
        # Streaming responses run their queries while they are read.
        if response.streaming:
            b"".join(response.streaming_content)
    return len(ctx)


# Session, user, the user's two permission sets, the class filter's choices, the two counts
# ("N of M") and the rows with their money.
LIST_QUERIES = 8


@pytest.mark.parametrize("n", [20, 200])
def test_the_list_runs_a_fixed_number_of_queries(
    teacher_client, market, period1, django_assert_max_num_queries, n
):
    _students(n, market, classroom=period1)
    with django_assert_max_num_queries(LIST_QUERIES):
        response = teacher_client.get(CHANGELIST)
    assert response.context["cl"].result_count == n
    assert all(row.trade_count == 1 for row in response.context["cl"].result_list[:n])


# The user page --------------------------------------------------------------------------


def test_the_user_page_shows_holdings_and_the_recent_journal_read_only(teacher_client, alice):
    for i in range(25):
        ledger.deposit(user=alice, amount=str(i + 1), description=f"deposit #{i + 1}")

    response = teacher_client.get(change_url(alice))

    assert response.status_code == 200
    body = response.content.decode()
    # The holding at the current price, with its gain.
    assert "AAPL" in body and "$2,600.00" in body and "+$600.00" in body
    # The 20 newest journal rows only.
    assert "deposit #25" in body and "deposit #6" in body and "deposit #5<" not in body
    assert 'name="transactions-0-amount"' not in body
    assert 'name="holdings-0-quantity"' not in body
    assert f"?user__id__exact={alice.pk}" in body  # links to the whole journal and trades
    assert reverse("admin:accounts_user_grant_cash") in body
    assert reverse("admin:accounts_user_reset") in body


def test_the_user_page_runs_the_same_queries_however_long_the_journal(
    teacher_client, alice, market
):
    small = _queries(teacher_client, change_url(alice))
    trading.buy(user=alice, symbol="MSFT", quantity=1)
    trading.buy(user=alice, symbol="XOM", quantity=1)
    for i in range(40):
        ledger.deposit(user=alice, amount="1", description=f"d{i}")
    grant_cash(
        student=alice,
        instructor=InstructorFactory(username="root", is_superuser=True),
        amount="5",
        reason="x",
    )

    assert _queries(teacher_client, change_url(alice)) == small


def test_an_instructor_changes_names_email_class_and_active_only(teacher_client, alice, period2):
    page = teacher_client.get(change_url(alice)).content.decode()
    data = form_data(page, "user_form")
    assert "username" not in data and "password" not in data and "is_staff" not in data
    data.update(
        first_name=["Alicia"],
        email=["alicia@school.example"],
        classroom=[str(period2.pk)],
        is_active=[],
        # Fields the page did not offer, sent anyway:
        username=["mallory"],
        is_staff=["on"],
        is_superuser=["on"],
        password=["plain"],
    )

    response = teacher_client.post(change_url(alice), data)

    assert response.status_code == 302
    alice.refresh_from_db()
    assert (alice.first_name, alice.email, alice.classroom, alice.is_active) == (
        "Alicia",
        "alicia@school.example",
        period2,
        False,
    )
    assert alice.username == "alice"
    assert not alice.is_staff and not alice.is_superuser
    assert alice.check_password("correct-horse-battery-staple")
    # The read-only inlines were sent back as rendered and changed nothing.
    assert Holding.objects.get(user=alice).quantity == 10
    assert Balance.objects.get(user=alice).amount == Decimal("8500.00")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("transactions-TOTAL_FORMS", "99999999999"),
        ("transactions-TOTAL_FORMS", "5"),
        ("transactions-INITIAL_FORMS", ""),
        ("transactions-0-id", "99999999999"),
        ("holdings-TOTAL_FORMS", "3"),
    ],
)
def test_tampered_read_only_rows_on_the_user_page_change_nothing(
    teacher_client, alice, field, value
):
    """The inline rows are for reading; a POST that claims rows that do not exist (which
    the page once tried to show, failing on their empty amounts) is handled without them."""
    data = form_data(teacher_client.get(change_url(alice)).content.decode(), "user_form")
    data.update({field: [value], "first_name": ["Alicia"]})

    response = teacher_client.post(change_url(alice), data)

    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.first_name == "Alicia"
    assert Transaction.objects.filter(user=alice).count() == 3
    assert Holding.objects.get(user=alice).quantity == 10


def test_a_refused_user_page_still_says_why(teacher_client, alice):
    data = form_data(teacher_client.get(change_url(alice)).content.decode(), "user_form")
    data.update({"email": ["not an email"], "transactions-TOTAL_FORMS": ["5"]})

    response = teacher_client.post(change_url(alice), data)

    assert response.status_code == 400
    assert "Enter a valid email address." in response.content.decode()


def test_an_email_taken_in_another_case_is_refused_on_the_form(teacher_client, alice):
    data = form_data(teacher_client.get(change_url(alice)).content.decode(), "user_form")
    data["email"] = ["BOB@School.example"]
    StudentFactory(username="bob", email="bob@school.example")

    response = teacher_client.post(change_url(alice), data)

    assert response.status_code == 400
    assert "already uses this email" in response.content.decode()
    alice.refresh_from_db()
    assert alice.email == "alice@school.example"


def test_an_instructor_cannot_change_a_staff_account_or_any_password(
    teacher_client, teacher, alice
):
    other = InstructorFactory(username="colleague")
    page = teacher_client.get(change_url(other))
    assert page.status_code == 302  # not one of their students: "not found"

    response = teacher_client.post(change_url(other), {"first_name": "X", "is_active": ""})
    assert response.status_code == 302
    other.refresh_from_db()
    assert other.is_active

    password_url = reverse("admin:auth_user_password_change", args=[alice.pk])
    assert teacher_client.get(password_url).status_code == 403
    response = teacher_client.post(
        password_url, {"password1": "N3w-pass!x", "password2": "N3w-pass!x"}
    )
    assert response.status_code == 403
    alice.refresh_from_db()
    assert alice.check_password("correct-horse-battery-staple")
    assert teacher_client.get(reverse("admin:accounts_user_add")).status_code == 403


def test_a_superuser_still_manages_roles_and_passwords(superuser_client, alice):
    page = superuser_client.get(change_url(alice)).content.decode()
    assert 'name="is_staff"' in page and 'name="groups"' in page
    password_url = reverse("admin:auth_user_password_change", args=[alice.pk])
    assert superuser_client.get(password_url).status_code == 200


def test_a_student_cannot_reach_the_admin(student_client):
    for url in [reverse("admin:index"), CHANGELIST, reverse("admin:ledger_transaction_changelist")]:
        response = student_client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("admin:login"))


def test_a_student_cannot_log_in_to_the_admin(client, student):
    response = client.post(
        reverse("admin:login"),
        {"username": "alice", "password": "correct-horse-battery-staple"},
    )
    assert response.status_code == 200
    assert "staff account" in response.content.decode()
    assert "_auth_user_id" not in client.session


# Journal and trade rows stay as written ----------------------------------------------------


def test_an_instructor_cannot_edit_a_journal_row(teacher_client, alice):
    row = Transaction.objects.filter(user=alice, type="deposit").last()
    url = reverse("admin:ledger_transaction_change", args=[row.pk])

    page = teacher_client.get(url)
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    response = teacher_client.post(url, {"amount": "99999.00", "description": "edited"})

    assert response.status_code == 403
    row.refresh_from_db()
    assert (row.amount, row.description) == (Decimal("10000.00"), "Starting cash")
    assert teacher_client.get(reverse("admin:ledger_transaction_add")).status_code == 403


def test_an_instructor_cannot_edit_a_trade(teacher_client, alice):
    trade = Trade.objects.get(user=alice)
    url = reverse("admin:trading_trade_change", args=[trade.pk])

    assert teacher_client.post(url, {"quantity": "1000"}).status_code == 403
    trade.refresh_from_db()
    assert trade.quantity == 10


@pytest.mark.parametrize(
    ("model", "rows"),
    [
        ("ledger_transaction", lambda: Transaction.objects),
        ("ledger_balance", lambda: Balance.objects),
        ("trading_trade", lambda: Trade.objects),
        ("portfolio_holding", lambda: Holding.objects),
        ("tradesim_auditentry", lambda: AuditEntry.objects),
    ],
)
def test_a_superuser_cannot_delete_money_rows_through_the_admin(
    superuser_client, superuser, alice, model, rows
):
    grant_cash(student=alice, instructor=superuser, amount="5", reason="So there is audit")
    obj = rows().first()
    count = rows().count()
    delete_url = reverse(f"admin:{model}_delete", args=[obj.pk])

    assert superuser_client.get(delete_url).status_code == 403
    assert superuser_client.post(delete_url, {"post": "yes"}).status_code == 403
    changelist = superuser_client.get(reverse(f"admin:{model}_changelist"))
    assert "delete_selected" not in changelist.content.decode()
    bulk = superuser_client.post(
        reverse(f"admin:{model}_changelist"),
        {"action": "delete_selected", "_selected_action": [str(obj.pk)], "post": "yes"},
    )
    assert bulk.status_code in (200, 302)
    assert rows().count() == count


# Class filters on every list of people's money -----------------------------------------


@pytest.mark.parametrize(
    ("model", "param"),
    [
        ("ledger_balance", "user__classroom__id__exact"),
        ("ledger_transaction", "user__classroom__id__exact"),
        ("portfolio_holding", "user__classroom__id__exact"),
        ("trading_trade", "user__classroom__id__exact"),
        ("tradesim_auditentry", "student__classroom__id__exact"),
    ],
)
def test_every_money_list_filters_by_class(
    teacher_client, teacher, alice, carol, period1, period2, model, param
):
    trading.buy(user=carol, symbol="XOM", quantity=1)
    grant_cash(student=alice, instructor=teacher, amount="1", reason="a")
    grant_cash(student=carol, instructor=teacher, amount="1", reason="c")
    url = reverse(f"admin:{model}_changelist")

    def owners(classroom):
        response = teacher_client.get(url, {param: classroom.pk})
        assert response.status_code == 200
        field = "student" if model == "tradesim_auditentry" else "user"
        return {getattr(obj, field).username for obj in response.context["cl"].result_list}

    assert owners(period1) == {"alice"}
    assert owners(period2) == {"carol"}
    assert "By class" in teacher_client.get(url).content.decode()


# Classes ----------------------------------------------------------------------------------


def test_an_instructor_creates_a_class_and_assigns_students(teacher_client, alice):
    response = teacher_client.post(
        reverse("admin:classrooms_classroom_add"),
        {
            "name": "Period 3",
            "joining_open": "on",
            "starting_cash": "10000.00",
            "deposits_open": "on",
            "withdrawals_open": "on",
            "commission_kind": "none",
            "commission_amount": "0",
            "commission_minimum": "0",
            "order_types": "all",
            "closed_market_orders": "queue",
            "initial_margin_percent": "50",
            "maintenance_margin_percent": "30",
            "margin_call_days": "0",
            "loan_rate_percent": "8",
            "cash_rate_percent": "0",
            "min_short_price": "5.00",
            "borrow_fee_percent": "0",
            "ranking": "twr",
            "min_trades_to_rank": "0",
            "names_shown": "on",
        },
    )
    assert response.status_code == 302

    page = teacher_client.get(reverse("admin:classrooms_classroom_changelist")).content.decode()
    assert "Period 3" in page and "Download CSV" in page


def test_a_student_added_by_a_superuser_gets_a_cash_account(superuser_client, period1):
    response = superuser_client.post(
        reverse("admin:accounts_user_add"),
        {
            "username": "dora",
            "email": "dora@school.example",
            "classroom": str(period1.pk),
            "password1": "Lesson-Plan-42",
            "password2": "Lesson-Plan-42",
        },
    )

    assert response.status_code == 302
    dora = User.objects.get(username="dora")
    assert dora.classroom == period1 and dora.check_password("Lesson-Plan-42")
    assert Balance.objects.get(user=dora).amount == Decimal("10000.00")
    assert Transaction.objects.get(user=dora).description == "Starting cash"


def test_the_money_pages_run_the_same_queries_for_2_and_30_students(
    teacher_client, market, period1
):
    _students(30, market, classroom=period1)
    ids = list(User.objects.filter(username__startswith="s").values_list("pk", flat=True))
    for base in [reverse("admin:accounts_user_grant_cash"), reverse("admin:accounts_user_reset")]:
        few = _queries(teacher_client, f"{base}?ids={ids[0]},{ids[1]}")
        many = _queries(teacher_client, f"{base}?ids={','.join(map(str, ids))}")
        assert few == many


def test_a_class_with_a_taken_name_is_refused_with_400(teacher_client):
    from classrooms.models import Classroom

    Classroom.objects.create(name="Period 1")

    response = teacher_client.post(reverse("admin:classrooms_classroom_add"), {"name": "Period 1"})

    assert response.status_code == 400
    assert Classroom.objects.filter(name="Period 1").count() == 1


# The student's summary block ------------------------------------------------------------


def test_a_students_page_opens_with_a_summary_of_where_they_stand(
    teacher_client, alice, other_student
):
    response = teacher_client.get(change_url(alice))

    page = response.content.decode()
    summary = response.context["summary"]
    assert summary["classroom"].name == "Period 1"
    figures = dict(summary["figures"])
    # cash 8,500 + 10 AAPL at 260 = 11,100 on 10,500 contributed.
    assert figures["Cash"] == "$8,500.00"
    assert figures["Portfolio value"] == "$11,100.00"
    assert figures["Total return"] == "+5.71%"
    assert figures["Rank"] == "1 of 2 by time-weighted return"
    assert figures["Trades"] == "1"
    assert summary["last_activity"] == "deposited cash"
    assert summary["login"] == "Can log in"
    # First on the page, before the form's fields, with the links and the money actions.
    block = page[page.index("student-summary") : page.index('name="first_name"')]
    for link in [
        reverse("admin:classrooms_classroom_overview", args=[alice.classroom_id]),
        f"{reverse('admin:trading_trade_changelist')}?user__id__exact={alice.pk}",
        f"{reverse('admin:ledger_transaction_changelist')}?user__id__exact={alice.pk}",
        reverse("admin:accounts_user_grant_cash"),
        reverse("admin:accounts_user_reset"),
    ]:
        assert link in block, link


def test_the_summary_says_when_failed_log_ins_lock_the_student_out(teacher_client, alice, settings):
    from axes.models import AccessAttempt

    AccessAttempt.objects.create(
        username="alice",
        ip_address="10.0.0.9",
        user_agent="Firefox",
        failures_since_start=settings.AXES_FAILURE_LIMIT,
        attempt_time=timezone.now(),
    )

    summary = teacher_client.get(change_url(alice)).context["summary"]

    assert summary["locked"] and summary["login"].startswith("Locked out after 5 failed log-ins")
    assert summary["unlock_url"].endswith("?q=alice")


def test_an_instructor_sees_no_role_group_or_permission_fields_and_cannot_post_them(
    teacher_client, alice
):
    from django.contrib.auth.models import Group, Permission

    page = teacher_client.get(change_url(alice)).content.decode()
    for field in ("is_staff", "is_superuser", "groups", "user_permissions"):
        assert f'name="{field}"' not in page
        assert f"field-{field}" not in page  # not even read-only
    data = form_data(page, "user_form")
    group = Group.objects.create(name="Powerful")
    data.update(
        is_staff=["on"],
        is_superuser=["on"],
        groups=[str(group.pk)],
        user_permissions=[str(Permission.objects.get(codename="grant_cash").pk)],
    )

    response = teacher_client.post(change_url(alice), data)

    assert response.status_code == 302
    alice.refresh_from_db()
    assert not alice.is_staff and not alice.is_superuser
    assert not alice.groups.exists() and not alice.user_permissions.exists()


def test_a_superuser_still_sees_the_role_fields_beside_the_summary(superuser_client, alice):
    response = superuser_client.get(change_url(alice))
    page = response.content.decode()
    assert response.context["summary"] is not None
    for field in ("is_staff", "is_superuser", "groups", "user_permissions"):
        assert f'name="{field}"' in page
