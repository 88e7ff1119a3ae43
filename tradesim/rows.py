"""One-statement row reads and writes for the trade path, the project's hottest code.

A trade is eight short statements. Through the ORM each one is built anew per request
(query objects cloned, lookups resolved, SQL compiled, model instances made), which costs
about three times what the database round trip does; bench/profile_requests.py showed the
ORM's query building as the largest share of a buy's CPU. These helpers send the same SQL
the ORM would, from statements built once per model and column set, with every value
prepared by its model field exactly as the ORM prepares it (`get_db_prep_save`: aware
datetimes, Decimals, foreign keys), so rows written here are indistinguishable from rows
the ORM writes, on PostgreSQL and on SQLite.

Use them only where a profile says so; everything else goes through the ORM.
"""

from decimal import Decimal
from functools import cache

from django.db import connection


@cache
def _insert_sql(model, names: tuple[str, ...], returning: bool) -> str:
    opts = model._meta
    quote = connection.ops.quote_name
    columns = ", ".join(quote(opts.get_field(name).column) for name in names)
    marks = ", ".join(["%s"] * len(names))
    # Names come from the model's metadata, values travel as parameters.
    sql = f"INSERT INTO {quote(opts.db_table)} ({columns}) VALUES ({marks})"  # noqa: S608
    return f"{sql} RETURNING {quote(opts.pk.column)}" if returning else sql


def insert_sql(model, names: tuple[str, ...]) -> str:
    """The INSERT of one row of `model` with the columns of `names` (fields' names), for
    cursor.executemany over prepared rows."""
    return _insert_sql(model, tuple(names), False)


@cache
def _update_sql(model, names: tuple[str, ...], key: tuple[str, ...]) -> str:
    opts = model._meta
    quote = connection.ops.quote_name
    sets = ", ".join(f"{quote(opts.get_field(name).column)} = %s" for name in names)
    where = " AND ".join(f"{quote(opts.get_field(name).column)} = %s" for name in key)
    return f"UPDATE {quote(opts.db_table)} SET {sets} WHERE {where}"  # noqa: S608


def prepared(model, values: dict) -> list:
    opts = model._meta
    return [
        opts.get_field(name).get_db_prep_save(value, connection) for name, value in values.items()
    ]


def insert(model, **values):
    """INSERT one row of `model` (field name → Python value); return its new primary key."""
    # RETURNING where the database has it (PostgreSQL; SQLite from 3.35); before that,
    # SQLite's last row id, as the ORM does.
    returning = connection.features.can_return_columns_from_insert
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(model, tuple(values), returning), prepared(model, values))
        return cursor.fetchone()[0] if returning else cursor.lastrowid


def create(model, **values):
    """INSERT one row of `model` (field name → Python value; a related row by its key) and
    return it as a saved instance, as Model.objects.create() would."""
    pk = insert(model, **values)
    opts = model._meta
    return loaded(model, pk, **{opts.get_field(name).attname: v for name, v in values.items()})


def update(model, where: dict, **values) -> int:
    """UPDATE the rows of `model` matching `where` (field name → value, all equal) with
    `values`; return how many rows changed."""
    params = prepared(model, values) + prepared(model, where)
    with connection.cursor() as cursor:
        cursor.execute(_update_sql(model, tuple(values), tuple(where)), params)
        return cursor.rowcount


def fetch_one(sql: str, params) -> tuple | None:
    """The first row of a query, or None. `sql` uses %s placeholders on every database."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def for_update() -> str:
    """The locking clause of a SELECT: FOR UPDATE where the database has row locks; nothing
    on SQLite, which serializes writers instead (IMMEDIATE transactions), as the ORM's
    select_for_update() does there."""
    return " FOR UPDATE" if connection.features.has_select_for_update else ""


def decimal(value, places: int) -> Decimal | None:
    """A NUMERIC column's value as the ORM returns it: PostgreSQL gives Decimals; SQLite
    gives the int or float it stored, turned into Decimal through its shortest repr and
    rounded to the column's places."""
    if value is None or isinstance(value, Decimal):
        return value
    return Decimal(str(value)).quantize(Decimal(1).scaleb(-places))


def loaded(model, pk, **attrs):
    """A `model` instance for a row just written or read here, as the ORM would return it
    (saved state, so .save() updates rather than inserts)."""
    instance = model(pk=pk, **attrs)
    instance._state.adding = False
    instance._state.db = connection.alias
    return instance
