"""The headlines in the admin: instructors read them, by kind, by day and by search; no one
adds, changes or deletes one."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.roles import ensure_instructor_group
from prices.models import Headline, MarketState

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:prices_headline_changelist")


@pytest.fixture
def teacher_client(client, instructor):
    instructor.groups.add(ensure_instructor_group())
    client.force_login(instructor)
    return client


@pytest.fixture
def headlines(market):
    MarketState.objects.update_or_create(id=1, defaults={"trading_day": 9})  # day 10 now
    now = timezone.now()
    rows = [
        ("jump", "AAPL", 10, "AAPL soars 9 % in heavy trading"),
        ("earnings", "XOM", 8, "XOM misses estimates"),
        ("event", None, 2, "Energy stocks fall 8 %: Spill"),
    ]
    return Headline.objects.bulk_create(
        Headline(
            kind=kind,
            stock_id=symbol,
            sector="Energy",
            day=day,
            text=text,
            percent=Decimal("9"),
            published_at=now - timedelta(days=10 - day),
        )
        for kind, symbol, day, text in rows
    )


def shown(response) -> list[str]:
    assert response.status_code == 200
    return [h.text for h in response.context["cl"].result_list]


def test_an_instructor_reads_the_headlines_newest_first(teacher_client, headlines):
    assert shown(teacher_client.get(CHANGELIST)) == [
        "AAPL soars 9 % in heavy trading",
        "XOM misses estimates",
        "Energy stocks fall 8 %: Spill",
    ]


def test_the_list_filters_by_kind_and_by_day_and_searches(teacher_client, headlines):
    assert shown(teacher_client.get(CHANGELIST, {"kind__exact": "earnings"})) == [
        "XOM misses estimates"
    ]
    assert shown(teacher_client.get(CHANGELIST, {"days": "1"})) == [
        "AAPL soars 9 % in heavy trading"
    ]
    assert len(shown(teacher_client.get(CHANGELIST, {"days": "5"}))) == 2
    assert shown(teacher_client.get(CHANGELIST, {"q": "xom"})) == ["XOM misses estimates"]
    assert shown(teacher_client.get(CHANGELIST, {"q": "spill"})) == [
        "Energy stocks fall 8 %: Spill"
    ]


def test_a_headline_opens_read_only(teacher_client, headlines):
    url = reverse("admin:prices_headline_change", args=[headlines[0].pk])
    response = teacher_client.get(url)
    assert response.status_code == 200
    body = response.content.decode()
    assert "AAPL soars 9 % in heavy trading" in body and 'name="_save"' not in body


@pytest.mark.parametrize("who", ["teacher_client", "admin_client"])
def test_no_one_adds_changes_or_deletes_a_headline(request, who, headlines):
    client = request.getfixturevalue(who)
    pk = headlines[0].pk
    assert client.get(reverse("admin:prices_headline_add")).status_code == 403
    assert client.post(reverse("admin:prices_headline_change", args=[pk]), {}).status_code == 403
    assert (
        client.post(reverse("admin:prices_headline_delete", args=[pk]), {"post": "yes"}).status_code
        == 403
    )
    assert Headline.objects.count() == 3


def test_an_instructor_without_the_group_does_not_see_them(client, instructor, headlines):
    client.force_login(instructor)
    assert client.get(CHANGELIST).status_code == 403


def test_a_student_is_sent_to_the_admins_log_in(student_client, headlines):
    response = student_client.get(CHANGELIST)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
