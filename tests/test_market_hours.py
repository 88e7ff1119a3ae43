"""MARKET_HOURS: the schedule's words, when it is open, and when it opens next."""

from datetime import UTC, datetime

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from tradesim import market_hours
from tradesim.envvars import setting
from tradesim.market_hours import closed_until, opens_words, parse

SCHOOL = parse("Mon-Fri 08:00-15:30")
PARIS = "Europe/Paris"


def paris(*args) -> datetime:
    from zoneinfo import ZoneInfo

    return datetime(*args, tzinfo=ZoneInfo(PARIS))


@pytest.mark.parametrize(
    ("text", "described"),
    [
        ("Mon-Fri 08:00-15:30", "Mon–Fri 08:00–15:30"),
        ("mon-fri 8:00 - 15:30", "Mon–Fri 08:00–15:30"),
        ("Mon-Thu 08:00-15:30; Fri 08:00-12:00", "Mon–Thu 08:00–15:30; Fri 08:00–12:00"),
        ("Mon,Wed,Fri 09:00-10:00", "Mon, Wed, Fri 09:00–10:00"),
        ("Monday-Friday 08:00-15:30", "Mon–Fri 08:00–15:30"),
        ("Sat 10:00-12:00", "Sat 10:00–12:00"),
    ],
)
def test_a_schedule_reads_as_days_and_hours(text, described):
    assert parse(text).describe() == described


@pytest.mark.parametrize(
    "text",
    [
        "08:00-15:30",  # no days
        "Mon-Fri",  # no hours
        "Mon-Fri 15:30-08:00",  # closes before it opens
        "Mon-Fri 08:00-08:00",
        "Fri-Mon 08:00-15:30",  # backwards
        "Mon-Fri 08:00-24:00",
        "Mon-Fri 8-15",
        "Mon-Fri 08:00-15:30; Fri 09:00-10:00",  # Friday twice
        "Someday 08:00-15:30",
        "Mon-Fri 08:00-15:30 # school hours",
    ],
)
def test_a_schedule_that_cannot_be_read_is_refused(text):
    with pytest.raises(ValueError, match="Mon-Fri 08:00-15:30"):
        parse(text)


def test_an_unreadable_market_hours_stops_the_start_naming_it(monkeypatch):
    monkeypatch.setenv("MARKET_HOURS", "weekdays 8 to 3")
    with pytest.raises(ImproperlyConfigured, match="MARKET_HOURS must be a schedule such as"):
        setting("MARKET_HOURS", parse, default=None)


@override_settings(TIME_ZONE=PARIS)
@pytest.mark.parametrize(
    ("moment", "is_open"),
    [
        (paris(2026, 12, 1, 7, 59), False),  # Tuesday, before the open
        (paris(2026, 12, 1, 8, 0), True),  # the open itself
        (paris(2026, 12, 1, 15, 29, 59), True),
        (paris(2026, 12, 1, 15, 30), False),  # the close itself: closed
        (paris(2026, 12, 5, 10, 0), False),  # Saturday
    ],
)
def test_the_market_is_open_from_the_open_until_the_close(moment, is_open):
    assert SCHOOL.is_open(moment) is is_open


@override_settings(TIME_ZONE=PARIS)
def test_after_fridays_close_the_market_opens_on_monday():
    friday_evening = paris(2026, 12, 4, 16, 0)
    assert SCHOOL.next_open(friday_evening) == paris(2026, 12, 7, 8, 0)
    assert SCHOOL.next_open(paris(2026, 12, 7, 7, 0)) == paris(2026, 12, 7, 8, 0)


@override_settings(TIME_ZONE=PARIS)
def test_the_hours_are_wall_clock_hours_across_a_change_of_clocks():
    # Paris moves its clocks on Sunday 29 March 2026: 08:00 is 07:00 UTC before, 06:00 after.
    assert SCHOOL.next_open(paris(2026, 3, 27, 16, 0)).astimezone(UTC).hour == 6
    assert SCHOOL.next_open(paris(2026, 3, 26, 16, 0)).astimezone(UTC).hour == 7


@override_settings(TIME_ZONE=PARIS)
def test_a_session_gives_its_open_and_close():
    assert SCHOOL.current(paris(2026, 12, 1, 9, 0)) == (
        paris(2026, 12, 1, 8, 0),
        paris(2026, 12, 1, 15, 30),
    )
    assert SCHOOL.current(paris(2026, 12, 1, 16, 0)) is None


@override_settings(TIME_ZONE=PARIS)
def test_closed_until_follows_the_setting():
    evening = paris(2026, 12, 1, 18, 0)
    with override_settings(MARKET_HOURS=None):
        assert closed_until(evening) is None
    with override_settings(MARKET_HOURS=SCHOOL):
        assert closed_until(evening) == paris(2026, 12, 2, 8, 0)
        assert closed_until(paris(2026, 12, 2, 9, 0)) is None


@override_settings(TIME_ZONE=PARIS)
def test_the_opening_is_told_as_today_tomorrow_or_a_date():
    now = paris(2026, 12, 1, 6, 0)
    assert opens_words(paris(2026, 12, 1, 8, 0), now=now) == "today at 08:00"
    assert opens_words(paris(2026, 12, 2, 8, 0), now=now) == "tomorrow at 08:00"
    assert opens_words(paris(2026, 12, 7, 8, 0), now=now) == "Mon 7 Dec at 08:00"


def test_every_day_of_the_week_is_known():
    assert parse("Mon-Sun 00:00-23:59").session_on(datetime(2026, 12, 6).date()) is not None
    assert market_hours.DAYS[0] == "mon"
