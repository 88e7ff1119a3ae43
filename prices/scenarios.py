"""Market scenarios: a TOML file that scripts the market day by day (its regime, bursts of
volatility, the market's move, sector and symbol shocks, headlines), the checks that turn
a teacher's file into a Script or into clear messages naming the place, the preview of a
script's index path, and what a running scenario does to one tick.

The format (docs in the README; the shipped files under prices/scenarios/ are examples):

    name = "crash-1987"               # letters, digits and dashes: the scenario's handle
    title = "…"                       # says it is stylized, not a replay
    description = "…"
    stylized = true                   # a scenario is stylized on history, never a replay
    days = 20                         # its length in trading days
    seed = 1987                       # the default seed (a run may choose another)

    [day.1-3]                         # a day, or a range of days ("5-9")
    regime = "calm"                   # "calm" or "turbulent"; held until a day changes it
    volatility = 1.0                  # the regime's market volatility × this (0.1 to 10)
    market = 0.2                      # the market's move over the day, in percent
    headlines = ["…"]                 # free headlines, on the entry's first day
    sectors.Financials = { move = -4, headline = "…" }
    symbols.JPM = { move = -6, headline = "…" }

Moves apply on every day of an entry; its headlines come once, on its first day.
"""

from __future__ import annotations

import difflib
import functools
import math
import random
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from prices import news
from prices.market_data import MARKET
from prices.simulation import DEFAULT_MODEL, MarketModel, Stock, step

BUILTIN_DIR = Path(__file__).resolve().parent / "scenarios"
REGIMES = ("calm", "turbulent")
MAX_DAYS = 252  # a simulated year
MIN_VOLATILITY, MAX_VOLATILITY = 0.1, 10.0
MIN_MARKET_MOVE, MAX_MARKET_MOVE = -50.0, 50.0  # percent over one day
MIN_SHOCK, MAX_SHOCK = -90.0, 200.0  # percent over one day
MAX_HEADLINE = 200
MAX_SEED = 2**63 - 1
MAX_FILE_BYTES = 200_000
PREVIEW_START = 100.0
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,48}$")
_DAYS_KEY = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")
_TOP_KEYS = ("name", "title", "description", "stylized", "days", "seed", "day")
_DAY_KEYS = ("regime", "volatility", "market", "headlines", "sectors", "symbols")
_SHOCK_KEYS = ("move", "headline")


class ScenarioError(Exception):
    """A scenario file that cannot run: `errors` lists each problem, naming its place."""

    def __init__(self, errors: Sequence[str]):
        super().__init__("; ".join(errors))
        self.errors = list(errors)
        self.message = " ".join(errors)


@dataclass(frozen=True)
class Shock:
    target: str  # a sector or a symbol
    percent: float
    headline: str


@dataclass(frozen=True)
class Day:
    number: int  # 1 for the scenario's first day
    regime: str
    volatility: float
    market: float  # percent over the day
    sectors: tuple[Shock, ...] = ()
    symbols: tuple[Shock, ...] = ()
    headlines: tuple[str, ...] = ()  # published at the day's first tick

    @property
    def market_log(self) -> float:
        return math.log1p(self.market / 100)


@dataclass(frozen=True)
class Script:
    name: str
    title: str
    description: str
    days: int
    seed: int
    schedule: tuple[Day, ...]  # one per day, 1 … days

    def day(self, number: int) -> Day:
        return self.schedule[number - 1]


@dataclass(frozen=True)
class Market:
    """What a script may name: the sectors (index funds' aside) and the symbols."""

    sectors: frozenset[str]
    symbols: frozenset[str]

    @classmethod
    def of(cls, rows: Iterable[tuple[str, str, bool]]) -> Market:
        """From (symbol, sector, is_index) rows."""
        rows = list(rows)
        return cls(
            sectors=frozenset(sector for _, sector, is_index in rows if not is_index),
            symbols=frozenset(symbol for symbol, _, _ in rows),
        )


SAMPLE_MARKET = Market.of((x.symbol, x.sector, x.is_index) for x in MARKET)


def current_market() -> Market:
    """The listed market (one query); the sample market while nothing is listed."""
    from prices.models import Price

    rows = list(Price.objects.values_list("symbol", "sector", "is_index"))
    return Market.of(rows) if rows else SAMPLE_MARKET


# Reading a file -------------------------------------------------------------------------


def _quote(text) -> str:
    return f"“{text}”"


def _unknown_keys(data: dict, allowed: Sequence[str], place: str) -> list[str]:
    errors = []
    for key in data:
        if key in allowed:
            continue
        close = difflib.get_close_matches(str(key), allowed, n=1)
        hint = f" (did you mean {_quote(close[0])}?)" if close else ""
        errors.append(
            f"{place}: unknown key {_quote(key)}{hint}; the keys are {', '.join(allowed)}."
        )
    return errors


def _number(value, place: str, what: str, low: float, high: float, errors: list) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        errors.append(f"{place}: {what} must be a number, not {_quote(value)}.")
        return None
    if isinstance(value, int):  # compared as an int: a huge one has no float
        if not low <= value <= high:
            shown = f"it is {value}" if abs(value) < 10**15 else "it is far too large"
            errors.append(f"{place}: {what} must be between {low:g} and {high:g} ({shown}).")
            return None
        return float(value)
    if math.isnan(value):
        errors.append(f"{place}: {what} must be a number, not {_quote(value)}.")
        return None
    if not low <= value <= high:
        errors.append(f"{place}: {what} must be between {low:g} and {high:g} (it is {value:g}).")
        return None
    return float(value)


def _headline(value, place: str, errors: list) -> str | None:
    if not isinstance(value, str) or not value.strip():
        errors.append(f"{place}: a headline must be some text in quotes.")
        return None
    if len(value.strip()) > MAX_HEADLINE:
        errors.append(f"{place}: a headline is at most {MAX_HEADLINE} characters.")
        return None
    return " ".join(value.split())


def _shocks(value, place: str, kind: str, market: Market, errors: list) -> tuple[Shock, ...]:
    if not isinstance(value, dict):
        errors.append(
            f"{place}: {kind}s must be a table, e.g. {kind}s.NAME = "
            '{ move = -5, headline = "…" }.'
        )
        return ()
    known = market.sectors if kind == "sector" else market.symbols
    shocks = []
    for target, shock in value.items():
        where = f"{place}, {kind} {_quote(target)}"
        if target not in known:
            listed = ", ".join(sorted(known)) if kind == "sector" else ""
            close = difflib.get_close_matches(target, sorted(known), n=1)
            hint = f" (did you mean {_quote(close[0])}?)" if close else ""
            errors.append(
                f"{place}: the {kind} {_quote(target)} is not in the market{hint}"
                + (f" (sectors: {listed})." if listed else ".")
            )
            continue
        if not isinstance(shock, dict):
            errors.append(f'{where}: write {{ move = -5, headline = "…" }}.')
            continue
        errors.extend(_unknown_keys(shock, _SHOCK_KEYS, where))
        if "move" not in shock or "headline" not in shock:
            errors.append(f"{where}: a shock needs a move (percent) and a headline.")
            continue
        move = _number(shock["move"], where, "the move", MIN_SHOCK, MAX_SHOCK, errors)
        text = _headline(shock["headline"], where, errors)
        if move is not None and text is not None:
            shocks.append(Shock(target=target, percent=move, headline=text))
    return tuple(shocks)


def _day_range(key: str, days: int | None, errors: list) -> tuple[int, int] | None:
    key = str(key)
    shown = key if len(key) <= 20 else key[:20] + "…"
    match = _DAYS_KEY.match(key)
    if not match:
        errors.append(f"[day.{shown}]: a day is a number or a range such as [day.4] or [day.5-9].")
        return None
    if len(match[1]) > 6 or len(match[2] or "") > 6:  # read no huge number
        errors.append(f"[day.{shown}]: a scenario has at most {MAX_DAYS} days.")
        return None
    first = int(match[1])
    last = int(match[2]) if match[2] else first
    if first < 1 or last < first:
        errors.append(f"[day.{key}]: a range runs from a first day to a later one, from 1.")
        return None
    if last > MAX_DAYS:
        errors.append(f"[day.{key}]: a scenario has at most {MAX_DAYS} days.")
        return None
    if days is not None and last > days:
        errors.append(f"[day.{key}]: the scenario has {days} days (days = {days}).")
        return None
    return first, last


def parse(source: str | bytes, *, market: Market = SAMPLE_MARKET) -> Script:
    """The script a scenario file describes, checked against `market`.

    Raises ScenarioError listing every problem found, each naming its place (the line of
    a TOML syntax error, the day and the key otherwise); never another exception."""
    if isinstance(source, bytes):
        if len(source) > MAX_FILE_BYTES:
            raise ScenarioError([f"The file is larger than {MAX_FILE_BYTES // 1000} kB."])
        try:
            source = source.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ScenarioError(["The file is not UTF-8 text (save it as UTF-8)."]) from None
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError([f"The file is not valid TOML: {exc}."]) from None
    except (ValueError, OverflowError):
        raise ScenarioError(
            ["The file is not valid TOML: it has a number too large to read."]
        ) from None
    except RecursionError:
        raise ScenarioError(["The file is not valid TOML: it nests too deeply."]) from None
    return _script(data, market)


def _script(data: dict, market: Market) -> Script:
    errors = _unknown_keys(data, _TOP_KEYS, "The file")
    for key in ("name", "title", "description", "stylized", "days"):
        if key not in data:
            errors.append(f"The file: {key} is missing.")
    name = data.get("name", "")
    if "name" in data and (not isinstance(name, str) or not _NAME.match(name)):
        errors.append(
            'name: use lower-case letters, digits and dashes, at most 49, e.g. "crash-1987".'
        )
    texts = {}
    for key, limit in (("title", 200), ("description", 2000)):
        value = data.get(key, "")
        if key in data and (not isinstance(value, str) or not value.strip()):
            errors.append(f"{key}: write it as text in quotes.")
        elif isinstance(value, str) and len(value.strip()) > limit:
            errors.append(f"{key}: at most {limit} characters.")
        texts[key] = value.strip() if isinstance(value, str) else ""
    if "stylized" in data and data["stylized"] is not True:
        errors.append(
            "stylized must be true: a scenario is stylized on history, not a replay of it "
            "(say so in its title or description)."
        )
    days = data.get("days")
    if "days" in data and (
        isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS
    ):
        errors.append(f"days must be a whole number of trading days from 1 to {MAX_DAYS}.")
        days = None
    seed = data.get("seed", 1)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        errors.append("seed must be a whole number, 0 or more.")
        seed = 1
    if days is None:
        raise ScenarioError(errors)  # the days are checked against it: nothing more to say

    entries = data.get("day", {})
    if not isinstance(entries, dict):
        errors.append("day: write each day as a table, e.g. [day.4] or [day.5-9].")
        entries = {}
    owner: dict[int, str] = {}  # day → the entry that scripts it
    scripted: dict[int, tuple[dict, bool]] = {}  # day → (the entry, its first day?)
    parsed: dict[str, dict] = {}
    for key, entry in entries.items():
        span = _day_range(key, days, errors)
        if span is None:
            continue
        place = f"day {key}"
        if not isinstance(entry, dict):
            errors.append(f"{place}: write it as a table of keys ([day.{key}]).")
            continue
        first, last = span
        clash = sorted(d for d in range(first, last + 1) if d in owner)
        if clash:
            errors.append(
                f"day {key}: overlaps day {owner[clash[0]]} (day {clash[0]} is in both); "
                "each day may be scripted once."
            )
            continue
        parsed[key] = _entry(entry, place, market, errors)
        for d in range(first, last + 1):
            owner[d] = key
            scripted[d] = (parsed[key], d == first)
    if errors:
        raise ScenarioError(errors)

    schedule, regime = [], "calm"
    for number in range(1, days + 1):
        entry, first = scripted.get(number, ({}, False))
        regime = entry.get("regime", regime)  # held until a later day changes it
        headlines = []
        if first:
            headlines = [*entry.get("headlines", ())]
            headlines += [s.headline for s in (*entry["sectors"], *entry["symbols"])]
        schedule.append(
            Day(
                number=number,
                regime=regime,
                volatility=entry.get("volatility", 1.0),
                market=entry.get("market", 0.0),
                sectors=entry.get("sectors", ()),
                symbols=entry.get("symbols", ()),
                headlines=tuple(headlines),
            )
        )
    return Script(
        name=name,
        title=texts["title"],
        description=texts["description"],
        days=days,
        seed=seed,
        schedule=tuple(schedule),
    )


def _entry(entry: dict, place: str, market: Market, errors: list) -> dict:
    errors.extend(_unknown_keys(entry, _DAY_KEYS, place))
    out: dict = {"sectors": (), "symbols": ()}
    if "regime" in entry:
        if entry["regime"] in REGIMES:
            out["regime"] = entry["regime"]
        else:
            errors.append(f'{place}: regime must be "calm" or "turbulent".')
    if "volatility" in entry:
        value = _number(
            entry["volatility"], place, "volatility", MIN_VOLATILITY, MAX_VOLATILITY, errors
        )
        if value is not None:
            out["volatility"] = value
    if "market" in entry:
        value = _number(
            entry["market"], place, "market (percent)", MIN_MARKET_MOVE, MAX_MARKET_MOVE, errors
        )
        if value is not None:
            out["market"] = value
    if "headlines" in entry:
        value = entry["headlines"]
        if not isinstance(value, list):
            errors.append(f'{place}: headlines is a list: headlines = ["…", "…"].')
        else:
            texts = [_headline(text, place, errors) for text in value]
            out["headlines"] = tuple(t for t in texts if t)
    for kind in ("sector", "symbol"):
        if f"{kind}s" in entry:
            out[f"{kind}s"] = _shocks(entry[f"{kind}s"], place, kind, market, errors)
    return out


@functools.lru_cache(maxsize=16)
def _cached(source: str) -> Script:
    # A running scenario's stored source was checked when it started; read once per process.
    return parse(source, market=Market(sectors=_ANY, symbols=_ANY))


class _Anything(frozenset):
    def __contains__(self, item):
        return True


_ANY = _Anything()


def script_of(source: str) -> Script:
    """The script of a stored (already checked) source, parsed once per process."""
    return _cached(source)


# The shipped files ----------------------------------------------------------------------


def builtin_files() -> list[Path]:
    return sorted(BUILTIN_DIR.glob("*.toml"))


def sync_builtin() -> int:
    """Load the shipped scenario files into the scenarios table, adding new ones and
    updating changed ones (checked against the sample market); returns how many rows
    changed. A shipped file with an error is left out and logged: a test keeps them valid.
    Two queries when nothing changed."""
    import logging

    from prices.models import Scenario

    scripts = {}
    for path in builtin_files():
        source = path.read_text(encoding="utf-8")
        try:
            script = parse(source)
        except ScenarioError as exc:
            logging.getLogger("tradesim.prices").error("Scenario file %s: %s", path, exc)
            continue
        scripts[script.name] = (script, source)
    stored = {
        s.name: s for s in Scenario.objects.filter(name__in=list(scripts)).only("name", "source")
    }
    changed = 0
    for name, (script, source) in scripts.items():
        row = stored.get(name)
        fields = {
            "title": script.title,
            "description": script.description,
            "source": source,
            "seed": script.seed,
            "days": script.days,
            "builtin": True,
        }
        if row is None:
            Scenario.objects.create(name=name, **fields)
            changed += 1
        elif row.source != source:
            Scenario.objects.filter(pk=row.pk).update(**fields)
            changed += 1
    return changed


# The preview ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Preview:
    seed: int
    levels: list[float]  # the index, 100 at the start, then after each day
    days: int

    @property
    def end(self) -> float:
        return self.levels[-1]

    @property
    def lowest(self) -> float:
        return min(self.levels)

    @property
    def lowest_day(self) -> int:
        return self.levels.index(self.lowest)

    @property
    def largest_fall(self) -> float:
        """The largest fall from a high to a later low, in percent (0 or negative)."""
        high, worst = self.levels[0], 0.0
        for level in self.levels:
            high = max(high, level)
            worst = min(worst, (level / high - 1) * 100)
        return worst

    def summary(self) -> str:
        return (
            f"Start {PREVIEW_START:.0f}, end {self.end:.1f} "
            f"({(self.end / PREVIEW_START - 1):+.1%}), "
            f"lowest {self.lowest:.1f} on day {self.lowest_day}, largest fall from a high "
            f"{self.largest_fall:.1f} %, {self.days} trading days (seed {self.seed})."
        ).replace("-", "−")


def market_model() -> MarketModel:
    """The engine's model for the market's parameters (one query; the defaults while the
    row is missing, which this does not create)."""
    from prices.models import MarketParameters

    params = MarketParameters.objects.filter(id=1).first()
    return params.market_model() if params is not None else DEFAULT_MODEL


def preview(script: Script, *, seed: int | None = None, model: MarketModel = DEFAULT_MODEL):
    """The index's path under the script, one engine step per trading day (the index alone:
    beta 1, the market's drift, no company risk), in the script's regimes (held) and
    volatility multipliers, from `seed` (the script's by default). Pure: no database."""
    seed = script.seed if seed is None else seed
    rng = random.Random(seed)
    log_level = math.log(PREVIEW_START)
    levels = [PREVIEW_START]
    for day in script.schedule:
        index = Stock(
            log_price=log_level,
            drift=model.drift,
            volatility=0.0,
            beta=1.0,
            shock=day.market_log,
            is_index=True,
        )
        moved = step(
            [index],
            dt=1.0,
            rng=rng,
            model=model,
            regime=day.regime,
            volatility_scale=day.volatility,
            hold_regime=True,
        )
        log_level = moved.log_prices[0]
        levels.append(math.exp(log_level))
    return Preview(seed=seed, levels=levels, days=script.days)


def chart_svg(result: Preview, *, width: int = 640, height: int = 240) -> dict:
    """What the admin's server-drawn chart needs: the polyline and the axes' ticks."""
    left, right, top, bottom = 48, 12, 12, 32
    levels = result.levels
    low, high = min(levels), max(levels)
    pad = max((high - low) * 0.08, 1.0)
    low, high = low - pad, high + pad
    plot_w, plot_h = width - left - right, height - top - bottom
    n = max(len(levels) - 1, 1)

    def x(i):
        return left + plot_w * i / n

    def y(v):
        return top + plot_h * (high - v) / (high - low)

    points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(levels))
    step_y = _nice_step((high - low) / 4)
    y_ticks = []
    value = math.ceil(low / step_y) * step_y
    while value <= high:
        y_ticks.append({"y": round(y(value), 1), "label": f"{value:g}"})
        value += step_y
    step_x = max(1, _nice_step(n / 5))
    x_ticks = [{"x": round(x(i), 1), "label": str(i)} for i in range(0, n + 1, int(step_x))]
    return {
        "width": width,
        "height": height,
        "points": points,
        "left": left,
        "right": width - right,
        "top": top,
        "bottom": height - bottom,
        "start_y": round(y(PREVIEW_START), 1),
        "y_ticks": y_ticks,
        "x_ticks": x_ticks,
    }


def _nice_step(raw: float) -> float:
    if raw <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


# A running scenario in the tick ---------------------------------------------------------


@dataclass
class TickScript:
    """What the running scenario does to one tick (prices.services._tick)."""

    rng: random.Random
    actions_rng: random.Random  # the day's corporate actions draw from this one
    regime: str  # the regime the tick runs in
    hold_regime: bool  # the script holds it (not on the tick that finishes the run)
    volatility: float  # the market factor's volatility × this
    shocks: dict[int, float]  # row index → log move
    headlines: list[news.Draft]
    day: int | None  # the scenario day this tick belongs to; None once finished

    def add_shocks(self, shocks: dict[int, float]) -> dict[int, float]:
        merged = dict(shocks)
        for i, move in self.shocks.items():
            merged[i] = merged.get(i, 0.0) + move
        return merged


def tick_rng(seed: int, tick: int) -> random.Random:
    """The random numbers of a scenario's `tick`-th tick (0 for its first): from the seed
    and the tick alone, so a replay from the same start draws the same numbers."""
    return random.Random(f"scenario:{seed}:{tick}")


def actions_rng(seed: int, tick: int) -> random.Random:
    """The random numbers of the corporate actions (earnings surprises) at a scenario's
    `tick`-th tick: apart from tick_rng, so whether a stock reports that day (which hangs
    on the market's calendar) never shifts the engine's draws."""
    return random.Random(f"scenario-actions:{seed}:{tick}")


def for_tick(state, *, rows, dt: float, new_day: bool) -> TickScript | None:
    """The running scenario's part in this tick, or None when none is running.

    One query (the running run and its scenario), plus one UPDATE on the tick that
    finishes the run. `state` is the locked MarketState after the tick's new-day roll;
    `rows` are the tick's bulk.read_market rows."""
    from django.utils import timezone

    from prices.models import ScenarioRun

    run = (
        ScenarioRun.objects.filter(status=ScenarioRun.Status.RUNNING)
        .select_related("scenario")
        .only(
            "id",
            "seed",
            "start_day",
            "start_tick",
            "paused_days",
            "paused_ticks",
            "scenario__name",
            "scenario__title",
            "scenario__source",
        )
        .first()
    )
    if run is None:
        return None
    script = script_of(run.scenario.source)
    number = run.day_at(state.trading_day + 1)
    first_tick = new_day or state.ticks == run.start_tick + run.paused_ticks
    if number < 1:
        return None  # the run's day 1 has not begun: no script this tick
    tick = state.ticks - run.start_tick - run.paused_ticks
    rng, corporate = tick_rng(run.seed, tick), actions_rng(run.seed, tick)
    if number > script.days:
        ScenarioRun.objects.filter(pk=run.pk, status=ScenarioRun.Status.RUNNING).update(
            status=ScenarioRun.Status.FINISHED,
            day_reached=script.days,
            finished_at=timezone.now(),
        )
        ended = news.headline(news.Kind.SCENARIO, f"Scenario finished: {run.scenario.title}")
        return TickScript(
            rng=rng,
            actions_rng=corporate,
            regime=state.regime,
            hold_regime=False,
            volatility=1.0,
            shocks={},
            headlines=[ended],
            day=None,
        )
    day = script.day(number)
    share = min(dt, 1.0)
    market = day.market_log * share
    sectors = {s.target: math.log1p(s.percent / 100) * share for s in day.sectors}
    symbols = {s.target: math.log1p(s.percent / 100) * share for s in day.symbols}
    shocks: dict[int, float] = {}
    for i, (_, symbol, sector, *_, beta, _halted, is_index) in enumerate(rows):
        move = market * (1.0 if is_index else beta)
        if not is_index:
            move += sectors.get(sector, 0.0)
        move += symbols.get(symbol, 0.0)
        if move:
            shocks[i] = move
    headlines = []
    if first_tick:
        for text in day.headlines:
            headlines.append(news.headline(news.Kind.SCENARIO, text))
        for shock in day.sectors:
            _attach(headlines, shock.headline, sector=shock.target, percent=shock.percent)
        for shock in day.symbols:
            _attach(headlines, shock.headline, symbol=shock.target, percent=shock.percent)
    return TickScript(
        rng=rng,
        actions_rng=corporate,
        regime=day.regime,
        hold_regime=True,
        volatility=day.volatility,
        shocks=shocks,
        headlines=headlines,
        day=number,
    )


def _attach(drafts: list, text: str, **where) -> None:
    """Give the shock's headline (already among the day's) its sector or symbol and move."""
    for i, draft in enumerate(drafts):
        if draft.text == text and not draft.symbol and not draft.sector:
            drafts[i] = news.headline(news.Kind.SCENARIO, text, **where)
            return
