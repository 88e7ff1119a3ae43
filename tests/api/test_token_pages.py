"""The API tokens page of an account (/accounts/api-tokens/): list, make (shown once) and
revoke one's own tokens."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from api.models import ApiToken
from api.services import MAX_ACTIVE_TOKENS, create_token, digest_of, revoke_token
from tests.api.conftest import ApiClient, problem
from tests.factories import ClassroomFactory
from tests.security.helpers import token_from

pytestmark = pytest.mark.django_db

LIST = reverse("api_tokens:list")


def revoke_url(token) -> str:
    return reverse("api_tokens:revoke", args=[token.pk])


def page_of(response) -> str:
    return response.content.decode()


def make(client, name="momentum bot", token=None):
    """Submit the page's form as a browser would: with the token the page gave it."""
    token = token or token_from(page_of(client.get(LIST)))
    return client.post(LIST, {"name": name, "token": token})


def secret_on(page: str) -> str | None:
    match = re.search(r'id="new-token"[^>]*value="(tsk_[\w-]+)"', page)
    return match[1] if match else None


# The list -------------------------------------------------------------------------------


def test_a_visitor_is_asked_to_log_in(client):
    for response in (client.get(LIST), client.post(LIST, {"name": "bot"})):
        assert response.status_code == 302
        assert response.url == f"{reverse('login')}?next={LIST}"
    assert not ApiToken.objects.exists()


def test_the_list_shows_each_token_by_name_prefix_dates_and_state(student_client, student):
    used = create_token(user=student, name="momentum bot").token
    ApiToken.objects.filter(pk=used.pk).update(last_used_at=timezone.now() - timedelta(hours=1))
    fresh = create_token(user=student, name="notebook").token
    gone = create_token(user=student, name="old script").token
    revoke_token(token_id=gone.pk, user=student)

    page = page_of(student_client.get(LIST))

    rows = re.findall(r'<tr role="row" data-token="(\d+)">(.*?)</tr>', page, re.S)
    assert [int(pk) for pk, _ in rows] == [gone.pk, fresh.pk, used.pk]  # newest first
    cells = {int(pk): row for pk, row in rows}
    for token in (used, fresh, gone):
        assert f"<code>{token.prefix}…</code>" in cells[token.pk]
    assert "momentum bot" in cells[used.pk] and "never" not in cells[used.pk]
    assert "never" in cells[fresh.pk]
    assert "Active" in cells[fresh.pk] and revoke_url(fresh) in cells[fresh.pk]
    assert "Revoked" in cells[gone.pk] and revoke_url(gone) not in cells[gone.pk]


def test_the_list_never_shows_a_token_or_its_digest(student_client, student):
    made = create_token(user=student, name="bot")

    page = page_of(student_client.get(LIST))

    assert made.secret not in page
    assert digest_of(made.secret) not in page


def test_the_list_shows_only_ones_own_tokens(student_client, other_student):
    create_token(user=other_student, name="bobs secret bot")

    page = page_of(student_client.get(LIST))

    assert "bobs secret bot" not in page
    assert "You have no tokens yet." in page


def test_the_page_says_how_to_use_a_token(student_client):
    page = page_of(student_client.get(LIST))

    assert "Authorization: Bearer YOUR_TOKEN" in page
    assert (
        "curl -H &quot;Authorization: Bearer YOUR_TOKEN&quot; http://testserver/api/v1/account"
        in page
    )
    assert "POST http://testserver/api/v1/auth/token" in page
    assert 'href="/api/v1/docs"' in page
    assert 'href="/api/v1/errors"' in page


def test_the_page_reads_the_same_number_of_queries_for_one_token_and_ten(student_client, student):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert student_client.get(LIST).status_code == 200
        return len(captured)

    create_token(user=student, name="bot 0")
    one = queries()
    for n in range(1, MAX_ACTIVE_TOKENS):
        create_token(user=student, name=f"bot {n}")
    for token in ApiToken.objects.all()[:5]:
        revoke_token(token_id=token.pk, user=student)

    assert queries() == one


def test_the_account_page_links_to_the_tokens_page(student_client):
    page = page_of(student_client.get(reverse("profile")))

    assert f'href="{LIST}"' in page


def test_an_instructor_makes_tokens_too(instructor_client, instructor):
    assert make(instructor_client, name="standings").status_code == 302

    assert ApiToken.objects.get().user == instructor


# Making one -----------------------------------------------------------------------------


def test_a_new_token_is_shown_once_and_works(student_client, student):
    response = make(student_client)

    assert response.status_code == 302 and response.url == LIST
    page = page_of(student_client.get(LIST))
    secret = secret_on(page)
    assert secret is not None and secret.startswith("tsk_")
    assert "Copy it now: it is shown only this once." in page
    token = ApiToken.objects.get(user=student)
    assert token.name == "momentum bot"
    assert token.digest == digest_of(secret) and secret not in str(ApiToken.objects.values_list())
    assert ApiClient(secret).get("/account").status_code == 200

    again = page_of(student_client.get(LIST))
    assert secret_on(again) is None
    assert secret not in again
    assert secret not in str(dict(student_client.session))


def test_the_copy_button_comes_from_a_static_script(student_client):
    make(student_client)

    page = page_of(student_client.get(LIST))

    assert 'data-copy="new-token"' in page
    assert re.search(r'<script src="/static/js/copy\.[\w.]*js"', page)
    assert "<script>" not in page  # the Content-Security-Policy allows no inline script


def test_a_double_click_makes_one_token(student_client, student):
    token = token_from(page_of(student_client.get(LIST)))

    first = make(student_client, token=token)
    second = make(student_client, token=token)

    assert first.status_code == second.status_code == 302
    assert ApiToken.objects.filter(user=student).count() == 1
    page = page_of(student_client.get(LIST))
    assert "This form already made the token “momentum bot”; no second one was made." in page
    assert secret_on(page) is not None  # the first one's, still shown once


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "Give the token a name, such as “momentum bot”."),
        ("   ", "Give the token a name, such as “momentum bot”."),
        ("x" * 51, "Keep the name to 50 characters or fewer."),
    ],
    ids=["empty", "spaces", "too long"],
)
def test_a_refused_name_is_a_400_on_the_form_and_makes_nothing(student_client, name, message):
    response = make(student_client, name=name)

    assert response.status_code == 400
    page = page_of(response)
    assert "There is a problem" in page and "data-error-summary" in page
    assert page.count(message) == 2  # in the summary and under the field
    assert 'href="#id_name"' in page
    assert not ApiToken.objects.exists()


def test_the_name_is_kept_as_written_with_its_spaces_tidied(student_client, student):
    make(student_client, name="  my   first  bot ")

    assert ApiToken.objects.get(user=student).name == "my first bot"


def test_at_the_most_tokens_the_page_says_so_and_a_post_is_refused(student_client, student):
    for n in range(MAX_ACTIVE_TOKENS):
        create_token(user=student, name=f"bot {n}")

    page = page_of(student_client.get(LIST))
    assert f"You have {MAX_ACTIVE_TOKENS} active tokens, the most one person may have" in page
    assert 'name="name"' not in page

    response = make(student_client, name="one too many", token="a1b2c3")
    assert response.status_code == 400
    assert "revoke one you no longer use first" in page_of(response)
    assert ApiToken.objects.filter(user=student).count() == MAX_ACTIVE_TOKENS


def test_a_field_sent_twice_is_refused(student_client):
    response = student_client.post(LIST, {"name": ["one", "two"], "token": "a1"})

    assert response.status_code == 400
    assert "This field was sent twice; send it once." in page_of(response)
    assert not ApiToken.objects.exists()


# A class with the API switched off --------------------------------------------------------


@pytest.fixture
def api_off(student):
    student.classroom = ClassroomFactory(name="Period 3", api_access=False)
    student.save(update_fields=["classroom"])
    return student.classroom


def test_with_the_api_switched_off_the_page_says_so_and_offers_no_form(
    student_client, student, api_off
):
    create_token(user=student, name="kept bot")

    page = page_of(student_client.get(LIST))

    assert "The API is switched off for your class." in page
    assert "Your instructor has switched the API off for Period 3" in page
    assert 'name="name"' not in page
    assert "kept bot" in page  # the tokens are kept, and may still be revoked


def test_with_the_api_switched_off_a_post_makes_nothing(student_client, student, api_off):
    response = make(student_client, token="a1b2c3")

    assert response.status_code == 400
    assert "There is a problem" in page_of(response)
    assert not ApiToken.objects.exists()


# Revoking -------------------------------------------------------------------------------


def test_revoking_asks_first(student_client, student):
    token = create_token(user=student, name="momentum bot").token

    response = student_client.get(revoke_url(token))

    assert response.status_code == 200
    page = page_of(response)
    assert "Revoke the token “momentum bot”?" in page
    assert f"<code>{token.prefix}…</code>" in page
    token.refresh_from_db()
    assert token.is_active


def test_revoking_refuses_the_token_from_then_on(student_client, student):
    made = create_token(user=student, name="momentum bot")
    client = ApiClient(made.secret)
    assert client.get("/account").status_code == 200

    response = student_client.post(revoke_url(made.token))

    assert response.status_code == 302 and response.url == LIST
    made.token.refresh_from_db()
    assert made.token.revoked_at is not None and made.token.revoked_by is None
    problem(client.get("/account"), 401, "invalid_token")
    page = page_of(student_client.get(LIST))
    assert "Revoked the token “momentum bot”" in page


def test_revoking_a_revoked_token_changes_nothing(student_client, student):
    token = create_token(user=student, name="bot").token
    revoke_token(token_id=token.pk, user=student)
    token.refresh_from_db()
    when = token.revoked_at

    for response in (student_client.get(revoke_url(token)), student_client.post(revoke_url(token))):
        assert response.status_code == 302 and response.url == LIST
    token.refresh_from_db()
    assert token.revoked_at == when
    assert "was revoked already" in page_of(student_client.get(LIST))


def test_another_persons_token_is_not_found(student_client, other_student):
    token = create_token(user=other_student, name="bobs bot").token

    for response in (student_client.get(revoke_url(token)), student_client.post(revoke_url(token))):
        assert response.status_code == 404
        assert "bobs bot" not in page_of(response)
    token.refresh_from_db()
    assert token.is_active


@pytest.mark.parametrize("token_id", ["0", "99999999999999999999"])
def test_a_token_that_does_not_exist_is_not_found(student_client, token_id):
    response = student_client.post(f"{LIST}{token_id}/revoke/")

    assert response.status_code == 404


def test_a_visitor_cannot_revoke(client, student):
    token = create_token(user=student, name="bot").token

    response = client.post(revoke_url(token))

    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    token.refresh_from_db()
    assert token.is_active
