"""Failures: whatever breaks in the middle of a money operation, the money is as it was;
a database outage gets a friendly page (and 503 on /healthz), never a traceback; and the
market ticker outlives a failed tick.

These tests commit for real (transaction=True), so "nothing left behind" means nothing in
the database, not merely a rolled-back savepoint.
"""

import logging
from contextlib import contextmanager
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, OperationalError
from django.db.backends.utils import CursorWrapper
from django.test import Client
from django.urls import reverse

from ledger.models import Balance
from prices.management.commands import tick_prices
from prices.models import MarketState, PriceHistory
from prices.ticker import ticker_lock
from tests.factories import PriceFactory
from tests.security.helpers import money_state
from trading.services import buy

pytestmark = pytest.mark.django_db(transaction=True)


class Injected(RuntimeError):
    pass


def explode(*args, **kwargs):
    raise Injected("injected failure")


@pytest.fixture
def aapl(db):
    return PriceFactory(symbol="AAPL", price=Decimal("100.00"))


@pytest.fixture
def alice(student, aapl):
    buy(user=student, symbol="AAPL", quantity=10)  # something to sell
    client = Client(raise_request_exception=False)
    client.force_login(student)
    return client


def assert_friendly_500(response):
    assert response.status_code == 500
    page = response.content.decode()
    assert "Something went wrong" in page
    assert "Your money is safe" in page
    for leak in ["Traceback", "Injected", "injected failure", "OperationalError", "File "]:
        assert leak not in page


# A failure in the middle of a money operation ------------------------------------------

# Each raises after the journal row was written (the cash has moved) and before the order
# or movement is complete.
MIDWAY = [
    ("buy", "portfolio.services.add_shares"),  # after the ledger debit
    ("buy", "trading.services._record"),  # the last write of a buy: the trade row
    ("sell", "ledger.services._post"),  # the journal row, after the holding was reduced
    ("sell", "trading.services._record"),  # the last write of a sale
]


@pytest.mark.parametrize(("side", "target"), MIDWAY)
def test_an_order_that_fails_midway_leaves_nothing_behind(alice, monkeypatch, side, target):
    before = money_state()
    monkeypatch.setattr(target, explode)

    response = alice.post(reverse(f"trading:{side}"), {"symbol": "AAPL", "quantity": "5"})

    assert_friendly_500(response)
    assert money_state() == before


@pytest.mark.parametrize("path", ["ledger:deposit", "ledger:withdraw"])
def test_a_cash_movement_that_fails_after_its_journal_row_leaves_nothing(alice, monkeypatch, path):
    before = money_state()
    # The balance is written after the journal row, which is already in by then.
    monkeypatch.setattr("tradesim.rows.update", explode)

    response = alice.post(reverse(path), {"amount": "25.00"})

    assert_friendly_500(response)
    assert money_state() == before


def test_the_failed_order_can_simply_be_sent_again(alice, monkeypatch, student):
    page = alice.get(reverse("trading:buy")).content.decode()
    token = page.split('name="token" value="', 1)[1].split('"', 1)[0]
    with monkeypatch.context() as patch:
        patch.setattr("portfolio.services.add_shares", explode)
        assert (
            alice.post(
                reverse("trading:buy"), {"symbol": "AAPL", "quantity": "5", "token": token}
            ).status_code
            == 500
        )

    # Nothing was recorded under the token, so the retry is a first attempt, not a repeat.
    retry = alice.post(reverse("trading:buy"), {"symbol": "AAPL", "quantity": "5", "token": token})

    assert retry.status_code == 302
    assert Balance.objects.get(user=student).amount == Decimal("10000.00") - Decimal("1500.00")


# The database goes away -------------------------------------------------------------------


@contextmanager
def database_down():
    """Every query fails the way a lost connection fails."""

    def down(self, *args, **kwargs):
        raise OperationalError("could not connect to server: Connection refused")

    original = CursorWrapper.execute, CursorWrapper.executemany
    CursorWrapper.execute = CursorWrapper.executemany = down
    try:
        yield
    finally:
        CursorWrapper.execute, CursorWrapper.executemany = original


def test_healthz_is_503_while_the_database_is_down(client):
    with database_down():
        response = client.get("/healthz")

    assert response.status_code == 503
    assert response.content == b"database unavailable"
    assert client.get("/healthz").status_code == 200  # and 200 again once it is back


@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/prices/",
        "/portfolio/",
        "/ledger/",
        "/trading/",
        "/trading/orders/",
        "/accounts/login/",
    ],
)
def test_pages_during_an_outage_are_friendly_not_a_traceback(alice, url):
    with database_down():
        response = alice.get(url)

    assert_friendly_500(response)


def test_a_post_during_an_outage_is_friendly_and_changes_nothing(alice):
    before = money_state()
    with database_down():
        response = alice.post(reverse("ledger:deposit"), {"amount": "25.00"})

    assert_friendly_500(response)
    assert money_state() == before


def test_a_database_error_inside_a_view_is_logged_as_one_line(alice, monkeypatch, caplog):
    monkeypatch.setattr("ledger.views.selectors.balance_of", explode_db)

    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = alice.get(reverse("ledger:journal"))

    assert_friendly_500(response)
    (record,) = [r for r in caplog.records if r.name == "django.request"]
    assert record.exc_info is not None  # the traceback goes to the log, not to the page


def explode_db(*args, **kwargs):
    raise DatabaseError("disk I/O error")


# The ticker -------------------------------------------------------------------------------


@pytest.fixture
def market(db):
    MarketState.objects.get_or_create(id=1)
    return [PriceFactory(symbol=s, price=Decimal("50.00")) for s in ("AAPL", "MSFT", "XOM")]


def run_ticker(*args):
    out, err = StringIO(), StringIO()
    call_command("tick_prices", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def failing_on(monkeypatch, attempts: set[int]):
    real = tick_prices.advance_market
    calls = []

    def flaky(**kwargs):
        calls.append(1)
        if len(calls) in attempts:
            raise OperationalError("server closed the connection unexpectedly")
        return real(**kwargs)

    monkeypatch.setattr(tick_prices, "advance_market", flaky)
    return calls


def test_the_ticker_survives_a_failed_tick_and_goes_on(market, monkeypatch, caplog):
    calls = failing_on(monkeypatch, {2})

    with caplog.at_level(logging.ERROR, logger="tradesim.prices"):
        out, err = run_ticker("--ticks", "3")

    assert len(calls) == 3
    assert MarketState.objects.get(id=1).ticks == 2
    assert PriceHistory.objects.filter(stock_id="AAPL").count() == 2
    assert [line.split(" (")[0] for line in out.splitlines()] == ["Tick 1", "Tick 2"]
    assert "Tick attempt 2 failed (OperationalError" in err
    assert "1 of 3 ticks failed" in err
    (record,) = [r for r in caplog.records if r.name == "tradesim.prices"]
    assert "event=market.tick_failed" in record.getMessage()
    assert "attempt=2" in record.getMessage()


def test_a_ticker_whose_every_tick_fails_exits_with_an_error(market, monkeypatch):
    failing_on(monkeypatch, {1, 2})

    with pytest.raises(CommandError, match="All 2 ticks failed"):
        run_ticker("--ticks", "2")

    assert MarketState.objects.get(id=1).ticks == 0


def test_a_second_ticker_is_still_refused_at_once(market, monkeypatch):
    calls = failing_on(monkeypatch, set())

    with ticker_lock(command="tick_prices"), pytest.raises(CommandError, match="Another tick"):
        run_ticker("--ticks", "3")

    assert calls == []
    assert MarketState.objects.get(id=1).ticks == 0
