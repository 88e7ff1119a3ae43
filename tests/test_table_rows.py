"""The trade history's and the cash journal's rows are formatted in Python in one pass
({% trade_rows %}, {% journal_rows %}): the same HTML, byte for byte, as the row templates
they replace, kept here to compare against."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import timezone

from ledger.models import Transaction
from trading.models import Trade

OLD_TRADE_ROWS = """{% load money %}            {% for trade in trades %}
              <tr role="row">
                <td role="cell" data-cell="when"><time datetime="{{ trade.timestamp|date:'c' }}">{{ trade.timestamp|date:"M j, Y H:i" }}</time></td>
                <td role="cell" data-cell="side">{% side_badge trade.operation %}</td>
                <td role="cell" class="num" data-cell="shares">{{ trade.quantity|shares }}</td>
                <td role="cell" data-cell="symbol"><a href="{{ history_url }}?symbol={{ trade.stock_id|urlencode }}">{{ trade.stock_id }}</a></td>
                <td role="cell" class="num" data-cell="price" data-label="at">{{ trade.price|money }}</td>
                <td role="cell" class="num" data-cell="total">{{ trade.total|money }}</td>
                <td role="cell" class="num{% if not trade.commission %} stack-hide{% endif %}" data-cell="commission" data-label="Commission">{% if trade.commission %}{{ trade.commission|money }}{% else %}—{% endif %}</td>
                <td role="cell" class="num{% if trade.realized_pnl is None %} stack-hide{% endif %}" data-cell="pnl"{% if trade.realized_pnl is not None %} data-label="P/L"{% endif %}>{% if trade.realized_pnl is not None %}{% pnl trade.realized_pnl %}{% else %}<span class="text-body-secondary">—</span>{% endif %}</td>
              </tr>
            {% endfor %}
"""  # noqa: E501

OLD_JOURNAL_ROWS = """{% load money %}      {% for row in rows %}
      <tr role="row">
        <td role="cell" data-cell="when"><time datetime="{{ row.timestamp|date:'c' }}">{{ row.timestamp|date:"M j, Y H:i" }}</time></td>
        <td role="cell" data-cell="type">{% cash_badge row %}</td>
        <td role="cell" data-cell="desc">{{ row.description|default:"—" }}</td>
        <td role="cell" data-cell="symbol">{{ row.symbol|default:"" }}</td>
        <td role="cell" class="num" data-cell="amount">{% cash_amount row %}</td>
        <td role="cell" class="num" data-cell="balance" data-label="Balance">{{ row.balance_after|money }}</td>
      </tr>
      {% endfor %}
"""  # noqa: E501

WHEN = [
    datetime(2026, 3, 8, 9, 59, 1, 123456, tzinfo=UTC),
    datetime(2026, 11, 1, 23, 5, tzinfo=UTC),
    datetime(2027, 1, 31, 0, 0, tzinfo=UTC),
]


def trades():
    rows = []
    for n, (operation, commission, pnl) in enumerate(
        [
            ("buy", Decimal("0.00"), None),
            ("sell", Decimal("4.95"), Decimal("120.50")),
            ("sell", Decimal("0"), Decimal("-1234.56")),
            ("short", Decimal("1.00"), None),
            ("cover", Decimal("0.00"), Decimal("0.00")),
        ]
    ):
        rows.append(
            Trade(
                stock_id=["AAPL", "BRK.B", "A&B", "X<Y>", "Q'\"Z"][n],
                operation=operation,
                quantity=[1, 1500, 1234567, 3, 10][n],
                price=Decimal("1234.56"),
                total=Decimal("1851840.00"),
                commission=commission,
                realized_pnl=pnl,
                timestamp=WHEN[n % len(WHEN)],
            )
        )
    return rows


def journal():
    rows = []
    for n, kind in enumerate(Transaction.Type.values):
        rows.append(
            Transaction(
                type=kind,
                amount=Decimal("1000.50") * (n + 1),
                description=["", "Bought 3 A&B", 'a <b> "c"', "Deposit"][n % 4],
                symbol=["", "AAPL", "A&B"][n % 3],
                balance_after=None if n == 2 else Decimal("-12.34") * n,
                timestamp=WHEN[n % len(WHEN)],
            )
        )
    return rows


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Kolkata"])
def test_trade_rows_are_the_row_templates_html(zone):
    with timezone.override(zone):
        context = {"trades": trades(), "history_url": "/trading/"}
        old = Template(OLD_TRADE_ROWS).render(Context(context))
        new = Template(
            "{% load trading_tags %}            {% trade_rows trades history_url %}\n"
        ).render(Context(context))
    assert new == old


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Kolkata"])
def test_journal_rows_are_the_row_templates_html(zone):
    with timezone.override(zone):
        context = {"rows": journal()}
        old = Template(OLD_JOURNAL_ROWS).render(Context(context))
        new = Template("{% load money %}      {% journal_rows rows %}\n").render(Context(context))
    assert new == old


def test_no_rows_no_html():
    assert Template("{% load money %}{% journal_rows rows %}").render(Context({"rows": []})) == ""
