"""The price engine: a single-index model in log space with rare jumps and a market whose
volatility switches between calm and stormy spells. Pure Python, no database,
deterministic for a given random generator.

For a stock with annual drift μ, idiosyncratic volatility σ_ε and beta β, one step of
length dt (in years) moves the log-price by

    (μ − σ²/2)·dt − c  +  β·σ_m·√dt·Z_m  +  σ_ε·√dt·Z_i  +  β·J_m  +  J_i

where σ² = β²σ_m² + σ_ε² is the stock's total diffusion variance, Z_m (shared by every
stock: the market factor, which makes stocks move together) and Z_i (the stock's own)
are independent standard normals, and J_m / J_i are Merton-style jumps: with a small
probability per step the market or the company "gaps" by a normally distributed log
amount. c is the jump compensator: it is chosen so the jumps do not change the expected
price, E[S(t+dt)/S(t)] = exp(μ·dt) exactly, whatever the step length.

Volatility that clusters. σ_m is the volatility of the market's current regime, calm or
turbulent ("stormy" on the students' pages), times an optional scale a scenario sets. The
regime is a two-state Markov chain in continuous time: a calm spell lasts `calm_days`
trading days on average and a stormy one `turbulent_days` (exponentially distributed), so
after each step of dt trading days the regime switches with probability
1 − exp(−dt / mean spell of the regime it is in). Quiet weeks follow quiet weeks and
wild ones wild ones, which is what makes |returns| correlated over weeks while the returns
themselves stay uncorrelated, and the mix of two normal regimes gives fat tails. Because
the σ²/2 correction uses the step's own σ_m, the expected price growth stays exp(μ·dt)
in either regime: a storm widens the moves, it does not tilt them.

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

CALM = "calm"
TURBULENT = "turbulent"
REGIMES = (CALM, TURBULENT)


@dataclass(frozen=True)
class MarketModel:
    """The parameters shared by every stock (prices.models.MarketParameters holds the
    market's own, with the same defaults)."""

    # The market factor's own annual drift (a broad index: about 7 %).
    drift: float = 0.07
    # Its annual volatility in each regime, and how many trading days a spell of each lasts
    # on average: a stormy spell of three weeks or so every three months, which averages
    # out at about 17 % a year (plus the jumps), a broad index's figure.
    calm_volatility: float = 0.12
    turbulent_volatility: float = 0.30
    calm_days: float = 60.0
    turbulent_days: float = 15.0
    # A market-wide gap about once a year, on average a small drop.
    market_jumps: Jumps = Jumps(intensity=1.0, mean=-0.02, volatility=0.03)
    # Company news: about twice a year per stock, up or down by about 5 %.
    stock_jumps: Jumps = Jumps(intensity=2.0, mean=0.0, volatility=0.05)

    def __post_init__(self):
        if not (self.calm_volatility >= 0 and self.turbulent_volatility >= 0):
            raise ValueError("A volatility cannot be negative.")
        if not (self.calm_days > 0 and self.turbulent_days > 0):
            raise ValueError("A calm or stormy spell must last more than zero days.")

    @classmethod
    def constant(cls, volatility: float = 0.16, **kwargs) -> "MarketModel":
        """A market whose volatility never changes: one regime in effect."""
        return cls(calm_volatility=volatility, turbulent_volatility=volatility, **kwargs)

    @property
    def switches(self) -> bool:
        """Whether the regime matters: calm and stormy spells differ in volatility."""
        return self.calm_volatility != self.turbulent_volatility

    def regime_volatility(self, regime: str) -> float:
        """The market factor's annual volatility in `regime`."""
        if regime == CALM:
            return self.calm_volatility
        if regime == TURBULENT:
            return self.turbulent_volatility
        raise ValueError(f"Unknown regime {regime!r}: calm or turbulent.")

    def switch_probability(self, regime: str, dt: float) -> float:
        """The chance that a spell of `regime` ends within a step of `dt` trading days."""
        days = self.calm_days if regime == CALM else self.turbulent_days
        return -math.expm1(-dt / days)

    @property
    def turbulent_share(self) -> float:
        """The long-run share of trading days spent in stormy spells (the chain's
        stationary probability of the turbulent state)."""
        return self.turbulent_days / (self.calm_days + self.turbulent_days)

    @property
    def volatility(self) -> float:
        """The market factor's long-run annual volatility without jumps: the stationary
        mix of the two regimes' variances."""
        share = self.turbulent_share
        variance = (1 - share) * self.calm_volatility**2 + share * self.turbulent_volatility**2
        return math.sqrt(variance)

    def market_volatility(self, *, jumps: bool = True) -> float:
        """The market factor's (an index fund's) long-run annualized volatility of
        log-returns, its jumps included."""
        variance = self.volatility**2
        if jumps:
            variance += self.market_jumps.variance()
        return math.sqrt(variance)

    def total_volatility(self, *, volatility: float, beta: float, jumps: bool = True) -> float:
        """A stock's expected long-run annualized volatility of log-returns (the regimes'
        stationary mix), jumps included."""
        variance = (beta * self.volatility) ** 2 + volatility**2
        if jumps:
            variance += self.market_jumps.variance(beta) + self.stock_jumps.variance()
        return math.sqrt(variance)


DEFAULT_MODEL = MarketModel()
# One volatility, 16 % a year: the engine before it had regimes (the same paths for a seed).
CONSTANT_MODEL = MarketModel.constant(0.16)
DIFFUSION_ONLY = MarketModel.constant(0.16, market_jumps=NO_JUMPS, stock_jumps=NO_JUMPS)


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
    regime: str = CALM  # the market's regime after the step: the next step's


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
    regime: str = CALM,
    volatility_scale: float = 1.0,
    hold_regime: bool = False,
) -> Step:
    """Advance every stock by one step of `dt` trading days.

    The market factor moves with the volatility of `regime` (the regime in force during
    the step) times `volatility_scale`; then the regime may switch (see the module's
    docstring), unless `hold_regime`, and Step.regime is the regime for the next step.
    A model whose two regimes have the same volatility has no regimes to speak of: its
    regime stays CALM (or `regime`, when held) and it draws nothing for them.

    Draw order (what makes a seed reproduce a path): the market's normal and jump draw
    (plus the jump size when a jump happens), then for each stock in the given order its
    normal and its jump draw (plus the jump size), then, for a model that switches, one
    uniform draw for the regime — drawn even when the regime is held, so holding it (or
    scaling the volatility) changes the sizes of the moves but not the draws behind them.
    A model without switching draws exactly what the engine drew before it had regimes."""
    if not dt > 0:
        raise ValueError("dt must be positive")
    if not volatility_scale >= 0:
        raise ValueError("volatility_scale must be zero or more")
    market_vol = model.regime_volatility(regime) * volatility_scale
    dt_years = dt / TRADING_DAYS_PER_YEAR
    sqrt_dt = math.sqrt(dt_years)
    gauss = rng.gauss
    uniform = rng.random

    mj, sj = model.market_jumps, model.stock_jumps
    p_market, p_stock = mj.probability(dt_years), sj.probability(dt_years)
    stock_jump_comp = sj.compensator(dt_years)

    market_shock = market_vol * sqrt_dt * gauss(0.0, 1.0)
    market_jump = gauss(mj.mean, mj.volatility) if uniform() < p_market else 0.0
    market_return = (
        (model.drift - 0.5 * market_vol**2) * dt_years
        - mj.compensator(dt_years)
        + market_shock
        + market_jump
    )
    market_var = market_vol**2
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
    if model.switches:
        switched = uniform() < model.switch_probability(regime, dt)
        if switched and not hold_regime:
            regime = TURBULENT if regime == CALM else CALM
    elif not hold_regime:
        regime = CALM
    return Step(
        log_prices=log_prices,
        cents=cents,
        prices=[dollars(c) for c in cents],
        market_return=market_return,
        regime=regime,
    )


class Simulator:
    """A market held in memory, its regime with it: for tests, notebooks, previews and
    the benchmark."""

    def __init__(
        self,
        stocks: Sequence[Stock],
        *,
        seed: int | None = None,
        dt: float = ONE_MINUTE,
        model: MarketModel = DEFAULT_MODEL,
        regime: str = CALM,
    ):
        model.regime_volatility(regime)  # a known regime
        self.stocks = list(stocks)
        self.rng = new_rng(seed)
        self.dt = dt
        self.model = model
        self.regime = regime

    def step(
        self, *, regime: str | None = None, volatility_scale: float = 1.0, hold_regime: bool = False
    ) -> Step:
        """One step from the simulator's regime (or `regime`, which replaces it)."""
        result = step(
            self.stocks,
            dt=self.dt,
            rng=self.rng,
            model=self.model,
            regime=regime or self.regime,
            volatility_scale=volatility_scale,
            hold_regime=hold_regime,
        )
        self.regime = result.regime
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
