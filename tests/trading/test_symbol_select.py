"""The ticket's symbol picker writes its HTML itself (a market of thousands of symbols made
Django's per-option templates cost seconds a page): the same HTML as the templates."""

from decimal import Decimal

import pytest
from django import forms
from django.forms.renderers import DjangoTemplates

from tests.factories import PriceFactory
from trading import selectors
from trading.forms import OrderTicketForm, SymbolSelect
from trading.services import buy, order_request, place_order
from trading.views import _form_choices

CHOICES = [
    ("", "Choose a symbol…"),
    ("AAPL", "AAPL — Apple Inc. ($189.12)"),
    ("AT&T", 'AT&T — "Bell" <Telephone> & Co\'s ($18.00) · 3 held'),
    ("HALT", "HALT — Halted Corp ($1,000.00) · trading paused"),
    ("SHRT", "SHRT — Short Co ($5.00) · short 50"),
    ("AAPL", "AAPL again, never selected twice"),
]
DATA = {
    "AAPL": {"price": "189.12", "held": 0, "disabled": False},
    "AT&T": {"price": "18.00", "held": 3, "disabled": False, "held-for-orders": 2},
    "HALT": {"price": "1000.00", "held": 0, "disabled": True},
    "SHRT": {"price": "5.00", "held": 50, "disabled": False, "short": 1},
}


def django_render(widget, *args):
    """What Django's own select templates make of it (not settings.FORM_RENDERER, which
    writes selects in Python too)."""
    return forms.Select.render(widget, *args, renderer=DjangoTemplates())


def test_the_picker_renders_what_djangos_templates_render():
    widget = SymbolSelect(choices=CHOICES, option_data=DATA, attrs={"class": "form-select"})
    attrs = {
        "id": "id_symbol",
        "required": True,
        "aria-invalid": "true",
        "aria-describedby": 'id_symbol_error "x"',
        "hidden": False,
    }
    for value in (None, "", "AAPL", "AT&T", "HALT", "SHRT", "NOPE", 7):
        assert widget.render("symbol", value, attrs) == django_render(
            widget, "symbol", value, attrs
        ), value
        assert widget.render("symbol", value) == django_render(widget, "symbol", value)


def test_the_picker_is_safe_html_with_every_value_escaped():
    widget = SymbolSelect(choices=CHOICES, option_data=DATA)
    rendered = widget.render("symbol", "AT&T")
    assert hasattr(rendered, "__html__")
    assert '<option value="AT&amp;T" selected data-price="18.00"' in rendered
    assert "&lt;Telephone&gt; &amp; Co&#x27;s" in rendered
    assert '<option value="HALT" data-price="1000.00" data-held="0" disabled>' in rendered


# The buy ticket's picker over the market's listing (ListedSymbolSelect): the page's
# <select> is the one SymbolSelect makes of every option with the student's own figures.


def expected_select(user, side, value):
    form = OrderTicketForm(initial={"symbol": value, "side": side})
    form.use_symbol_choices(**_form_choices(selectors.order_options(user, side=side), side))
    return str(form["symbol"])


def page_select(html):
    start = html.index('<select name="symbol"')
    return html[start : html.index("</select>", start) + len("</select>")]


@pytest.mark.django_db
@pytest.mark.parametrize("chosen", ["", "BRK.B", "HELD", "HALT", "NOPE"])
def test_the_buy_tickets_picker_is_every_option_with_the_students_figures(
    student_client, student, other_client, chosen
):
    for symbol in ("AAPL", "BRK.B", "HELD", "ZZZ"):
        PriceFactory(symbol=symbol, name=f"{symbol} <Co>", price=Decimal("12.34"))
    PriceFactory(symbol="HALT", halted=True)
    buy(user=student, symbol="HELD", quantity=7)
    buy(user=student, symbol="BRK.B", quantity=3)
    place_order(
        user=student,
        request=order_request(
            side="sell", type="limit", symbol="BRK.B", quantity=2, limit_price="50"
        ),
    )
    # Another student's page first: the listing made for them serves this one too.
    assert other_client.get("/trading/buy/").status_code == 200
    for _ in range(2):
        response = student_client.get(f"/trading/buy/?symbol={chosen}")
        assert response.status_code == 200
        assert page_select(response.content.decode()) == expected_select(student, "buy", chosen)


@pytest.mark.django_db
def test_a_symbol_listed_between_ticks_is_on_the_next_ticket(
    student_client, django_capture_on_commit_callbacks
):
    """The tickets' symbol lists are kept per quote generation: listing a symbol (the
    admin's Add symbol) starts a new one, without waiting for a tick."""
    from prices.market_data import Listing
    from prices.services import list_symbol

    PriceFactory(symbol="AAPL")
    assert "NEWCO" not in student_client.get("/trading/buy/").content.decode()
    listing = Listing("NEWCO", "New Co", "Technology", Decimal("12.00"), 0.05, 0.3, 1.0)
    with django_capture_on_commit_callbacks(execute=True):
        list_symbol(listing)
    assert 'value="NEWCO"' in student_client.get("/trading/buy/").content.decode()
