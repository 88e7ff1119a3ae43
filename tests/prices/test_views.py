import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from prices.models import Headline, MarketState, Price, PriceHistory, TradingSession
from prices.selectors import Quote
from tests.factories import PriceFactory
from tests.prices.conftest import make_symbols

pytestmark = pytest.mark.django_db

MARKET_URL = reverse("prices:market")


def quote_url(symbol):
    return reverse("prices:quote", kwargs={"symbol": symbol})


def symbols_in(response) -> list[str]:
    return [q.symbol for q in response.context["overview"].quotes]


# The market overview ----------------------------------------------------------------------


def test_anyone_may_browse_the_market(anon_client, market):
    response = anon_client.get(MARKET_URL)

    assert response.status_code == 200
    assert symbols_in(response) == ["AAPL", "MSFT", "TSIM", "XOM"]
    body = response.content.decode()
    assert "Apple Inc." in body and "$262.50" in body
    assert quote_url("AAPL") in body


def test_a_student_sees_the_market_too(student_client, market):
    assert student_client.get(MARKET_URL).status_code == 200


def test_the_market_shows_the_change_since_the_previous_close(anon_client, market):
    Price.objects.filter(symbol="AAPL").update(price=Decimal("288.75"))

    body = anon_client.get(MARKET_URL).content.decode()

    assert "▲ +$26.25" in body and "▲ +10.00%" in body


def test_the_market_sorts_by_a_column_and_marks_it(anon_client, market):
    response = anon_client.get(MARKET_URL, {"sort": "-price"})

    assert symbols_in(response) == ["TSIM", "MSFT", "AAPL", "XOM"]
    body = response.content.decode()
    assert 'aria-sort="descending"' in body
    assert "?sort=price" in body  # the heading now offers the other direction


def test_a_bad_sort_falls_back_to_the_symbol(anon_client, market):
    response = anon_client.get(MARKET_URL, {"sort": "password"})

    assert response.status_code == 200
    assert symbols_in(response) == ["AAPL", "MSFT", "TSIM", "XOM"]


def test_the_search_box_takes_a_company_name(anon_client, market):
    response = anon_client.get(MARKET_URL, {"q": "micro"})

    assert symbols_in(response) == ["MSFT"]
    assert 'value="micro"' in response.content.decode()


def test_searching_an_exact_symbol_opens_its_quote(anon_client, market):
    response = anon_client.get(MARKET_URL, {"q": " xom "})

    assert response.status_code == 302
    assert response["Location"] == quote_url("XOM")


def test_a_search_without_matches_says_so(anon_client, market):
    response = anon_client.get(MARKET_URL, {"q": "<b>zz</b>"})

    body = response.content.decode()
    assert response.status_code == 200
    assert "No symbol or company matches “&lt;b&gt;zz&lt;/b&gt;”" in body


def test_the_market_filters_by_sector_and_ignores_an_unknown_one(anon_client, market):
    assert symbols_in(anon_client.get(MARKET_URL, {"sector": "Energy"})) == ["XOM"]
    assert len(symbols_in(anon_client.get(MARKET_URL, {"sector": "Nope"}))) == 4


def test_an_empty_market_explains_how_to_fill_it(anon_client, db):
    body = anon_client.get(MARKET_URL).content.decode()
    assert "load_market" in body


def test_the_market_page_tells_the_markets_mood(anon_client, market):
    body = anon_client.get(MARKET_URL).content.decode()
    assert "Market mood: <strong>Calm</strong>" in body
    assert "usual small amounts" in body
    assert 'href="/glossary/#market-mood"' in body

    MarketState.objects.filter(id=1).update(regime="turbulent")

    body = anon_client.get(MARKET_URL).content.decode()
    assert "Market mood: <strong>Stormy</strong>" in body
    assert "swinging more than usual, up as well as down" in body


@pytest.mark.parametrize("size", [5, 150])
def test_the_market_page_runs_a_fixed_number_of_queries(
    student_client, size, django_assert_max_num_queries
):
    make_symbols(size)
    PriceFactory(symbol="TSIM", is_index=True)

    # session and user, summary (4), overview (count and page), the news
    with django_assert_max_num_queries(9):
        response = student_client.get(MARKET_URL, {"sort": "-change_pct"})
    assert response.status_code == 200


# The quote page ---------------------------------------------------------------------------


def test_the_quote_page_shows_the_quote_the_chart_data_and_the_order_ticket(anon_client, market):
    start = timezone.now() - timedelta(minutes=10)
    for i, price in enumerate(["260.00", "261.50", "262.50"]):
        PriceHistory.objects.create(
            stock_id="AAPL", price=Decimal(price), timestamp=start + timedelta(minutes=i)
        )

    response = anon_client.get(quote_url("AAPL"))

    assert response.status_code == 200
    assert isinstance(response.context["quote"], Quote)
    assert response.context["quote"].symbol == "AAPL"
    history = response.context["history"]
    assert history["prices"] == ["260.00", "261.50", "262.50"]
    assert history["previous_close"] == "262.50"
    assert "trading/_order_ticket_slot.html" in [t.name for t in response.templates]
    body = response.content.decode()
    assert '<script id="price-history" type="application/json">' in body
    assert "vendor/chart.js-4.5.1/chart.umd.min.js" in body and "js/price-chart.js" in body
    assert "$260.00" in body and "$262.50" in body  # low and high on the chart


def test_a_quote_page_before_any_tick_has_an_empty_chart_message(anon_client, market):
    body = anon_client.get(quote_url("AAPL")).content.decode()
    assert "The chart fills in as the market moves" in body


def test_a_halted_symbol_says_so(anon_client, market):
    Price.objects.filter(symbol="AAPL").update(halted=True)
    assert "Trading halted" in anon_client.get(quote_url("AAPL")).content.decode()


def test_a_lower_case_symbol_redirects_to_the_upper_case_page(anon_client, market):
    response = anon_client.get(quote_url("aapl"), {"range": "100"})

    assert response.status_code == 301
    assert response["Location"] == quote_url("AAPL") + "?range=100"


def test_a_symbol_with_a_dot_has_a_page(anon_client, db):
    PriceFactory(symbol="BRK.B", name="Berkshire Hathaway Inc. Class B")

    assert anon_client.get(quote_url("brk.b"))["Location"] == quote_url("BRK.B")
    assert anon_client.get(quote_url("BRK.B")).status_code == 200


@pytest.mark.parametrize("symbol", ["NOPE", "nope", "<script>"])
def test_an_unknown_symbol_is_a_404_page(anon_client, market, symbol):
    response = anon_client.get(quote_url(symbol))

    assert response.status_code == 404
    assert "prices/unknown_symbol.html" in [t.name for t in response.templates]
    body = response.content.decode()
    assert "<script>" not in body.split("<main", 1)[1]
    if symbol == "NOPE":
        assert "There is no symbol NOPE on this market." in body


def sessions_of(*counts, seconds_apart=5):
    """Price history of AAPL over trading sessions of `counts` ticks each, one session a
    day (the ticker ran a while each day), the last one running now."""
    now = timezone.now()
    for number, count in enumerate(counts, 1):
        opened = now - timedelta(days=len(counts) - number, seconds=count * seconds_apart)
        TradingSession.objects.create(number=number, opened_at=opened)
        PriceHistory.objects.bulk_create(
            PriceHistory(
                stock_id="AAPL",
                price=Decimal("100.00") + number,
                timestamp=opened + timedelta(seconds=i * seconds_apart),
            )
            for i in range(count)
        )


def chart_of(client, **params):
    return client.get(quote_url("AAPL"), params).context["history"]


def test_the_chart_shows_this_session_or_the_last_five(anon_client, market):
    sessions_of(40, 50, 60, 70, 80, 90, 30)

    this_session = chart_of(anon_client)
    assert set(this_session["prices"]) == {"107.00"} and len(this_session["prices"]) == 30
    last_five = chart_of(anon_client, range="5sessions")
    assert len(last_five["prices"]) == 60 + 70 + 80 + 90 + 30
    assert last_five["prices"][0] == "103.00"


def test_the_page_names_the_range_and_offers_the_others(anon_client, market):
    sessions_of(10, 10)

    body = anon_client.get(quote_url("AAPL"), {"range": "5sessions"}).content.decode()

    assert '<a class="btn btn-outline-secondary" href="?range=session">This session</a>' in body
    assert 'aria-current="true" href="?range=5sessions">Last 5 sessions</a>' in body
    assert "Last 5 sessions: from " in body


@pytest.mark.parametrize(
    ("asked", "shown"),
    [
        ("100", "session"),  # the old names: 100 ticks, 1 day (390 ticks), 5 days
        ("390", "session"),
        ("1950", "5sessions"),
        ("99999", "session"),  # anything else: the default
        ("", "session"),
        ("5SESSIONS", "session"),
    ],
)
def test_old_and_unknown_range_names_are_understood(anon_client, market, asked, shown):
    sessions_of(10, 10)

    response = anon_client.get(quote_url("AAPL"), {"range": asked})

    assert response.status_code == 200
    assert response.context["chart_range"] == shown


def test_with_fewer_sessions_on_record_the_longer_range_shows_the_recorded_ones(
    anon_client, market
):
    # A market that ran before sessions were recorded: its older history is not "the
    # last 5 sessions", which would name more than it covers.
    PriceHistory.objects.create(
        stock_id="AAPL", price=Decimal("90.00"), timestamp=timezone.now() - timedelta(days=9)
    )
    sessions_of(10, 10)

    assert len(chart_of(anon_client, range="5sessions")["prices"]) == 20
    assert len(chart_of(anon_client)["prices"]) == 10


def test_a_chart_never_has_more_than_the_newest_points(anon_client, market, monkeypatch):
    monkeypatch.setattr("prices.selectors.MAX_CHART_POINTS", 25)
    monkeypatch.setattr("prices.views.MAX_CHART_POINTS", 25)
    sessions_of(40)

    response = anon_client.get(quote_url("AAPL"))

    history = response.context["history"]
    assert len(history["prices"]) == 25
    assert (
        history["times"][-1]
        == max(PriceHistory.objects.values_list("timestamp", flat=True)).isoformat()
    )
    assert "This session: from " in response.content.decode()
    assert "(its newest 25 ticks)" in response.content.decode()


def test_the_chart_labels_its_ticks_in_the_site_s_time_zone(anon_client, market, settings):
    settings.TIME_ZONE = "Asia/Kolkata"  # UTC+05:30
    moment = datetime(2026, 3, 2, 4, 0, 0, tzinfo=UTC)
    TradingSession.objects.create(number=1, opened_at=moment)
    for i in range(3):
        PriceHistory.objects.create(
            stock_id="AAPL", price=Decimal("100.00"), timestamp=moment + timedelta(minutes=i)
        )

    history = chart_of(anon_client)

    assert history["labels"] == ["09:30", "09:31", "09:32"]


@pytest.mark.parametrize("points", [3, 400])
def test_the_quote_page_runs_a_fixed_number_of_queries(
    student_client, market, points, django_assert_max_num_queries
):
    base = timezone.now() - timedelta(days=1)
    PriceHistory.objects.bulk_create(
        PriceHistory(
            stock_id="AAPL", price=Decimal("100.00"), timestamp=base + timedelta(seconds=i)
        )
        for i in range(points)
    )

    TradingSession.objects.create(number=1, opened_at=base)

    # session and user, the quote, the history, the news, the announced split, the order
    # ticket's cash and shares held
    for chart in ("session", "5sessions"):
        with django_assert_max_num_queries(7):
            response = student_client.get(quote_url("AAPL"), {"range": chart})
        assert response.status_code == 200
        assert len(response.context["history"]["prices"]) == points


# The live endpoint ------------------------------------------------------------------------


def test_the_live_endpoint_returns_the_quote_and_series_as_json(anon_client, market):
    PriceHistory.objects.create(stock_id="AAPL", price=Decimal("262.50"))

    response = anon_client.get(reverse("prices:quote_live", kwargs={"symbol": "aapl"}))

    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"]
    payload = json.loads(response.content)
    assert payload["quote"]["symbol"] == "AAPL"
    assert payload["quote"]["price"] == "262.50"
    assert payload["history"]["prices"] == ["262.50"]
    assert len(payload["history"]["labels"]) == 1
    assert payload["quote_time"].endswith(" UTC")


def test_the_live_endpoint_keeps_the_page_s_range(anon_client, market):
    sessions_of(10, 20)
    url = reverse("prices:quote_live", kwargs={"symbol": "AAPL"})

    assert (
        len(json.loads(anon_client.get(url, {"range": "5sessions"}).content)["history"]["prices"])
        == 30
    )
    assert (
        len(json.loads(anon_client.get(url, {"range": "1950"}).content)["history"]["prices"]) == 30
    )
    assert (
        len(json.loads(anon_client.get(url, {"range": "nope"}).content)["history"]["prices"]) == 20
    )


def test_the_live_endpoint_for_an_unknown_symbol_is_a_json_404(anon_client, market):
    response = anon_client.get(reverse("prices:quote_live", kwargs={"symbol": "NOPE"}))

    assert response.status_code == 404
    assert json.loads(response.content) == {"error": "There is no symbol NOPE on this market."}


# Market news ------------------------------------------------------------------------------


def headline(day=1, minutes_ago=0, **fields):
    """A headline the ticker wrote on simulated trading day `day`, `minutes_ago` ago."""
    fields.setdefault("kind", "event")
    fields.setdefault("percent", Decimal("-12.00"))
    if "sector" not in fields:
        fields.setdefault("stock_id", "AAPL")
    return Headline.objects.create(
        published_at=timezone.now() - timedelta(minutes=minutes_ago), day=day, **fields
    )


def on_day(day: int) -> None:
    """The market is on simulated trading day `day` (that many minus one completed)."""
    MarketState.objects.update_or_create(id=1, defaults={"trading_day": day - 1})


def test_students_read_the_latest_headlines_newest_first(student_client, market):
    on_day(3)
    headline(minutes_ago=30, text="AAPL plunges 12 %: Recall of the flagship product")
    headline(
        minutes_ago=5,
        stock_id=None,
        sector="Energy",
        percent=Decimal("8.5"),
        text="Energy stocks rise 8.5 %: Oil spike",
    )
    headline(minutes_ago=1, kind="split", stock_id="MSFT", percent=None, text="MSFT splits 2-for-1")

    response = student_client.get(MARKET_URL)

    body = response.content.decode()
    assert "Market news" in body
    assert body.index("MSFT splits") < body.index("Oil spike") < body.index("Recall of the")
    assert "AAPL</a>" in body and "▼ −12.0 %" in body
    assert "Energy sector" in body and "▲ +8.5 %" in body
    assert "Day 1" in body and ">Split</span>" in body and ">Market event</span>" in body
    local = timezone.localtime(timezone.now() - timedelta(minutes=30))
    assert f"{local:%H:%M}" in body
    assert f'href="{reverse("prices:news")}"' in body


def test_headlines_older_than_the_last_sessions_are_left_to_the_news_page(anon_client, market):
    on_day(7)
    headline(day=2, text="Six sessions ago")
    headline(day=3, text="Five sessions ago")

    body = anon_client.get(MARKET_URL).content.decode()

    assert "Five sessions ago" in body and "Six sessions ago" not in body


def test_the_market_page_shows_the_latest_eight(anon_client, market):
    on_day(1)
    for i in range(10):
        headline(minutes_ago=i, text=f"Headline number {i}.")

    body = anon_client.get(MARKET_URL).content.decode()

    assert "Headline number 7." in body and "Headline number 8." not in body


def test_without_news_the_market_page_has_no_news_box(anon_client, market):
    assert "Market news" not in anon_client.get(MARKET_URL).content.decode()


def test_a_quote_page_shows_the_news_of_its_symbol_and_its_sector(anon_client, market):
    on_day(1)
    headline(text="Apple recall")
    headline(stock_id=None, sector="Technology", percent=Decimal("3"), text="Chip boom")
    headline(stock_id="XOM", sector="Energy", text="Refinery fire")
    headline(stock_id=None, sector="Energy", percent=Decimal("3"), text="Oil spike")
    headline(kind="jump", stock_id="MSFT", sector="Technology", text="MSFT soars 9 %")

    apple = anon_client.get(quote_url("AAPL")).content.decode()
    exxon = anon_client.get(quote_url("XOM")).content.decode()

    assert "Apple recall" in apple and "Chip boom" in apple
    for other in ("Refinery fire", "Oil spike", "MSFT soars"):
        assert other not in apple
    assert "Refinery fire" in exxon and "Oil spike" in exxon and "Chip boom" not in exxon
    assert f'href="{reverse("prices:news")}?symbol=AAPL">All AAPL news' in apple


@pytest.mark.parametrize("count", [1, 30])
def test_the_news_costs_one_query_however_many_headlines(
    anon_client, market, count, django_assert_num_queries
):
    on_day(2)
    for i in range(count):
        headline(minutes_ago=i, text=f"Headline {i}")

    # summary (4), overview (count and page), the news
    with django_assert_num_queries(7):
        body = anon_client.get(MARKET_URL).content.decode()
    assert "Headline 0" in body
    # the quote, the history, the news, the announced split
    with django_assert_num_queries(4):
        assert "Headline 0" in anon_client.get(quote_url("AAPL")).content.decode()
