from urllib.parse import quote

from django import template
from django.utils.safestring import mark_safe

from classrooms.rules import ORDER_TYPES_MARKET, rulebook_for
from tradesim.templatetags.money import esc, money, pnl, shares, side_badge, time_element
from trading import selectors
from trading.forms import OrderTicketForm, ticket_settings
from trading.models import Order
from trading.services import MAX_QUANTITY, describe_order

register = template.Library()


@register.inclusion_tag("trading/_order_ticket.html", takes_context=True)
def order_ticket(context, quote):
    """The order ticket for one quote: `{% order_ticket quote %}`.

    `quote` needs .symbol, .name, .price and .halted (prices.selectors.Quote has them).
    Reads the visitor's cash and shares held (with the margin figures in a class with
    margin), and their class's rules for the commission, the order types and margin: one
    query for a logged-in user (two in a class), none for an anonymous visitor or a halted
    symbol."""
    request = context.get("request")
    user = getattr(request, "user", None)
    ticket = {
        "quote": quote,
        "request": request,
        "authenticated": bool(user and user.is_authenticated),
        "halted": bool(getattr(quote, "halted", False)),
        "next": request.get_full_path() if request else "",
        "market_opens": context.get("market_opens"),
    }
    if not ticket["authenticated"] or ticket["halted"]:
        return ticket
    rules = rulebook_for(user)
    funds = selectors.cash_and_shares(user, quote.symbol, rules=rules)
    form = OrderTicketForm(
        initial={"symbol": quote.symbol, "side": "buy", "next": ticket["next"]},
        auto_id="ticket-%s",
    )
    ticket.update(
        cash=funds.cash,
        funds=funds,
        rules=rules,
        market_only=rules.order_types == ORDER_TYPES_MARKET,
        max_quantity=MAX_QUANTITY,
        form=form,
        csrf_token=context.get("csrf_token"),
        **ticket_settings(),
    )
    return ticket


@register.filter
def order_description(order) -> str:
    """An order in plain words: `{{ order|order_description }}` (services.describe_order)."""
    return describe_order(order)


@register.filter
def order_terms(order) -> str:
    """The order in plain words after its side, quantity and symbol, which a page shows as
    a badge before it: "if the price falls to $180.00 or less; good for today"."""
    text = describe_order(order)
    head = f"{order.get_side_display()} {order.quantity:,} {order.stock_id}"
    return text[len(head) :].lstrip() if text.startswith(head) else text


@register.filter
def order_holds(order) -> str:
    """What an open order sets aside: "$1,800.00", "10 shares", "10 short shares" (a buy to
    cover holds the short shares it closes), "Nothing" (a short sale: its margin is checked
    when it fills)."""
    if order.held_cash:
        return money(order.held_cash)
    if order.side == Order.Side.SELL_SHORT:
        return "Nothing"
    count = order.held_shares
    what = "short share" if order.side == Order.Side.BUY_TO_COVER else "share"
    return f"{shares(count)} {what}{'' if count == 1 else 's'}"


@register.simple_tag
def trade_rows(trades, history_url):
    """The trade history's rows, `{% trade_rows trades history_url %}`: the HTML the row
    template gave, formatted in one pass."""
    history_url = esc(history_url)
    rows = []
    for trade in trades:
        fee = 'data-cell="commission" data-label="Commission"'
        if trade.commission:
            commission = f'"num" {fee}>{money(trade.commission)}'
        else:
            commission = f'"num stack-hide" {fee}>—'
        if trade.realized_pnl is None:
            result = '"num stack-hide" data-cell="pnl"><span class="text-body-secondary">—</span>'
        else:
            result = f'"num" data-cell="pnl" data-label="P/L">{pnl(trade.realized_pnl)}'
        symbol = trade.stock_id
        link = f"{history_url}?symbol={esc(quote(symbol, safe='/'))}"
        cells = (
            f'<td role="cell" data-cell="when">{time_element(trade.timestamp)}</td>',
            f'<td role="cell" data-cell="side">{side_badge(trade.operation)}</td>',
            f'<td role="cell" class="num" data-cell="shares">{esc(shares(trade.quantity))}</td>',
            f'<td role="cell" data-cell="symbol"><a href="{link}">{esc(symbol)}</a></td>',
            f'<td role="cell" class="num" data-cell="price" data-label="at">{money(trade.price)}'
            "</td>",
            f'<td role="cell" class="num" data-cell="total">{money(trade.total)}</td>',
            f'<td role="cell" class={commission}</td>',
            f'<td role="cell" class={result}</td>',
        )
        rows.append(ROW.format(CELL.join(cells)))
    return mark_safe("".join(rows))  # noqa: S308 (the values are escaped, or safe HTML)


# A row as the templates indent it (the pages' HTML stays as it was, byte for byte).
ROW = '\n              <tr role="row">\n                {}\n              </tr>\n            '
CELL = "\n                "
