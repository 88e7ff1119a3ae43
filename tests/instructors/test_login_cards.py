"""A class's log-in cards in the console (ClassroomAdmin.cards_view): the list, printing
new cards (shown once, with their QR codes), revoking, the audit log, and who may; the
page's token, so that each button of a shown page issues once and a reload of the printed
sheet issues nothing."""

import re

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from django.urls import reverse

from accounts import cards
from accounts.models import LoginCard
from accounts.roles import ensure_instructor_group
from console import card_tokens
from console import cards as printing
from tests.factories import InstructorFactory, StudentFactory
from tradesim.models import AuditEntry

pytestmark = pytest.mark.django_db

CODE = re.compile(r"\b[0-9A-HJKMNP-TV-Z]{4}(?:-[0-9A-HJKMNP-TV-Z]{4}){3}\b")
TOKEN = re.compile(r'<input type="hidden" name="token" value="([^"]*)">')


def cards_url(classroom) -> str:
    return reverse("admin:classrooms_classroom_cards", args=[classroom.pk])


def printed_codes(response) -> list[str]:
    return CODE.findall(response.content.decode())


def page_token(client, classroom) -> str:
    """The token of a freshly shown cards page (in each of its forms)."""
    return client.get(cards_url(classroom)).context["card_token"]


def press(client, classroom, data, **kwargs):
    """Press a button of a freshly shown cards page."""
    return client.post(
        cards_url(classroom), {**data, "token": page_token(client, classroom)}, **kwargs
    )


@pytest.fixture
def idle(period1):
    return StudentFactory(username="idle", classroom=period1, is_active=False)


def test_the_list_shows_each_students_card(
    teacher_client, teacher, period1, student, other_student
):
    press(teacher_client, period1, {"action": "new_card", "student": student.pk})

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
    response = press(teacher_client, period1, {"action": "print_all"})

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
    first = printed_codes(press(teacher_client, period1, {"action": "print_all"}))
    second = printed_codes(press(teacher_client, period1, {"action": "print_all"}))

    assert not set(first) & set(second)
    assert LoginCard.objects.filter(revoked_at__isnull=True).count() == 2
    assert LoginCard.objects.filter(revoked_at__isnull=False).count() == 2
    c = Client()
    assert c.post("/accounts/card/", {"code": first[0]}).status_code == 400
    assert c.post("/accounts/card/", {"code": second[0]}).status_code == 302


def test_a_new_card_for_one_student(teacher_client, period1, student, other_student):
    press(teacher_client, period1, {"action": "print_all"})
    response = press(teacher_client, period1, {"action": "new_card", "student": student.pk})

    assert len(printed_codes(response)) == 1
    live = LoginCard.objects.filter(revoked_at__isnull=True)
    assert sorted(live.values_list("user__username", flat=True)) == ["alice", "bob"]
    assert LoginCard.objects.get(revoked_at__isnull=False).user == student


def test_revoking_a_card(teacher_client, teacher, period1, student):
    press(teacher_client, period1, {"action": "new_card", "student": student.pk})
    response = press(
        teacher_client, period1, {"action": "revoke", "student": student.pk}, follow=True
    )

    assert response.redirect_chain == [(cards_url(period1), 302)]
    assert "Revoked the card of alice: it no longer logs in." in response.content.decode()
    assert not LoginCard.objects.filter(revoked_at__isnull=True).exists()
    entry = AuditEntry.objects.get(action="revoke_card")
    assert (entry.actor, entry.student) == (teacher, student)


def test_an_inactive_student_gets_no_new_card(teacher_client, period1, idle):
    response = press(
        teacher_client, period1, {"action": "new_card", "student": idle.pk}, follow=True
    )
    assert "only for active students" in response.content.decode()
    assert not LoginCard.objects.exists()


@pytest.mark.parametrize(
    "data",
    [{}, {"action": "burn"}, {"action": "revoke"}, {"action": "new_card", "student": "x"}],
)
def test_a_bad_request_is_a_400(teacher_client, period1, student, data):
    assert press(teacher_client, period1, data).status_code == 400
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
        response = press(teacher_client, period1, {"action": action, "student": carol.pk})
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
    response = press(superuser_client, period2, {"action": "print_all"})
    assert len(printed_codes(response)) == 1


@pytest.mark.parametrize("size", [3, 20])
def test_the_list_runs_a_fixed_number_of_queries(
    teacher_client, teacher, period1, size, django_assert_num_queries
):
    from accounts.services import issue_cards

    students = [StudentFactory(username=f"s{i:02d}", classroom=period1) for i in range(size)]
    issue_cards(classroom=period1, users=students, by=teacher)
    issue_cards(classroom=period1, users=students[:2], by=teacher)

    # session, user, the user's permissions (2), the class, the students, their cards;
    # the session saved with the page's new token (savepoint, update, release)
    with django_assert_num_queries(10):
        response = teacher_client.get(cards_url(period1))
    assert len(response.context["roster"]) == size


@pytest.mark.parametrize("size", [3, 20])
def test_printing_runs_a_fixed_number_of_queries(
    teacher_client, teacher, period1, size, django_assert_num_queries
):
    for i in range(size):
        StudentFactory(username=f"s{i:02d}", classroom=period1)

    # session, user, permissions (2), the class, its active students; then issue_cards:
    # savepoint, the class's lock, the students, the button's earlier use, their live cards
    # (none yet, so no revoke), the cards' insert, the audit entries' insert, release. The
    # session is left as it was (the page's token stays for its other buttons): not saved.
    token = page_token(teacher_client, period1)
    with django_assert_num_queries(14):
        response = teacher_client.post(cards_url(period1), {"action": "print_all", "token": token})
    assert len(printed_codes(response)) == size


# The page's token: each button issues once ----------------------------------------------


def logs_in(code: str) -> bool:
    return Client().post("/accounts/card/", {"code": code}).status_code == 302


def test_every_form_of_the_page_carries_its_token(teacher_client, period1, student):
    press(teacher_client, period1, {"action": "new_card", "student": student.pk})

    page = teacher_client.get(cards_url(period1))
    html = page.content.decode()
    # print all, and alice's new card and revoke (the header's log-out form aside)
    assert html.count('<form method="post"') == 3
    assert TOKEN.findall(html) == [page.context["card_token"]] * 3
    assert teacher_client.get(cards_url(period1)).context["card_token"] != TOKEN.findall(html)[0]


@pytest.mark.parametrize(
    "data", [{"action": "print_all"}, {"action": "new_card", "student": "alice"}]
)
def test_reloading_the_printed_sheet_issues_nothing_and_its_codes_still_work(
    teacher_client, period1, student, other_student, data
):
    if data.get("student"):
        data = {**data, "student": student.pk}
    sent = {**data, "token": page_token(teacher_client, period1)}
    first = teacher_client.post(cards_url(period1), sent)
    codes = printed_codes(first)
    assert first.status_code == 200 and codes
    cards_before = list(LoginCard.objects.order_by("pk").values_list("pk", "revoked_at"))
    audit_before = AuditEntry.objects.count()

    for _ in range(2):  # the browser's reload sends the same form again, as a second click
        again = teacher_client.post(cards_url(period1), sent)
        assert again.status_code == 409
        assert printed_codes(again) == []
        assert "printed already, by an earlier press of this button" in again.content.decode()
        assert "If you have that sheet, its code" in again.content.decode()

    assert list(LoginCard.objects.order_by("pk").values_list("pk", "revoked_at")) == cards_before
    assert AuditEntry.objects.count() == audit_before
    assert all(logs_in(code) for code in codes)


def test_after_a_reload_the_page_prints_new_cards_when_pressed_again(
    teacher_client, period1, student
):
    sent = {"action": "print_all", "token": page_token(teacher_client, period1)}
    [first] = printed_codes(teacher_client.post(cards_url(period1), sent))
    again = teacher_client.post(cards_url(period1), sent)
    assert again.status_code == 409

    fresh = {"action": "print_all", "token": again.context["card_token"]}
    [second] = printed_codes(teacher_client.post(cards_url(period1), fresh))
    assert second != first
    assert not logs_in(first) and logs_in(second)


@pytest.mark.parametrize(
    "token",
    [None, "", "0" * 32, "not a token", "x" * 65, "<script>"],
    ids=["missing", "empty", "forged", "garbled", "too-long", "markup"],
)
@pytest.mark.parametrize(
    "data", [{"action": "print_all"}, {"action": "new_card", "student": "alice"}]
)
def test_a_missing_or_forged_token_is_a_400_and_issues_nothing(
    teacher_client, teacher, period1, student, data, token
):
    if data.get("student"):
        data = {**data, "student": student.pk}
    page_token(teacher_client, period1)  # the session holds a token; not this one
    if token is not None:
        data = {**data, "token": token}

    response = teacher_client.post(cards_url(period1), data)

    assert response.status_code == 400
    assert "expired" in response.content.decode()
    assert printed_codes(response) == []
    assert not LoginCard.objects.exists()
    assert not AuditEntry.objects.exists()


def test_a_token_of_another_session_is_a_400(teacher, period1, student):
    first, second = Client(), Client()
    first.force_login(teacher)
    second.force_login(teacher)
    token = page_token(first, period1)

    response = second.post(cards_url(period1), {"action": "print_all", "token": token})

    assert response.status_code == 400
    assert "did not come from this page" in response.content.decode()
    assert not LoginCard.objects.exists()
    assert first.post(cards_url(period1), {"action": "print_all", "token": token}).status_code == (
        200
    )


def test_two_tabs_each_print_once(teacher_client, period1, student):
    tab1 = page_token(teacher_client, period1)
    tab2 = page_token(teacher_client, period1)

    def send(token):
        return teacher_client.post(cards_url(period1), {"action": "print_all", "token": token})

    [code2] = printed_codes(send(tab2))
    [code1] = printed_codes(send(tab1))
    assert send(tab1).status_code == 409
    assert send(tab2).status_code == 409
    assert LoginCard.objects.count() == 2
    assert logs_in(code1) and not logs_in(code2)  # tab 1 printed last


def test_the_session_keeps_the_last_20_pages_tokens(teacher_client, period1, student):
    tokens = [page_token(teacher_client, period1) for _ in range(card_tokens.MAX_KEPT + 1)]

    assert len(teacher_client.session[card_tokens.SESSION_KEY]) == card_tokens.MAX_KEPT
    for token in (tokens[1], tokens[-1]):
        sent = {"action": "print_all", "token": token}
        assert teacher_client.post(cards_url(period1), sent).status_code == 200
    oldest = {"action": "print_all", "token": tokens[0]}
    assert teacher_client.post(cards_url(period1), oldest).status_code == 400
    assert LoginCard.objects.count() == 2


def test_a_reload_after_the_token_left_the_session_still_issues_nothing(
    teacher_client, period1, student
):
    """The printed sheet reloaded after the page was shown MAX_KEPT times more: its token is
    no longer in the session, but its button is known to have printed."""
    sent = {"action": "print_all", "token": page_token(teacher_client, period1)}
    [code] = printed_codes(teacher_client.post(cards_url(period1), sent))
    for _ in range(card_tokens.MAX_KEPT):
        page_token(teacher_client, period1)
    assert sent["token"] not in teacher_client.session[card_tokens.SESSION_KEY]

    again = teacher_client.post(cards_url(period1), sent)

    assert again.status_code == 409
    assert "This card was printed already" in again.content.decode()
    assert LoginCard.objects.count() == 1
    assert logs_in(code)


def test_each_button_of_one_page_issues_once(
    teacher_client, teacher, period1, student, other_student
):
    """New card for alice, Back, New card for bob, then Print all: one page, one token,
    three buttons, each issuing once; a reload of any of them issues nothing."""
    token = page_token(teacher_client, period1)
    alice = {"action": "new_card", "student": student.pk, "token": token}
    bob = {"action": "new_card", "student": other_student.pk, "token": token}
    every = {"action": "print_all", "token": token}

    [alice_code] = printed_codes(teacher_client.post(cards_url(period1), alice))
    [bob_code] = printed_codes(teacher_client.post(cards_url(period1), bob))
    for sent in (alice, bob):
        again = teacher_client.post(cards_url(period1), sent)
        assert again.status_code == 409 and printed_codes(again) == []
    assert logs_in(alice_code) and logs_in(bob_code)

    sheet = printed_codes(teacher_client.post(cards_url(period1), every))
    assert len(sheet) == 2
    for sent, told in (
        (every, "These cards were"),
        (alice, "This card was"),
        (bob, "This card was"),
    ):
        again = teacher_client.post(cards_url(period1), sent)
        assert again.status_code == 409 and printed_codes(again) == []
        assert f"{told} printed already" in again.content.decode()
    assert LoginCard.objects.count() == 4
    assert AuditEntry.objects.filter(actor=teacher, action="login_card").count() == 4
    assert all(logs_in(code) for code in sheet)
    assert not logs_in(alice_code) and not logs_in(bob_code)  # Print all replaced them


def test_print_all_after_a_new_card_on_the_same_page_issues(
    teacher_client, period1, student, other_student
):
    token = page_token(teacher_client, period1)
    new_card = {"action": "new_card", "student": student.pk, "token": token}
    assert teacher_client.post(cards_url(period1), new_card).status_code == 200

    response = teacher_client.post(cards_url(period1), {"action": "print_all", "token": token})

    assert response.status_code == 200
    assert len(printed_codes(response)) == 2
    again = teacher_client.post(cards_url(period1), {"action": "print_all", "token": token})
    assert again.status_code == 409
    assert "These cards were printed already" in again.content.decode()


def test_the_same_token_on_another_classs_page_issues_there(
    teacher_client, period1, period2, student, carol
):
    token = page_token(teacher_client, period1)

    for classroom in (period1, period2):
        response = teacher_client.post(
            cards_url(classroom), {"action": "print_all", "token": token}
        )
        assert response.status_code == 200 and len(printed_codes(response)) == 1


@pytest.mark.parametrize("refused", ["another_class", "inactive"])
def test_a_refused_button_leaves_the_pages_token_usable(
    teacher_client, period1, student, carol, idle, refused
):
    token = page_token(teacher_client, period1)
    if refused == "another_class":
        sent = {"action": "new_card", "student": carol.pk, "token": token}
        assert teacher_client.post(cards_url(period1), sent).status_code == 404
    else:
        sent = {"action": "new_card", "student": idle.pk, "token": token}
        response = teacher_client.post(cards_url(period1), sent, follow=True)
        assert "only for active students" in response.content.decode()
    assert not LoginCard.objects.exists()

    mine = {"action": "new_card", "student": student.pk, "token": token}
    assert len(printed_codes(teacher_client.post(cards_url(period1), mine))) == 1


def test_another_entry_under_the_buttons_key_is_a_409_not_a_500(
    teacher_client, teacher, period1, student
):
    """A reset of the student audited under the very key this button would use (the
    reset's form token is the client's to choose): the audit log's unique (student, token)
    pair refuses the cards' entries, and the teacher gets the page, not an error."""
    token = page_token(teacher_client, period1)
    key = card_tokens.key(
        token=token, classroom_id=period1.pk, action="new_card", student_id=student.pk
    )
    AuditEntry.objects.create(actor=teacher, action="reset_student", student=student, token=key)

    sent = {"action": "new_card", "student": student.pk, "token": token}
    response = teacher_client.post(cards_url(period1), sent)

    assert response.status_code == 409
    assert printed_codes(response) == []
    assert not LoginCard.objects.exists()
    assert not AuditEntry.objects.filter(action="login_card").exists()
    # The page's other buttons still issue.
    assert (
        teacher_client.post(cards_url(period1), {"action": "print_all", "token": token}).status_code
        == 200
    )


def test_the_buttons_are_sent_once_by_a_script(teacher_client, period1, student):
    press(teacher_client, period1, {"action": "new_card", "student": student.pk})
    html = teacher_client.get(cards_url(period1)).content.decode()

    assert re.search(r'<script src="[^"]*js/submit-once\.js" defer></script>', html)
    # print all, and alice's new card and revoke (the header's log-out form aside)
    assert html.count('<form method="post"') == 3
    assert html.count(" data-submit-once>") == 3
    assert finders.find("js/submit-once.js")
    assert "<script>" not in html  # the Content-Security-Policy allows no inline script


def test_revoking_needs_no_token_and_twice_is_harmless(teacher_client, period1, student):
    [code] = printed_codes(press(teacher_client, period1, {"action": "print_all"}))
    revoke = {"action": "revoke", "student": student.pk}

    first = teacher_client.post(cards_url(period1), revoke, follow=True)
    second = teacher_client.post(cards_url(period1), revoke, follow=True)

    assert "Revoked the card of alice" in first.content.decode()
    assert "There was no card of alice to revoke." in second.content.decode()
    assert AuditEntry.objects.filter(action="revoke_card").count() == 1
    assert not logs_in(code)
