"""The portfolio_valuations database view (portfolio.models.Valuation): every user's market
value and net contributions, summed in one grouped pass.

The view lives here, not in a migration, and `migrate` manages it: when there are
migrations to run it is dropped before them and created again after them (pre_migrate /
post_migrate, wired in portfolio.apps; the project's `migrate` command also puts it back if
a migration fails). A view pins the tables it reads — SQLite cannot rebuild `users`,
`holdings`, `prices` or `transactions` under it, PostgreSQL cannot change a column type it
reads — so with the view out of the way a later migration may alter those tables like any
other, and the view is always the current definition below. It exists once migration
`portfolio` 0004 (which adds the Valuation model) is applied. A data migration must not
read it: it is not there while migrations run.
"""

from django.db import connections
from django.db.migrations.recorder import MigrationRecorder

NAME = "portfolio_valuations"
INTRODUCED_BY = ("portfolio", "0004_valuations")


def create_sql() -> str:
    """Standard SQL that PostgreSQL and SQLite both run. The flow types are the journal's
    external flows, as everywhere else (portfolio.selectors)."""
    from portfolio.selectors import FLOW_TYPES, INFLOW_TYPES

    def listed(types) -> str:
        return ", ".join(f"'{value}'" for value in types)  # fixed choices, not input

    return f"""
CREATE VIEW {NAME} AS
SELECT u.id AS user_id,
       COALESCE(m.market_value, 0) AS market_value,
       COALESCE(f.net_contributions, 0) AS net_contributions
FROM users u
LEFT JOIN (
    SELECT h.user_id, SUM(h.quantity * p.price) AS market_value
    FROM holdings h
    INNER JOIN prices p ON p.symbol = h.symbol
    GROUP BY h.user_id
) m ON m.user_id = u.id
LEFT JOIN (
    SELECT t.user_id,
           SUM(CASE WHEN t.type IN ({listed(INFLOW_TYPES)}) THEN t.amount
                    ELSE -t.amount END) AS net_contributions
    FROM transactions t
    WHERE t.type IN ({listed(FLOW_TYPES)})
    GROUP BY t.user_id
) f ON f.user_id = u.id
"""  # noqa: S608


def drop(*, using: str = "default", plan=None, **kwargs) -> None:
    """pre_migrate: take the view out of the way of the migrations about to run (none to
    run, as on most deploys: it stays)."""
    if plan is not None and not plan:
        return
    with connections[using].cursor() as cursor:
        cursor.execute(f"DROP VIEW IF EXISTS {NAME}")


def create(*, using: str = "default", **kwargs) -> None:
    """post_migrate (also sent by `flush`): create the view if its model's migration is
    applied and it is not there yet."""
    connection = connections[using]
    if INTRODUCED_BY not in MigrationRecorder(connection).applied_migrations():
        return
    if NAME in connection.introspection.table_names(include_views=True):
        return
    with connection.cursor() as cursor:
        cursor.execute(create_sql())
