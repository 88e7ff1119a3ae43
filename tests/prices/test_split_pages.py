"""The splits admin (an instructor schedules and cancels splits, audited; students cannot
reach it) and the quote page's announcement of a split, in one query."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from accounts.roles import ensure_instructor_group
from prices import admin as prices_admin
from prices.models import MarketParameters, MarketState, Split
from prices.services import MarketError
from prices.splits import schedule_split
from tests.factories import InstructorFactory
from tradesim.models import AuditEntry

pytestmark = pytest.mark.django_db

ADD = reverse("admin:prices_split_add")
CHANGELIST = reverse("admin:prices_split_changelist")


@pytest.fixture(autouse=True)
def _day_ten(market):
    MarketState.objects.update_or_create(id=1, defaults={"trading_day": 9, "day_elapsed": 0.5})
    MarketParameters.objects.update_or_create(id=1, defaults={"split_notice_days": 5})


@pytest.fixture
def teacher_client(client, instructor):
    """An instructor in the Instructors group (the permissions the class console grants)."""
    instructor.groups.add(ensure_instructor_group())
    client.force_login(instructor)
    return client


def test_an_instructor_schedules_a_split_from_the_admin(teacher_client, instructor):
    page = teacher_client.get(ADD).content.decode()
    assert "3-for-2" in page and "1-for-10" in page and 'value="5"' in page

    response = teacher_client.post(ADD, {"stock": "AAPL", "ratio": "2-for-1", "days_ahead": "4"})

    assert response.status_code == 302
    split = Split.objects.get()
    assert (split.stock_id, split.ratio_text, split.effective_day, split.created_by) == (
        "AAPL",
        "2-for-1",
        14,
        instructor,
    )
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.symbol, entry.detail) == ("split", "AAPL", "2-for-1 on day 14")
    listing = teacher_client.get(CHANGELIST).content.decode()
    assert "Pending: takes effect at the open of day 14" in listing


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"stock": "AAPL", "ratio": "7-for-1", "days_ahead": "5"}, "ratio"),
        ({"stock": "AAPL", "ratio": "2-for-1", "days_ahead": "0"}, "days_ahead"),
        ({"stock": "AAPL", "ratio": "2-for-1", "days_ahead": "x"}, "days_ahead"),
        ({"stock": "NOPE", "ratio": "2-for-1", "days_ahead": "5"}, "stock"),
        ({"stock": "TSIM", "ratio": "2-for-1", "days_ahead": "5"}, "stock"),
    ],
)
def test_a_bad_split_is_refused_with_a_message_and_a_400(teacher_client, data, field):
    response = teacher_client.post(ADD, data)

    assert response.status_code == 400
    assert field in response.context["adminform"].form.errors
    assert not Split.objects.exists() and not AuditEntry.objects.exists()


def test_a_second_split_of_a_stock_is_refused_in_the_form(teacher_client):
    schedule_split(symbol="AAPL", ratio="2-for-1", effective_day=12)

    response = teacher_client.post(ADD, {"stock": "AAPL", "ratio": "3-for-1", "days_ahead": "5"})

    assert response.status_code == 400
    assert "already has a 2-for-1 split announced for day 12" in response.content.decode()


def test_the_cancel_action_cancels_pending_splits_and_says_why_not_for_others(
    teacher_client, instructor
):
    pending = schedule_split(symbol="AAPL", ratio="2-for-1", effective_day=12)
    done = schedule_split(symbol="MSFT", ratio="3-for-2", effective_day=11)
    Split.objects.filter(pk=done.pk).update(applied_at=done.created_at)

    response = teacher_client.post(
        CHANGELIST,
        {"action": "cancel_splits_action", ACTION_CHECKBOX_NAME: [pending.pk, done.pk]},
        follow=True,
    )

    body = response.content.decode()
    assert "Cancelled the AAPL 2-for-1 on day 12" in body
    assert "took effect already" in body
    pending.refresh_from_db()
    assert pending.cancelled_by == instructor
    assert AuditEntry.objects.filter(action="cancel_split").count() == 1


def test_a_split_cannot_be_edited_or_deleted(teacher_client, admin_client):
    split = schedule_split(symbol="AAPL", ratio="2-for-1", effective_day=12)
    url = reverse("admin:prices_split_change", args=[split.pk])
    for client in (teacher_client, admin_client):
        assert client.get(url).status_code == 200
        client.post(url, {"stock": "MSFT"})
        assert client.get(reverse("admin:prices_split_delete", args=[split.pk])).status_code == 403
    assert Split.objects.get().stock_id == "AAPL"


def test_an_instructor_without_the_permission_and_a_student_cannot_schedule(client, student_client):
    assert student_client.get(ADD).status_code == 302  # to the admin's log-in
    bare = InstructorFactory(username="bare")
    client.force_login(bare)
    assert client.get(ADD).status_code == 403
    assert (
        client.post(ADD, {"stock": "AAPL", "ratio": "2-for-1", "days_ahead": "5"}).status_code
        == 403
    )
    assert not Split.objects.exists()


# The quote page ------------------------------------------------------------------------------


def test_the_quote_page_shows_an_announced_split(anon_client):
    schedule_split(symbol="AAPL", ratio="2-for-1", effective_day=14)

    body = anon_client.get(reverse("prices:quote", args=["AAPL"])).content.decode()

    assert "2-for-1 split on day 14" in body
    assert "each share becomes two" in body
    other = anon_client.get(reverse("prices:quote", args=["MSFT"])).content.decode()
    assert "split on day" not in other


def test_the_split_costs_the_quote_page_one_query(anon_client, django_assert_max_num_queries):
    schedule_split(symbol="AAPL", ratio="3-for-2", effective_day=14)
    url = reverse("prices:quote", args=["AAPL"])
    anon_client.get(url)  # the quote cache warm

    # the quote, the history, the news, the split
    with django_assert_max_num_queries(4):
        body = anon_client.get(url).content.decode()
    assert "3-for-2 split on day 14" in body
    assert "every two shares become three" in body


def test_a_split_the_service_refuses_after_the_form_shows_the_reason(teacher_client, monkeypatch):
    """A race: the form validated, then another instructor announced a split first."""

    def refused(**_):
        raise MarketError("AAPL already has a 2-for-1 split announced for day 12: cancel it first.")

    monkeypatch.setattr(prices_admin.splits, "schedule_split", refused)

    response = teacher_client.post(
        ADD, {"stock": "AAPL", "ratio": "2-for-1", "days_ahead": "4"}, follow=True
    )

    assert response.status_code == 200
    assert "already has a 2-for-1 split announced for day 12" in response.content.decode()
    assert not Split.objects.exists() and not AuditEntry.objects.exists()


@pytest.mark.parametrize("count", [1, 3])
def test_the_split_list_costs_the_same_however_many_splits(
    teacher_client, count, django_assert_num_queries
):
    for symbol in ["AAPL", "MSFT", "XOM"][:count]:
        schedule_split(symbol=symbol, ratio=(2, 1), days_ahead=3)
    teacher_client.get(CHANGELIST)  # the session's first reads

    with django_assert_num_queries(7):
        assert teacher_client.get(CHANGELIST).status_code == 200
