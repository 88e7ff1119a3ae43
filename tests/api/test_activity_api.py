"""GET /api/v1/trades and GET /api/v1/journal: the history pages' rows, filters and checks,
a page at a time."""

from datetime import datetime, time
from decimal import Decimal

import pytest
from django.utils import timezone

from ledger import services as ledger
from ledger.models import Transaction
from tests.api.conftest import problem
from tests.factories import PriceFactory, TradeFactory
from trading.models import Trade

pytestmark = pytest.mark.django_db


def _at(day: str, hour: int = 12) -> datetime:
    """Noon (or `hour`) of a day in the school's time zone."""
    return timezone.make_aware(datetime.combine(datetime.fromisoformat(day), time(hour)))


# Trades -----------------------------------------------------------------------------------


def test_a_trade_row_has_its_money_as_strings(api, student, acme):
    api.post("/orders", {"symbol": "ACME", "quantity": 10})
    api.post("/orders", {"symbol": "ACME", "quantity": 4, "side": "sell"})

    body = api.get("/trades").json()

    sell, buy = body["data"]
    trade = Trade.objects.get(pk=sell["id"])
    assert sell == {
        "id": trade.pk,
        "symbol": "ACME",
        "side": "sell",
        "quantity": 4,
        "price": "50.00",
        "total": "200.00",
        "commission": "0.00",
        "realized_pnl": "0.00",
        "timestamp": timezone.localtime(trade.timestamp).isoformat(),
    }
    assert (buy["side"], buy["total"], buy["realized_pnl"]) == ("buy", "500.00", None)
    assert body["next_cursor"] is None


@pytest.fixture
def history(student, acme):
    """alice's trades over three days in March, in two symbols; and one of bob's."""
    zed = PriceFactory(symbol="ZED", price="20.00")
    for day, stock, operation in [
        ("2026-03-01", acme, "buy"),
        ("2026-03-02", zed, "buy"),
        ("2026-03-02", acme, "sell"),
        ("2026-03-03", acme, "buy"),
    ]:
        TradeFactory(
            user=student, stock=stock, operation=operation, price=Decimal("10"), timestamp=_at(day)
        )


def _trades(api, **query):
    response = api.get("/trades", query)
    assert response.status_code == 200, response.content
    return [(t["symbol"], t["side"], t["timestamp"][:10]) for t in response.json()["data"]]


def test_trades_are_newest_first(api, history):
    assert _trades(api) == [
        ("ACME", "buy", "2026-03-03"),
        ("ACME", "sell", "2026-03-02"),
        ("ZED", "buy", "2026-03-02"),
        ("ACME", "buy", "2026-03-01"),
    ]


def test_trades_filter_as_on_the_history_page(api, history):
    assert len(_trades(api, symbol="acme")) == 3
    assert _trades(api, side="sell") == [("ACME", "sell", "2026-03-02")]
    assert [t[2] for t in _trades(api, start="2026-03-02", end="2026-03-02")] == ["2026-03-02"] * 2
    assert _trades(api, symbol="ZED", side="buy", start="2026-03-02") == [
        ("ZED", "buy", "2026-03-02")
    ]
    assert _trades(api, start="2026-03-04") == []


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"side": "lend"}, "side", "Side must be buy, sell, short or cover."),
        ({"start": "2026-02-30"}, "start", "Enter the start date as YYYY-MM-DD."),
        ({"end": "March 3"}, "end", "Enter the end date as YYYY-MM-DD."),
        ({"start": "2026-03-03", "end": "2026-03-01"}, "", "The start date is after the end date."),
        ({"symbol": "<b>"}, "symbol", "There is no symbol"),
    ],
)
def test_trade_filters_are_checked_by_the_pages_form(api, history, query, field, message):
    body = problem(api.get("/trades", query), 400, "validation_error")

    assert message in body["detail"]
    assert body["errors"][0]["field"] == field


def test_trades_page_with_a_cursor(api, student, acme):
    moment = timezone.now()
    for _ in range(5):  # the same moment: the id breaks the tie
        TradeFactory(user=student, stock=acme, timestamp=moment)

    first = api.get("/trades", {"limit": 2}).json()
    second = api.get("/trades", {"limit": 2, "cursor": first["next_cursor"]}).json()
    third = api.get("/trades", {"limit": 2, "cursor": second["next_cursor"]}).json()

    assert third["next_cursor"] is None
    ids = [t["id"] for page in (first, second, third) for t in page["data"]]
    assert ids == sorted(Trade.objects.values_list("pk", flat=True), reverse=True)


@pytest.mark.parametrize("cursor", ["nonsense", "W10", "WzEsMl0"])
def test_a_trades_cursor_the_api_did_not_give_is_400(api, cursor):
    problem(api.get("/trades", {"cursor": cursor}), 400, "invalid_cursor")


@pytest.mark.parametrize("limit", ["0", "501", "x"])
def test_a_trades_limit_out_of_range_is_400(api, limit):
    problem(api.get("/trades", {"limit": limit}), 400, "validation_error")


def test_another_students_trades_never_appear(api, other_api, other_student, acme):
    other_api.post("/orders", {"symbol": "ACME", "quantity": 1})
    TradeFactory(user=other_student, stock=acme)

    assert api.get("/trades").json()["data"] == []
    assert api.get("/trades", {"symbol": "ACME"}).json()["data"] == []


def test_an_instructor_token_has_no_trades(instructor_api):
    problem(instructor_api.get("/trades"), 403, "permission_denied")


# The journal ------------------------------------------------------------------------------


def test_journal_rows_are_signed_with_the_balance_after_and_the_symbol(api, student, acme):
    api.post("/orders", {"symbol": "ACME", "quantity": 10})
    api.post("/withdrawals", {"amount": "100.00", "description": "Lunch"})

    rows = api.get("/journal").json()["data"]

    withdrawal, buy, opening = rows
    row = Transaction.objects.get(pk=withdrawal["id"])
    assert withdrawal == {
        "id": row.pk,
        "type": "withdrawal",
        "amount": "-100.00",
        "balance_after": "9400.00",
        "description": "Lunch",
        "timestamp": timezone.localtime(row.timestamp).isoformat(),
        "symbol": "",
    }
    assert (buy["type"], buy["amount"], buy["symbol"]) == ("buy", "-500.00", "ACME")
    assert (opening["type"], opening["amount"], opening["balance_after"]) == (
        "deposit",
        "10000.00",
        "10000.00",
    )


@pytest.fixture
def journal(student, acme):
    """alice's deposits on three days and a buy of ACME on the last; bob's deposit."""
    Transaction.objects.filter(user=student).update(timestamp=_at("2026-02-28"))
    for day in ["2026-03-01", "2026-03-02", "2026-03-03"]:
        row = ledger.deposit(user=student, amount=Decimal("10.00"))
        Transaction.objects.filter(pk=row.pk).update(timestamp=_at(day))
    buy = ledger.debit(
        user=student, type=Transaction.Type.BUY, amount=Decimal("50.00"), symbol="ACME"
    )
    Transaction.objects.filter(pk=buy.pk).update(timestamp=_at("2026-03-03", 15))


def _journal(api, **query):
    response = api.get("/journal", query)
    assert response.status_code == 200, response.content
    return [(r["type"], r["timestamp"][:10]) for r in response.json()["data"]]


def test_the_journal_filters_as_on_its_page(api, journal, other_student):
    ledger.deposit(user=other_student, amount=Decimal("99.00"))

    assert len(_journal(api)) == 5
    assert _journal(api, type="buy") == [("buy", "2026-03-03")]
    assert _journal(api, symbol="acme") == [("buy", "2026-03-03")]
    assert _journal(api, start="2026-03-02", end="2026-03-02") == [("deposit", "2026-03-02")]
    assert _journal(api, type="deposit", start="2026-03-01") == [
        ("deposit", "2026-03-03"),
        ("deposit", "2026-03-02"),
        ("deposit", "2026-03-01"),
    ]


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"type": "bonus"}, "type", "Pick a type from the list"),
        ({"start": "2026-02-30"}, "start", "Enter the start date as YYYY-MM-DD"),
        ({"start": "2026-03-03", "end": "2026-03-01"}, "", "The start date is after the end date"),
        ({"symbol": "TOOLONGSYMBOL"}, "symbol", "A symbol has at most 10 characters"),
        ({"symbol": "A$"}, "symbol", "A symbol is letters and digits"),
    ],
)
def test_journal_filters_are_checked_by_the_pages_form(api, journal, query, field, message):
    body = problem(api.get("/journal", query), 400, "validation_error")

    assert message in body["detail"]
    assert body["errors"][0]["field"] == field


def test_the_journal_pages_with_a_cursor(api, journal):
    first = api.get("/journal", {"limit": 3}).json()
    second = api.get("/journal", {"limit": 3, "cursor": first["next_cursor"]}).json()

    assert second["next_cursor"] is None
    ids = [r["id"] for page in (first, second) for r in page["data"]]
    assert len(ids) == 5
    assert ids == [r["id"] for r in api.get("/journal", {"limit": 10}).json()["data"]]


def test_a_journal_cursor_the_api_did_not_give_is_400(api):
    problem(api.get("/journal", {"cursor": "bm9wZQ"}), 400, "invalid_cursor")


def test_another_students_journal_never_appears(api, student, other_student):
    ledger.deposit(user=other_student, amount=Decimal("99.00"))

    rows = api.get("/journal").json()["data"]

    assert {row["id"] for row in rows} == set(
        Transaction.objects.filter(user=student).values_list("pk", flat=True)
    )


def test_an_instructor_token_has_no_journal(instructor_api):
    problem(instructor_api.get("/journal"), 403, "permission_denied")


def test_history_needs_a_token(anon_api):
    problem(anon_api.get("/trades"), 401, "not_authenticated")
    problem(anon_api.get("/journal"), 401, "not_authenticated")


def test_days_and_times_are_the_schools(api, student, acme, settings):
    settings.TIME_ZONE = "America/New_York"
    late = timezone.make_aware(datetime(2026, 3, 2, 22, 30))  # March 3 in UTC
    TradeFactory(user=student, stock=acme, timestamp=late)

    (row,) = api.get("/trades", {"start": "2026-03-02", "end": "2026-03-02"}).json()["data"]

    assert row["timestamp"] == "2026-03-02T22:30:00-05:00"
    assert api.get("/trades", {"start": "2026-03-03"}).json()["data"] == []
