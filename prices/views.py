from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from prices.selectors import (
    CHART_RANGES,
    DEFAULT_CHART_RANGE,
    UnknownSymbol,
    chart_data,
    get_quote,
    market_overview,
    market_summary,
    price_history,
)

# (sort key, heading, numeric): numbers sort largest first on the first click.
COLUMNS = [
    ("symbol", "Symbol", False),
    ("name", "Company", False),
    ("sector", "Sector", False),
    ("price", "Price", True),
    ("change", "Change", True),
    ("change_pct", "% Change", True),
]
RANGE_LABELS = {"100": "100 ticks", "390": "1 day", "1950": "5 days"}


@require_safe
def market(request):
    """The market overview: every symbol with its change since the previous close."""
    query = request.GET.get("q", "").strip()
    if query:
        # A search for an exact symbol goes straight to its quote, as on a quote site.
        try:
            return redirect("prices:quote", symbol=get_quote(query).symbol)
        except UnknownSymbol:
            pass
    summary = market_summary()
    sector = request.GET.get("sector", "")
    if sector not in summary.sectors:
        sector = ""
    overview = market_overview(
        query=query, sort=request.GET.get("sort"), sector=sector, page=request.GET.get("page")
    )
    return render(
        request,
        "prices/market.html",
        {
            "overview": overview,
            "summary": summary,
            "columns": _columns(overview.sort),
            "sort_choices": _sort_choices(),
            "filtered": bool(overview.query or overview.sector),
        },
    )


def _columns(sort: str) -> list[dict]:
    key, descending = sort.lstrip("-"), sort.startswith("-")
    columns = []
    for name, heading, numeric in COLUMNS:
        active = name == key
        if active:
            following = name if descending else f"-{name}"
        else:
            following = f"-{name}" if numeric else name
        columns.append(
            {
                "heading": heading,
                "numeric": numeric,
                "sort": following,
                "aria_sort": ("descending" if descending else "ascending") if active else "",
            }
        )
    return columns


def _sort_choices() -> list[tuple[str, str]]:
    """The sorts as a list to pick from: on a phone the table's headings are out of sight."""
    choices = []
    for name, heading, numeric in COLUMNS:
        if numeric:
            choices += [(f"-{name}", f"{heading}, highest first")]
            choices += [(name, f"{heading}, lowest first")]
        else:
            choices += [(name, f"{heading}, A to Z"), (f"-{name}", f"{heading}, Z to A")]
    return choices


def _chart_range(request) -> str:
    value = request.GET.get("range", "")
    return value if value in CHART_RANGES else DEFAULT_CHART_RANGE


@require_safe
def quote(request, symbol):
    """One symbol: its quote, its chart and the order ticket."""
    try:
        current = get_quote(symbol)
    except UnknownSymbol as exc:
        return render(
            request,
            "prices/unknown_symbol.html",
            {"message": exc.message, "symbol": symbol[:20]},
            status=404,
        )
    if current.symbol != symbol:
        url = reverse("prices:quote", kwargs={"symbol": current.symbol})
        if request.GET:
            url = f"{url}?{request.GET.urlencode()}"
        return redirect(url, permanent=True)
    chart_range = _chart_range(request)
    history = price_history(current.symbol, points=CHART_RANGES[chart_range])
    prices = [price for _, price in history]
    return render(
        request,
        "prices/quote.html",
        {
            "quote": current,
            "history": chart_data(current, history),
            "points": len(history),
            "low": min(prices, default=None),
            "high": max(prices, default=None),
            "ranges": [(key, RANGE_LABELS[key]) for key in CHART_RANGES],
            "chart_range": chart_range,
        },
    )


@never_cache
@require_safe
def quote_live(request, symbol):
    """The quote and chart series as JSON, for the quote page's periodic refresh."""
    try:
        current = get_quote(symbol)
    except UnknownSymbol as exc:
        return JsonResponse({"error": exc.message}, status=404)
    history = price_history(current.symbol, points=CHART_RANGES[_chart_range(request)])
    return JsonResponse({"quote": current.as_json(), "history": chart_data(current, history)})
