"""CSV downloads: streamed row by row, and safe to open in a spreadsheet."""

import csv
import re
import unicodedata
from collections.abc import Iterable, Sequence
from urllib.parse import quote

from django.http import StreamingHttpResponse

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(text) -> str:
    """Text a user typed, made inert: a spreadsheet would run "=HYPERLINK(...)" as a formula."""
    text = "" if text is None else str(text)
    return f"'{text}" if text.startswith(_FORMULA_START) else text


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
