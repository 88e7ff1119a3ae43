"""A class's log-in cards in the console (ClassroomAdmin.cards_view): the list, printing
new cards (shown once, with their QR codes), revoking, the audit log, and who may."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from accounts import cards
from accounts.models import LoginCard
from accounts.roles import ensure_instructor_group
from console import cards as printing
from tests.factories import InstructorFactory, StudentFactory
from tradesim.models import AuditEntry

pytestmark = pytest.mark.django_db

CODE = re.compile(r"\b[0-9A-HJKMNP-TV-Z]{4}(?:-[0-9A-HJKMNP-TV-Z]{4}){3}\b")


def cards_url(classroom) -> str:
    return reverse("admin:classrooms_classroom_cards", args=[classroom.pk])


def printed_codes(response) -> list[str]:
    return CODE.findall(response.content.decode())


@pytest.fixture
def idle(period1):
    return StudentFactory(username="idle", classroom=period1, is_active=False)


def test_the_list_shows_each_students_card(
    teacher_client, teacher, period1, student, other_student
):
    teacher_client.post(cards_url(period1), {"action": "new_card", "student": student.pk})

    page = teacher_client.get(cards_url(period1))
    assert page.status_code == 200
    rows = {row.student.username: row for row in page.context["roster"]}
    assert rows["alice"].live is not None and rows["bob"].live is None
    html = page.content.decode()
    assert "Print new cards for every student" in html
    assert "Revoke the card of alice" in html and "Revoke the card of bob" not in html
    assert printed_codes(page) == []  # codes are never listed


def test_the_class_list_and_overview_link_to_the_cards(teacher_client, period1):
    changelist = teacher_client.get(reverse("admin:classrooms_classroom_changelist"))
    assert f'href="{cards_url(period1)}"' in changelist.content.decode()
    overview = teacher_client.get(reverse("admin:classrooms_classroom_overview", args=[period1.pk]))
    assert f'href="{cards_url(period1)}"' in overview.content.decode()


def test_printing_for_every_student_shows_each_code_once_with_its_qr(
    teacher_client, teacher, period1, student, other_student, idle
):
    response = teacher_client.post(cards_url(period1), {"action": "print_all"})

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    codes = printed_codes(response)
    assert len(codes) == 2  # alice and bob; not the inactive student
    assert len(set(codes)) == 2
    for code in codes:
        assert html.count(code) == 1
        plain = cards.normalize(code)
        digest = cards.digest(plain)
        assert LoginCard.objects.filter(digest=digest, revoked_at__isnull=True).exists()
        # The QR code holds the card page's address with the code after the "#".
        qr = printing.qr_svg(f"http://testserver/accounts/card/#{plain}", title="")
        assert re.search(r' d="[^"]+"', qr).group(0) in html
    assert html.count('<svg role="img"') == 2
    assert "QR code that logs" in html
    assert "shown only on this page, this once" in html
    assert "testserver/accounts/card/" in html
    assert AuditEntry.objects.filter(actor=teacher, action="login_card").count() == 2


def test_printing_again_revokes_every_old_card(teacher_client, period1, student, other_student):
    first = printed_codes(teacher_client.post(cards_url(period1), {"action": "print_all"}))
    second = printed_codes(teacher_client.post(cards_url(period1), {"action": "print_all"}))

    assert not set(first) & set(second)
    assert LoginCard.objects.filter(revoked_at__isnull=True).count() == 2
    assert LoginCard.objects.filter(revoked_at__isnull=False).count() == 2
    c = Client()
    assert c.post("/accounts/card/", {"code": first[0]}).status_code == 400
    assert c.post("/accounts/card/", {"code": second[0]}).status_code == 302


def test_a_new_card_for_one_student(teacher_client, period1, student, other_student):
    teacher_client.post(cards_url(period1), {"action": "print_all"})
    response = teacher_client.post(
        cards_url(period1), {"action": "new_card", "student": student.pk}
    )

    assert len(printed_codes(response)) == 1
    live = LoginCard.objects.filter(revoked_at__isnull=True)
    assert sorted(live.values_list("user__username", flat=True)) == ["alice", "bob"]
    assert LoginCard.objects.get(revoked_at__isnull=False).user == student


def test_revoking_a_card(teacher_client, teacher, period1, student):
    teacher_client.post(cards_url(period1), {"action": "new_card", "student": student.pk})
    response = teacher_client.post(
        cards_url(period1), {"action": "revoke", "student": student.pk}, follow=True
    )

    assert response.redirect_chain == [(cards_url(period1), 302)]
    assert "Revoked the card of alice: it no longer logs in." in response.content.decode()
    assert not LoginCard.objects.filter(revoked_at__isnull=True).exists()
    entry = AuditEntry.objects.get(action="revoke_card")
    assert (entry.actor, entry.student) == (teacher, student)


def test_an_inactive_student_gets_no_new_card(teacher_client, period1, idle):
    response = teacher_client.post(
        cards_url(period1), {"action": "new_card", "student": idle.pk}, follow=True
    )
    assert "only for active students" in response.content.decode()
    assert not LoginCard.objects.exists()


@pytest.mark.parametrize(
    "data",
    [{}, {"action": "burn"}, {"action": "revoke"}, {"action": "new_card", "student": "x"}],
)
def test_a_bad_request_is_a_400(teacher_client, period1, student, data):
    assert teacher_client.post(cards_url(period1), data).status_code == 400
    assert not LoginCard.objects.exists()


def test_another_instructors_class_is_not_found(period1, carol, student):
    stranger = InstructorFactory(username="stranger")
    stranger.groups.add(ensure_instructor_group())
    c = Client()
    c.force_login(stranger)
    assert c.get(cards_url(period1)).status_code == 404
    assert c.post(cards_url(period1), {"action": "print_all"}).status_code == 404
    assert not LoginCard.objects.exists()


def test_a_student_of_another_class_is_not_found(teacher_client, period1, carol):
    for action in ("new_card", "revoke"):
        response = teacher_client.post(cards_url(period1), {"action": action, "student": carol.pk})
        assert response.status_code == 404
    assert not LoginCard.objects.exists()


def test_students_and_visitors_are_sent_to_the_admin_log_in(period1, student):
    anonymous, logged_in = Client(), Client()
    logged_in.force_login(student)
    for c in (anonymous, logged_in):
        response = c.post(cards_url(period1), {"action": "print_all"})
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert not LoginCard.objects.exists()


def test_staff_without_the_permission_are_refused(period1, student):
    staff = InstructorFactory(username="helper")
    period1.owners.add(staff)
    c = Client()
    c.force_login(staff)
    assert c.get(cards_url(period1)).status_code == 403


def test_a_superuser_may_print_any_classs_cards(superuser_client, period2, carol):
    response = superuser_client.post(cards_url(period2), {"action": "print_all"})
    assert len(printed_codes(response)) == 1


@pytest.mark.parametrize("size", [3, 20])
def test_the_list_runs_a_fixed_number_of_queries(
    teacher_client, teacher, period1, size, django_assert_num_queries
):
    from accounts.services import issue_cards

    students = [StudentFactory(username=f"s{i:02d}", classroom=period1) for i in range(size)]
    issue_cards(classroom=period1, users=students, by=teacher)
    issue_cards(classroom=period1, users=students[:2], by=teacher)

    # session, user, the user's permissions (2), the class, the students, their cards
    with django_assert_num_queries(7):
        response = teacher_client.get(cards_url(period1))
    assert len(response.context["roster"]) == size


@pytest.mark.parametrize("size", [3, 20])
def test_printing_runs_a_fixed_number_of_queries(
    teacher_client, teacher, period1, size, django_assert_num_queries
):
    for i in range(size):
        StudentFactory(username=f"s{i:02d}", classroom=period1)

    # session, user, permissions (2), the class, its active students; then issue_cards:
    # savepoint, the class's lock, the students, their live cards (none yet, so no revoke),
    # the cards' insert, the audit entries' insert, release
    with django_assert_num_queries(13):
        response = teacher_client.post(cards_url(period1), {"action": "print_all"})
    assert len(printed_codes(response)) == size
