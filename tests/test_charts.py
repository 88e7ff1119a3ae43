"""Time-axis labels: as short as the span allows, in the site's time zone, never repeating
for moments in different seconds."""

from datetime import UTC, datetime, timedelta

import pytest

from tradesim.charts import axis_labels

MONDAY = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)  # a Monday


@pytest.fixture(autouse=True)
def utc(settings):
    settings.TIME_ZONE = "UTC"


def every(step: timedelta, count: int, start=MONDAY) -> list[datetime]:
    return [start + step * i for i in range(count)]


def test_a_day_at_minute_steps_reads_as_times_of_day():
    assert axis_labels(every(timedelta(minutes=1), 3)) == ["09:30", "09:31", "09:32"]


def test_ticks_seconds_apart_get_seconds():
    labels = axis_labels(every(timedelta(seconds=5), 13))
    assert labels[:3] == ["09:30:00", "09:30:05", "09:30:10"]
    assert len(set(labels)) == 13


def test_ticks_more_than_a_minute_apart_need_no_seconds():
    assert axis_labels(every(timedelta(seconds=90), 3)) == ["09:30", "09:31", "09:33"]


def test_across_days_the_weekday_comes_first():
    moments = every(timedelta(minutes=1), 2) + every(
        timedelta(minutes=1), 2, MONDAY + timedelta(days=1)
    )
    assert axis_labels(moments) == ["Mon 09:30", "Mon 09:31", "Tue 09:30", "Tue 09:31"]


def test_beyond_a_week_the_date_comes_first():
    moments = [MONDAY, MONDAY + timedelta(days=9)]
    assert axis_labels(moments) == ["Mar 2 09:30", "Mar 11 09:30"]


def test_the_issue_s_repeated_05_46_is_gone():
    """Ticks seconds apart across two days: minute labels read "05:46, 05:46"."""
    start = datetime(2026, 3, 2, 5, 46, 0, tzinfo=UTC)
    moments = every(timedelta(seconds=20), 3, start) + every(
        timedelta(seconds=20), 3, start + timedelta(days=3)
    )
    labels = axis_labels(moments)
    assert labels == [
        "Mon 05:46:00",
        "Mon 05:46:20",
        "Mon 05:46:40",
        "Thu 05:46:00",
        "Thu 05:46:20",
        "Thu 05:46:40",
    ]


def test_labels_are_in_the_site_s_time_zone(settings):
    settings.TIME_ZONE = "America/New_York"
    assert axis_labels([datetime(2026, 7, 1, 13, 30, tzinfo=UTC)]) == ["09:30"]
    # A day in New York that is two days in UTC still reads as one day.
    moments = [datetime(2026, 7, 1, 23, 0, tzinfo=UTC), datetime(2026, 7, 2, 1, 0, tzinfo=UTC)]
    assert axis_labels(moments) == ["19:00", "21:00"]


def test_no_moments_no_labels():
    assert axis_labels([]) == []
