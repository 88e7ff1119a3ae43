"""Set-based writes for the market tick: one statement per table, whatever the number of
symbols, so a tick runs the same number of queries at 10 symbols and at 50,000.

On PostgreSQL the rows travel as arrays and the database joins them to the table
(`unnest`): one round trip each. On SQLite, which runs in-process, the UPDATE is one
prepared statement stepped per row (`executemany`) and the INSERT one JSON document read
by `json_each`. Django's `bulk_update` builds a `CASE WHEN id = … THEN …` per row (and, on
SQLite, splits the work into batches of 999 parameters); it and the other alternatives
stay here so bench/tick.py can measure them side by side (docs/performance.md has the
figures and the reasoning behind CHOSEN).
"""

import json
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from django.db import connection as default_connection

from prices.models import Price, PriceHistory

# (id, price, log_price) per symbol that moved; (symbol, price) per history row.
PriceRow = tuple[int, Decimal, float]
HistoryRow = tuple[str, Decimal]
# id, symbol, sector, price (a float), log_price, drift, volatility, beta, halted, is_index
MarketRow = tuple[int, str, str, float, float, float, float, float, bool, bool]

_READ = (
    "SELECT id, symbol, sector, CAST(price AS DOUBLE PRECISION), log_price, drift, "
    "volatility, beta, halted, is_index FROM prices"
)

# Measured with bench/tick.py (docs/performance.md). On SQLite, executemany is the fastest
# UPDATE (a prepared statement stepped per row, in-process: no round trips to save) and
# json_each the fastest INSERT; Django logs each as one query.
CHOSEN = {
    "postgresql": {"update": "unnest", "insert": "unnest"},
    "sqlite": {"update": "executemany", "insert": "json"},
}


def _method(conn, method: str | None, table: str) -> str:
    if method:
        return method
    choice = CHOSEN.get(conn.vendor, "orm")
    return choice if isinstance(choice, str) else choice[table]


def read_market(symbols: Sequence[str] | None = None, *, conn=None) -> list[MarketRow]:
    """Every symbol (or those named), ordered by symbol, as plain tuples, in one query.

    Read through the cursor rather than the ORM: its per-value converters (a Decimal from
    each SQLite float, a bool from each 0/1) cost as much as the engine itself at 5,000
    symbols. The price comes as a float, exact for any two-decimal amount, so callers
    compare prices in whole cents (round(price * 100))."""
    conn = conn or default_connection
    sql, params = _READ, []
    if symbols is not None:
        sql += f" WHERE symbol IN ({', '.join(['%s'] * len(symbols))})"
        params = list(symbols)
    with conn.cursor() as cursor:
        cursor.execute(sql + " ORDER BY symbol", params)
        return cursor.fetchall()


def update_prices(
    rows: Sequence[PriceRow], *, timestamp: datetime, method: str | None = None, conn=None
) -> None:
    """Set price, log_price and timestamp for each (id, price, log_price)."""
    if not rows:
        return
    conn = conn or default_connection
    _UPDATES[_method(conn, method, "update")](conn, rows, timestamp)


def insert_history(
    rows: Sequence[HistoryRow], *, timestamp: datetime, method: str | None = None, conn=None
) -> None:
    """Append one price_history row per (symbol, price), all at `timestamp`."""
    if not rows:
        return
    conn = conn or default_connection
    _INSERTS[_method(conn, method, "insert")](conn, rows, timestamp)


# PostgreSQL: arrays joined with unnest ---------------------------------------------------


def _update_unnest(conn, rows, timestamp):
    ids, prices, logs = zip(*rows, strict=True)
    with conn.cursor() as cursor:
        cursor.execute(
            "UPDATE prices AS p SET price = v.price, log_price = v.log_price, timestamp = %s "
            "FROM unnest(%s::bigint[], %s::numeric[], %s::double precision[]) "
            "AS v(id, price, log_price) WHERE p.id = v.id",
            [_ts(conn, timestamp), list(ids), list(prices), list(logs)],
        )


def _insert_unnest(conn, rows, timestamp):
    symbols, prices = zip(*rows, strict=True)
    with conn.cursor() as cursor:
        cursor.execute(
            "INSERT INTO price_history (symbol, price, timestamp) "
            "SELECT v.symbol, v.price, %s FROM unnest(%s::varchar[], %s::numeric[]) "
            "AS v(symbol, price)",
            [_ts(conn, timestamp), list(symbols), list(prices)],
        )


# PostgreSQL: UPDATE … FROM (VALUES …), one parameter per cell ----------------------------


def _update_values(conn, rows, timestamp):
    values = ", ".join(["(%s::bigint, %s::numeric, %s::double precision)"] * len(rows))
    params = [_ts(conn, timestamp)]
    for row in rows:
        params.extend(row)
    # Only placeholders are formatted into the statement; every value is a parameter.
    sql = (
        "UPDATE prices AS p SET price = v.price, log_price = v.log_price, timestamp = %s "  # noqa: S608
        f"FROM (VALUES {values}) AS v(id, price, log_price) WHERE p.id = v.id"
    )
    with conn.cursor() as cursor:
        cursor.execute(sql, params)


# SQLite: a JSON document joined with json_each --------------------------------------------


def _update_json(conn, rows, timestamp):
    doc = json.dumps([[pk, str(price), log] for pk, price, log in rows])
    with conn.cursor() as cursor:
        cursor.execute(
            "UPDATE prices SET price = v.price, log_price = v.log_price, timestamp = %s "
            "FROM (SELECT value ->> 0 AS id, value ->> 1 AS price, value ->> 2 AS log_price "
            "FROM json_each(%s)) AS v WHERE prices.id = v.id",
            [_ts(conn, timestamp), doc],
        )


def _insert_json(conn, rows, timestamp):
    doc = json.dumps([[symbol, str(price)] for symbol, price in rows])
    with conn.cursor() as cursor:
        cursor.execute(
            "INSERT INTO price_history (symbol, price, timestamp) "
            "SELECT value ->> 0, value ->> 1, %s FROM json_each(%s)",
            [_ts(conn, timestamp), doc],
        )


# Any database: one prepared statement executed per row ------------------------------------


def _update_executemany(conn, rows, timestamp):
    ts = _ts(conn, timestamp)
    with conn.cursor() as cursor:
        cursor.executemany(
            "UPDATE prices SET price = %s, log_price = %s, timestamp = %s WHERE id = %s",
            [(price, log, ts, pk) for pk, price, log in rows],
        )


def _insert_executemany(conn, rows, timestamp):
    ts = _ts(conn, timestamp)
    with conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO price_history (symbol, price, timestamp) VALUES (%s, %s, %s)",
            [(symbol, price, ts) for symbol, price in rows],
        )


# Django's ORM: bulk_update (a CASE per row) and bulk_create -----------------------------


def _update_orm(conn, rows, timestamp):
    objs = [
        Price(id=pk, price=price, log_price=log, timestamp=timestamp) for pk, price, log in rows
    ]
    Price.objects.using(conn.alias).bulk_update(objs, ["price", "log_price", "timestamp"])


def _insert_orm(conn, rows, timestamp):
    PriceHistory.objects.using(conn.alias).bulk_create(
        [PriceHistory(stock_id=symbol, price=price, timestamp=timestamp) for symbol, price in rows]
    )


def _ts(conn, timestamp):
    return conn.ops.adapt_datetimefield_value(timestamp)


_UPDATES = {
    "unnest": _update_unnest,
    "values": _update_values,
    "json": _update_json,
    "executemany": _update_executemany,
    "orm": _update_orm,
}
_INSERTS = {
    "unnest": _insert_unnest,
    "values": _insert_orm,  # bulk_create already writes one INSERT … VALUES on PostgreSQL
    "json": _insert_json,
    "executemany": _insert_executemany,
    "orm": _insert_orm,
}
METHODS = {
    "postgresql": ["unnest", "values", "executemany", "orm"],
    "sqlite": ["json", "executemany", "orm"],
}
