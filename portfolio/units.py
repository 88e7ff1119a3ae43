"""The unit-value method, as funds price their shares: pure arithmetic, no database.

A student's portfolio is a fund that issues units. Every external flow (deposit, grant or
reset credit in; withdrawal or reset debit out) buys or redeems units at the value of one
unit at that moment, so flows change the number of units and never the unit value; only
gains and losses (price moves, fees) move the unit value. Units are first issued at 1.00,
so the time-weighted return (TWR) since the start is simply `unit_value − 1`: one number
per student, comparable between a student who deposited $1,000 and one who deposited
$100,000, and cheap to rank.

When is "that moment"? Prices move only at market ticks, so a flow made between two ticks
happened at the prices of the tick before it. The snapshot services catch every flow at the
first tick after it (see portfolio.services.after_tick) and value the portfolio at the
prices just before that tick (`value_before`), which makes the unit value at the flow
exact; between ticks no price has moved since the flows not yet caught, so the live value
`(total value − flows since the last snapshot) / units` is exact too.
"""

from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal

ONE = Decimal("1")
ZERO = Decimal("0")
UNIT_PLACES = Decimal("0.00000001")
HALF_CENT = Decimal("0.005")


def q8(value: Decimal) -> Decimal:
    """Units and unit values are kept to eight places, half away from zero."""
    return value.quantize(UNIT_PLACES, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class UnitState:
    """The unit-value state after a snapshot (or the defaults before the first one).

    `contributions` are the net contributions already turned into units: the flows since
    the snapshot are today's net contributions minus it."""

    units: Decimal = ZERO
    unit_value: Decimal = ONE
    peak_unit_value: Decimal = ONE
    max_drawdown: Decimal = ZERO
    contributions: Decimal = ZERO
    started: bool = False

    @property
    def twr(self) -> Decimal:
        return self.unit_value - ONE


def live_unit_value(state: UnitState, *, total_value: Decimal, net_contributions: Decimal):
    """The unit value now, with no price move since the flows not yet turned into units.

    Before the first snapshot, units are the net contributions issued at 1.00. The SQL twin
    is portfolio.selectors.live_unit_value_expression; keep the two in step."""
    if not state.started:
        return max(total_value / net_contributions, ZERO) if net_contributions > 0 else ONE
    if state.units > 0:
        flows = net_contributions - state.contributions
        return max((total_value - flows) / state.units, ZERO)
    return state.unit_value


def drawdown(peak: Decimal, unit_value: Decimal) -> Decimal:
    """The fall from `peak` to `unit_value` as a fraction (0.125 = 12.5 % below the peak)."""
    if peak <= 0 or unit_value >= peak:
        return ZERO
    return ONE - unit_value / peak


def next_state(
    state: UnitState,
    *,
    value_before: Decimal,
    value_after: Decimal,
    net_contributions: Decimal,
) -> UnitState:
    """The state after a snapshot.

    `value_before` is the portfolio's value (flows included) at the prices before the tick
    that the snapshot follows, `value_after` its value at today's prices; both are the same
    for a snapshot taken between ticks. The flows since the last snapshot buy (or redeem)
    units at the unit value just before them, `(value_before − flows) / units`; then the
    tick's move sets the new unit value, `value_after / units`.

    Corner cases: a portfolio with no units (a new student, or one who withdrew everything)
    issues new units at the last unit value (1.00 at the start). Units worth less than half
    a cent are written off, so an emptied account starts again cleanly.

    Equity at or below zero (a margin account that lost more than it had): the unit value
    is 0, never less, so the time-weighted return is −100 % at worst and the drawdown 100 %
    at worst (the total value and the total return still show the loss beyond). Its units
    stay: if the prices come back before any flow, so does the unit value. But flows into
    (or out of) a portfolio worth nothing or less just before them buy no units: the units
    are worth nothing then, so the units are written off, and the unit value stays 0 — as
    the time-weighted return, a chain of the periods' returns, stays −100 % once one period
    lost everything.
    """
    flows = net_contributions - state.contributions
    units = state.units
    price = state.unit_value  # of one unit just before the flows
    if flows:
        if units > 0:
            price = max(q8((value_before - flows) / units), ZERO)
        units = units + flows / price if price > 0 else ZERO
        if units <= 0 or units * price < HALF_CENT:
            units = ZERO
    units = q8(units)
    # With no units left, the unit value stays where the last of them were redeemed.
    unit_value = max(q8(value_after / units), ZERO) if units > 0 else price
    peak = max(state.peak_unit_value, unit_value)
    worst = max(state.max_drawdown, q8(drawdown(peak, unit_value)))
    return replace(
        state,
        units=units,
        unit_value=unit_value,
        peak_unit_value=peak,
        max_drawdown=worst,
        contributions=net_contributions,
        started=True,
    )
