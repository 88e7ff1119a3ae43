"""Log-in cards, the student's side: codes (accounts.cards), issuing and revoking
(accounts.services), and logging in at /accounts/card/ (login_card)."""

from datetime import timedelta
from unittest import mock

import pytest
from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import cards, code_attempts
from accounts.models import LoginCard
from accounts.services import (
    CARD_ATTEMPTS,
    CARD_CODES_PER_ADDRESS,
    CardError,
    CardsIssuedAlready,
    issue_cards,
    revoke_card,
)
from tests.factories import ClassroomFactory, InstructorFactory, StudentFactory
from tradesim.models import AuditEntry

pytestmark = pytest.mark.django_db

User = get_user_model()
CARD = "/accounts/card/"
NOT_VALID = "That code is not valid."


@pytest.fixture
def period1(db):
    return ClassroomFactory(name="Period 1")


@pytest.fixture
def teacher(period1):
    teacher = InstructorFactory(username="teacher")
    period1.owners.add(teacher)
    return teacher


@pytest.fixture
def maya(period1):
    return StudentFactory(username="maya", first_name="Maya", last_name="Lin", classroom=period1)


@pytest.fixture
def maya_code(period1, maya, teacher):
    [(_, code)] = issue_cards(classroom=period1, users=[maya], by=teacher)
    return code


def logged_in_as(client) -> int | None:
    value = client.session.get(SESSION_KEY)
    return int(value) if value is not None else None


# The codes -------------------------------------------------------------------------------


def test_a_new_code_is_16_characters_of_crockfords_base32():
    codes = {cards.new_code() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        assert len(code) == 16 and cards.is_well_formed(code)
        assert not set(code) & set("ILOU")
    assert len(cards.ALPHABET) == 32  # 5 bits a character: 80 bits a code


def test_a_code_is_printed_in_groups_of_four():
    assert cards.grouped("7KQ2M9XD4HTPW3CF") == "7KQ2-M9XD-4HTP-W3CF"


@pytest.mark.parametrize(
    "typed",
    ["7KQ2-M9XD-4HTP-W3CF", "7kq2m9xd4htpw3cf", " 7kq2 m9xd - 4htp w3cf ", "7KQ2\tM9XD\n4HTPW3CF"],
)
def test_a_typed_code_is_read_in_any_case_with_spaces_or_dashes(typed):
    assert cards.normalize(typed) == "7KQ2M9XD4HTPW3CF"


def test_look_alike_letters_are_read_as_digits():
    assert cards.normalize("o0Il-1LoO-ABCD-EFGH") == "0011110" + "0ABCDEFGH"


@pytest.mark.parametrize("code", ["", "7KQ2M9XD4HTPW3C", "7KQ2M9XD4HTPW3CFF", "7KQ2M9XD4HTPW3CU"])
def test_a_code_of_the_wrong_length_or_alphabet_is_not_well_formed(code):
    assert not cards.is_well_formed(cards.normalize(code))


def test_the_digest_is_a_keyed_hmac_sha256(settings):
    one = cards.digest("7KQ2M9XD4HTPW3CF")
    assert len(one) == 64 and int(one, 16) >= 0
    assert cards.digest("7KQ2M9XD4HTPW3CF") == one
    assert cards.digest("7KQ2M9XD4HTPW3CG") != one
    settings.SECRET_KEY = "another-secret-key-for-this-test-only-0123456789"
    assert cards.digest("7KQ2M9XD4HTPW3CF") != one  # no key, no code from the digest


def test_digests_are_under_the_key_and_then_each_fallback(settings):
    settings.SECRET_KEY = "new-key-for-this-test-only-abcdefghijklmnopqrstuvwxyz"
    settings.SECRET_KEY_FALLBACKS = ["old-key-for-this-test-only-abcdefghijklmnopqrstuvwxyz"]
    assert cards.digests("7KQ2M9XD4HTPW3CF") == [
        cards.digest("7KQ2M9XD4HTPW3CF", secret=settings.SECRET_KEY),
        cards.digest("7KQ2M9XD4HTPW3CF", secret=settings.SECRET_KEY_FALLBACKS[0]),
    ]


# Issuing and revoking ----------------------------------------------------------------------


def test_issuing_stores_only_the_digest_and_audits(period1, maya, teacher):
    [(student, code)] = issue_cards(classroom=period1, users=[maya], by=teacher)

    card = LoginCard.objects.get()
    assert student == maya and cards.is_well_formed(code)
    assert card.digest == cards.digest(code) and code not in card.digest
    assert (card.user, card.classroom, card.issued_by, card.revoked_at) == (
        maya,
        period1,
        teacher,
        None,
    )
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.action, entry.student) == (teacher, "login_card", maya)
    assert entry.detail == "Log-in card for maya in Period 1"


def test_reissuing_revokes_the_old_card(client, period1, maya, teacher, maya_code):
    [(_, new_code)] = issue_cards(classroom=period1, users=[maya], by=teacher)

    assert new_code != maya_code
    old, new = LoginCard.objects.order_by("pk")
    assert old.revoked_at is not None and new.revoked_at is None
    assert AuditEntry.objects.order_by("pk").last().detail == (
        "Log-in card for maya in Period 1; the old card no longer works"
    )
    assert client.post(CARD, {"code": maya_code}).status_code == 400
    assert client.post(CARD, {"code": new_code}).status_code == 302


def test_issuing_for_a_whole_class_runs_a_fixed_number_of_queries(
    period1, teacher, django_assert_num_queries
):
    students = [StudentFactory(username=f"s{i:02d}", classroom=period1) for i in range(12)]
    issue_cards(classroom=period1, users=students[:5], by=teacher)

    # savepoint, the class's lock, the students, their live cards, revoke, insert cards,
    # insert audit entries, release
    with django_assert_num_queries(8):
        issued = issue_cards(classroom=period1, users=students, by=teacher)
    assert len(issued) == 12
    assert LoginCard.objects.filter(revoked_at__isnull=True).count() == 12


def test_one_form_token_issues_cards_once(period1, maya, teacher):
    theo = StudentFactory(username="theo", classroom=period1)
    token = "7" * 32
    issued = issue_cards(classroom=period1, users=[maya, theo], by=teacher, token=token)

    for users in ([maya, theo], [theo]):
        with pytest.raises(CardsIssuedAlready) as refused:
            issue_cards(classroom=period1, users=users, by=teacher, token=token)
        assert refused.value.cards == len(users)
        assert "If you have that sheet, its code" in refused.value.message

    assert LoginCard.objects.count() == 2
    assert set(AuditEntry.objects.values_list("token", flat=True)) == {token}
    for _, code in issued:
        assert Client().post(CARD, {"code": code}).status_code == 302
    issue_cards(classroom=period1, users=[maya], by=teacher, token="8" * 32)
    issue_cards(classroom=period1, users=[maya], by=teacher)  # no token: no such check
    assert LoginCard.objects.filter(user=maya).count() == 3


def test_issued_already_is_told_true_to_who_has_the_sheet_and_who_never_saw_it():
    one, several = CardsIssuedAlready(1).message, CardsIssuedAlready(30).message
    assert one.startswith("This card was printed already, by an earlier press of this button.")
    assert "If you have that sheet, its code works." in one
    assert several.startswith("These cards were printed already")
    assert "If you have that sheet, its codes work." in several
    for message in (one, several):
        assert "If you don't (after a double click the browser shows only the last" in message
        assert "press the button again on this page" in message


def test_another_kind_of_entry_under_the_token_is_issued_already_and_changes_nothing(
    period1, maya, teacher
):
    """A reset of maya audited under this token (its form token is the client's to
    choose): the check looks at card entries only, the unique (student, token) pair refuses
    the cards' entries, and that is CardsIssuedAlready, the transaction still usable."""
    theo = StudentFactory(username="theo", classroom=period1)
    token = "9" * 64
    AuditEntry.objects.create(actor=teacher, action="reset_student", student=maya, token=token)

    with pytest.raises(CardsIssuedAlready):
        issue_cards(classroom=period1, users=[maya, theo], by=teacher, token=token)

    assert not LoginCard.objects.exists()
    assert not AuditEntry.objects.filter(action="login_card").exists()
    # The same token for another student alone, and another token for maya, issue.
    issue_cards(classroom=period1, users=[theo], by=teacher, token=token)
    issue_cards(classroom=period1, users=[maya], by=teacher, token="a" * 64)
    assert LoginCard.objects.count() == 2


def test_only_active_students_of_the_class_get_cards(period1, maya, teacher):
    other = StudentFactory(username="zed", classroom=ClassroomFactory(name="Period 2"))
    idle = StudentFactory(username="idle", classroom=period1, is_active=False)
    for refused in (other, idle, teacher):
        with pytest.raises(CardError):
            issue_cards(classroom=period1, users=[maya, refused], by=teacher)
    assert not LoginCard.objects.exists() and not AuditEntry.objects.exists()


def test_the_database_keeps_one_live_card_per_student_and_class(period1, maya, maya_code):
    with pytest.raises(IntegrityError), transaction.atomic():
        LoginCard.objects.create(user=maya, classroom=period1, digest="f" * 64)


def test_revoking_ends_the_card_and_audits(client, period1, maya, teacher, maya_code):
    card = revoke_card(classroom=period1, user=maya, by=teacher)

    assert card.revoked_at is not None
    entry = AuditEntry.objects.get(action="revoke_card")
    assert (entry.actor, entry.student) == (teacher, maya)
    assert revoke_card(classroom=period1, user=maya, by=teacher) is None  # nothing more
    assert AuditEntry.objects.filter(action="revoke_card").count() == 1
    assert client.post(CARD, {"code": maya_code}).status_code == 400


# Logging in ------------------------------------------------------------------------------


def test_the_card_page_has_its_name_and_is_linked_from_the_login_page(client):
    assert reverse("login_card") == CARD
    page = client.get(CARD).content.decode()
    assert 'name="code"' in page and "js/login-card.js" in page
    assert "Keep me logged in" not in page and "browser closes" in page
    login = client.get(reverse("login")).content.decode()
    assert f'href="{CARD}">Log in with your class card</a>' in login


@pytest.mark.parametrize("typed", ["grouped", "lower", "spaced"])
def test_a_valid_code_logs_its_student_in_until_the_browser_closes(client, maya, maya_code, typed):
    shown = {
        "grouped": cards.grouped(maya_code),
        "lower": maya_code.lower(),
        "spaced": " ".join(cards.grouped(maya_code).split("-")),
    }[typed]
    response = client.post(CARD, {"code": shown})

    assert response.status_code == 302 and response["Location"] == reverse("portfolio:dashboard")
    assert logged_in_as(client) == maya.pk
    assert client.session.get_expire_at_browser_close()
    card = LoginCard.objects.get()
    assert card.last_used_at is not None


def test_a_card_log_in_ends_a_kept_session_at_browser_close(client, maya, maya_code):
    client.force_login(maya)
    session = client.session
    session.set_expiry(3600)
    session.save()

    client.post(CARD, {"code": maya_code})
    assert client.session.get_expire_at_browser_close()


def refused(client, code) -> None:
    response = client.post(CARD, {"code": code})
    assert response.status_code == 400
    assert NOT_VALID in response.content.decode()
    assert logged_in_as(client) is None


def test_a_revoked_card_is_refused(client, period1, maya, teacher, maya_code):
    revoke_card(classroom=period1, user=maya, by=teacher)
    refused(client, maya_code)


def test_an_inactive_student_is_refused(client, maya, maya_code):
    User.objects.filter(pk=maya.pk).update(is_active=False)
    refused(client, maya_code)


@pytest.mark.parametrize("role", ["staff", "superuser"])
def test_staff_and_superusers_never_log_in_by_card(client, maya, maya_code, role):
    User.objects.filter(pk=maya.pk).update(**{f"is_{role}": True})
    refused(client, maya_code)


def test_a_student_who_left_the_class_is_refused(client, maya, maya_code):
    User.objects.filter(pk=maya.pk).update(classroom=ClassroomFactory(name="Period 2"))
    refused(client, maya_code)
    User.objects.filter(pk=maya.pk).update(classroom=None)
    refused(client, maya_code)


@pytest.mark.parametrize("code", ["", "1234", "7KQ2M9XD4HTPW3CU", "x" * 64, "0" * 16])
def test_malformed_and_unknown_codes_are_refused_alike(client, maya, maya_code, code):
    response = client.post(CARD, {"code": code})
    assert response.status_code == 400
    assert logged_in_as(client) is None


def test_a_code_too_long_for_the_field_is_a_400(client):
    assert client.post(CARD, {"code": "7" * 1000}).status_code == 400


def test_a_card_still_works_under_a_fallback_key_and_moves_to_the_new_key(
    client, settings, maya, maya_code
):
    old_key = settings.SECRET_KEY
    settings.SECRET_KEY = "a-rotated-secret-key-for-this-test-only-0123456789abcdef"
    settings.SECRET_KEY_FALLBACKS = [old_key]

    assert client.post(CARD, {"code": maya_code}).status_code == 302
    assert LoginCard.objects.get().digest == cards.digest(maya_code)  # under the new key

    client.logout()
    settings.SECRET_KEY_FALLBACKS = []
    assert client.post(CARD, {"code": maya_code}).status_code == 302


def test_without_the_key_a_card_does_not_work(client, settings, maya, maya_code):
    settings.SECRET_KEY = "a-rotated-secret-key-for-this-test-only-0123456789abcdef"
    settings.SECRET_KEY_FALLBACKS = []
    refused(client, maya_code)


def test_a_card_log_in_runs_a_fixed_number_of_queries(
    client, period1, maya, maya_code, django_assert_num_queries
):
    # The card with its student and the card's UPDATE; then django.contrib.auth.login: the
    # new session (3), django-axes' access log and its clearing of the student's failures
    # (3), the user's last_login, and the session's save (3). The same for every student,
    # however big the class.
    for i in range(20):
        StudentFactory(username=f"s{i:02d}", classroom=period1)
    with django_assert_num_queries(13):
        response = client.post(CARD, {"code": maya_code})
    assert response.status_code == 302


def test_a_card_log_in_hashes_no_password(client, maya, maya_code, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    # A PBKDF2 password (one round, to be quick), so checking it would call the hasher.
    password = PBKDF2PasswordHasher().encode("Quartz-Lantern-Harbor-2026", "salt", iterations=1)
    User.objects.filter(pk=maya.pk).update(password=password)
    with (
        mock.patch.object(PBKDF2PasswordHasher, "encode", autospec=True) as encode,
        mock.patch.object(PBKDF2PasswordHasher, "verify", autospec=True) as verify,
    ):
        assert client.post(CARD, {"code": maya_code}).status_code == 302
    encode.assert_not_called()
    verify.assert_not_called()


# The throttle ------------------------------------------------------------------------------


def wrong_code(n: int) -> str:
    return f"{n:016d}"


def test_a_class_may_mistype_then_gets_429_until_the_window_ends(client, maya, maya_code, clock):
    start = timezone.now()
    clock(start)
    for n in range(CARD_CODES_PER_ADDRESS):
        assert client.post(CARD, {"code": wrong_code(n)}).status_code == 400

    blocked = client.post(CARD, {"code": maya_code})  # the right one too, until it is over
    assert blocked.status_code == 429
    assert "try again after" in blocked.content.decode()
    assert 1 <= int(blocked["Retry-After"]) <= 15 * 60
    assert logged_in_as(client) is None

    clock(start + code_attempts.WINDOW + timedelta(seconds=1))
    assert client.post(CARD, {"code": maya_code}).status_code == 302


def test_a_correct_code_does_not_count(client, maya, maya_code):
    for n in range(CARD_CODES_PER_ADDRESS - 1):
        client.post(CARD, {"code": wrong_code(n)})
    for _ in range(3):
        assert client.post(CARD, {"code": maya_code}).status_code == 302
        client.logout()
    assert client.post(CARD, {"code": wrong_code(99)}).status_code == 400
    assert client.post(CARD, {"code": maya_code}).status_code == 429


def test_only_well_formed_codes_count(client, maya, maya_code):
    for _ in range(CARD_CODES_PER_ADDRESS + 5):
        client.post(CARD, {"code": "7KQ2"})
    assert client.post(CARD, {"code": maya_code}).status_code == 302


def test_wrong_codes_count_per_address(client, maya, maya_code):
    for n in range(CARD_CODES_PER_ADDRESS):
        client.post(CARD, {"code": wrong_code(n)}, REMOTE_ADDR="203.0.113.7")
    assert client.post(CARD, {"code": maya_code}, REMOTE_ADDR="203.0.113.7").status_code == 429
    assert client.post(CARD, {"code": maya_code}, REMOTE_ADDR="198.51.100.9").status_code == 302


def test_card_codes_and_class_codes_count_apart():
    code_attempts.count_wrong("address:203.0.113.7", kind=CARD_ATTEMPTS)
    assert code_attempts.blocked_until("address:203.0.113.7", 1, kind=CARD_ATTEMPTS)
    assert code_attempts.blocked_until("address:203.0.113.7", 1) is None


def test_the_card_page_is_never_cached_for_a_visitor(client):
    """A refused code is shown back in its field: a shared device keeps no copy of it
    (nobody is logged in, so only the view itself can say so)."""
    response = client.post("/accounts/card/", {"code": "7KQ2-M9XD-4HTP-W3CF"})
    assert response.status_code == 400
    assert "no-store" in response["Cache-Control"]


@pytest.mark.parametrize("how", ["revoke", "reissue"])
def test_revoking_or_replacing_a_card_ends_the_sessions_it_opened(
    how, client, django_capture_on_commit_callbacks
):
    """A classmate who logged in with a found card is logged out at their next page once
    the teacher revokes or replaces it; a password session of the same student is not."""
    classroom = ClassroomFactory()
    teacher = InstructorFactory()
    student = StudentFactory(classroom=classroom)
    [(_, code)] = issue_cards(classroom=classroom, users=[student], by=teacher)
    assert client.post("/accounts/card/", {"code": code}).status_code == 302
    assert client.get("/portfolio/").status_code == 200
    by_password = Client()
    by_password.force_login(student)

    with django_capture_on_commit_callbacks(execute=True):
        if how == "revoke":
            revoke_card(classroom=classroom, user=student, by=teacher)
        else:
            issue_cards(classroom=classroom, users=[student], by=teacher)

    response = client.get("/portfolio/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert by_password.get("/portfolio/").status_code == 200
