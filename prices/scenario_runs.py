"""Every write about scenarios: uploading one, starting, pausing, resuming and stopping a
run, and resetting the market to a scenario's start. Each run action takes the market lock
first (as prices.services.cancel_event does), so it lands between two ticks, and is
audited when `by` (the instructor) is given, in the same transaction."""

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from prices import bulk, quote_cache, scenarios
from prices.market_data import MARKET
from prices.models import MarketState, Price, PriceHistory, Scenario, ScenarioRun, Split
from prices.services import _DAY_EPSILON, MarketError, _lock_market
from prices.simulation import log_of
from tradesim import audit
from tradesim.models import AuditEntry
from tradesim.money import CENT

logger = logging.getLogger("tradesim.prices")
Status = ScenarioRun.Status


class ScenarioRefused(MarketError):
    pass


class BadScenario(ScenarioRefused):
    """A scenario file with errors: `errors` names each one."""

    def __init__(self, errors: list[str]):
        super().__init__(" ".join(errors))
        self.errors = errors


def upload(*, source: bytes | str, by, now: datetime | None = None) -> Scenario:
    """Store an instructor's scenario file, checked against the listed market. A name
    already shipped, or uploaded by someone else, is refused; the uploader may replace
    their own upload while it is not running or paused. Audited (UPLOAD_SCENARIO)."""
    try:
        script = scenarios.parse(source, market=scenarios.current_market())
    except scenarios.ScenarioError as exc:
        raise BadScenario(exc.errors) from None
    text = source.decode("utf-8-sig") if isinstance(source, bytes) else source
    now = now or timezone.now()
    fields = {
        "title": script.title,
        "description": script.description,
        "source": text,
        "seed": script.seed,
        "days": script.days,
        "uploaded_by": by,
        "uploaded_at": now,
    }
    with transaction.atomic():
        existing = Scenario.objects.select_for_update().filter(name=script.name).first()
        if existing is None:
            scenario = Scenario.objects.create(name=script.name, builtin=False, **fields)
            detail = f"{script.name}: {script.title}"
        else:
            if existing.builtin:
                raise ScenarioRefused(
                    f"The name “{script.name}” belongs to a shipped scenario: give your file "
                    'another name (name = "…").'
                )
            if existing.uploaded_by_id != getattr(by, "pk", None):
                raise ScenarioRefused(
                    f"“{script.name}” was uploaded by {existing.uploaded_by or 'someone else'}: "
                    'give your file another name (name = "…").'
                )
            if existing.runs.filter(status__in=[Status.RUNNING, Status.PAUSED]).exists():
                raise ScenarioRefused(
                    f"“{script.name}” is running or paused: stop it before replacing it."
                )
            for field, value in fields.items():
                setattr(existing, field, value)
            existing.save(update_fields=list(fields))
            scenario = existing
            detail = f"{script.name} (replaced): {script.title}"
        audit.record(actor=by, action=AuditEntry.Action.UPLOAD_SCENARIO, detail=detail)
    return scenario


def live_run() -> ScenarioRun | None:
    """The running or paused run, if any."""
    return (
        ScenarioRun.objects.filter(status__in=[Status.RUNNING, Status.PAUSED])
        .select_related("scenario")
        .first()
    )


def _current_day(state: MarketState) -> int:
    """The market's trading day now: the day under way, or the one just closed."""
    return state.trading_day + 1


def _next_day(state: MarketState) -> int:
    """The trading day the next tick belongs to."""
    closed = state.ticks > 0 and state.day_elapsed >= 1 - _DAY_EPSILON
    return state.trading_day + (2 if closed else 1)


def start(
    *, name: str, seed: int | None = None, by=None, now: datetime | None = None
) -> ScenarioRun:
    """Start the scenario `name` from the next tick (its day 1 is the trading day that tick
    belongs to), with `seed` or the scenario's own. The script is checked against the
    listed market first. Refused while another run is running or paused (the table's
    constraint says so too). Takes the market lock; audited (START_SCENARIO)."""
    scenario = Scenario.objects.filter(name=str(name).strip()).first()
    if scenario is None:
        raise ScenarioRefused(unknown_scenario(name))
    try:
        scenarios.parse(scenario.source, market=scenarios.current_market())
    except scenarios.ScenarioError as exc:
        raise BadScenario(exc.errors) from None
    seed = scenario.seed if seed is None else seed
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= scenarios.MAX_SEED:
        raise ScenarioRefused("The seed must be a whole number, 0 or more.")
    now = now or timezone.now()
    with transaction.atomic():
        state = _lock_market(wait=True)
        live = live_run()
        if live is not None:
            raise ScenarioRefused(_already(live))
        try:
            with transaction.atomic():
                run = ScenarioRun.objects.create(
                    scenario=scenario,
                    seed=seed,
                    status=Status.RUNNING,
                    start_day=_next_day(state),
                    start_tick=state.ticks,
                    started_at=now,
                    started_by=by,
                )
        except IntegrityError:
            raise ScenarioRefused(
                "A scenario is already running or paused: stop it first."
            ) from None
        if by is not None:
            audit.record(
                actor=by,
                action=AuditEntry.Action.START_SCENARIO,
                detail=f"{scenario.name} (seed {seed}) from trading day {run.start_day}",
            )
    logger.info("Started scenario %s seed=%s", scenario.name, seed)
    return run


def pause(*, by=None, now: datetime | None = None) -> ScenarioRun:
    """Pause the running scenario: its clock stops (the market goes on as usual) until
    resume. Takes the market lock; audited (PAUSE_SCENARIO)."""
    now = now or timezone.now()
    with transaction.atomic():
        state = _lock_market(wait=True)
        run = _live(Status.RUNNING, "There is no running scenario to pause.")
        run.status = Status.PAUSED
        run.pause_day = _next_day(state)
        run.pause_tick = state.ticks
        run.day_reached = _reached(run, state)
        run.paused_at, run.paused_by = now, by
        run.save(
            update_fields=[
                "status",
                "pause_day",
                "pause_tick",
                "day_reached",
                "paused_at",
                "paused_by",
            ]
        )
        if by is not None:
            audit.record(
                actor=by,
                action=AuditEntry.Action.PAUSE_SCENARIO,
                detail=f"{run.scenario.name} on its day {run.day_reached}",
            )
    return run


def resume(*, by=None) -> ScenarioRun:
    """Resume the paused scenario where it stopped: the days and ticks it spent paused are
    not counted. Takes the market lock; audited (RESUME_SCENARIO)."""
    with transaction.atomic():
        state = _lock_market(wait=True)
        run = _live(Status.PAUSED, "There is no paused scenario to resume.")
        run.paused_days += _next_day(state) - run.pause_day
        run.paused_ticks += state.ticks - run.pause_tick
        run.status = Status.RUNNING
        run.pause_day = run.pause_tick = None
        run.save(update_fields=["status", "paused_days", "paused_ticks", "pause_day", "pause_tick"])
        if by is not None:
            audit.record(
                actor=by,
                action=AuditEntry.Action.RESUME_SCENARIO,
                detail=f"{run.scenario.name} on its day {run.day_reached}",
            )
    return run


def stop(*, by=None, now: datetime | None = None) -> ScenarioRun:
    """Stop the running or paused scenario for good: the market goes back to its own
    course from the next tick. Takes the market lock; audited (STOP_SCENARIO)."""
    now = now or timezone.now()
    with transaction.atomic():
        state = _lock_market(wait=True)
        run = _live(None, "No scenario is running or paused.")
        if run.status == Status.RUNNING:
            run.day_reached = _reached(run, state)
        run.status = Status.STOPPED
        run.stopped_at, run.stopped_by = now, by
        run.pause_day = run.pause_tick = None
        run.save(
            update_fields=[
                "status",
                "day_reached",
                "stopped_at",
                "stopped_by",
                "pause_day",
                "pause_tick",
            ]
        )
        if by is not None:
            audit.record(
                actor=by,
                action=AuditEntry.Action.STOP_SCENARIO,
                detail=f"{run.scenario.name} on its day {run.day_reached}",
            )
    return run


def day_now(run: ScenarioRun, state: MarketState) -> int:
    """The scenario day a live run is on (0 before its first tick)."""
    if run.status != Status.RUNNING:
        return run.day_reached
    return _reached(run, state)


def _reached(run: ScenarioRun, state: MarketState) -> int:
    if state.ticks <= run.start_tick + run.paused_ticks:
        return 0  # not ticked yet
    return max(0, min(run.day_at(_current_day(state)), run.scenario.days))


def _live(status, missing: str) -> ScenarioRun:
    wanted = [status] if status else [Status.RUNNING, Status.PAUSED]
    run = (
        ScenarioRun.objects.select_for_update()
        .filter(status__in=wanted)
        .select_related("scenario")
        .first()
    )
    if run is None:
        other = live_run()
        if other is not None:
            raise ScenarioRefused(f"{missing} “{other.scenario.title}” is {other.status}.")
        raise ScenarioRefused(missing)
    return run


def unknown_scenario(name) -> str:
    names = list(Scenario.objects.order_by("name").values_list("name", flat=True))
    listed = ", ".join(names) if names else "none yet"
    return f"There is no scenario named “{str(name)[:60]}” (scenarios: {listed})."


def _already(run: ScenarioRun) -> str:
    return (
        f"The scenario “{run.scenario.title}” is already {run.status}: stop it before "
        "starting another."
    )


@dataclass(frozen=True)
class ResetResult:
    reset: list[str]  # symbols back at their sample-market listing price
    kept: list[str]  # listed symbols that are not in the sample market: left as they were


def reset_market(*, scenario: Scenario | None = None, by=None, now: datetime | None = None):
    """Put the market back at the start of a scenario: every listed symbol of the sample
    market at its listing price — divided by the splits it has had, since the students'
    shares were multiplied by them (a stock that split 2-for-1 restarts at half its
    listing price) — (previous close and the engine's state too), one
    price_history point for each at `now`, the market's regime calm and its factor level
    at the start; the current trading day ends, so the next tick opens a new one (a run
    started now then begins on a fresh day, as its replay will). Students' cash and
    holdings are untouched. Refused while a scenario is running or paused.
    Takes the market lock; audited (RESET_MARKET)."""
    now = now or timezone.now()
    listings = {listing.symbol: listing for listing in MARKET}
    with transaction.atomic():
        state = _lock_market(wait=True)
        live = live_run()
        if live is not None:
            raise ScenarioRefused(
                f"The scenario “{live.scenario.title}” is {live.status}: stop it before "
                "resetting the market."
            )
        rows = list(Price.objects.order_by("symbol").values_list("id", "symbol"))
        if not rows:
            raise ScenarioRefused(
                "The market has no symbols yet: run `manage.py load_market` first."
            )
        targets = [(pk, symbol) for pk, symbol in rows if symbol in listings]
        start = _start_prices({s: listings[s].price for _, s in targets})
        updates = [(pk, start[s], log_of(start[s])) for pk, s in targets]
        bulk.update_prices(updates, timestamp=now)
        Price.objects.filter(symbol__in=[s for _, s in targets]).update(previous_close=F("price"))
        PriceHistory.objects.bulk_create(
            PriceHistory(stock_id=s, price=start[s], timestamp=now) for _, s in targets
        )
        state.regime = "calm"
        state.market_log_level = 0.0
        fields = ["regime", "market_log_level"]
        if state.ticks > 0 and state.day_elapsed < 1 - _DAY_EPSILON:
            state.day_elapsed = 1.0
            fields.append("day_elapsed")
        state.save(update_fields=fields)
        result = ResetResult(
            reset=[s for _, s in targets],
            kept=[s for _, s in rows if s not in listings],
        )
        if by is not None:
            audit.record(
                actor=by,
                action=AuditEntry.Action.RESET_MARKET,
                detail=(f"to the start of {scenario.name}: " if scenario is not None else "")
                + f"{len(result.reset)} symbols at their listing prices",
            )
    transaction.on_commit(quote_cache.invalidate)
    logger.info("Reset the market: %s symbols", len(result.reset))
    return result


def _start_prices(listed: dict[str, Decimal]) -> dict[str, Decimal]:
    """The listing prices, each divided by the ratios of the splits its stock has had (one
    query), to the cent, half up, a cent at least."""
    factor = dict.fromkeys(listed, Decimal(1))
    applied = Split.objects.filter(applied_at__isnull=False, stock_id__in=list(listed))
    for symbol, numerator, denominator in applied.values_list(
        "stock_id", "numerator", "denominator"
    ):
        factor[symbol] = factor[symbol] * denominator / numerator
    return {
        symbol: max((price * factor[symbol]).quantize(CENT, rounding=ROUND_HALF_UP), CENT)
        for symbol, price in listed.items()
    }
