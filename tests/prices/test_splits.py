"""Scheduling, cancelling and announcing stock splits (prices.splits): clear refusals for
bad input, the headlines, the audit, the automatic splits above the market's split price,
and the split's own columns (price, previous close, log-price) at the tick."""

import math
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from prices.models import Headline, MarketParameters, MarketState, Price, Split
from prices.services import InvalidMarketInput, MarketError, UnknownSymbols, advance_market
from prices.splits import (
    MIN_SPLIT_PRICE,
    cancel_split,
    open_day,
    parse_ratio,
    schedule_split,
    split_price,
)
from tests.factories import InstructorFactory, PriceFactory
from tradesim.models import AuditEntry

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def market(db):
    MarketState.objects.update_or_create(id=1, defaults={"trading_day": 9, "day_elapsed": 0.5})
    MarketParameters.objects.update_or_create(id=1, defaults={"split_above_price": None})
    return {
        "ACME": PriceFactory(symbol="ACME", price=D("120.00")),
        "INDX": PriceFactory(symbol="INDX", price=D("400.00"), is_index=True),
    }


@pytest.fixture
def teacher(db):
    return InstructorFactory(username="teacher")


def open_next_day(**kwargs):
    MarketState.objects.update(day_elapsed=1.0)
    return advance_market(dt=1e-9, seed=1, **kwargs)


# Ratios ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2-for-1", (2, 1)),
        ("3:2", (3, 2)),
        ("10/1", (10, 1)),
        ("1 for 10", (1, 10)),
        ((5, 1), (5, 1)),
    ],
)
def test_a_ratio_is_read_in_the_ways_people_write_it(text, expected):
    assert parse_ratio(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1-for-1", "changes nothing"),
        ("2-for-2", "changes nothing"),
        ("4-for-3", "from 3-for-2 to 10-for-1"),
        ("20-for-1", "from 3-for-2 to 10-for-1"),
        ("2-for-3", "from 3-for-2 to 10-for-1"),
        ("4-for-2", "lowest terms: 2-for-1"),
        ("two for one", "not a split ratio"),
        ("", "not a split ratio"),
        ((True, 1), "two whole numbers"),
    ],
)
def test_a_bad_ratio_is_refused_with_a_clear_message(text, message):
    with pytest.raises(InvalidMarketInput, match=message):
        parse_ratio(text)


def test_a_split_price_rounds_half_up_to_the_cent_and_keeps_a_cent():
    assert split_price(D("100.01"), 3, 2) == D("66.67")
    assert split_price(D("0.01"), 2, 1) == D("0.01")
    assert split_price(D("110.01"), 2, 1) == D("55.01")
    assert split_price(D("12.34"), 1, 10) == D("123.40")


def test_the_table_refuses_a_ratio_out_of_range_and_a_second_pending_split(market):
    with pytest.raises(IntegrityError), transaction.atomic():
        Split.objects.create(
            stock_id="ACME", numerator=4, denominator=3, announced_day=1, effective_day=2
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        Split.objects.create(
            stock_id="ACME", numerator=2, denominator=1, announced_day=2, effective_day=2
        )
    Split.objects.create(
        stock_id="ACME", numerator=2, denominator=1, announced_day=1, effective_day=2
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Split.objects.create(
            stock_id="ACME", numerator=3, denominator=1, announced_day=1, effective_day=3
        )


# Scheduling --------------------------------------------------------------------------------


def test_an_instructor_schedules_a_split_announced_and_audited(market, teacher):
    split = schedule_split(symbol="acme", ratio="2-for-1", days_ahead=5, by=teacher)

    assert (split.stock_id, split.numerator, split.denominator) == ("ACME", 2, 1)
    assert (split.announced_day, split.effective_day, split.created_by) == (10, 15, teacher)
    headline = Headline.objects.get()
    assert headline.text == "ACME announces a 2-for-1 split, effective on day 15"
    assert (headline.kind, headline.day, headline.stock_id) == ("split", 10, "ACME")
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.symbol, entry.detail) == (
        AuditEntry.Action.SCHEDULE_SPLIT,
        "ACME",
        "2-for-1 on day 15",
    )


def test_the_notice_defaults_to_the_market_parameters(market):
    MarketParameters.objects.filter(id=1).update(split_notice_days=3)
    assert schedule_split(symbol="ACME", ratio="3-for-2").effective_day == 13


def test_a_reverse_split_has_its_own_words(market):
    schedule_split(symbol="ACME", ratio="1-for-10", effective_day=11)
    assert (
        Headline.objects.get().text
        == "ACME announces a 1-for-10 reverse split, effective on day 11"
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"symbol": "NOPE", "ratio": "2-for-1"}, UnknownSymbols, "No such symbol: NOPE"),
        ({"symbol": "bad symbol!", "ratio": "2-for-1"}, InvalidMarketInput, "not a ticker"),
        ({"symbol": "ACME", "ratio": "1-for-1"}, InvalidMarketInput, "changes nothing"),
        (
            {"symbol": "ACME", "ratio": "2-for-1", "effective_day": 10},
            InvalidMarketInput,
            "Today is trading day 10",
        ),
        (
            {"symbol": "ACME", "ratio": "2-for-1", "effective_day": 3},
            InvalidMarketInput,
            "day 11 at the earliest",
        ),
        ({"symbol": "ACME", "ratio": "2-for-1", "days_ahead": 0}, InvalidMarketInput, "later day"),
        (
            {"symbol": "ACME", "ratio": "2-for-1", "days_ahead": 999},
            InvalidMarketInput,
            "at most 252",
        ),
        (
            {"symbol": "ACME", "ratio": "2-for-1", "days_ahead": "5"},
            InvalidMarketInput,
            "whole number",
        ),
        (
            {"symbol": "ACME", "ratio": "2-for-1", "days_ahead": 2, "effective_day": 14},
            InvalidMarketInput,
            "not both",
        ),
        ({"symbol": "INDX", "ratio": "2-for-1"}, InvalidMarketInput, "index fund"),
    ],
)
def test_bad_input_is_refused_clearly_and_changes_nothing(market, teacher, kwargs, error, message):
    with pytest.raises(error, match=message):
        schedule_split(by=teacher, **kwargs)

    assert not Split.objects.exists()
    assert not Headline.objects.exists() and not AuditEntry.objects.exists()


def test_a_second_split_of_the_same_stock_is_refused_until_the_first_is_cancelled(market, teacher):
    first = schedule_split(symbol="ACME", ratio="2-for-1", effective_day=12)
    with pytest.raises(MarketError, match="already has a 2-for-1 split announced for day 12"):
        schedule_split(symbol="ACME", ratio="3-for-1", effective_day=14)

    cancel_split(split_id=first.pk, by=teacher)
    assert schedule_split(symbol="ACME", ratio="3-for-1", effective_day=14).numerator == 3


# Cancelling ------------------------------------------------------------------------------


def test_a_cancelled_split_never_takes_effect_and_the_cancel_is_audited(market, teacher):
    split = schedule_split(symbol="ACME", ratio="2-for-1", effective_day=11)

    cancel_split(split_id=split.pk, by=teacher)
    result = open_next_day()

    split.refresh_from_db()
    assert split.cancelled_by == teacher and split.applied_at is None
    assert result.splits == 0
    assert Price.objects.get(symbol="ACME").price > D("100")
    entry = AuditEntry.objects.get(action=AuditEntry.Action.CANCEL_SPLIT)
    assert (entry.symbol, entry.detail) == ("ACME", "2-for-1 on day 11")
    with pytest.raises(MarketError, match="cancelled already"):
        cancel_split(split_id=split.pk, by=teacher)


def test_a_split_that_took_effect_cannot_be_cancelled(market, teacher):
    split = schedule_split(symbol="ACME", ratio="2-for-1", effective_day=11)
    open_next_day()

    with pytest.raises(MarketError, match="took effect already"):
        cancel_split(split_id=split.pk, by=teacher)
    with pytest.raises(MarketError, match="no such split"):
        cancel_split(split_id=999999, by=teacher)
    with pytest.raises(MarketError, match="no such split"):
        cancel_split(split_id="x", by=teacher)
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.CANCEL_SPLIT).exists()


# At the tick -----------------------------------------------------------------------------


def test_the_tick_that_opens_the_day_splits_price_close_and_engine_state(market):
    schedule_split(symbol="ACME", ratio="3-for-2", effective_day=11)

    result = open_next_day()

    acme = Price.objects.get(symbol="ACME")
    assert (acme.price, acme.previous_close) == (D("80.00"), D("80.00"))
    assert math.isclose(acme.log_price, math.log(80), abs_tol=1e-4)
    assert result.splits == 1 and result.trading_day == 11
    texts = list(Headline.objects.filter(day=11).values_list("text", flat=True))
    assert texts == ["ACME splits 3-for-2 today: every two shares become three"]
    assert Split.objects.get().applied_at == result.timestamp


def test_a_split_waits_for_its_day(market):
    schedule_split(symbol="ACME", ratio="2-for-1", effective_day=12)

    assert open_next_day().splits == 0
    assert Split.objects.get().is_pending
    assert open_next_day().splits == 1
    assert Price.objects.get(symbol="ACME").price == D("60.00")


def test_the_on_the_day_headline_of_a_2_for_1(market):
    schedule_split(symbol="ACME", ratio="2-for-1", effective_day=11)
    open_next_day()
    assert Headline.objects.filter(day=11).get().text == (
        "ACME splits 2-for-1 today: each share becomes two"
    )


# Automatic splits --------------------------------------------------------------------------


def test_a_stock_that_closed_above_the_split_price_announces_a_split(market):
    MarketParameters.objects.filter(id=1).update(split_above_price=D("500.00"), split_notice_days=5)
    PriceFactory(symbol="HIGH", price=D("612.00"))
    PriceFactory(symbol="VERY", price=D("1600.00"))
    PriceFactory(symbol="BUSY", price=D("700.00"))
    schedule_split(symbol="BUSY", ratio="3-for-2", effective_day=20)
    Price.objects.filter(symbol="INDX").update(price=D("900.00"))

    result = open_next_day()

    automatic = {
        s.stock_id: (s.numerator, s.denominator, s.announced_day, s.effective_day, s.created_by)
        for s in Split.objects.filter(announced_day=11)
    }
    assert automatic == {"HIGH": (2, 1, 11, 16, None), "VERY": (3, 1, 11, 16, None)}
    texts = set(Headline.objects.filter(day=11).values_list("text", flat=True))
    assert texts == {
        "HIGH announces a 2-for-1 split, effective on day 16",
        "VERY announces a 3-for-1 split, effective on day 16",
    }
    assert result.headlines == 2
    # The next day's open announces nothing new: the splits are pending.
    open_next_day()
    assert Split.objects.count() == 3


def test_no_split_price_means_no_automatic_split(market):
    PriceFactory(symbol="HIGH", price=D("99999.00"))
    open_next_day()
    assert not Split.objects.exists()


def test_a_split_that_would_leave_less_than_a_dollar_is_refused_or_called_off(db):
    assert D("1.00") == MIN_SPLIT_PRICE
    PriceFactory(symbol="PENNY", price=D("1.50"))
    with pytest.raises(InvalidMarketInput, match="would trade at \\$0.7500 after a 2-for-1"):
        schedule_split(symbol="PENNY", ratio=(2, 1), days_ahead=2)
    assert not Split.objects.exists()

    # Announced at $4.00; the price falls to $1.20 before the day: the split is called off.
    PriceFactory(symbol="FALL", price=D("4.00"))
    split = schedule_split(symbol="FALL", ratio=(2, 1), days_ahead=1)
    Price.objects.filter(symbol="FALL").update(price=D("1.20"))
    drafts = []
    with transaction.atomic():
        applied = open_day(
            day=split.effective_day, now=timezone.now(), drafts=drafts, params=MarketParameters()
        )

    split.refresh_from_db()
    assert applied == 0 and split.cancelled_at is not None and split.applied_at is None
    assert Price.objects.get(symbol="FALL").price == D("1.20")
    assert [d.text for d in drafts] == [
        "FALL's 2-for-1 split is called off: FALL at $1.20 would trade at $0.6000 after a "
        "2-for-1 split: a split must leave the price at $1.00 or more."
    ]
    assert Headline.objects.filter(kind="split").count() == 1  # the announcement
