"""Scenario files (prices.scenarios): the shipped ones, the checks' messages, the preview."""

import math

import pytest

from prices import scenarios
from prices.scenarios import SAMPLE_MARKET, ScenarioError, parse, preview

GOOD = """
name = "tiny"
title = "Tiny (stylized, not a replay)"
description = "Two quiet days and a fall."
stylized = true
days = 5
seed = 7

[day.1-2]
regime = "calm"
market = 0.5
headlines = ["Quiet start"]

[day.3]
regime = "turbulent"
volatility = 2.5
market = -10
headlines = ["Stocks tumble"]
sectors.Energy = { move = -5, headline = "Oil drops" }
symbols.AAPL = { move = 3, headline = "AAPL holds up" }
"""


def errors_of(source: str) -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        parse(source, market=SAMPLE_MARKET)
    return caught.value.errors


def with_day(extra: str) -> str:
    return GOOD + "\n" + extra


# The shipped files ------------------------------------------------------------------------


def test_at_least_the_five_stylized_scenarios_are_shipped():
    names = {parse(p.read_text(encoding="utf-8")).name for p in scenarios.builtin_files()}
    assert {"crash-1987", "bear-2008", "covid-2020", "dotcom-bubble", "rate-shock"} <= names


@pytest.mark.parametrize("path", scenarios.builtin_files(), ids=lambda p: p.name)
def test_every_shipped_file_validates_and_says_it_is_stylized(path):
    script = parse(path.read_text(encoding="utf-8"), market=SAMPLE_MARKET)

    assert script.name == path.stem
    assert "stylized" in script.title.lower()
    assert "not a replay" in script.title.lower()
    assert len(script.schedule) == script.days
    assert any(day.headlines for day in script.schedule)


# A good file ------------------------------------------------------------------------------


def test_a_range_scripts_each_day_and_its_headlines_come_once():
    script = parse(GOOD)

    assert [d.market for d in script.schedule] == [0.5, 0.5, -10.0, 0.0, 0.0]
    assert script.day(1).headlines == ("Quiet start",)
    assert script.day(2).headlines == ()
    assert script.day(3).headlines == ("Stocks tumble", "Oil drops", "AAPL holds up")
    assert script.day(3).sectors[0].target == "Energy"
    assert script.day(3).symbols[0].percent == 3.0


def test_the_regime_is_held_until_a_day_changes_it_and_volatility_is_per_day():
    script = parse(GOOD)

    assert [d.regime for d in script.schedule] == ["calm"] * 2 + ["turbulent"] * 3
    assert [d.volatility for d in script.schedule] == [1.0, 1.0, 2.5, 1.0, 1.0]


def test_the_seed_defaults_to_one():
    assert parse(GOOD.replace("seed = 7\n", "")).seed == 1


# Bad files: each problem named at its place -----------------------------------------------


def test_a_toml_syntax_error_names_its_line():
    (error,) = errors_of(GOOD.replace("market = 0.5", "market 0.5"))
    assert error.startswith("The file is not valid TOML:")
    assert "line 11" in error


def test_an_unknown_key_is_named_with_a_suggestion():
    errors = errors_of(GOOD.replace("volatility = 2.5", "volatilty = 2.5"))
    assert errors == [
        "day 3: unknown key “volatilty” (did you mean “volatility”?); the keys are regime, "
        "volatility, market, headlines, sectors, symbols."
    ]


def test_an_unknown_key_at_the_top_is_named():
    (error,) = errors_of(GOOD.replace("seed = 7", 'seed = 7\nauthor = "me"'))
    assert error.startswith("The file: unknown key “author”")


def test_a_sector_not_in_the_market_lists_the_sectors():
    (error,) = errors_of(GOOD.replace("sectors.Energy", "sectors.Enery"))
    assert error.startswith(
        "day 3: the sector “Enery” is not in the market (did you mean “Energy”?)"
    )
    assert "(sectors: Communication Services, Consumer Discretionary" in error
    assert "Index Fund" not in error


def test_a_symbol_not_in_the_market_is_named():
    (error,) = errors_of(GOOD.replace("symbols.AAPL", "symbols.APPL"))
    assert error == "day 3: the symbol “APPL” is not in the market (did you mean “AAPL”?)."


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "volatility = 2.5",
            "volatility = 20",
            "day 3: volatility must be between 0.1 and 10 (it is 20).",
        ),
        (
            "volatility = 2.5",
            'volatility = "high"',
            "day 3: volatility must be a number, not “high”.",
        ),
        (
            "market = -10",
            "market = -75",
            "day 3: market (percent) must be between -50 and 50 (it is -75).",
        ),
        (
            "move = -5",
            "move = -95",
            "day 3, sector “Energy”: the move must be between -90 and 200 (it is -95).",
        ),
        ("days = 5", "days = 0", "days must be a whole number of trading days from 1 to 252."),
        ("seed = 7", "seed = -1", "seed must be a whole number, 0 or more."),
        (
            'regime = "turbulent"',
            'regime = "stormy"',
            'day 3: regime must be "calm" or "turbulent".',
        ),
        (
            "stylized = true",
            "stylized = false",
            "stylized must be true: a scenario is stylized on history, not a replay of it "
            "(say so in its title or description).",
        ),
        (
            'name = "tiny"',
            'name = "Tiny Crash"',
            'name: use lower-case letters, digits and dashes, at most 49, e.g. "crash-1987".',
        ),
    ],
)
def test_bad_numbers_and_words_are_named(old, new, message):
    assert errors_of(GOOD.replace(old, new)) == [message]


def test_overlapping_days_are_refused():
    (error,) = errors_of(with_day("[day.2-4]\nmarket = 1"))
    assert error == "day 2-4: overlaps day 1-2 (day 2 is in both); each day may be scripted once."


def test_a_day_past_the_end_is_refused():
    (error,) = errors_of(with_day("[day.6]\nmarket = 1"))
    assert error == "[day.6]: the scenario has 5 days (days = 5)."


def test_a_day_that_is_not_a_number_is_refused():
    (error,) = errors_of(with_day("[day.four]\nmarket = 1"))
    assert "a day is a number or a range" in error


def test_a_shock_needs_a_headline():
    (error,) = errors_of(GOOD.replace(', headline = "Oil drops"', ""))
    assert error == "day 3, sector “Energy”: a shock needs a move (percent) and a headline."


def test_missing_keys_are_each_named():
    errors = errors_of('name = "x"\n')
    assert errors == [
        "The file: title is missing.",
        "The file: description is missing.",
        "The file: stylized is missing.",
        "The file: days is missing.",
    ]


def test_several_problems_are_all_reported():
    source = GOOD.replace("volatility = 2.5", "volatility = 0").replace(
        "sectors.Energy", "sectors.Oil"
    )
    assert len(errors_of(source)) == 2


def test_bytes_that_are_not_utf8_are_refused_in_words():
    with pytest.raises(ScenarioError, match="not UTF-8"):
        parse(b"\xff\xfe\x00name")


# The preview ------------------------------------------------------------------------------


def shipped(name):
    return parse((scenarios.BUILTIN_DIR / f"{name}.toml").read_text(encoding="utf-8"))


def test_the_preview_is_the_same_for_a_seed_and_differs_for_another():
    script = shipped("covid-2020")

    first, again, other = (
        preview(script),
        preview(script, seed=script.seed),
        preview(script, seed=5),
    )

    assert first.levels == again.levels
    assert first.levels != other.levels
    assert len(first.levels) == script.days + 1
    assert first.levels[0] == 100.0


def test_the_1987_crash_day_falls_about_a_fifth_whatever_the_seed():
    script = shipped("crash-1987")
    crash = next(d.number for d in script.schedule if d.market <= -15)
    for seed in (script.seed, 1, 2, 3):
        levels = preview(script, seed=seed).levels
        fall = levels[crash] / levels[crash - 1] - 1
        assert -0.28 < fall < -0.13, (seed, fall)


def test_the_summary_reads_the_path():
    result = scenarios.Preview(seed=3, levels=[100.0, 110.0, 88.0, 99.0], days=3)

    assert result.end == 99.0 and result.lowest == 88.0 and result.lowest_day == 2
    assert math.isclose(result.largest_fall, -20.0)
    assert result.summary() == (
        "Start 100, end 99.0 (−1.0%), lowest 88.0 on day 2, largest fall from a high "
        "−20.0 %, 3 trading days (seed 3)."
    )


def test_the_chart_has_a_point_per_day_and_labelled_axes():
    chart = scenarios.chart_svg(preview(shipped("rate-shock")))

    assert len(chart["points"].split()) == 26
    assert chart["x_ticks"][0]["label"] == "0"
    assert chart["y_ticks"]


# Numbers too large to read ----------------------------------------------------------------

HUGE = "1" + "0" * 5000  # more digits than Python reads into an int from text


@pytest.mark.parametrize(
    "source, message",
    [
        (
            GOOD.replace("volatility = 2.5", "volatility = 1" + "0" * 400),
            "day 3: volatility must be between 0.1 and 10 (it is far too large).",
        ),
        (with_day(f'[day."{HUGE}"]\nmarket = 1'), "a scenario has at most 252 days."),
        (GOOD.replace("seed = 7", f"seed = {HUGE}"), "it has a number too large to read."),
    ],
    ids=["huge-volatility", "huge-day", "huge-literal"],
)
def test_a_number_too_large_is_named_not_a_crash(source, message):
    (error,) = errors_of(source)
    assert error.endswith(message)


def test_a_day_past_a_year_is_refused_whatever_the_days():
    (error,) = errors_of(with_day("[day.1-3000000]\nmarket = 1"))
    assert error == "[day.1-3000000]: a scenario has at most 252 days."


@pytest.mark.parametrize("days", ["", "days = 0\n", "days = 1000\n", 'days = "x"\n'])
def test_a_long_range_with_no_valid_days_stops_at_the_days(days):
    source = GOOD.replace("days = 5\n", days) + '\n[day."1-3000000"]\nmarket = 1\n'
    errors = errors_of(source)
    assert any(error.startswith(("The file: days is missing", "days must be")) for error in errors)
    assert not any("3000000" in error for error in errors)
