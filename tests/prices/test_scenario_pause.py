"""Pausing and resuming a scenario counts the days by the day the next tick belongs to:
mid-day, and in the gap after a day has closed."""

import math

import pytest

from prices import scenario_runs
from prices.actions import quarter_day
from prices.models import Headline, MarketState, Price, Scenario
from prices.services import advance_market
from tests.prices.test_scenario_runs import SOURCE, tick

pytestmark = pytest.mark.django_db


@pytest.fixture
def scenario(market):
    Price.objects.update(drift=0.0, volatility=0.0, beta=1.0)
    return Scenario.objects.create(
        name="test-run", title="Test run", description="x", source=SOURCE, seed=11, days=3
    )


def index() -> float:
    return float(Price.objects.get(symbol="TSIM").price)


def day_one_headlines() -> int:
    return Headline.objects.filter(kind="scenario", text="Day one news").count()


def test_a_run_started_and_paused_in_the_gap_begins_with_its_first_day(scenario):
    tick(2)  # a whole day: the market is in the gap after its close
    scenario_runs.start(name="test-run")
    scenario_runs.pause()
    tick()  # half of the next market day, the scenario paused
    scenario_runs.resume()

    tick()

    assert index() == pytest.approx(500.00 * math.sqrt(0.9), abs=0.006)  # day 1's half
    assert day_one_headlines() == 1
    assert scenario_runs.day_now(scenario_runs.live_run(), MarketState.objects.get(id=1)) == 1


def test_a_pause_in_the_gap_after_a_day_goes_on_with_the_next_day(scenario):
    tick(2)
    scenario_runs.start(name="test-run")
    tick(2)  # day 1 (market -10 %), then the gap
    scenario_runs.pause()
    tick()
    scenario_runs.resume()

    tick()

    assert index() == pytest.approx(500.00 * 0.9 * math.sqrt(1.05), abs=0.006)  # day 2's half
    assert day_one_headlines() == 1


def test_a_pause_mid_day_goes_on_with_the_rest_of_that_day(scenario):
    tick(2)
    scenario_runs.start(name="test-run")
    tick()  # half of day 1
    scenario_runs.pause()
    tick(2)  # the market's day closes and the next is half run
    scenario_runs.resume()

    tick()  # the rest of day 1
    assert index() == pytest.approx(500.00 * 0.9, abs=0.006)
    tick()  # the scenario's day 2 opens with the market's next day
    assert index() == pytest.approx(500.00 * 0.9 * math.sqrt(1.05), abs=0.006)


def test_a_pause_and_resume_in_the_same_gap_loses_no_day(scenario):
    tick(2)
    scenario_runs.start(name="test-run")
    tick(2)
    scenario_runs.pause()
    scenario_runs.resume()

    tick(2)

    assert index() == pytest.approx(500.00 * 0.9 * 1.05, abs=0.006)


# Replays on another day of the quarter ----------------------------------------------------


def _index_path(*, seed: int) -> list[float]:
    scenario_runs.reset_market()
    scenario_runs.start(name="test-run", seed=seed)
    path = []
    for i in range(4):
        advance_market(dt=0.25, seed=300 + i)  # the default model: jumps and all
        path.append(index())
    scenario_runs.stop()
    return path


def test_a_replay_on_a_day_where_a_stock_reports_moves_the_index_the_same(scenario):
    Price.objects.update(earnings_day=None, dividend_day=None, dividend_yield=0)
    tick(2)
    reporting_day = quarter_day(scenario_runs._next_day(MarketState.objects.get(id=1)) + 1)
    Price.objects.filter(symbol="AAPL").update(earnings_day=reporting_day, earnings_volatility=0.1)
    tick(2)  # the next run starts on the day AAPL reports
    reported = _index_path(seed=5)
    assert Headline.objects.filter(kind="earnings").exists()

    quiet = _index_path(seed=5)  # a day later in the quarter: nobody reports

    assert quiet == reported
