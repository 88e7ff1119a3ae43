"""The Scenarios page of the admin (prices.admin_scenarios): who may, the list, a
scenario's preview, upload, start/pause/resume/stop, the reset and its confirm page."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.roles import ensure_instructor_group
from prices import scenario_runs, scenarios
from prices.models import Price, Scenario, ScenarioRun
from prices.services import load_market
from tests.factories import InstructorFactory
from tests.prices.test_scenario_runs import SOURCE
from tradesim.models import AuditEntry

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:prices_scenario_changelist")
UPLOAD = reverse("admin:prices_scenario_upload")


def page(scenario, what="change"):
    return reverse(f"admin:prices_scenario_{what}", args=[scenario.pk])


@pytest.fixture
def teacher(instructor):
    instructor.groups.add(ensure_instructor_group())
    return instructor


@pytest.fixture
def teacher_client(client, teacher):
    client.force_login(teacher)
    return client


@pytest.fixture
def shipped(market):
    scenarios.sync_builtin()
    return Scenario.objects.get(name="crash-1987")


@pytest.fixture
def mine(market, teacher):
    return scenario_runs.upload(source=SOURCE, by=teacher)


def actions() -> list[str]:
    return list(AuditEntry.objects.order_by("id").values_list("action", flat=True))


# Who may ----------------------------------------------------------------------------------


def test_students_and_visitors_are_sent_to_log_in(client, student, shipped):
    for c in (client,):
        assert c.get(CHANGELIST).status_code == 302
    client.force_login(student)
    assert client.get(CHANGELIST).status_code == 302
    assert client.post(reverse("admin:prices_scenario_stop")).status_code == 302


def test_staff_who_may_not_schedule_events_may_not_run_scenarios(instructor_client, shipped):
    assert instructor_client.get(CHANGELIST).status_code == 403
    assert instructor_client.get(page(shipped)).status_code == 403
    assert instructor_client.post(page(shipped, "start")).status_code == 403
    assert instructor_client.get(UPLOAD).status_code == 403
    assert not ScenarioRun.objects.exists()


def test_an_instructor_may_not_delete_a_scenario(teacher_client, mine):
    assert teacher_client.get(page(mine, "delete")).status_code == 403


def test_nobody_deletes_a_shipped_scenario(admin_client, shipped):
    assert admin_client.get(page(shipped, "delete")).status_code == 403


def test_the_list_has_no_bulk_delete_and_a_superuser_deletes_an_upload_alone(
    admin_client, shipped, mine
):
    assert 'value="delete_selected"' not in admin_client.get(CHANGELIST).content.decode()
    data = {"action": "delete_selected", "_selected_action": [shipped.pk, mine.pk], "post": "yes"}
    admin_client.post(CHANGELIST, data)
    assert Scenario.objects.filter(pk__in=[shipped.pk, mine.pk]).count() == 2

    response = admin_client.post(page(mine, "delete"), {"post": "yes"})

    assert response.status_code == 302
    assert list(Scenario.objects.filter(pk__in=[shipped.pk, mine.pk])) == [shipped]


# The list and a scenario's page -----------------------------------------------------------


def test_the_list_shows_shipped_and_uploaded_scenarios_in_fixed_queries(
    teacher_client, mine, django_assert_num_queries
):
    response = teacher_client.get(CHANGELIST)  # loads the shipped files
    assert response.status_code == 200
    body = response.content.decode()
    assert "One-day crash (stylized on October 1987, not a replay of it)" in body
    assert "Uploaded by teacher" in body and "Shipped" in body
    assert "Upload a scenario" in body

    # session, user, its own and its groups' permissions, the shipped files' rows, the
    # live run, the two counts and the page of scenarios: whatever the number of them.
    with django_assert_num_queries(9):
        teacher_client.get(CHANGELIST)
    for n in range(3):
        more = SOURCE.replace('name = "test-run"', f'name = "more-{n}"')
        scenario_runs.upload(source=more, by=mine.uploaded_by)
    with django_assert_num_queries(9):
        assert len(teacher_client.get(CHANGELIST).context["cl"].result_list) == 9


def test_the_list_shows_the_running_scenario_with_its_buttons(teacher_client, shipped):
    load_market()  # the whole sample market, which the shipped files name
    scenario_runs.start(name="crash-1987", seed=4)

    body = teacher_client.get(CHANGELIST).content.decode()

    assert "Running now: One-day crash" in body
    assert "Day 1 of 20 begins at the next tick · seed 4" in body
    assert reverse("admin:prices_scenario_pause") in body


def test_a_scenario_page_draws_its_preview_for_a_seed(
    teacher_client, shipped, django_assert_num_queries
):
    # session, user, its own and its groups' permissions, the scenario, the live run, the
    # market's parameters.
    with django_assert_num_queries(7):
        response = teacher_client.get(page(shipped), {"seed": "12"})

    assert response.status_code == 200
    body = response.content.decode()
    expected = scenarios.preview(scenarios.script_of(shipped.source), seed=12)
    assert "<svg" in body and "<polyline" in body
    assert expected.summary() in body
    assert "Largest fall from a high" in body
    assert "Start this scenario" in body


def test_a_bad_seed_is_a_400_with_the_message(teacher_client, shipped):
    response = teacher_client.get(page(shipped), {"seed": "-3"})

    assert response.status_code == 400
    assert "Ensure this value is greater than or equal to 0." in response.content.decode()


# Upload -----------------------------------------------------------------------------------


def upload(client, text, name="mine.toml"):
    return client.post(UPLOAD, {"file": SimpleUploadedFile(name, text.encode())})


def test_an_upload_is_checked_saved_and_audited(teacher_client, market):
    assert teacher_client.get(UPLOAD).status_code == 200

    response = upload(teacher_client, SOURCE)

    scenario = Scenario.objects.get(name="test-run")
    assert response.status_code == 302 and response["Location"] == page(scenario)
    assert actions() == ["scenario_upload"]


def test_a_bad_upload_shows_each_error_and_saves_nothing(teacher_client, market):
    bad = SOURCE.replace("volatility = 2", "volatility = 50").replace("Energy", "Enery")

    response = upload(teacher_client, bad)

    assert response.status_code == 400
    body = response.content.decode()
    assert "The file was not saved." in body
    assert "day 1: volatility must be between 0.1 and 10 (it is 50)." in body
    assert "day 1: the sector “Enery” is not in the market" in body
    assert not Scenario.objects.filter(builtin=False).exists() and actions() == []


def test_a_toml_syntax_error_is_shown_with_its_line(teacher_client, market):
    response = upload(teacher_client, "name = \n")

    assert response.status_code == 400
    assert "The file is not valid TOML" in response.content.decode()
    assert "line 1" in response.content.decode()


def test_a_file_that_is_not_toml_is_refused(teacher_client, market):
    response = upload(teacher_client, SOURCE, name="mine.txt")

    assert response.status_code == 400
    assert "Choose a .toml file" in response.content.decode()


# Start, pause, resume, stop ---------------------------------------------------------------


def test_start_pause_resume_and_stop_are_audited(teacher_client, teacher, mine):
    response = teacher_client.post(page(mine, "start"), {"seed": "9"})
    assert response.status_code == 302
    run = ScenarioRun.objects.get()
    assert (run.seed, run.status, run.started_by) == (9, "running", teacher)

    for what in ("pause", "resume", "stop"):
        response = teacher_client.post(reverse(f"admin:prices_scenario_{what}"), follow=True)
        assert response.status_code == 200

    run.refresh_from_db()
    assert run.status == "stopped" and run.stopped_by == teacher
    assert actions() == [
        "scenario_upload",
        "scenario_start",
        "scenario_pause",
        "scenario_resume",
        "scenario_stop",
    ]


def test_a_blank_seed_starts_with_the_scenarios_own(teacher_client, mine):
    teacher_client.post(page(mine, "start"), {"seed": ""})
    assert ScenarioRun.objects.get().seed == 11


def test_start_is_post_only(teacher_client, mine):
    response = teacher_client.get(page(mine, "start"))
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:prices_scenario_changelist")
    assert not ScenarioRun.objects.exists()


def test_a_refused_action_says_why(teacher_client, mine):
    response = teacher_client.post(reverse("admin:prices_scenario_pause"), follow=True)
    assert "There is no running scenario to pause." in response.content.decode()

    scenario_runs.start(name="test-run")
    response = teacher_client.post(page(mine, "start"), follow=True)
    assert "is already running: stop it before starting another" in response.content.decode()
    assert ScenarioRun.objects.count() == 1


# Reset ------------------------------------------------------------------------------------


def test_the_reset_asks_first_and_says_what_it_does(
    teacher_client, mine, django_assert_num_queries
):
    # session, user, its own and its groups' permissions, the scenario, the live run.
    with django_assert_num_queries(6):
        response = teacher_client.get(page(mine, "reset"))

    body = response.content.decode()
    assert response.status_code == 200
    assert "Students' holdings and cash are untouched" in body
    assert "back to its listing price" in body
    assert actions() == ["scenario_upload"]


def test_the_reset_resets_and_is_audited(teacher_client, mine):
    Price.objects.filter(symbol="AAPL").update(price="1.00")

    response = teacher_client.post(page(mine, "reset"), follow=True)

    assert response.status_code == 200
    assert (
        "Reset the market: 4 symbols are back at their listing prices" in response.content.decode()
    )
    assert str(Price.objects.get(symbol="AAPL").price) == "262.50"
    assert actions() == ["scenario_upload", "market_reset"]


def test_the_reset_page_says_to_stop_a_running_scenario_first(teacher_client, mine):
    scenario_runs.start(name="test-run")

    body = teacher_client.get(page(mine, "reset")).content.decode()

    assert "Stop it before resetting the market." in body
    assert "Yes, reset the market" not in body


def test_every_instructor_sees_the_scenario_audit_entries(client, mine):
    other = InstructorFactory(username="other")
    other.groups.add(ensure_instructor_group())
    client.force_login(other)

    body = client.get(reverse("admin:tradesim_auditentry_changelist")).content.decode()

    assert "test-run: Test run" in body


@pytest.mark.parametrize(
    "text, message",
    [
        (SOURCE.replace("volatility = 2", "volatility = 1" + "0" * 400), "volatility must be"),
        (SOURCE + '\n[day."' + "9" * 5000 + '"]\nmarket = 1\n', "at most 252 days"),
        (SOURCE.replace("seed = 11", "seed = 1" + "0" * 5000), "a number too large to read"),
        (SOURCE.replace("days = 3\n", "") + '\n[day."1-3000000"]\n', "days is missing"),
    ],
    ids=["huge-volatility", "huge-day", "huge-literal", "long-range-no-days"],
)
def test_an_upload_with_huge_numbers_is_refused_in_words(teacher_client, market, text, message):
    response = upload(teacher_client, text)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Scenario.objects.filter(builtin=False).exists() and actions() == []
