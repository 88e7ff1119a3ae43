from django.db import DatabaseError, connection
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from tradesim.glossary import SECTIONS


def home(request):
    if request.user.is_authenticated:
        return redirect("portfolio:dashboard")
    return render(request, "home.html")


@require_safe
def glossary(request):
    """Every finance word a student meets, in plain words, one anchor per entry (the pages'
    "?" explanations link here). Public: a visitor may read it before signing up."""
    return render(request, "glossary.html", {"sections": SECTIONS})


@never_cache
@require_safe
def healthz(request):
    """200 "ok" when the database answers, 503 when it does not; GET or HEAD (monitors
    often probe with HEAD)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        return HttpResponse("database unavailable", status=503, content_type="text/plain")
    return HttpResponse("ok", content_type="text/plain")


@require_safe
def favicon(request):
    """Browsers ask for /favicon.ico on pages that name no icon (the admin, a download, the
    plain 500 page): send them to the site's icon instead of a 404."""
    return redirect(static("img/favicon.svg"), permanent=True)


def moved_class_admin(request, rest: str):
    """/admin/accounts/classroom/… (before classes had an app of their own) → the same page
    under /admin/classrooms/classroom/, query string kept."""
    query = request.META.get("QUERY_STRING", "")
    return redirect(f"/admin/classrooms/classroom/{rest}" + (f"?{query}" if query else ""))
