"""The form renderer: Django's, with the plain widgets written out in Python.

Django renders each widget through a template (input.html and its attrs.html, select.html
and a select_option.html per option), the costliest part of a small page's form: a filter
bar of four fields took more time than the rows of the table under it. The inputs and flat
selects are formatted here with the same HTML (tests/test_form_renderer.py compares them
with Django's templates); any other widget goes to the templates as before.
"""

import html

from django.forms.renderers import DjangoTemplates
from django.utils.safestring import SafeData

INPUTS = frozenset(
    f"django/forms/widgets/{kind}.html"
    for kind in (
        "text",
        "number",
        "email",
        "url",
        "password",
        "hidden",
        "date",
        "datetime",
        "time",
        "search",
        "tel",
    )
)
SELECT = "django/forms/widgets/select.html"
OPTION = "django/forms/widgets/select_option.html"


class FastWidgetRenderer(DjangoTemplates):
    def render(self, template_name, context, request=None):
        widget = context.get("widget")
        if template_name in INPUTS:
            return _input(widget)
        if template_name == SELECT and _flat(widget):
            return _select(widget)
        return super().render(template_name, context, request)


def _text(value) -> str:
    """{{ value }}: escaped unless marked safe."""
    if hasattr(value, "__html__"):
        return value.__html__()
    return html.escape(str(value))


def _formatted(value) -> str:
    """{{ value|stringformat:'s' }}: escaped unless the value was marked safe (the filter
    keeps a safe value safe)."""
    text = "%s" % (str(value) if isinstance(value, tuple) else value,)  # noqa: UP031
    return text if isinstance(value, SafeData) else html.escape(text)


def _attrs(attrs: dict) -> str:
    """django/forms/widgets/attrs.html."""
    out = ""
    for name, value in attrs.items():
        if value is True:
            out += f" {_text(name)}"
        elif value is not False:
            out += f' {_text(name)}="{_formatted(value)}"'
    return out


def _input(widget) -> str:
    value = widget["value"]
    shown = "" if value is None else f' value="{_formatted(value)}"'
    return (
        f'<input type="{_text(widget["type"])}" name="{_text(widget["name"])}"{shown}'
        f"{_attrs(widget['attrs'])}>"
    )


def _flat(widget) -> bool:
    return all(
        not group and all(option["template_name"] == OPTION for option in options)
        for group, options, _ in widget["optgroups"]
    )


def _select(widget) -> str:
    parts = [f'<select name="{_text(widget["name"])}"{_attrs(widget["attrs"])}>']
    for _, options, _ in widget["optgroups"]:
        for option in options:
            parts.append(
                f'\n  <option value="{_formatted(option["value"])}"{_attrs(option["attrs"])}>'
                f"{_text(option['label'])}</option>\n"
            )
    parts.append("\n</select>")
    return "".join(parts)
