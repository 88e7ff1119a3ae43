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
