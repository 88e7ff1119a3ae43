"""CSV downloads: streamed row by row, and safe to open in a spreadsheet.

One style for every export: headers people read ("Date and time (Europe/Paris)", "Symbol",
"Amount"), date-times in the site's time zone as "YYYY-MM-DD HH:MM:SS", money and
percentages as plain decimals with two places ("-1234.50", no thousands separator or
currency sign), text a user typed made inert, and files named
`tradesim-<what>-<whose>-<YYYY-MM-DD>.csv`.
"""

import csv
import re
import unicodedata
from collections.abc import Iterable, Sequence
from urllib.parse import quote

from django.http import StreamingHttpResponse
from django.utils import timezone

from tradesim.money import to_cents

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(text) -> str:
    """Text a user typed, made inert: a spreadsheet would run "=HYPERLINK(...)" as a formula."""
    text = "" if text is None else str(text)
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def date_time_header() -> str:
    """The date-time column's header, naming the zone its times are in."""
    return f"Date and time ({timezone.get_current_timezone_name()})"


def date_time_cell(moment) -> str:
    """A moment as "2026-03-02 14:05:09" in the site's time zone."""
    return "" if moment is None else timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S")


def decimal_cell(value) -> str:
    """An amount of money or a percentage: a plain decimal with two places ("" for none)."""
    return "" if value is None else f"{to_cents(value) + 0:.2f}"  # + 0: no "-0.00"


def export_filename(what: str, whose: str) -> str:
    """ "tradesim-trades-alice-2026-03-02.csv": what it holds, whose (a username or a
    class's name), and today's date in the site's time zone."""
    return f"tradesim-{what}-{file_name_part(whose)}-{timezone.localdate().isoformat()}.csv"


def file_name_part(text: str) -> str:
    """A user's or a class's name as part of a file name: letters and digits of any script
    kept, anything else (spaces, slashes, quotes) made a hyphen."""
    return re.sub(r"[^\w.]+", "-", str(text)).strip("-.") or "-"


def attachment_header(filename: str) -> str:
    """The Content-Disposition of a download (RFC 6266): `filename*` carries the name in
    UTF-8, so "holdings-Zoë-…" or a class named in Chinese arrives as typed; the plain
    `filename` is an ASCII stand-in for clients that read only that."""
    fallback = (
        unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode("ascii")
    )
    fallback = re.sub(r"[^A-Za-z0-9._]+", "-", fallback)
    if fallback == filename:
        return f'attachment; filename="{filename}"'
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


class _Echo:
    """A file-like object whose write() hands the line back, for streaming csv.writer."""

    def write(self, value):
        return value


def csv_download(
    rows: Iterable[Sequence], *, header: Sequence[str], filename: str
) -> StreamingHttpResponse:
    """A streamed CSV attachment: the header, then each row as `rows` yields it, so an
    export of 100,000 rows never sits in memory at once. Never cached."""
    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow(row)

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = attachment_header(filename)
    response["Cache-Control"] = "no-store"
    return response
