"""Money in templates: two decimals, a thousands separator, and a sign that is more than
a color."""

import html
from decimal import Decimal, InvalidOperation

from django import template
from django.utils import timezone
from django.utils.dates import MONTHS_3
from django.utils.html import format_html
from django.utils.safestring import mark_safe

register = template.Library()

MINUS = "\u2212"


def _as_decimal(value):
    if value is None or value == "":
        return None
    try:
        return Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        return None


@register.filter
def money(value):
    """1234.5 → "$1,234.50"; −3 → "−$3.00"."""
    d = _as_decimal(value)
    if d is None:
        return "—"
    sign = MINUS if d < 0 else ""
    return f"{sign}${abs(d):,.2f}"


@register.filter
def signed_money(value):
    """A change: "+$12.00", "−$3.00", "$0.00"."""
    d = _as_decimal(value)
    if d is None:
        return "—"
    sign = "+" if d > 0 else MINUS if d < 0 else ""
    return f"{sign}${abs(d):,.2f}"


@register.filter
def pct(value, places=2):
    """A signed percentage: "+1.25%"."""
    d = _as_decimal(value)
    if d is None:
        return "—"
    sign = "+" if d > 0 else MINUS if d < 0 else ""
    return f"{sign}{abs(d):,.{int(places)}f}%"


@register.filter
def percentage(value, places=2):
    """A level, not a change: "66.67 %", "−19.05 %" (a minus sign, no plus; the % kept on
    the number's line)."""
    d = _as_decimal(value)
    if d is None:
        return "—"
    sign = MINUS if d < 0 else ""
    return f"{sign}{abs(d):,.{int(places)}f}\u00a0%"


@register.filter
def signed_ratio(value, places=2):
    """A signed plain number, such as a risk-adjusted return: "+0.42"."""
    d = _as_decimal(value)
    if d is None:
        return "—"
    sign = "+" if d > 0 else MINUS if d < 0 else ""
    return f"{sign}{abs(d):,.{int(places)}f}"


@register.filter
def shares(value):
    d = _as_decimal(value)
    return "—" if d is None else f"{d:,.0f}"


@register.filter
def position_shares(value):
    """A signed holding as a person reads it: 50 → "50", -50 → "Short 50"."""
    d = _as_decimal(value)
    if d is None:
        return "—"
    return f"Short {-d:,.0f}" if d < 0 else f"{d:,.0f}"


@register.simple_tag
def pnl(value, kind="money"):
    """A gain or loss badge: arrow + sign + amount, colored, readable without color. `kind`:
    "money", "pct" or "ratio"."""
    d = _as_decimal(value)
    if d is None:
        return "—"
    text = {"money": signed_money, "ratio": signed_ratio}.get(kind, pct)(d)
    if d > 0:
        return format_html('<span class="pnl pnl-up">▲ {}</span>', text)
    if d < 0:
        return format_html('<span class="pnl pnl-down">▼ {}</span>', text)
    return format_html('<span class="pnl pnl-flat">{}</span>', text)


# Trades' operations and orders' sides (trading.models): buying sides green, selling red.
SIDES = {
    "buy": "Buy",
    "sell": "Sell",
    "short": "Sell short",
    "cover": "Buy to cover",
    "sell_short": "Sell short",
    "buy_to_cover": "Buy to cover",
}


@register.simple_tag
def side_badge(side, quantity=None, symbol=None):
    """Buy or Sell, the same badge on every page: the word, in the side's color (green to
    buy, red to sell, like the order buttons). With a quantity and a symbol it reads as
    the whole order: "Buy 3 AAPL"."""
    side = str(side).lower()
    badge = format_html(
        '<span class="badge side-badge side-{}">{}</span>', side, SIDES.get(side, side)
    )
    if quantity is None:
        return badge
    return format_html("{} {} {}", badge, shares(quantity), symbol or "")


@register.simple_tag
def cash_badge(row):
    """A cash-journal row's type: a trade's side badge for buys and sells, a plain gray
    badge for the others (the signed amount beside it says in or out)."""
    if row.type in SIDES:
        return side_badge(row.type)
    return format_html('<span class="badge text-bg-secondary">{}</span>', row.get_type_display())


@register.simple_tag
def cash_amount(row):
    """A cash movement: "+$100.00" in, "−$25.00" out; the sign says which, the color
    repeats it."""
    css = "pnl-up" if row.is_credit else "pnl-down"
    return format_html('<span class="pnl {}">{}</span>', css, signed_money(row.signed_amount))


# Rows of a table written in one go (trade history, cash journal): a template renders each
# cell's variables, filters and tags one node at a time, several times the cost of the
# same HTML formatted here. These give the cells those templates gave.


def esc(value) -> str:
    """What autoescaping makes of a value: Django's escape() for plain text (the same
    five characters), a safe string (a badge) as it is."""
    if hasattr(value, "__html__"):
        return value.__html__()
    return html.escape(str(value))


def time_element(moment) -> str:
    """`<time datetime="{{ t|date:'c' }}">{{ t|date:"M j, Y H:i" }}</time>`, in the
    current time zone as the template's date filter shows it (the same fields as
    django.utils.dateformat's c, M, j, Y, H and i, without its parse of the format)."""
    if timezone.is_aware(moment):
        moment = timezone.localtime(moment)
    month = str(MONTHS_3[moment.month]).title()
    return (
        f'<time datetime="{moment.isoformat()}">'
        f"{month} {moment.day}, {moment.year:04d} {moment.hour:02d}:{moment.minute:02d}</time>"
    )


@register.simple_tag
def journal_rows(rows):
    """The cash journal's rows, `{% journal_rows rows %}`: the HTML the row template gave,
    formatted in one pass."""
    out = []
    for row in rows:
        cells = (
            f'<td role="cell" data-cell="when">{time_element(row.timestamp)}</td>',
            f'<td role="cell" data-cell="type">{cash_badge(row)}</td>',
            f'<td role="cell" data-cell="desc">{esc(row.description or "—")}</td>',
            f'<td role="cell" data-cell="symbol">{esc(row.symbol or "")}</td>',
            f'<td role="cell" class="num" data-cell="amount">{cash_amount(row)}</td>',
            '<td role="cell" class="num" data-cell="balance" data-label="Balance">'
            f"{money(row.balance_after)}</td>",
        )
        out.append(JOURNAL_ROW.format("\n        ".join(cells)))
    return mark_safe("".join(out))  # noqa: S308 (the values are escaped, or safe HTML)


JOURNAL_ROW = '\n      <tr role="row">\n        {}\n      </tr>\n      '
