"""The trading_sessions table on a market that already ran: its current day is on record."""

from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from prices.models import TradingSession

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_migration_records_the_current_trading_day_of_a_running_market():
    call_command("migrate", "prices", "0006", verbosity=0)
    try:
        opened = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
        state = MigrationExecutor(connection).loader.project_state(
            ("prices", "0006_constraint_messages")
        )
        MarketState = state.apps.get_model("prices", "MarketState")  # as it was then
        # update_or_create: an earlier transactional test's flush may have removed the row.
        MarketState.objects.update_or_create(
            id=1, defaults={"ticks": 800, "trading_day": 2, "day_started_at": opened}
        )
    finally:
        call_command("migrate", verbosity=0)  # every app: going back took later ones too

    assert list(TradingSession.objects.values_list("number", "opened_at")) == [(3, opened)]


def test_a_market_that_never_ticked_has_no_trading_day_yet():
    call_command("migrate", "prices", "0006", verbosity=0)
    call_command("migrate", verbosity=0)

    assert not TradingSession.objects.exists()


def test_symbols_already_listed_get_the_sample_markets_dividends_and_earnings():
    call_command("migrate", "prices", "0012", verbosity=0)
    try:
        state = MigrationExecutor(connection).loader.project_state(
            ("prices", "0012_corporate_actions")
        )
        Price = state.apps.get_model("prices", "Price")
        for symbol in ("DUK", "TSLA", "OWN"):
            Price.objects.update_or_create(
                symbol=symbol,
                defaults={
                    "name": symbol,
                    "sector": "Utilities",
                    "price": 100,
                    "previous_close": 100,
                    "log_price": 4.6,
                },
            )
    finally:
        call_command("migrate", verbosity=0)

    from prices.models import Price

    rows = {
        p.symbol: (p.dividend_yield, p.dividend_day, p.earnings_day)
        for p in Price.objects.filter(symbol__in=["DUK", "TSLA", "OWN"])
    }
    assert rows == {
        "DUK": (0.034, 28, 43),
        "TSLA": (0.0, None, 19),
        "OWN": (0.0, None, None),  # not in the sample market: left as it was
    }
