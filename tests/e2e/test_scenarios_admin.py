"""The admin's Scenarios page in a real browser, on a laptop (1280 px) and a phone
(390 px): the list, a scenario's preview chart, starting and pausing it, and the reset's
confirm page, each without sideways scrolling and without WCAG violations (axe-core).
Screenshots in test-artifacts/screenshots/scenarios-*.png."""

import pytest

from prices.models import ScenarioRun
from prices.services import load_market
from tests.e2e.test_accessibility import WCAG_TAGS, axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Quartz-Lantern-Harbor-2026"
VIEWPORTS = {"1280": {"width": 1280, "height": 900}, "390": {"width": 390, "height": 844}}


@pytest.fixture
def teacher(db):
    from accounts.services import create_instructor

    load_market()
    return create_instructor(username="ms-rivera", email="rivera@school.example", password=PASSWORD)


def log_in(b):
    b.goto("/admin/login/")
    b.page.fill("#id_username", "ms-rivera")
    b.page.fill("#id_password", PASSWORD)
    b.page.get_by_role("button", name="Log in").click()
    b.page.wait_for_url("**/admin/")


def fits(b, name):
    b.shot(name)
    width = b.page.evaluate("document.documentElement.scrollWidth")
    assert width <= b.page.viewport_size["width"], f"{name}: the page is {width} px wide"
    assert axe_violations(b, WCAG_TAGS) == [], name


@pytest.mark.parametrize("size", ["1280", "390"])
def test_an_instructor_previews_starts_and_pauses_a_scenario(browser_page, teacher, size):
    b = browser_page
    b.page.set_viewport_size(VIEWPORTS[size])
    log_in(b)

    b.goto("/admin/prices/scenario/")
    assert "One-day crash (stylized on October 1987, not a replay of it)" in b.page.inner_text(
        "#content"
    )
    fits(b, f"scenarios-list-{size}")

    b.page.get_by_role(
        "link", name="One-day crash (stylized on October 1987, not a replay of it)"
    ).click()
    b.page.wait_for_load_state("networkidle")
    chart = b.page.locator("svg.scenario-chart")
    assert chart.is_visible()
    assert chart.bounding_box()["width"] <= VIEWPORTS[size]["width"]
    assert "Largest fall from a high" in b.page.inner_text("#content")
    fits(b, f"scenarios-preview-{size}")

    b.page.fill("#id_seed", "7")
    b.page.get_by_role("button", name="Preview").click()
    b.page.wait_for_load_state("networkidle")
    assert "(seed 7)" in b.page.inner_text("#chart-summary")

    b.page.get_by_role("link", name="Reset the market to this scenario's start…").click()
    b.page.wait_for_load_state("networkidle")
    assert "Students' holdings and cash are untouched" in b.page.inner_text("#content")
    fits(b, f"scenarios-reset-{size}")
    b.page.get_by_role("link", name="No, go back").click()
    b.page.wait_for_load_state("networkidle")

    b.page.fill("#id_start_seed", "7")
    b.page.get_by_role("button", name="Start this scenario").click()
    b.page.wait_for_load_state("networkidle")
    assert "Running now: One-day crash" in b.page.inner_text("#content")
    assert ScenarioRun.objects.get().seed == 7
    fits(b, f"scenarios-running-{size}")

    b.page.get_by_role("button", name="Pause").click()
    b.page.wait_for_load_state("networkidle")
    assert "Paused: One-day crash" in b.page.inner_text("#content")
    assert ScenarioRun.objects.get().status == "paused"
