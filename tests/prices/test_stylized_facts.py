"""Volatility that clusters: the calm/stormy regime switch of the market factor, and the
stylized facts of the daily index returns it produces.

The stylized facts are checked on simulated daily returns of the sample market's index
fund (TSIM: beta 1, a sliver of its own noise) with the market's default parameters (calm
12 %, stormy 30 %, spells of 60 and 15 trading days, about one market gap a year), over
eight simulated years (2,016 trading days) in each of four independently seeded markets,
as four classes would see them. Tolerances, from the spread of each statistic over 400
seeded eight-year markets (the mean of four varies by about a quarter of that):

- lag-1 autocorrelation of returns: mean of the four within ±0.06 of zero. Its standard
  error is about 0.016 (fat tails widen the 1/√n of a single market to about 0.03), so
  the band is almost four of them; a market that trended from day to day would be far
  outside it;
- autocorrelation of |returns|, averaged over lags 1 to 20 (one trading month): mean of
  the four above 0.06. The model gives about 0.10 (0.235 × 0.92^k, k the lag, less the
  gaps' dilution); the four-market mean has a standard error of about 0.011 and never fell
  below 0.069 in 100 groups of four. Without clustering it is 0.00 ± 0.01
  (test_without_storms_absolute_returns_are_not_correlated shows the check can fail);
- excess kurtosis above 1 in every market (a normal distribution has 0; the mix of two
  regimes gives about 3, the gaps more; the lowest of 400 markets was 1.9);
- annualized volatility, pooled over the four: within ±10 % of the target computed from
  the parameters — the stationary mix of the regimes' variances, the gaps' variance and
  the fund's own (17.6 % a year). Its standard error is about 3 %.
"""

import math
import statistics

import pytest

from prices.market_data import MARKET
from prices.simulation import (
    CALM,
    CONSTANT_MODEL,
    DEFAULT_MODEL,
    NO_JUMPS,
    TRADING_DAYS_PER_YEAR,
    TURBULENT,
    MarketModel,
    Simulator,
    Stock,
    new_rng,
    step,
)

INDEX = next(listing for listing in MARKET if listing.is_index)
YEARS = 8
DAYS = YEARS * TRADING_DAYS_PER_YEAR
MARKETS = (1, 2, 3, 4)  # seeds


def index_fund() -> Stock:
    return Stock(
        log_price=math.log(float(INDEX.price)),
        drift=INDEX.drift,
        volatility=INDEX.volatility,
        beta=INDEX.beta,
        is_index=True,
    )


def daily_returns(seed: int, model: MarketModel, days: int = DAYS) -> list[float]:
    sim = Simulator([index_fund()], seed=seed, dt=1.0, model=model)
    levels = [sim.stocks[0].log_price]
    for _ in range(days):
        levels.append(sim.step().log_prices[0])
    return [b - a for a, b in zip(levels, levels[1:], strict=False)]


def autocorrelation(xs: list[float], lag: int) -> float:
    mean = statistics.fmean(xs)
    centred = [x - mean for x in xs]
    total = sum(c * c for c in centred)
    return sum(a * b for a, b in zip(centred, centred[lag:], strict=False)) / total


def absolute_autocorrelation(returns: list[float], lags=range(1, 21)) -> float:
    """The autocorrelation of |returns|, averaged over `lags` (a trading month)."""
    sizes = [abs(r) for r in returns]
    return statistics.fmean(autocorrelation(sizes, lag) for lag in lags)


def excess_kurtosis(xs: list[float]) -> float:
    mean, sd = statistics.fmean(xs), statistics.pstdev(xs)
    return statistics.fmean(((x - mean) / sd) ** 4 for x in xs) - 3


def annualized(returns: list[float]) -> float:
    return statistics.stdev(returns) * math.sqrt(TRADING_DAYS_PER_YEAR)


@pytest.fixture(scope="module")
def markets() -> list[list[float]]:
    return [daily_returns(seed, DEFAULT_MODEL) for seed in MARKETS]


# The stylized facts ------------------------------------------------------------------------


def test_returns_are_not_correlated_from_one_day_to_the_next(markets):
    lag1 = statistics.fmean(autocorrelation(returns, 1) for returns in markets)

    assert abs(lag1) < 0.06


def test_absolute_returns_are_correlated_over_weeks(markets):
    clustering = statistics.fmean(absolute_autocorrelation(returns) for returns in markets)

    assert clustering > 0.06


def test_daily_returns_have_fat_tails(markets):
    assert all(excess_kurtosis(returns) > 1 for returns in markets)


def test_annual_volatility_is_near_the_target_of_the_parameters(markets):
    target = math.hypot(DEFAULT_MODEL.market_volatility(), INDEX.volatility)  # 17.6 %
    pooled = annualized([r for returns in markets for r in returns])

    assert pooled == pytest.approx(target, rel=0.10)
    # The target is the long-run mix: far from either regime's own volatility.
    assert DEFAULT_MODEL.calm_volatility * 1.2 < target < DEFAULT_MODEL.turbulent_volatility * 0.8


def test_without_storms_absolute_returns_are_not_correlated():
    """The contrast: one volatility and no gaps, the same index fund and seeds. Each
    market's mean autocorrelation of |returns| is about 0 ± 0.01 and its tails are
    normal, so the checks above would fail on it."""
    flat = MarketModel.constant(DEFAULT_MODEL.volatility, market_jumps=NO_JUMPS)
    markets = [daily_returns(seed, flat) for seed in MARKETS]

    clustering = statistics.fmean(absolute_autocorrelation(returns) for returns in markets)
    assert abs(clustering) < 0.03
    assert all(abs(excess_kurtosis(returns)) < 0.5 for returns in markets)


# The switch ------------------------------------------------------------------------------


def regimes(model: MarketModel, *, steps: int, dt: float = 1.0, seed: int = 5) -> list[str]:
    """The regime of each of `steps` steps of a market with no stocks."""
    rng, regime, path = new_rng(seed), CALM, []
    for _ in range(steps):
        path.append(regime)
        regime = step([], dt=dt, rng=rng, model=model, regime=regime).regime
    return path


def spells(path: list[str]) -> dict[str, list[int]]:
    """The lengths of the complete spells of each regime (the first and last are cut)."""
    lengths: dict[str, list[int]] = {CALM: [], TURBULENT: []}
    start = 0
    for i in range(1, len(path)):
        if path[i] != path[i - 1]:
            if start:
                lengths[path[i - 1]].append(i - start)
            start = i
    return lengths


def test_spells_last_their_mean_length_on_average():
    # 150,000 daily steps: about 2,000 of each spell. A spell of a given regime is geometric
    # with mean 1 / (1 − exp(−1/days)) = days + ½ steps and a standard deviation about as
    # large, so the means' standard errors are 3 % of them; the tolerance is 8 %.
    path = regimes(DEFAULT_MODEL, steps=150_000)
    lengths = spells(path)

    assert len(lengths[CALM]) > 1500 and len(lengths[TURBULENT]) > 1500
    assert statistics.fmean(lengths[CALM]) == pytest.approx(DEFAULT_MODEL.calm_days, rel=0.08)
    assert statistics.fmean(lengths[TURBULENT]) == pytest.approx(
        DEFAULT_MODEL.turbulent_days, rel=0.08
    )
    # Stormy a fifth of the days in the long run (15 of every 75): the stationary share.
    share = path.count(TURBULENT) / len(path)
    assert share == pytest.approx(DEFAULT_MODEL.turbulent_share, abs=0.02)


def test_the_switch_does_not_depend_on_the_step_length():
    # Staying calm through two half-days is as likely as through one whole day, so a
    # spell lasts as many trading days on average whether the ticker steps by the minute
    # or by the day.
    for regime in (CALM, TURBULENT):
        whole = DEFAULT_MODEL.switch_probability(regime, 1.0)
        half = DEFAULT_MODEL.switch_probability(regime, 0.5)
        assert 1 - (1 - half) ** 2 == pytest.approx(whole, rel=1e-12)
    assert DEFAULT_MODEL.switch_probability(CALM, 1.0) == pytest.approx(1 - math.exp(-1 / 60))


def test_a_held_regime_does_not_switch():
    # Spells of a day on average: unheld, the regime changes about every other step.
    model = MarketModel(calm_days=1.0, turbulent_days=1.0)
    rng = new_rng(8)
    assert all(
        step([], dt=1.0, rng=rng, model=model, regime=TURBULENT, hold_regime=True).regime
        == TURBULENT
        for _ in range(500)
    )
    assert len(set(regimes(model, steps=50))) == 2


def test_holding_or_scaling_keeps_the_draws_behind_the_moves():
    # A stock with no beta does not feel the market: holding the regime or scaling the
    # market's volatility leaves its path exactly as it was, draw for draw.
    own = Stock(log_price=math.log(50.0), drift=0.05, volatility=0.3, beta=0.0)
    paths = []
    for options in ({}, {"hold_regime": True}, {"volatility_scale": 3.0}):
        sim = Simulator([own], seed=21, dt=1.0, model=MarketModel(calm_days=2, turbulent_days=2))
        paths.append([sim.step(**options).log_prices[0] for _ in range(300)])

    assert paths[0] == paths[1] == paths[2]


def market_shock(model: MarketModel, **options) -> float:
    """The random part of one step's market move (the move less its drift)."""
    result = step([], dt=1.0, rng=new_rng(4), model=model, **options)
    sigma = model.regime_volatility(options.get("regime", CALM)) * options.get(
        "volatility_scale", 1.0
    )
    dt_years = 1 / TRADING_DAYS_PER_YEAR
    return result.market_return - (model.drift - sigma**2 / 2) * dt_years


def test_the_market_moves_with_its_regimes_volatility_times_the_scale():
    model = MarketModel(market_jumps=NO_JUMPS)
    calm = market_shock(model)

    assert calm != 0
    assert market_shock(model, regime=TURBULENT) == pytest.approx(calm * 0.30 / 0.12)
    assert market_shock(model, volatility_scale=2.5) == pytest.approx(calm * 2.5)
    assert market_shock(model, regime=TURBULENT, volatility_scale=0.5) == pytest.approx(
        calm * 0.30 / 0.12 * 0.5
    )


def test_a_market_without_storms_draws_what_the_engine_drew_before_regimes():
    """Draw order: a switching model draws exactly what a constant one draws, then one
    uniform for the regime; a constant one draws nothing for it (old seeds, old paths)."""
    stocks = [index_fund(), Stock(log_price=3.0, drift=0.1, volatility=0.4, beta=1.3)]
    switching, constant = new_rng(17), new_rng(17)

    moved = step(stocks, dt=1.0, rng=switching, model=DEFAULT_MODEL)
    same = step(stocks, dt=1.0, rng=constant, model=MarketModel.constant(0.12))

    assert moved.log_prices == same.log_prices
    constant.random()  # the regime's draw
    assert switching.getstate() == constant.getstate()


def test_a_market_without_storms_stays_calm():
    rng = new_rng(3)
    assert step([], dt=1.0, rng=rng, model=CONSTANT_MODEL, regime=TURBULENT).regime == CALM
    held = step([], dt=1.0, rng=rng, model=CONSTANT_MODEL, regime=TURBULENT, hold_regime=True)
    assert held.regime == TURBULENT


def test_the_simulator_carries_its_regime():
    sim = Simulator([], seed=2, dt=1.0, model=MarketModel(calm_days=1.0, turbulent_days=1.0))
    seen = []
    for _ in range(20):
        result = sim.step()
        assert sim.regime == result.regime
        seen.append(result.regime)
    assert set(seen) == {CALM, TURBULENT}

    sim.step(regime=TURBULENT, hold_regime=True)
    assert sim.regime == TURBULENT


def test_the_long_run_volatility_is_the_stationary_mix():
    # A fifth of the days at 30 %, four fifths at 12 %: √(0.8 × 0.12² + 0.2 × 0.30²).
    assert DEFAULT_MODEL.turbulent_share == pytest.approx(0.2)
    assert DEFAULT_MODEL.volatility == pytest.approx(math.sqrt(0.02952))
    assert CONSTANT_MODEL.volatility == pytest.approx(0.16)
    with_gaps = math.sqrt(0.02952 + 1.0 * (0.02**2 + 0.03**2))
    assert DEFAULT_MODEL.market_volatility() == pytest.approx(with_gaps)


@pytest.mark.parametrize(
    "call",
    [
        lambda: step([], rng=new_rng(1), regime="stormy"),
        lambda: step([], rng=new_rng(1), volatility_scale=-1.0),
        lambda: step([], rng=new_rng(1), volatility_scale=float("nan")),
        lambda: MarketModel(calm_days=0.0),
        lambda: MarketModel(turbulent_volatility=-0.1),
        lambda: Simulator([], regime="windy"),
    ],
)
def test_nonsense_is_refused(call):
    with pytest.raises(ValueError):
        call()
