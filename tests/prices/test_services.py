import logging
import math
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from prices import services
from prices.market_data import MARKET
from prices.models import (
    MarketEvent,
    MarketParameters,
    MarketState,
    Price,
    PriceHistory,
    TradingSession,
)
from prices.services import (
    EmptyMarket,
    InvalidMarketInput,
    UnknownSymbols,
    advance_market,
    load_market,
    schedule_event,
    set_halted,
    update_market_parameters,
    update_symbol,
)
from prices.simulation import DIFFUSION_ONLY, ONE_MINUTE
from tests.factories import InstructorFactory
from tests.prices import hooks
from tests.prices.conftest import make_symbols
from tradesim.models import AuditEntry

pytestmark = pytest.mark.django_db


def prices() -> dict[str, Decimal]:
    return dict(Price.objects.values_list("symbol", "price"))


def state() -> MarketState:
    # get_or_create: a transactional test elsewhere may have flushed the migration's row.
    return MarketState.objects.get_or_create(id=1)[0]


# The tick ---------------------------------------------------------------------------------


def test_a_tick_moves_every_symbol_and_writes_one_history_row_each(market):
    before = prices()
    now = timezone.now()

    result = advance_market(seed=1, now=now)

    after = prices()
    assert set(after) == set(before)
    assert all(after[s] != before[s] for s in before)  # four symbols, none rounds to no move
    assert sorted(PriceHistory.objects.values_list("stock_id", "price")) == sorted(after.items())
    assert set(Price.objects.values_list("timestamp", flat=True)) == {now}
    assert result.symbols == 4
    assert result.advancers + result.decliners + result.unchanged == 4
    assert result.ticks == 1


def test_the_tick_advances_the_market_clock(market):
    now = timezone.now()
    advance_market(seed=1, now=now - timedelta(seconds=5))
    result = advance_market(seed=2, now=now)

    current = state()
    assert current.ticks == 2 == result.ticks
    assert current.last_tick_at == now
    assert current.day_elapsed == pytest.approx(2 * ONE_MINUTE)
    assert result.clock == "09:32"
    assert result.trading_day == 1
    assert "Tick 2 (day 1, 09:32)" in result.summary()
    assert "TSIM" in result.summary()


def test_engine_state_stays_unrounded_while_prices_are_cents(market):
    advance_market(seed=3)

    for price, log_price in Price.objects.values_list("price", "log_price"):
        assert price == price.quantize(Decimal("0.01"))
        assert abs(math.exp(log_price) - float(price)) <= 0.005 + 1e-9
        assert math.exp(log_price) != float(price)  # the state is not the rounded price


def test_halted_symbols_do_not_move_but_get_a_flat_history_point(market):
    Price.objects.filter(symbol="AAPL").update(halted=True)
    aapl = Price.objects.get(symbol="AAPL")

    result = advance_market(seed=1)

    after = Price.objects.get(symbol="AAPL")
    assert (after.price, after.log_price, after.timestamp) == (
        aapl.price,
        aapl.log_price,
        aapl.timestamp,
    )
    assert list(PriceHistory.objects.filter(stock_id="AAPL").values_list("price", flat=True)) == [
        aapl.price
    ]
    assert result.halted == 1
    assert Price.objects.get(symbol="MSFT").price != Decimal("498.00")


def test_the_same_seed_reproduces_the_tick(market):
    start = list(Price.objects.values_list("symbol", "price", "log_price"))
    advance_market(seed=77)
    first = prices()

    for symbol, price, log_price in start:
        Price.objects.filter(symbol=symbol).update(price=price, log_price=log_price)
    advance_market(seed=77)
    again = prices()
    for symbol, price, log_price in start:
        Price.objects.filter(symbol=symbol).update(price=price, log_price=log_price)
    advance_market(seed=78)

    assert again == first
    assert prices() != first


def test_previous_close_is_the_price_at_the_end_of_the_last_trading_day(market):
    half_day = 0.5
    advance_market(seed=1, dt=half_day)
    end_of_day = advance_market(seed=2, dt=half_day)
    closes = prices()

    # The day is complete but not rolled yet: change is still the whole day's change.
    assert end_of_day.clock == "close"
    assert dict(Price.objects.values_list("symbol", "previous_close")) != closes

    next_day = advance_market(seed=3, dt=half_day)

    assert next_day.new_day
    assert next_day.trading_day == 2
    assert dict(Price.objects.values_list("symbol", "previous_close")) == closes
    assert state().trading_day == 1
    assert state().day_elapsed == pytest.approx(0.5)


def test_the_tick_that_begins_a_day_marks_when_it_began(market):
    monday = timezone.now() - timedelta(days=1)
    began = state().day_started_at
    advance_market(seed=1, dt=0.5, now=monday)
    advance_market(seed=2, dt=0.5, now=monday + timedelta(hours=1))  # the day is complete
    assert state().day_started_at == began

    advance_market(seed=3, dt=0.5, now=monday + timedelta(hours=2))

    assert state().day_started_at == monday + timedelta(hours=2)


def test_390_one_minute_ticks_make_a_trading_day(market):
    for i in range(390):
        result = advance_market(seed=i)
    assert result.clock == "close"
    assert not result.new_day

    assert advance_market(seed=1000).new_day


def test_only_the_named_symbols_move_and_names_are_case_insensitive(market):
    before = prices()

    result = advance_market(seed=1, symbols=["aapl", " msft "])

    after = prices()
    assert result.symbols == 2
    assert after["AAPL"] != before["AAPL"] and after["MSFT"] != before["MSFT"]
    assert after["XOM"] == before["XOM"] and after["TSIM"] == before["TSIM"]
    assert set(PriceHistory.objects.values_list("stock_id", flat=True)) == {"AAPL", "MSFT"}


def test_an_unknown_symbol_refuses_the_tick_and_changes_nothing(market):
    before = prices()

    with pytest.raises(UnknownSymbols) as caught:
        advance_market(seed=1, symbols=["AAPL", "NOPE"])

    assert caught.value.symbols == ["NOPE"]
    assert "NOPE" in caught.value.message
    assert prices() == before
    assert state().ticks == 0
    assert not PriceHistory.objects.exists()


def test_an_empty_market_cannot_tick(db):
    with pytest.raises(EmptyMarket, match="load_market"):
        advance_market()
    assert state().ticks == 0


@pytest.mark.parametrize("dt", [0, -0.1, 1.5, float("nan"), "1"])
def test_a_tick_must_stand_for_part_of_a_day(market, dt):
    with pytest.raises(InvalidMarketInput):
        advance_market(dt=dt)


def test_a_price_set_outside_the_engine_is_where_the_next_tick_starts(still):
    Price.objects.filter(symbol="AAPL").update(price=Decimal("50.00"))

    advance_market(seed=1, model=DIFFUSION_ONLY)

    assert Price.objects.get(symbol="AAPL").price == Decimal("50.00")


# Events -----------------------------------------------------------------------------------


def test_a_symbol_event_moves_its_price_once(still):
    event = MarketEvent.objects.create(stock_id="AAPL", percent=Decimal("-10.00"))
    now = timezone.now()

    result = advance_market(seed=1, now=now, model=DIFFUSION_ONLY)
    advance_market(seed=2, model=DIFFUSION_ONLY)

    assert Price.objects.get(symbol="AAPL").price == Decimal("236.25")  # 262.50 × 0.9
    assert Price.objects.get(symbol="MSFT").price == Decimal("498.00")
    event.refresh_from_db()
    assert event.applied_at == now
    assert result.events_applied == 1
    assert "1 event applied" in result.summary()


def test_a_sector_event_moves_the_sectors_trading_symbols(still):
    Price.objects.filter(symbol="MSFT").update(halted=True)
    MarketEvent.objects.create(sector="Technology", percent=Decimal("20.00"))

    advance_market(seed=1, model=DIFFUSION_ONLY)

    assert prices() == {
        "AAPL": Decimal("315.00"),
        "MSFT": Decimal("498.00"),  # halted: misses the news
        "XOM": Decimal("116.00"),
        "TSIM": Decimal("500.00"),
    }
    assert not MarketEvent.objects.filter(applied_at__isnull=True).exists()


def test_events_on_the_same_symbol_compound(still):
    MarketEvent.objects.create(stock_id="XOM", percent=Decimal("10.00"))
    MarketEvent.objects.create(sector="Energy", percent=Decimal("10.00"))

    advance_market(seed=1, model=DIFFUSION_ONLY)

    assert Price.objects.get(symbol="XOM").price == Decimal("140.36")  # 116 × 1.1 × 1.1


def test_a_halted_symbols_news_waits_until_it_resumes(still):
    Price.objects.filter(symbol="AAPL").update(halted=True)
    event = MarketEvent.objects.create(stock_id="AAPL", percent=Decimal("-10.00"))

    advance_market(seed=1, model=DIFFUSION_ONLY)
    event.refresh_from_db()
    assert event.applied_at is None
    assert Price.objects.get(symbol="AAPL").price == Decimal("262.50")

    set_halted(symbols=["AAPL"], halted=False)
    advance_market(seed=2, model=DIFFUSION_ONLY)

    event.refresh_from_db()
    assert event.applied_at is not None
    assert Price.objects.get(symbol="AAPL").price == Decimal("236.25")


def test_a_sector_event_waits_for_a_whole_market_tick(still):
    event = MarketEvent.objects.create(sector="Technology", percent=Decimal("5.00"))

    advance_market(seed=1, symbols=["AAPL"], model=DIFFUSION_ONLY)
    event.refresh_from_db()
    assert event.applied_at is None

    advance_market(seed=2, model=DIFFUSION_ONLY)
    event.refresh_from_db()
    assert event.applied_at is not None


# The market's parameters and its regime ----------------------------------------------------


def set_parameters(**values):
    MarketParameters.current()
    MarketParameters.objects.filter(id=1).update(**values)


QUIET = {"drift": 0.0, "market_jumps_per_year": 0.0}  # the market factor moves by σ·√dt·Z alone


def test_a_tick_moves_the_market_with_the_parameters_row(market):
    set_parameters(**QUIET, calm_volatility=0.0, turbulent_volatility=0.0)
    assert advance_market(seed=1).market_return == 0.0

    set_parameters(calm_volatility=0.2, turbulent_volatility=0.2)
    assert advance_market(seed=1).market_return != 0.0
    # A model passed in wins over the row (the tests' DIFFUSION_ONLY, say).
    set_parameters(calm_volatility=0.0, turbulent_volatility=0.0)
    assert advance_market(seed=1, model=DIFFUSION_ONLY).market_return != 0.0


def test_the_market_moves_in_its_regime_which_is_saved_with_the_clock(market):
    # A storm and nothing else, with spells ten years long: no switch in a few ticks.
    spells = {"calm_days": 2520.0, "turbulent_days": 2520.0}
    set_parameters(**QUIET, **spells, calm_volatility=0.0, turbulent_volatility=0.5)

    calm = advance_market(seed=1)
    MarketState.objects.filter(id=1).update(regime="turbulent")
    stormy = advance_market(seed=1)

    assert (calm.market_return, calm.regime) == (0.0, "calm")
    assert stormy.market_return != 0.0 and stormy.regime == "turbulent"
    assert state().regime == "turbulent"
    assert not stormy.regime_changed


def test_a_change_of_regime_is_saved_and_told_on_the_summary_line(market):
    set_parameters(calm_days=1.0, turbulent_days=1.0)  # a new mood about every other day
    results = []
    for seed in range(12):
        results.append(advance_market(seed=seed, dt=1.0))
        assert state().regime == results[-1].regime

    stormier = [r for r in results if r.regime_changed and r.regime == "turbulent"]
    calmer = [r for r in results if r.regime_changed and r.regime == "calm"]
    assert stormier and calmer
    assert "market turned stormy" in stormier[0].summary()
    assert "market calmed" in calmer[0].summary()
    quiet = [r.summary() for r in results if not r.regime_changed]
    assert quiet and not any("stormy" in line or "calmed" in line for line in quiet)


def test_the_market_parameters_change_through_the_service_and_are_audited(db):
    teacher = InstructorFactory()

    row = update_market_parameters(
        calm_volatility=0.10, turbulent_days=20.0, drift=0.07, by=teacher
    )

    assert (row.calm_volatility, row.turbulent_days) == (0.10, 20.0)
    stored = MarketParameters.objects.get()
    assert (stored.calm_volatility, stored.turbulent_days) == (0.10, 20.0)
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.action) == (teacher, AuditEntry.Action.MARKET_PARAMETERS)
    assert entry.detail == "calm_volatility 0.12→0.1, turbulent_days 15.0→20.0"  # drift kept


def test_a_change_too_long_for_one_audit_entry_takes_several(db):
    teacher = InstructorFactory()
    new = {
        "drift": 0.05,
        "calm_volatility": 0.11,
        "turbulent_volatility": 0.35,
        "calm_days": 50.5,
        "turbulent_days": 12.25,
        "market_jumps_per_year": 2.5,
        "market_jump_mean": -0.025,
        "market_jump_volatility": 0.035,
        "stock_jumps_per_year": 3.5,
        "stock_jump_volatility": 0.045,
        "split_above_price": None,
        "split_notice_days": 10,
        "news_move_percent": Decimal("10.50"),
    }

    update_market_parameters(**new, by=teacher)

    details = list(AuditEntry.objects.order_by("id").values_list("detail", flat=True))
    assert len(details) == 2 and all(len(d) <= 300 for d in details)
    changes = ", ".join(details).split(", ")
    assert [change.split(" ")[0] for change in changes] == list(new)
    assert "split_above_price 1500.00→blank" in changes


def test_nothing_changed_is_not_audited(db):
    update_market_parameters(calm_volatility=0.12, by=InstructorFactory())
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"turbulent_volatility": 0.10}, "Stormy weeks must be at least as volatile as calm ones"),
        ({"calm_volatility": 2.0}, "Calm volatility: Ensure this value is less than or equal"),
        ({"calm_days": 0.5}, "Calm days: Ensure this value is greater than or equal to 1.0"),
        ({"calm_volatility": float("nan")}, "Calm volatility must be a number"),
        ({"calm_volatility": "lots"}, "Calm volatility: “lots” value must be a float"),
        ({"volatility": 0.2}, "No such market parameter: volatility"),
    ],
)
def test_bad_market_parameters_are_refused_and_change_nothing(db, values, message):
    with pytest.raises(InvalidMarketInput, match=message):
        update_market_parameters(**values, by=InstructorFactory())

    row = MarketParameters.objects.get()
    assert (row.calm_volatility, row.turbulent_volatility, row.calm_days) == (0.12, 0.30, 60.0)
    assert not AuditEntry.objects.exists()


def test_stormy_below_calm_is_refused_by_the_database_too(db):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        set_parameters(turbulent_volatility=0.05)


# A fixed number of queries ----------------------------------------------------------------


@pytest.mark.parametrize("size", [10, 500])
def test_a_tick_runs_the_same_queries_at_any_size(db, size, django_assert_num_queries):
    make_symbols(size)
    advance_market(seed=1)  # not a first tick of anything

    # SAVEPOINT, lock, market parameters, prices, events, the running scenario, UPDATE
    # prices, INSERT history, UPDATE state, RELEASE.
    with django_assert_num_queries(10):
        advance_market(seed=2)

    assert PriceHistory.objects.count() == 2 * size


@pytest.mark.parametrize("size", [10, 500])
def test_a_new_day_and_events_add_fixed_queries_at_any_size(db, size, django_assert_num_queries):
    make_symbols(size)
    advance_market(seed=1, dt=1.0)  # closes day one
    MarketEvent.objects.create(stock_id="S00003", percent=Decimal("5.00"))
    MarketEvent.objects.create(sector="Technology", percent=Decimal("-2.00"))

    # A new day: the previous closes, the day's row in trading_sessions, the splits (those
    # due, the stocks above the split price) and the day's corporate actions
    # (prices.actions; none here); events: one, and their headlines' INSERT; the running
    # scenario (none).
    with django_assert_num_queries(17):
        result = advance_market(seed=2)

    assert result.new_day and result.events_applied == 2


# After commit: the quote cache and the tick hooks -----------------------------------------


def test_hooks_run_after_commit_with_the_tick_count_and_time(
    market, settings, django_capture_on_commit_callbacks
):
    settings.TICK_HOOKS = ["tests.prices.hooks.record"]
    hooks.calls.clear()
    now = timezone.now()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        advance_market(seed=1, now=now)
    assert hooks.calls == []  # not before the commit

    for callback in callbacks:
        callback()
    assert hooks.calls == [(1, now)]


def test_a_failing_hook_is_logged_and_the_next_one_still_runs(
    market, settings, django_capture_on_commit_callbacks, caplog
):
    settings.TICK_HOOKS = ["tests.prices.hooks.explode", "tests.prices.hooks.record"]
    hooks.calls.clear()

    with (
        caplog.at_level(logging.ERROR, logger="tradesim.prices"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        advance_market(seed=1)

    assert len(hooks.calls) == 1
    assert state().ticks == 1
    failures = [r for r in caplog.records if r.name == "tradesim.prices"]
    assert len(failures) == 1
    assert "tests.prices.hooks.explode" in failures[0].getMessage()


def test_a_refused_tick_calls_no_hook(market, settings, django_capture_on_commit_callbacks):
    settings.TICK_HOOKS = ["tests.prices.hooks.record"]
    hooks.calls.clear()

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(UnknownSymbols):
        advance_market(symbols=["NOPE"])

    assert hooks.calls == []


# Halts ------------------------------------------------------------------------------------


def test_set_halted_changes_only_what_differs_and_audits_each(market):
    teacher = InstructorFactory()
    Price.objects.filter(symbol="MSFT").update(halted=True)

    changed = set_halted(symbols=["aapl", "MSFT"], halted=True, by=teacher)

    assert changed == ["AAPL"]
    assert set(Price.objects.filter(halted=True).values_list("symbol", flat=True)) == {
        "AAPL",
        "MSFT",
    }
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.action, entry.symbol) == (teacher, "halt", "AAPL")

    assert set_halted(symbols=["AAPL", "MSFT"], halted=False, by=teacher) == ["AAPL", "MSFT"]
    assert not Price.objects.filter(halted=True).exists()
    assert AuditEntry.objects.filter(action="resume").count() == 2


def test_set_halted_with_an_unknown_symbol_changes_nothing(market):
    with pytest.raises(UnknownSymbols):
        set_halted(symbols=["AAPL", "NOPE"], halted=True)
    assert not Price.objects.filter(halted=True).exists()


# Parameters -------------------------------------------------------------------------------


def test_update_symbol_changes_parameters_and_audits_old_and_new(market):
    teacher = InstructorFactory()

    update_symbol(symbol="aapl", drift=0.12, volatility=0.30, beta=1.3, by=teacher)

    aapl = Price.objects.get(symbol="AAPL")
    assert (aapl.drift, aapl.volatility, aapl.beta) == (0.12, 0.30, 1.3)
    entry = AuditEntry.objects.get()
    assert entry.action == "parameters"
    assert "drift 0.08→0.12" in entry.detail and "beta 1.0→1.3" in entry.detail


@pytest.mark.parametrize(
    "changes",
    [
        {"volatility": -0.1},
        {"volatility": 2.5},
        {"beta": 4.0},
        {"drift": 1.5},
        {"drift": float("nan")},
        {"beta": None},
    ],
)
def test_update_symbol_refuses_parameters_out_of_range(market, changes):
    params = {"drift": 0.08, "volatility": 0.25, "beta": 1.0, **changes}

    with pytest.raises(InvalidMarketInput):
        update_symbol(symbol="AAPL", **params)

    aapl = Price.objects.get(symbol="AAPL")
    assert (aapl.drift, aapl.volatility, aapl.beta) == (0.08, 0.25, 1.0)


def test_update_symbol_without_changes_writes_no_audit(market):
    update_symbol(symbol="AAPL", drift=0.08, volatility=0.25, beta=1.0, by=InstructorFactory())
    assert not AuditEntry.objects.exists()


# Scheduling events ------------------------------------------------------------------------


def test_schedule_event_for_a_symbol_or_a_sector_is_audited(market):
    teacher = InstructorFactory()

    event = schedule_event(symbol="xom", percent=Decimal("-12.5"), reason="Spill", by=teacher)
    sector_event = schedule_event(sector="Technology", percent=Decimal("3"), by=teacher)

    assert (event.stock_id, event.sector, event.percent, event.created_by) == (
        "XOM",
        "",
        Decimal("-12.50"),
        teacher,
    )
    assert (sector_event.stock_id, sector_event.sector) == (None, "Technology")
    details = sorted(AuditEntry.objects.values_list("action", "symbol", "sector", "detail"))
    assert details == [
        ("market_event", "", "Technology", "+3.00%"),
        ("market_event", "XOM", "", "-12.50%: Spill"),
    ]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"percent": Decimal("5")},
        {"percent": Decimal("5"), "symbol": "AAPL", "sector": "Energy"},
        {"percent": Decimal("0"), "symbol": "AAPL"},
        {"percent": Decimal("-100"), "symbol": "AAPL"},
        {"percent": Decimal("1000.01"), "symbol": "AAPL"},
        {"percent": "lots", "symbol": "AAPL"},
        {"percent": Decimal("5"), "symbol": "NOPE"},
        {"percent": Decimal("5"), "sector": "Shipping"},
    ],
)
def test_schedule_event_refuses_bad_input_and_changes_nothing(market, kwargs):
    with pytest.raises(services.MarketError):
        schedule_event(**kwargs)
    assert not MarketEvent.objects.exists()


# Loading the sample market ----------------------------------------------------------------


def test_load_market_lists_the_sample_market_with_a_first_history_point(db):
    result = load_market()

    assert len(result.created) == len(MARKET) and result.existing == []
    assert Price.objects.count() == len(MARKET)
    aapl = Price.objects.get(symbol="AAPL")
    assert aapl.previous_close == aapl.price
    assert math.exp(aapl.log_price) == pytest.approx(float(aapl.price))
    assert PriceHistory.objects.count() == len(MARKET)
    assert Price.objects.filter(is_index=True).count() == 1


def test_load_market_is_idempotent_and_keeps_a_moved_market(db):
    load_market()
    advance_market(seed=1)
    Price.objects.filter(symbol="AAPL").update(drift=0.2, halted=True)
    moved = prices()

    result = load_market()

    assert result.created == []
    assert len(result.existing) == len(MARKET)
    assert prices() == moved
    assert Price.objects.get(symbol="AAPL").drift == 0.2
    assert Price.objects.get(symbol="AAPL").halted


# Trading sessions -------------------------------------------------------------------------


def test_each_trading_day_records_when_its_first_tick_came(db):
    make_symbols(3)
    start = timezone.now()
    moments = [start + timedelta(minutes=i) for i in range(5)]
    advance_market(seed=1, dt=0.5, now=moments[0])  # opens day 1
    advance_market(seed=2, dt=0.5, now=moments[1])  # closes day 1
    advance_market(seed=3, dt=0.5, now=moments[2])  # opens day 2
    advance_market(seed=4, dt=0.5, now=moments[3])
    advance_market(seed=5, dt=1.0, now=moments[4])  # day 3, a whole day in one tick

    assert list(TradingSession.objects.order_by("number").values_list("number", "opened_at")) == [
        (1, moments[0]),
        (2, moments[2]),
        (3, moments[4]),
    ]


# Cancelling events ------------------------------------------------------------------------


def test_a_cancelled_event_is_audited_and_never_applied(still):
    teacher = InstructorFactory()
    event = schedule_event(symbol="AAPL", percent=Decimal("-40"), reason="Fake news", by=teacher)

    services.cancel_event(event_id=event.pk, by=teacher)
    result = advance_market(seed=1, model=DIFFUSION_ONLY)

    event.refresh_from_db()
    assert event.cancelled_at is not None and event.cancelled_by == teacher
    assert event.applied_at is None and result.events_applied == 0
    assert Price.objects.get(symbol="AAPL").price == Decimal("262.50")
    entry = AuditEntry.objects.get(action="cancel_event")
    assert (entry.actor, entry.symbol, entry.detail) == (teacher, "AAPL", "-40.00%: Fake news")


def test_an_applied_event_cannot_be_cancelled(still):
    event = schedule_event(symbol="AAPL", percent=Decimal("-10"))
    advance_market(seed=1, model=DIFFUSION_ONLY)

    with pytest.raises(services.MarketError, match="cannot be cancelled"):
        services.cancel_event(event_id=event.pk, by=InstructorFactory())

    event.refresh_from_db()
    assert event.applied_at is not None and event.cancelled_at is None
    assert not AuditEntry.objects.filter(action="cancel_event").exists()


def test_an_event_is_cancelled_once(market):
    event = schedule_event(symbol="AAPL", percent=Decimal("-10"))
    services.cancel_event(event_id=event.pk)

    with pytest.raises(services.MarketError, match="already cancelled"):
        services.cancel_event(event_id=event.pk)
    with pytest.raises(services.MarketError, match="no such market event"):
        services.cancel_event(event_id=event.pk + 1000)


def test_the_table_refuses_an_event_both_applied_and_cancelled(market):
    from django.db import IntegrityError, transaction

    event = schedule_event(symbol="AAPL", percent=Decimal("-10"))
    with pytest.raises(IntegrityError), transaction.atomic():
        MarketEvent.objects.filter(pk=event.pk).update(
            applied_at=timezone.now(), cancelled_at=timezone.now()
        )


def test_an_applied_event_records_its_trading_day(still):
    MarketState.objects.update_or_create(id=1, defaults={"trading_day": 4})
    event = schedule_event(symbol="AAPL", percent=Decimal("5"))

    result = advance_market(seed=1, model=DIFFUSION_ONLY)

    event.refresh_from_db()
    assert event.applied_day == result.trading_day == 5
