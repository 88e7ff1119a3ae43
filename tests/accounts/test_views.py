"""Joining a class over HTTP: /classes/join/ (classes:join)."""

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from accounts import code_attempts
from ledger.models import Balance
from tests.factories import ClassroomFactory

pytestmark = pytest.mark.django_db

User = get_user_model()
JOIN = "/classes/join/"


@pytest.fixture
def period1():
    return ClassroomFactory(name="Period 1", join_code="KX7M3QPA", starting_cash=Decimal("25000"))


def test_the_join_page_has_its_name_and_asks_for_the_code(student_client):
    assert reverse("classes:join") == JOIN
    page = student_client.get(JOIN)

    assert page.status_code == 200
    assert 'name="code"' in page.content.decode()


def test_a_student_joins_and_is_sent_to_the_dashboard_with_a_message(student_client, period1):
    response = student_client.post(JOIN, {"code": "kx7m-3qpa"}, follow=True)

    assert response.redirect_chain == [(reverse("portfolio:dashboard"), 302)]
    assert "You joined Period 1. You start with $25,000.00 in cash." in response.content.decode()
    student = User.objects.get(username="alice")
    assert student.classroom == period1
    assert Balance.objects.get(user=student).amount == Decimal("25000.00")


def test_a_wrong_code_is_a_400_with_the_reason(student_client, period1):
    response = student_client.post(JOIN, {"code": "KX7M3QPB"})

    assert response.status_code == 400
    assert "No class has the code KX7M3QPB; check it with your teacher." in (
        response.content.decode()
    )
    assert User.objects.get(username="alice").classroom is None


@pytest.mark.parametrize("typed", ["", "KX7M", "KX7M3QP0"])
def test_something_that_is_no_code_at_all_is_a_400_and_not_counted(student_client, period1, typed):
    for _ in range(code_attempts.PER_USER + 1):
        response = student_client.post(JOIN, {"code": typed})
        assert response.status_code == 400

    assert "8 letters and digits" in response.content.decode() or "required" in (
        response.content.decode()
    )
    assert student_client.post(JOIN, {"code": "KX7M3QPA"}).status_code == 302


def test_an_empty_post_is_a_400_asking_for_the_code(student_client):
    response = student_client.post(JOIN)

    assert response.status_code == 400
    assert "This field is required." in response.content.decode()


def test_a_refusal_for_a_closed_class_is_a_400_naming_it(student_client, period1):
    period1.joining_open = False
    period1.save()

    response = student_client.post(JOIN, {"code": "KX7M3QPA"})

    assert response.status_code == 400
    assert "Period 1 is not taking new students" in response.content.decode()


def test_joining_the_class_one_is_in_redirects_with_a_note(student_client, period1):
    student_client.post(JOIN, {"code": "KX7M3QPA"})

    response = student_client.post(JOIN, {"code": "KX7M3QPA"}, follow=True)

    assert response.redirect_chain == [(reverse("portfolio:dashboard"), 302)]
    assert "You are already in Period 1." in response.content.decode()


def test_too_many_wrong_codes_are_a_429_saying_when_to_try_again(student_client, period1):
    for _ in range(code_attempts.PER_USER):
        assert student_client.post(JOIN, {"code": "AAAAAAAA"}).status_code == 400

    response = student_client.post(JOIN, {"code": "KX7M3QPA"})

    assert response.status_code == 429
    assert "Too many wrong class codes: try again after" in response.content.decode()
    assert 0 < int(response["Retry-After"]) <= code_attempts.WINDOW.total_seconds()
    assert User.objects.get(username="alice").classroom is None


def test_the_page_tells_a_student_which_class_they_are_in(student_client, period1):
    student_client.post(JOIN, {"code": "KX7M3QPA"})

    assert "You are in <strong>Period 1</strong>" in student_client.get(JOIN).content.decode()


def test_an_instructor_is_told_instructors_do_not_join(instructor_client, period1):
    page = instructor_client.get(JOIN).content.decode()
    assert "Instructors don't join classes" in page
    assert 'name="code"' not in page

    response = instructor_client.post(JOIN, {"code": "KX7M3QPA"})
    assert response.status_code == 400


def test_a_visitor_is_asked_to_log_in(anon_client):
    response = anon_client.post(JOIN, {"code": "KX7M3QPA"})

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_the_profile_of_a_student_in_no_class_links_to_joining(student_client, period1):
    assert JOIN in student_client.get(reverse("profile")).content.decode()
    student_client.post(JOIN, {"code": "KX7M3QPA"})
    page = student_client.get(reverse("profile")).content.decode()
    assert JOIN not in page and "Period 1" in page
