"""Dividends and earnings at the tick that opens a day: the ex-dividend drop, the cash for
every holder and short (set-based, once per symbol and day), the earnings jump and its
headline, and halted stocks left alone."""

import io
import math
import random
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from ledger.models import Balance, Transaction
from prices import actions
from prices.models import Headline, Price
from prices.services import advance_market, set_halted
from prices.simulation import DIFFUSION_ONLY
from tests.factories import ClassroomFactory, HoldingFactory, PriceFactory, StudentFactory
from trading import dividends
from trading.services import buy, sell_short

pytestmark = pytest.mark.django_db

D = Decimal


def cash(user) -> Decimal:
    return Balance.objects.get(user=user).amount


def still_stock(symbol="ACME", price="100.00", **fields) -> Price:
    """A stock that moves only by its shocks (no drift, volatility or beta)."""
    return PriceFactory(
        symbol=symbol, price=D(price), drift=0.0, volatility=0.0, beta=0.0, **fields
    )


def close_day_one():
    """The market's first tick, a whole day: the next tick opens day 2 (quarter day 2)."""
    advance_market(seed=1, dt=1.0, model=DIFFUSION_ONLY)


def open_day_two(seed=2):
    return advance_market(seed=seed, dt=0.01, model=DIFFUSION_ONLY)


def check_ledger() -> str:
    out = io.StringIO()
    call_command("check_ledger", stdout=out)
    return out.getvalue()


@pytest.fixture
def acme():
    # 4 % a year on $100: $1.00 a share each quarter, ex-dividend on day 2 of the quarter.
    return still_stock(dividend_yield=0.04, dividend_day=2)


@pytest.fixture
def holders(acme):
    shorts = ClassroomFactory(name="Shorts", short_selling=True)
    alice = StudentFactory(username="alice", cash="5000.00")
    bob = StudentFactory(username="bob", cash="5000.00")
    carol = StudentFactory(username="carol", cash="5000.00", classroom=shorts)
    buy(user=alice, symbol="ACME", quantity=10)
    buy(user=bob, symbol="ACME", quantity=5)
    sell_short(user=carol, symbol="ACME", quantity=4)
    return alice, bob, carol


def test_the_worked_example_pays_holders_charges_the_short_and_drops_the_price(acme, holders):
    alice, bob, carol = holders
    close_day_one()
    before = {u.username: cash(u) for u in holders}

    result = open_day_two()

    acme.refresh_from_db()
    assert result.new_day and result.trading_day == 2
    assert acme.previous_close == D("100.00")
    assert acme.price == D("99.00")  # dropped by exactly the dividend
    assert cash(alice) == before["alice"] + D("10.00")
    assert cash(bob) == before["bob"] + D("5.00")
    assert cash(carol) == before["carol"] - D("4.00")
    rows = {
        r.user.username: r
        for r in Transaction.objects.filter(type__in=["dividend", "dividend_charge"])
    }
    assert {name: (r.type, r.amount, r.balance_after) for name, r in rows.items()} == {
        "alice": ("dividend", D("10.00"), before["alice"] + D("10.00")),
        "bob": ("dividend", D("5.00"), before["bob"] + D("5.00")),
        "carol": ("dividend_charge", D("4.00"), before["carol"] - D("4.00")),
    }
    assert rows["alice"].description == "Dividend ACME $1.00 × 10"
    assert rows["carol"].description == "Dividend owed on short ACME $1.00 × 4"
    assert {r.token for r in rows.values()} == {"dividend:ACME:2"}
    assert {r.symbol for r in rows.values()} == {"ACME"}
    headline = Headline.objects.get(kind="dividend")
    assert headline.text == "ACME goes ex-dividend: $1.00 a share (4\u00a0% a year)"
    assert (headline.day, headline.stock_id, headline.percent) == (2, "ACME", D("-1.00"))
    assert "1 dividend" in result.summary()
    assert "dividends: 2 paid, 1 charged" in result.summary()
    assert "Ledger OK" in check_ledger()


def test_only_the_ex_date_pays(acme, holders):
    close_day_one()
    open_day_two()
    assert Transaction.objects.filter(type="dividend").count() == 2

    advance_market(seed=4, dt=0.99, model=DIFFUSION_ONLY)
    result = advance_market(seed=5, dt=0.01, model=DIFFUSION_ONLY)

    assert result.new_day and result.trading_day == 3
    assert Transaction.objects.filter(type="dividend").count() == 2
    assert Price.objects.get(symbol="ACME").price == D("99.00")


def test_paying_the_same_day_again_changes_nothing(acme, holders):
    close_day_one()
    open_day_two()
    balances = dict(Balance.objects.values_list("user_id", "amount"))
    rows = Transaction.objects.count()

    with transaction.atomic():
        said = dividends.pay_dividends(dividends=[("ACME", D("1.00"))], day=2, at=None)

    assert said == ""
    assert Transaction.objects.count() == rows
    assert dict(Balance.objects.values_list("user_id", "amount")) == balances
    assert "Ledger OK" in check_ledger()


def test_a_token_of_a_dividend_is_reserved_for_the_market(acme):
    from ledger import services as ledger

    student = StudentFactory()
    with pytest.raises(ledger.LedgerError):
        ledger.deposit(user=student, amount="10", token="dividend:ACME:2")


def test_a_halted_stock_neither_goes_ex_dividend_nor_reports(acme, holders):
    Price.objects.filter(symbol="ACME").update(earnings_day=2)
    close_day_one()
    set_halted(symbols=["ACME"], halted=True)
    before = dict(Balance.objects.values_list("user_id", "amount"))

    result = open_day_two()

    acme.refresh_from_db()
    assert acme.price == D("100.00")
    assert dict(Balance.objects.values_list("user_id", "amount")) == before
    assert not Transaction.objects.filter(type__in=["dividend", "dividend_charge"]).exists()
    assert not Headline.objects.exists()
    assert result.headlines == 0


def test_a_short_with_no_free_cash_borrows_its_dividend_charge(acme):
    shorts = ClassroomFactory(name="Shorts", short_selling=True)
    carol = StudentFactory(username="carol", cash="1000.00", classroom=shorts)
    sell_short(user=carol, symbol="ACME", quantity=10)  # cash 2000.00
    Balance.objects.filter(user=carol).update(held=D("2000.00"))  # all of it held
    close_day_one()

    open_day_two()

    balance = Balance.objects.get(user=carol)
    assert balance.amount == D("1990.00")
    assert balance.loan_limit == D("10.00")  # the charge borrowed, as interest does


# Set-based: the statements do not grow with the holders ----------------------------------


def _ex_date_queries(holders: int) -> int:
    still_stock(dividend_yield=0.04, dividend_day=2)
    for i in range(holders):
        HoldingFactory(user=StudentFactory(username=f"h{holders}-{i}"), stock_id="ACME")
    close_day_one()
    with CaptureQueriesContext(connection) as queries:
        open_day_two()
    assert Transaction.objects.filter(type="dividend").count() == holders
    return len(queries)


@pytest.mark.parametrize("holders", [3, 30])
def test_an_ex_date_tick_runs_the_same_statements_for_3_or_30_holders(
    holders, django_assert_num_queries
):
    # The tick's ten (the running scenario's read among them), two for the new day, two for
    # the splits (those due, the stocks above the split price), one for the day's actions,
    # the headline's INSERT, and the
    # dividend's five: lock the balances, holdings, tokens used, UPDATE balances, INSERT
    # journal; on PostgreSQL one more first, the accounts' lock.
    accounts_lock = 1 if connection.vendor == "postgresql" else 0
    assert _ex_date_queries(holders) == 10 + 2 + 2 + 1 + 1 + accounts_lock + 5


# Earnings ---------------------------------------------------------------------------------


def test_an_earnings_report_jumps_by_a_seeded_surprise_with_its_headline(db):
    still_stock(symbol="ACME", earnings_day=2, earnings_volatility=0.1)
    close_day_one()

    result = open_day_two(seed=7)

    rng = random.Random(7)
    jump = rng.gauss(0.0, 0.1)
    wording = rng.randrange(3)
    acme = Price.objects.get(symbol="ACME")
    assert acme.price == D(round(100 * math.exp(jump), 2)).quantize(D("0.01"))
    headline = Headline.objects.get(kind="earnings")
    percent = math.expm1(jump) * 100
    assert headline.percent == D(str(percent)).quantize(D("0.01"))
    assert headline.text.startswith(
        ("ACME beats", "ACME Corp tops", "ACME earnings beat")
        if percent >= 1
        else ("ACME misses", "ACME Corp falls", "ACME earnings disappoint")
        if percent <= -1
        else ("ACME reports in line", "ACME Corp earnings match", "ACME results in line")
    )
    assert wording in (0, 1, 2)
    assert "1 earnings report" in result.summary()


def test_earnings_headlines_by_size_and_wording():
    beat = actions._earnings_headline("ACME", "Acme Inc.", math.log(1.07), 0)
    miss = actions._earnings_headline("ACME", "Acme Inc.", math.log(0.88), 1)
    flat = actions._earnings_headline("ACME", "Acme Inc.", math.log(1.004), 2)
    assert beat.text == "ACME beats estimates; shares up 7\u00a0%"
    assert miss.text == "Acme Inc. falls short of forecasts; ACME slides 12\u00a0%"
    assert flat.text == "ACME results in line with expectations; stock up 0.4\u00a0%"
    assert (beat.kind, beat.percent) == ("earnings", D("7.00"))


def test_an_index_fund_pays_its_dividend_but_never_reports(db):
    still_stock(symbol="TSIM", is_index=True, dividend_yield=0.02, dividend_day=2, earnings_day=2)
    close_day_one()

    open_day_two()

    assert list(Headline.objects.values_list("kind", flat=True)) == ["dividend"]
    assert Price.objects.get(symbol="TSIM").price == D("99.50")


def test_no_draw_is_taken_on_a_day_without_reports(db):
    """A seeded market with no report that day follows the path it followed before."""
    still_stock(symbol="ACME", dividend_yield=0.04, dividend_day=2)
    rows = [(1, "ACME", "Technology", 100.0, math.log(100), 0.0, 0.0, 0.0, False, False)]
    rng = random.Random(3)
    actions.for_day(rows, day=2, rng=rng)
    assert rng.random() == random.Random(3).random()


def test_quarter_days_wrap_every_63_trading_days():
    assert [actions.quarter_day(n) for n in (1, 2, 63, 64, 127)] == [1, 2, 63, 1, 1]
    assert actions.dividend_per_share(D("84.00"), 0.027) == D("0.57")
