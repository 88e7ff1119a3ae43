"""A student's API token, in a real browser: made from the account page, shown once and
copied with its button, used by a program against the live server, then revoked. With a
screenshot of each step at a laptop's width (1280 px) and a phone's (390 px)."""

import json
import urllib.error
import urllib.request

import pytest

from api.models import ApiToken

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Quartz-Lantern-Harbor-2026"
WIDTHS = {"desktop": 1280, "phone": 390}


@pytest.fixture
def maya(db):
    from tests.factories import ClassroomFactory, StudentFactory

    period = ClassroomFactory(name="Period 1")
    return StudentFactory(username="maya", password=PASSWORD, classroom=period)


def log_in(b):
    b.goto("/accounts/login/")
    b.page.fill("#id_username", "maya")
    b.page.fill("#id_password", PASSWORD)
    b.page.get_by_role("button", name="Log in").click()
    b.page.wait_for_url("**/portfolio/")


def account_status(base_url: str, secret: str) -> int:
    """What a program gets for GET /api/v1/account with the token."""
    request = urllib.request.Request(
        f"{base_url}/api/v1/account", headers={"Authorization": f"Bearer {secret}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            json.load(response)
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.parametrize("size", list(WIDTHS))
def test_a_student_makes_copies_uses_and_revokes_a_token(browser_page, maya, size):
    b = browser_page
    page = b.page
    page.set_viewport_size({"width": WIDTHS[size], "height": 900})
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=b.base_url)
    log_in(b)

    # From the account page to the tokens page.
    if size == "phone":
        # Wait for the menu to finish opening: a click on a link that is still sliding in
        # can land on nothing under a loaded machine.
        page.locator(".navbar-toggler").click()
        page.wait_for_selector("#nav.show:not(.collapsing)")
    with page.expect_navigation(url="**/accounts/profile/"):
        page.get_by_role("link", name="maya").click()
    b.shot(f"api-tokens-account-page-{size}")
    page.get_by_role("link", name="API tokens").click()
    page.wait_for_url("**/accounts/api-tokens/")
    assert "You have no tokens yet." in page.inner_text("main")
    b.shot(f"api-tokens-empty-{size}")

    # A name the service refuses: the error summary takes focus.
    page.fill("#id_name", "   ")
    page.get_by_role("button", name="Make token").click()
    page.wait_for_load_state("networkidle")
    assert page.evaluate("() => !!document.activeElement.closest('.error-summary')")
    b.shot(f"api-tokens-error-{size}")
    b.problems.clear()  # the refused form answered 400, as it should

    # Made, and shown once.
    page.fill("#id_name", "Momentum bot")
    page.get_by_role("button", name="Make token").click()
    page.wait_for_url("**/accounts/api-tokens/")
    secret = page.input_value("#new-token")
    assert secret.startswith("tsk_")
    page.get_by_role("button", name="Copy").click()
    page.get_by_text("Copied.").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == secret
    b.shot(f"api-tokens-new-{size}")
    assert no_sideways_scroll(page)

    # A program uses it.
    assert account_status(b.base_url, secret) == 200
    page.reload()
    assert page.locator("#new-token").count() == 0  # once only
    assert secret not in page.content()

    # Revoked: asked first, then refused to programs.
    page.get_by_role("link", name="Revoke the token Momentum bot").click()
    page.wait_for_url("**/revoke/")
    b.shot(f"api-tokens-revoke-{size}")
    page.get_by_role("button", name="Revoke the token").click()
    page.wait_for_url("**/accounts/api-tokens/")
    assert "Revoked the token “Momentum bot”" in page.inner_text(".messages")
    b.shot(f"api-tokens-revoked-{size}")
    assert no_sideways_scroll(page)
    assert ApiToken.objects.get(user=maya).revoked_at is not None
    assert account_status(b.base_url, secret) == 401


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
