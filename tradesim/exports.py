"""CSV downloads: streamed row by row, and safe to open in a spreadsheet."""

import csv
from collections.abc import Iterable, Sequence

from django.http import StreamingHttpResponse

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(text) -> str:
    """Text a user typed, made inert: a spreadsheet would run "=HYPERLINK(...)" as a formula."""
    text = "" if text is None else str(text)
    return f"'{text}" if text.startswith(_FORMULA_START) else text


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
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response
