"""examples/example.py and examples/momentum_bot.py, run as a student runs them: separate
Python processes talking HTTP to a real server (pytest-django's live server, on the test
database), with only the standard library."""

import os
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.db.models import Sum
from django.utils import timezone

from api.models import ApiToken
from api.services import create_token
from ledger.models import Transaction
from portfolio.models import Holding
from tests.factories import PASSWORD, PriceFactory, PriceHistoryFactory, StudentFactory
from trading.models import Trade
from trading.services import buy

pytestmark = pytest.mark.django_db(transaction=True)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def market(db):
    """RISE went 100 → 110 over its last six prices, FALL 100 → 90, FLAT stayed at 100."""
    now = timezone.now()
    series = {
        "RISE": ["100.00", "102.00", "104.00", "106.00", "108.00", "110.00"],
        "FALL": ["100.00", "98.00", "96.00", "94.00", "92.00", "90.00"],
        "FLAT": ["100.00"] * 6,
    }
    for symbol, prices in series.items():
        stock = PriceFactory(symbol=symbol, price=prices[-1], previous_close=prices[-2])
        for n, price in enumerate(prices):
            moment = now - timedelta(minutes=len(prices) - n)
            PriceHistoryFactory(stock=stock, price=Decimal(price), timestamp=moment)
    return series


@pytest.fixture
def maya(market):
    """A student with $10,000 who holds 10 FALL (bought at $90.00), and her token."""
    student = StudentFactory(username="maya")
    buy(user=student, symbol="FALL", quantity=10)
    student.secret = create_token(user=student, name="examples").secret
    return student


@pytest.fixture
def server(live_server, settings):
    """The live server's address; it speaks plain HTTP."""
    settings.SECURE_SSL_REDIRECT = False
    return live_server.url


def run(script: str, *args: str, timeout: int = 120, **env: str) -> subprocess.CompletedProcess:
    """python examples/<script> args…, as a student would start it, with `env` added to
    the environment (and no proxy, nor a token of the developer's, from this one)."""
    inherited = {
        name: value
        for name, value in os.environ.items()
        if "proxy" not in name.lower() and name != "TRADESIM_TOKEN"
    }
    env = {**inherited, "PYTHONDONTWRITEBYTECODE": "1", **env}
    return subprocess.run(  # noqa: S603 (our own interpreter and script)
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def money(amount: Decimal) -> str:
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount):,.2f}"


def said(result: subprocess.CompletedProcess) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


# example.py ---------------------------------------------------------------------------


def test_the_example_deposits_buys_once_with_its_key_and_sells(server, maya):
    result = run("example.py", "--url", server, "--token", maya.secret, "--symbol", "rise")
    out = result.stdout
    assert "== 1. Your account ==" in out, said(result)
    lines = [line.split() for line in out.splitlines()]
    assert ["Cash:", "$9,100.00"] in lines, said(result)  # $10,000 less 10 FALL at $90
    assert "Deposited $100.00" in out, said(result)
    assert "filled: Buy 2 RISE" in out, said(result)
    assert "Traded 2 RISE at $110.00 = $220.00" in out, said(result)
    assert "Sent again with the same Idempotency-Key" in out
    assert "(replayed, status 200), nothing bought twice." in out, said(result)
    assert "filled: Sell 1 RISE" in out, said(result)
    trades = Trade.objects.filter(user=maya, stock_id="RISE").order_by("pk")
    assert [(t.operation, t.quantity) for t in trades] == [("buy", 2), ("sell", 1)]
    assert Transaction.objects.filter(
        user=maya, type="deposit", amount=Decimal("100.00"), description="From example.py"
    ).exists()


def test_the_example_runs_every_step_and_exits_0(server, maya):
    result = run("example.py", "--url", server, "--token", maya.secret, "--symbol", "RISE")
    assert result.returncode == 0, said(result)
    out = result.stdout
    assert "RISE  $110.00  (previous close $108.00, +2.00, +1.85 %)" in out, said(result)
    # The portfolio: RISE 1 share (2 bought, 1 sold) and FALL 10, with their values.
    rows = [line.split() for line in out.splitlines() if line.startswith(("  RISE ", "  FALL "))]
    assert ["RISE", "1", "$110.00", "$110.00", "$110.00", "$0.00"] in rows, said(result)
    assert ["FALL", "10", "$90.00", "$90.00", "$900.00", "$0.00"] in rows, said(result)
    assert "Trades, newest first (3 in all):" in out, said(result)
    assert "Cash journal, newest first (" in out
    # The statistics agree with the database.
    trades = Trade.objects.filter(user=maya)
    realized = trades.aggregate(total=Sum("realized_pnl"))["total"] or Decimal("0")
    fees = trades.aggregate(total=Sum("commission"))["total"] or Decimal("0")
    assert "Trades:                 3 (2 buys, 1 sell)" in out, said(result)
    assert "Shares bought / sold:   12 / 1" in out
    assert f"Realized P/L:           {money(realized)}" in out
    assert f"Fees (commissions):     {money(fees)}" in out
    assert "Symbols traded:         FALL, RISE" in out
    assert "Done: 8 steps, 0 refused." in out


def test_the_example_logs_in_with_a_username_and_password_for_a_token(server, maya):
    result = run(
        "example.py",
        *("--url", server, "--username", "maya", "--password", PASSWORD),
        *("--token-name", "my first script", "--symbol", "FLAT"),
    )
    assert "Logged in as maya: new token tsk_" in result.stdout, said(result)
    token = ApiToken.objects.get(user=maya, name="my first script")
    assert token.last_used_at is not None
    assert "filled: Buy 2 FLAT" in result.stdout, said(result)


def test_the_example_reads_the_token_from_tradesim_token(server, maya):
    result = run("example.py", "--url", server, "--symbol", "FLAT", TRADESIM_TOKEN=maya.secret)
    assert "filled: Buy 2 FLAT" in result.stdout, said(result)


def test_the_example_with_a_wrong_password_says_why_and_exits_2(server, maya):
    result = run("example.py", "--url", server, "--username", "maya", "--password", "nope")
    assert result.returncode == 2, said(result)
    assert "401 invalid_credentials: The username or the password is wrong." in result.stderr


def test_a_refused_step_prints_the_problems_code_and_detail_and_exits_1(server, maya):
    result = run(
        "example.py",
        *("--url", server, "--token", maya.secret, "--symbol", "RISE", "--quantity", "100000"),
    )
    assert result.returncode == 1, said(result)
    assert "Refused (400 insufficient_funds): " in result.stdout, said(result)
    assert "Refused (400 insufficient_shares): " in result.stdout, said(result)
    refused = next(line for line in result.stdout.splitlines() if line.startswith("Refused: "))
    assert {"buy", "sell"} <= set(refused.removeprefix("Refused: ").split(", "))
    assert not Trade.objects.filter(user=maya, stock_id="RISE").exists()


def test_the_example_waits_out_the_rate_limit_as_retry_after_asks(
    server, maya, settings, monkeypatch
):
    from api import auth

    # Three requests a second: the example's dozen requests meet the limit several times.
    monkeypatch.setattr(auth, "RATE_WINDOW_SECONDS", 1)
    settings.API_RATE_LIMIT_PER_MINUTE = 3
    result = run("example.py", "--url", server, "--token", maya.secret, "--symbol", "RISE")
    assert "(rate limited: waiting 1 s, as Retry-After asks)" in result.stdout, said(result)
    assert "filled: Buy 2 RISE" in result.stdout, said(result)
    assert "(replayed, status 200)" in result.stdout, said(result)
    buys = Trade.objects.filter(user=maya, stock_id="RISE", operation="buy")
    assert [t.quantity for t in buys] == [2]


def test_without_a_server_the_example_says_so_and_exits_2():
    # Port 9 (discard) has no web server on it.
    result = run("example.py", "--url", "http://127.0.0.1:9", "--token", "tsk_x", timeout=60)
    assert result.returncode == 2, said(result)
    assert "could not reach http://127.0.0.1:9/api/v1" in result.stderr


# momentum_bot.py ----------------------------------------------------------------------


def bot(server, maya, *extra: str) -> subprocess.CompletedProcess:
    return run(
        "momentum_bot.py",
        *("--url", server, "--token", maya.secret, "--symbols", "RISE,FALL,FLAT"),
        *("--rounds", "2", "--interval", "0", "--lookback", "5", "--threshold", "1"),
        *extra,
    )


def test_the_bot_buys_what_rose_and_sells_what_fell_within_its_budget(server, maya):
    buying_power = Decimal("10000.00") - Decimal("900.00")
    result = bot(server, maya, "--fraction", "0.25")
    assert result.returncode == 0, said(result)
    out = result.stdout
    assert "Buying power $9,100.00, budget this round $2,275.00" in out, said(result)
    assert "RISE   +7.84 % at $110.00: BUY" in out, said(result)
    assert "FALL   -8.16 % at $90.00: SELL all 10" in out, said(result)
    assert "FLAT   +0.00 % at $100.00: hold" in out
    assert "SELL 10 FALL: order #" in out
    assert "BUY 20 RISE: order #" in out, said(result)
    assert "Round 2 of 2" in out
    assert "Done: 2 rounds, 2 orders placed, 0 refused." in out, said(result)
    held = dict(Holding.objects.filter(user=maya).values_list("stock_id", "quantity"))
    assert held == {"RISE": 20}
    spent = Trade.objects.get(user=maya, stock_id="RISE").total
    assert spent <= buying_power * Decimal("0.25")


def test_the_bots_dry_run_decides_but_places_no_orders(server, maya):
    result = bot(server, maya, "--dry-run")
    assert result.returncode == 0, said(result)
    assert "(dry run) would SELL 10 FALL" in result.stdout, said(result)
    assert "(dry run) would BUY " in result.stdout
    assert Trade.objects.filter(user=maya).count() == 1  # only the fixture's FALL


def test_the_bot_with_a_revoked_token_says_why_and_exits_2(server, maya):
    ApiToken.objects.filter(user=maya).update(revoked_at=timezone.now())
    result = bot(server, maya)
    assert result.returncode == 2, said(result)
    assert "401 invalid_token: This token was revoked" in result.stderr
