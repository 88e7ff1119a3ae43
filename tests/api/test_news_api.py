"""GET /api/v1/news: the news page's headlines through the API, newest first, a page at a
time, with its filters (kind, symbol)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from api.main import api as ninja_api
from api.models import ApiToken
from prices.models import Headline
from prices.services import advance_market
from tests.api.conftest import problem
from tests.factories import PriceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def news(acme):
    PriceFactory(symbol="XOM", name="Exxon", sector="Energy", price="100.00")
    now = timezone.now()
    rows = [
        ("jump", "ACME", "Technology", "ACME soars 9 % in heavy trading", Decimal("9.12")),
        ("earnings", "ACME", "Technology", "ACME beats estimates", Decimal("4.00")),
        ("event", None, "Energy", "Energy stocks fall 8 %: Spill", Decimal("-8.00")),
        ("split", "XOM", "Energy", "XOM announces a 2-for-1 split", None),
    ]
    return Headline.objects.bulk_create(
        Headline(
            kind=kind,
            stock_id=symbol,
            sector=sector,
            text=text,
            percent=percent,
            day=3 + i,
            published_at=now - timedelta(minutes=10 - i),
        )
        for i, (kind, symbol, sector, text, percent) in enumerate(rows)
    )


def test_the_news_newest_first_with_every_field(api, news):
    response = api.get("/news")

    assert response.status_code == 200, response.content
    body = response.json()
    assert [row["text"] for row in body["data"]] == [
        "XOM announces a 2-for-1 split",
        "Energy stocks fall 8 %: Spill",
        "ACME beats estimates",
        "ACME soars 9 % in heavy trading",
    ]
    split, event = body["data"][0], body["data"][1]
    assert split["percent"] is None and split["symbol"] == "XOM" and split["kind"] == "split"
    assert event == {
        "id": news[2].pk,
        "kind": "event",
        "day": 5,
        "published_at": timezone.localtime(news[2].published_at).isoformat(),
        "symbol": None,
        "sector": "Energy",
        "text": "Energy stocks fall 8 %: Spill",
        "percent": "-8.00",
    }
    assert body["next_cursor"] is None


def test_an_instructors_token_reads_the_news_too(instructor_api, news):
    assert len(instructor_api.get("/news").json()["data"]) == 4


def test_the_news_filters_by_kind_and_symbol(api, news):
    assert [r["text"] for r in api.get("/news", {"symbol": "acme"}).json()["data"]] == [
        "ACME beats estimates",
        "ACME soars 9 % in heavy trading",
    ]
    only = api.get("/news", {"symbol": "ACME", "kind": "jump"}).json()["data"]
    assert [r["text"] for r in only] == ["ACME soars 9 % in heavy trading"]
    assert api.get("/news", {"kind": "dividend"}).json()["data"] == []


def test_the_news_comes_a_page_at_a_time(api, news):
    first = api.get("/news", {"limit": 3}).json()
    second = api.get("/news", {"limit": 3, "cursor": first["next_cursor"]}).json()

    assert [r["id"] for r in first["data"] + second["data"]] == [n.pk for n in reversed(news)]
    assert second["next_cursor"] is None


@pytest.mark.parametrize(
    ("query", "code", "field"),
    [
        ({"kind": "gossip"}, "validation_error", "kind"),
        ({"symbol": "$$$"}, "validation_error", "symbol"),
        ({"symbol": "NOPE"}, "unknown_symbol", "symbol"),
        ({"cursor": "not-a-cursor"}, "invalid_cursor", None),
        ({"limit": "0"}, "validation_error", "limit"),
    ],
)
def test_a_bad_filter_is_a_problem(api, news, query, code, field):
    body = problem(api.get("/news", query), 400, code)
    if field:
        assert body.get("field") == field or body["errors"][0]["field"] == field


def test_no_token_no_news(anon_api, news):
    problem(anon_api.get("/news"), 401, "not_authenticated")


def test_the_tick_s_headlines_reach_the_api(api, acme):
    from prices.models import MarketEvent

    MarketEvent.objects.create(stock_id="ACME", percent=Decimal("-20"), reason="Recall")
    advance_market(seed=1)

    [row] = api.get("/news").json()["data"]
    assert row["kind"] == "event" and row["text"] == "ACME plunges 20\u00a0%: Recall"


def test_the_document_describes_the_news(api):
    document = ninja_api.get_openapi_schema()
    operation = document["paths"]["/api/v1/news"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"symbol", "kind", "cursor", "limit"}
    assert operation["tags"] == ["Market news"]
    assert set(document["components"]["schemas"]["HeadlineOut"]["properties"]) == {
        "id",
        "kind",
        "day",
        "published_at",
        "symbol",
        "sector",
        "text",
        "percent",
    }


@pytest.mark.parametrize("size", [2, 40])
def test_the_news_runs_a_fixed_number_of_queries(api, acme, size, django_assert_num_queries):
    now = timezone.now()
    Headline.objects.bulk_create(
        Headline(kind="jump", stock_id="ACME", text=f"ACME {i}", day=1, published_at=now)
        for i in range(size)
    )
    ApiToken.objects.update(last_used_at=timezone.now())

    with django_assert_num_queries(2):  # token; the page
        first = api.get("/news", {"limit": 1}).json()
    with django_assert_num_queries(3):  # token; the symbol; the page
        api.get("/news", {"symbol": "ACME", "kind": "jump", "cursor": first["next_cursor"]})
