"""One cards form sent several times at once (a double-click, a reload while the first
request runs), on PostgreSQL with real threads and row locks: one sheet is printed, and
its codes keep working. (The service under the same race: tests/accounts/test_concurrency.py.)"""

import pytest
from django.test import Client

from accounts.models import LoginCard
from tests.concurrency import run_concurrently
from tests.instructors.test_login_cards import cards_url, page_token, printed_codes

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_one_form_posted_at_once_prints_one_sheet_whose_codes_work(
    teacher_client, period1, student, other_student
):
    token = page_token(teacher_client, period1)
    tabs = []
    for _ in range(4):  # the same browser: one session
        tab = Client()
        tab.cookies = teacher_client.cookies
        tabs.append(tab)

    results = run_concurrently(
        [
            lambda tab=tab: tab.post(cards_url(period1), {"action": "print_all", "token": token})
            for tab in tabs
        ]
    )

    statuses = sorted(r.status_code for r in results)
    assert statuses == [200, 409, 409, 409], results
    [sheet] = [r for r in results if r.status_code == 200]
    codes = printed_codes(sheet)
    assert len(codes) == 2
    assert LoginCard.objects.count() == 2
    for code in codes:
        assert Client().post("/accounts/card/", {"code": code}).status_code == 302


def test_two_buttons_of_one_page_pressed_at_once_each_issue(
    teacher_client, period1, student, other_student
):
    """New card for alice and for bob from one page (one token), sent together: each button
    issues its card once, and each sent twice prints nothing more."""
    token = page_token(teacher_client, period1)
    tabs = []
    for _ in range(4):
        tab = Client()
        tab.cookies = teacher_client.cookies
        tabs.append(tab)
    pressed = [student.pk, other_student.pk, student.pk, other_student.pk]

    results = run_concurrently(
        [
            lambda tab=tab, pk=pk: tab.post(
                cards_url(period1), {"action": "new_card", "student": pk, "token": token}
            )
            for tab, pk in zip(tabs, pressed, strict=True)
        ]
    )

    statuses = sorted(r.status_code for r in results)
    assert statuses == [200, 200, 409, 409], results
    codes = [code for r in results if r.status_code == 200 for code in printed_codes(r)]
    assert len(codes) == 2
    assert LoginCard.objects.count() == 2
    for code in codes:
        assert Client().post("/accounts/card/", {"code": code}).status_code == 302
