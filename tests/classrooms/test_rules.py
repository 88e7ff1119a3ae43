"""The rulebook: where a student's rules come from, and the rules that need no data."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from classrooms.models import Classroom
from classrooms.rules import (
    DEPOSIT,
    WITHDRAWAL,
    CashMovement,
    Order,
    Rulebook,
    check_deposit,
    check_order,
    check_withdrawal,
    percent,
    rulebook_for,
)
from tests.factories import ClassroomFactory, StudentFactory

START = datetime(2027, 1, 11, 14, 30, tzinfo=UTC)  # Mon 11 Jan 2027, 14:30 UTC
END = START + timedelta(days=30)


def test_a_student_in_no_class_plays_by_the_settings(settings, db):
    settings.STARTING_CASH = Decimal("5000.00")
    settings.COMMISSION_PER_TRADE = Decimal("4.95")
    settings.DEPOSITS_OPEN = False

    rules = rulebook_for(StudentFactory(classroom=None))

    assert rules.classroom_id is None
    assert rules.starting_cash == Decimal("5000.00")
    assert rules.commission(quantity=10, total=Decimal("1000.00")) == Decimal("4.95")
    assert rules.deposits_open is False
    assert rules.check_window(START) is None


def test_a_student_in_a_class_plays_by_its_rules(db, django_assert_num_queries):
    room = ClassroomFactory(starting_cash=Decimal("25000.00"), max_position_percent=25)
    student = StudentFactory(classroom=room)

    with django_assert_num_queries(1):
        rules = rulebook_for(student)

    assert (rules.classroom_id, rules.class_name) == (room.pk, room.name)
    assert rules.starting_cash == Decimal("25000.00")
    assert rules.max_position_percent == Decimal("25")


@pytest.mark.parametrize(
    ("moment", "refused_by"),
    [
        (START - timedelta(seconds=1), "starts_at"),
        (START, None),  # the first second of the window
        (END - timedelta(seconds=1), None),  # the last second
        (END, "ends_at"),
    ],
)
def test_the_trading_window_includes_its_first_and_last_second(moment, refused_by):
    refusal = Rulebook(starts_at=START, ends_at=END).check_window(moment)

    assert (refusal.rule if refusal else None) == refused_by


def test_before_the_start_the_refusal_says_when_trading_opens(settings):
    settings.TIME_ZONE = "UTC"

    refusal = Rulebook(starts_at=START).check_window(START - timedelta(days=1))

    assert refusal.message == "Trading opens Mon 11 Jan 2027 at 14:30."


@pytest.mark.parametrize(
    ("kind", "amount", "minimum", "quantity", "total", "commission"),
    [
        (Classroom.Commission.NONE, "9", "0", 10, "1000.00", "0.00"),
        (Classroom.Commission.FLAT, "4.95", "0", 10, "1000.00", "4.95"),
        (Classroom.Commission.PER_SHARE, "0.005", "0", 10, "1000.00", "0.05"),
        (Classroom.Commission.PER_SHARE, "0.005", "0", 1, "100.00", "0.01"),  # half a cent up
        (Classroom.Commission.PERCENT, "0.5", "1.00", 10, "1000.00", "5.00"),
        (Classroom.Commission.PERCENT, "0.5", "1.00", 1, "100.00", "1.00"),  # the minimum
        (Classroom.Commission.PERCENT, "0.25", "0", 1, "1.02", "0.00"),  # 0.255 cents
        (Classroom.Commission.PERCENT, "0.25", "0", 1, "2.00", "0.01"),  # 0.5 cent, half up
    ],
)
def test_commission_by_kind(kind, amount, minimum, quantity, total, commission):
    rules = Rulebook(
        commission_kind=kind,
        commission_amount=Decimal(amount),
        commission_minimum=Decimal(minimum),
    )

    assert rules.commission(quantity=quantity, total=Decimal(total)) == Decimal(commission)


# Orders --------------------------------------------------------------------------------


def order(side="buy", *, symbol="AAPL", quantity=10, price="100.00", commission="0.00", **facts):
    price = Decimal(price)
    return Order(
        side=side,
        symbol=symbol,
        quantity=quantity,
        price=price,
        total=price * quantity,
        commission=Decimal(commission),
        at=facts.pop("at", START),
        **facts,
    )


def refused_by(rules, facts):
    refusal = check_order(rules, facts)
    return refusal.rule if refusal else None


def test_a_rulebook_without_limits_allows_any_order():
    assert check_order(Rulebook(), order(quantity=1_000_000, trades_today=10_000)) is None


@pytest.mark.parametrize(
    ("price", "refused"),
    [("0.99", "min_share_price"), ("1.00", None), ("1.01", None)],
)
def test_the_lowest_share_price_allows_a_price_exactly_at_it(price, refused):
    rules = Rulebook(min_share_price=Decimal("1.00"))

    assert refused_by(rules, order(price=price)) == refused


def test_the_lowest_share_price_names_the_rule_the_price_and_the_symbol():
    refusal = check_order(Rulebook(min_share_price=Decimal("1.00")), order(price="0.45"))

    assert refusal.message == (
        "Your class does not allow buying shares priced below $1.00; AAPL is at $0.45."
    )


def test_a_stock_below_the_lowest_price_may_still_be_sold():
    rules = Rulebook(min_share_price=Decimal("5.00"))

    assert refused_by(rules, order("sell", price="0.45")) is None


@pytest.mark.parametrize("side", ["buy", "sell"])
@pytest.mark.parametrize(("made", "refused"), [(0, None), (2, None), (3, "max_trades_per_day")])
def test_the_most_trades_a_day_counts_buys_and_sells(side, made, refused):
    rules = Rulebook(max_trades_per_day=3)

    assert refused_by(rules, order(side, trades_today=made)) == refused


def test_the_most_trades_a_day_says_how_many_were_made():
    refusal = check_order(Rulebook(max_trades_per_day=3), order(trades_today=3))

    assert refusal.message == (
        "Your class allows at most 3 trades per market day, and you have made 3 today. You "
        "can trade again when the market opens its next day."
    )


# A portfolio of $10,000: $9,000 in cash and $1,000 in shares.
PORTFOLIO = {"cash": Decimal("9000.00"), "holdings_value": Decimal("1000.00")}


@pytest.mark.parametrize(
    ("quantity", "price", "refused"),
    [
        (25, "100.00", None),  # $2,500 of $10,000: exactly 25 %
        (1, "2500.00", None),  # one share of exactly 25 %
        (1, "2500.01", "max_position_percent"),  # a cent over
        (26, "100.00", "max_position_percent"),
    ],
)
def test_the_most_in_one_stock_allows_exactly_the_limit(quantity, price, refused):
    rules = Rulebook(max_position_percent=Decimal("25"))

    assert refused_by(rules, order(quantity=quantity, price=price, **PORTFOLIO)) == refused


def test_the_most_in_one_stock_counts_the_shares_held_already():
    rules = Rulebook(max_position_percent=Decimal("25"))
    # 10 AAPL at $100 held (in the holdings' value); 16 more make 26 of $10,000.
    facts = order(quantity=16, held=10, **PORTFOLIO)

    refusal = check_order(rules, facts)

    assert refusal.rule == "max_position_percent"
    assert refusal.message == (
        "Your class allows at most 25 % of your portfolio in one stock; after this buy AAPL "
        "would be 26 %."
    )
    assert refused_by(rules, order(quantity=15, held=10, **PORTFOLIO)) is None


def test_the_most_in_one_stock_counts_the_commission_out_of_the_portfolio():
    rules = Rulebook(max_position_percent=Decimal("25"))

    # $2,500 of $10,000 is 25 %, but of the $9,999 left after a $1 commission a little more.
    refusal = check_order(rules, order(quantity=25, commission="1.00", **PORTFOLIO))

    assert refusal.rule == "max_position_percent"
    assert refusal.message.endswith("after this buy AAPL would be 25.01 %.")


def test_the_most_in_one_stock_rounds_the_percent_in_its_message():
    rules = Rulebook(max_position_percent=Decimal("25"))
    # $3,100 of $10,000 … the example: 31 %.
    refusal = check_order(rules, order(quantity=31, **PORTFOLIO))

    assert refusal.message == (
        "Your class allows at most 25 % of your portfolio in one stock; after this buy AAPL "
        "would be 31 %."
    )


def test_a_sale_is_never_refused_for_the_most_in_one_stock():
    rules = Rulebook(max_position_percent=Decimal("10"))

    assert refused_by(rules, order("sell", held=100, **PORTFOLIO)) is None


def test_the_window_is_asked_before_the_other_order_rules():
    rules = Rulebook(starts_at=START, min_share_price=Decimal("5.00"))

    assert refused_by(rules, order(price="1.00", at=START - timedelta(seconds=1))) == "starts_at"
    assert refused_by(rules, order(price="1.00", at=START)) == "min_share_price"


def test_a_rulebook_says_which_figures_its_rules_need():
    assert not any(
        (Rulebook().counts_trades_today, Rulebook().values_portfolio, Rulebook().counts_deposits)
    )
    assert Rulebook(max_trades_per_day=1).counts_trades_today
    assert Rulebook(max_position_percent=Decimal("1")).values_portfolio
    assert Rulebook(max_total_deposits=Decimal("0")).counts_deposits


# Cash ----------------------------------------------------------------------------------


def deposit_of(amount, *, deposited="0.00", at=START):
    return CashMovement(kind=DEPOSIT, amount=Decimal(amount), at=at, deposited=Decimal(deposited))


def withdrawal_of(amount, *, at=START):
    return CashMovement(kind=WITHDRAWAL, amount=Decimal(amount), at=at)


@pytest.mark.parametrize(
    ("amount", "refused"),
    [("400.00", None), ("400.01", "max_total_deposits")],
)
def test_the_deposit_cap_reached_exactly_is_allowed(amount, refused):
    rules = Rulebook(max_total_deposits=Decimal("1000.00"))

    refusal = check_deposit(rules, deposit_of(amount, deposited="600.00"))

    assert (refusal.rule if refusal else None) == refused


def test_the_deposit_cap_says_what_is_left_or_that_nothing_is():
    rules = Rulebook(max_total_deposits=Decimal("1000.00"))

    some_left = check_deposit(rules, deposit_of("500.00", deposited="600.00"))
    none_left = check_deposit(rules, deposit_of("0.01", deposited="1000.00"))

    assert some_left.message == (
        "Deposits are capped at $1,000.00 per student; you can deposit at most $400.00 more."
    )
    assert none_left.message == (
        "You have reached the class limit of $1,000.00 in deposits, so no more deposits are "
        "possible."
    )


def test_closed_deposits_and_withdrawals_are_refused_by_their_own_rules():
    rules = Rulebook(deposits_open=False, withdrawals_open=False)

    assert check_deposit(rules, deposit_of("1.00")).rule == "deposits_open"
    assert check_withdrawal(rules, withdrawal_of("1.00")).rule == "withdrawals_open"
    assert check_withdrawal(Rulebook(deposits_open=False), withdrawal_of("1.00")) is None
    assert check_deposit(Rulebook(withdrawals_open=False), deposit_of("1.00")) is None


@pytest.mark.parametrize(
    ("moment", "refused"),
    [
        (START - timedelta(days=3), None),  # getting ready before the class starts
        (END - timedelta(seconds=1), None),  # the last second
        (END, "ends_at"),
    ],
)
def test_cash_moves_until_the_class_ends(moment, refused):
    rules = Rulebook(starts_at=START, ends_at=END)

    for refusal in (
        check_deposit(rules, deposit_of("1.00", at=moment)),
        check_withdrawal(rules, withdrawal_of("1.00", at=moment)),
    ):
        assert (refusal.rule if refusal else None) == refused


def test_after_the_end_the_refusal_says_when_the_class_ended(settings):
    settings.TIME_ZONE = "UTC"

    refusal = check_withdrawal(Rulebook(ends_at=END), withdrawal_of("1.00", at=END))

    assert refusal.message == (
        "Your class ended Wed 10 Feb 2027 at 14:30: withdrawals are closed and the standings "
        "are final."
    )


@pytest.mark.parametrize(
    ("value", "above", "shown"),
    [
        ("25.00", None, "25"),
        ("12.50", None, "12.5"),
        ("100.00", None, "100"),
        ("30.6", "25", "31"),
        ("25.04", "25", "25.04"),
        ("25.2", "25", "25.2"),
        ("25.001", "25", "25.01"),
    ],
)
def test_percent_shows_a_refused_value_above_its_limit(value, above, shown):
    limit = Decimal(above) if above else None

    assert percent(Decimal(value), above=limit) == shown
