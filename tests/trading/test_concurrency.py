"""Trading under concurrent load, on PostgreSQL with real threads and real row locks.

Each worker waits at a barrier so the orders really overlap, records what it was told
(the acknowledged operations), and closes its own database connection at the end. After
the load, the invariants are checked against the database and against the record, in the
spirit of Jepsen's bank test: no money or shares appear, vanish or go negative.
"""

import io
import random
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.db.models import Sum
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ledger import services as ledger
from ledger.models import Balance, Transaction
from portfolio.models import Holding, PortfolioSummary
from prices.models import MarketState, Price
from tests.concurrency import run_concurrently
from tests.factories import ClassroomFactory, PriceFactory, StudentFactory
from tradesim.money import to_cents
from trading.models import Trade
from trading.services import (
    DuplicateRequest,
    InsufficientFunds,
    NotEnoughShares,
    TradingError,
    buy,
    sell,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

STARTING = Decimal("5000.00")


def cash(user) -> Decimal:
    return Balance.objects.get(user=user).amount


# Focused races -----------------------------------------------------------------------


def test_sixteen_concurrent_buys_with_cash_for_exactly_one_make_one_trade():
    PriceFactory(symbol="ACME", price=Decimal("100.00"))
    user = StudentFactory(cash="1000.00")

    results = run_concurrently(
        [lambda: buy(user=user, symbol="ACME", quantity=10) for _ in range(16)]
    )

    trades = [r for r in results if isinstance(r, Trade)]
    refusals = [r for r in results if isinstance(r, InsufficientFunds)]
    assert len(trades) == 1, results
    assert len(refusals) == 15, results
    assert Trade.objects.filter(user=user).count() == 1
    assert cash(user) == Decimal("0.00")
    assert Holding.objects.get(user=user).quantity == 10
    assert Transaction.objects.filter(user=user, type="buy").count() == 1


def test_concurrent_sells_of_the_same_shares_never_oversell():
    PriceFactory(symbol="ACME", price=Decimal("100.00"))
    user = StudentFactory(cash="1000.00")
    buy(user=user, symbol="ACME", quantity=10)

    results = run_concurrently(
        [lambda: sell(user=user, symbol="ACME", quantity=4) for _ in range(16)]
    )

    sold = [r for r in results if isinstance(r, Trade)]
    refusals = [r for r in results if isinstance(r, NotEnoughShares)]
    assert len(sold) == 2, results
    assert len(refusals) == 14, results
    assert Holding.objects.get(user=user).quantity == 2
    assert cash(user) == Decimal("800.00")
    assert Trade.objects.filter(user=user, operation="sell").count() == 2


def test_concurrent_sells_of_a_whole_position_sell_it_once():
    PriceFactory(symbol="ACME", price=Decimal("100.00"))
    user = StudentFactory(cash="1000.00")
    buy(user=user, symbol="ACME", quantity=10)

    results = run_concurrently(
        [lambda: sell(user=user, symbol="ACME", quantity=10) for _ in range(16)]
    )

    assert sum(isinstance(r, Trade) for r in results) == 1, results
    assert sum(isinstance(r, NotEnoughShares) for r in results) == 15, results
    assert not Holding.objects.filter(user=user).exists()
    assert cash(user) == Decimal("1000.00")


def test_a_double_submit_racing_itself_makes_one_trade():
    PriceFactory(symbol="ACME", price=Decimal("10.00"))
    user = StudentFactory(cash="1000.00")

    results = run_concurrently(
        [lambda: buy(user=user, symbol="ACME", quantity=1, token="double") for _ in range(8)]
    )

    assert sum(isinstance(r, Trade) for r in results) == 1, results
    assert sum(isinstance(r, DuplicateRequest) for r in results) == 7, results
    assert cash(user) == Decimal("990.00")


def test_concurrent_orders_never_pass_the_class_limit_on_trades_a_day():
    PriceFactory(symbol="ACME", price=Decimal("10.00"))
    MarketState.objects.update_or_create(
        id=1, defaults={"day_started_at": timezone.now() - timedelta(hours=1)}
    )
    user = StudentFactory(classroom=ClassroomFactory(max_trades_per_day=2), cash="1000.00")

    results = run_concurrently(
        [lambda: buy(user=user, symbol="ACME", quantity=1) for _ in range(12)]
    )

    assert sum(isinstance(r, Trade) for r in results) == 2, results
    assert sum(getattr(r, "rule", None) == "max_trades_per_day" for r in results) == 10, results
    assert Trade.objects.filter(user=user).count() == 2


def test_concurrent_buys_never_pass_the_class_limit_in_one_stock():
    PriceFactory(symbol="ACME", price=Decimal("10.00"))
    user = StudentFactory(
        classroom=ClassroomFactory(max_position_percent=Decimal("25")), cash="1000.00"
    )

    # Each buy is 10 % of the portfolio: only two fit under 25 %.
    results = run_concurrently(
        [lambda: buy(user=user, symbol="ACME", quantity=10) for _ in range(12)]
    )

    assert sum(isinstance(r, Trade) for r in results) == 2, results
    assert sum(getattr(r, "rule", None) == "max_position_percent" for r in results) == 10
    assert Holding.objects.get(user=user).quantity == 20


def _while_holding_the_balance_lock(user, change, order):
    """Run `order` in another thread while this one holds `user`'s balance lock; once the
    order is blocked by this transaction, make `change` and commit. Returns what `order`
    returned or raised, and the statements it ran."""
    outcome = {"statements": []}
    started = threading.Event()

    def record(execute, sql, params, many, context):
        outcome["statements"].append(sql)
        return execute(sql, params, many, context)

    def place():
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                outcome["pid"] = cursor.fetchone()[0]
            started.set()
            with connection.execute_wrapper(record):
                outcome["result"] = order()
        except Exception as error:  # the test inspects it
            outcome["result"] = error
        finally:
            started.set()
            connection.close()

    thread = threading.Thread(target=place)
    try:
        with transaction.atomic():
            Balance.objects.select_for_update().get(user=user)
            thread.start()
            assert started.wait(timeout=10), "the order thread did not start"
            for _ in range(200):  # until this transaction blocks the order (at most 10 s)
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT pg_backend_pid() = ANY(pg_blocking_pids(%s))", [outcome["pid"]]
                    )
                    if cursor.fetchone()[0]:
                        break
                time.sleep(0.05)
            else:
                raise AssertionError("the order never waited for the balance lock")
            change()
    finally:
        if thread.ident is not None:  # started: let it finish before the test tears down
            thread.join(timeout=30)
    assert not thread.is_alive(), "the order hung"
    return outcome["result"], outcome["statements"]


def test_an_order_that_waited_for_the_lock_sees_the_price_and_halt_made_meanwhile():
    PriceFactory(symbol="ACME", price=Decimal("10.00"))
    user = StudentFactory(cash="1000.00")

    def halt_and_reprice():
        Price.objects.filter(symbol="ACME").update(price=Decimal("99.00"), halted=True)

    result, _ = _while_holding_the_balance_lock(
        user, halt_and_reprice, lambda: buy(user=user, symbol="ACME", quantity=1)
    )

    assert isinstance(result, TradingError), result
    assert "paused" in result.message
    assert cash(user) == Decimal("1000.00")
    assert not Trade.objects.exists()


def test_an_order_that_waited_for_the_lock_sees_its_token_used_meanwhile():
    PriceFactory(symbol="ACME", price=Decimal("10.00"))
    user = StudentFactory(cash="1000.00")

    def deposit_with_the_same_token():
        ledger.deposit(user=user, amount="1.00", token="shared")

    result, statements = _while_holding_the_balance_lock(
        user,
        deposit_with_the_same_token,
        lambda: buy(user=user, symbol="ACME", quantity=1, token="shared"),
    )

    assert isinstance(result, DuplicateRequest), result
    # Refused by the token check under the lock, not by the unique constraint afterwards.
    assert not [sql for sql in statements if sql.lstrip().upper().startswith("INSERT")]
    assert cash(user) == Decimal("1001.00")
    assert not Trade.objects.exists()


def test_buys_and_sells_of_one_user_across_symbols_do_not_deadlock():
    for symbol in ("AAA", "BBB"):
        PriceFactory(symbol=symbol, price=Decimal("10.00"))
    user = StudentFactory(cash="10000.00")
    buy(user=user, symbol="AAA", quantity=50)
    buy(user=user, symbol="BBB", quantity=50)

    jobs = []
    for i in range(16):
        symbol = ("AAA", "BBB")[i % 2]
        side = (buy, sell)[(i // 2) % 2]
        jobs.append(lambda side=side, symbol=symbol: side(user=user, symbol=symbol, quantity=5))
    results = run_concurrently(jobs)

    assert all(isinstance(r, Trade) for r in results), results
    assert Holding.objects.get(user=user, stock_id="AAA").quantity == 50
    assert Holding.objects.get(user=user, stock_id="BBB").quantity == 50
    assert cash(user) == Decimal("9000.00")


# The bank test -----------------------------------------------------------------------


@dataclass
class Record:
    """What the workers were told succeeded, per user."""

    deposits: dict = field(default_factory=lambda: defaultdict(Decimal))
    withdrawals: dict = field(default_factory=lambda: defaultdict(Decimal))
    trade_ids: set = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


def market_and_class(settings, users=4, commission="1.00"):
    settings.COMMISSION_PER_TRADE = Decimal(commission)
    settings.DEPOSITS_OPEN = True
    settings.MAX_TOTAL_DEPOSITS = None
    symbols = {"AAA": "10.00", "BBB": "25.50", "CCC": "99.99"}
    for symbol, price in symbols.items():
        PriceFactory(symbol=symbol, price=Decimal(price))
    students = [StudentFactory(cash=str(STARTING)) for _ in range(users)]
    for student in students:
        for symbol in symbols:
            buy(user=student, symbol=symbol, quantity=5)
    return students, list(symbols)


def move_prices(symbols, seed, steps=40):
    """A stand-in for the ticker: prices change while orders are being placed."""
    rng = random.Random(seed)
    for _ in range(steps):
        symbol = rng.choice(symbols)
        current = Price.objects.get(symbol=symbol).price
        factor = Decimal(rng.choice(["0.97", "0.99", "1.01", "1.03"]))
        Price.objects.filter(symbol=symbol).update(price=max(to_cents(current * factor), 1))
    return "prices moved"


def tick_market(seed, ticks=15):
    """The real ticker (with its after-tick hooks): prices, history and snapshots are
    written while orders are placed."""
    from prices.services import advance_market

    rng = random.Random(seed)
    for _ in range(ticks):
        advance_market(rng=rng, wait=True)
    return "market ticked"


def assert_bank_invariants(students, record):
    """Jepsen's bank test, adapted: after the load, with every write committed."""
    # The trades table holds exactly the acknowledged trades (plus the set-up buys).
    load_trades = set(Trade.objects.filter(token__startswith="load-").values_list("id", flat=True))
    assert load_trades == record.trade_ids

    for student in students:
        balance = cash(student)
        assert balance >= 0

        # The journal sums to the balance.
        credits = Transaction.objects.filter(
            user=student, type__in=Transaction.CREDIT_TYPES
        ).aggregate(s=Sum("amount"))["s"] or Decimal("0")
        debits = Transaction.objects.filter(
            user=student, type__in=Transaction.DEBIT_TYPES
        ).aggregate(s=Sum("amount"))["s"] or Decimal("0")
        assert balance == credits - debits

        # Cash is what the acknowledged operations and the recorded trades add up to.
        trades = Trade.objects.filter(user=student)
        bought = trades.filter(operation="buy").aggregate(s=Sum("total"))["s"] or 0
        sold = trades.filter(operation="sell").aggregate(s=Sum("total"))["s"] or 0
        fees = trades.aggregate(s=Sum("commission"))["s"] or 0
        expected = (
            STARTING
            + record.deposits[student.pk]
            - record.withdrawals[student.pk]
            - bought
            + sold
            - fees
        )
        assert balance == expected, student.username

        # Every holding is the net of its trades; no holding is left at zero.
        net = defaultdict(int)
        for symbol, operation, quantity in trades.values_list("stock_id", "operation", "quantity"):
            net[symbol] += quantity if operation == "buy" else -quantity
        held = dict(Holding.objects.filter(user=student).values_list("stock_id", "quantity"))
        assert held == {s: q for s, q in net.items() if q != 0}, student.username
        assert all(q >= 0 for q in net.values())

        # Each trade is internally consistent, and realized P/L adds up in the summary.
        for trade in trades:
            assert trade.total == to_cents(trade.price * trade.quantity)
        realized = trades.aggregate(s=Sum("realized_pnl"))["s"] or Decimal("0")
        summary = PortfolioSummary.objects.filter(user=student).first()
        assert (summary.realized_pnl if summary else Decimal("0")) == realized

    # The ledger's own audit agrees (it raises CommandError on any mismatch).
    call_command("check_ledger", stdout=io.StringIO())


@pytest.mark.parametrize("mover", ["price updates", "market ticks"])
def test_bank_test_mixed_load_through_the_services(settings, mover):
    students, symbols = market_and_class(settings)
    record = Record()

    def worker(seed):
        rng = random.Random(seed)
        outcomes = defaultdict(int)
        for _ in range(30):
            student = rng.choice(students)
            action = rng.choice(["buy", "buy", "sell", "sell", "deposit", "withdraw"])
            token = f"load-{uuid.uuid4().hex}"
            try:
                if action in ("buy", "sell"):
                    place = buy if action == "buy" else sell
                    trade = place(
                        user=student,
                        symbol=rng.choice(symbols),
                        quantity=rng.randint(1, 40),
                        token=token,
                    )
                    with record.lock:
                        record.trade_ids.add(trade.pk)
                elif action == "deposit":
                    amount = Decimal(rng.randint(1, 50000)) / 100
                    ledger.deposit(user=student, amount=amount, token=token)
                    with record.lock:
                        record.deposits[student.pk] += amount
                else:
                    amount = Decimal(rng.randint(1, 300000)) / 100
                    ledger.withdraw(user=student, amount=amount, token=token)
                    with record.lock:
                        record.withdrawals[student.pk] += amount
                outcomes[f"{action} ok"] += 1
            except (TradingError, ledger.LedgerError):
                outcomes[f"{action} refused"] += 1
        return dict(outcomes)

    jobs = [lambda seed=seed: worker(seed) for seed in range(8)]
    if mover == "market ticks":
        jobs.append(lambda: tick_market(seed=99))
    else:
        jobs.append(lambda: move_prices(symbols, seed=99))
    results = run_concurrently(jobs)

    errors = [r for r in results if isinstance(r, BaseException)]
    assert errors == []
    totals = defaultdict(int)
    for outcome in results[:-1]:
        for key, count in outcome.items():
            totals[key] += count
    # The load did real work of every kind, and some of it was refused.
    for action in ("buy", "sell", "deposit", "withdraw"):
        assert totals[f"{action} ok"] > 0, totals
    assert totals["buy refused"] + totals["sell refused"] + totals["withdraw refused"] > 0
    assert_bank_invariants(students, record)


def test_bank_test_mixed_load_through_http(settings):
    """The same load as real requests: each thread is a browser (its own Client, logged
    in as one student; two threads per student), and some orders are submitted twice."""
    students, symbols = market_and_class(settings)
    record = Record()
    acknowledged_tokens = set()
    journal_url = reverse("ledger:journal")
    history_url = reverse("trading:history")

    def browser(student, seed):
        client = Client()
        client.force_login(student)
        rng = random.Random(seed)
        outcomes = defaultdict(int)

        def post(url, data, success_url):
            response = client.post(url, data)
            if response.status_code == 302 and response.url == success_url:
                return True
            if response.status_code == 400:
                return False
            raise AssertionError(f"{url} {data} answered {response.status_code}")

        return client, rng, outcomes, post

    def worker(student, seed):
        client, rng, outcomes, post = browser(student, seed)
        for _ in range(25):
            action = rng.choice(["buy", "buy", "sell", "sell", "deposit", "withdraw"])
            token = f"load-{uuid.uuid4().hex}"
            if action in ("buy", "sell"):
                data = {
                    "symbol": rng.choice(symbols).lower(),
                    "quantity": str(rng.randint(1, 40)),
                    "token": token,
                }
                ok = post(reverse(f"trading:{action}"), data, history_url)
                if ok:
                    with record.lock:
                        acknowledged_tokens.add(token)
                    if rng.random() < 0.3:  # a double-click: same form again
                        assert post(reverse(f"trading:{action}"), data, history_url)
                        outcomes["repeat"] += 1
            else:
                amount = Decimal(rng.randint(1, 300000 if action == "withdraw" else 50000)) / 100
                data = {"amount": f"{amount:.2f}", "description": "", "token": token}
                ok = post(reverse(f"ledger:{action}"), data, journal_url)
                if ok:
                    with record.lock:
                        target = record.deposits if action == "deposit" else record.withdrawals
                        target[student.pk] += amount
            outcomes[f"{action} {'ok' if ok else 'refused'}"] += 1
        return dict(outcomes)

    jobs = [
        lambda student=student, seed=seed: worker(student, seed)
        for seed, student in enumerate(students * 2)
    ]
    jobs.append(lambda: move_prices(symbols, seed=7))
    results = run_concurrently(jobs)

    errors = [r for r in results if isinstance(r, BaseException)]
    assert errors == []
    totals = defaultdict(int)
    for outcome in results[:-1]:
        for key, count in outcome.items():
            totals[key] += count
    for action in ("buy", "sell", "deposit", "withdraw"):
        assert totals[f"{action} ok"] > 0, totals
    assert totals["repeat"] > 0, totals

    record.trade_ids = set(
        Trade.objects.filter(token__in=acknowledged_tokens).values_list("id", flat=True)
    )
    assert len(record.trade_ids) == len(acknowledged_tokens)
    assert_bank_invariants(students, record)
