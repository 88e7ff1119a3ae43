import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from classrooms.models import Classroom
from ledger import services as ledger
from ledger.models import Balance, Transaction
from portfolio import services as portfolio
from portfolio.models import Holding, PortfolioSummary
from prices.models import MarketState, Price
from prices.services import advance_market
from tests.factories import (
    ClassroomFactory,
    HoldingFactory,
    PriceFactory,
    StudentFactory,
    TradeFactory,
    UserFactory,
)
from trading import services
from trading.models import Trade
from trading.services import (
    DuplicateRequest,
    InsufficientFunds,
    InvalidQuantity,
    NoCashAccount,
    NotEnoughShares,
    PositionTooLarge,
    RuleRefused,
    SymbolHalted,
    TradingError,
    UnknownSymbol,
    buy,
    sell,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def aapl(db):
    return PriceFactory(symbol="AAPL", name="Apple Inc.", price=Decimal("189.12"))


def cash(user) -> Decimal:
    return Balance.objects.get(user=user).amount


def set_price(symbol: str, price: str) -> None:
    Price.objects.filter(symbol=symbol).update(price=Decimal(price))


def state(user):
    """Everything a refused order must leave alone."""
    return (
        cash(user),
        list(Transaction.objects.filter(user=user).values_list("id", flat=True)),
        list(
            Holding.objects.filter(user=user).values_list("stock_id", "quantity", "average_price")
        ),
        Trade.objects.filter(user=user).count(),
    )


# Buying ------------------------------------------------------------------------------


def test_buy_debits_cash_adds_holding_and_records_trade_and_journal(student, aapl):
    trade = buy(user=student, symbol="AAPL", quantity=10, token="t-1")

    assert (trade.operation, trade.stock_id, trade.quantity) == ("buy", "AAPL", 10)
    assert trade.price == Decimal("189.12")
    assert trade.total == Decimal("1891.20")
    assert trade.commission == Decimal("0.00")
    assert trade.realized_pnl is None
    assert trade.token == "t-1"
    assert cash(student) == Decimal("8108.80")
    holding = Holding.objects.get(user=student, stock_id="AAPL")
    assert (holding.quantity, holding.average_price) == (10, Decimal("189.1200"))
    row = Transaction.objects.filter(user=student).first()
    assert (row.type, row.amount, row.symbol, row.description) == (
        "buy",
        Decimal("1891.20"),
        "AAPL",
        "Bought 10 AAPL @ 189.12",
    )
    assert row.balance_after == Decimal("8108.80")
    assert Transaction.objects.filter(user=student, type="fee").count() == 0


def test_buy_accepts_lowercase_symbol_and_stores_it_uppercase(student, aapl):
    trade = buy(user=student, symbol=" aapl ", quantity=1)

    assert trade.stock_id == "AAPL"
    assert Holding.objects.get(user=student).stock_id == "AAPL"


def test_buy_uses_the_price_in_the_database_at_the_time_of_the_order(student, aapl):
    set_price("AAPL", "200.00")

    trade = buy(user=student, symbol="AAPL", quantity=2)

    assert trade.price == Decimal("200.00")
    assert cash(student) == Decimal("9600.00")


def test_buy_of_exactly_all_the_cash_leaves_zero(aapl):
    user = StudentFactory(cash="1891.20")

    buy(user=user, symbol="AAPL", quantity=10)

    assert cash(user) == Decimal("0.00")


def test_buy_without_enough_cash_changes_nothing(aapl):
    user = StudentFactory(cash="1891.19")
    before = state(user)

    with pytest.raises(InsufficientFunds) as excinfo:
        buy(user=user, symbol="AAPL", quantity=10)

    assert "costs $1,891.20" in excinfo.value.message
    assert "you have $1,891.19" in excinfo.value.message
    assert state(user) == before


def test_insufficient_funds_is_also_the_ledgers_error(aapl):
    user = StudentFactory(cash="1.00")

    with pytest.raises(ledger.InsufficientFunds):
        buy(user=user, symbol="AAPL", quantity=1)


@pytest.mark.parametrize("symbol", ["ZZZZ", "", "   ", "AAPL; DROP", "A" * 11, None])
def test_buy_of_unknown_symbol_changes_nothing(student, aapl, symbol):
    before = state(student)

    with pytest.raises(UnknownSymbol):
        buy(user=student, symbol=symbol, quantity=1)

    assert state(student) == before


@pytest.mark.parametrize(
    "quantity",
    [0, -1, 1.5, 10.0, "1.5", "abc", "", None, True, Decimal("2.5"), "NaN", "Infinity"],
)
def test_buy_refuses_quantities_that_are_not_whole_positive_numbers(student, aapl, quantity):
    before = state(student)

    with pytest.raises(InvalidQuantity):
        buy(user=student, symbol="AAPL", quantity=quantity)

    assert state(student) == before


def test_buy_accepts_whole_numbers_given_as_text_or_decimal(student, aapl):
    buy(user=student, symbol="AAPL", quantity="3")
    buy(user=student, symbol="AAPL", quantity=Decimal("2"))

    assert Holding.objects.get(user=student).quantity == 5


def test_buy_refuses_more_than_the_per_order_maximum(aapl):
    PriceFactory(symbol="PENNY", price=Decimal("0.01"))
    user = StudentFactory(cash="100000.00")

    buy(user=user, symbol="PENNY", quantity=services.MAX_QUANTITY)
    with pytest.raises(InvalidQuantity, match="at most 1,000,000"):
        buy(user=user, symbol="PENNY", quantity=services.MAX_QUANTITY + 1)

    assert Holding.objects.get(user=user).quantity == services.MAX_QUANTITY


def test_buy_refuses_an_order_whose_total_is_beyond_any_account(student):
    PriceFactory(symbol="HUGE", price=Decimal("99999999999.99"))

    with pytest.raises(InvalidQuantity, match="too large") as refused:
        buy(user=student, symbol="HUGE", quantity=1000)

    assert "one order moves at most $9,999,999,999,999.99" in refused.value.message


def test_buy_that_would_take_a_holding_past_its_column_changes_nothing():
    """holdings.quantity is a 4-byte integer on PostgreSQL, which refused the UPDATE (a
    500); SQLite stored it. Both refuse it as a domain error now, before any write."""
    penny = PriceFactory(symbol="PENNY", price=Decimal("0.01"))
    user = StudentFactory(cash="100000.00")
    held = portfolio.MAX_SHARES_HELD - 500
    Holding.objects.create(user=user, stock=penny, quantity=held, average_price=Decimal("0.01"))
    before = state(user)

    with pytest.raises(PositionTooLarge) as refused:
        buy(user=user, symbol="PENNY", quantity=501)

    assert refused.value.message == (
        "One holding can have at most 2,147,483,647 shares. "
        "You hold 2,147,483,147 PENNY, so you can buy at most 500 more."
    )
    assert isinstance(refused.value, portfolio.PositionLimit)
    assert state(user) == before
    buy(user=user, symbol="PENNY", quantity=500)
    assert Holding.objects.get(user=user).quantity == portfolio.MAX_SHARES_HELD


def test_buy_of_halted_symbol_changes_nothing(student, aapl):
    Price.objects.filter(symbol="AAPL").update(halted=True)
    before = state(student)

    with pytest.raises(SymbolHalted, match="paused"):
        buy(user=student, symbol="AAPL", quantity=1)

    assert state(student) == before


def test_buy_by_a_user_without_a_cash_account_is_refused(aapl):
    user = UserFactory()

    with pytest.raises(NoCashAccount):
        buy(user=user, symbol="AAPL", quantity=1)

    assert not Trade.objects.filter(user=user).exists()


def test_every_refusal_is_a_trading_error_with_a_message(student, aapl):
    with pytest.raises(TradingError) as excinfo:
        sell(user=student, symbol="AAPL", quantity=1)

    assert excinfo.value.message == str(excinfo.value)
    assert "you cannot sell 1" in excinfo.value.message


# Selling -----------------------------------------------------------------------------


def test_sell_credits_cash_records_realized_pnl_and_keeps_average_price(student, aapl):
    buy(user=student, symbol="AAPL", quantity=10)
    set_price("AAPL", "200.00")

    trade = sell(user=student, symbol="aapl", quantity=4, token="s-1")

    assert (trade.operation, trade.quantity, trade.price) == ("sell", 4, Decimal("200.00"))
    assert trade.total == Decimal("800.00")
    assert trade.realized_pnl == Decimal("43.52")  # 800.00 − 4 × 189.12
    assert cash(student) == Decimal("8908.80")
    holding = Holding.objects.get(user=student)
    assert (holding.quantity, holding.average_price) == (6, Decimal("189.1200"))
    row = Transaction.objects.filter(user=student).first()
    assert (row.type, row.amount, row.symbol, row.description, row.token) == (
        "sell",
        Decimal("800.00"),
        "AAPL",
        "Sold 4 AAPL @ 200.00",
        "s-1",
    )


def test_sell_more_than_held_changes_nothing(student, aapl):
    buy(user=student, symbol="AAPL", quantity=3)
    before = state(student)

    with pytest.raises(NotEnoughShares, match="You hold 3 AAPL shares; you cannot sell 4"):
        sell(user=student, symbol="AAPL", quantity=4)

    assert state(student) == before


def test_sell_without_a_holding_is_refused_and_is_also_the_portfolio_error(student, aapl):
    with pytest.raises(portfolio.NotEnoughShares):
        sell(user=student, symbol="AAPL", quantity=1)

    assert not Trade.objects.exists()


def test_sell_of_halted_symbol_changes_nothing(student, aapl):
    buy(user=student, symbol="AAPL", quantity=3)
    Price.objects.filter(symbol="AAPL").update(halted=True)
    before = state(student)

    with pytest.raises(SymbolHalted):
        sell(user=student, symbol="AAPL", quantity=1)

    assert state(student) == before


@pytest.mark.parametrize("quantity", [0, -3, 2.5, "x"])
def test_sell_refuses_quantities_that_are_not_whole_positive_numbers(student, aapl, quantity):
    buy(user=student, symbol="AAPL", quantity=3)
    before = state(student)

    with pytest.raises(InvalidQuantity):
        sell(user=student, symbol="AAPL", quantity=quantity)

    assert state(student) == before


def test_sell_of_unknown_symbol_is_refused(student):
    with pytest.raises(UnknownSymbol):
        sell(user=student, symbol="NOPE", quantity=1)


def test_selling_everything_deletes_the_holding(student, aapl):
    buy(user=student, symbol="AAPL", quantity=5)

    sell(user=student, symbol="AAPL", quantity=5)

    assert not Holding.objects.filter(user=student).exists()
    assert cash(student) == Decimal("10000.00")


# The worked example ------------------------------------------------------------------


def test_worked_example_average_price_and_realized_pnl(student):
    PriceFactory(symbol="ACME", price=Decimal("100.00"))

    buy(user=student, symbol="ACME", quantity=10)
    set_price("ACME", "110.00")
    buy(user=student, symbol="ACME", quantity=10)
    holding = Holding.objects.get(user=student, stock_id="ACME")
    assert (holding.quantity, holding.average_price) == (20, Decimal("105.0000"))

    set_price("ACME", "120.00")
    first = sell(user=student, symbol="ACME", quantity=5)
    assert first.realized_pnl == Decimal("75.00")  # 5 × (120 − 105)
    holding.refresh_from_db()
    assert (holding.quantity, holding.average_price) == (15, Decimal("105.0000"))

    set_price("ACME", "100.00")
    second = sell(user=student, symbol="ACME", quantity=15)
    assert second.realized_pnl == Decimal("-75.00")  # 15 × (100 − 105)
    assert not Holding.objects.filter(user=student).exists()

    # Cash: 10,000 − 1,000 − 1,100 + 600 + 1,500 = 10,000; realized 75 − 75 = 0.
    assert cash(student) == Decimal("10000.00")
    assert PortfolioSummary.objects.get(user=student).realized_pnl == Decimal("0.00")
    assert [t.operation for t in Trade.objects.filter(user=student)] == [
        "sell",
        "sell",
        "buy",
        "buy",
    ]


def test_realized_pnl_over_a_round_trip_equals_proceeds_minus_cost_despite_rounding(student):
    PriceFactory(symbol="ODD", price=Decimal("10.00"))
    buy(user=student, symbol="ODD", quantity=1)
    set_price("ODD", "10.01")
    buy(user=student, symbol="ODD", quantity=2)
    assert Holding.objects.get(user=student).average_price == Decimal("10.0067")

    set_price("ODD", "10.00")
    a = sell(user=student, symbol="ODD", quantity=1)
    b = sell(user=student, symbol="ODD", quantity=2)

    assert a.realized_pnl + b.realized_pnl == Decimal("30.00") - Decimal("30.02")


# Commission --------------------------------------------------------------------------


def test_buy_with_commission_writes_a_fee_row_and_cash_covers_both(student, aapl, settings):
    settings.COMMISSION_PER_TRADE = Decimal("4.95")

    trade = buy(user=student, symbol="AAPL", quantity=10)

    assert trade.commission == Decimal("4.95")
    assert trade.total == Decimal("1891.20")
    assert cash(student) == Decimal("8103.85")
    fee, main = Transaction.objects.filter(user=student)[:2]
    assert (fee.type, fee.amount, fee.symbol) == ("fee", Decimal("4.95"), "AAPL")
    assert fee.description == "Commission: Bought 10 AAPL @ 189.12"
    assert fee.balance_after == Decimal("8103.85")
    assert (main.type, main.amount) == ("buy", Decimal("1891.20"))


def test_buy_refused_when_cash_covers_the_total_but_not_the_commission(aapl, settings):
    settings.COMMISSION_PER_TRADE = Decimal("1.00")
    user = StudentFactory(cash="1891.20")
    before = state(user)

    with pytest.raises(InsufficientFunds, match=r"\$1,892.20 including \$1.00 commission"):
        buy(user=user, symbol="AAPL", quantity=10)

    assert state(user) == before


def test_sell_takes_the_commission_out_of_the_proceeds(student, aapl, settings):
    buy(user=student, symbol="AAPL", quantity=10)
    settings.COMMISSION_PER_TRADE = Decimal("2.50")

    trade = sell(user=student, symbol="AAPL", quantity=10)

    assert trade.commission == Decimal("2.50")
    assert trade.realized_pnl == Decimal("0.00")  # before commission, against the average
    assert cash(student) == Decimal("9997.50")
    assert list(Transaction.objects.filter(user=student).values_list("type", "amount")[:2]) == [
        ("fee", Decimal("2.50")),
        ("sell", Decimal("1891.20")),
    ]


def test_sell_refused_when_proceeds_do_not_cover_the_commission(student, settings):
    PriceFactory(symbol="PENNY", price=Decimal("0.01"))
    buy(user=student, symbol="PENNY", quantity=100)
    settings.COMMISSION_PER_TRADE = Decimal("1.01")
    before = state(student)

    with pytest.raises(InsufficientFunds, match="does not cover"):
        sell(user=student, symbol="PENNY", quantity=100)

    assert state(student) == before


def test_no_fee_row_when_commission_is_zero(student, aapl, settings):
    settings.COMMISSION_PER_TRADE = Decimal("0")

    buy(user=student, symbol="AAPL", quantity=1)
    sell(user=student, symbol="AAPL", quantity=1)

    assert not Transaction.objects.filter(user=student, type="fee").exists()


# One-time tokens ---------------------------------------------------------------------


def test_same_token_twice_makes_one_trade(student, aapl):
    buy(user=student, symbol="AAPL", quantity=1, token="once")
    after_first = state(student)

    with pytest.raises(DuplicateRequest):
        buy(user=student, symbol="AAPL", quantity=1, token="once")

    assert state(student) == after_first
    assert Trade.objects.filter(user=student).count() == 1


def test_a_sell_with_a_used_token_is_refused(student, aapl):
    buy(user=student, symbol="AAPL", quantity=2, token="once")

    with pytest.raises(DuplicateRequest):
        sell(user=student, symbol="AAPL", quantity=1, token="once")

    assert Holding.objects.get(user=student).quantity == 2


def test_a_token_already_used_for_a_deposit_is_refused(student, aapl):
    ledger.deposit(user=student, amount=Decimal("5.00"), token="shared")

    with pytest.raises(DuplicateRequest):
        buy(user=student, symbol="AAPL", quantity=1, token="shared")

    assert not Trade.objects.exists()


def test_tokens_are_per_user(student, other_student, aapl):
    buy(user=student, symbol="AAPL", quantity=1, token="same")
    buy(user=other_student, symbol="AAPL", quantity=1, token="same")

    assert Trade.objects.count() == 2


def test_trades_without_token_are_not_duplicates(student, aapl):
    buy(user=student, symbol="AAPL", quantity=1)
    buy(user=student, symbol="AAPL", quantity=1, token="")

    assert Trade.objects.filter(user=student, token__isnull=True).count() == 2


# Logging -----------------------------------------------------------------------------


def test_a_line_per_trade_is_logged_after_commit(
    student, aapl, caplog, django_capture_on_commit_callbacks
):
    caplog.set_level(logging.INFO, logger="tradesim.trading")

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        buy(user=student, symbol="AAPL", quantity=10)
    assert not [r for r in caplog.records if r.name == "tradesim.trading"]

    for callback in callbacks:
        callback()
    (record,) = [r for r in caplog.records if r.name == "tradesim.trading"]
    line = record.getMessage()
    for part in ["user=alice", "side=buy", "symbol=AAPL", "quantity=10", "price=189.12"]:
        assert part in line
    assert "total=1891.20" in line


def test_a_line_per_rejection_is_logged(student, aapl, caplog):
    caplog.set_level(logging.INFO, logger="tradesim.trading")

    with pytest.raises(NotEnoughShares):
        sell(user=student, symbol="AAPL", quantity=1)

    (record,) = [r for r in caplog.records if r.name == "tradesim.trading"]
    assert "rejected user=alice side=sell" in record.getMessage()
    assert "NotEnoughShares" in record.getMessage()


def test_no_trade_line_for_a_rolled_back_transaction(
    student, aapl, caplog, django_capture_on_commit_callbacks
):
    from django.db import transaction

    caplog.set_level(logging.INFO, logger="tradesim.trading")

    class Abort(Exception):
        pass

    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(Abort),
        transaction.atomic(),
    ):
        buy(user=student, symbol="AAPL", quantity=1)
        raise Abort

    assert not [r for r in caplog.records if r.name == "tradesim.trading"]
    assert not Trade.objects.exists()


# Statements per order: the busiest path in the project, so its cost is pinned. Inside a
# test's transaction the order's atomic block is a savepoint: two statements more, which
# in production are the BEGIN and COMMIT.
SAVEPOINT = 2


@pytest.mark.parametrize("first", [True, False], ids=["new holding", "existing holding"])
def test_a_buy_runs_seven_statements(student, aapl, first, django_assert_num_queries):
    if not first:
        services.buy(user=student, symbol="AAPL", quantity=1)

    # lock the balance; price, halt and token; journal row; balance; lock the holding;
    # insert or update it; the trade row
    with django_assert_num_queries(7 + SAVEPOINT):
        services.buy(user=student, symbol="AAPL", quantity=2, token="t")


@pytest.mark.parametrize("whole", [True, False], ids=["whole position", "part of it"])
def test_a_sell_runs_eight_statements(student, aapl, whole, django_assert_num_queries):
    services.buy(user=student, symbol="AAPL", quantity=4)
    PortfolioSummary.objects.get_or_create(user=student)

    # lock the balance; price, halt and token; lock the holding; delete or reduce it;
    # realized P/L; journal row; balance; the trade row
    with django_assert_num_queries(8 + SAVEPOINT):
        services.sell(user=student, symbol="AAPL", quantity=4 if whole else 1, token="t")


# The class's rules -------------------------------------------------------------------

START = datetime(2027, 1, 11, 14, 30, tzinfo=UTC)
END = START + timedelta(days=30)


def student_in(cash="10000.00", **rules):
    return StudentFactory(classroom=ClassroomFactory(**rules), cash=cash)


def refused(rule, order, *args, **kwargs) -> RuleRefused:
    with pytest.raises(RuleRefused) as refusal:
        order(*args, **kwargs)
    assert refusal.value.rule == rule
    return refusal.value


@pytest.fixture
def new_day():
    """Begins a new simulated day now, as the tick that rolls the market's day does."""

    def begin(at=None):
        MarketState.objects.update_or_create(
            id=1, defaults={"day_started_at": at or timezone.now()}
        )

    begin(timezone.now() - timedelta(hours=1))
    return begin


@pytest.mark.parametrize(
    ("kind", "amount", "minimum", "fee"),
    [
        ("flat", "4.95", "0.00", "4.95"),
        ("per_share", "0.0150", "0.00", "0.15"),  # 10 shares
        ("percent", "0.5000", "1.00", "9.46"),  # 0.5 % of $1,891.20, rounded half up
        ("percent", "0.0100", "1.00", "1.00"),  # 0.19 is under the minimum
    ],
)
def test_a_class_commission_is_charged_as_its_own_fee_row(aapl, kind, amount, minimum, fee):
    user = student_in(
        commission_kind=kind, commission_amount=Decimal(amount), commission_minimum=minimum
    )

    trade = buy(user=user, symbol="AAPL", quantity=10)

    assert trade.commission == Decimal(fee)
    assert cash(user) == Decimal("10000.00") - Decimal("1891.20") - Decimal(fee)
    fee_row = Transaction.objects.get(user=user, type="fee")
    assert (fee_row.amount, fee_row.description) == (
        Decimal(fee),
        "Commission: Bought 10 AAPL @ 189.12",
    )


def test_a_class_commission_is_taken_from_a_sale(aapl):
    user = student_in(commission_kind="per_share", commission_amount=Decimal("0.0100"))
    buy(user=user, symbol="AAPL", quantity=50)

    trade = sell(user=user, symbol="AAPL", quantity=50)

    assert trade.commission == Decimal("0.50")
    assert cash(user) == Decimal("9999.00")


def test_a_class_without_commission_charges_none_whatever_the_settings(aapl, settings):
    settings.COMMISSION_PER_TRADE = Decimal("4.95")
    user = student_in(commission_kind="none")

    assert buy(user=user, symbol="AAPL", quantity=1).commission == Decimal("0.00")
    assert not Transaction.objects.filter(user=user, type="fee").exists()


def test_cash_must_cover_the_class_commission_too(aapl):
    user = student_in(
        cash="1891.20",
        commission_kind="percent",
        commission_amount=Decimal("0.1"),
        commission_minimum=Decimal("0"),
    )
    before = state(user)

    with pytest.raises(InsufficientFunds, match=r"\$1,893.09 including \$1.89 commission"):
        buy(user=user, symbol="AAPL", quantity=10)

    assert state(user) == before


@pytest.mark.parametrize("order", [buy, sell])
def test_before_the_class_starts_orders_are_refused_and_say_when_trading_opens(
    aapl, clock, settings, order
):
    settings.TIME_ZONE = "UTC"
    user = student_in(starts_at=START, ends_at=END)
    HoldingFactory(user=user, stock=aapl, quantity=5)
    clock(START - timedelta(seconds=1))
    before = state(user)

    refusal = refused("starts_at", order, user=user, symbol="AAPL", quantity=1)

    assert refusal.message == "Trading opens Mon 11 Jan at 14:30."
    assert state(user) == before


@pytest.mark.parametrize(
    "moment",
    [START, END - timedelta(seconds=1)],
    ids=["the first second", "the last second"],
)
def test_orders_go_through_in_the_first_and_last_second_of_the_class(aapl, clock, moment):
    user = student_in(starts_at=START, ends_at=END)
    clock(moment)

    buy(user=user, symbol="AAPL", quantity=2)
    sell(user=user, symbol="AAPL", quantity=1)

    assert Trade.objects.filter(user=user).count() == 2


@pytest.mark.parametrize("order", [buy, sell])
def test_from_the_end_of_the_class_orders_are_refused(aapl, clock, order):
    user = student_in(starts_at=START, ends_at=END)
    HoldingFactory(user=user, stock=aapl, quantity=5)
    clock(END)
    before = state(user)

    refusal = refused("ends_at", order, user=user, symbol="AAPL", quantity=1)

    assert "orders are closed and the standings are final" in refusal.message
    assert state(user) == before


@pytest.mark.parametrize(
    ("price", "allowed"),
    [("0.99", False), ("1.00", True), ("1.01", True)],
)
def test_the_lowest_share_price_allows_a_price_exactly_at_it(price, allowed):
    PriceFactory(symbol="PENNY", price=Decimal(price))
    user = student_in(min_share_price=Decimal("1.00"))
    before = state(user)

    if allowed:
        buy(user=user, symbol="PENNY", quantity=10)
        assert Trade.objects.filter(user=user).count() == 1
        return
    refusal = refused("min_share_price", buy, user=user, symbol="PENNY", quantity=10)
    assert refusal.message == (
        "Your class does not allow buying shares priced below $1.00; PENNY is at $0.99."
    )
    assert state(user) == before


def test_shares_that_fell_below_the_lowest_price_can_still_be_sold():
    PriceFactory(symbol="FALL", price=Decimal("5.00"))
    user = student_in(min_share_price=Decimal("1.00"))
    buy(user=user, symbol="FALL", quantity=10)
    set_price("FALL", "0.50")

    sell(user=user, symbol="FALL", quantity=10)

    assert not Holding.objects.filter(user=user).exists()


def test_exactly_the_most_in_one_stock_is_allowed_and_a_share_more_is_refused():
    PriceFactory(symbol="ACME", price=Decimal("100.00"))
    user = student_in(max_position_percent=Decimal("25"))
    before = state(user)

    refusal = refused("max_position_percent", buy, user=user, symbol="ACME", quantity=26)
    assert refusal.message == (
        "Your class allows at most 25 % of your portfolio in one stock; after this buy ACME "
        "would be 26 %."
    )
    assert state(user) == before

    buy(user=user, symbol="ACME", quantity=25)  # $2,500 of $10,000: exactly 25 %
    assert Holding.objects.get(user=user).quantity == 25


def test_the_most_in_one_stock_values_the_portfolio_at_current_prices():
    PriceFactory(symbol="ACME", price=Decimal("100.00"))
    PriceFactory(symbol="BOLT", price=Decimal("100.00"))
    user = student_in(max_position_percent=Decimal("25"))
    buy(user=user, symbol="BOLT", quantity=20)
    buy(user=user, symbol="ACME", quantity=10)
    set_price("BOLT", "200.00")  # the portfolio is now $7,000 cash + $4,000 + $1,000

    # ACME after 21 more: $3,100 of $12,000 is 25.8 %; after 20, $3,000: exactly 25 %
    # (at the prices paid, $11,000, it would have been 27 %).
    refusal = refused("max_position_percent", buy, user=user, symbol="ACME", quantity=21)
    assert refusal.message.endswith("after this buy ACME would be 26 %.")
    buy(user=user, symbol="ACME", quantity=20)

    # BOLT is over the limit already (a price move, not a buy): no more of it.
    refused("max_position_percent", buy, user=user, symbol="BOLT", quantity=1)
    sell(user=user, symbol="BOLT", quantity=5)


def test_the_most_trades_a_day_counts_buys_and_sells_until_the_next_simulated_day(aapl, new_day):
    user = student_in(max_trades_per_day=3)
    buy(user=user, symbol="AAPL", quantity=2)
    sell(user=user, symbol="AAPL", quantity=1)
    buy(user=user, symbol="AAPL", quantity=1)
    before = state(user)

    refusal = refused("max_trades_per_day", sell, user=user, symbol="AAPL", quantity=1)
    assert refusal.message == (
        "Your class allows at most 3 trades per market day, and you have made 3 today. You "
        "can trade again when the market opens its next day."
    )
    assert state(user) == before

    new_day()
    sell(user=user, symbol="AAPL", quantity=1)
    assert Trade.objects.filter(user=user).count() == 4


def test_a_simulated_day_begins_when_the_market_rolls_its_day(aapl, new_day):
    user = student_in(max_trades_per_day=1)
    buy(user=user, symbol="AAPL", quantity=1)
    refused("max_trades_per_day", buy, user=user, symbol="AAPL", quantity=1)

    advance_market(seed=1, dt=1.0)  # completes the day
    refused("max_trades_per_day", buy, user=user, symbol="AAPL", quantity=1)
    advance_market(seed=2)  # the next day's first tick

    buy(user=user, symbol="AAPL", quantity=1)
    assert Trade.objects.filter(user=user).count() == 2


def test_trades_made_before_joining_the_class_today_count_too(aapl, new_day):
    user = student_in(max_trades_per_day=1)
    TradeFactory(user=user, stock=aapl, timestamp=timezone.now() - timedelta(hours=2))

    buy(user=user, symbol="AAPL", quantity=1)  # yesterday's trade does not count

    refused("max_trades_per_day", buy, user=user, symbol="AAPL", quantity=1)


def test_a_rule_change_applies_to_the_next_order_without_reloading_the_student(aapl):
    user = student_in()
    buy(user=user, symbol="AAPL", quantity=1)
    Classroom.objects.filter(pk=user.classroom_id).update(min_share_price=Decimal("500.00"))

    refused("min_share_price", buy, user=user, symbol="AAPL", quantity=1)


def test_a_student_in_no_class_is_held_to_no_class_rules(student, aapl, settings):
    settings.COMMISSION_PER_TRADE = Decimal("1.00")
    ClassroomFactory(
        commission_kind="none",
        min_share_price=Decimal("500.00"),
        max_position_percent=Decimal("1"),
        max_trades_per_day=1,
        starts_at=timezone.now() - timedelta(days=2),
        ends_at=timezone.now() - timedelta(days=1),
    )

    trades = [buy(user=student, symbol="AAPL", quantity=15) for _ in range(3)]

    assert [t.commission for t in trades] == [Decimal("1.00")] * 3


def test_a_refusal_by_a_rule_is_logged_with_the_rule(aapl, caplog):
    caplog.set_level(logging.INFO, logger="tradesim.trading")
    user = student_in(min_share_price=Decimal("500.00"))

    refused("min_share_price", buy, user=user, symbol="AAPL", quantity=1)

    (record,) = [r for r in caplog.records if r.name == "tradesim.trading"]
    assert "result=rejected reason=RuleRefused rule=min_share_price" in record.getMessage()


def test_a_repeated_order_is_told_it_went_through_even_after_the_class_ended(aapl, clock):
    user = student_in(starts_at=START, ends_at=END)
    clock(END - timedelta(seconds=1))
    buy(user=user, symbol="AAPL", quantity=1, token="last-second")
    clock(END)

    with pytest.raises(DuplicateRequest):
        buy(user=user, symbol="AAPL", quantity=1, token="last-second")


def test_a_reset_brings_a_student_in_a_class_back_to_its_starting_cash(aapl, instructor):
    instructor.user_permissions.add(Permission.objects.get(codename="reset_student"))
    user = student_in(cash=None, starting_cash=Decimal("25000.00"))
    buy(user=user, symbol="AAPL", quantity=10)
    ledger.withdraw(user=user, amount="1000.00")

    result = services.reset_student(student=user, instructor=instructor, reason="Start over")

    assert result.cash_after == cash(user) == Decimal("25000.00")
    assert (result.adjustment.type, result.adjustment.amount) == (
        "reset_credit",
        Decimal("1000.00"),
    )


EVERY_RULE = {
    "starts_at": START - timedelta(days=400),
    "ends_at": END + timedelta(days=400),
    "commission_kind": "percent",
    "commission_amount": Decimal("0.1"),
    "commission_minimum": Decimal("1.00"),
    "max_position_percent": Decimal("50"),
    "max_trades_per_day": 1000,
    "min_share_price": Decimal("1.00"),
}


@pytest.mark.parametrize("size", [1, 30])
def test_in_a_class_with_every_rule_an_order_runs_one_statement_more_at_any_size(
    aapl, size, new_day, django_assert_num_queries
):
    user = student_in(cash="1000000.00", **EVERY_RULE)
    for i in range(size):
        PriceFactory(symbol=f"S{i}", price=Decimal("10.00"))
        buy(user=user, symbol=f"S{i}", quantity=1)
    buy(user=user, symbol="AAPL", quantity=4)
    PortfolioSummary.objects.get_or_create(user=user)

    # the class's rules, then a buy's seven statements (its price statement also counts
    # today's trades and values the holdings) plus the commission's journal row and balance
    with django_assert_num_queries(1 + 7 + 2 + SAVEPOINT):
        services.buy(user=user, symbol="AAPL", quantity=2, token="b")
    with django_assert_num_queries(1 + 8 + 2 + SAVEPOINT):
        services.sell(user=user, symbol="AAPL", quantity=1, token="s")
