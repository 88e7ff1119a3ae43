"""The market table's rows, formatted in one pass: the same HTML as the row template they
replace (tests/prices/test_market_rows.py compares them), without a template's node-by-node
work on each of a page's hundred rows."""

from urllib.parse import quote

from django import template
from django.urls import reverse
from django.utils.http import RFC3986_SUBDELIMS
from django.utils.safestring import mark_safe

from tradesim.templatetags.glossary import disclosure
from tradesim.templatetags.money import esc, money, pnl

register = template.Library()

# A row as market.html indents it.
ROW = '\n          <tr role="row">\n            {}\n          </tr>\n        '
CELL = "\n            "
HALTED = '<span class="badge text-bg-warning ms-1">Halted</span>'
INDEX = '<span class="badge text-bg-info ms-1">Index fund</span>'


@register.simple_tag(takes_context=True)
def market_rows(context, quotes):
    """`{% market_rows overview.quotes %}`: each quote's row, its symbol linked to its
    quote page ({% url 'prices:quote' symbol %})."""
    # reverse() quotes an argument with these safe characters; the rest of the address
    # is the same for every symbol.
    base = reverse("prices:quote", args=["_"])[:-2]
    rows = []
    for q in quotes:
        link = f"{base}{quote(str(q.symbol), safe=RFC3986_SUBDELIMS + '/~:@')}/"
        name = (
            f"\n              {esc(q.name)}"
            f"\n              {HALTED if q.halted else ''}"
            "\n              "
        )
        if q.is_index:
            name += INDEX + disclosure(context, "market-index", "prices/market.html")
        cells = (
            '<th scope="row" role="rowheader" data-cell="symbol">'
            f'<a href="{esc(link)}">{esc(q.symbol)}</a></th>',
            f'<td role="cell" data-cell="name">{name}\n            </td>',
            f'<td role="cell" class="text-body-secondary" data-cell="sector">{esc(q.sector)}</td>',
            f'<td role="cell" class="num" data-cell="price">{money(q.price)}</td>',
            f'<td role="cell" class="num" data-cell="change">{pnl(q.change)}</td>',
            f'<td role="cell" class="num" data-cell="pct">{pnl(q.change_pct, "pct")}</td>',
        )
        rows.append(ROW.format(CELL.join(cells)))
    return mark_safe("".join(rows))  # noqa: S308 (the values are escaped, or safe HTML)
