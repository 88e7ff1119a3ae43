"""manage.py scenario: list, preview, start, pause, resume, stop, and its refusals."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from prices import scenarios
from prices.models import ScenarioRun
from prices.services import load_market

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command("scenario", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def sample(db):
    load_market()


def test_list_names_the_shipped_scenarios_and_what_runs(sample):
    out = run("list")

    assert "crash-1987" in out and "20 days" in out and "(shipped)" in out
    assert out.rstrip().endswith("No scenario is running.")


def test_preview_prints_the_summary_for_a_seed(sample):
    out = run("preview", "crash-1987", "--seed", "8")

    script = scenarios.script_of((scenarios.BUILTIN_DIR / "crash-1987.toml").read_text())
    assert scenarios.preview(script, seed=8).summary() in out
    assert out.startswith("One-day crash (stylized on October 1987, not a replay of it)")


def test_start_pause_resume_stop(sample):
    assert "Started crash-1987 with seed 1987: its day 1 is trading day 1" in run(
        "start", "crash-1987"
    )
    assert "Running: crash-1987, day 0 of 20, seed 1987." in run("list")
    assert run("pause") == "Paused crash-1987 on its day 0.\n"
    assert run("resume") == "Resumed crash-1987 on its day 0.\n"
    assert run("stop") == "Stopped crash-1987 on its day 0.\n"
    assert ScenarioRun.objects.get().status == "stopped"


def test_start_with_a_seed(sample):
    run("start", "bear-2008", "--seed", "42")
    assert ScenarioRun.objects.get().seed == 42


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["start", "crash-1988"], "There is no scenario named “crash-1988” (scenarios: bear-2008"),
        (["preview", "nope"], "There is no scenario named “nope”"),
        (["start", "crash-1987", "--seed", "-1"], "--seed must be a whole number, 0 or more."),
        (["pause"], "There is no running scenario to pause."),
        (["resume"], "There is no paused scenario to resume."),
        (["stop"], "No scenario is running or paused."),
    ],
)
def test_bad_input_is_a_clear_error(sample, args, message):
    with pytest.raises(CommandError) as caught:
        run(*args)
    assert message in str(caught.value)


def test_a_second_start_is_refused(sample):
    run("start", "crash-1987")
    with pytest.raises(CommandError, match="is already running: stop it before starting another"):
        run("start", "covid-2020")


def test_a_scenario_naming_a_missing_sector_cannot_start(market):
    with pytest.raises(CommandError, match="The scenario has errors:\n- day 10: the sector"):
        run("start", "bear-2008")
