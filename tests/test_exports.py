"""Download names (RFC 6266): what a browser saves a CSV export as."""

import pytest

from tradesim.exports import attachment_header, file_name_part


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
