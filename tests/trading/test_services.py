import logging
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext

from accounts.roles import ensure_instructor_group
from ledger import services as ledger
from ledger.models import Balance, Transaction
from portfolio import services as portfolio
from portfolio.models import Holding, PortfolioSummary
from prices.models import Price
from tests.factories import PriceFactory, StudentFactory, UserFactory
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

    with pytest.raises(InvalidQuantity) as excinfo:
        buy(user=student, symbol="HUGE", quantity=1000)

    assert refusal(excinfo) == "That order is too large."


def test_buy_refuses_an_order_that_the_commission_takes_beyond_any_account(settings):
    settings.COMMISSION_PER_TRADE = Decimal("10.00")
    PriceFactory(symbol="HUGE", price=Decimal("9999999999.99"))
    user = StudentFactory(cash=str(MAX_MONEY))
    before = state(user)

    with pytest.raises(InvalidQuantity) as excinfo:
        buy(user=user, symbol="HUGE", quantity=1000)  # 9,999,999,999,990.00 + 10.00

    assert refusal(excinfo) == "That order is too large."
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

    credit = ledger.credit

    def refuse(**kwargs):
        if kwargs["type"] == "reset_credit":
            raise ledger.InvalidAmount("The adjustment could not be written.")
        return credit(**kwargs)

    monkeypatch.setattr(services.ledger, "credit", refuse)

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
def test_a_buy_runs_seven_statements(student, aapl, first, django_assert_num_queries):
    if not first:
        services.buy(user=student, symbol="AAPL", quantity=1)

    # lock the balance; price, halt and token; journal row; balance; lock the holding;
    # insert or update it; the trade row
    with django_assert_num_queries(7 + SAVEPOINT):
        services.buy(user=student, symbol="AAPL", quantity=2, token="t")


def test_a_commission_costs_two_statements_more_per_order(
    student, aapl, settings, django_assert_num_queries
):
    services.buy(user=student, symbol="AAPL", quantity=4)
    PortfolioSummary.objects.get_or_create(user=student)
    settings.COMMISSION_PER_TRADE = Decimal("1.00")

    # the fee's journal row and balance, on the balance row the order already locked
    with django_assert_num_queries(7 + 2 + SAVEPOINT):
        services.buy(user=student, symbol="AAPL", quantity=2)
    with django_assert_num_queries(8 + 2 + SAVEPOINT):
        services.sell(user=student, symbol="AAPL", quantity=1)


@pytest.mark.parametrize("whole", [True, False], ids=["whole position", "part of it"])
def test_a_sell_runs_eight_statements(student, aapl, whole, django_assert_num_queries):
    services.buy(user=student, symbol="AAPL", quantity=4)
    PortfolioSummary.objects.get_or_create(user=student)

    # lock the balance; price, halt and token; lock the holding; delete or reduce it;
    # realized P/L; journal row; balance; the trade row
    with django_assert_num_queries(8 + SAVEPOINT):
        services.sell(user=student, symbol="AAPL", quantity=4 if whole else 1, token="t")
