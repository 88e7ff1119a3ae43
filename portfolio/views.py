"""Portfolio pages: the dashboard (and its live partial), the holdings CSV, the leaderboard,
and the student's class as a contest (its rules and their standing).

Thin: the selectors do the reading, every lookup is the logged-in user's, and each page
costs a fixed number of queries whatever the number of holdings or students."""

from functools import wraps

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import render, resolve_url
from django.urls import reverse
from django.utils import timezone
from django.utils.module_loading import import_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from classrooms import describe
from classrooms.rules import Rulebook, when
from portfolio import selectors
from portfolio.forms import LeaderboardFilterForm
from tradesim.exports import csv_download, decimal_cell, export_filename, safe_cell
from tradesim.glossary import GLOSSARY

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
@require_safe
def dashboard(request):
    """The user's totals, holdings, allocation, performance against the index and recent
    activity. The totals and the holdings table refresh through `live`."""
    context = _live_context(request)
    overview = context["overview"]
    history = selectors.value_history(request.user, overview)
    context.update(
        contest=_contest(request.user),
        panels=_panels(request.user) if overview.has_account else [],
        history=history,
        activity=selectors.recent_activity(request.user),
        chart_data=_chart_data(overview, history),
        allocations=[("sector", overview.by_sector), ("symbol", overview.by_symbol)],
        snapshot_every=settings.SNAPSHOT_EVERY_TICKS,
    )
    return render(request, "portfolio/dashboard.html", context)


def _panels(user) -> list[dict]:
    """What the apps above the portfolio add to the dashboard (settings.DASHBOARD_PANELS):
    each hook is called as hook(user=…) and returns a dict with the "template" that shows
    it and its context, read by that template as `panel`, or None for nothing to show."""
    found = (import_string(path)(user=user) for path in settings.DASHBOARD_PANELS)
    return [panel for panel in found if panel]


@never_cache
@login_required_for_polls
@require_safe
def live(request):
    """The dashboard's totals and holdings table alone, for htmx to poll and swap in."""
    return render(request, "portfolio/_live.html", _live_context(request))


@never_cache
@login_required
@require_safe
def holdings_csv(request):
    """The user's holdings as CSV, one row per symbol, amounts as plain decimals."""
    overview = selectors.portfolio_overview(request.user)
    rows = [
        [
            p.symbol,
            safe_cell(p.name),
            safe_cell(p.sector),
            p.quantity,
            decimal_cell(p.average_cost),
            decimal_cell(p.price),
            decimal_cell(p.cost_basis),
            decimal_cell(p.market_value),
            decimal_cell(p.unrealized_pnl),
            decimal_cell(p.unrealized_pnl_pct),
            decimal_cell(p.day_change),
            decimal_cell(p.day_change_pct),
            decimal_cell(p.weight),
        ]
        for p in overview.positions
    ]
    filename = export_filename("holdings", request.user.get_username())
    return csv_download(rows, header=CSV_HEADER, filename=filename)


def _board_for(request, classes):
    """The class the leaderboard shows and its board: ?class=<id> among the viewer's
    classes, or by default the student's own class (their own board of the students in no
    class), an instructor's first class, a superuser's every student. Another class is
    answered as one that does not exist (404), so the page tells no one which classes
    there are. None for an instructor who runs no class."""
    user = request.user
    requested = request.GET.get("class", "")
    if requested:
        classroom = next((c for c in classes if str(c.pk) == requested), None)
        if classroom is None:
            raise Http404("No such class among yours.")
    elif user.is_superuser:
        return None, selectors.Board()
    elif user.is_staff:
        if not classes:
            return None, None
        classroom = classes[0]
    else:
        classroom = classes[0] if classes else None
    if classroom is None:
        return None, selectors.Board(no_class=True)
    return classroom, selectors.Board.of(Rulebook.from_classroom(classroom))


@login_required
@require_safe
def leaderboard(request):
    """A class's students ranked by the class's metric (a student's own class by default),
    the unranked after them; 25 to a page; the viewer's row highlighted and their rank shown
    on every page. Classmates' names are hidden from students when the class says so."""
    user = request.user
    classes = selectors.visible_classes(user)
    classroom, board = _board_for(request, classes)
    form = None
    if user.is_staff or user.is_superuser:
        form = LeaderboardFilterForm(
            {"class": str(classroom.pk) if classroom else ""},
            classes=classes,
            everyone=user.is_superuser,
        )
    context = {"form": form, "classroom": classroom, "board": board}
    if board is None:
        return render(request, "portfolio/leaderboard.html", context)
    rulebook = Rulebook.from_classroom(classroom) if classroom else None
    # Instructors see the names in their classes (superusers in all); students as the class
    # says.
    names = board.names_shown or user.is_staff or user.is_superuser
    # The database ranks every student and returns only this page and the viewer's row;
    # the count is a plain COUNT. Fixed queries whatever the size of the class.
    total = selectors.ranked_count(board)
    page = Paginator(range(total), PAGE_SIZE).get_page(request.GET.get("page"))
    rows, mine = selectors.ranking_page(
        board,
        first=page.start_index(),
        last=page.end_index(),
        viewer_id=user.pk,
        names=names,
    )
    context.update(
        page_obj=page,
        rows=rows,
        mine=mine,
        mine_page=(mine.position - 1) // PAGE_SIZE + 1 if mine else None,
        total=total,
        ranked_total=next((row.ranked_total for row in [*rows, mine] if row), 0),
        countdown=describe.countdown(rulebook) if rulebook else None,
        explained=describe.RANKING_EXPLAINED[board.metric],
        metric_term=GLOSSARY[board.metric_term],
        by_class=board.classroom_id is None and not board.no_class,
    )
    return render(request, "portfolio/leaderboard.html", context)


@login_required
@require_safe
def class_rules(request):
    """The student's class as a contest: its dates with a countdown, every rule in plain
    words, and where they stand. A student in no class is pointed to joining one."""
    contest = _contest(request.user)
    if contest is None:
        return render(request, "portfolio/class_rules.html", {"classroom": None})
    rulebook = contest["rulebook"]
    changed = rulebook.rules_changed_at
    context = {
        **contest,
        "rules": describe.rules(rulebook),
        "rules_changed": when(changed) if changed else None,
    }
    return render(request, "portfolio/class_rules.html", context)


def _contest(user) -> dict | None:
    """The user's class, its rulebook, board and countdown, and their standing on it: two
    queries (the class, their ranked row); none for someone in no class."""
    classroom = selectors.own_classroom(user)
    if classroom is None:
        return None
    rulebook = Rulebook.from_classroom(classroom)
    board = selectors.Board.of(rulebook)
    return {
        "classroom": classroom,
        "rulebook": rulebook,
        "board": board,
        "countdown": describe.countdown(rulebook),
        "mine": selectors.standing_of(board, user.pk),
    }
