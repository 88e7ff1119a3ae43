"""Portfolio pages: the dashboard (and its live partial), the holdings CSV, the leaderboard.

Thin: the selectors do the reading, every lookup is the logged-in user's, and each page
costs a fixed number of queries whatever the number of holdings or students."""

import csv
from functools import wraps

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render, resolve_url
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from portfolio import selectors
from portfolio.forms import LeaderboardFilterForm
from tradesim.exports import attachment_header, file_name_part, safe_cell

PAGE_SIZE = 25
LIVE_SECONDS = 10
CSV_HEADER = [
    "Symbol",
    "Name",
    "Sector",
    "Quantity",
    "Average cost",
    "Price",
    "Cost basis",
    "Market value",
    "Unrealized P/L",
    "Unrealized P/L %",
    "Day change",
    "Day change %",
    "Weight %",
]


def login_required_for_polls(view):
    """login_required; but when an htmx poll finds the session gone, the whole page goes to
    the log-in page (HX-Redirect) instead of the log-in form landing inside the table."""
    protected = login_required(view)

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated and request.headers.get("HX-Request") == "true":
            response = HttpResponse(status=204)
            login = redirect_to_login(
                reverse("portfolio:dashboard"), resolve_url(settings.LOGIN_URL)
            )
            response["HX-Redirect"] = login.url
            return response
        return protected(request, *args, **kwargs)

    return wrapped


def _live_context(request) -> dict:
    return {
        "overview": selectors.portfolio_overview(request.user),
        "as_of": timezone.now(),
        "live_seconds": LIVE_SECONDS,
    }


def _chart_data(overview: selectors.Overview, history: selectors.ValueHistory) -> dict:
    """What static/js/portfolio-charts.js draws. Amounts stay Decimal (strings in JSON)."""

    def pairs(slices):
        return [{"label": s.label, "value": s.value, "weight": s.weight} for s in slices]

    index_label = None
    if history.index_symbol:
        index_label = f"{history.index_name or 'Market index'} ({history.index_symbol})"
    return {
        "allocation": {"symbol": pairs(overview.by_symbol), "sector": pairs(overview.by_sector)},
        "history": {
            "labels": history.labels,
            "performance": history.performance,
            "index": history.index if history.index_symbol else None,
            "index_label": index_label,
            "total_value": history.total_value,
        },
    }


@login_required
@require_GET
def dashboard(request):
    """The user's totals, holdings, allocation, performance against the index and recent
    activity. The totals and the holdings table refresh through `live`."""
    context = _live_context(request)
    overview = context["overview"]
    history = selectors.value_history(request.user, overview)
    context.update(
        history=history,
        activity=selectors.recent_activity(request.user),
        chart_data=_chart_data(overview, history),
        allocations=[("sector", overview.by_sector), ("symbol", overview.by_symbol)],
        snapshot_every=settings.SNAPSHOT_EVERY_TICKS,
    )
    return render(request, "portfolio/dashboard.html", context)


@never_cache
@login_required_for_polls
@require_GET
def live(request):
    """The dashboard's totals and holdings table alone, for htmx to poll and swap in."""
    return render(request, "portfolio/_live.html", _live_context(request))


@never_cache
@login_required
@require_GET
def holdings_csv(request):
    """The user's holdings as CSV, one row per symbol, amounts as plain decimals."""
    overview = selectors.portfolio_overview(request.user)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y-%m-%d")
    filename = f"holdings-{file_name_part(request.user.get_username())}-{stamp}.csv"
    response["Content-Disposition"] = attachment_header(filename)
    writer = csv.writer(response)
    writer.writerow(CSV_HEADER)
    for p in overview.positions:
        writer.writerow(
            [
                p.symbol,
                safe_cell(p.name),
                safe_cell(p.sector),
                p.quantity,
                p.average_cost,
                p.price,
                p.cost_basis,
                p.market_value,
                p.unrealized_pnl,
                "" if p.unrealized_pnl_pct is None else p.unrealized_pnl_pct,
                p.day_change,
                "" if p.day_change_pct is None else p.day_change_pct,
                "" if p.weight is None else p.weight,
            ]
        )
    return response


@login_required
@require_GET
def leaderboard(request):
    """Students ranked by time-weighted return, then total value; ?class=<id> ranks one
    class; 25 to a page; the viewer's row highlighted and their rank shown on every page."""
    form = LeaderboardFilterForm(request.GET)
    if not form.is_valid():
        return render(request, "portfolio/leaderboard.html", {"form": form}, status=400)
    classroom = form.classroom
    classroom_id = classroom.pk if classroom else None
    # The database ranks every student and returns only this page and the viewer's row;
    # the count is a plain COUNT. Three queries whatever the size of the class.
    total = selectors.ranked_count(classroom_id=classroom_id)
    page = Paginator(range(total), PAGE_SIZE).get_page(request.GET.get("page"))
    rows, mine = selectors.ranking_page(
        first=page.start_index(),
        last=page.end_index(),
        viewer_id=request.user.pk,
        classroom_id=classroom_id,
    )
    context = {
        "form": form,
        "classroom": classroom,
        "page_obj": page,
        "rows": rows,
        "mine": mine,
        "mine_page": (mine.position - 1) // PAGE_SIZE + 1 if mine else None,
        "total": total,
    }
    return render(request, "portfolio/leaderboard.html", context)
