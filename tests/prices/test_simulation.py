"""The price engine's statistics.

Every test is seeded, so it is deterministic, and every tolerance is a few standard errors
of the estimate at the sample size used (worked out beside each one): wide enough that
the seed does not matter, narrow enough that a wrong formula (a missing σ²/2, beta left
out of the variance, uncompensated jumps) lands many standard errors outside it.
"""

import math
import statistics
from dataclasses import replace
from decimal import Decimal

import pytest

from prices.simulation import (
    DEFAULT_MODEL,
    DIFFUSION_ONLY,
    ONE_MINUTE,
    TRADING_DAYS_PER_YEAR,
    Jumps,
    MarketModel,
    Simulator,
    Stock,
    log_of,
    new_rng,
    publish,
    step,
)

DAY = 1.0  # dt in trading days


def stock(price="100.00", *, drift=0.08, volatility=0.25, beta=1.0, **kw) -> Stock:
    return Stock(
        log_price=log_of(Decimal(price)), drift=drift, volatility=volatility, beta=beta, **kw
    )


def log_returns(path: list[float]) -> list[float]:
    return [b - a for a, b in zip(path, path[1:], strict=False)]


def run(stocks, *, n, seed, dt=DAY, model=DIFFUSION_ONLY):
    """n steps; returns (log-price paths per stock, market returns)."""
    sim = Simulator(stocks, seed=seed, dt=dt, model=model)
    paths = [[s.log_price] for s in stocks]
    market = []
    for _ in range(n):
        result = sim.step()
        for path, x in zip(paths, result.log_prices, strict=True):
            path.append(x)
        market.append(result.market_return)
    return paths, market


# Determinism, positivity, rounding ------------------------------------------------------


def test_the_same_seed_gives_the_same_path_and_another_seed_does_not():
    stocks = [stock("50.00"), stock("250.00", beta=1.5, volatility=0.4)]
    first, _ = run(stocks, n=500, seed=42, model=DEFAULT_MODEL)
    again, _ = run(stocks, n=500, seed=42, model=DEFAULT_MODEL)
    other, _ = run(stocks, n=500, seed=43, model=DEFAULT_MODEL)

    assert first == again
    assert first != other


def test_published_prices_are_cents_and_never_below_one_cent():
    # A collapsing penny stock: strongly negative drift, huge volatility, big gaps.
    model = MarketModel(stock_jumps=Jumps(intensity=50, mean=-0.3, volatility=0.3))
    sim = Simulator(
        [stock("0.05", drift=-3.0, volatility=1.5, beta=1.8)], seed=7, dt=DAY, model=model
    )
    published = [sim.step().prices[0] for _ in range(2000)]

    assert min(published) == Decimal("0.01")
    assert all(p >= Decimal("0.01") for p in published)
    assert all(p == p.quantize(Decimal("0.01")) for p in published)


def test_publish_rounds_half_up_to_cents_with_a_floor():
    assert publish(math.log(12.345000001)) == Decimal("12.35")
    assert publish(math.log(12.344999)) == Decimal("12.34")
    assert publish(math.log(0.004)) == Decimal("0.01")


def test_rounding_to_cents_does_not_compound():
    # +10 % a year in ten-minute steps is a thousandth of a cent a step: if the engine
    # continued from the rounded price, a $1.00 stock would never move.
    steps_per_year = TRADING_DAYS_PER_YEAR * 39
    sim = Simulator(
        [stock("1.00", drift=0.10, volatility=0.0, beta=0.0)],
        seed=1,
        dt=10 * ONE_MINUTE,
        model=DIFFUSION_ONLY,
    )
    for _ in range(steps_per_year):
        last = sim.step()

    assert last.prices[0] == Decimal("1.11")  # exp(0.10) = 1.1052
    assert last.log_prices[0] == pytest.approx(0.10, abs=1e-9)


def test_an_instructor_shock_moves_the_price_by_its_percent():
    s = stock("80.00", drift=0.0, volatility=0.0, beta=0.0, shock=math.log(0.9))
    result = step([s], dt=ONE_MINUTE, rng=new_rng(3), model=DIFFUSION_ONLY)

    assert result.prices == [Decimal("72.00")]


def test_a_halted_stock_stays_put_and_does_not_change_the_others_path():
    a, b = stock("10.00", volatility=0.5), stock("20.00", volatility=0.5)
    moving = step([a, b], rng=new_rng(9), model=DEFAULT_MODEL)
    halted = step([replace(a, halted=True), b], rng=new_rng(9), model=DEFAULT_MODEL)

    assert halted.log_prices[0] == a.log_price
    assert halted.prices[0] == Decimal("10.00")
    assert moving.log_prices[0] != a.log_price
    assert halted.log_prices[1] == moving.log_prices[1]


def test_a_non_positive_step_is_refused():
    with pytest.raises(ValueError):
        step([stock()], dt=0, rng=new_rng(1))


# Volatility and drift -----------------------------------------------------------------


def test_annualized_volatility_matches_beta_and_idiosyncratic_volatility():
    beta, idio = 1.2, 0.30
    expected = math.sqrt((beta * DIFFUSION_ONLY.volatility) ** 2 + idio**2)  # 0.356
    n = 50_000
    (path,), _ = run([stock(beta=beta, volatility=idio)], n=n, seed=11)

    realized = statistics.stdev(log_returns(path)) * math.sqrt(TRADING_DAYS_PER_YEAR)

    # The sample standard deviation of n normal draws has a relative standard error of
    # 1/sqrt(2n) = 0.32 %; 2 % is about six of them. Leaving beta out would give 0.30.
    assert realized == pytest.approx(expected, rel=0.02)


def test_annualized_volatility_with_jumps_matches_the_model_total():
    beta, idio = 0.8, 0.20
    expected = DEFAULT_MODEL.total_volatility(volatility=idio, beta=beta)
    n = 100_000
    (path,), _ = run([stock(beta=beta, volatility=idio)], n=n, seed=12, model=DEFAULT_MODEL)

    realized = statistics.stdev(log_returns(path)) * math.sqrt(TRADING_DAYS_PER_YEAR)

    # Jumps fatten the tails, which widens the standard error of the estimate to about
    # 0.5 % here; 3 % is still far from the diffusion-only figure (5 % lower).
    assert realized == pytest.approx(expected, rel=0.03)
    assert expected > DEFAULT_MODEL.total_volatility(volatility=idio, beta=beta, jumps=False)


def test_mean_log_return_is_drift_minus_half_the_variance():
    # 400 independent stocks (beta 0) for 10 years in monthly steps: 4,000 stock-years.
    mu, sigma, years = 0.12, 0.50, 10
    stocks = [stock(drift=mu, volatility=sigma, beta=0.0) for _ in range(400)]
    paths, _ = run(stocks, n=12 * years, dt=21.0, seed=13)

    annual = statistics.fmean((p[-1] - p[0]) / (12 * years * 21 / 252) for p in paths)

    # Expected μ − σ²/2 = −0.005, standard error σ/sqrt(4000) = 0.0079; the tolerance is
    # four of them. Without the −σ²/2 the mean would be 0.12, fifteen standard errors away.
    assert annual == pytest.approx(mu - sigma**2 / 2, abs=0.032)


def test_mean_log_return_includes_the_market_variance_through_beta():
    # A high-beta stock's drift correction includes β²σ_m²: many independent markets.
    mu, beta, idio, years = 0.10, 1.5, 0.10, 10
    variance = (beta * DIFFUSION_ONLY.volatility) ** 2 + idio**2
    finals = []
    for seed in range(300):
        (path,), _ = run(
            [stock(drift=mu, volatility=idio, beta=beta)], n=12 * years, dt=21.0, seed=seed
        )
        finals.append((path[-1] - path[0]) / years)

    # Expected 0.0662; standard error sqrt(variance / 3000 years) = 0.0047; tolerance four
    # of them. Forgetting β²σ_m² would give 0.095, six standard errors away.
    assert statistics.fmean(finals) == pytest.approx(mu - variance / 2, abs=0.019)


def test_jumps_are_drift_compensated():
    # Frequent, large, mostly negative jumps and no diffusion: the expected price growth is
    # still exp(μ) a year because the compensator lifts the drift.
    model = MarketModel(
        market_jumps=Jumps(), stock_jumps=Jumps(intensity=20, mean=-0.1, volatility=0.1)
    )
    mu = 0.05
    stocks = [stock(drift=mu, volatility=0.0, beta=0.0) for _ in range(1000)]
    paths, _ = run(stocks, n=TRADING_DAYS_PER_YEAR, seed=14, model=model)

    growth = statistics.fmean(math.exp(p[-1] - p[0]) for p in paths)

    # Each year's growth factor has a standard deviation of about 0.7, so the mean of
    # 1,000 has a standard error of 0.022; the tolerance is four of them. Uncompensated,
    # the mean growth would be about 0.17.
    assert growth == pytest.approx(math.exp(mu), abs=0.09)


# Moving together ------------------------------------------------------------------------


def test_correlation_with_the_market_rises_with_beta_as_the_model_says():
    betas, idio = [0.5, 1.0, 1.5], 0.25
    stocks = [stock(beta=b, volatility=idio) for b in betas]
    index = stock(beta=1.0, volatility=0.01, is_index=True)
    n = 20_000
    paths, market = run([*stocks, index], n=n, seed=15)

    correlations = [statistics.correlation(log_returns(p), market) for p in paths]
    slopes = [statistics.linear_regression(market, log_returns(p)).slope for p in paths]

    sigma_m = DIFFUSION_ONLY.volatility
    for beta, rho, slope in zip(betas, correlations, slopes, strict=False):
        expected = beta * sigma_m / math.sqrt((beta * sigma_m) ** 2 + idio**2)
        # The standard error of a sample correlation is about (1 − ρ²)/sqrt(n) ≤ 0.007.
        assert rho == pytest.approx(expected, abs=0.03)
        # The regression slope on the market is beta (standard error about 1.5 % of it).
        assert slope == pytest.approx(beta, rel=0.08)
    assert correlations[0] < correlations[1] < correlations[2]
    # The index-like fund tracks the market factor almost perfectly.
    assert correlations[3] > 0.99
