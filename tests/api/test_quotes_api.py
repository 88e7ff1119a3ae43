"""Quotes and price history through the API: the market pages' quotes, from the same cache."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from prices.models import Price, PriceHistory, TradingSession
from prices.services import advance_market
from tests.api.conftest import problem
from tests.factories import PriceFactory, PriceHistoryFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def market(acme):
    Price.objects.filter(symbol="ACME").update(previous_close=Decimal("40.00"))
    PriceFactory(symbol="BRK.B", name="Berkshire B", sector="Financials", price="480.00")
    PriceFactory(symbol="ZED", name="Zed Inc", sector="Energy", price="20.00", halted=True)
    PriceFactory(
        symbol="TSIM", name="Index Fund", sector="Index Fund", price="500.00", is_index=True
    )


def test_a_quote_has_the_change_since_the_previous_close(api, market):
    body = api.get("/quotes/ACME").json()

    price = Price.objects.get(symbol="ACME")
    assert body == {
        "symbol": "ACME",
        "name": "Acme Corp",
        "sector": "Technology",
        "price": "50.00",
        "previous_close": "40.00",
        "change": "10.00",
        "change_pct": "25.00",
        "halted": False,
        "is_index": False,
        "updated_at": timezone.localtime(price.timestamp).isoformat(),
        "session_low": None,
        "session_high": None,
    }


@pytest.mark.parametrize("typed", ["acme", "Acme", " ACME"])
def test_a_symbol_is_read_in_any_case(api, market, typed):
    assert api.get(f"/quotes/{typed}").json()["symbol"] == "ACME"


def test_a_symbol_with_a_dot(api, market):
    assert api.get("/quotes/brk.b").json()["symbol"] == "BRK.B"


def test_the_session_low_and_high_are_the_quote_pages_chart(api, market):
    start = timezone.now() - timedelta(minutes=30)
    for minute, price in [(0, "70.00"), (10, "44.00"), (20, "52.00"), (25, "49.00")]:
        PriceHistoryFactory(
            stock_id="ACME", price=price, timestamp=start + timedelta(minutes=minute)
        )
    TradingSession.objects.create(number=1, opened_at=start + timedelta(minutes=5))

    body = api.get("/quotes/ACME").json()

    assert (body["session_low"], body["session_high"]) == ("44.00", "52.00")


def test_an_unknown_symbol_is_404_with_the_pages_message(api, market):
    body = problem(api.get("/quotes/NOPE"), 404, "not_found")
    assert body["detail"] == "There is no symbol NOPE on this market."


@pytest.mark.parametrize("typed", ["A" * 30, "A$B", "%20"])
def test_something_that_is_no_symbol_is_404(api, market, typed):
    body = problem(api.get(f"/quotes/{typed}"), 404, "not_found")
    assert "is not a ticker symbol" in body["detail"]


def test_every_listed_symbol_by_symbol(api, market):
    body = api.get("/quotes").json()

    assert [q["symbol"] for q in body["data"]] == ["ACME", "BRK.B", "TSIM", "ZED"]
    assert body["data"][2]["is_index"] is True
    assert body["data"][3]["halted"] is True


def test_the_symbols_asked_for_in_their_order(api, market):
    body = api.get("/quotes", {"symbols": "zed, acme,ZED,,brk.b"}).json()

    assert [q["symbol"] for q in body["data"]] == ["ZED", "ACME", "BRK.B"]
    assert body["data"][1]["price"] == "50.00"


def test_an_empty_symbols_list_is_every_symbol(api, market):
    assert len(api.get("/quotes", {"symbols": ""}).json()["data"]) == 4


def test_unknown_symbols_are_400_naming_each(api, market):
    body = problem(api.get("/quotes", {"symbols": "ACME,NOPE,ZZZ"}), 400, "unknown_symbol")
    assert body["detail"] == "There are no symbols NOPE, ZZZ on this market."
    assert body["field"] == "symbols"

    one = problem(api.get("/quotes", {"symbols": "nope"}), 400, "unknown_symbol")
    assert one["detail"] == "There is no symbol NOPE on this market."


def test_text_that_is_no_symbol_is_unknown_symbol(api, market):
    body = problem(api.get("/quotes", {"symbols": "ACME,<b>,A$B"}), 400, "unknown_symbol")
    assert "<b>" in body["detail"] and "A$B" in body["detail"]


def test_at_most_100_symbols_at_once(api, market):
    many = ",".join(f"S{i}" for i in range(101))

    body = problem(api.get("/quotes", {"symbols": many}), 400, "validation_error")

    assert "at most 100 symbols" in body["detail"]
    problem(api.get("/quotes", {"symbols": "A," * 1300}), 400, "validation_error")


def test_an_instructor_token_reads_quotes(instructor_api, market):
    assert instructor_api.get("/quotes/ACME").status_code == 200
    assert instructor_api.get("/quotes", {"symbols": "ACME"}).status_code == 200
    assert instructor_api.get("/quotes/ACME/history").status_code == 200


def test_quotes_need_a_token(anon_api, market):
    problem(anon_api.get("/quotes"), 401, "not_authenticated")
    problem(anon_api.get("/quotes/ACME"), 401, "not_authenticated")


# The quote cache ----------------------------------------------------------------------------


def test_a_quote_stays_cached_until_the_next_tick(api, market, django_capture_on_commit_callbacks):
    assert api.get("/quotes/ACME").json()["price"] == "50.00"
    assert api.get("/quotes", {"symbols": "ACME"}).json()["data"][0]["price"] == "50.00"
    assert api.get("/quotes").json()["data"][0]["price"] == "50.00"
    Price.objects.filter(symbol="ACME").update(price=Decimal("1.00"))  # no tick: not seen yet
    assert api.get("/quotes", {"symbols": "ACME"}).json()["data"][0]["price"] == "50.00"
    assert api.get("/quotes").json()["data"][0]["price"] == "50.00"

    with django_capture_on_commit_callbacks(execute=True):
        advance_market(seed=1, now=timezone.now())

    moved = str(Price.objects.get(symbol="ACME").price)
    assert api.get("/quotes/ACME").json()["price"] == moved
    assert api.get("/quotes", {"symbols": "ACME"}).json()["data"][0]["price"] == moved
    assert api.get("/quotes").json()["data"][0]["price"] == moved


# History ---------------------------------------------------------------------------------


@pytest.fixture
def ticks(market):
    """20 ACME ticks a minute apart, ending a minute ago, priced 30.00 … 49.00; and ZED's."""
    start = timezone.now() - timedelta(minutes=21)
    moments = [start + timedelta(minutes=i) for i in range(20)]
    PriceHistory.objects.bulk_create(
        [
            PriceHistory(stock_id="ACME", price=Decimal(30 + i), timestamp=m)
            for i, m in enumerate(moments)
        ]
        + [PriceHistory(stock_id="ZED", price=Decimal("1.00"), timestamp=m) for m in moments]
    )
    return moments


def _prices(body):
    return [point["price"] for point in body["data"]]


def test_history_without_since_is_the_newest_points_oldest_first(api, ticks):
    body = api.get("/quotes/acme/history", {"limit": 5}).json()

    assert body["symbol"] == "ACME"
    assert _prices(body) == ["45.00", "46.00", "47.00", "48.00", "49.00"]
    assert body["data"][-1]["timestamp"] == timezone.localtime(ticks[-1]).isoformat()
    assert body["next_since"] == body["data"][-1]["timestamp"]
    assert body["has_more"] is False


def test_history_defaults_to_500_points(api, ticks):
    assert len(api.get("/quotes/ACME/history").json()["data"]) == 20


def test_history_after_since_is_the_points_that_came_after(api, ticks):
    since = timezone.localtime(ticks[9]).isoformat()

    body = api.get("/quotes/ACME/history", {"since": since, "limit": 4}).json()

    assert _prices(body) == ["40.00", "41.00", "42.00", "43.00"]
    assert body["has_more"] is True
    rest = api.get("/quotes/ACME/history", {"since": body["next_since"], "limit": 100}).json()
    assert _prices(rest) == [f"{v}.00" for v in range(44, 50)]
    assert rest["has_more"] is False


def test_a_poll_with_nothing_new_answers_no_points_and_the_same_since(api, ticks):
    last = api.get("/quotes/ACME/history").json()["next_since"]

    body = api.get("/quotes/ACME/history", {"since": last}).json()

    assert body["data"] == []
    assert body["next_since"] == last
    assert body["has_more"] is False

    PriceHistoryFactory(stock_id="ACME", price="51.00", timestamp=timezone.now())
    assert _prices(api.get("/quotes/ACME/history", {"since": last}).json()) == ["51.00"]


@pytest.mark.parametrize(
    "since",
    [
        "2026-03-02T10:15:00Z",
        "2026-03-02T10:15:00+01:00",
        "2026-03-02T10:15:00 01:00",  # a "+" sent unencoded arrives as a space
        "2026-03-02T10:15:00.123456-05:00",
    ],
)
def test_since_takes_iso_8601_with_an_offset(api, ticks, since):
    response = api.get("/quotes/ACME/history", {"since": since})

    assert response.status_code == 200, response.content
    assert len(response.json()["data"]) == 20


def test_since_is_compared_in_utc_whatever_its_offset(api, ticks):
    moment = ticks[14].astimezone(timezone.get_fixed_timezone(-300)).isoformat()

    assert len(api.get("/quotes/ACME/history", {"since": moment}).json()["data"]) == 5


@pytest.mark.parametrize(
    ("since", "message"),
    [
        ("yesterday", "Give `since` as an ISO 8601 date and time with its offset"),
        ("2026-13-45T00:00:00Z", "Give `since` as an ISO 8601 date and time with its offset"),
        ("2026-03-02T10:15:00", "Give `since` with its offset"),
        ("2026-03-02", "Give `since` with its offset"),
        ("0001-01-01T00:00:00+14:00", "`since` is out of range"),
        ("9999-12-31T23:59:59-14:00", "`since` is out of range"),
        ("٢٠٢٦-01-01T00:00:00Z", "Give `since` as an ISO 8601 date and time with its offset"),
    ],
)
def test_a_bad_since_is_400_saying_what_to_send(api, ticks, since, message):
    body = problem(api.get("/quotes/ACME/history", {"since": since}), 400, "validation_error")

    assert body["detail"].startswith(message)
    assert body["field"] == "since"
    assert body["errors"] == [{"field": "since", "message": body["detail"]}]


@pytest.mark.parametrize("limit", ["0", "5001", "-1", "ten"])
def test_limit_is_1_to_5000(api, ticks, limit):
    body = problem(api.get("/quotes/ACME/history", {"limit": limit}), 400, "validation_error")
    assert body["errors"][0]["field"] == "limit"


def test_history_of_an_unknown_symbol_is_404(api, market):
    body = problem(api.get("/quotes/NOPE/history"), 404, "not_found")
    assert body["detail"] == "There is no symbol NOPE on this market."


def test_history_of_a_symbol_with_none_yet(api, market):
    body = api.get("/quotes/ACME/history").json()

    assert body == {"symbol": "ACME", "data": [], "next_since": None, "has_more": False}
