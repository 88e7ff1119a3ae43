"""Upgrading from the previous release: a database that release made, with a class's data
in it (students, cash, trades, open and filled orders, a class, an API token, the market),
migrated to this code keeps its data, and the app works on it.

The test database is migrated back to the release's migrations (tests/upgrade/releases.py)
and filled through the models as they were then; the upgrade is `manage.py migrate`, the
project's own command that an operator runs. Whatever happens, every app is migrated
forward again afterwards: pytest-django keeps the database for the tests after this one.
"""

import hashlib
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.apps import apps as installed_apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder
from django.test import Client
from django.utils import timezone

from api.models import ApiToken
from classrooms.models import Classroom
from ledger.models import Balance, Transaction
from portfolio.models import Holding
from portfolio.selectors import portfolio_overview
from prices.models import MarketState, Price
from tests.upgrade.releases import PREVIOUS, RELEASES
from trading import services as trading
from trading.models import Order, Trade

pytestmark = pytest.mark.django_db(transaction=True)

API_SECRET = "tsk_" + "u" * 43


def project_apps() -> list[str]:
    """The labels of TradeSim's own apps (top-level folders of the project) that have
    migrations."""
    base = Path(settings.BASE_DIR)
    migrated = MigrationExecutor(connection).loader.migrated_apps
    return sorted(
        config.label
        for config in installed_apps.get_app_configs()
        if Path(config.path).parent == base and config.label in migrated
    )


def migrate_back_to(release: dict[str, str]) -> None:
    for app in project_apps():
        call_command("migrate", app, release.get(app, "zero"), verbosity=0)


def applied_project_migrations() -> set[tuple[str, str]]:
    apps = set(project_apps())
    return {key for key in MigrationRecorder(connection).applied_migrations() if key[0] in apps}


@pytest.fixture
def previous_release():
    """The test database as the previous release left it, and that release's models."""
    release = RELEASES[PREVIOUS]
    try:
        migrate_back_to(release)
        executor = MigrationExecutor(connection)
        leaves = list(release.items())
        expected = {
            key
            for leaf in leaves
            for key in executor.loader.graph.forwards_plan(leaf)
            if key[0] in release
        }
        assert applied_project_migrations() == expected
        yield executor.loader.project_state(leaves).apps
    finally:
        call_command("migrate", verbosity=0)


def fill(apps) -> dict:
    """A class's data, written through the release's models: an instructor, a student in
    no class who traded and has two open orders (a buy holding cash, a sell holding
    shares) and an API token, and a student in the instructor's class."""
    now = timezone.now()
    User = apps.get_model("accounts", "User")
    Classroom = apps.get_model("classrooms", "Classroom")
    Price = apps.get_model("prices", "Price")
    PriceHistory = apps.get_model("prices", "PriceHistory")
    MarketState = apps.get_model("prices", "MarketState")
    Balance = apps.get_model("ledger", "Balance")
    Transaction = apps.get_model("ledger", "Transaction")
    Holding = apps.get_model("portfolio", "Holding")
    PortfolioSummary = apps.get_model("portfolio", "PortfolioSummary")
    Trade = apps.get_model("trading", "Trade")
    Order = apps.get_model("trading", "Order")
    ApiToken = apps.get_model("api", "ApiToken")

    def user(username, **fields):
        return User.objects.create(
            username=username,
            email=f"{username}@school.example",
            password=make_password("an old release's password"),
            **fields,
        )

    instructor = user("teacher", is_staff=True)
    classroom = Classroom.objects.create(name="Period 1", join_code="KX7M3QPA")
    classroom.owners.add(instructor)
    alice = user("alice")
    bob = user("bob", classroom=classroom)

    MarketState.objects.update_or_create(
        id=1, defaults={"ticks": 42, "trading_day": 3, "last_tick_at": now}
    )
    for symbol, price, close in [("AAPL", "155.00", "150.00"), ("MSFT", "100.00", "100.00")]:
        stock = Price.objects.create(
            symbol=symbol,
            name=f"{symbol} Inc.",
            sector="Technology",
            price=Decimal(price),
            previous_close=Decimal(close),
            log_price=float(Decimal(price).ln()),
        )
        PriceHistory.objects.create(stock=stock, price=Decimal(close), timestamp=now)

    def journal(account, type, amount, **fields):
        account.amount += Decimal(amount) * (-1 if type in ("buy", "withdrawal") else 1)
        Transaction.objects.create(
            user_id=account.user_id,
            type=type,
            amount=Decimal(amount),
            balance_after=account.amount,
            **fields,
        )

    cash = Balance(user=alice, amount=Decimal("0.00"))
    journal(cash, "deposit", "10000.00", description="Starting cash", token="opening")
    journal(cash, "buy", "1500.00", description="Bought 10 AAPL", symbol="AAPL")
    cash.held = Decimal("450.00")
    cash.save()
    trade = Trade.objects.create(
        user=alice,
        stock_id="AAPL",
        operation="buy",
        quantity=10,
        price=Decimal("150.00"),
        total=Decimal("1500.00"),
    )
    Holding.objects.create(
        user=alice, stock_id="AAPL", quantity=10, average_price=Decimal("150"), held_quantity=4
    )
    PortfolioSummary.objects.create(user=alice, units=Decimal("10000"))
    Order.objects.create(
        user=alice,
        stock_id="AAPL",
        side="buy",
        type="market",
        quantity=10,
        status="filled",
        trade=trade,
        closed_at=now,
    )
    open_buy = Order.objects.create(
        user=alice,
        stock_id="MSFT",
        side="buy",
        type="limit",
        quantity=5,
        limit_price=Decimal("90.00"),
        trigger_price=Decimal("90.00"),
        trigger_direction="below",
        duration="gtc",
        held_cash=Decimal("450.00"),
    )
    open_sell = Order.objects.create(
        user=alice,
        stock_id="AAPL",
        side="sell",
        type="limit",
        quantity=4,
        limit_price=Decimal("200.00"),
        trigger_price=Decimal("200.00"),
        trigger_direction="above",
        duration="gtc",
        held_shares=4,
    )
    ApiToken.objects.create(
        user=alice,
        name="my bot",
        prefix=API_SECRET[:8],
        digest=hashlib.sha256(API_SECRET.encode()).hexdigest(),
    )

    cash = Balance(user=bob, amount=Decimal("0.00"))
    opening = f"opening:{classroom.pk}"
    journal(cash, "deposit", "10000.00", description="Starting cash", token=opening)
    journal(cash, "withdrawal", "500.00", description="Lunch money")
    cash.save()

    return {"alice": alice.pk, "bob": bob.pk, "open_buy": open_buy.pk, "open_sell": open_sell.pk}


def check_ledger() -> str:
    out = StringIO()
    call_command("check_ledger", stdout=out)
    return out.getvalue()


def test_the_previous_releases_data_survives_the_upgrade_and_the_app_works_on_it(
    previous_release,
):
    ids = fill(previous_release)

    call_command("migrate", verbosity=0)

    executor = MigrationExecutor(connection)
    assert executor.migration_plan(executor.loader.graph.leaf_nodes()) == []
    assert "portfolio_valuations" in connection.introspection.table_names(include_views=True)
    # The data, as it was.
    assert get_user_model().objects.count() == 3
    assert Classroom.objects.get(name="Period 1").students.get().username == "bob"
    assert Price.objects.count() == 2
    assert Transaction.objects.count() == 4
    assert Trade.objects.count() == 1
    assert Order.objects.filter(status="filled", trade__isnull=False).count() == 1
    assert set(Order.objects.filter(status="open").values_list("pk", flat=True)) == {
        ids["open_buy"],
        ids["open_sell"],
    }
    alice = get_user_model().objects.get(pk=ids["alice"])
    assert Balance.objects.get(user=alice).amount == Decimal("8500.00")
    assert Balance.objects.get(user=alice).held == Decimal("450.00")
    assert Holding.objects.get(user=alice, stock_id="AAPL").held_quantity == 4
    assert Balance.objects.get(user_id=ids["bob"]).amount == Decimal("9500.00")
    assert ApiToken.objects.get().user == alice
    market = MarketState.objects.get()
    assert (market.ticks, market.trading_day) == (42, 3)
    assert market.ticker_seen_at is None  # 0.11: no ticker has reported yet
    assert "Ledger OK" in check_ledger()

    # The app on it: a valuation, the pages, the API, a trade and a cancel.
    overview = portfolio_overview(alice)
    assert (overview.cash, overview.held, overview.market_value) == (
        Decimal("8500.00"),
        Decimal("450.00"),
        Decimal("1550.00"),
    )
    bob_client = Client()
    bob_client.force_login(get_user_model().objects.get(pk=ids["bob"]))
    assert bob_client.get("/portfolio/").status_code == 200
    answer = Client().get("/api/v1/account", HTTP_AUTHORIZATION=f"Bearer {API_SECRET}")
    assert answer.status_code == 200, answer.content
    assert answer.json()["cash"] == "8500.00"

    trading.buy(user=alice, symbol="MSFT", quantity=2)
    trading.cancel_order(order_id=ids["open_buy"], user=alice)

    balance = Balance.objects.get(user=alice)
    assert (balance.amount, balance.held) == (Decimal("8300.00"), Decimal("0.00"))
    assert Holding.objects.get(user=alice, stock_id="MSFT").quantity == 2
    assert "Ledger OK" in check_ledger()
