"""The trade history's, the cash journal's and the dashboard's holdings rows are formatted
in Python in one pass ({% trade_rows %}, {% journal_rows %}, {% holding_rows %}): the same
HTML, byte for byte, as the row templates they replace, kept here to compare against."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import timezone

from ledger.models import Transaction
from portfolio.selectors import Position
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

OLD_HOLDING_ROWS = """{% load money %}        {% for p in overview.positions %}
        <tr role="row" data-symbol="{{ p.symbol }}">
          <th scope="row" role="rowheader" data-cell="symbol">
            <a href="{% url 'prices:quote' symbol=p.symbol %}">{{ p.symbol }}</a>
            {% if p.halted %}<span class="badge text-bg-warning ms-1">Halted</span>{% endif %}
            <div class="small fw-normal text-body-secondary">{{ p.name }} · {{ p.sector }}</div>
          </th>
          <td role="cell" class="num" data-cell="shares" data-label="Shares">{% if p.is_short %}<span class="text-nowrap">{{ p.quantity|position_shares }}</span>{% else %}{{ p.quantity|position_shares }}{% endif %}{% if p.held_quantity %}<div class="small text-body-secondary text-wrap">{{ p.held_quantity|shares }} held for orders</div>{% endif %}</td>
          <td role="cell" class="num" data-cell="cost" data-label="{% if p.is_short %}Avg short price{% else %}Avg cost{% endif %}">{{ p.average_cost|money }}{% if p.is_short %}<div class="small text-body-secondary d-none d-lg-block">avg short price</div>{% endif %}</td>
          <td role="cell" class="num" data-cell="price" data-label="Price">{{ p.price|money }}</td>
          <td role="cell" class="num" data-cell="value">{{ p.market_value|money }}</td>
          <td role="cell" class="num" data-cell="pnl" data-label="P/L">{% pnl p.unrealized_pnl %}<div class="small">{% pnl p.unrealized_pnl_pct "pct" %}</div></td>
          <td role="cell" class="num" data-cell="today" data-label="Today">{% pnl p.day_change %}<div class="small">{% pnl p.day_change_pct "pct" %}</div></td>{% if p.is_short %}
          <td role="cell" class="num" data-cell="weight" data-label="Weight">{{ p.weight|floatformat:2 }}%<div class="small text-body-secondary">of your shorts</div></td>
          <td role="cell" class="text-end text-nowrap stack-end" data-cell="actions">
            <a class="btn btn-sm btn-outline-primary" href="{% url 'trading:order_new' %}?side=buy_to_cover&amp;symbol={{ p.symbol|urlencode }}" aria-label="Buy to cover {{ p.symbol }}">Buy to cover</a>
          </td>{% else %}
          <td role="cell" class="num" data-cell="weight" data-label="Weight">{{ p.weight|floatformat:2 }}%</td>
          <td role="cell" class="text-end text-nowrap stack-end" data-cell="actions">
            <a class="btn btn-sm btn-outline-success" href="{% url 'trading:buy' %}?symbol={{ p.symbol|urlencode }}" aria-label="Buy {{ p.symbol }}">Buy</a>
            <a class="btn btn-sm btn-outline-danger" href="{% url 'trading:sell' %}?symbol={{ p.symbol|urlencode }}" aria-label="Sell {{ p.symbol }}">Sell</a>
          </td>{% endif %}
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


def positions():
    def position(symbol, **changes):
        values = {
            "symbol": symbol,
            "name": 'Apple <Inc> & "Co"',
            "sector": "Tech",
            "halted": False,
            "quantity": 50,
            "average_cost": Decimal("100.5"),
            "price": Decimal("110.25"),
            "previous_close": Decimal("109"),
            "cost_basis": Decimal("5025"),
            "market_value": Decimal("5512.5"),
            "unrealized_pnl": Decimal("487.5"),
            "unrealized_pnl_pct": Decimal("9.70"),
            "day_change": Decimal("-62.5"),
            "day_change_pct": Decimal("-1.13"),
            "weight": Decimal("55.125"),
        }
        return Position(**{**values, **changes})

    return [
        position("AAPL"),
        position("BRK.B", halted=True, held_quantity=10, unrealized_pnl_pct=None, weight=None),
        position("A&B", day_change=Decimal("0"), day_change_pct=None, quantity=1234567),
        position("O'K:@", quantity=-20, market_value=Decimal("-2000"), weight=Decimal("100")),
        position("X<Y>", quantity=-3, held_quantity=1, unrealized_pnl=Decimal("-5")),
    ]


def test_holding_rows_are_the_row_templates_html():
    context = {"overview": {"positions": positions()}}
    old = Template(OLD_HOLDING_ROWS).render(Context(context))
    new = Template("{% load holdings %}        {% holding_rows overview.positions %}\n").render(
        Context(context)
    )
    assert new == old
