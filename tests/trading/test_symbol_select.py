"""The ticket's symbol picker writes its HTML itself (a market of thousands of symbols made
Django's per-option templates cost seconds a page): the same HTML as the templates."""

from django import forms

from trading.forms import SymbolSelect

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
    return forms.Select.render(widget, *args)


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
