"""Orders while MARKET_HOURS says the market is closed: a market order waits for the open
(holding its cost) and fills at the first tick, or is refused, as the class's rule says;
a marketable limit waits too. After each example the money invariants are checked."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from classrooms.models import Classroom
from tests.clock import closed_now
from tests.factories import ClassroomFactory, PriceFactory, StudentFactory
from tests.trading.orders import cash, held, money_problems, place, reload, set_market_day, shares
from trading import services
from trading.models import MARKET_BUY_TRIGGER, Order, Trade
from trading.services import RuleRefused

pytestmark = pytest.mark.django_db

D = Decimal
CLOSED = "closed"


@pytest.fixture
def closed(settings):
    settings.MARKET_HOURS = closed_now()


@pytest.fixture
def acme(db):
    set_market_day(day=1, elapsed=1.0)  # the day's close has come
    return PriceFactory(symbol="ACME", price=D("100.00"))


@pytest.fixture
def alice(acme):
    return StudentFactory(username="alice", cash="10000.00")


@pytest.fixture
def refusing_class():
    return ClassroomFactory(closed_market_orders=Classroom.ClosedMarketOrders.REFUSE)


@pytest.fixture(autouse=True)
def _money_adds_up(acme):
    yield
    assert money_problems() == []


def fill(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return services.fill_orders()


def test_a_market_buy_while_closed_waits_holding_its_cost_with_the_cushion(closed, alice):
    order = place(alice, type="market", quantity=10)

    assert order.status == Order.Status.OPEN and order.trade is None
    assert order.held_cash == D("1050.00")  # 10 × $100.00 × 1.05
    assert (cash(alice), held(alice)) == (D("10000.00"), D("1050.00"))
    assert not Trade.objects.exists()
    assert services.describe_order(order) == (
        "Buy 10 ACME at the first price after the market opens; good for that day"
    )


def test_the_first_tick_after_the_open_fills_the_waiting_order_at_its_price(
    closed, alice, settings, django_capture_on_commit_callbacks
):
    order = place(alice, type="market", quantity=10)
    settings.MARKET_HOURS = None  # the open
    PriceFactory._meta.model.objects.filter(symbol="ACME").update(price=D("103.00"))

    summary = fill(django_capture_on_commit_callbacks)

    order = reload(order)
    assert summary.filled == 1 and order.status == Order.Status.FILLED
    assert order.trade.price == D("103.00")
    assert (cash(alice), held(alice)) == (D("8970.00"), D("0.00"))
    assert shares(alice) == (10, 0)


def test_a_waiting_sell_holds_its_shares_and_fills_at_the_open(
    closed, alice, settings, django_capture_on_commit_callbacks
):
    settings.MARKET_HOURS = None
    services.buy(user=alice, symbol="ACME", quantity=10)
    settings.MARKET_HOURS = closed_now()

    order = place(alice, side="sell", type="market", quantity=4)
    assert order.status == Order.Status.OPEN and shares(alice) == (10, 4)

    settings.MARKET_HOURS = None
    fill(django_capture_on_commit_callbacks)
    assert reload(order).status == Order.Status.FILLED and shares(alice) == (6, 0)


def test_a_waiting_buy_the_cash_no_longer_covers_is_rejected_at_the_open(
    closed, alice, settings, django_capture_on_commit_callbacks
):
    order = place(alice, type="market", quantity=90)  # $9,000 now, $9,450 held
    PriceFactory._meta.model.objects.filter(symbol="ACME").update(price=D("120.00"))
    settings.MARKET_HOURS = None

    fill(django_capture_on_commit_callbacks)

    order = reload(order)
    assert order.status == Order.Status.REJECTED and "cash" in order.reason.lower()
    assert (cash(alice), held(alice)) == (D("10000.00"), D("0.00"))


def test_a_waiting_market_order_can_be_cancelled(closed, alice):
    order = place(alice, type="market", quantity=10)
    services.cancel_order(order_id=order.pk, user=alice)
    assert reload(order).status == Order.Status.CANCELLED
    assert held(alice) == D("0.00")


def test_a_class_that_refuses_market_orders_while_closed_says_when_it_opens(
    closed, alice, refusing_class
):
    alice.classroom = refusing_class
    alice.save(update_fields=["classroom"])

    with pytest.raises(RuleRefused) as refused:
        place(alice, type="market", quantity=10)

    assert refused.value.rule == "closed_market_orders"
    assert "The market is closed; it opens" in refused.value.message
    assert "a limit order, which waits for the open" in refused.value.message
    assert not Order.objects.exists() and held(alice) == D("0.00")
    # A limit order still waits.
    assert place(alice, type="limit", quantity=1, limit_price="99.00").status == "open"


def test_a_marketable_limit_while_closed_waits_for_the_open(closed, alice):
    order = place(alice, type="limit", quantity=5, limit_price="150.00")
    assert order.status == Order.Status.OPEN and not Trade.objects.exists()


def test_while_open_a_market_order_trades_at_once(alice):
    order = place(alice, type="market", quantity=1)
    assert order.status == Order.Status.FILLED and order.trigger_direction == ""


def test_the_database_refuses_a_market_order_that_waits_for_a_price(alice):
    order = place(alice, type="limit", quantity=1, limit_price="90.00")
    with pytest.raises(IntegrityError), transaction.atomic():
        Order.objects.filter(pk=order.pk).update(type="market", limit_price=None)
    # Waiting for the open, it is reached by every price.
    Order.objects.filter(pk=order.pk).update(
        type="market", limit_price=None, trigger_price=MARKET_BUY_TRIGGER
    )
    assert reload(order).type == "market"


# Pages --------------------------------------------------------------------------------


def test_every_page_says_the_market_is_closed_and_when_it_opens(closed, client, alice):
    client.force_login(alice)
    page = client.get(reverse("prices:market")).content.decode()
    assert 'id="market-closed"' in page and "Market closed</strong>, opens" in page


def test_no_notice_while_the_market_is_open_or_has_no_hours(client, alice):
    client.force_login(alice)
    assert 'id="market-closed"' not in client.get(reverse("prices:market")).content.decode()


def test_the_order_ticket_says_a_market_order_waits(closed, client, alice):
    client.force_login(alice)
    page = client.get(reverse("trading:buy") + "?symbol=ACME").content.decode()
    assert "A market order waits for the open" in page


def test_a_buy_from_the_buy_page_while_closed_waits_and_says_so(closed, client, alice):
    client.force_login(alice)
    response = client.post(
        reverse("trading:buy"), {"symbol": "ACME", "quantity": "2", "token": "t-closed-1"}
    )
    assert response.status_code == 302
    assert Order.objects.get().status == Order.Status.OPEN
    news = [str(m) for m in response.wsgi_request._messages]
    assert news and news[0].startswith("The market is closed until ")
    assert "your order waits" in news[0]


def test_a_refused_buy_from_the_buy_page_is_a_400_with_the_reason(
    closed, client, alice, refusing_class
):
    alice.classroom = refusing_class
    alice.save(update_fields=["classroom"])
    client.force_login(alice)
    response = client.post(
        reverse("trading:buy"), {"symbol": "ACME", "quantity": "2", "token": "t-closed-2"}
    )
    assert response.status_code == 400
    assert "Your class takes no market orders while it is closed" in response.content.decode()
    assert not Order.objects.exists()


# The API, the rules page and create_class ---------------------------------------------


def test_the_api_places_a_waiting_order_while_closed_and_names_a_refusal(closed, alice):
    from tests.api.conftest import ApiClient, problem, token_for

    api = ApiClient(token_for(alice))
    body = api.post("/orders", {"symbol": "ACME", "quantity": 2, "side": "buy"}).json()
    assert body["status"] == "open" and body["held_cash"] == "210.00"

    alice.classroom = ClassroomFactory(closed_market_orders="refuse")
    alice.save(update_fields=["classroom"])
    refused = problem(api.post("/orders", {"symbol": "ACME", "quantity": 2}), 400, "market_closed")
    assert refused["rule"] == "closed_market_orders"


def test_the_rules_page_tells_the_hours_and_the_rule(closed, client, alice, refusing_class):
    alice.classroom = refusing_class
    alice.save(update_fields=["classroom"])
    client.force_login(alice)
    page = client.get(reverse("classes:rules")).content.decode()
    assert "Market hours" in page and "Market orders are refused while it is closed" in page


def test_without_market_hours_the_rules_page_says_nothing_of_them(client, alice):
    alice.classroom = ClassroomFactory()
    alice.save(update_fields=["classroom"])
    client.force_login(alice)
    assert "Market hours" not in client.get(reverse("classes:rules")).content.decode()


def test_create_class_sets_the_rule(alice):
    from io import StringIO

    from django.core.management import call_command

    from tests.factories import InstructorFactory

    InstructorFactory(username="teach")
    call_command(
        "create_class",
        "Econ",
        "--owner",
        "teach",
        "--rule",
        "closed_orders=refuse",
        stdout=StringIO(),
    )
    assert Classroom.objects.get(name="Econ").closed_market_orders == "refuse"


# Between the close and the ticker's closing tick ------------------------------------------


@pytest.fixture
def day_still_open(acme):
    """The hours have closed the market, but no closing tick has ended day 1 yet."""
    from django.utils import timezone

    from prices.models import MarketState

    MarketState.objects.filter(id=1).update(day_elapsed=0.5, last_tick_at=timezone.now())


def test_an_order_placed_after_the_close_is_for_the_next_day(closed, day_still_open, alice):
    order = place(alice, type="limit", quantity=1, limit_price="90.00")
    assert order.expires_day == 2


def test_the_closing_tick_leaves_what_was_placed_after_the_close_for_the_open(
    closed, day_still_open, alice, django_capture_on_commit_callbacks
):
    late = place(alice, type="market", quantity=1)
    marketable = place(alice, type="limit", quantity=1, limit_price="150.00")
    before_close = place(alice, type="limit", quantity=1, limit_price="90.00")
    Order.objects.filter(pk=before_close.pk).update(
        created_at=closed_now().last_close(late.created_at) - timedelta(minutes=5)
    )
    PriceFactory._meta.model.objects.filter(symbol="ACME").update(price=D("89.00"))

    summary = fill(django_capture_on_commit_callbacks)

    assert summary.filled == 1 and reload(before_close).status == Order.Status.FILLED
    assert reload(late).status == reload(marketable).status == Order.Status.OPEN


def test_a_market_order_lasts_one_day_whatever_it_asks(closed, alice):
    order = place(alice, type="market", quantity=1, duration="gtc")
    assert order.duration == Order.Duration.DAY


def test_an_api_key_used_for_a_deposit_is_not_taken_again_by_a_waiting_order(closed, alice):
    from tests.api.conftest import ApiClient, problem, token_for

    api = ApiClient(token_for(alice))
    key = {"Idempotency-Key": "key-1"}
    assert api.post("/deposits", {"amount": "5.00"}, headers=key).status_code == 201
    response = api.post("/orders", {"symbol": "ACME", "quantity": 1}, headers=key)
    problem(response, 409, "idempotency_key_reused")
    assert not Order.objects.exists()
