"""Bad input on every form that moves money: deposit, withdraw, buy, sell and the
instructor's grant, over HTTP.

The property, for any input at all: the answer is either a redirect (302) with exactly
the effect the input means — to the cent, on every money table — or a 400 with no change
to any table. Inputs mix numbers of every shape (huge, negative, NaN and Infinity,
exponents, too many decimals), digits from other scripts, whitespace, 10,000-character
strings, arbitrary text, and symbols in lower case or not listed at all. A second set of
properties checks that well-formed input is in fact accepted, so the first cannot pass by
refusing everything.

Each example runs in a savepoint that is rolled back, so every one starts from the same
classroom: alice with $10,000.00 less a purchase of 30 AAPL, and a few listed symbols.
"""

import re
from collections import Counter
from contextlib import contextmanager
from decimal import Decimal

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from accounts.roles import ensure_instructor_group
from ledger.models import Balance
from portfolio.models import Holding, PortfolioSummary
from tests.factories import ClassroomFactory, PriceFactory
from tests.security.helpers import MONEY_TABLES, money_state
from tradesim.money import CENT, to_4dp, to_cents
from trading.services import buy

PRICES = {
    "AAPL": Decimal("12.34"),
    "MSFT": Decimal("5.00"),
    "IBM": Decimal("7.77"),
    "BRK.B": Decimal("3.21"),
}
HALTED = "HALT"
MAX_DEPOSIT = Decimal("100000.00")
REASON_MAX_LENGTH = 150
MAX_AMOUNT_INPUT = 32  # characters: longer amounts are refused as "too long"

SWEEP = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
ACCEPTED = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


# Inputs ------------------------------------------------------------------------------

OTHER_DIGITS = ["١٢٣", "１２", "۱۲", "१२", "𝟏𝟎", "¹²", "½", "Ⅻ", "٣.٥٠", "᠑", "߁߂"]
WHITESPACE = st.sampled_from(["", " ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u2003", "\u200b"])
ODD_NUMBERS = [
    "NaN", "nan", "-NaN", "sNaN", "Infinity", "-Infinity", "inf", "+inf", "∞",
    "1e3", "1E+2", "2e-2", "1e400", "1e-400", "0x10", "0b11", "1_000", "1,000", "12,50",
    "1.000,50", "$12", "+12", "-12", "- 12", "$-5", "-$5", "0", "-0", "0.00", "0.001",
    "0.005", ".5", "5.", "12.345", "1 000", "12 .5", "", " ", "$", "+", ".", "..", "1..2",
    "1.2.3", "9" * 15 + ".99", "9999999999999.99", "10000000000000", "99999.999",
    "100000.00", "100000.01", "\x00", "12\x00", "０", "12abc", "abc", "None", "null",
    "true", "[]", "{}", "1/2", "½", "<script>1</script>", "'; DROP TABLE balances; --",
]  # fmt: skip


def _wrapped(inner):
    return st.builds(lambda a, x, b: f"{a}{x}{b}", WHITESPACE, inner, WHITESPACE)


NUMBERISH = st.one_of(
    st.sampled_from(ODD_NUMBERS),
    st.sampled_from(OTHER_DIGITS),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.decimals(min_value=Decimal("-1e6"), max_value=Decimal("1e6"), places=2).map(str),
    st.decimals(min_value=0, max_value=Decimal("1e6"), places=3).map(str),
    st.integers(min_value=-(10**6), max_value=10**6).map(str),
    st.integers(min_value=10**12, max_value=10**400).map(str),
    st.builds(
        lambda m, e, mark: f"{m}{mark}{e}",
        st.integers(-999, 999),
        st.integers(-400, 400),
        st.sampled_from(["e", "E", "e+", "E-"]),
    ),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(alphabet=st.characters(categories=["Nd"]), min_size=1, max_size=6),
    st.text(max_size=40),
    st.sampled_from(["1" * 10_000, "9" * 10_000 + ".99", "x" * 10_000, " " * 10_000]),
)
AMOUNTS = st.one_of(NUMBERISH, _wrapped(NUMBERISH))

QUANTITIES = st.one_of(
    AMOUNTS,
    st.integers(min_value=-5, max_value=40).map(str),
    st.integers(min_value=999_999, max_value=1_000_001).map(str),
    st.sampled_from(["1.0", "2.00", "3.5", "1e1", "1_0", "+3", "٣", "３", "0", "-1"]),
)

SYMBOL_SPELLINGS = st.sampled_from(list(PRICES)).flatmap(
    lambda s: st.sampled_from([s, s.lower(), s.title(), f" {s} ", f"{s.lower()}\n", f"\t{s}"])
)
SYMBOLS = st.one_of(
    SYMBOL_SPELLINGS,
    st.sampled_from(
        [
            HALTED, HALTED.lower(), "ZZZZ", "AAPL1", "AAP", "AAPLX", "", " ", "A" * 10_000,
            "ıbm", "ſ", "ＡＡＰＬ", "AAPL\x00", "AA PL", "BRK/B", "../AAPL", "*", "%", "'",
            "<b>AAPL</b>", "١٢٣",
        ]
    ),
    st.text(max_size=12),
)  # fmt: skip

TOKENS = st.one_of(
    st.none(),
    st.text(alphabet="0123456789abcdef", min_size=32, max_size=32),
    st.text(max_size=80),
)
REASONS = st.one_of(
    st.sampled_from(["Prize", "  Quiz winner  ", "", " ", "\n", "x" * 151, "x" * 10_000]),
    st.text(max_size=200),
)


# What an input means ------------------------------------------------------------------

_NUMBER = re.compile(r"\d+(?:\.\d*)?|\.\d+", re.ASCII)
_WHOLE = re.compile(r"\d+(?:\.0*)?", re.ASCII)


def _unwrap(text: str, *marks: str) -> str:
    # Stripping by hand, not with a regex of several \s*: on 10,000 spaces such a regex
    # backtracks for hours.
    text = text.strip()
    for mark in marks:
        if text.startswith(mark):
            text = text[1:].lstrip()
    return text


def meant_amount(text: str) -> Decimal | None:
    """The amount a person unambiguously means: ASCII digits, at most a leading + and $
    and surrounding spaces. None for anything else."""
    core = _unwrap(text, "+", "$")
    return Decimal(core) if _NUMBER.fullmatch(core) else None


def meant_quantity(text: str) -> int | None:
    core = _unwrap(text, "+")
    return int(Decimal(core)) if _WHOLE.fullmatch(core) else None


def meant_symbol(text: str) -> str | None:
    """The listed symbol `text` names once trimmed and upper-cased — the site's documented
    normalization ("aapl " is AAPL; so is "ıbm" IBM, by Unicode's upper case)."""
    symbol = text.strip().upper()
    return symbol if symbol in PRICES else None


def is_whole_cents(value: Decimal) -> bool:
    return value == value.quantize(CENT)


# Comparing the money tables -----------------------------------------------------------

_HAS_ID = {label for label, fields in MONEY_TABLES if fields[0] == "id"}


def changes(before: dict, after: dict) -> dict:
    """Per table: (rows removed, rows added), ids left out so new rows can be described."""
    diff = {}
    for label in before:

        def rows(state, label=label):
            return Counter(r[1:] if label in _HAS_ID else r for r in state[label])

        old, new = rows(before), rows(after)
        removed, added = sorted((old - new).elements()), sorted((new - old).elements())
        if removed or added:
            diff[label] = (removed, added)
    return diff


@contextmanager
def rolled_back():
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def post(client, url, data) -> tuple[int, dict, dict]:
    """POST in a savepoint that is rolled back; (status, state before, state after)."""
    with rolled_back():
        before = money_state()
        response = client.post(url, {k: v for k, v in data.items() if v is not None})
        after = money_state()
    assert response.status_code in (302, 400), f"{response.status_code} for {data!r}"
    if response.status_code == 400:
        assert after == before, f"a refused {data!r} changed {changes(before, after)}"
    return response.status_code, before, after


# The classroom ------------------------------------------------------------------------


@pytest.fixture
def room(settings, student, instructor):
    settings.COMMISSION_PER_TRADE = Decimal("0.00")
    settings.MAX_DEPOSIT = MAX_DEPOSIT
    settings.MAX_TOTAL_DEPOSITS = None
    settings.DEPOSITS_OPEN = True
    for symbol, price in PRICES.items():
        PriceFactory(symbol=symbol, price=price)
    PriceFactory(symbol=HALTED, price=Decimal("9.99"), halted=True)
    buy(user=student, symbol="AAPL", quantity=30)
    instructor.groups.add(ensure_instructor_group())
    student.classroom = ClassroomFactory(name="Period 1")
    student.save(update_fields=["classroom"])
    student.classroom.owners.add(instructor)
    alice, teacher = Client(), Client()
    alice.force_login(student)
    teacher.force_login(instructor)
    return {"alice": alice, "teacher": teacher, "student": student, "instructor": instructor}


def cash(room) -> Decimal:
    return Balance.objects.get(user=room["student"]).amount


def cash_change(room, old: Decimal, new: Decimal) -> tuple:
    uid = room["student"].pk
    return ([(uid, old)], [(uid, new)])


def expect_cash_movement(room, before, after, *, type_, amount, sign, symbol=""):
    """A deposit, withdrawal or grant of `amount`: one journal row and the balance."""
    old = dict(before["ledger.Balance"])[room["student"].pk]
    new = old + sign * amount
    uid = room["student"].pk
    expected = {
        "ledger.Balance": cash_change(room, old, new),
        "ledger.Transaction": ([], [(uid, type_, amount, new, symbol)]),
    }
    return expected


# Deposit and withdraw ---------------------------------------------------------------


def _movement(room, url, amount_text, description, token, *, type_, sign, limit):
    status, before, after = post(
        room["alice"], url, {"amount": amount_text, "description": description, "token": token}
    )
    meant = meant_amount(amount_text)
    if status == 302:
        assert meant is not None, f"accepted {amount_text!r}, which is not a plain amount"
        assert changes(before, after) == expect_cash_movement(
            room, before, after, type_=type_, amount=meant.quantize(CENT), sign=sign
        )
    ok = (
        meant is not None
        and len(amount_text.strip()) <= MAX_AMOUNT_INPUT
        and 0 < meant <= limit
        and is_whole_cents(meant)
        and len(description) <= 200
        and (token is None or len(token) <= 64)
    )
    return status, ok


@pytest.mark.django_db
@SWEEP
@given(amount=AMOUNTS, description=st.one_of(st.just(""), st.text(max_size=300)), token=TOKENS)
@example(amount="١٢٣", description="", token=None)
@example(amount="1e3", description="", token=None)
@example(amount="NaN", description="", token=None)
@example(amount="-Infinity", description="", token=None)
@example(amount="9" * 10_000, description="", token=None)
@example(amount=" " * 10_000, description="x" * 10_000, token="t" * 10_000)
@example(amount=" $12.50 ", description="", token=None)
def test_any_deposit_is_exact_or_refused_with_nothing_changed(room, amount, description, token):
    _movement(
        room,
        reverse("ledger:deposit"),
        amount,
        description,
        token,
        type_="deposit",
        sign=1,
        limit=MAX_DEPOSIT,
    )


@pytest.mark.django_db
@SWEEP
@given(amount=AMOUNTS, token=TOKENS)
@example(amount="１２", token=None)
@example(amount="12.345", token=None)
@example(amount="99999999999999999999", token=None)
@example(amount="0x10", token=None)
def test_any_withdrawal_is_exact_or_refused_with_nothing_changed(room, amount, token):
    _movement(
        room,
        reverse("ledger:withdraw"),
        amount,
        "",
        token,
        type_="withdrawal",
        sign=-1,
        limit=cash(room),
    )


def plain_spellings(value: Decimal):
    return st.sampled_from([f"{value}", f" {value} ", f"${value}", f"{value}\n", f"+{value}"])


@pytest.mark.django_db
@ACCEPTED
@given(
    amount=st.decimals(min_value=Decimal("0.01"), max_value=MAX_DEPOSIT, places=2).flatmap(
        plain_spellings
    )
)
def test_a_plain_deposit_is_accepted(room, amount):
    status, ok = _movement(
        room,
        reverse("ledger:deposit"),
        amount,
        "",
        None,
        type_="deposit",
        sign=1,
        limit=MAX_DEPOSIT,
    )
    assert ok and status == 302, amount


@pytest.mark.django_db
@ACCEPTED
@given(data=st.data())
def test_a_plain_withdrawal_within_the_balance_is_accepted(room, data):
    balance = cash(room)
    amount = data.draw(
        st.decimals(min_value=Decimal("0.01"), max_value=balance, places=2).flatmap(plain_spellings)
    )
    status, ok = _movement(
        room,
        reverse("ledger:withdraw"),
        amount,
        "",
        None,
        type_="withdrawal",
        sign=-1,
        limit=balance,
    )
    assert ok and status == 302, amount


# Buy and sell ------------------------------------------------------------------------


def expect_trade(room, before, *, side: str, symbol: str, quantity: int) -> dict:
    """The whole effect of an order: the cash and its journal row, the holding, the trade
    row and, for a sale, the realized P/L in the summary."""
    uid = room["student"].pk
    price = PRICES[symbol]
    total = to_cents(price * quantity)
    old_cash = dict(before["ledger.Balance"])[uid]
    new_cash = old_cash - total if side == "buy" else old_cash + total
    expected = {
        "ledger.Balance": cash_change(room, old_cash, new_cash),
        "ledger.Transaction": ([], [(uid, side, total, new_cash, symbol)]),
        "trading.Trade": ([], [(uid, symbol, side, quantity, price, total)]),
    }
    held = {(u, s): (q, avg) for u, s, q, avg in before["portfolio.Holding"]}
    old = held.get((uid, symbol))
    if side == "buy":
        if old is None:
            expected["portfolio.Holding"] = ([], [(uid, symbol, quantity, to_4dp(price))])
        else:
            q, avg = old
            new_avg = to_4dp((avg * q + price * quantity) / (q + quantity))
            expected["portfolio.Holding"] = (
                [(uid, symbol, q, avg)],
                [(uid, symbol, q + quantity, new_avg)],
            )
    else:
        q, avg = old
        remaining = [] if q == quantity else [(uid, symbol, q - quantity, avg)]
        expected["portfolio.Holding"] = ([(uid, symbol, q, avg)], remaining)
        realized = total - to_cents(avg * quantity)
        summaries = dict(before["portfolio.PortfolioSummary"])
        if uid in summaries:
            old_pnl = summaries[uid]
            if realized:
                expected["portfolio.PortfolioSummary"] = (
                    [(uid, old_pnl)],
                    [(uid, old_pnl + realized)],
                )
        else:
            expected["portfolio.PortfolioSummary"] = ([], [(uid, realized)])
    return expected


def _order(room, side, symbol_text, quantity_text, token):
    url = reverse(f"trading:{side}")
    status, before, after = post(
        room["alice"], url, {"symbol": symbol_text, "quantity": quantity_text, "token": token}
    )
    symbol, quantity = meant_symbol(symbol_text), meant_quantity(quantity_text)
    if status == 302:
        assert symbol is not None, f"accepted the symbol {symbol_text!r}"
        assert quantity is not None, f"accepted the quantity {quantity_text!r}"
        assert changes(before, after) == expect_trade(
            room, before, side=side, symbol=symbol, quantity=quantity
        )
    return status, symbol, quantity


@pytest.mark.django_db
@SWEEP
@given(symbol=SYMBOLS, quantity=QUANTITIES, token=TOKENS)
@example(symbol="ıbm", quantity="1", token=None)
@example(symbol="aapl", quantity="١٢٣", token=None)
@example(symbol="AAPL", quantity="1_0", token=None)
@example(symbol="AAPL", quantity="2.00", token=None)
@example(symbol="AAPL", quantity="1e1", token=None)
@example(symbol="halt", quantity="1", token=None)
@example(symbol="ＡＡＰＬ", quantity="1", token=None)
@example(symbol="A" * 10_000, quantity="9" * 10_000, token=None)
def test_any_buy_is_exact_or_refused_with_nothing_changed(room, symbol, quantity, token):
    _order(room, "buy", symbol, quantity, token)


@pytest.mark.django_db
@SWEEP
@given(symbol=SYMBOLS, quantity=QUANTITIES, token=TOKENS)
@example(symbol="aapl", quantity="30", token=None)
@example(symbol="AAPL", quantity="31", token=None)
@example(symbol="AAPL", quantity="３", token=None)
@example(symbol="MSFT", quantity="1", token=None)
def test_any_sell_is_exact_or_refused_with_nothing_changed(room, symbol, quantity, token):
    _order(room, "sell", symbol, quantity, token)


def plain_quantity(n: int):
    return st.sampled_from([str(n), f" {n} ", f"{n}\n"])


@pytest.mark.django_db
@ACCEPTED
@given(symbol=SYMBOL_SPELLINGS, quantity=st.integers(1, 50).flatmap(plain_quantity))
def test_a_plain_affordable_buy_is_accepted(room, symbol, quantity):
    status, meant, _ = _order(room, "buy", symbol, quantity, None)
    assert meant is not None
    assert status == 302, (symbol, quantity)


@pytest.mark.django_db
@ACCEPTED
@given(
    symbol=st.sampled_from(["AAPL", "aapl", " Aapl "]),
    quantity=st.integers(1, 30).flatmap(plain_quantity),
)
def test_a_plain_sale_of_held_shares_is_accepted(room, symbol, quantity):
    status, _, _ = _order(room, "sell", symbol, quantity, None)
    assert status == 302, (symbol, quantity)


# The instructor's grant --------------------------------------------------------------


def _grant(room, amount_text, reason, token):
    url = f"{reverse('admin:accounts_user_grant_cash')}?ids={room['student'].pk}"
    status, before, after = post(
        room["teacher"], url, {"amount": amount_text, "reason": reason, "token": token}
    )
    meant = meant_amount(amount_text)
    if status == 302:
        assert meant is not None, f"granted {amount_text!r}, which is not a plain amount"
        assert reason.strip(), "granted without a reason"
        amount = meant.quantize(CENT)
        expected = expect_cash_movement(room, before, after, type_="grant", amount=amount, sign=1)
        expected["tradesim.AuditEntry"] = (
            [],
            [(room["instructor"].pk, "grant_cash", room["student"].pk, amount)],
        )
        assert changes(before, after) == expected
    return status, meant


@pytest.mark.django_db
@SWEEP
@given(amount=AMOUNTS, reason=REASONS, token=TOKENS)
@example(amount="١٢٣", reason="Prize", token=None)
@example(amount="1e3", reason="Prize", token=None)
@example(amount="50", reason="   ", token=None)
@example(amount="50", reason="x" * 10_000, token=None)
@example(amount="9999999999999.99", reason="Prize", token=None)
def test_any_grant_is_exact_or_refused_with_nothing_changed(room, amount, reason, token):
    _grant(room, amount, reason, token)


@pytest.mark.django_db
@ACCEPTED
@given(
    amount=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1e9"), places=2).flatmap(
        plain_spellings
    ),
    reason=st.text(
        alphabet=st.characters(categories=["L", "N", "P", "Zs"]), min_size=1, max_size=100
    ).filter(str.strip),
)
def test_a_plain_grant_with_a_reason_is_accepted(room, amount, reason):
    status, _ = _grant(room, amount, reason, None)
    assert status == 302, (amount, reason)


# Setup sanity: the classroom every example starts from -----------------------------------


@pytest.mark.django_db
def test_the_classroom_starts_as_described(room):
    assert cash(room) == Decimal("10000.00") - to_cents(PRICES["AAPL"] * 30)
    assert Holding.objects.get(user=room["student"]).quantity == 30
    assert not PortfolioSummary.objects.filter(user=room["student"]).exists()
