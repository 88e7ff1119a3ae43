"""Submitting an admin form the way a browser would: every field the page rendered."""

from html.parser import HTMLParser


class _FormFields(HTMLParser):
    def __init__(self, form_id: str):
        super().__init__()
        self.form_id = form_id
        self.inside = False
        self.select = None
        self.textarea = None
        self.data: dict[str, list[str]] = {}

    def _add(self, name, value):
        self.data.setdefault(name, []).append(value)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.inside = attrs.get("id") == self.form_id
            return
        if not self.inside or "name" not in attrs:
            if self.inside and tag == "option" and self.select and "selected" in attrs:
                self._add(self.select, attrs.get("value", ""))
            return
        name = attrs["name"]
        if tag == "input":
            kind = attrs.get("type", "text")
            if kind in ("submit", "button", "file"):
                return
            if kind in ("checkbox", "radio"):
                if "checked" in attrs:
                    self._add(name, attrs.get("value", "on"))
                return
            self._add(name, attrs.get("value", ""))
        elif tag == "select":
            self.select = name
            self.data.setdefault(name, [])
        elif tag == "textarea":
            self.textarea = name
            self._add(name, "")

    def handle_data(self, data):
        if self.textarea:
            self.data[self.textarea][-1] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None


def form_data(html: str, form_id: str) -> dict[str, list[str]]:
    """The fields of <form id=form_id> as a browser would submit them (checked boxes only,
    selected options only), for the test client's post()."""
    parser = _FormFields(form_id)
    parser.feed(html)
    return parser.data
