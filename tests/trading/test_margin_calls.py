"""Margin calls: at each tick an account whose equity is below its class's
maintenance requirement gets a call; it is met when the equity is back, and past its due
day (at once with 0 days) positions are sold at the market, largest first, until the
requirement is met."""

import html
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.roles import ensure_instructor_group
from ledger import services as ledger
from ledger.models import Balance, Transaction
from portfolio.models import Holding
from prices.models import MarketState, Price
from tests.factories import ClassroomFactory, InstructorFactory, PriceFactory, StudentFactory
from trading import services
from trading.models import MarginCall, Order, Trade
from trading.selectors import margin_call_notice
from trading.services import buy, check_margin_calls, order_request, place_order, sell

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def margin_class():
    # 30 % maintenance, 0 days: the defaults.
    return ClassroomFactory(name="Leverage", margin=True, starting_cash=D("10000.00"))


@pytest.fixture
def mia(margin_class):
    return StudentFactory(username="mia", classroom=margin_class)


@pytest.fixture
def acme():
    return PriceFactory(symbol="ACME", price=D("100.00"))


def set_price(symbol: str, price: str) -> None:
    Price.objects.filter(symbol=symbol).update(price=D(price))


def set_day(number: int) -> None:
    """The simulated trading day prices.selectors.market_day() reports."""
    MarketState.objects.filter(id=1).update(trading_day=number - 1, day_started_at=timezone.now())


def cash(user) -> Decimal:
    return Balance.objects.get(user=user).amount


def shares(user, symbol="ACME") -> int:
    holding = Holding.objects.filter(user=user, stock_id=symbol).first()
    return holding.quantity if holding else 0


def margin_buy_that_falls(student, *, to="70.00") -> None:
    """The worked example: $10,000 of cash buys $20,000 of ACME at $100 (200 shares, a
    $10,000 loan); then ACME falls."""
    buy(user=student, symbol="ACME", quantity=200)
    assert cash(student) == D("-10000.00")
    set_price("ACME", to)


def calls(user):
    return list(MarginCall.objects.filter(user=user).order_by("id"))


# The worked example ------------------------------------------------------------------


def test_a_margin_buy_that_falls_to_the_call_is_sold_at_once_with_zero_days(mia, acme):
    margin_buy_that_falls(mia)  # equity $14,000 − $10,000 = $4,000 < 30 % × $14,000 = $4,200

    summary = check_margin_calls()

    assert (summary.opened, summary.liquidated) == (1, 1)
    [call] = calls(mia)
    assert call.status == MarginCall.Status.LIQUIDATED
    assert (call.equity, call.requirement) == (D("4000.00"), D("4200.00"))
    assert call.opened_day == call.due_day == 1
    assert call.liquidated_at is not None and call.met_at is None
    # One position: all 200 sold at $70, which repays the loan and leaves the equity.
    assert shares(mia) == 0
    assert cash(mia) == D("4000.00")
    trade = Trade.objects.get(user=mia, operation="sell")
    assert (trade.quantity, trade.price, trade.total, trade.commission) == (
        200,
        D("70.00"),
        D("14000.00"),
        D("0.00"),
    )
    assert trade.realized_pnl == D("-6000.00")
    row = Transaction.objects.get(user=mia, type="sell")
    assert row.description == "Margin call: Sold 200 ACME @ 70.00"
    assert row.amount == D("14000.00") and row.balance_after == D("4000.00")
    assert "Sold 200 ACME @ 70.00" in call.detail
    # The loan is repaid, and no longer allowed.
    assert Balance.objects.get(user=mia).loan_limit == D("0.00")


def test_an_account_at_the_requirement_exactly_gets_no_call(mia, acme):
    # $10,000 loan on 200 shares: equity = 30 % of the value when 200p − 10,000 = 60p,
    # p = 10,000 / 140 = $71.43 (rounded up: $71.4285… is not a price).
    margin_buy_that_falls(mia, to="71.43")  # value $14,286, equity $4,286 ≥ $4,285.80

    assert not check_margin_calls()
    assert calls(mia) == []
    set_price("ACME", "71.42")  # value $14,284, equity $4,284 < $4,285.20
    assert check_margin_calls().opened == 1


def test_with_days_to_meet_it_the_call_waits_and_a_price_recovery_meets_it(margin_class, acme):
    margin_class.margin_call_days = 2
    margin_class.save()
    student = StudentFactory(classroom=margin_class)
    set_day(5)
    margin_buy_that_falls(student)

    check_margin_calls()
    [call] = calls(student)
    assert call.status == MarginCall.Status.OPEN
    assert (call.opened_day, call.due_day) == (5, 7)
    assert shares(student) == 200  # nothing sold: it is not due

    set_day(7)  # the last day to meet it: still only waiting
    summary = check_margin_calls()
    assert (summary.opened, summary.met, summary.liquidated) == (0, 0, 0)
    assert calls(student)[0].status == MarginCall.Status.OPEN

    set_price("ACME", "75.00")  # value $15,000, equity $5,000 ≥ $4,500
    assert check_margin_calls().met == 1
    [call] = calls(student)
    assert call.status == MarginCall.Status.MET and call.met_at is not None
    assert shares(student) == 200 and not Trade.objects.filter(operation="sell").exists()


def test_a_call_not_met_by_its_due_day_sells_the_day_after(margin_class, acme):
    margin_class.margin_call_days = 2
    margin_class.save()
    student = StudentFactory(classroom=margin_class)
    set_day(5)
    margin_buy_that_falls(student)
    check_margin_calls()

    set_day(8)
    summary = check_margin_calls()

    assert summary.liquidated == 1
    assert calls(student)[0].status == MarginCall.Status.LIQUIDATED
    assert shares(student) == 0


def test_a_deposit_meets_the_call(margin_class, acme):
    margin_class.margin_call_days = 1
    margin_class.save()
    student = StudentFactory(classroom=margin_class)
    margin_buy_that_falls(student)
    check_margin_calls()
    assert calls(student)[0].is_open

    ledger.deposit(user=student, amount="200.00")  # equity $4,200: exactly the requirement

    assert check_margin_calls().met == 1
    assert calls(student)[0].status == MarginCall.Status.MET
    assert shares(student) == 200


def test_the_students_own_sale_meets_the_call(margin_class, acme):
    margin_class.margin_call_days = 1
    margin_class.save()
    student = StudentFactory(classroom=margin_class)
    margin_buy_that_falls(student)
    check_margin_calls()

    sell(user=student, symbol="ACME", quantity=100)  # equity $4,000 ≥ 30 % of $7,000

    assert check_margin_calls().met == 1
    assert calls(student)[0].status == MarginCall.Status.MET
    assert shares(student) == 100


def test_a_call_met_under_the_lock_sells_nothing(margin_class, acme):
    # The student's own deposit lands after the tick found the call due and before the
    # forced sale took the lock: the sale re-checks, closes the call as met, sells nothing.
    margin_class.margin_call_days = 1
    margin_class.save()
    student = StudentFactory(classroom=margin_class)
    margin_buy_that_falls(student)
    check_margin_calls()
    call = calls(student)[0]
    ledger.deposit(user=student, amount="500.00")

    outcome = services._liquidate(user=student, call_id=call.pk, now=timezone.now())

    assert outcome == MarginCall.Status.MET
    call.refresh_from_db()
    assert call.status == MarginCall.Status.MET
    assert shares(student) == 200


def test_a_new_call_opens_after_one_was_met(margin_class, acme):
    margin_class.margin_call_days = 3
    margin_class.save()
    student = StudentFactory(classroom=margin_class)
    margin_buy_that_falls(student)
    check_margin_calls()
    set_price("ACME", "80.00")
    check_margin_calls()
    set_price("ACME", "60.00")

    assert check_margin_calls().opened == 1
    assert [c.status for c in calls(student)] == ["met", "open"]
    check_margin_calls()  # still under: the one open call stays the one
    assert MarginCall.objects.filter(user=student, status="open").count() == 1


def test_liquidation_sells_the_largest_position_first_until_the_requirement_is_met(mia, acme):
    PriceFactory(symbol="BOLT", price=D("50.00"))
    buy(user=mia, symbol="ACME", quantity=120)  # $12,000
    buy(user=mia, symbol="BOLT", quantity=160)  # $8,000: cash −$10,000
    # ACME $6,600, BOLT $7,360: value $13,960, equity $3,960 < 30 % of it, $4,188.
    set_price("ACME", "55.00")
    set_price("BOLT", "46.00")

    check_margin_calls()

    # BOLT ($7,360) goes first; then the requirement is 30 % × $6,600 = $1,980 ≤ $3,960.
    sold = list(
        Transaction.objects.filter(user=mia, type="sell")
        .order_by("id")
        .values_list("description", flat=True)
    )
    assert sold == ["Margin call: Sold 160 BOLT @ 46.00"]
    assert shares(mia, "BOLT") == 0 and shares(mia, "ACME") == 120
    assert cash(mia) == D("-2640.00")
    assert calls(mia)[0].status == MarginCall.Status.LIQUIDATED


def test_a_price_gap_sells_everything_and_leaves_the_equity_negative(mia, acme):
    PriceFactory(symbol="BOLT", price=D("50.00"))
    buy(user=mia, symbol="ACME", quantity=100)  # $10,000
    buy(user=mia, symbol="BOLT", quantity=200)  # $10,000: cash −$10,000
    set_price("ACME", "20.00")  # $2,000
    set_price("BOLT", "30.00")  # $6,000: equity −$2,000

    check_margin_calls()

    sold = list(
        Transaction.objects.filter(user=mia, type="sell")
        .order_by("id")
        .values_list("description", flat=True)
    )
    assert sold == ["Margin call: Sold 200 BOLT @ 30.00", "Margin call: Sold 100 ACME @ 20.00"]
    assert cash(mia) == D("-2000.00")  # not clamped: the account lost more than it had
    assert Balance.objects.get(user=mia).loan_limit == D("2000.00")
    [call] = calls(mia)
    assert call.status == MarginCall.Status.LIQUIDATED and call.equity == D("-2000.00")
    # No positions left: no new call on the next tick (nothing a call could sell).
    assert not check_margin_calls()


def test_liquidation_cancels_open_orders_first_releasing_their_holds(mia, acme):
    margin_buy_that_falls(mia)
    sell_order = order_request(
        side="sell", type="limit", symbol="ACME", quantity=50, limit_price="150.00"
    )
    place_order(user=mia, request=sell_order)
    assert Holding.objects.get(user=mia).held_quantity == 50

    check_margin_calls()

    order = Order.objects.get(user=mia, type="limit")
    assert order.status == Order.Status.CANCELLED and order.held_shares == 0
    assert order.reason == "Cancelled by a margin call"
    assert shares(mia) == 0
    assert Balance.objects.get(user=mia).held == D("0.00")
    assert "cancelled 1 open order" in calls(mia)[0].detail


def test_a_halted_position_waits_and_the_call_stays_open(mia, acme):
    margin_buy_that_falls(mia)
    Price.objects.filter(symbol="ACME").update(halted=True)

    check_margin_calls()

    [call] = calls(mia)
    assert call.status == MarginCall.Status.OPEN and "halted" in call.detail
    assert shares(mia) == 200
    Price.objects.filter(symbol="ACME").update(halted=False)
    assert check_margin_calls().liquidated == 1
    assert shares(mia) == 0


def test_cash_only_classes_and_cash_accounts_get_no_calls(acme):
    cash_class = ClassroomFactory(name="Cash only")
    saver = StudentFactory(classroom=cash_class)
    buy(user=saver, symbol="ACME", quantity=100)
    set_price("ACME", "1.00")

    assert not check_margin_calls()
    assert not MarginCall.objects.exists()


def test_a_class_that_has_ended_is_left_as_it_ended(mia, margin_class, acme):
    margin_buy_that_falls(mia)
    ended = timezone.now() - timedelta(minutes=1)
    type(margin_class).objects.filter(pk=margin_class.pk).update(starts_at=None, ends_at=ended)

    assert not check_margin_calls()

    assert calls(mia) == [] and shares(mia) == 200


def test_the_tick_hook_runs_the_margin_calls_after_the_fills(mia, acme):
    margin_buy_that_falls(mia)

    summary = services.fill_orders()

    assert "margin calls: 1 opened, 0 met, 1 liquidated" in str(summary)
    assert shares(mia) == 0


def test_finding_the_calls_costs_a_fixed_number_of_queries(
    margin_class, acme, django_assert_num_queries
):
    margin_class.margin_call_days = 5
    margin_class.save()
    students = [StudentFactory(classroom=margin_class) for _ in range(3)]
    for student in students:
        buy(user=student, symbol="ACME", quantity=200)
    set_price("ACME", "70.00")

    # The day, the accounts under the requirement, the open calls, the new calls' INSERT.
    with django_assert_num_queries(4):
        assert check_margin_calls().opened == 3
    set_price("ACME", "90.00")
    # The day, the accounts under it (none), the open calls, one UPDATE for the met.
    with django_assert_num_queries(4):
        assert check_margin_calls().met == 3


# The database keeps the calls right ---------------------------------------------------


def test_the_database_refuses_a_second_open_call(mia):
    fields = {"user": mia, "opened_day": 1, "due_day": 1, "equity": D("1"), "requirement": D("2")}
    MarginCall.objects.create(**fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        MarginCall.objects.create(**fields)
    MarginCall.objects.create(**fields, status="met", met_at=timezone.now())


@pytest.mark.parametrize(
    "fields",
    [
        {"due_day": 0, "opened_day": 1},  # due before it opened
        {"equity": D("5")},  # not below the requirement: no call
        {"status": "met"},  # met without a time
        {"status": "open", "liquidated_at": timezone.now()},
        {"status": "closed"},
    ],
)
def test_the_database_refuses_a_call_that_makes_no_sense(mia, fields):
    row = {"user": mia, "opened_day": 1, "due_day": 1, "equity": D("1"), "requirement": D("2")}
    with pytest.raises(IntegrityError), transaction.atomic():
        MarginCall.objects.create(**{**row, **fields})


# Shown on every page --------------------------------------------------------------------


def test_the_banner_shows_an_open_call_on_the_dashboard(margin_class, acme, client):
    margin_class.margin_call_days = 2
    margin_class.save()
    student = StudentFactory(classroom=margin_class)
    set_day(3)
    margin_buy_that_falls(student)
    check_margin_calls()
    client.force_login(student)

    page = client.get(reverse("portfolio:dashboard")).content.decode()

    assert 'id="margin-call"' in page
    assert (
        "your equity is $4,000.00, below the $4,200.00 your class requires (30 % of your "
        "positions). Deposit cash or sell by the close of day 5 (today is day 3), or "
        "positions will be sold for you, largest first."
    ) in page
    # Every page: the trades page too, with the equity now.
    set_price("ACME", "69.00")
    other = client.get(reverse("trading:history")).content.decode()
    assert "your equity is $3,800.00, below the $4,140.00" in other


def test_the_banner_says_the_positions_were_sold_with_zero_days(mia, acme, client):
    margin_buy_that_falls(mia)
    check_margin_calls()
    client.force_login(mia)

    page = client.get(reverse("portfolio:dashboard")).content.decode()

    assert (
        "your equity was $4,000.00, below the $4,200.00 your class requires (30 % of your "
        "positions), so positions were sold for you at the market, largest first."
    ) in page
    # Shown for the rest of the simulated day, gone the next.
    set_day(2)
    assert 'id="margin-call"' not in client.get(reverse("portfolio:dashboard")).content.decode()


def test_the_banner_is_gone_once_met_and_never_shown_to_others(margin_class, acme, client):
    margin_class.margin_call_days = 2
    margin_class.save()
    student = StudentFactory(classroom=margin_class)
    other = StudentFactory(classroom=margin_class)
    margin_buy_that_falls(student)
    check_margin_calls()

    client.force_login(other)
    assert 'id="margin-call"' not in client.get(reverse("portfolio:dashboard")).content.decode()
    client.logout()
    assert 'id="margin-call"' not in client.get(reverse("prices:market")).content.decode()

    client.force_login(student)
    assert 'id="margin-call"' in client.get(reverse("portfolio:dashboard")).content.decode()
    ledger.deposit(user=student, amount="1000.00")
    # Until the next tick closes it, the banner says the equity is back.
    page = html.unescape(client.get(reverse("portfolio:dashboard")).content.decode())
    assert (
        "your equity of $5,000.00 is back at the $4,200.00 your class requires (30 % of your "
        "positions): the call closes at the market's next tick."
    ) in page
    check_margin_calls()
    assert 'id="margin-call"' not in client.get(reverse("portfolio:dashboard")).content.decode()


def test_the_notice_costs_one_query_and_none_for_anonymous_visitors(
    mia, acme, client, django_assert_num_queries
):
    margin_buy_that_falls(mia)
    check_margin_calls()
    with django_assert_num_queries(1):
        notice = margin_call_notice(mia.pk)
    assert notice.liquidated
    assert notice.message.startswith("Margin call: your equity was $4,000.00")

    from trading.context_processors import margin_call

    class Anonymous:
        is_authenticated = False

    assert margin_call(type("Request", (), {"user": Anonymous()})()) == {}


# Instructors ------------------------------------------------------------------------------


def test_an_instructor_sees_only_their_own_classes_calls(margin_class, acme, client):
    teacher = InstructorFactory(username="ms_lee")
    teacher.groups.add(ensure_instructor_group())
    margin_class.owners.add(teacher)
    theirs = StudentFactory(username="in_class", classroom=margin_class)
    elsewhere = ClassroomFactory(name="Elsewhere", margin=True, starting_cash=D("10000.00"))
    stranger = StudentFactory(username="stranger", classroom=elsewhere)
    for student in (theirs, stranger):
        buy(user=student, symbol="ACME", quantity=200)
    set_price("ACME", "70.00")
    check_margin_calls()
    client.force_login(teacher)

    response = client.get(reverse("admin:trading_margincall_changelist"))

    assert response.status_code == 200
    listed = [call.user.username for call in response.context["cl"].result_list]
    assert listed == ["in_class"]
    theirs_call = MarginCall.objects.get(user=theirs)
    stranger_call = MarginCall.objects.get(user=stranger)
    view = client.get(reverse("admin:trading_margincall_change", args=[theirs_call.pk]))
    assert view.status_code == 200 and "Sold 200 ACME @ 70.00" in view.content.decode()
    hidden = client.get(reverse("admin:trading_margincall_change", args=[stranger_call.pk]))
    assert hidden.status_code in (302, 404)
    # Read-only.
    assert (
        client.post(
            reverse("admin:trading_margincall_change", args=[theirs_call.pk]), {"status": "met"}
        ).status_code
        == 403
    )
    assert client.get(reverse("admin:trading_margincall_add")).status_code == 403
