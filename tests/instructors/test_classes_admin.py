"""The class pages of the instructors' console: join codes, joining, rule changes, and
moving a student between classes."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from classrooms.models import Classroom, looks_like_join_code
from ledger.models import Balance, Transaction
from tests.factories import StudentFactory
from tests.instructors.helpers import form_data
from tradesim.models import AuditEntry

pytestmark = pytest.mark.django_db

User = get_user_model()
CHANGELIST = reverse("admin:classrooms_classroom_changelist")


def change_url(classroom):
    return reverse("admin:classrooms_classroom_change", args=[classroom.pk])


def new_code_url(classroom):
    return reverse("admin:classrooms_classroom_new_code", args=[classroom.pk])


def code_of(classroom) -> str:
    return Classroom.objects.values_list("join_code", flat=True).get(pk=classroom.pk)


# The join code ------------------------------------------------------------------------


def test_the_list_shows_each_code_and_whether_joining_is_open(teacher_client, period1, period2):
    period1.seat_limit = 30
    period1.save()
    StudentFactory(classroom=period1)
    period2.joining_open = False
    period2.save()

    page = teacher_client.get(CHANGELIST).content.decode()

    assert f'<code class="join-code">{period1.join_code}</code>' in page
    assert "open, 1 of 30 seats taken" in page
    assert "closed, 0 students, no seat limit" in page


def test_the_class_page_shows_the_code_large_with_a_way_to_replace_it(teacher_client, period1):
    page = teacher_client.get(change_url(period1)).content.decode()

    assert f'<code class="join-code join-code-large">{period1.join_code}</code>' in page
    assert "css/console.css" in page  # where .join-code-large makes it large
    assert new_code_url(period1) in page


def test_a_new_code_is_asked_for_then_given_and_audited(teacher_client, teacher, period1):
    old = period1.join_code

    confirm = teacher_client.get(new_code_url(period1))
    assert confirm.status_code == 200
    assert f'The code <code class="join-code">{old}</code> stops working' in (
        confirm.content.decode()
    )
    assert code_of(period1) == old  # asking changes nothing

    response = teacher_client.post(new_code_url(period1), follow=True)

    new = code_of(period1)
    assert new != old and looks_like_join_code(new)
    assert response.redirect_chain == [(change_url(period1), 302)]
    assert f"The new join code of Period 1 is {new}." in response.content.decode()
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.action) == (teacher, "join_code")
    assert old in entry.detail and new in entry.detail


def test_a_new_code_for_a_class_that_is_not_there_goes_back_to_the_list(teacher_client):
    response = teacher_client.post(reverse("admin:classrooms_classroom_new_code", args=[999]))

    assert response.status_code == 302
    assert not AuditEntry.objects.exists()


def test_staff_without_the_change_permission_cannot_give_a_new_code(period1):
    from django.contrib.auth.models import Permission
    from django.test import Client

    from tests.factories import InstructorFactory

    viewer = InstructorFactory(username="viewer")
    viewer.user_permissions.add(Permission.objects.get(codename="view_classroom"))
    period1.owners.add(viewer)  # theirs to see, not to change
    client = Client()
    client.force_login(viewer)

    assert client.post(new_code_url(period1)).status_code == 403
    assert not AuditEntry.objects.exists()


def test_the_actions_give_new_codes_and_open_and_close_joining(teacher_client, period1, period2):
    old = {period1.pk: period1.join_code, period2.pk: period2.join_code}
    ids = [str(period1.pk), str(period2.pk)]

    def act(action):
        return teacher_client.post(
            CHANGELIST, {"action": action, "_selected_action": ids}, follow=True
        )

    page = act("new_join_codes_action").content.decode()
    for room in (period1, period2):
        assert code_of(room) != old[room.pk]
        assert f"{room.name}: the new join code is {code_of(room)}" in page
    assert AuditEntry.objects.filter(action="join_code").count() == 2

    act("close_joining_action")
    assert not Classroom.objects.filter(joining_open=True).exists()
    act("open_joining_action")
    assert Classroom.objects.filter(joining_open=True).count() == 2


# Rule changes -------------------------------------------------------------------------


def _edit(client, classroom, **fields):
    data = form_data(client.get(change_url(classroom)).content.decode(), "classroom_form")
    data.update({name: [value] for name, value in fields.items()})
    return client.post(change_url(classroom), data)


def test_a_rule_changed_after_the_start_is_audited_with_before_and_after(
    teacher_client, teacher, period1
):
    period1.starts_at = timezone.now() - timedelta(days=2)
    period1.save()

    response = _edit(
        teacher_client, period1, max_position_percent="25", name="Period 1 (Economics)"
    )

    assert response.status_code == 302
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.action) == (teacher, "class_rules")
    assert entry.detail == "Period 1: Most of the portfolio in one stock (%): none → 25"
    period1.refresh_from_db()
    assert period1.max_position_percent == Decimal("25")
    assert period1.name == "Period 1 (Economics)"
    assert period1.rules_changed_at is not None


def test_saving_a_started_class_without_changing_a_rule_records_nothing(teacher_client, period1):
    response = _edit(teacher_client, period1, seat_limit="30", joining_open="")

    assert response.status_code == 302
    assert not AuditEntry.objects.exists()
    period1.refresh_from_db()
    assert period1.seat_limit == 30 and not period1.joining_open
    assert period1.rules_changed_at is None


def test_a_rule_changed_before_the_start_is_not_audited(teacher_client, period1):
    period1.starts_at = timezone.now() + timedelta(days=7)
    period1.save()

    assert _edit(teacher_client, period1, starting_cash="50000.00").status_code == 302

    assert not AuditEntry.objects.exists()
    period1.refresh_from_db()
    assert period1.starting_cash == Decimal("50000.00")
    assert period1.rules_changed_at is None


def test_a_refused_rule_change_is_a_400_and_changes_nothing(teacher_client, period1):
    response = _edit(teacher_client, period1, max_position_percent="150")

    assert response.status_code == 400
    assert not AuditEntry.objects.exists()
    period1.refresh_from_db()
    assert period1.max_position_percent is None


def test_switching_the_api_off_is_audited_like_the_other_rules(teacher_client, teacher, period1):
    period1.starts_at = timezone.now() - timedelta(days=2)
    period1.save()

    response = _edit(teacher_client, period1, api_access="")

    assert response.status_code == 302
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.action) == (teacher, "class_rules")
    assert entry.detail == "Period 1: Students may use the API: yes → no"
    period1.refresh_from_db()
    assert not period1.api_access and period1.rules_changed_at is not None


# Order types --------------------------------------------------------------------------


def test_the_class_form_shows_the_order_types_and_what_a_switch_does(teacher_client, period1):
    page = teacher_client.get(change_url(period1)).content.decode()

    assert 'name="order_types"' in page
    assert '<option value="all" selected>All order types (market, limit, stop, stop-limit, ' in (
        page
    )
    assert "Market orders only</option>" in page
    assert "does not cancel the orders already open" in page


def test_switching_to_market_only_is_audited_and_says_what_stays_open(
    teacher_client, teacher, period1, market
):
    from trading import services as trading

    alice = StudentFactory(username="alice", email="alice@school.example", classroom=period1)
    request = trading.order_request(
        side="buy", type="limit", symbol="AAPL", quantity=1, limit_price="150.00"
    )
    order = trading.place_order(user=alice, request=request)

    response = _edit(teacher_client, period1, order_types="market")
    page = teacher_client.get(response.url).content.decode()

    assert response.status_code == 302
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.action) == (teacher, "class_rules")
    assert entry.detail == (
        "Period 1: Order types students may use: All order types (market, limit, stop, "
        "stop-limit, trailing stop) → Market orders only"
    )
    period1.refresh_from_db()
    assert period1.order_types == "market" and period1.rules_changed_at is not None
    assert (
        "Period 1 now takes market orders only. Its students' open order placed before stays "
        "open and may still fill, until they expire or are cancelled" in page
    )
    orders = reverse("admin:trading_order_changelist")
    assert f'<a href="{orders}?user__classroom__id__exact={period1.pk}&amp;status__exact=open"' in (
        page
    )
    order.refresh_from_db()
    assert order.is_open  # it stays; the instructor may cancel it


def test_switching_with_no_open_orders_says_nothing_more(teacher_client, period1):
    response = _edit(teacher_client, period1, order_types="market")

    page = teacher_client.get(response.url).content.decode()
    assert "now takes market orders only" not in page
    assert "was changed successfully" in page


def test_an_unknown_order_type_setting_is_a_400_and_changes_nothing(teacher_client, period1):
    response = _edit(teacher_client, period1, order_types="limit")

    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    period1.refresh_from_db()
    assert period1.order_types == "all"
    assert not AuditEntry.objects.exists()


# Moving a student ---------------------------------------------------------------------


def test_moving_a_student_to_another_class_is_audited(teacher_client, teacher, period1, period2):
    alice = StudentFactory(username="alice", email="alice@school.example", classroom=period1)
    url = reverse("admin:accounts_user_change", args=[alice.pk])
    data = form_data(teacher_client.get(url).content.decode(), "user_form")
    data["classroom"] = [str(period2.pk)]

    assert teacher_client.post(url, data).status_code == 302

    alice.refresh_from_db()
    assert alice.classroom == period2
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.action, entry.student) == (teacher, "move_student", alice)
    assert entry.detail == "Moved alice from Period 1 to Period 2"
    assert Balance.objects.get(user=alice).amount == Decimal("10000.00")


def test_saving_a_student_without_moving_them_records_nothing(teacher_client, period1):
    alice = StudentFactory(username="alice", email="alice@school.example", classroom=period1)
    url = reverse("admin:accounts_user_change", args=[alice.pk])
    data = form_data(teacher_client.get(url).content.decode(), "user_form")
    data["first_name"] = ["Alicia"]

    assert teacher_client.post(url, data).status_code == 302
    assert not AuditEntry.objects.exists()


def test_a_student_added_into_a_class_starts_with_its_starting_cash(superuser_client, period1):
    period1.starting_cash = Decimal("25000.00")
    period1.save()

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
    row = Transaction.objects.get(user__username="dora")
    assert (row.type, row.amount, row.description) == (
        "deposit",
        Decimal("25000.00"),
        "Starting cash",
    )
