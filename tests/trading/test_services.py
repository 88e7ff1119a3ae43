import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.roles import ensure_instructor_group
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
from tradesim import rows
from tradesim.models import AuditEntry
from tradesim.money import MAX_MONEY
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


@pytest.fixture
def teacher(instructor):
    instructor.groups.add(ensure_instructor_group())
    return instructor


def cash(user) -> Decimal:
    return Balance.objects.get(user=user).amount


def refusal(error) -> str:
    return error.value.message


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

    assert refusal(excinfo) == (
        "Not enough cash: 10 AAPL at $189.12 costs $1,891.20, and you have $1,891.19."
    )
    assert state(user) == before


def test_insufficient_funds_is_also_the_ledgers_error(aapl):
    user = StudentFactory(cash="1.00")

    with pytest.raises(ledger.InsufficientFunds):
        buy(user=user, symbol="AAPL", quantity=1)


@pytest.mark.parametrize(
    ("symbol", "message"),
    [
        ("zzzz", "There is no symbol ZZZZ on this market."),
        ("", "Choose a symbol to trade."),
        ("   ", "Choose a symbol to trade."),
        (None, "Choose a symbol to trade."),
        ("aapl; drop", "There is no symbol 'AAPL; DROP' on this market."),
        ("A" * 11, "There is no symbol 'AAAAAAAAAA' on this market."),
    ],
)
def test_buy_of_unknown_symbol_changes_nothing(student, aapl, symbol, message):
    before = state(student)

    with pytest.raises(UnknownSymbol) as excinfo:
        buy(user=student, symbol=symbol, quantity=1)

    assert refusal(excinfo) == message
    assert state(student) == before


NOT_WHOLE = "Enter a whole number of shares, such as 10."
NOT_POSITIVE = "The number of shares must be at least 1."


@pytest.mark.parametrize(
    ("quantity", "message"),
    [
        (0, NOT_POSITIVE),
        (-1, NOT_POSITIVE),
        ("-2", NOT_POSITIVE),
        (1.5, NOT_WHOLE),
        (10.0, NOT_WHOLE),
        ("1.5", NOT_WHOLE),
        ("abc", NOT_WHOLE),
        ("", NOT_WHOLE),
        (None, NOT_WHOLE),
        (True, NOT_WHOLE),
        (Decimal("2.5"), NOT_WHOLE),
        ("NaN", NOT_WHOLE),
        ("Infinity", NOT_WHOLE),
    ],
)
def test_buy_refuses_quantities_that_are_not_whole_positive_numbers(
    student, aapl, quantity, message
):
    before = state(student)

    with pytest.raises(InvalidQuantity) as excinfo:
        buy(user=student, symbol="AAPL", quantity=quantity)

    assert refusal(excinfo) == message
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


def test_buy_refuses_an_order_that_the_commission_takes_beyond_any_account(settings):
    settings.COMMISSION_PER_TRADE = Decimal("10.00")
    PriceFactory(symbol="HUGE", price=Decimal("9999999999.99"))
    user = StudentFactory(cash=str(MAX_MONEY))
    before = state(user)

    with pytest.raises(InvalidQuantity) as excinfo:
        buy(user=user, symbol="HUGE", quantity=1000)  # 9,999,999,999,990.00 + 10.00

    assert refusal(excinfo) == (
        "That order is too large: 1,000 HUGE at $9,999,999,999.99 comes to "
        "$10,000,000,000,000.00, and one order moves at most $9,999,999,999,999.99."
    )
    assert state(user) == before


def test_buy_of_exactly_the_largest_amount_an_account_holds_goes_through(settings):
    settings.COMMISSION_PER_TRADE = Decimal("9.99")
    PriceFactory(symbol="HUGE", price=Decimal("9999999999.99"))
    user = StudentFactory(cash=str(MAX_MONEY))

    trade = buy(user=user, symbol="HUGE", quantity=1000)

    assert trade.total + trade.commission == MAX_MONEY
    assert cash(user) == Decimal("0.00")


def test_buy_of_halted_symbol_changes_nothing(student, aapl):
    Price.objects.filter(symbol="AAPL").update(halted=True)
    before = state(student)

    with pytest.raises(SymbolHalted, match="paused"):
        buy(user=student, symbol="AAPL", quantity=1)

    assert state(student) == before


def test_buy_by_a_user_without_a_cash_account_is_refused(aapl):
    user = UserFactory()

    with pytest.raises(NoCashAccount) as excinfo:
        buy(user=user, symbol="AAPL", quantity=1)

    assert refusal(excinfo) == "This account has no cash account to trade with."
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
    assert trade.token == Trade.objects.get(operation="sell").token == "s-1"
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


def test_a_sale_that_would_take_cash_beyond_what_an_account_holds_changes_nothing(aapl):
    user = StudentFactory(cash=str(MAX_MONEY - Decimal("100.00")))
    buy(user=user, symbol="AAPL", quantity=10)  # leaves 1,991.20 of room for 2,000.00
    set_price("AAPL", "200.00")
    before = state(user)

    with pytest.raises(InvalidQuantity) as excinfo:
        sell(user=user, symbol="AAPL", quantity=10)

    assert refusal(excinfo) == "That would take the balance beyond what an account can hold."
    assert state(user) == before


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

    with pytest.raises(InsufficientFunds) as excinfo:
        buy(user=user, symbol="AAPL", quantity=10)

    assert refusal(excinfo) == (
        "Not enough cash: 10 AAPL at $189.12 costs $1,892.20 including $1.00 commission, "
        "and you have $1,891.20."
    )
    assert state(user) == before


def test_sell_takes_the_commission_out_of_the_proceeds(student, aapl, settings):
    buy(user=student, symbol="AAPL", quantity=10)
    settings.COMMISSION_PER_TRADE = Decimal("2.50")

    trade = sell(user=student, symbol="AAPL", quantity=10)

    assert trade.commission == Decimal("2.50")
    assert trade.realized_pnl == Decimal("0.00")  # before commission, against the average
    assert cash(student) == Decimal("9997.50")
    assert list(
        Transaction.objects.filter(user=student).values_list("type", "amount", "description")[:2]
    ) == [
        ("fee", Decimal("2.50"), "Commission: Sold 10 AAPL @ 189.12"),
        ("sell", Decimal("1891.20"), "Sold 10 AAPL @ 189.12"),
    ]


def test_sell_refused_when_proceeds_do_not_cover_the_commission(student, settings):
    PriceFactory(symbol="PENNY", price=Decimal("0.01"))
    buy(user=student, symbol="PENNY", quantity=100)
    settings.COMMISSION_PER_TRADE = Decimal("1.01")
    before = state(student)

    with pytest.raises(InsufficientFunds) as excinfo:
        sell(user=student, symbol="PENNY", quantity=100)

    assert refusal(excinfo) == (
        "Selling 100 PENNY brings in $1.00, which does not cover the $1.01 commission."
    )
    assert state(student) == before


def test_sell_whose_proceeds_exactly_cover_the_commission_goes_through(student, settings):
    PriceFactory(symbol="PENNY", price=Decimal("0.01"))
    buy(user=student, symbol="PENNY", quantity=100)
    settings.COMMISSION_PER_TRADE = Decimal("1.00")

    trade = sell(user=student, symbol="PENNY", quantity=100)

    assert (trade.total, trade.commission) == (Decimal("1.00"), Decimal("1.00"))
    assert cash(student) == Decimal("9999.00")
    assert not Holding.objects.filter(user=student).exists()


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


def test_a_repeat_that_only_the_unique_constraint_caught_is_told_so(student, aapl, monkeypatch):
    buy(user=student, symbol="AAPL", quantity=1, token="once")
    after_first = state(student)
    fetch_one = rows.fetch_one

    def journal_read_too_early(sql, params):
        # As if the repeat had read the journal before the first order committed.
        found = fetch_one(sql, params)
        return found[:2] + (False,) if "EXISTS" in sql else found

    monkeypatch.setattr(rows, "fetch_one", journal_read_too_early)

    with pytest.raises(DuplicateRequest) as excinfo:
        buy(user=student, symbol="AAPL", quantity=1, token="once")

    assert refusal(excinfo) == "This order was already placed; nothing was traded twice."
    assert state(student) == after_first


def test_a_repeated_order_is_refused_before_anything_is_written(student, aapl):
    buy(user=student, symbol="AAPL", quantity=1, token="once")

    with CaptureQueriesContext(connection) as queries, pytest.raises(DuplicateRequest):
        sell(user=student, symbol="AAPL", quantity=1, token="once")

    writes = [
        q["sql"]
        for q in queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    ]
    assert writes == []


def test_a_database_error_that_is_not_a_repeated_token_is_not_called_a_repeat(
    student, other_student, aapl, monkeypatch
):
    buy(user=other_student, symbol="AAPL", quantity=1, token="fresh")  # not this student's

    def broken_record(**fields):
        raise IntegrityError("something else")

    monkeypatch.setattr(services, "_record", broken_record)
    before = state(student)

    with pytest.raises(IntegrityError):
        buy(user=student, symbol="AAPL", quantity=1, token="fresh")

    assert state(student) == before


# Instructor reset --------------------------------------------------------------------


def test_a_reset_credits_a_shortfall_under_a_dollar(teacher, student):
    ledger.withdraw(user=student, amount="0.40")

    result = services.reset_student(student=student, instructor=teacher, reason="Start over")

    assert (result.cash_before, result.cash_after) == (Decimal("9999.60"), Decimal("10000.00"))
    adjustment = result.adjustment
    assert (adjustment.type, adjustment.amount, adjustment.description) == (
        "reset_credit",
        Decimal("0.40"),
        "Reset by teacher: Start over",
    )
    assert adjustment.created_by == teacher
    assert cash(student) == Decimal("10000.00")
    assert AuditEntry.objects.get().detail == (
        "Start over (sold 0 positions; cash $9,999.60 → $10,000.00)"
    )


def test_a_reset_sells_the_position_takes_back_the_surplus_and_logs_it(
    teacher, student, aapl, caplog, django_capture_on_commit_callbacks
):
    buy(user=student, symbol="AAPL", quantity=10)
    set_price("AAPL", "200.00")  # the sale brings cash to 10,108.80
    caplog.set_level(logging.INFO, logger="tradesim.trading")

    with django_capture_on_commit_callbacks(execute=True):
        result = services.reset_student(student=student, instructor=teacher, reason="Fresh start")

    assert [(t.operation, t.quantity, t.price) for t in result.trades] == [
        ("sell", 10, Decimal("200.00"))
    ]
    sale = Transaction.objects.get(user=student, type="sell")
    assert (sale.description, sale.created_by) == (
        "Reset by teacher: Sold 10 AAPL @ 200.00",
        teacher,
    )
    adjustment = result.adjustment
    assert (adjustment.type, adjustment.amount, adjustment.description) == (
        "reset_debit",
        Decimal("108.80"),
        "Reset by teacher: Fresh start",
    )
    assert adjustment.created_by == teacher
    assert (result.cash_before, result.cash_after) == (Decimal("10108.80"), Decimal("10000.00"))
    assert cash(student) == Decimal("10000.00")
    entry = AuditEntry.objects.get()
    assert (entry.amount, entry.detail) == (
        Decimal("-108.80"),
        "Fresh start (sold 1 position; cash $10,108.80 → $10,000.00)",
    )
    (record,) = [r for r in caplog.records if r.name == "tradesim.trading"]
    assert record.event == "trade.reset"
    assert record.fields == {
        "user": "alice",
        "by": "teacher",
        "positions": 1,
        "cash_before": "10108.80",
        "adjustment": "-108.80",
        "result": "ok",
    }


def test_a_reset_of_a_student_already_at_the_start_needs_no_adjustment(teacher, student):
    result = services.reset_student(student=student, instructor=teacher, reason="Check")

    assert (result.trades, result.adjustment) == ([], None)
    assert AuditEntry.objects.get().amount == Decimal("0.00")


def test_a_reset_whose_adjustment_is_refused_is_undone_with_the_reason(
    teacher, student, aapl, monkeypatch
):
    buy(user=student, symbol="AAPL", quantity=10)  # the sale at 189.12 leaves it at 10,000
    ledger.withdraw(user=student, amount="5.00")
    before = state(student)

    post = ledger.Account.post

    def refuse(self, **kwargs):
        if kwargs["type"] == "reset_credit":
            raise ledger.InvalidAmount("The adjustment could not be written.")
        return post(self, **kwargs)

    monkeypatch.setattr(ledger.Account, "post", refuse)

    with pytest.raises(services.ResetRefused) as excinfo:
        services.reset_student(student=student, instructor=teacher, reason="Fresh start")

    assert refusal(excinfo) == "The adjustment could not be written."
    assert state(student) == before
    assert not AuditEntry.objects.exists()


def test_a_reset_form_counts_once_per_student(teacher, student, other_student):
    services.reset_student(student=student, instructor=teacher, reason="x", token="form-1")
    services.reset_student(student=other_student, instructor=teacher, reason="x", token="form-1")
    services.reset_student(student=student, instructor=teacher, reason="x", token="form-2")

    with pytest.raises(DuplicateRequest) as excinfo:
        services.reset_student(student=student, instructor=teacher, reason="x", token="form-1")

    assert refusal(excinfo) == "alice was already reset by this form; not reset twice."
    assert AuditEntry.objects.count() == 3


def test_a_reset_is_refused_without_the_permission_a_reason_or_a_cash_account(
    teacher, student, other_student
):
    with pytest.raises(services.ResetRefused) as excinfo:
        services.reset_student(student=student, instructor=other_student, reason="x")
    assert refusal(excinfo) == "Only an instructor with the reset permission can reset a student."

    for reason in (None, "  "):
        with pytest.raises(services.ResetRefused) as excinfo:
            services.reset_student(student=student, instructor=teacher, reason=reason)
        assert refusal(excinfo) == (
            "Give a reason for the reset; the student sees it in their journal."
        )

    with pytest.raises(NoCashAccount) as excinfo:
        services.reset_student(student=teacher, instructor=teacher, reason="x")
    assert refusal(excinfo) == (
        "teacher has no cash account (instructors do not trade), so there is nothing to reset."
    )
    assert not AuditEntry.objects.exists()


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
    assert record.event == "trade.buy"
    assert record.fields == {
        "user": "alice",
        "side": "buy",
        "symbol": "AAPL",
        "quantity": 10,
        "price": "189.12",
        "total": "1891.20",
        "commission": "0.00",
        "trade": Trade.objects.get().pk,
        "result": "ok",
    }


def test_a_sale_is_logged_with_its_realized_pnl_and_commission(
    student, aapl, caplog, settings, django_capture_on_commit_callbacks
):
    buy(user=student, symbol="AAPL", quantity=10)
    set_price("AAPL", "200.00")
    settings.COMMISSION_PER_TRADE = Decimal("1.50")
    caplog.set_level(logging.INFO, logger="tradesim")

    with django_capture_on_commit_callbacks(execute=True):
        trade = sell(user=student, symbol="AAPL", quantity=4)

    (record,) = [r for r in caplog.records if r.name == "tradesim.trading"]
    assert record.event == "trade.sell"
    assert record.fields == {
        "user": "alice",
        "side": "sell",
        "symbol": "AAPL",
        "quantity": 4,
        "price": "200.00",
        "total": "800.00",
        "commission": "1.50",
        "realized_pnl": "43.52",
        "trade": trade.pk,
        "result": "ok",
    }
    sale, fee = [r.fields for r in caplog.records if r.name == "tradesim.ledger"]
    assert (sale["action"], sale["balance"]) == ("sell", "8908.80")
    assert (fee["action"], fee["balance"]) == ("fee", "8907.30")


def test_a_line_per_rejection_is_logged(student, aapl, caplog):
    caplog.set_level(logging.INFO, logger="tradesim.trading")

    with pytest.raises(NotEnoughShares) as excinfo:
        sell(user=student, symbol="aapl", quantity="1")

    (record,) = [r for r in caplog.records if r.name == "tradesim.trading"]
    assert record.event == "trade.rejected"
    assert record.fields == {
        "user": "alice",
        "side": "sell",
        "symbol": "AAPL",
        "quantity": 1,
        "result": "rejected",
        "reason": "NotEnoughShares",
        "message": refusal(excinfo),
    }


def test_a_repeated_order_is_logged_as_a_duplicate(student, aapl, caplog):
    buy(user=student, symbol="AAPL", quantity=1, token="once")
    caplog.set_level(logging.INFO, logger="tradesim.trading")

    with pytest.raises(DuplicateRequest):
        buy(user=student, symbol="AAPL", quantity=1, token="once")

    (record,) = [r for r in caplog.records if r.name == "tradesim.trading"]
    assert (record.event, record.fields["result"], record.fields["reason"]) == (
        "trade.rejected",
        "duplicate",
        "DuplicateRequest",
    )


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
def test_a_buy_runs_nine_statements(student, aapl, first, django_assert_num_queries):
    if not first:
        services.buy(user=student, symbol="AAPL", quantity=1)

    # lock the balance; the token; price and halt; journal row; balance; lock the holding;
    # insert or update it; the trade row; the order row
    with django_assert_num_queries(9 + SAVEPOINT):
        services.buy(user=student, symbol="AAPL", quantity=2, token="t")


def test_a_commission_costs_two_statements_more_per_order(
    student, aapl, settings, django_assert_num_queries
):
    services.buy(user=student, symbol="AAPL", quantity=4)
    PortfolioSummary.objects.get_or_create(user=student)
    settings.COMMISSION_PER_TRADE = Decimal("1.00")

    # the fee's journal row and balance, on the balance row the order already locked
    # (no token: no token lookup)
    with django_assert_num_queries(8 + 2 + SAVEPOINT):
        services.buy(user=student, symbol="AAPL", quantity=2)
    with django_assert_num_queries(9 + 2 + SAVEPOINT):
        services.sell(user=student, symbol="AAPL", quantity=1)


@pytest.mark.parametrize("whole", [True, False], ids=["whole position", "part of it"])
def test_a_sell_runs_ten_statements(student, aapl, whole, django_assert_num_queries):
    services.buy(user=student, symbol="AAPL", quantity=4)
    PortfolioSummary.objects.get_or_create(user=student)

    # lock the balance; the token; price and halt; lock the holding; delete or reduce it;
    # realized P/L; journal row; balance; the trade row; the order row
    with django_assert_num_queries(10 + SAVEPOINT):
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

    # the class's rules, then a buy's nine statements (its price statement also counts
    # today's trades and values the holdings) plus the commission's journal row and balance
    with django_assert_num_queries(1 + 9 + 2 + SAVEPOINT):
        services.buy(user=user, symbol="AAPL", quantity=2, token="b")
    with django_assert_num_queries(1 + 10 + 2 + SAVEPOINT):
        services.sell(user=user, symbol="AAPL", quantity=1, token="s")
