"""Structured log lines: one line per event, as key=value pairs (logfmt) or as JSON.

Services and views call `log_event(logger, "cash.deposit", user=..., amount=...)`; the
message itself is already `event=cash.deposit user=alice amount=250.00`, so the line reads
the same under any handler, and `StructuredFormatter` adds the time, level and logger name
and turns any other record (Django's, a library's) into one line too, its traceback included.

Keys that name a secret (password, token, secret, session, cookie, csrf, authorization)
are never written: their values are replaced by "[redacted]" both here and in the formatter.
"""

import json
import logging
import re
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import parse_qsl, urlencode

REDACTED = "[redacted]"
MAX_VALUE_LENGTH = 200
SENSITIVE_KEY = re.compile(
    r"pass(word|wd)?|secret|token|session|cookie|csrf|authori[sz]ation|api.?key", re.IGNORECASE
)
_BARE = re.compile(r"[^\s=\"\\]+")


def _value(key: str, value):
    """A field's value as it is logged: secrets redacted, long text shortened."""
    if SENSITIVE_KEY.search(key):
        return REDACTED
    if isinstance(value, bool | int | float) or value is None:
        return value
    text = str(value) if not isinstance(value, Decimal) else f"{value}"
    if len(text) > MAX_VALUE_LENGTH:
        text = text[:MAX_VALUE_LENGTH] + "…"
    return text


def _logfmt_value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if text and _BARE.fullmatch(text) and text.isprintable():
        return text
    return '"' + "".join(_quote_char(ch) for ch in text) + '"'


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _quote_char(ch: str) -> str:
    # Anything that could end the line or hide in it (\n, \u2028, control characters) is
    # written as an escape, so one record is always exactly one line.
    if ch in _ESCAPES:
        return _ESCAPES[ch]
    if ch == " " or ch.isprintable():
        return ch
    code = ord(ch)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def logfmt(fields: dict) -> str:
    """`{"event": "cash.deposit", "note": "a b"}` → `event=cash.deposit note="a b"`."""
    return " ".join(f"{key}={_logfmt_value(value)}" for key, value in fields.items())


def clean_fields(fields: dict) -> dict:
    return {key: _value(key, value) for key, value in fields.items() if value is not None}


def log_event(
    logger: logging.Logger, event: str, /, *, level: int = logging.INFO, exc_info=None, **fields
):
    """Log one structured line: `event=<event> key=value …` (fields in the order given).

    None values are left out; values are shortened to MAX_VALUE_LENGTH characters; keys
    that name a secret are redacted. The fields also travel on the record (`record.event`,
    `record.fields`) for the JSON output. `exc_info` adds the traceback (as `exc=`)."""
    if not logger.isEnabledFor(level):
        return
    fields = clean_fields(fields)
    logger.log(
        level,
        logfmt({"event": event, **fields}),
        exc_info=exc_info,
        extra={"event": event, "fields": fields},
    )


def _query(query_string: str) -> str:
    """A request's query string as logged: values of secret-looking keys redacted."""
    pairs = parse_qsl(query_string, keep_blank_values=True)
    if not any(SENSITIVE_KEY.search(key) for key, _ in pairs):
        return query_string
    return urlencode(
        [(k, REDACTED if SENSITIVE_KEY.search(k) else v) for k, v in pairs], safe="[]"
    )


def request_fields(record: logging.LogRecord) -> dict:
    """Who asked for what, from the request Django attaches to its `django.request` records
    (every 4xx and 5xx): so a 500's traceback can be matched to a page and a student."""
    request = getattr(record, "request", None)
    meta = getattr(request, "META", None)
    if not isinstance(meta, dict):
        return {}
    fields = {
        "method": getattr(request, "method", None),
        "path": getattr(request, "path", None),
        "query": _query(meta.get("QUERY_STRING", "")) or None,
        "status": getattr(record, "status_code", None),
    }
    # The user as the request already loaded it; after a 500 it is worth one more look-up
    # (the failure may have come before anything read the user), guarded, since that
    # look-up may be what failed.
    user = getattr(request, "_cached_user", None)
    if user is None and (fields["status"] or 0) >= 500 and hasattr(request, "user"):
        try:
            user = request.user
            user.is_authenticated  # noqa: B018 (evaluates the lazy user inside the try)
        except Exception:
            user = None
    if user is not None and user.is_authenticated:
        fields["user_id"] = user.pk
    return clean_fields(fields)


class StructuredFormatter(logging.Formatter):
    """One line per record. output="keyvalue" (default):
    `ts=2026-03-14T09:30:00.123Z level=INFO logger=tradesim.ledger event=cash.deposit …`;
    output="json": the same fields as one JSON object. A record not made by `log_event`
    becomes `msg="…"`; a record about a request (Django's 4xx and 5xx) adds its method,
    path, query string, status and user id; a traceback becomes `exc="…"` with its newlines
    escaped."""

    OUTPUTS = ("keyvalue", "json")

    def __init__(self, output: str = "keyvalue", **kwargs):
        super().__init__(**kwargs)
        output = (output or "keyvalue").strip().lower()
        if output not in self.OUTPUTS:
            raise ValueError(f"LOG_FORMAT must be one of {', '.join(self.OUTPUTS)}, not {output!r}")
        self.output = output

    def fields(self, record: logging.LogRecord) -> dict:
        stamp = datetime.fromtimestamp(record.created, tz=UTC)
        head = {
            "ts": stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
        }
        structured = getattr(record, "fields", None)
        if isinstance(structured, dict) and getattr(record, "event", None):
            body = {"event": record.event, **clean_fields(structured)}
        else:
            body = {"msg": record.getMessage()}
        body.update(request_fields(record))
        if record.exc_info:
            body["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            body["exc"] = record.exc_text
        return {**head, **body}

    def format(self, record: logging.LogRecord) -> str:
        fields = self.fields(record)
        if self.output == "json":
            return json.dumps(fields, default=str)
        return logfmt(fields)


def form_error_codes(form) -> str:
    """Why a form was refused, by its error codes (`amount:exponent`), not what was typed."""
    return ",".join(
        f"{name}:{error.code or 'invalid'}"
        for name, errors in form.errors.as_data().items()
        for error in errors
    )
