"""What the security tests compare: every table that holds money, as plain rows."""

import re

from django.apps import apps

# (model label, fields) for every row that money or shares live in. Compared whole, so
# any change anywhere — a stray journal row, a balance, a holding, a trade — shows.
MONEY_TABLES = [
    ("ledger.Balance", ["user_id", "amount"]),
    ("ledger.Transaction", ["id", "user_id", "type", "amount", "balance_after", "symbol"]),
    ("portfolio.Holding", ["user_id", "stock_id", "quantity", "average_price"]),
    ("portfolio.PortfolioSummary", ["user_id", "realized_pnl"]),
    ("trading.Trade", ["id", "user_id", "stock_id", "operation", "quantity", "price", "total"]),
    ("tradesim.AuditEntry", ["id", "actor_id", "action", "student_id", "amount"]),
]


def money_state() -> dict:
    """Every money row, ordered: two calls are equal exactly when nothing changed."""
    state = {}
    for label, fields in MONEY_TABLES:
        model = apps.get_model(label)
        state[label] = list(model.objects.order_by(*fields).values_list(*fields))
    return state


def token_from(page: str) -> str:
    """The one-time token of the (first) form on a page."""
    match = re.search(r'name="token" value="([0-9a-f]+)"', page)
    assert match, "the form carries a one-time token"
    return match.group(1)
