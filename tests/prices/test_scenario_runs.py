"""Running a scenario (prices.scenario_runs, and prices.scenarios in the tick): the script's
moves, regime and headlines, pause, finish, replay, reset, upload, and the audit."""

import math
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from ledger.models import Balance
from portfolio.models import Holding
from prices import scenario_runs, scenarios
from prices.models import Headline, MarketState, Price, PriceHistory, Scenario, ScenarioRun
from prices.scenario_runs import ScenarioRefused
from prices.services import advance_market
from prices.simulation import NO_JUMPS, MarketModel
from tests.factories import HoldingFactory, InstructorFactory
from tradesim.models import AuditEntry

pytestmark = pytest.mark.django_db

# No randomness at all: prices move only by what the script says.
FLAT = MarketModel.constant(0.0, drift=0.0, market_jumps=NO_JUMPS, stock_jumps=NO_JUMPS)

SOURCE = """
name = "test-run"
title = "Test run (stylized, not a replay)"
description = "Three days for the tests."
stylized = true
days = 3
seed = 11

[day.1]
regime = "turbulent"
volatility = 2
market = -10
headlines = ["Day one news"]
sectors.Energy = { move = -20, headline = "Oil slumps" }
symbols.AAPL = { move = 10, headline = "AAPL soars" }

[day.2]
market = 5
headlines = ["Day two news"]

[day.3]
regime = "calm"
"""


@pytest.fixture
def scenario(market):
    return Scenario.objects.create(
        name="test-run", title="Test run", description="x", source=SOURCE, seed=11, days=3
    )


@pytest.fixture
def flat(market):
    Price.objects.update(drift=0.0, volatility=0.0, beta=1.0)
    return market


def prices() -> dict[str, float]:
    return {s: float(p) for s, p in Price.objects.values_list("symbol", "price")}


def state() -> MarketState:
    return MarketState.objects.get_or_create(id=1)[0]


def tick(n=1, *, dt=0.5, model=FLAT, seed=None):
    for i in range(n):
        advance_market(dt=dt, model=model, seed=seed if seed is None else seed + i)


def texts() -> list[str]:
    """The scenario's headlines (the news of large moves comes on top: prices.news)."""
    rows = Headline.objects.filter(kind="scenario").order_by("id")
    return list(rows.values_list("text", flat=True))


# Through the tick -------------------------------------------------------------------------


def test_a_day_spreads_its_moves_over_its_ticks(flat, scenario):
    scenario_runs.start(name="test-run")

    tick()  # half of day one
    half = prices()
    assert half["MSFT"] == pytest.approx(498.00 * math.sqrt(0.9), abs=0.006)

    tick()  # the rest of it
    after = prices()
    assert after["MSFT"] == pytest.approx(498.00 * 0.9, abs=0.006)  # beta 1 × the market
    assert after["TSIM"] == pytest.approx(500.00 * 0.9, abs=0.006)  # the index fund: beta 1
    assert after["XOM"] == pytest.approx(116.00 * 0.9 * 0.8, abs=0.006)  # and its sector's
    assert after["AAPL"] == pytest.approx(262.50 * 0.9 * 1.1, abs=0.006)  # and its own


def test_a_stock_takes_beta_times_the_market_and_the_index_fund_one(flat, scenario):
    Price.objects.update(beta=2.0)
    scenario_runs.start(name="test-run")

    tick(2)

    assert prices()["MSFT"] == pytest.approx(498.00 * 0.9**2, abs=0.006)
    assert prices()["TSIM"] == pytest.approx(500.00 * 0.9, abs=0.006)


def test_the_headlines_come_at_the_first_tick_of_their_day(flat, scenario):
    scenario_runs.start(name="test-run")

    tick()
    assert texts() == ["Day one news", "Oil slumps", "AAPL soars"]
    oil = Headline.objects.get(text="Oil slumps")
    assert (oil.kind, oil.sector, oil.percent, oil.day) == (
        "scenario",
        "Energy",
        Decimal("-20.00"),
        1,
    )
    assert Headline.objects.get(text="AAPL soars").stock_id == "AAPL"

    tick()
    assert len(texts()) == 3

    tick()  # day two opens
    assert texts()[3:] == ["Day two news"]
    assert prices()["MSFT"] == pytest.approx(498.00 * 0.9 * math.sqrt(1.05), abs=0.006)


def test_the_script_holds_the_regime(flat, scenario):
    scenario_runs.start(name="test-run")

    tick(2)
    assert state().regime == "turbulent"
    tick(2)  # day two says nothing: held
    assert state().regime == "turbulent"
    tick()  # day three: calm
    assert state().regime == "calm"


def test_the_volatility_multiplier_scales_the_market_factor(market, scenario):
    """Same seed, same script: a run's market factor moves twice as far as its own
    volatility would have it on a day with volatility = 2 (no drift, no jumps here)."""
    model = MarketModel.constant(0.2, drift=0.0, market_jumps=NO_JUMPS, stock_jumps=NO_JUMPS)
    scenarios_rng = scenarios.tick_rng(11, 0)
    expected = 2 * 0.2 * math.sqrt(0.5 / 252) * scenarios_rng.gauss(0.0, 1.0)
    expected -= 0.5 * (2 * 0.2) ** 2 * 0.5 / 252
    scenario_runs.start(name="test-run")

    result = advance_market(dt=0.5, model=model)

    assert result.market_return == pytest.approx(expected)


def test_the_run_finishes_after_its_last_day(flat, scenario):
    run = scenario_runs.start(name="test-run")

    tick(6)  # three days of two ticks
    run.refresh_from_db()
    assert run.status == ScenarioRun.Status.RUNNING
    before = prices()

    tick()  # the first tick of day four
    run.refresh_from_db()
    assert (run.status, run.day_reached) == (ScenarioRun.Status.FINISHED, 3)
    assert run.finished_at is not None
    assert texts()[-1] == "Scenario finished: Test run"
    assert prices() == before  # day four is the market's own (flat here)

    tick(2)
    assert texts()[-1] == "Scenario finished: Test run"
    assert scenario_runs.live_run() is None


def test_pause_stops_the_scenario_clock(flat, scenario):
    scenario_runs.start(name="test-run")
    tick(2)  # day one
    after_day_one = prices()

    run = scenario_runs.pause()
    assert run.day_reached == 1
    tick(4)  # two market days, no scenario
    assert prices() == after_day_one
    assert texts() == ["Day one news", "Oil slumps", "AAPL soars"]

    run = scenario_runs.resume()
    tick()  # a new market day: the scenario's day two, not its day four
    assert texts()[-1] == "Day two news"
    assert prices()["MSFT"] == pytest.approx(498.00 * 0.9 * math.sqrt(1.05), abs=0.006)
    assert scenario_runs.day_now(run, state()) == 2


def test_a_tick_with_a_running_scenario_runs_no_extra_query(
    flat, scenario, django_assert_num_queries
):
    scenario_runs.start(name="test-run")
    tick()  # the day's first tick: its headlines

    # SAVEPOINT, lock, market parameters, prices, events, the running scenario, UPDATE
    # prices, INSERT history, UPDATE state, RELEASE: as a tick without one.
    with django_assert_num_queries(10):
        advance_market(dt=0.25, model=FLAT)


def test_a_partly_run_day_takes_its_share_and_halted_symbols_miss_it(flat, scenario):
    Price.objects.filter(symbol="XOM").update(halted=True)
    scenario_runs.start(name="test-run")

    tick(2)

    assert prices()["XOM"] == 116.00


# Replay -----------------------------------------------------------------------------------


def run_once(seed, ticker_seed):
    scenario_runs.reset_market()
    scenario_runs.start(name="test-run", seed=seed)
    path = []
    for i in range(7):
        advance_market(dt=0.25, seed=ticker_seed + i)  # the default model: jumps and all
        path.append(prices())
    scenario_runs.stop()
    return path


def test_a_seeded_run_from_a_reset_replays_the_same_prices(market, scenario):
    first = run_once(seed=5, ticker_seed=100)
    again = run_once(seed=5, ticker_seed=900)  # the ticker's own randomness does not count
    other = run_once(seed=6, ticker_seed=100)

    assert again == first
    assert other != first
    assert len({tuple(p.values()) for p in first}) == 7  # it moved


# Runs: one at a time, refusals, the audit -------------------------------------------------


def test_only_one_run_is_running_or_paused(scenario):
    scenario_runs.start(name="test-run")
    with pytest.raises(ScenarioRefused, match="is already running: stop it before"):
        scenario_runs.start(name="test-run")

    scenario_runs.pause()
    with pytest.raises(ScenarioRefused, match="is already paused"):
        scenario_runs.start(name="test-run")


def test_the_table_allows_one_live_run(scenario):
    fields = {"scenario": scenario, "seed": 1, "start_day": 1, "start_tick": 0}
    ScenarioRun.objects.create(status="running", **fields)
    ScenarioRun.objects.create(status="stopped", **fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        ScenarioRun.objects.create(status="paused", **fields)


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (scenario_runs.pause, "There is no running scenario to pause."),
        (scenario_runs.resume, "There is no paused scenario to resume."),
        (scenario_runs.stop, "No scenario is running or paused."),
    ],
)
def test_an_action_with_nothing_to_act_on_says_so(db, action, message):
    with pytest.raises(ScenarioRefused, match=message):
        action()


def test_an_unknown_scenario_is_named_with_the_known_ones(scenario):
    with pytest.raises(ScenarioRefused, match="no scenario named “nope” \\(scenarios: test-run\\)"):
        scenario_runs.start(name="nope")


def test_a_script_naming_a_symbol_no_longer_listed_cannot_start(scenario):
    Price.objects.filter(symbol="AAPL").delete()
    with pytest.raises(scenario_runs.BadScenario, match="the symbol “AAPL” is not in the market"):
        scenario_runs.start(name="test-run")


def test_every_action_is_audited_with_its_actor(market, scenario):
    teacher = InstructorFactory()

    scenario_runs.start(name="test-run", seed=3, by=teacher)
    scenario_runs.pause(by=teacher)
    scenario_runs.resume(by=teacher)
    scenario_runs.stop(by=teacher)
    scenario_runs.reset_market(scenario=scenario, by=teacher)

    rows = list(AuditEntry.objects.order_by("id").values_list("actor", "action", "detail"))
    assert rows == [
        (teacher.pk, "scenario_start", "test-run (seed 3) from trading day 1"),
        (teacher.pk, "scenario_pause", "test-run on its day 0"),
        (teacher.pk, "scenario_resume", "test-run on its day 0"),
        (teacher.pk, "scenario_stop", "test-run on its day 0"),
        (teacher.pk, "market_reset", "to the start of test-run: 4 symbols at their listing prices"),
    ]


# Reset ------------------------------------------------------------------------------------


def test_reset_puts_the_market_back_at_its_listing_and_leaves_money_alone(market, student):
    HoldingFactory(user=student, stock=market["AAPL"], quantity=10, average_price=Decimal("250"))
    money = list(Balance.objects.values_list("user", "amount"))
    holdings = list(Holding.objects.values_list("user", "stock", "quantity", "average_price"))
    tick(3, dt=0.5, model=scenarios.DEFAULT_MODEL, seed=1)
    Price.objects.filter(symbol="AAPL").update(
        price=Decimal("10.00"), previous_close=Decimal("11.00")
    )
    MarketState.objects.filter(id=1).update(regime="turbulent", market_log_level=0.3)
    history = PriceHistory.objects.count()

    result = scenario_runs.reset_market()

    assert result.reset == ["AAPL", "MSFT", "TSIM", "XOM"] and result.kept == []
    aapl = Price.objects.get(symbol="AAPL")
    assert (aapl.price, aapl.previous_close) == (Decimal("262.50"), Decimal("262.50"))
    assert aapl.log_price == pytest.approx(math.log(262.50))
    assert PriceHistory.objects.count() == history + 4
    s = state()
    assert (s.regime, s.market_log_level, s.day_elapsed) == ("calm", 0.0, 1.0)
    assert list(Balance.objects.values_list("user", "amount")) == money
    assert (
        list(Holding.objects.values_list("user", "stock", "quantity", "average_price")) == holdings
    )
    assert advance_market(dt=0.5).new_day  # the next tick opens a new day


def test_reset_keeps_symbols_outside_the_sample_market(market):
    from tests.factories import PriceFactory

    PriceFactory(symbol="ZZZ", sector="Technology", price=Decimal("12.34"))

    result = scenario_runs.reset_market()

    assert result.kept == ["ZZZ"]
    assert Price.objects.get(symbol="ZZZ").price == Decimal("12.34")


def test_reset_is_refused_while_a_scenario_runs(scenario):
    scenario_runs.start(name="test-run")
    with pytest.raises(ScenarioRefused, match="stop it before resetting the market"):
        scenario_runs.reset_market()


# Upload -----------------------------------------------------------------------------------


def test_an_upload_is_checked_against_the_market_stored_and_audited(market):
    teacher = InstructorFactory()

    scenario = scenario_runs.upload(source=SOURCE.encode(), by=teacher)

    assert (scenario.name, scenario.days, scenario.seed, scenario.builtin) == (
        "test-run",
        3,
        11,
        False,
    )
    assert scenario.uploaded_by == teacher and scenario.source == SOURCE
    assert AuditEntry.objects.get().action == "scenario_upload"


def test_a_bad_upload_lists_its_errors_and_saves_nothing(market):
    teacher = InstructorFactory()
    with pytest.raises(scenario_runs.BadScenario) as caught:
        scenario_runs.upload(source=SOURCE.replace("Energy", "Financials"), by=teacher)

    assert caught.value.errors[0].startswith("day 1: the sector “Financials” is not in the market")
    assert not Scenario.objects.exists() and not AuditEntry.objects.exists()


def test_an_upload_may_not_take_a_shipped_or_someone_elses_name(market):
    scenarios.sync_builtin()
    shipped = SOURCE.replace('name = "test-run"', 'name = "crash-1987"')
    with pytest.raises(ScenarioRefused, match="belongs to a shipped scenario"):
        scenario_runs.upload(source=shipped, by=InstructorFactory())

    scenario_runs.upload(source=SOURCE, by=InstructorFactory(username="first"))
    with pytest.raises(ScenarioRefused, match="was uploaded by first"):
        scenario_runs.upload(source=SOURCE, by=InstructorFactory())


def test_the_uploader_may_replace_their_own_unless_it_runs(market):
    teacher = InstructorFactory()
    scenario_runs.upload(source=SOURCE, by=teacher)

    scenario_runs.upload(source=SOURCE.replace("days = 3", "days = 4"), by=teacher)
    assert Scenario.objects.get().days == 4

    scenario_runs.start(name="test-run")
    with pytest.raises(ScenarioRefused, match="stop it before replacing it"):
        scenario_runs.upload(source=SOURCE, by=teacher)


def test_the_shipped_files_load_once_and_update_when_changed(db):
    assert scenarios.sync_builtin() == len(scenarios.builtin_files())
    assert scenarios.sync_builtin() == 0
    Scenario.objects.filter(name="crash-1987").update(source="old")
    assert scenarios.sync_builtin() == 1
    assert Scenario.objects.filter(builtin=True).count() == len(scenarios.builtin_files())


def test_the_script_holds_the_regime_against_the_engines_own_switching(flat, scenario):
    """Spells of a day on average: unheld, the regime would switch within days."""
    switching = MarketModel(
        drift=0.0,
        calm_volatility=0.01,
        turbulent_volatility=0.02,
        calm_days=1.0,
        turbulent_days=1.0,
        market_jumps=NO_JUMPS,
        stock_jumps=NO_JUMPS,
    )
    scenario_runs.start(name="test-run")

    regimes = []
    for _ in range(4):  # days one and two: turbulent
        advance_market(dt=0.5, model=switching)
        regimes.append(state().regime)
    assert regimes == ["turbulent"] * 4


def test_the_summary_line_says_when_the_script_turns_the_market_stormy(flat, scenario):
    scenario_runs.start(name="test-run")

    assert "market turned stormy" in advance_market(dt=0.5, model=FLAT).summary()
    assert "market turned stormy" not in advance_market(dt=0.5, model=FLAT).summary()


def test_reset_divides_a_listing_price_by_the_splits_the_stock_has_had(market):
    """AAPL split 2-for-1 then 3-for-2: its holders own 3× the shares, so it restarts at a
    third of its listing price, and their value is the listing's."""
    from django.utils import timezone

    from prices.models import Split

    for numerator, denominator, day in [(2, 1, 3), (3, 2, 6)]:
        Split.objects.create(
            stock_id="AAPL",
            numerator=numerator,
            denominator=denominator,
            announced_day=day - 1,
            effective_day=day,
            applied_at=timezone.now(),
        )
    # A split announced and not yet applied changes nothing.
    Split.objects.create(
        stock_id="MSFT", numerator=2, denominator=1, announced_day=1, effective_day=9
    )

    scenario_runs.reset_market()

    assert Price.objects.get(symbol="AAPL").price == Decimal("87.50")  # 262.50 ÷ 3
    assert Price.objects.get(symbol="MSFT").price == market["MSFT"].price
