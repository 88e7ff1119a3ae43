"""A class's dates and rules in plain words: the countdown and one sentence per rule."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from classrooms.describe import countdown, rules
from classrooms.rules import Rulebook

NOW = datetime(2027, 1, 11, 9, 0, tzinfo=UTC)  # Mon 11 Jan 2027, 09:00 (the site's UTC)


@pytest.fixture(autouse=True)
def _at_now(settings, monkeypatch):
    """The site's clock stands at NOW, in UTC (when() names the year only when it is not
    the current one)."""
    settings.TIME_ZONE = "UTC"
    monkeypatch.setattr("django.utils.timezone.now", lambda: NOW)


@pytest.mark.parametrize(
    ("starts_at", "ends_at", "text"),
    [
        (NOW + timedelta(days=1, hours=0.5), None, "Starts tomorrow at 09:30"),
        (NOW + timedelta(hours=6), None, "Starts today at 15:00"),
        (None, NOW + timedelta(days=12, hours=6), "Ends in 12 days (Sat 23 Jan)"),
        # Calendar days: 23:59 tonight is today, 00:01 tomorrow is tomorrow.
        (None, NOW + timedelta(hours=14, minutes=59), "Ends today at 23:59"),
        (None, NOW + timedelta(hours=15, minutes=1), "Ends tomorrow at 00:01"),
        (NOW - timedelta(days=3), None, "Open, with no end date"),
        (None, NOW, "Ended Mon 11 Jan at 09:00"),  # the end is after the class
        (None, NOW - timedelta(days=40), "Ended Wed 2 Dec 2026 at 09:00"),
    ],
)
def test_the_countdown_says_where_the_class_stands(starts_at, ends_at, text):
    assert countdown(Rulebook(starts_at=starts_at, ends_at=ends_at), NOW) == text


def sentences(rulebook) -> dict[str, str]:
    return {rule.name: rule.text for rule in rules(rulebook)}


def test_every_rule_of_a_strict_class_in_plain_words():
    rulebook = Rulebook(
        classroom_id=1,
        starts_at=NOW,
        ends_at=NOW + timedelta(days=30),
        starting_cash=Decimal("25000.00"),
        deposits_open=True,
        max_total_deposits=Decimal("5000.00"),
        withdrawals_open=False,
        commission_kind="percent",
        commission_amount=Decimal("0.5000"),
        commission_minimum=Decimal("1.00"),
        max_position_percent=Decimal("25.00"),
        max_trades_per_day=1,
        min_share_price=Decimal("1.00"),
        ranking="risk_adjusted",
        min_trades_to_rank=3,
        names_shown=False,
        order_types="market",
        api_access=False,
    )

    assert sentences(rulebook) == {
        "Trading dates": "From Mon 11 Jan at 09:00 to Wed 10 Feb at 09:00. After the end, "
        "orders, deposits and withdrawals are refused and the standings are final.",
        "Starting cash": "$25,000.00, given when you join the class (also if you join late).",
        "Deposits": "Allowed, up to $5,000.00 in all beyond your starting cash.",
        "Withdrawals": "Not allowed.",
        "Commission": "0.5 % of the order's value, at least $1.00.",
        "Order types": "Market orders only: you buy and sell at the current price.",
        "Most in one stock": "After a buy, no stock may be more than 25 % of your "
        "portfolio's value.",
        "Trades a day": "At most 1 trade per simulated day.",
        "Lowest share price": "You may not buy shares priced below $1.00.",
        "Leaderboard": "Ranks by risk-adjusted return: your average return from one regular "
        "snapshot of your portfolio to the next, divided by how much those returns swing "
        "(their standard deviation): steady gains beat wild ones.",
        "To be ranked": "At least 3 trades of your own.",
        "Names": "Only your instructor sees names: you see your own rank and your classmates "
        "as “Student 4” and the like, and they see you the same way.",
        "Programs (the API)": "Not allowed: your instructor has switched the API off for this "
        "class, so programs' requests are refused. The pages work as usual.",
    }


def test_every_rule_of_an_open_class_in_plain_words():
    said = sentences(
        Rulebook(classroom_id=1, commission_kind="flat", commission_amount=Decimal("4.95"))
    )

    assert said["Trading dates"] == "Open now, with no end date."
    assert said["Deposits"] == "Allowed, with no cap."
    assert said["Withdrawals"] == "Allowed."
    assert said["Commission"] == "$4.95 a trade."
    assert said["Order types"] == "All: market, limit, stop, stop-limit and trailing stop orders."
    for rule in ("Most in one stock", "Trades a day", "Lowest share price"):
        assert said[rule] == "No limit."
    assert said["To be ranked"] == "No minimum number of trades."
    assert said["Names"] == "Classmates see each other's names on the leaderboard."
    assert said["Programs (the API)"].startswith("Allowed: a program of yours may read your")
    assert "API tokens page" in said["Programs (the API)"]
    assert sentences(Rulebook(classroom_id=1))["Commission"] == "None."


def test_short_selling_is_told_only_in_a_class_that_allows_it():
    assert "Short selling" not in sentences(Rulebook())

    told = sentences(Rulebook(short_selling=True))["Short selling"]

    assert told == (
        "Allowed: you may sell short stocks priced at $5.00 or more, and buy them back to "
        "cover. Selling short needs equity of at least 50 % of your positions' value, the new "
        "short included (the initial margin)."
    )


def test_the_short_selling_rule_names_the_class_price_margin_and_borrow_fee():
    rulebook = Rulebook(
        short_selling=True,
        min_short_price=Decimal("10.00"),
        initial_margin_percent=Decimal("60"),
        borrow_fee_percent=Decimal("2.5"),
    )
    (rule,) = [rule for rule in rules(rulebook) if rule.name == "Short selling"]

    assert rule.text == (
        "Allowed: you may sell short stocks priced at $10.00 or more, and buy them back to "
        "cover. Selling short needs equity of at least 60 % of your positions' value, the new "
        "short included (the initial margin). Borrowed shares cost a borrow fee of 2.5 % a "
        "year of their value, charged at each simulated day's close."
    )
    assert rule.term == "short-selling"
