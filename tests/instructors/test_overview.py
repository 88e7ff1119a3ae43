"""The class overview: one class at a glance for its instructor."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from console.selectors import class_overview
from console.services import grant_cash
from ledger import services as ledger
from prices.models import Price
from tests.factories import ClassroomFactory, InstructorFactory, StudentFactory
from trading import services as trading

pytestmark = pytest.mark.django_db
User = get_user_model()


def overview_url(classroom) -> str:
    return reverse("admin:classrooms_classroom_overview", args=[classroom.pk])


@pytest.fixture
def class_of_three(market, period1, carol):
    """Period 1: ann gains (AAPL 200 → 250), ben only holds cash, cat loses (MSFT 400 →
    300) after depositing; carol is in Period 2."""
    ann = StudentFactory(username="ann", first_name="Ann", last_name="Lee", classroom=period1)
    StudentFactory(username="ben", classroom=period1)
    cat = StudentFactory(username="cat", classroom=period1)
    trading.buy(user=ann, symbol="AAPL", quantity=20)
    ledger.deposit(user=cat, amount="2000")
    trading.buy(user=cat, symbol="MSFT", quantity=10)
    Price.objects.filter(symbol="AAPL").update(price=Decimal("250.00"))
    Price.objects.filter(symbol="MSFT").update(price=Decimal("300.00"))
    return period1


def test_the_overview_ranks_averages_and_finds_who_has_not_traded(class_of_three):
    overview = class_overview(class_of_three)

    assert [row.username for row in overview.students] == ["ann", "ben", "cat"]
    assert [row.username for row in overview.top] == ["ann", "ben", "cat"]
    assert overview.bottom == []  # three students: all in the top five, none twice
    assert [row.username for row in overview.not_traded] == ["ben"]
    ann, ben, cat = overview.students
    assert ann.full_name == "Ann Lee" and ann.trades == 1 and cat.trades == 1
    values = [row.total_value for row in overview.students]
    assert overview.averages.value == (sum(values) / 3).quantize(Decimal("0.01"))
    returns = [row.return_pct for row in overview.students]
    assert overview.averages.return_pct == (sum(returns) / 3).quantize(Decimal("0.01"))
    assert overview.averages.trades == Decimal("0.7")
    assert ann.return_pct > 0 > cat.return_pct


def test_the_top_and_bottom_five_never_share_a_student(market, period1):
    for i in range(7):
        student = StudentFactory(username=f"s{i}", classroom=period1)
        ledger.deposit(user=student, amount=str(100 * (i + 1)))
        trading.buy(user=student, symbol="AAPL", quantity=i + 1)
    Price.objects.filter(symbol="AAPL").update(price=Decimal("300.00"))

    overview = class_overview(period1)

    top = [row.username for row in overview.top]
    bottom = [row.username for row in overview.bottom]
    assert len(top) == 5 and len(bottom) == 2 and not set(top) & set(bottom)
    assert top + bottom == [row.username for row in overview.students]
    assert [row.rank for row in overview.bottom] == [6, 7]


def test_last_activity_is_the_last_own_move_or_a_later_log_in(class_of_three, teacher):
    ann = User.objects.get(username="ann")
    ben = User.objects.get(username="ben")
    # An instructor's grant is not the student's activity.
    grant_cash(student=ben, instructor=teacher, amount="10", reason="Prize")
    # Nor is the interest the close pays on cash.
    class_of_three.cash_rate_percent = Decimal("4")
    class_of_three.save()
    assert ledger.accrue_interest(day=1).paid == 3
    User.objects.filter(username="cat").update(last_login=timezone.now() + timedelta(minutes=5))

    rows = {row.username: row for row in class_overview(class_of_three).students}

    assert rows["ann"].last_activity == "bought shares"
    assert rows["ann"].last_activity_at == ann.transactions.filter(type="buy").get().timestamp
    assert (rows["ben"].last_activity, rows["ben"].last_activity_at) == ("", None)
    assert rows["cat"].last_activity == "logged in"


def test_the_instructor_reads_the_overview_page(teacher_client, class_of_three):
    response = teacher_client.get(overview_url(class_of_three))

    assert response.status_code == 200
    page = response.content.decode()
    for text in [
        "Period 1: class overview",
        "Average portfolio value",
        "Average total return",
        "Average time-weighted return",
        "Average number of trades",
        "Top 3 by time-weighted return",
        "Not traded yet (1)",
        "never logged in",
        "bought shares",
        reverse("admin:accounts_user_change", args=[User.objects.get(username="ann").pk]),
    ]:
        assert text in page, text
    assert "carol" not in page


def test_an_instructor_cannot_open_another_instructors_class(teacher_client, class_of_three):
    other = ClassroomFactory(name="Period 9")
    other.owners.add(InstructorFactory())
    StudentFactory(username="zed", classroom=other)

    for url in [overview_url(other), "/admin/classrooms/classroom/99999/overview/",
                "/admin/classrooms/classroom/x/overview/"]:  # fmt: skip
        response = teacher_client.get(url)
        assert response.status_code == 404, url
        assert "zed" not in response.content.decode()


def test_a_superuser_sees_every_class_and_a_student_is_sent_to_log_in(
    superuser_client, client, class_of_three
):
    assert superuser_client.get(overview_url(class_of_three)).status_code == 200
    client.force_login(User.objects.get(username="ann"))
    response = client.get(overview_url(class_of_three))
    assert response.status_code == 302 and response.url.startswith(reverse("admin:login"))


def test_an_empty_class_says_how_to_fill_it(teacher_client, period2):
    page = teacher_client.get(overview_url(period2)).content.decode()
    assert "No student has joined" in page and period2.join_code in page


@pytest.mark.parametrize("size", [3, 25])
def test_the_overview_runs_a_fixed_number_of_queries(
    teacher_client, market, period1, size, django_assert_num_queries
):
    for i in range(size):
        student = StudentFactory(username=f"s{i:02d}", classroom=period1)
        if i % 2:
            trading.buy(user=student, symbol="AAPL", quantity=1)

    # session, user, the user's permissions (2), the class, the overview (one query)
    with django_assert_num_queries(6):
        response = teacher_client.get(overview_url(period1))
    assert response.status_code == 200
    assert len(response.context["students"]) == size


def test_the_overview_is_linked_from_the_class_list_page_and_admin_index(
    teacher_client, class_of_three
):
    url = overview_url(class_of_three)
    pages = [
        reverse("admin:classrooms_classroom_changelist"),
        reverse("admin:classrooms_classroom_change", args=[class_of_three.pk]),
        reverse("admin:index"),
    ]
    for page in pages:
        assert url in teacher_client.get(page).content.decode(), page
