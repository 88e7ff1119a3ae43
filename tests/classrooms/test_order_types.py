"""A class's order types: all (market, limit, stop, stop-limit, trailing stop) or market
orders only; a column of the class, checked by the database, read into the rulebook,
refused by trading's place_order and told to the students in plain words."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from classrooms.describe import rules
from classrooms.models import Classroom
from classrooms.rules import ORDER_TYPES_ALL, ORDER_TYPES_MARKET, Rulebook, rulebook_for
from classrooms.services import update_rules
from ledger.models import Balance
from prices.models import Price
from tests.factories import ClassroomFactory, PriceFactory, StudentFactory
from tradesim.models import AuditEntry
from trading import services as trading
from trading.models import Order

pytestmark = pytest.mark.django_db

REFUSED = "Your class trades with market orders only: buy or sell at the current price."


@pytest.fixture
def aapl(db):
    return PriceFactory(symbol="AAPL", price=Decimal("200.00"))


@pytest.fixture
def market_only(instructor):
    room = ClassroomFactory(
        name="Period 1",
        order_types=ORDER_TYPES_MARKET,
        starts_at=timezone.now() - timedelta(days=1),
    )
    room.owners.add(instructor)
    return room


@pytest.fixture
def alice(market_only):
    return StudentFactory(username="alice", email="alice@school.example", classroom=market_only)


def limit_buy(price="180.00", quantity=10):
    return trading.order_request(
        side="buy", type="limit", symbol="AAPL", quantity=quantity, limit_price=price
    )


def money(user):
    balance = Balance.objects.get(user=user)
    return balance.amount, balance.held


# The column and the rulebook --------------------------------------------------------------


def test_a_class_allows_every_order_type_unless_told_otherwise():
    room = ClassroomFactory()

    assert room.order_types == ORDER_TYPES_ALL == "all"
    assert Rulebook.from_classroom(room).order_types == "all"
    assert Rulebook.from_settings().order_types == "all"  # a student in no class
    assert Rulebook.from_settings().check_order_type("trailing_stop") is None


def test_the_rulebook_reads_market_only_from_the_class(alice, django_assert_num_queries):
    with django_assert_num_queries(1):
        rulebook = rulebook_for(alice)

    assert rulebook.order_types == ORDER_TYPES_MARKET == "market"
    assert rulebook.check_order_type("market") is None
    for kind in ("limit", "stop", "stop_limit", "trailing_stop"):
        refusal = rulebook.check_order_type(kind)
        assert (refusal.rule, refusal.message) == ("order_types", REFUSED)


def test_the_database_refuses_an_unknown_value():
    room = ClassroomFactory()

    with pytest.raises(IntegrityError), transaction.atomic():
        Classroom.objects.filter(pk=room.pk).update(order_types="limit")

    room.refresh_from_db()
    assert room.order_types == "all"


def test_the_form_check_names_the_field():
    room = ClassroomFactory.build(name="Period 9", order_types="stop")

    with pytest.raises(ValidationError) as refused:
        room.full_clean()

    assert "order_types" in refused.value.message_dict


# place_order under the rule -----------------------------------------------------------------


def test_a_market_only_class_refuses_a_limit_order_and_changes_nothing(alice, aapl):
    before = money(alice)

    with pytest.raises(trading.RuleRefused) as refused:
        trading.place_order(user=alice, request=limit_buy(), token="t1")

    assert refused.value.rule == "order_types"
    assert refused.value.message == REFUSED
    assert money(alice) == before == (Decimal("10000.00"), Decimal("0.00"))
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    "fields",
    [
        {"type": "stop", "stop_price": "250.00"},
        {"type": "stop_limit", "stop_price": "250.00", "limit_price": "255.00"},
        {"type": "trailing_stop", "trail_percent": "5"},
    ],
    ids=["stop", "stop_limit", "trailing_stop"],
)
def test_a_market_only_class_refuses_every_order_that_waits(alice, aapl, fields):
    request = trading.order_request(side="buy", symbol="AAPL", quantity=1, **fields)

    with pytest.raises(trading.RuleRefused, match="market orders only"):
        trading.place_order(user=alice, request=request)

    assert not Order.objects.exists()


def test_a_market_only_class_still_trades_at_the_market(alice, aapl):
    bought = trading.place_order(
        user=alice,
        request=trading.order_request(side="buy", type="market", symbol="AAPL", quantity=10),
    )
    sold = trading.place_order(
        user=alice,
        request=trading.order_request(side="sell", symbol="AAPL", quantity=4),
    )

    assert (bought.status, bought.type, bought.trade.price) == ("filled", "market", aapl.price)
    assert (sold.status, sold.trade.quantity) == ("filled", 4)
    assert money(alice) == (Decimal("8800.00"), Decimal("0.00"))  # 10 000 − 2 000 + 800


def test_switching_the_class_to_all_allows_orders_that_wait(alice, aapl, instructor):
    with pytest.raises(trading.RuleRefused):
        trading.place_order(user=alice, request=limit_buy())

    update_rules(classroom=alice.classroom, changes={"order_types": "all"}, by=instructor)
    alice.refresh_from_db()
    order = trading.place_order(user=alice, request=limit_buy(), token="t2")

    assert (order.status, order.type, order.held_cash) == ("open", "limit", Decimal("1800.00"))
    assert money(alice) == (Decimal("10000.00"), Decimal("1800.00"))


def test_open_orders_stay_and_fill_when_the_class_switches_to_market_only(alice, aapl, instructor):
    """The rule is about placing orders: the ones already open were placed under the old
    rule, stay open and fill when the market reaches them (the instructor may cancel
    them)."""
    room = alice.classroom
    update_rules(classroom=room, changes={"order_types": "all"}, by=instructor)
    order = trading.place_order(user=alice, request=limit_buy())
    update_rules(classroom=room, changes={"order_types": "market"}, by=instructor)

    Price.objects.filter(symbol="AAPL").update(price=Decimal("179.50"))
    summary = trading.fill_orders()

    order.refresh_from_db()
    assert (summary.filled, summary.rejected) == (1, 0)
    assert order.status == "filled" and order.trade.price == Decimal("179.50")
    assert money(alice) == (Decimal("8205.00"), Decimal("0.00"))
    with pytest.raises(trading.RuleRefused):  # a new one is refused
        trading.place_order(user=alice, request=limit_buy())


def test_a_change_of_the_rule_is_audited_with_before_and_after(market_only, instructor):
    entries = update_rules(classroom=market_only, changes={"order_types": "all"}, by=instructor)

    assert [entry.detail for entry in entries] == [
        "Period 1: Order types students may use: Market orders only → All order types "
        "(market, limit, stop, stop-limit, trailing stop)"
    ]
    assert AuditEntry.objects.get().action == AuditEntry.Action.CLASS_RULES
    market_only.refresh_from_db()
    assert market_only.order_types == "all" and market_only.rules_changed_at is not None


# In plain words ---------------------------------------------------------------------------


def said(rulebook) -> dict[str, str]:
    return {rule.name: rule.text for rule in rules(rulebook)}


def test_the_rules_say_which_order_types_the_class_uses():
    assert said(Rulebook(classroom_id=1))["Order types"] == (
        "All: market, limit, stop, stop-limit and trailing stop orders."
    )
    market = rules(Rulebook(classroom_id=1, order_types="market"))
    (rule,) = [rule for rule in market if rule.name == "Order types"]
    assert rule.text == "Market orders only: you buy and sell at the current price."
    assert rule.term == "market-order"


def test_the_students_rules_page_says_market_orders_only(alice):
    client = Client()
    client.force_login(alice)

    page = client.get(reverse("classes:rules")).content.decode()

    assert "Order types" in page
    assert "Market orders only: you buy and sell at the current price." in page
