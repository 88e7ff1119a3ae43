"""Log-in cards in a real browser: a teacher prints a class's cards in the console; a
student's QR address (/accounts/card/#CODE) logs them in and lands on their dashboard with
the code gone from the address; a code typed by hand does the same; a wrong one is told
plainly; reloading the printed cards prints nothing again, nor does a double click print
twice. axe-clean at a phone's width
(390 px) and a laptop's, no sideways scrolling; photographed to
test-artifacts/screenshots/login-cards/."""

import re
import time

import pytest

from accounts.models import LoginCard
from accounts.roles import ensure_instructor_group
from accounts.services import issue_cards
from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.test_accessibility import BEST_PRACTICE, WCAG_TAGS, axe_violations
from tests.factories import ClassroomFactory, InstructorFactory, StudentFactory
from tradesim.models import AuditEntry

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Quartz-Lantern-Harbor-2026"
SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}
FOLDER = SCREENSHOTS / "login-cards"


@pytest.fixture
def period1(db):
    classroom = ClassroomFactory(name="Period 1 · Economics")
    teacher = InstructorFactory(username="teacher", password=PASSWORD)
    teacher.groups.add(ensure_instructor_group())
    classroom.owners.add(teacher)
    for username, first, last in [
        ("maya", "Maya", "Lin"),
        ("theo", "Theodora", "Papadopoulou-Vasquez"),
        ("sam", "Sam", "Okafor"),
    ]:
        StudentFactory(username=username, first_name=first, last_name=last, classroom=classroom)
    return classroom


def maya_code(period1) -> str:
    maya = period1.students.get(username="maya")
    [(_, code)] = issue_cards(classroom=period1, users=[maya], by=period1.owners.get())
    return code


def shot(page, name: str) -> None:
    FOLDER.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(FOLDER / f"{name}.png"), full_page=True)


def teacher_logs_in(b) -> None:
    b.goto("/admin/login/")
    b.page.fill("#id_username", "teacher")
    b.page.fill("#id_password", PASSWORD)
    b.page.locator("input[type=submit]").click()
    b.page.wait_for_url("**/admin/")


def teacher_prints_every_card(b, classroom) -> None:
    teacher_logs_in(b)
    b.goto(f"/admin/classrooms/classroom/{classroom.pk}/cards/")
    b.page.get_by_role("button", name="Print new cards for every student").click()
    b.page.wait_for_load_state("networkidle")


def student_logs_in_with(b, code: str) -> None:
    b.goto("/accounts/card/")
    b.page.fill("#id_code", code)
    b.page.get_by_role("button", name="Log in").click()
    b.page.wait_for_url("**/portfolio/")


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("size", sorted(SIZES))
def test_the_qr_address_logs_the_student_in(browser_page, period1, size):
    code = maya_code(period1)
    b = browser_page
    page = b.page
    page.set_viewport_size(SIZES[size])

    with page.expect_navigation(url="**/portfolio/"):
        page.goto(f"{b.base_url}/accounts/card/#{code}")
    page.wait_for_load_state("networkidle")

    assert "Welcome, Maya!" in page.inner_text("body")
    assert "#" not in page.url
    # Back in the history, the code is nowhere (the browser may skip the card page).
    page.go_back()
    page.wait_for_load_state("networkidle")
    assert code not in page.url


def test_a_card_link_opened_while_logged_in_asks_before_switching(browser_page, period1):
    """A classmate's link cannot swap the account a browser is in: the code is filled in and
    the student is told whose account they are in; only the button logs in with the card."""
    sam = period1.students.get(username="sam")
    [(_, sams)] = issue_cards(classroom=period1, users=[sam], by=period1.owners.get())
    code = maya_code(period1)
    b = browser_page
    page = b.page
    with page.expect_navigation(url="**/portfolio/"):
        page.goto(f"{b.base_url}/accounts/card/#{sams}")

    page.goto(f"{b.base_url}/accounts/card/#{code}")
    page.wait_for_load_state("networkidle")

    assert page.url.endswith("/accounts/card/")
    assert "You are logged in as sam" in page.inner_text("body")
    assert page.input_value("[name=code]") == code
    with page.expect_navigation(url="**/portfolio/"):
        page.click("form[data-login-card] button[type=submit]")
    assert "Welcome, Maya!" in page.inner_text("body")


@pytest.mark.parametrize("size", sorted(SIZES))
def test_a_code_typed_by_hand_logs_in_and_a_wrong_one_is_told(browser_page, period1, size):
    code = maya_code(period1)
    b = browser_page
    page = b.page
    page.set_viewport_size(SIZES[size])

    b.goto("/accounts/login/")
    page.get_by_role("link", name="Log in with your class card").click()
    page.wait_for_url("**/accounts/card/")
    b.assert_styled()
    assert axe_violations(b, WCAG_TAGS + [BEST_PRACTICE]) == []
    assert no_sideways_scroll(page)
    shot(page, f"card-page-{size}")

    page.fill("#id_code", "7KQ2-M9XD-4HTP-W3CF")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state("networkidle")
    assert "That code is not valid" in page.inner_text(".error-summary")
    assert page.evaluate("() => !!document.activeElement.closest('.error-summary')")
    assert axe_violations(b, WCAG_TAGS + [BEST_PRACTICE]) == []
    assert no_sideways_scroll(page)
    shot(page, f"card-page-refused-{size}")
    b.problems.clear()  # the refused code answered 400, as it should

    grouped = "-".join(code[i : i + 4] for i in range(0, 16, 4)).lower()
    page.fill("#id_code", grouped)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/portfolio/")
    assert "Welcome, Maya!" in page.inner_text("body")


@pytest.mark.parametrize("size", sorted(SIZES))
def test_a_teacher_prints_the_class_cards(browser_page, period1, size):
    b = browser_page
    page = b.page
    page.set_viewport_size(SIZES[size])
    teacher_logs_in(b)

    b.goto(f"/admin/classrooms/classroom/{period1.pk}/cards/")
    assert axe_violations(b, WCAG_TAGS) == []
    shot(page, f"console-cards-list-{size}")

    page.get_by_role("button", name="Print new cards for every student").click()
    page.wait_for_load_state("networkidle")
    assert page.locator(".login-card").count() == 3
    assert page.locator(".login-card svg[role=img]").count() == 3
    assert page.get_by_role("button", name="Print the cards").is_visible()
    assert axe_violations(b, WCAG_TAGS) == []
    assert no_sideways_scroll(page)
    shot(page, f"console-cards-print-{size}")
    codes = page.locator(".login-card-code").all_inner_texts()

    page.emulate_media(media="print")
    assert page.locator("#header").is_hidden()
    assert page.locator(".cards-screen-only").is_hidden()
    if size == "desktop":
        shot(page, "console-cards-paper")
    page.emulate_media(media="screen")

    # The list shows them issued, never the codes.
    b.goto(f"/admin/classrooms/classroom/{period1.pk}/cards/")
    assert page.get_by_text("Not yet").count() == 3
    # Every student's two buttons are in view, none cut off at the screen's edge.
    assert page.locator(".cards-actions button").count() == 6
    assert page.evaluate(
        "[...document.querySelectorAll('.cards-actions button')]"
        ".every((b) => b.getBoundingClientRect().right <= window.innerWidth)"
    )
    shot(page, f"console-cards-issued-{size}")
    content = page.content()
    assert not any(code.split("Code: ")[-1] in content for code in codes)


def test_the_cards_print_eight_to_a_sheet(browser_page, period1):
    for n in range(6):  # nine students in all: two sheets
        StudentFactory(username=f"extra{n}", classroom=period1)
    b = browser_page
    page = b.page
    teacher_prints_every_card(b, period1)

    for paper in ("A4", "Letter"):
        pdf = page.pdf(format=paper, print_background=True)
        assert len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf)) == 2, paper


def test_reloading_the_printed_cards_prints_nothing_again(browser_page, period1):
    b = browser_page
    page = b.page
    teacher_prints_every_card(b, period1)
    codes = [text.split()[-1] for text in page.locator(".login-card-code").all_inner_texts()]
    assert len(codes) == 3

    page.reload()  # the browser sends the form again
    page.wait_for_load_state("networkidle")
    assert page.locator(".login-card").count() == 0
    assert "These cards were printed already" in page.inner_text("#content-main")
    assert axe_violations(b, WCAG_TAGS) == []
    shot(page, "console-cards-printed-already-desktop")
    page.set_viewport_size(SIZES["phone"])
    assert no_sideways_scroll(page)
    shot(page, "console-cards-printed-already-phone")
    b.problems = [p for p in b.problems if "status of 409" not in p]  # as it should

    page.context.clear_cookies()
    student_logs_in_with(b, codes[0])


def test_a_double_click_sends_the_form_once(browser_page, period1):
    """The page's script sends a form once: a second click while the first answer is on
    its way (held here, as a slow network would) sends nothing, so the sheet the browser
    shows is the one printing, and its codes work."""
    b = browser_page
    page = b.page
    teacher_logs_in(b)
    b.goto(f"/admin/classrooms/classroom/{period1.pk}/cards/")
    sent = []

    def slow_network(route):
        if route.request.method == "POST":
            sent.append(route.request.post_data)
            time.sleep(0.6)
        route.continue_()

    page.route("**/cards/", slow_network)
    page.evaluate(
        """() => {
          const button = [...document.querySelectorAll("button")].find(
            (b) => b.textContent.includes("Print new cards for every student"));
          button.click();
          setTimeout(() => button.click(), 250);
        }"""
    )
    page.locator(".login-card").first.wait_for()
    page.wait_for_load_state("networkidle")

    assert len(sent) == 1 and "action=print_all" in sent[0]
    codes = [text.split()[-1] for text in page.locator(".login-card-code").all_inner_texts()]
    assert len(codes) == 3
    assert LoginCard.objects.count() == 3
    assert AuditEntry.objects.filter(action="login_card").count() == 3
    page.unroute("**/cards/")
    page.context.clear_cookies()
    student_logs_in_with(b, codes[0])
