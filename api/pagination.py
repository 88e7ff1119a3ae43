"""Cursor pagination, newest first (Stripe's and Alpaca's way): a page of `limit` rows and
`next_cursor`, an opaque text naming the last row's position, to pass as `cursor` for the
next page; null on the last page. A cursor stays right while rows are added (unlike page
numbers) and a page costs one query however deep it is (the keyset is indexed)."""

import base64
import binascii
import json
from datetime import UTC, datetime

from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_datetime

from api.problems import Problem

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def encode(values: list) -> str:
    raw = json.dumps(
        [v.isoformat() if isinstance(v, datetime) else v for v in values], separators=(",", ":")
    )
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(cursor: str, kinds: tuple[type, ...]) -> list:
    """The values a cursor names, each checked against `kinds` (datetime or int)."""
    bad = Problem("invalid_cursor")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise bad from None
    if not isinstance(values, list) or len(values) != len(kinds):
        raise bad
    result = []
    for value, kind in zip(values, kinds, strict=True):
        if kind is datetime:
            # In UTC, as the API's cursors are: PostgreSQL refuses offsets past ±15:59, and
            # the moment must be a real one, within the years a datetime holds.
            try:
                moment = parse_datetime(value) if isinstance(value, str) else None
                if moment is None or moment.tzinfo is None:
                    raise bad
                result.append(moment.astimezone(UTC))
            except (ValueError, OverflowError):
                raise bad from None
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**62:
            result.append(value)
        else:
            raise bad
    return result


def page(
    rows: QuerySet, *, cursor: str | None, limit: int, time_field: str
) -> tuple[list, str | None]:
    """One page of `rows`, ordered by (`time_field`, id) descending, after `cursor`.
    One query: it reads limit + 1 rows to know whether there is a next page."""
    rows = rows.order_by(f"-{time_field}", "-id")
    if cursor:
        moment, last_id = decode(cursor, (datetime, int))
        rows = rows.filter(
            Q(**{f"{time_field}__lt": moment}) | Q(**{time_field: moment, "id__lt": last_id})
        )
    found = list(rows[: limit + 1])
    if len(found) <= limit:
        return found, None
    found = found[:limit]
    last = found[-1]
    return found, encode([getattr(last, time_field), last.pk])
