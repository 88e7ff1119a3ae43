"""Reads of the market for display: quotes (cached), the market overview, chart history.

Trading does not use these: it reads the price row itself inside its own transaction.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.cache import cache
from django.core.paginator import Page, Paginator
from django.db.models import Count, DateTimeField, F, Max, Min, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from prices import quote_cache
from prices.models import Headline, MarketState, Price, PriceHistory, Split, TradingSession
from prices.services import InvalidMarketInput, normalize_symbol
from prices.simulation import CALM, TURBULENT
from prices.ticker import HEARTBEAT_KEY
from tradesim.charts import axis_labels
from tradesim.money import CENT

QUOTE_FIELDS = (
    "symbol", "name", "sector", "price", "previous_close", "timestamp", "halted", "is_index",
)  # fmt: skip


class UnknownSymbol(Exception):
    """No such symbol on this market; the message is meant for the student."""

    def __init__(self, message: str, *, symbol: str = ""):
        super().__init__(message)
        self.message = message
        self.symbol = symbol


@dataclass(frozen=True)
class Quote:
    symbol: str
    name: str
    sector: str
    price: Decimal
    previous_close: Decimal
    change: Decimal  # since the previous close
    change_pct: Decimal  # since the previous close, in percent, two places
    timestamp: datetime  # when the price was set
    halted: bool
    is_index: bool

    @classmethod
    def from_row(cls, row: dict) -> "Quote":
        price, previous = row["price"], row["previous_close"]
        change = price - previous
        return cls(
            symbol=row["symbol"],
            name=row["name"],
            sector=row["sector"],
            price=price,
            previous_close=previous,
            change=change,
            change_pct=(change * 100 / previous).quantize(CENT, rounding=ROUND_HALF_UP) + 0,
            timestamp=row["timestamp"],
            halted=row["halted"],
            is_index=row["is_index"],
        )

    def as_json(self) -> dict:
        """Plain JSON types; money as strings so no cent is lost to a float."""
        return {
            "symbol": self.symbol,
            "name": self.name,
            "price": str(self.price),
            "previous_close": str(self.previous_close),
            "change": str(self.change),
            "change_pct": str(self.change_pct),
            "timestamp": self.timestamp.isoformat(),
            "halted": self.halted,
        }


def get_quote(symbol: str) -> Quote:
    """The quote for `symbol` (any case, surrounding spaces ignored). One query at most.

    Served from the cache for up to QUOTE_CACHE_SECONDS; every committed tick, halt or
    listing starts a new cache generation, so a quote is never older than the last tick
    (with a cache the ticker shares: see prices.quote_cache). Raises UnknownSymbol."""
    try:
        symbol = normalize_symbol(symbol)
    except InvalidMarketInput as exc:
        raise UnknownSymbol(exc.message) from None
    key = quote_cache.quote_key(symbol)
    quote = cache.get(key)
    if quote is None:
        row = Price.objects.filter(symbol=symbol).values(*QUOTE_FIELDS).first()
        if row is None:
            raise UnknownSymbol(f"There is no symbol {symbol} on this market.", symbol=symbol)
        quote = Quote.from_row(row)
        cache.set(key, quote, timeout=settings.QUOTE_CACHE_SECONDS)
    return quote


def get_quotes(symbols: list[str]) -> dict[str, Quote]:
    """The quotes of `symbols` (normalized already: see prices.services.normalize_symbol),
    by symbol; those not on the market are left out. What the cache holds comes from it (as
    get_quote's), the rest from one query, and is cached: at most one query."""
    current = quote_cache.generation()
    keys = {quote_cache.quote_key(symbol, current=current): symbol for symbol in symbols}
    found = {keys[key]: quote for key, quote in cache.get_many(list(keys)).items()}
    missing = [symbol for symbol in symbols if symbol not in found]
    if missing:
        read = {
            row["symbol"]: Quote.from_row(row)
            for row in Price.objects.filter(symbol__in=missing).values(*QUOTE_FIELDS)
        }
        cache.set_many(
            {quote_cache.quote_key(s, current=current): q for s, q in read.items()},
            timeout=settings.QUOTE_CACHE_SECONDS,
        )
        found.update(read)
    return found


def all_quotes() -> list[Quote]:
    """Every listed symbol's quote, by symbol. One query, cached as a whole in the quote
    cache's generation (so never older than the last tick, as get_quote's)."""
    key = quote_cache.market_key()
    quotes = cache.get(key)
    if quotes is None:
        rows = Price.objects.order_by("symbol").values(*QUOTE_FIELDS)
        quotes = [Quote.from_row(row) for row in rows]
        cache.set(key, quotes, timeout=settings.QUOTE_CACHE_SECONDS)
    return quotes


# The market overview ----------------------------------------------------------------------

SORTS = {
    "symbol": "symbol",
    "name": "name",
    "sector": "sector",
    "price": "price",
    "change": "change_value",
    "change_pct": "change_ratio",
}
DEFAULT_SORT = "symbol"
PAGE_SIZE = 100
SEARCH_MAX_LENGTH = 50


@dataclass(frozen=True)
class MarketPage:
    quotes: list[Quote]
    sort: str  # the sort applied, e.g. "-change_pct"
    query: str
    sector: str
    page_obj: Page  # for the pagination include; its rows are already read

    @property
    def count(self) -> int:
        """Symbols matching, over all pages."""
        return self.page_obj.paginator.count


def clean_sort(sort: str | None) -> str:
    """A known sort key with an optional "-", else the default."""
    sort = (sort or "").strip()
    return sort if sort.lstrip("-") in SORTS else DEFAULT_SORT


def market_overview(
    *, query: str = "", sort: str | None = None, sector: str = "", page=1
) -> MarketPage:
    """One page of the market, sorted and filtered. Two queries (count and page).

    `query` matches the start of a symbol or any part of a company name, ignoring case.
    Sorting is done by the database, with the symbol breaking ties."""
    sort = clean_sort(sort)
    query = (query or "").strip()[:SEARCH_MAX_LENGTH]
    rows = Price.objects.alias(
        change_value=F("price") - F("previous_close"),
        change_ratio=(F("price") - F("previous_close")) / F("previous_close"),
    )
    if query:
        rows = rows.filter(Q(symbol__istartswith=query) | Q(name__icontains=query))
    if sector:
        rows = rows.filter(sector=sector)
    field = SORTS[sort.lstrip("-")]
    descending = sort.startswith("-")
    rows = rows.order_by(F(field).desc() if descending else F(field).asc(), "symbol")
    page_obj = Paginator(rows.values(*QUOTE_FIELDS), PAGE_SIZE).get_page(page)
    return MarketPage(
        quotes=[Quote.from_row(row) for row in page_obj.object_list],
        sort=sort,
        query=query,
        sector=sector,
        page_obj=page_obj,
    )


@dataclass(frozen=True)
class MarketSummary:
    symbols: int
    advancers: int  # up since the previous close
    decliners: int
    halted: int
    sectors: list[str]
    ticks: int
    last_tick_at: datetime | None
    index: Quote | None
    regime: str = CALM  # the market's volatility regime: "calm" or "turbulent"

    @property
    def stormy(self) -> bool:
        return self.regime == TURBULENT


def market_summary() -> MarketSummary:
    """Breadth, sectors, the clock (with the market's regime) and the index fund's quote.
    Four queries."""
    counts = Price.objects.aggregate(
        symbols=Count("id"),
        advancers=Count("id", filter=Q(price__gt=F("previous_close"))),
        decliners=Count("id", filter=Q(price__lt=F("previous_close"))),
        halted=Count("id", filter=Q(halted=True)),
    )
    sectors = list(Price.objects.order_by("sector").values_list("sector", flat=True).distinct())
    state = MarketState.objects.filter(id=1).values("ticks", "last_tick_at", "regime").first() or {}
    index = Price.objects.filter(is_index=True).order_by("symbol").values(*QUOTE_FIELDS).first()
    return MarketSummary(
        **counts,
        sectors=sectors,
        ticks=state.get("ticks", 0),
        last_tick_at=state.get("last_tick_at"),
        index=Quote.from_row(index) if index else None,
        regime=state.get("regime", CALM),
    )


# Chart history ----------------------------------------------------------------------------

# A range is a number of trading sessions (simulated days), counted back from the current
# one; the market's ticks may come every few seconds or once a day, so a range counted in
# ticks or in hours would cover very different stretches of market time.
CHART_RANGES = {"session": 1, "5sessions": 5}
RANGE_LABELS = {"session": "This session", "5sessions": "Last 5 sessions"}
DEFAULT_CHART_RANGE = "session"
# The ranges' old names (tick counts): links and bookmarks from before keep working.
OLD_CHART_RANGES = {"100": "session", "390": "session", "1950": "5sessions"}
# At most this many ticks on a chart (the newest), however fast the ticker runs.
MAX_CHART_POINTS = 4000
_BEFORE_ANY_SESSION = datetime(1970, 1, 1, tzinfo=UTC)


def chart_range(value: str | None) -> str:
    """The chart range a `range` query parameter asks for: a current name, an old one
    (mapped), or anything else (the default)."""
    value = OLD_CHART_RANGES.get(value or "", value or "")
    return value if value in CHART_RANGES else DEFAULT_CHART_RANGE


def session_at(moment) -> Subquery:
    """An expression: the number of the trading session running at `moment` (a column,
    such as OuterRef("timestamp")), or the current one with `moment` None; NULL before the
    first session on record."""
    sessions = TradingSession.objects.order_by("-number")
    if moment is not None:
        sessions = sessions.filter(opened_at__lte=moment)
    return Subquery(sessions.values("number")[:1])


def sessions_label(count: int) -> str:
    """A span of trading sessions in words, as the charts name their ranges."""
    return "This session" if count <= 1 else f"Last {count} sessions"


def _charted(symbol: str, sessions: int) -> QuerySet:
    """`symbol`'s price history since the opening of the trading session `sessions` − 1
    before the current one, newest first (see price_history)."""
    opened = TradingSession.objects.order_by("-number").values("opened_at")[sessions - 1 : sessions]
    oldest = TradingSession.objects.order_by("number").values("opened_at")[:1]
    since = Coalesce(
        Subquery(opened),
        Subquery(oldest),
        Value(_BEFORE_ANY_SESSION, output_field=DateTimeField()),
    )
    rows = PriceHistory.objects.filter(stock_id=symbol, timestamp__gte=since)
    return rows.order_by("-timestamp")


def price_history(
    symbol: str, *, sessions: int = 1, limit: int | None = None
) -> list[tuple[datetime, Decimal]]:
    """The (timestamp, price) pairs of `symbol` since the opening of the trading session
    `sessions` − 1 before the current one (the newest `limit` of them), oldest first. With
    fewer sessions on record, since the oldest recorded one (so "Last 5 sessions" never
    shows more than five); all of the kept history when none is. One query, on the
    (symbol, timestamp) index, bounded however long the market has run (MAX_CHART_POINTS)."""
    rows = _charted(symbol, sessions).values_list("timestamp", "price")
    return list(reversed(rows[: limit or MAX_CHART_POINTS]))


def session_range(symbol: str) -> tuple[Decimal | None, Decimal | None]:
    """The lowest and highest price of `symbol` on the quote page's default chart (this
    session, at most MAX_CHART_POINTS ticks): (None, None) with no tick on it. One query."""
    found = _charted(symbol, CHART_RANGES[DEFAULT_CHART_RANGE])[:MAX_CHART_POINTS].aggregate(
        low=Min("price"), high=Max("price")
    )
    return found["low"], found["high"]


# Price points for programs: a poll gets the points after the last one it saw.
MAX_POINTS = 5000


@dataclass(frozen=True)
class PricePoints:
    points: list[tuple[datetime, Decimal]]  # oldest first
    more: bool  # more points after these are on record already


def price_points(symbol: str, *, since: datetime | None = None, limit: int) -> PricePoints:
    """`symbol`'s recorded prices, oldest first: the first `limit` after `since`, or
    without it the newest `limit`. One query on the (symbol, timestamp) index."""
    limit = max(1, min(limit, MAX_POINTS))
    rows = PriceHistory.objects.filter(stock_id=symbol)
    if since is None:
        newest = rows.order_by("-timestamp").values_list("timestamp", "price")[:limit]
        return PricePoints(points=list(reversed(newest)), more=False)
    found = list(
        rows.filter(timestamp__gt=since)
        .order_by("timestamp")
        .values_list("timestamp", "price")[: limit + 1]
    )
    return PricePoints(points=found[:limit], more=len(found) > limit)


def chart_data(quote: Quote, history: list[tuple[datetime, Decimal]]) -> dict:
    """What price-chart.js draws: ISO times, their axis labels in the site's time zone,
    and prices (strings, exact to the cent)."""
    return {
        "symbol": quote.symbol,
        "previous_close": str(quote.previous_close),
        "times": [ts.isoformat() for ts, _ in history],
        "labels": axis_labels([ts for ts, _ in history]),
        "prices": [str(price) for _, price in history],
    }


# News: the headlines the market writes (prices.news) --------------------------------------

NEWS_SESSIONS = 5  # the current simulated trading day and the four before it
NEWS_LIMIT = 8
NEWS_PAGE_SIZE = 50
_NEWS_FIELDS = ("id", "kind", "day", "published_at", "stock_id", "sector", "text", "percent")
_KIND_LABELS = dict(Headline.Kind.choices)


@dataclass(frozen=True)
class NewsItem:
    id: int
    kind: str
    day: int  # the simulated trading day it came on (1 for the first)
    published_at: datetime
    symbol: str  # "" for a sector's or the whole market's news
    sector: str
    text: str
    percent: Decimal | None  # the move it came with; None for news that moved nothing yet

    @classmethod
    def from_row(cls, row: dict) -> "NewsItem":
        return cls(
            id=row["id"],
            kind=row["kind"],
            day=row["day"],
            published_at=row["published_at"],
            symbol=row["stock_id"] or "",
            sector=row["sector"],
            text=row["text"],
            percent=row["percent"],
        )

    @property
    def kind_label(self) -> str:
        return _KIND_LABELS.get(self.kind, self.kind.capitalize())

    @property
    def target(self) -> str:
        """What the news is about: the symbol, "Energy sector", or "Whole market"."""
        if self.symbol:
            return self.symbol
        return f"{self.sector} sector" if self.sector else "Whole market"

    @property
    def move(self) -> str:
        """The move as shown: "−12.0 %", "+8.5 %" (a real minus sign, one decimal); "" for
        news without one."""
        if self.percent is None:
            return ""
        rounded = self.percent.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
        sign = "+" if rounded > 0 else "−" if rounded < 0 else ""
        return f"{sign}{abs(rounded)} %"

    @property
    def is_rise(self) -> bool:
        return self.percent is not None and self.percent > 0

    @property
    def is_fall(self) -> bool:
        return self.percent is not None and self.percent < 0

    @property
    def when(self) -> str:
        """The local time, with the date when it was not today: "10:42", "Nov 30, 15:02"."""
        local = timezone.localtime(self.published_at)
        if local.date() == timezone.localdate():
            return f"{local:%H:%M}"
        return f"{local:%b} {local.day}, {local:%H:%M}"


def recent_news(
    *, symbol: str | None = None, sector: str | None = None, limit: int = NEWS_LIMIT
) -> list[NewsItem]:
    """The headlines of the last NEWS_SESSIONS simulated trading days, newest first, at
    most `limit`: all of them, or with `symbol` and `sector` those about the symbol and
    those about its whole sector (a quote page's). One query, however much news there is."""
    current_day = Subquery(MarketState.objects.filter(id=1).values("trading_day")[:1])
    # MarketState.trading_day counts the completed days; the current one is that + 1.
    rows = Headline.objects.filter(day__gte=current_day + Value(2 - NEWS_SESSIONS))
    if symbol is not None or sector is not None:
        rows = rows.filter(Q(stock_id=symbol) | Q(stock__isnull=True, sector=sector or ""))
    rows = rows.order_by("-published_at", "-id").values(*_NEWS_FIELDS)[:limit]
    return [NewsItem.from_row(row) for row in rows]


@dataclass(frozen=True)
class NewsPage:
    items: list[NewsItem]
    page_obj: Page  # for the pagination include; its rows are already read

    @property
    def count(self) -> int:
        return self.page_obj.paginator.count


def headlines(*, kind: str = "", symbol: str = "") -> QuerySet:
    """Every headline, newest first; of one kind and about one symbol when given (both
    already checked: see prices.forms.NewsFilterForm). Not evaluated."""
    rows = Headline.objects.all()
    if kind:
        rows = rows.filter(kind=kind)
    if symbol:
        rows = rows.filter(stock_id=symbol)
    return rows.order_by("-published_at", "-id")


def news_page(*, kind: str = "", symbol: str = "", page=1) -> NewsPage:
    """One page of headlines(kind, symbol). Two queries (the count and the page), on the
    headlines' indexes."""
    rows = headlines(kind=kind, symbol=symbol).values(*_NEWS_FIELDS)
    page_obj = Paginator(rows, NEWS_PAGE_SIZE).get_page(page)
    return NewsPage(
        items=[NewsItem.from_row(row) for row in page_obj.object_list], page_obj=page_obj
    )


@dataclass(frozen=True)
class MarketDay:
    number: int  # the simulated trading day now: 1 for the first
    closed: bool  # its last tick has come: the next tick opens day number + 1
    elapsed: float = 0.0  # the share of the day simulated so far
    last_tick_at: datetime | None = None


def market_day() -> MarketDay:
    """The simulated trading day, from the market clock (one query)."""
    state = (
        MarketState.objects.filter(id=1)
        .values("trading_day", "day_elapsed", "last_tick_at")
        .first()
    )
    if state is None:
        return MarketDay(number=1, closed=False)
    return MarketDay(
        number=state["trading_day"] + 1,
        closed=state["day_elapsed"] >= 1 - 1e-9,
        elapsed=state["day_elapsed"],
        last_tick_at=state["last_tick_at"],
    )


@dataclass(frozen=True)
class Heartbeat:
    seen_at: datetime | None  # the database's record (MarketState.ticker_seen_at)
    by: str | None  # "tick_prices (process 4242 on web1)", from the cache's record
    cache_seen_at: datetime | None  # the cache's record, as this process's cache has it


def ticker_heartbeat() -> Heartbeat:
    """When a running ticker was last seen (prices.ticker.heartbeat): one query and one
    cache read. None where it never was."""
    seen_at = MarketState.objects.filter(id=1).values_list("ticker_seen_at", flat=True).first()
    cached = cache.get(HEARTBEAT_KEY)
    if not isinstance(cached, dict):
        cached = {}
    return Heartbeat(seen_at=seen_at, by=cached.get("by"), cache_seen_at=cached.get("at"))


def announced_split(symbol: str) -> Split | None:
    """The split announced for `symbol` that has not taken effect, if any (the quote page
    says "2-for-1 split on day 34"). One query."""
    return (
        Split.objects.filter(stock_id=symbol, applied_at__isnull=True, cancelled_at__isnull=True)
        .only("numerator", "denominator", "effective_day", "stock_id")
        .first()
    )
