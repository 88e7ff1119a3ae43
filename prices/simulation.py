"""The price engine: a single-index model in log space with rare jumps. Pure Python, no
database, deterministic for a given random generator.

For a stock with annual drift μ, idiosyncratic volatility σ_ε and beta β, one step of
length dt (in years) moves the log-price by

    (μ − σ²/2)·dt − c  +  β·σ_m·√dt·Z_m  +  σ_ε·√dt·Z_i  +  β·J_m  +  J_i

where σ² = β²σ_m² + σ_ε² is the stock's total diffusion variance, Z_m (shared by every
stock: the market factor, which makes stocks move together) and Z_i (the stock's own)
are independent standard normals, and J_m / J_i are Merton-style jumps: with a small
probability per step the market or the company "gaps" by a normally distributed log
amount. c is the jump compensator: it is chosen so the jumps do not change the expected
price, E[S(t+dt)/S(t)] = exp(μ·dt) exactly, whatever the step length.

The engine keeps the unrounded log-price as its state and only publishes prices rounded
to cents (never below $0.01), so rounding never compounds from one step to the next.
"""

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

TRADING_DAYS_PER_YEAR = 252
MINUTES_PER_TRADING_DAY = 390  # 9:30 to 16:00
ONE_MINUTE = 1 / MINUTES_PER_TRADING_DAY  # a step length in trading days

# The state is held between a cent and a billion dollars: below a cent a stock could sink
# for years out of sight of the (floored) published price, and above a billion the price
# would overflow the money columns after a few instructor shocks.
LOG_MIN_PRICE = math.log(0.01)
LOG_MAX_PRICE = math.log(1e9)


@dataclass(frozen=True)
class Jumps:
    """Rare gaps: `intensity` expected jumps a year, log sizes ~ N(mean, volatility²)."""

    intensity: float = 0.0
    mean: float = 0.0
    volatility: float = 0.0

    def probability(self, dt_years: float) -> float:
        """The chance of a jump in one step (Bernoulli, so at most one per step)."""
        return min(1.0, max(0.0, self.intensity * dt_years))

    def compensator(self, dt_years: float, scale: float = 1.0) -> float:
        """ln E[jump factor] over one step for a stock that takes `scale`× the jump.

        Subtracting it from the drift keeps the expected price growth at exp(μ·dt)."""
        p = self.probability(dt_years)
        if p == 0.0:
            return 0.0
        k = math.exp(scale * self.mean + 0.5 * (scale * self.volatility) ** 2) - 1.0
        return math.log1p(p * k)

    def variance(self, scale: float = 1.0) -> float:
        """The annual variance the jumps add to the log-price (for small probabilities)."""
        return self.intensity * scale * scale * (self.mean**2 + self.volatility**2)


NO_JUMPS = Jumps()


@dataclass(frozen=True)
class MarketModel:
    """The parameters shared by every stock."""

    # The market factor's own annual drift and volatility (a broad index: about 7 % and 16 %).
    drift: float = 0.07
    volatility: float = 0.16
    # A market-wide gap about once a year, on average a small drop.
    market_jumps: Jumps = Jumps(intensity=1.0, mean=-0.02, volatility=0.03)
    # Company news: about twice a year per stock, up or down by about 5 %.
    stock_jumps: Jumps = Jumps(intensity=2.0, mean=0.0, volatility=0.05)

    def total_volatility(self, *, volatility: float, beta: float, jumps: bool = True) -> float:
        """A stock's expected annualized volatility of log-returns, jumps included."""
        variance = (beta * self.volatility) ** 2 + volatility**2
        if jumps:
            variance += self.market_jumps.variance(beta) + self.stock_jumps.variance()
        return math.sqrt(variance)


DEFAULT_MODEL = MarketModel()
DIFFUSION_ONLY = MarketModel(market_jumps=NO_JUMPS, stock_jumps=NO_JUMPS)


@dataclass(slots=True)
class Stock:
    """One symbol's engine state and parameters (a plain record: slots, for speed).

    `shock` is an extra log move applied at this step (an instructor's news event).
    A halted stock keeps its state; it still consumes its random draws, so halting one
    symbol does not change the path of any other.
    An index stock (`is_index`) has no company news of its own."""

    log_price: float
    drift: float
    volatility: float
    beta: float
    shock: float = 0.0
    halted: bool = False
    is_index: bool = False


@dataclass(frozen=True)
class Step:
    log_prices: list[float]
    cents: list[int]  # the published prices in whole cents
    prices: list[Decimal]  # the same as Decimal dollars
    market_return: float  # the market factor's log-return over the step


def cents_of(log_price: float) -> int:
    """exp(state) rounded half-up to whole cents, at least one cent.

    Rounded as an integer (3× faster than quantizing the float's exact decimal expansion,
    which matters at 50,000 symbols a tick); the two differ only when exp(state) lies
    within about 1e-13 of a half cent."""
    return max(1, math.floor(math.exp(log_price) * 100 + 0.5))


def dollars(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def publish(log_price: float) -> Decimal:
    """The price shown and traded: exp(state) rounded half-up to cents, at least $0.01."""
    return dollars(cents_of(log_price))


def log_of(price: Decimal | float) -> float:
    """The engine state for a published price."""
    return min(max(math.log(float(price)), LOG_MIN_PRICE), LOG_MAX_PRICE)


def new_rng(seed: int | None = None) -> random.Random:
    return random.Random(seed)


def step(
    stocks: Sequence[Stock],
    *,
    dt: float = ONE_MINUTE,
    rng: random.Random,
    model: MarketModel = DEFAULT_MODEL,
) -> Step:
    """Advance every stock by one step of `dt` trading days.

    Draw order (what makes a seed reproduce a path): the market's normal and jump draw,
    then for each stock in the given order its normal and its jump draw (plus the jump
    size when a jump happens)."""
    if not dt > 0:
        raise ValueError("dt must be positive")
    dt_years = dt / TRADING_DAYS_PER_YEAR
    sqrt_dt = math.sqrt(dt_years)
    gauss = rng.gauss
    uniform = rng.random

    mj, sj = model.market_jumps, model.stock_jumps
    p_market, p_stock = mj.probability(dt_years), sj.probability(dt_years)
    stock_jump_comp = sj.compensator(dt_years)

    market_shock = model.volatility * sqrt_dt * gauss(0.0, 1.0)
    market_jump = gauss(mj.mean, mj.volatility) if uniform() < p_market else 0.0
    market_return = (
        (model.drift - 0.5 * model.volatility**2) * dt_years
        - mj.compensator(dt_years)
        + market_shock
        + market_jump
    )
    market_var = model.volatility**2
    market_jump_comp: dict[float, float] = {}  # by beta: a market has a handful of betas

    log_prices: list[float] = []
    for s in stocks:
        z = gauss(0.0, 1.0)
        jump = gauss(sj.mean, sj.volatility) if uniform() < p_stock else 0.0
        if s.halted:
            log_prices.append(s.log_price)
            continue
        beta = s.beta
        comp = market_jump_comp.get(beta)
        if comp is None:
            comp = market_jump_comp[beta] = mj.compensator(dt_years, beta)
        variance = beta * beta * market_var + s.volatility * s.volatility
        drift = (s.drift - 0.5 * variance) * dt_years - comp
        if s.is_index:
            jump = 0.0
        else:
            drift -= stock_jump_comp
        x = (
            s.log_price
            + drift
            + beta * (market_shock + market_jump)
            + s.volatility * sqrt_dt * z
            + jump
            + s.shock
        )
        log_prices.append(min(max(x, LOG_MIN_PRICE), LOG_MAX_PRICE))
    cents = [cents_of(x) for x in log_prices]
    return Step(
        log_prices=log_prices,
        cents=cents,
        prices=[dollars(c) for c in cents],
        market_return=market_return,
    )


class Simulator:
    """A market held in memory: for tests, notebooks and the benchmark."""

    def __init__(
        self,
        stocks: Sequence[Stock],
        *,
        seed: int | None = None,
        dt: float = ONE_MINUTE,
        model: MarketModel = DEFAULT_MODEL,
    ):
        self.stocks = list(stocks)
        self.rng = new_rng(seed)
        self.dt = dt
        self.model = model

    def step(self) -> Step:
        result = step(self.stocks, dt=self.dt, rng=self.rng, model=self.model)
        self.stocks = [
            Stock(
                log_price=x,
                drift=s.drift,
                volatility=s.volatility,
                beta=s.beta,
                halted=s.halted,
                is_index=s.is_index,
            )
            for s, x in zip(self.stocks, result.log_prices, strict=True)
        ]
        return result
