"""Every API endpoint runs a fixed number of queries, however much data there is: each is
pinned here at two sizes (a few rows, and many).

A token's last-used time is written at most once a minute (api.services.mark_used): the
clients here used theirs a moment ago, so each count is the steady state's. One query of
every count is the token's lookup (with its user and class); the first use of a new token
writes its last-used time, one UPDATE more (pinned apart)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.utils import timezone

from api.models import ApiToken
from ledger import services as ledger
from prices.models import PriceHistory
from tests.api.conftest import ApiClient, token_for
from tests.factories import (
    ClassroomFactory,
    PriceFactory,
    StudentFactory,
    TradeFactory,
)
from tests.portfolio.helpers import buy
from trading.models import Order
from trading.services import order_request, place_order

pytestmark = pytest.mark.django_db

SIZES = [2, 25]


@pytest.fixture(params=SIZES, ids=lambda n: f"{n}-rows")
def world(request, student, other_student, instructor):
    """`n` of everything around alice, in her class Period 1 that the instructor runs: n
    symbols she holds, n trades, n open orders, n deposits, n classmates (each holding
    shares), n price points of ACME, n more classes of the instructor's; and bob's
    orders and trades, which must cost nothing."""
    n = request.param
    period = ClassroomFactory(name="Period 1", min_trades_to_rank=1, names_shown=False)
    period.owners.add(instructor)
    for i in range(n):
        ClassroomFactory(name=f"Extra {i}").owners.add(instructor)
    acme = PriceFactory(symbol="ACME", name="Acme Corp", price=Decimal("50.00"))
    symbols = [PriceFactory(symbol=f"S{i:03d}", price=Decimal("10.00")) for i in range(n)]
    start = timezone.now() - timedelta(hours=1)
    PriceHistory.objects.bulk_create(
        PriceHistory(stock=acme, price=Decimal(40 + i % 20), timestamp=start + timedelta(seconds=i))
        for i in range(n * 10)
    )
    for user in (student, other_student):
        user.classroom = period
        user.save(update_fields=["classroom"])
        ledger.deposit(user=user, amount=Decimal("100000.00"))
        for stock in symbols:
            buy(user, stock.symbol, 2)
            TradeFactory(user=user, stock=stock, price=Decimal("10.00"))
        for i in range(n):
            ledger.deposit(user=user, amount=Decimal("1.00"))
            place_order(
                user=user,
                request=order_request(
                    side="buy",
                    type="limit",
                    symbol="ACME",
                    quantity=1,
                    limit_price=f"{30 + i % 15}",
                ),
            )
    for i in range(n):
        classmate = StudentFactory(username=f"classmate{i:02d}")
        classmate.classroom = period
        classmate.save(update_fields=["classroom"])
        buy(classmate, "ACME", i + 1)
    ApiToken.objects.update(last_used_at=timezone.now())
    return {"n": n, "period": period, "acme": acme}


def _get(client, path, data=None, status=200):
    response = client.get(path, data)
    assert response.status_code == status, response.content
    return response


# Reads ------------------------------------------------------------------------------------


def test_account(api, world, django_assert_num_queries):
    # token (with the class); the account row; the holdings; the ranked row
    with django_assert_num_queries(4):
        _get(api, "/account")


def test_positions(api, world, django_assert_num_queries):
    # token; the account row; the holdings with their prices
    with django_assert_num_queries(3):
        body = _get(api, "/positions").json()
    assert len(body["data"]) == world["n"]


def test_every_quote_cold_then_cached(api, world, django_assert_num_queries):
    cache.clear()
    with django_assert_num_queries(2):  # token; every price row
        assert len(_get(api, "/quotes").json()["data"]) == world["n"] + 1
    with django_assert_num_queries(1):  # token; the quotes from the cache
        _get(api, "/quotes")


def test_the_quotes_asked_for_cold_then_cached(api, world, django_assert_num_queries):
    symbols = ",".join(["ACME"] + [f"S{i:03d}" for i in range(world["n"])])
    cache.clear()
    with django_assert_num_queries(2):  # token; the price rows not cached
        _get(api, "/quotes", {"symbols": symbols})
    with django_assert_num_queries(1):  # token
        _get(api, "/quotes", {"symbols": symbols})


def test_one_quote(api, world, django_assert_num_queries):
    cache.clear()
    with django_assert_num_queries(3):  # token; the price row; the session's low and high
        _get(api, "/quotes/acme")
    with django_assert_num_queries(2):  # token; the session's low and high
        _get(api, "/quotes/ACME")


def test_price_history(api, world, django_assert_num_queries):
    cache.clear()
    with django_assert_num_queries(3):  # token; the price row; the points
        body = _get(api, "/quotes/ACME/history", {"limit": 5}).json()
    since = body["data"][0]["timestamp"]
    with django_assert_num_queries(2):  # token; the points (the quote is cached)
        assert len(_get(api, "/quotes/ACME/history", {"since": since}).json()["data"]) == 4


def test_trades(api, world, django_assert_num_queries):
    with django_assert_num_queries(2):  # token; the page
        first = _get(api, "/trades", {"limit": 1}).json()
    with django_assert_num_queries(2):
        _get(api, "/trades", {"cursor": first["next_cursor"], "side": "buy", "symbol": "S000"})


def test_journal(api, world, django_assert_num_queries):
    with django_assert_num_queries(2):  # token; the page
        first = _get(api, "/journal", {"limit": 1}).json()
    with django_assert_num_queries(2):
        _get(api, "/journal", {"cursor": first["next_cursor"], "type": "deposit"})


def test_leaderboard(api, world, django_assert_num_queries):
    # token; the ranking (this page and the viewer's row, ranked among everyone)
    with django_assert_num_queries(2):
        first = _get(api, "/leaderboard", {"limit": 1}).json()
    assert first["total"] == world["n"] + 2
    with django_assert_num_queries(2):
        _get(api, "/leaderboard", {"limit": 1, "cursor": first["next_cursor"]})


def test_classes(instructor_api, world, django_assert_num_queries):
    with django_assert_num_queries(3):  # token; the classes; their student counts
        body = _get(instructor_api, "/classes").json()
    assert len(body["data"]) == world["n"] + 1


def test_class_standings(instructor_api, world, django_assert_num_queries):
    path = f"/classes/{world['period'].pk}/standings"
    with django_assert_num_queries(3):  # token; the class; the ranking's page
        first = _get(instructor_api, path, {"limit": 1}).json()
    with django_assert_num_queries(3):
        _get(instructor_api, path, {"limit": 1, "cursor": first["next_cursor"]})


def test_orders_list_and_one(api, world, django_assert_num_queries):
    with django_assert_num_queries(2):  # token; the page, with each order's trade
        first = _get(api, "/orders", {"limit": 1}).json()
    with django_assert_num_queries(2):
        _get(api, "/orders", {"status": "open", "cursor": first["next_cursor"]})
    with django_assert_num_queries(2):  # token; the order with its trade
        _get(api, f"/orders/{first['data'][0]['id']}")


# Writes ---------------------------------------------------------------------------------
# The test's transaction turns each service's atomic block into a SAVEPOINT and its RELEASE:
# two of each count, where a server opens and commits a transaction.


def test_a_market_order(api, world, django_assert_num_queries):
    # token; savepoint; the class's rules; the balance and the price (locked); the journal
    # row and the balance; the holding (locked) and its update; the trade; the order;
    # release (the order is answered as written, not read back)
    with django_assert_num_queries(12):
        response = api.post("/orders", {"symbol": "S000", "quantity": 1})
    assert response.status_code == 201, response.content


def test_a_limit_order(api, world, django_assert_num_queries):
    # token; savepoint; the balance (locked); the class's rules; the open orders' count;
    # the price; the cash held; the market day (its expiry); the order; release
    with django_assert_num_queries(10):
        response = api.post(
            "/orders", {"symbol": "ACME", "quantity": 1, "type": "limit", "limit_price": "20"}
        )
    assert response.status_code == 201, response.content


def test_a_replayed_order(api, world, django_assert_num_queries):
    key = {"Idempotency-Key": "replay-1"}
    assert api.post("/orders", {"symbol": "S000", "quantity": 1}, headers=key).status_code == 201
    # token; savepoint; the class's rules; the balance (locked); the key found used, and
    # its journal row; rollback and release; the first order with its trade
    with django_assert_num_queries(9):
        response = api.post("/orders", {"symbol": "S000", "quantity": 1}, headers=key)
    assert response.status_code == 200, response.content


def test_cancelling_an_order(api, world, student, django_assert_num_queries):
    order = Order.objects.filter(user=student, status="open").first()
    # token; the order; savepoint; the balance (locked); the order (locked); the hold
    # released; the order cancelled; release
    with django_assert_num_queries(8):
        assert api.delete(f"/orders/{order.pk}").status_code == 200


def test_a_deposit(api, world, django_assert_num_queries):
    # token; savepoint; the balance (locked); the class's rules; the journal row; the
    # balance; release
    with django_assert_num_queries(7):
        assert api.post("/deposits", {"amount": "10.00"}).status_code == 201


def test_a_withdrawal(api, world, django_assert_num_queries):
    with django_assert_num_queries(7):  # as a deposit
        assert api.post("/withdrawals", {"amount": "10.00"}).status_code == 201


def test_logging_in_for_a_token(anon_api, world, student, django_assert_num_queries):
    for i in range(min(world["n"], 8)):  # at most 10 live tokens
        token_for(student, name=f"old {i}")
    body = {"username": "alice", "password": "correct-horse-battery-staple", "name": "bot"}
    # the log-in lock's failures; the user; the failures to forget (none); their class (its
    # API switch); savepoint; the user (locked); the live tokens' count; the token; release
    with django_assert_num_queries(9):
        assert anon_api.post("/auth/token", body).status_code == 201


# The first use of a token -----------------------------------------------------------------


def test_the_first_use_of_a_token_writes_its_last_use_once(
    world, student, django_assert_num_queries
):
    fresh = ApiClient(token_for(student, name="fresh"))
    with django_assert_num_queries(3 + 1):  # the positions' count, and the UPDATE
        _get(fresh, "/positions")
    with django_assert_num_queries(3):
        _get(fresh, "/positions")


def test_a_token_used_a_minute_ago_writes_its_last_use_again(api, world, django_assert_num_queries):
    ApiToken.objects.update(last_used_at=timezone.now() - timedelta(minutes=1, seconds=1))
    with django_assert_num_queries(3 + 1):
        _get(api, "/positions")
