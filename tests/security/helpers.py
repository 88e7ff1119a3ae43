"""What the security tests share: every table that holds money as plain rows, every URL
the resolver knows, and the forms and links of a page as a browser would see them."""

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlsplit

from django.apps import apps
from django.urls import URLResolver, get_resolver

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


# Every URL ----------------------------------------------------------------------------

# What a URL's parameters are filled with: the listed symbol and the first row.
PATH_VALUES = {
    "symbol": "ZAL",
    "object_id": "1",
    "id": "1",
    "order_id": "1",
    "class_id": "1",
    "token_id": "1",
    "content_type_id": "1",
    "app_label": "ledger",
    "url": "nothing-here/",
    "rest": "",
}


def _fill(pattern_text: str, value=None) -> str:
    """A route or regex with its parameters replaced by values from PATH_VALUES, or all
    by `value` (already quoted for a path)."""

    def filled(match):
        return PATH_VALUES[match[1]] if value is None else value

    text = re.sub(r"<(?:\w+:)?(\w+)>", filled, pattern_text)
    text = re.sub(r"\(\?P<(\w+)>[^)]*\)", filled, text)
    return text.lstrip("^").rstrip("$").replace("\\", "")


def all_urls(patterns=None, prefix="", namespace="", value=None):
    """(name, path) for every pattern the resolver knows, nested ones included; unnamed
    patterns are named "<namespace>:<unnamed route>". `value` fills every parameter of
    a path instead of PATH_VALUES."""
    if patterns is None:
        patterns = get_resolver().url_patterns
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = namespace + (f"{entry.namespace}:" if entry.namespace else "")
            inner = prefix + _fill(str(entry.pattern), value)
            yield from all_urls(entry.url_patterns, inner, ns, value)
        else:
            name = entry.name or f"<unnamed {entry.pattern}>"
            yield namespace + name, "/" + prefix + _fill(str(entry.pattern), value)


def site_urls() -> dict[str, str]:
    return {name: path for name, path in all_urls() if not name.startswith("admin:")}


def admin_urls() -> list[tuple[str, str]]:
    return [(name, path) for name, path in all_urls() if name.startswith("admin:")]


# A page's forms and links ---------------------------------------------------------------


@dataclass
class PageForm:
    method: str  # "get" or "post"
    action: str  # "" for the page itself
    fields: dict[str, list[str]] = field(default_factory=dict)  # as a browser submits them
    several: set[str] = field(default_factory=set)  # names that take several values
    dates: set[str] = field(default_factory=set)  # names of date (and time) inputs


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms: list[PageForm] = []
        self.links: list[str] = []
        self.form = None
        self.select = None
        self.textarea = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        elif tag == "form":
            method = (attrs.get("method") or "get").lower()
            self.form = PageForm(method=method, action=attrs.get("action") or "")
            self.forms.append(self.form)
        elif self.form is None:
            return
        elif tag == "input" and attrs.get("name"):
            kind = (attrs.get("type") or "text").lower()
            if kind in ("submit", "button", "file", "image", "reset"):
                return
            name = attrs["name"]
            if kind.startswith("date") or "vDateField" in (attrs.get("class") or ""):
                self.form.dates.add(name)
            if kind in ("checkbox", "radio"):
                self.form.fields.setdefault(name, [])
                if kind == "checkbox":
                    self.form.several.add(name)
                if "checked" in attrs:
                    self.form.fields[name].append(attrs.get("value", "on"))
                return
            self.form.fields.setdefault(name, []).append(attrs.get("value") or "")
        elif tag == "select" and attrs.get("name"):
            self.select = attrs["name"]
            self.form.fields.setdefault(self.select, [])
            if "multiple" in attrs:
                self.form.several.add(self.select)
        elif tag == "option" and self.select and "selected" in attrs:
            self.form.fields[self.select].append(attrs.get("value", ""))
        elif tag == "textarea" and attrs.get("name"):
            self.textarea = attrs["name"]
            self.form.fields.setdefault(self.textarea, []).append("")

    def handle_data(self, data):
        if self.form is not None and self.textarea:
            self.form.fields[self.textarea][-1] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.form = None
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None


def page_forms(html: str) -> list[PageForm]:
    parser = _Page()
    parser.feed(html)
    return parser.forms


def _own_links(html: str, path: str) -> list[tuple[str, str]]:
    """(name, value) of every query parameter of the page's links back to itself."""
    parser = _Page()
    parser.feed(html)
    pairs = []
    for href in parser.links:
        parts = urlsplit(href)
        if parts.query and parts.path in ("", path):
            pairs += parse_qsl(parts.query, keep_blank_values=True)
    return pairs


def link_parameters(html: str, path: str) -> set[str]:
    """The query parameters of the page's links back to itself (sorting, paging,
    filters, exports)."""
    return {name for name, _ in _own_links(html, path)}


def link_values(html: str, path: str, name: str) -> set[str]:
    """The values the page's links back to itself give `name` (?format=csv: an export)."""
    return {value for key, value in _own_links(html, path) if key == name and value}
