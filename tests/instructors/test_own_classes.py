"""Teachers see their own classes: two instructors, two classes, and a student in no class.

The teacher runs Period 1 (alice, bob); Ms Bee runs Period 2 (carol, dan); nina is in no
class. Every console page and action is tried by list and by URL: each instructor sees and
acts on their own students only, and a superuser sees everyone, nina included.
"""

from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.roles import ensure_instructor_group
from classrooms.models import Classroom
from console.services import grant_cash
from ledger import services as ledger
from ledger.models import Balance, Transaction
from portfolio.models import Holding, PortfolioSnapshot, PortfolioSummary
from portfolio.services import after_tick
from prices.models import MarketEvent
from tests.factories import ClassroomFactory, InstructorFactory, StudentFactory
from tests.instructors.helpers import form_data
from tradesim.models import AuditEntry
from trading import services as trading
from trading.models import Order, Trade

pytestmark = pytest.mark.django_db

USERS = reverse("admin:accounts_user_changelist")
GRANT = reverse("admin:accounts_user_grant_cash")
RESET = reverse("admin:accounts_user_reset")
STANDINGS = reverse("admin:classrooms_classroom_standings")
CLASSES = reverse("admin:classrooms_classroom_changelist")


def ids(*users) -> str:
    return ",".join(str(u.pk) for u in users)


def listed(response) -> set[str]:
    assert response.status_code == 200
    return {str(row) for row in response.context["cl"].result_list}


def usernames(response, field="user") -> set[str]:
    assert response.status_code == 200
    rows = response.context["cl"].result_list
    return {getattr(row, field).username if field else row.username for row in rows}


def not_found(response) -> bool:
    """The admin's answer to a row outside the viewer's queryset: back to the index with
    "… doesn't exist", the same as for a row that was never there."""
    return response.status_code == 302 and response.url == reverse("admin:index")


@pytest.fixture
def bee(db):
    user = InstructorFactory(username="msbee", email="bee@school.example")
    user.groups.add(ensure_instructor_group())
    return user


@pytest.fixture
def bee_client(bee):
    c = Client()
    c.force_login(bee)
    return c


@pytest.fixture
def school(teacher, bee, period1, superuser, market, settings):
    """Both classes with some of everything: trades, holdings, grants, snapshots."""
    period2 = ClassroomFactory(name="Period 2")  # Ms Bee's, not the teacher's
    period2.owners.set([bee])
    alice = StudentFactory(username="alice", email="alice@school.example", classroom=period1)
    bob = StudentFactory(username="bob", email="bob@school.example", classroom=period1)
    carol = StudentFactory(username="carol", email="carol@school.example", classroom=period2)
    dan = StudentFactory(username="dan", email="dan@school.example", classroom=period2)
    nina = StudentFactory(username="nina", email="nina@school.example")
    for user, symbol in [(alice, "AAPL"), (carol, "MSFT"), (nina, "XOM")]:
        trading.buy(user=user, symbol=symbol, quantity=2)
    grant_cash(student=alice, instructor=teacher, amount="5", reason="Essay prize")
    grant_cash(student=carol, instructor=bee, amount="7", reason="Quiz prize")
    grant_cash(student=nina, instructor=superuser, amount="9", reason="Visitor prize")
    settings.SNAPSHOT_EVERY_TICKS = 1
    after_tick(ticks=1, timestamp=timezone.now())
    # Not the Instructors group's, but a superuser may give them: then they are scoped too.
    extra = Permission.objects.filter(
        codename__in=["view_portfoliosummary", "view_portfoliosnapshot"]
    )
    for instructor in (teacher, bee):
        instructor.user_permissions.add(*extra)
    return {
        "alice": alice,
        "bob": bob,
        "carol": carol,
        "dan": dan,
        "nina": nina,
        "period1": period1,
        "period2": period2,
    }


# The user list and a student's page ------------------------------------------------------


def test_each_instructor_lists_only_the_students_of_their_classes(
    school, teacher_client, bee_client, superuser_client
):
    assert usernames(teacher_client.get(USERS), field=None) == {"alice", "bob"}
    assert usernames(bee_client.get(USERS), field=None) == {"carol", "dan"}
    everyone = usernames(superuser_client.get(USERS, {"role": "student"}), field=None)
    assert everyone == {"alice", "bob", "carol", "dan", "nina"}  # nina only here


def test_the_class_filter_offers_only_the_instructors_own_classes(
    school, teacher, teacher_client, superuser_client
):
    period3 = ClassroomFactory(name="Period 3")
    period3.owners.add(teacher)

    page = teacher_client.get(USERS)
    choices = [spec for spec in page.context["cl"].filter_specs if spec.title == "class"]
    assert [label for _, label in choices[0].lookup_choices] == ["Period 1", "Period 3"]
    assert "Period 2" not in page.content.decode()
    # Asking for the other class by its id shows nobody of it.
    other = teacher_client.get(USERS, {"classroom__id__exact": school["period2"].pk})
    assert usernames(other, field=None) == set()
    assert "Period 2" in superuser_client.get(USERS).content.decode()


def test_another_class_students_page_is_not_found_by_url(school, teacher_client):
    carol = school["carol"]
    for name in ["admin:accounts_user_change", "admin:accounts_user_history"]:
        assert not_found(teacher_client.get(reverse(name, args=[carol.pk])))
    assert not_found(
        teacher_client.get(reverse("admin:accounts_user_change", args=[school["nina"].pk]))
    )
    assert (
        teacher_client.get(
            reverse("admin:accounts_user_change", args=[school["alice"].pk])
        ).status_code
        == 200
    )


def test_another_class_student_cannot_be_changed_by_post(school, teacher_client):
    carol = school["carol"]
    own = form_data(
        teacher_client.get(
            reverse("admin:accounts_user_change", args=[school["alice"].pk])
        ).content.decode(),
        "user_form",
    )
    own.update(first_name=["Mallory"], classroom=[str(school["period1"].pk)])

    response = teacher_client.post(reverse("admin:accounts_user_change", args=[carol.pk]), own)

    assert not_found(response)
    carol.refresh_from_db()
    assert carol.first_name != "Mallory" and carol.classroom == school["period2"]


def test_a_student_can_be_moved_only_into_the_instructors_own_classes(school, teacher_client):
    url = reverse("admin:accounts_user_change", args=[school["alice"].pk])
    page = teacher_client.get(url)
    choices = {str(c) for c in page.context["adminform"].form.fields["classroom"].queryset}
    assert choices == {"Period 1"}

    data = form_data(page.content.decode(), "user_form")
    data["classroom"] = [str(school["period2"].pk)]
    response = teacher_client.post(url, data)

    assert response.status_code == 400
    school["alice"].refresh_from_db()
    assert school["alice"].classroom == school["period1"]


def test_a_staff_account_in_an_owned_class_is_not_one_of_its_students(
    school, teacher_client, period1
):
    colleague = InstructorFactory(username="colleague", classroom=period1)
    before = AuditEntry.objects.count()

    response = teacher_client.post(
        reverse("admin:accounts_user_change", args=[colleague.pk]), {"first_name": "X"}
    )
    granted = teacher_client.post(
        f"{GRANT}?ids={colleague.pk}", {"amount": "10", "reason": "x", "token": "t-9"}
    )

    assert not_found(response)
    assert granted.status_code == 302 and granted.url == USERS  # nobody of theirs selected
    assert "colleague" not in listed(teacher_client.get(USERS))
    assert AuditEntry.objects.count() == before


# Grant and reset --------------------------------------------------------------------------


@pytest.mark.parametrize("action", [GRANT, RESET])
def test_grant_and_reset_by_url_ignore_another_class_students(school, teacher_client, action):
    carol, nina = school["carol"], school["nina"]
    before = (Balance.objects.get(user=carol).amount, Balance.objects.get(user=nina).amount)

    form = teacher_client.get(f"{action}?ids={ids(carol, nina)}")
    assert form.status_code == 302 and form.url == USERS  # nobody of theirs selected
    data = {"amount": "100", "reason": "Mine now", "confirm": "on", "token": "t-1"}
    posted = teacher_client.post(f"{action}?ids={ids(carol, nina)}", data)
    assert posted.status_code == 302 and posted.url == USERS

    assert (Balance.objects.get(user=carol).amount, Balance.objects.get(user=nina).amount) == before
    assert not AuditEntry.objects.filter(student__in=[carol, nina], actor__username="teacher")


def test_a_mixed_selection_by_url_reaches_only_the_instructors_students(school, teacher_client):
    alice, carol = school["alice"], school["carol"]

    page = teacher_client.get(f"{GRANT}?ids={ids(alice, carol)}").content.decode()
    assert "alice" in page and "carol" not in page
    teacher_client.post(
        f"{GRANT}?ids={ids(alice, carol)}", {"amount": "10", "reason": "Prize", "token": "t-2"}
    )

    granted = Transaction.objects.filter(type="grant", description__contains="Prize", amount=10)
    assert {row.user.username for row in granted} == {"alice"}


@pytest.mark.parametrize("action", ["grant_cash_action", "reset_action"])
def test_the_list_actions_skip_another_class_students(school, teacher_client, action):
    alice, carol = school["alice"], school["carol"]

    response = teacher_client.post(
        USERS, {"action": action, ACTION_CHECKBOX_NAME: [str(alice.pk), str(carol.pk)]}
    )

    assert response.status_code == 302
    assert response.url.endswith(f"?ids={alice.pk}")


def test_the_per_student_buttons_go_only_to_own_students(school, teacher_client):
    page = teacher_client.get(
        reverse("admin:accounts_user_change", args=[school["alice"].pk])
    ).content.decode()
    assert f"{GRANT}?ids={school['alice'].pk}" in page
    assert f"{RESET}?ids={school['alice'].pk}" in page


def test_a_superuser_grants_to_a_student_in_no_class(school, superuser_client):
    nina = school["nina"]
    before = Balance.objects.get(user=nina).amount

    superuser_client.post(f"{GRANT}?ids={nina.pk}", {"amount": "1", "reason": "x", "token": "t"})

    assert Balance.objects.get(user=nina).amount == before + 1


# Standings --------------------------------------------------------------------------------


def read_usernames(response) -> set[str]:
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode()
    return {line.split(",")[1] for line in text.splitlines()[1:]}


def test_the_standings_of_another_class_are_refused(school, teacher_client):
    response = teacher_client.get(STANDINGS, {"class": school["period2"].pk}, follow=True)

    assert "There is no such class." in response.content.decode()
    assert "carol" not in response.content.decode()


def test_the_standings_without_a_class_are_the_instructors_students(
    school, teacher_client, bee_client, superuser_client
):
    assert read_usernames(teacher_client.get(STANDINGS)) == {"alice", "bob"}
    assert read_usernames(bee_client.get(STANDINGS)) == {"carol", "dan"}
    assert read_usernames(superuser_client.get(STANDINGS)) == {
        "alice", "bob", "carol", "dan", "nina"
    }  # fmt: skip
    assert read_usernames(teacher_client.get(STANDINGS, {"class": school["period1"].pk})) == {
        "alice",
        "bob",
    }


# Classes ----------------------------------------------------------------------------------


def test_each_instructor_lists_and_opens_only_their_classes(school, teacher_client, bee_client):
    assert listed(teacher_client.get(CLASSES)) == {"Period 1"}
    assert listed(bee_client.get(CLASSES)) == {"Period 2"}
    other = school["period2"]
    for name in ["change", "history", "delete"]:
        response = teacher_client.get(
            reverse(f"admin:classrooms_classroom_{name}", args=[other.pk])
        )
        assert not_found(response), name


def test_another_instructors_class_cannot_be_changed_or_deleted(school, teacher_client):
    other = school["period2"]
    own_page = teacher_client.get(
        reverse("admin:classrooms_classroom_change", args=[school["period1"].pk])
    )
    data = form_data(own_page.content.decode(), "classroom_form")
    data.update(name=["Taken over"], starting_cash=["1.00"])

    changed = teacher_client.post(
        reverse("admin:classrooms_classroom_change", args=[other.pk]), data
    )
    deleted = teacher_client.post(
        reverse("admin:classrooms_classroom_delete", args=[other.pk]), {"post": "yes"}
    )
    bulk = teacher_client.post(
        CLASSES, {"action": "delete_selected", ACTION_CHECKBOX_NAME: [str(other.pk)], "post": "yes"}
    )

    assert not_found(changed) and not_found(deleted)
    assert bulk.status_code in (200, 302)
    other.refresh_from_db()
    assert (other.name, other.starting_cash) == ("Period 2", Decimal("10000.00"))


def test_whoever_adds_a_class_owns_it(school, teacher, teacher_client, bee_client):
    add = reverse("admin:classrooms_classroom_add")
    data = form_data(teacher_client.get(add).content.decode(), "classroom_form")
    data.update(name=["Period 3"])

    response = teacher_client.post(add, data)

    assert response.status_code == 302
    period3 = Classroom.objects.get(name="Period 3")
    assert list(period3.owners.all()) == [teacher]
    assert listed(teacher_client.get(CLASSES)) == {"Period 1", "Period 3"}
    assert listed(bee_client.get(CLASSES)) == {"Period 2"}


def test_a_superuser_who_names_the_owners_is_not_added_to_them(school, superuser_client, bee):
    add = reverse("admin:classrooms_classroom_add")
    data = form_data(superuser_client.get(add).content.decode(), "classroom_form")
    data.update(name=["Period 4"], owners=[str(bee.pk)])

    assert superuser_client.post(add, data).status_code == 302

    assert list(Classroom.objects.get(name="Period 4").owners.all()) == [bee]


# The money lists --------------------------------------------------------------------------

MONEY_LISTS = [
    ("ledger_balance", Balance, "user"),
    ("ledger_transaction", Transaction, "user"),
    ("portfolio_holding", Holding, "user"),
    ("portfolio_portfoliosummary", PortfolioSummary, "user"),
    ("portfolio_portfoliosnapshot", PortfolioSnapshot, "user"),
    ("trading_trade", Trade, "user"),
    ("trading_order", Order, "user"),
    ("tradesim_auditentry", AuditEntry, "student"),
]


@pytest.mark.parametrize(("model", "rows", "field"), MONEY_LISTS)
def test_every_money_list_shows_only_the_instructors_students(
    school, teacher_client, bee_client, superuser_client, model, rows, field
):
    url = reverse(f"admin:{model}_changelist")

    mine = usernames(teacher_client.get(url), field) - {None}
    theirs = usernames(bee_client.get(url), field)

    assert mine and mine <= {"alice", "bob"}
    assert theirs and theirs <= {"carol", "dan"}
    assert "nina" in usernames(superuser_client.get(url), field)
    # Nor the other class's name, in the rows or the class filter's choices.
    assert "Period 2" not in teacher_client.get(url).content.decode()


@pytest.mark.parametrize(("model", "rows", "field"), MONEY_LISTS)
def test_another_class_money_rows_are_not_found_by_url(school, teacher_client, model, rows, field):
    for username in ["carol", "nina"]:
        row = rows.objects.filter(**{f"{field}__username": username}).first()
        assert row is not None, username
        for view in ["change", "history"]:
            response = teacher_client.get(reverse(f"admin:{model}_{view}", args=[row.pk]))
            assert not_found(response), f"{model} {view} of {username}"


# The audit log and the market -----------------------------------------------------------


def test_the_audit_log_shows_own_students_own_actions_and_the_market(
    school, teacher, teacher_client, bee_client, market
):
    bee_client.post(
        reverse("admin:prices_marketevent_add"),
        {"stock": "XOM", "sector": "", "percent": "-5", "reason": "Oil glut"},
    )
    carol = school["carol"]
    carol_grant = AuditEntry.objects.get(student=carol)

    entries = teacher_client.get(reverse("admin:tradesim_auditentry_changelist"))
    seen = {
        (row.action, row.student.username if row.student else None)
        for row in entries.context["cl"].result_list
    }

    assert seen == {("grant_cash", "alice"), ("market_event", None)}
    assert not_found(
        teacher_client.get(reverse("admin:tradesim_auditentry_change", args=[carol_grant.pk]))
    )


def test_an_instructor_keeps_sight_of_their_own_action_on_a_student_who_left(
    school, teacher, teacher_client
):
    alice = school["alice"]
    alice.classroom = school["period2"]
    alice.save(update_fields=["classroom"])

    entries = teacher_client.get(reverse("admin:tradesim_auditentry_changelist"))

    assert [row.student.username for row in entries.context["cl"].result_list] == ["alice"]
    assert "alice" not in usernames(teacher_client.get(USERS), field=None)


def test_market_events_are_shared_by_every_instructor(school, teacher_client, bee_client):
    bee_client.post(
        reverse("admin:prices_marketevent_add"),
        {"stock": "", "sector": "Energy", "percent": "-5", "reason": "Oil glut"},
    )
    event = MarketEvent.objects.get()

    response = teacher_client.get(reverse("admin:prices_marketevent_changelist"))

    assert [row.pk for row in response.context["cl"].result_list] == [event.pk]


def test_a_moved_student_leaves_the_old_instructors_console(school, teacher_client, bee_client):
    alice = school["alice"]
    ledger.deposit(user=alice, amount="1")
    alice.classroom = school["period2"]
    alice.save(update_fields=["classroom"])

    assert "alice" not in usernames(teacher_client.get(USERS), field=None)
    assert "alice" in usernames(bee_client.get(USERS), field=None)
    trades = reverse("admin:trading_trade_changelist")
    assert "alice" not in usernames(teacher_client.get(trades))
    assert "alice" in usernames(bee_client.get(trades))


# Open orders ------------------------------------------------------------------------------


def _limit_order(user, side="buy", symbol="AAPL", price="100.00") -> Order:
    request = trading.order_request(
        side=side, type="limit", symbol=symbol, quantity=1, limit_price=price
    )
    return trading.place_order(user=user, request=request)


def _cancel(client, student, order):
    url = reverse("admin:accounts_user_cancel_orders", args=[student.pk])
    return client.post(url, {"order": order if order == "all" else order.pk})


def test_an_instructor_never_sees_or_cancels_another_class_students_orders(
    school, teacher, bee, teacher_client, bee_client
):
    alice, carol = school["alice"], school["carol"]
    alices, carols = _limit_order(alice), _limit_order(carol)
    orders = reverse("admin:trading_order_changelist")

    # Ms Bee: alice's page and its cancel are not found; carol's cancel does not take
    # alice's order; the Orders list, its action and the service do not reach it.
    assert not_found(bee_client.get(reverse("admin:accounts_user_change", args=[alice.pk])))
    assert not_found(_cancel(bee_client, alice, "all"))
    _cancel(bee_client, carol, alices)
    assert alices.pk not in {row.pk for row in bee_client.get(orders).context["cl"].result_list}
    bee_client.post(orders, {"action": "cancel_action", ACTION_CHECKBOX_NAME: [str(alices.pk)]})
    assert not_found(bee_client.get(reverse("admin:trading_order_change", args=[alices.pk])))
    with pytest.raises(trading.OrderNotFound):
        trading.cancel_order(order_id=alices.pk, by=bee)
    alices.refresh_from_db()
    assert alices.is_open
    assert not AuditEntry.objects.filter(action="cancel_order").exists()

    # The teacher likewise for carol's; each cancels their own students' orders.
    assert not_found(_cancel(teacher_client, carol, "all"))
    _cancel(teacher_client, alice, carols)
    carols.refresh_from_db()
    assert carols.is_open
    _cancel(teacher_client, alice, alices)
    _cancel(bee_client, carol, "all")
    alices.refresh_from_db()
    carols.refresh_from_db()
    assert (alices.status, alices.cancelled_by) == ("cancelled", teacher)
    assert (carols.status, carols.cancelled_by) == ("cancelled", bee)


def test_a_superuser_cancels_an_order_of_a_student_in_no_class(
    school, superuser, superuser_client
):
    ninas = _limit_order(school["nina"], side="sell", symbol="XOM", price="500.00")

    _cancel(superuser_client, school["nina"], ninas)

    ninas.refresh_from_db()
    assert (ninas.status, ninas.cancelled_by) == ("cancelled", superuser)
