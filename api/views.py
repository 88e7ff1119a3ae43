"""The pages about the API (HTML, public): the reference over the OpenAPI document, the
list of error codes, and the student's guide; and the problem document for any other
address under /api/."""

import re
from pathlib import Path

from django.conf import settings
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils.html import format_html, format_html_join
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

from api.problems import CODES, Problem, problem_response

GUIDE = Path(settings.BASE_DIR) / "docs" / "api.md"


@csrf_exempt
def not_found(request, *args, **kwargs):
    return problem_response(
        request, Problem("not_found", "There is no such address in the TradeSim API (/api/v1/).")
    )


@require_safe
def reference(request):
    """Every operation, from the OpenAPI document, in Swagger UI (vendored): read it, and
    try it with a token. Public: a student may read it before making a token."""
    return render(request, "api/reference.html")


def _with_code(text: str):
    """`text` with its `backquoted` words as <code>, everything else escaped."""
    parts = re.split(r"`([^`]+)`", text)
    # re.split with a group: the backquoted words are the odd parts.
    marked = (format_html("<code>{}</code>", p) if n % 2 else p for n, p in enumerate(parts))
    return format_html_join("", "{}", ((part,) for part in marked))


@require_safe
def errors(request):
    """Every problem `code`, its HTTP status, title and meaning; each row's id is the code,
    so a problem document's `type` (/api/v1/errors#<code>) lands on it."""
    codes = [
        {
            "code": code,
            "status": entry.status,
            "title": entry.title,
            "meaning": _with_code(entry.meaning),
        }
        for code, entry in CODES.items()
    ]
    return render(request, "api/errors.html", {"codes": codes})


@require_safe
def guide(request):
    """docs/api.md, the student's guide to the API (Markdown, read as plain text)."""
    try:
        text = GUIDE.read_text(encoding="utf-8")
    except OSError:
        raise Http404("The API guide is not installed on this server.") from None
    return HttpResponse(text, content_type="text/plain; charset=utf-8")
