"""{% explain "<glossary id>" %}: a short explanation of a finance word, next to the word.

It renders a <details> disclosure (includes/explain.html): a small "?" button that opens the
glossary entry's one-sentence explanation and a link to the whole entry on /glossary/. It
works by keyboard and touch, needs no script, and never hides anything behind a hover.

The key is checked when the template is compiled: `{% explain "twr" %}` with no such entry
is a TemplateSyntaxError, so a typo fails the first test that renders the page. A key from a
variable (`{% explain board.metric_term %}`) is checked when it renders, as loudly.
"""

from functools import lru_cache
from pathlib import PurePosixPath

from django import template
from django.conf import settings
from django.template.loader import render_to_string
from django.urls import get_script_prefix

from tradesim.glossary import GLOSSARY, lookup

register = template.Library()


class ExplainNode(template.Node):
    def __init__(self, key: template.base.FilterExpression):
        self.key = key

    def render(self, context):
        name = getattr(self.origin, "template_name", None) or "page"
        return disclosure(context, self.key.resolve(context), name)


def disclosure(context, key: str, template_name: str) -> str:
    """`{% explain key %}` as it renders in `template_name` (a tag that writes rows of a
    template in Python calls this with that template's name)."""
    try:
        term = lookup(key)
    except KeyError as error:
        raise template.TemplateSyntaxError(str(error)) from None
    # The same word may be explained more than once on a page: each disclosure needs an
    # id of its own, and the same id on every render of its template (the dashboard's
    # live section, served alone and swapped in, keeps an open one open by its id). So
    # the id names the template and counts the key within it.
    place = PurePosixPath(str(template_name)).stem.strip("_") or "page"
    seen = context.render_context.setdefault("glossary_explained", {})
    count = seen[place, key] = seen.get((place, key), 0) + 1
    dom_id = f"explain-{place}-{key}" + (f"-{count}" if count > 1 else "")
    if settings.DEBUG:  # an edited explain.html shows on the next page
        return _disclosure.__wrapped__(term, dom_id, get_script_prefix())
    return _disclosure(term, dom_id, get_script_prefix())


# The same words are explained on every page, a dozen times on some: each disclosure is
# rendered once per process (the glossary is code; the prefix goes into its link).
@lru_cache(maxsize=2048)
def _disclosure(term, dom_id: str, prefix: str) -> str:
    return render_to_string("includes/explain.html", {"term": term, "dom_id": dom_id})


@register.tag
def explain(parser, token):
    bits = token.split_contents()
    if len(bits) != 2:
        raise template.TemplateSyntaxError(
            f'{bits[0]} takes one glossary id, e.g. {{% {bits[0]} "time-weighted-return" %}}'
        )
    raw = bits[1]
    if len(raw) > 1 and raw[0] == raw[-1] and raw[0] in "\"'" and raw[1:-1] not in GLOSSARY:
        raise template.TemplateSyntaxError(
            f"No glossary entry {raw[1:-1]!r}; known: {', '.join(sorted(GLOSSARY))}"
        )
    return ExplainNode(parser.compile_filter(raw))
