"""The dashboard's holdings table, its rows written in one go: a template renders each
cell's variables, filters and tags one node at a time, several times the cost of the same
HTML formatted here (as the trade history's and the journal's rows)."""

from urllib.parse import quote

from django import template
from django.template.defaultfilters import floatformat
from django.urls import reverse
from django.utils.safestring import mark_safe

from tradesim.templatetags.money import esc, money, pnl, position_shares, shares

register = template.Library()


@register.simple_tag
def holding_rows(positions):
    """`{% holding_rows overview.positions %}`: a row per position, with its quote link,
    its values and P/L, and the buttons to trade it (Buy and Sell, or Buy to cover for a
    short)."""
    urls = {
        "order": esc(reverse("trading:order_new")),
        "buy": esc(reverse("trading:buy")),
        "sell": esc(reverse("trading:sell")),
    }
    return mark_safe("".join(_row(p, urls) for p in positions))  # noqa: S308 (escaped)


def _row(p, urls: dict) -> str:
    symbol, query = esc(p.symbol), quote(str(p.symbol), safe="/")
    quote_url = esc(reverse("prices:quote", kwargs={"symbol": p.symbol}))
    halted = '<span class="badge text-bg-warning ms-1">Halted</span>' if p.halted else ""
    quantity = position_shares(p.quantity)
    if p.is_short:
        quantity = f'<span class="text-nowrap">{quantity}</span>'
    if p.held_quantity:
        quantity += (
            f'<div class="small text-body-secondary text-wrap">{shares(p.held_quantity)} '
            "held for orders</div>"
        )
    cost_label = "Avg short price" if p.is_short else "Avg cost"
    cost = money(p.average_cost)
    if p.is_short:
        cost += '<div class="small text-body-secondary d-none d-lg-block">avg short price</div>'
    weight = floatformat(p.weight, 2)
    if p.is_short:
        end = (
            '<td role="cell" class="num" data-cell="weight" data-label="Weight">'
            f"{weight}%"
            '<div class="small text-body-secondary">of your shorts</div></td>\n'
            '          <td role="cell" class="text-end text-nowrap stack-end" '
            'data-cell="actions">\n'
            '            <a class="btn btn-sm btn-outline-primary" '
            f'href="{urls["order"]}?side=buy_to_cover&amp;symbol={query}" '
            f'aria-label="Buy to cover {symbol}">Buy to cover</a>\n'
            "          </td>"
        )
    else:
        end = (
            f'<td role="cell" class="num" data-cell="weight" data-label="Weight">{weight}%</td>\n'
            '          <td role="cell" class="text-end text-nowrap stack-end" '
            'data-cell="actions">\n'
            '            <a class="btn btn-sm btn-outline-success" '
            f'href="{urls["buy"]}?symbol={query}" aria-label="Buy {symbol}">Buy</a>\n'
            '            <a class="btn btn-sm btn-outline-danger" '
            f'href="{urls["sell"]}?symbol={query}" aria-label="Sell {symbol}">Sell</a>\n'
            "          </td>"
        )
    return (
        f'\n        <tr role="row" data-symbol="{symbol}">\n'
        '          <th scope="row" role="rowheader" data-cell="symbol">\n'
        f'            <a href="{quote_url}">{symbol}</a>\n'
        f"            {halted}\n"
        '            <div class="small fw-normal text-body-secondary">'
        f"{esc(p.name)} · {esc(p.sector)}</div>\n"
        "          </th>\n"
        '          <td role="cell" class="num" data-cell="shares" data-label="Shares">'
        f"{quantity}</td>\n"
        f'          <td role="cell" class="num" data-cell="cost" data-label="{cost_label}">'
        f"{cost}</td>\n"
        '          <td role="cell" class="num" data-cell="price" data-label="Price">'
        f"{money(p.price)}</td>\n"
        f'          <td role="cell" class="num" data-cell="value">{money(p.market_value)}</td>\n'
        '          <td role="cell" class="num" data-cell="pnl" data-label="P/L">'
        f'{pnl(p.unrealized_pnl)}<div class="small">{pnl(p.unrealized_pnl_pct, "pct")}</div>'
        "</td>\n"
        '          <td role="cell" class="num" data-cell="today" data-label="Today">'
        f'{pnl(p.day_change)}<div class="small">{pnl(p.day_change_pct, "pct")}</div></td>'
        f"\n          {end}\n"
        "        </tr>\n        "
    )
