"""The market table's rows come from {% market_rows %}: the same HTML, byte for byte, as the
row template it replaced, kept here to compare against."""

from datetime import UTC, datetime
from decimal import Decimal

from django.template import Context, Template
from django.template.base import Origin

from prices.selectors import Quote

OLD_ROWS = """{% load money glossary %}        {% for q in overview.quotes %}
          <tr role="row">
            <th scope="row" role="rowheader" data-cell="symbol"><a href="{% url 'prices:quote' q.symbol %}">{{ q.symbol }}</a></th>
            <td role="cell" data-cell="name">
              {{ q.name }}
              {% if q.halted %}<span class="badge text-bg-warning ms-1">Halted</span>{% endif %}
              {% if q.is_index %}<span class="badge text-bg-info ms-1">Index fund</span>{% explain "market-index" %}{% endif %}
            </td>
            <td role="cell" class="text-body-secondary" data-cell="sector">{{ q.sector }}</td>
            <td role="cell" class="num" data-cell="price">{{ q.price|money }}</td>
            <td role="cell" class="num" data-cell="change">{% pnl q.change %}</td>
            <td role="cell" class="num" data-cell="pct">{% pnl q.change_pct "pct" %}</td>
          </tr>
        {% endfor %}
"""  # noqa: E501
NEW_ROWS = """{% load market_tags %}        {% market_rows overview.quotes %}
"""


def quote(symbol, price, previous, *, name=None, halted=False, is_index=False):
    return Quote.from_row(
        {
            "symbol": symbol,
            "name": name or f"{symbol} Inc.",
            "sector": "Health & <Care>",
            "price": Decimal(price),
            "previous_close": Decimal(previous),
            "timestamp": datetime(2026, 1, 2, tzinfo=UTC),
            "halted": halted,
            "is_index": is_index,
        }
    )


QUOTES = [
    quote("AAPL", "189.12", "180.00"),
    quote("BRK.B", "1234567.89", "1234567.89", name='Berkshire "B" & Co\'s'),
    quote("DOWN", "9.99", "10.00", halted=True),
    quote("IDX", "100.00", "99.00", is_index=True),
    quote("IDX2", "100.00", "101.00", is_index=True, halted=True),
]


def render(source):
    origin = Origin("prices/market.html", template_name="prices/market.html")
    return Template(source, origin=origin).render(Context({"overview": {"quotes": QUOTES}}))


def test_market_rows_are_the_row_templates_html():
    assert render(NEW_ROWS) == render(OLD_ROWS)
    assert 'id="explain-market-market-index-2"' in render(NEW_ROWS)
