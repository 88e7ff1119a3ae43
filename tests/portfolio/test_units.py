"""The unit-value arithmetic (portfolio.units): pure functions, no database."""

from decimal import Decimal

from portfolio.units import UnitState, drawdown, live_unit_value, next_state

D = Decimal


def started(units: str, unit_value: str, contributions: str) -> UnitState:
    return UnitState(
        units=D(units),
        unit_value=D(unit_value),
        peak_unit_value=max(D(unit_value), D("1")),
        contributions=D(contributions),
        started=True,
    )


def test_a_unit_value_halfway_between_two_eighth_places_rounds_up():
    state = next_state(
        UnitState(),
        value_before=D("2000000.00"),
        value_after=D("2000000.01"),
        net_contributions=D("2000000.00"),
    )

    assert state.units == D("2000000")
    assert state.unit_value == D("1.00000001")  # 1.000000005, half away from zero


def test_a_portfolio_under_a_dollar_gets_units_and_follows_its_prices():
    opened = next_state(
        UnitState(), value_before=D("0.50"), value_after=D("0.50"), net_contributions=D("0.50")
    )
    assert (opened.units, opened.unit_value) == (D("0.5"), D("1"))

    # Its shares rose 20 % (0.50 → 0.60), then it deposited 0.60, then the tick moved it
    # again: the deposit buys 0.60 / 1.20 = 0.5 units, and 1.32 / 1 unit is the new value.
    later = next_state(
        opened, value_before=D("1.20"), value_after=D("1.32"), net_contributions=D("1.10")
    )

    assert (later.units, later.unit_value) == (D("1"), D("1.32"))
    assert later.twr == D("0.32")
    assert later.peak_unit_value == D("1.32")


def test_the_live_unit_value_of_a_portfolio_under_a_dollar():
    before_any_snapshot = UnitState()
    after_one = started("0.5", "1", "0.50")

    for state in (before_any_snapshot, after_one):
        value = live_unit_value(state, total_value=D("0.60"), net_contributions=D("0.50"))
        assert value == D("1.2")


def test_the_live_unit_value_leaves_out_the_flows_not_yet_turned_into_units():
    state = started("1000", "1.2", "1000.00")

    # 1,200 now, of which the 100 deposited since the snapshot bought no units yet
    assert live_unit_value(state, total_value=D("1300.00"), net_contributions=D("1100.00")) == D(
        "1.2"
    )


def test_the_live_unit_value_with_no_units_is_the_last_one():
    never_funded = UnitState()
    emptied = started("0", "0.8", "0.00")

    assert live_unit_value(never_funded, total_value=D("0"), net_contributions=D("0")) == 1
    assert live_unit_value(emptied, total_value=D("0"), net_contributions=D("0")) == D("0.8")


def test_flows_into_a_portfolio_worth_nothing_before_them_buy_no_units():
    # The units were worth nothing just before the deposit (a margin account can lose all
    # it had): the time-weighted return stays at −100 %, not at the last unit value's.
    state = next_state(
        started("1000", "0.8", "1000.00"),
        value_before=D("500.00"),  # the deposit of 500 is all there is
        value_after=D("500.00"),
        net_contributions=D("1500.00"),
    )

    assert (state.units, state.unit_value, state.max_drawdown) == (D("0"), D("0"), D("1"))


def test_an_equity_below_zero_is_a_unit_value_of_zero_and_a_drawdown_of_one():
    # $10,000 put in; a margin account's equity falls to −$2,000.
    state = next_state(
        started("10000", "1", "10000.00"),
        value_before=D("-2000.00"),
        value_after=D("-2000.00"),
        net_contributions=D("10000.00"),
    )

    assert (state.units, state.unit_value) == (D("10000"), D("0"))
    assert (state.twr, state.max_drawdown) == (D("-1"), D("1"))
    # The units stay: if the prices come back before any flow, so does the unit value.
    back = next_state(
        state, value_before=D("5000.00"), value_after=D("5000.00"), net_contributions=D("10000.00")
    )
    assert back.unit_value == D("0.5")
    assert live_unit_value(state, total_value=D("-2000.00"), net_contributions=D("10000.00")) == 0
    assert live_unit_value(UnitState(), total_value=D("-1.00"), net_contributions=D("5.00")) == 0


def test_a_deposit_after_the_unit_value_fell_to_zero_issues_no_units():
    state = next_state(
        started("1000", "0", "1000.00"),
        value_before=D("100.00"),
        value_after=D("100.00"),
        net_contributions=D("1100.00"),
    )

    assert (state.units, state.unit_value) == (D("0"), D("0"))


def test_withdrawing_everything_at_a_rounded_unit_price_leaves_no_stray_units():
    # 3 units worth 2.00: the unit price 0.66666667 is rounded, so redeeming 2.00 leaves
    # 0.000000015 units. Kept, they would be worth 0.00 and set the unit value to zero.
    state = next_state(
        started("3", "0.66666667", "3.00"),
        value_before=D("0.00"),
        value_after=D("0.00"),
        net_contributions=D("1.00"),
    )

    assert (state.units, state.unit_value) == (D("0"), D("0.66666667"))


def test_units_worth_a_cent_are_kept_at_a_high_unit_value():
    state = next_state(
        started("100", "10", "100.00"),
        value_before=D("0.01"),  # after withdrawing 999.99 of 1,000.00
        value_after=D("0.01"),
        net_contributions=D("-899.99"),
    )

    assert (state.units, state.unit_value) == (D("0.001"), D("10"))


def test_drawdown_is_the_fall_from_the_peak_and_zero_at_or_above_it():
    assert drawdown(D("1.25"), D("1.00")) == D("0.2")
    assert drawdown(D("1.25"), D("1.25")) == 0
    assert drawdown(D("1.00"), D("1.20")) == 0  # a live value above the last recorded peak
