"""CSV exports: one style (headers, local date-times, two-place decimals, file names) and
download names (RFC 6266): what a browser saves a CSV export as."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from tradesim.exports import (
    attachment_header,
    date_time_cell,
    date_time_header,
    decimal_cell,
    export_filename,
    file_name_part,
)


def test_an_ascii_name_is_sent_as_it_is():
    assert attachment_header("trades.csv") == 'attachment; filename="trades.csv"'


@pytest.mark.parametrize(
    ("name", "fallback", "encoded"),
    [
        ("holdings-Zoë-1.csv", "holdings-Zoe-1.csv", "holdings-Zo%C3%AB-1.csv"),
        (
            "standings-Ωμέγα-1.csv",
            "standings-1.csv",
            "standings-%CE%A9%CE%BC%CE%AD%CE%B3%CE%B1-1.csv",
        ),
    ],
)
def test_a_non_latin_name_travels_in_utf8_with_an_ascii_stand_in(name, fallback, encoded):
    assert attachment_header(name) == (
        f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"
    )


@pytest.mark.parametrize(
    ("text", "part"),
    [
        ("Period 1", "Period-1"),
        ('Room "7"/B', "Room-7-B"),
        ("Zoë", "Zoë"),
        ("高一 (3) 班", "高一-3-班"),
        ("???", "-"),
    ],
)
def test_a_name_becomes_a_safe_file_name_part(text, part):
    assert file_name_part(text) == part


# One CSV style -------------------------------------------------------------------------


def test_dates_and_times_are_local_and_the_header_names_the_zone(settings):
    settings.TIME_ZONE = "Europe/Paris"
    moment = datetime(2026, 7, 14, 21, 5, 9, 123456, tzinfo=UTC)

    assert date_time_header() == "Date and time (Europe/Paris)"
    assert date_time_cell(moment) == "2026-07-14 23:05:09"
    assert date_time_cell(None) == ""


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (Decimal("1234.5"), "1234.50"),
        (Decimal("-0.004"), "0.00"),
        (Decimal("100.0000"), "100.00"),
        (Decimal("2.005"), "2.01"),
        (Decimal("-1000"), "-1000.00"),
        (None, ""),
    ],
)
def test_money_and_percentages_are_plain_decimals_with_two_places(value, cell):
    assert decimal_cell(value) == cell


def test_a_file_is_named_by_what_whose_and_the_local_date(settings):
    settings.TIME_ZONE = "Pacific/Kiritimati"  # UTC+14: often a day ahead of UTC
    today = timezone.localdate().isoformat()

    assert export_filename("trades", "alice") == f"tradesim-trades-alice-{today}.csv"
    assert export_filename("standings", "Period 1") == f"tradesim-standings-Period-1-{today}.csv"
