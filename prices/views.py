from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import dateformat, timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from prices.forms import NewsFilterForm
from prices.models import Price
from prices.selectors import (
    CHART_RANGES,
    MAX_CHART_POINTS,
    NEWS_SESSIONS,
    RANGE_LABELS,
    UnknownSymbol,
    announced_split,
    chart_data,
    chart_range,
    get_quote,
    market_overview,
    market_summary,
    news_page,
    price_history,
    recent_news,
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
            "news": recent_news(),
            "news_sessions": NEWS_SESSIONS,
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


def _quote_time(quote) -> str:
    """When the quote's price was set, in the site's time zone, its zone named."""
    return dateformat.format(timezone.localtime(quote.timestamp), "M j, H:i:s T")


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
    selected = chart_range(request.GET.get("range"))
    history = price_history(current.symbol, sessions=CHART_RANGES[selected])
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
            "quote_time": _quote_time(current),
            "ranges": [(key, RANGE_LABELS[key]) for key in CHART_RANGES],
            "chart_range": selected,
            "range_label": RANGE_LABELS[selected],
            "capped": len(history) >= MAX_CHART_POINTS,
            "since": history[0][0] if history else None,
            "news": recent_news(symbol=current.symbol, sector=current.sector),
            "news_sessions": NEWS_SESSIONS,
            "news_symbol": current.symbol,
            "split": announced_split(current.symbol),
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
    selected = chart_range(request.GET.get("range"))
    history = price_history(current.symbol, sessions=CHART_RANGES[selected])
    return JsonResponse(
        {
            "quote": current.as_json(),
            "quote_time": _quote_time(current),
            "history": chart_data(current, history),
        }
    )


@require_safe
def news(request):
    """Every headline the market wrote, newest first, a page at a time; by kind and by
    symbol. A filter that is not one answers 400 with its message; a symbol on no market,
    404 ("no such symbol")."""
    form = NewsFilterForm(request.GET)
    context = {"form": form, "page": None, "company": None, "filtered": False}
    if not form.is_valid():
        return render(request, "prices/news.html", context, status=400)
    kind, symbol = form.cleaned_data["kind"], form.cleaned_data["symbol"]
    # The filters as applied: " aapl " shows as AAPL.
    context["form"] = NewsFilterForm(initial={"kind": kind, "symbol": symbol})
    context["filtered"], context["symbol"] = bool(kind or symbol), symbol
    if symbol:
        context["company"] = (
            Price.objects.filter(symbol=symbol).values_list("name", flat=True).first()
        )
        if context["company"] is None:
            context["unknown_symbol"] = symbol
            return render(request, "prices/news.html", context, status=404)
    context["page"] = news_page(kind=kind, symbol=symbol, page=request.GET.get("page"))
    return render(request, "prices/news.html", context)
