import csv
import html
import io
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from ledger.models import Balance, Transaction
from portfolio.models import Holding
from prices.models import MarketState, Price
from tests.factories import ClassroomFactory, PriceFactory, StudentFactory, TradeFactory
from trading.models import Trade
from trading.services import buy

pytestmark = pytest.mark.django_db

BUY = reverse("trading:buy")
SELL = reverse("trading:sell")
HISTORY = reverse("trading:history")


@pytest.fixture
def aapl(db):
    return PriceFactory(symbol="AAPL", name="Apple Inc.", price=Decimal("189.12"))


def cash(user) -> Decimal:
    return Balance.objects.get(user=user).amount


def flashes(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def nothing_changed(user, before_cash=Decimal("10000.00")):
    return (
        cash(user) == before_cash
        and not Trade.objects.filter(user=user).exists()
        and not Holding.objects.filter(user=user).exists()
    )


# Who may use the pages ---------------------------------------------------------------


@pytest.mark.parametrize("url", [BUY, SELL, HISTORY])
def test_pages_send_anonymous_visitors_to_log_in(anon_client, url):
    response = anon_client.get(url)

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_anonymous_post_places_no_order(anon_client, aapl):
    response = anon_client.post(BUY, {"symbol": "AAPL", "quantity": "1"})

    assert response.status_code == 302
    assert not Trade.objects.exists()


def test_order_pages_refuse_other_methods(student_client):
    assert student_client.put(BUY).status_code == 405
    assert student_client.post(HISTORY).status_code == 405


# The buy page ------------------------------------------------------------------------


def test_buy_page_shows_cash_symbols_with_prices_and_the_helpers(student_client, aapl):
    PriceFactory(symbol="HALT", price=Decimal("5.00"), halted=True)

    response = student_client.get(BUY)

    assert response.status_code == 200
    html = response.content.decode()
    assert "$10,000.00" in html
    assert 'data-price="189.12"' in html
    assert "AAPL — Apple Inc. ($189.12)" in html
    assert 'data-fill="max"' in html and "Max affordable" in html
    assert 'data-cash="10000.00"' in html
    assert "js/order-ticket.js" in html
    # A halted symbol is listed but cannot be chosen.
    assert re.search(r'<option value="HALT"[^>]* disabled>', html)
    assert "trading paused" in html


def test_buy_page_preselects_the_symbol_from_the_query_string(student_client, aapl):
    PriceFactory(symbol="MSFT", price=Decimal("400.00"))

    response = student_client.get(BUY + "?symbol=aapl")

    html = response.content.decode()
    assert '<option value="AAPL" selected' in html
    assert "data-price-display>$189.12<" in html


def test_buy_page_on_an_empty_market_says_so(student_client):
    response = student_client.get(BUY)

    assert response.status_code == 200
    assert "No symbols are listed" in response.content.decode()


def test_buy_redirects_with_a_flash_and_trades(student_client, student, aapl):
    response = student_client.post(BUY, {"symbol": "aapl", "quantity": "10", "token": "t1"})

    assert response.status_code == 302
    assert response.url == HISTORY
    assert flashes(response) == ["Bought 10 AAPL at $189.12 for $1,891.20."]
    trade = Trade.objects.get(user=student)
    assert (trade.operation, trade.quantity, trade.token) == ("buy", 10, "t1")
    assert cash(student) == Decimal("8108.80")


def test_buy_flash_mentions_the_commission(student_client, aapl, settings):
    settings.COMMISSION_PER_TRADE = Decimal("4.95")

    response = student_client.post(BUY, {"symbol": "AAPL", "quantity": "10"})

    assert flashes(response) == ["Bought 10 AAPL at $189.12 for $1,891.20, plus $4.95 commission."]


def test_buy_page_shows_the_commission(student_client, aapl, settings):
    settings.COMMISSION_PER_TRADE = Decimal("4.95")

    html = student_client.get(BUY + "?symbol=AAPL").content.decode()

    assert 'data-commission-kind="flat" data-commission-amount="4.95"' in html
    assert "Commission <span" in html and "($4.95 a trade)" in html


def test_order_returns_to_a_local_next_page(student_client, aapl):
    response = student_client.post(
        BUY, {"symbol": "AAPL", "quantity": "1", "next": "/prices/AAPL/"}
    )

    assert response.url == "/prices/AAPL/"


def test_order_ignores_a_next_page_on_another_site(student_client, aapl):
    response = student_client.post(
        BUY, {"symbol": "AAPL", "quantity": "1", "next": "https://evil.example/"}
    )

    assert response.url == HISTORY


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"symbol": "AAPL", "quantity": "0"}, "at least 1"),
        ({"symbol": "AAPL", "quantity": "-5"}, "at least 1"),
        ({"symbol": "AAPL", "quantity": "1.5"}, "whole number"),
        ({"symbol": "AAPL", "quantity": "ten"}, "whole number"),
        ({"symbol": "AAPL", "quantity": "1e3"}, "whole number"),
        ({"symbol": "AAPL", "quantity": ""}, "how many shares"),
        ({"symbol": "AAPL", "quantity": "1000001"}, "at most 1,000,000"),
        ({"symbol": "", "quantity": "1"}, "Choose a symbol"),
        ({"symbol": "NOPE", "quantity": "1"}, "no symbol NOPE"),
        ({"symbol": "<b>x</b>", "quantity": "1"}, "no symbol"),
        ({"symbol": "AAPL", "quantity": "53"}, "Not enough cash"),
    ],
)
def test_rejected_buy_is_400_with_a_message_and_changes_nothing(
    student_client, student, aapl, data, message
):
    response = student_client.post(BUY, {**data, "token": "tok"})

    assert response.status_code == 400
    assert message in response.content.decode()
    assert nothing_changed(student)


def test_buy_of_a_halted_symbol_is_400(student_client, student, aapl):
    Price.objects.filter(symbol="AAPL").update(halted=True)

    response = student_client.post(BUY, {"symbol": "AAPL", "quantity": "1"})

    assert response.status_code == 400
    assert "Trading in AAPL is paused" in response.content.decode()
    assert nothing_changed(student)


def test_a_rejected_form_keeps_its_token_so_the_corrected_order_goes_through(
    student_client, student, aapl
):
    rejected = student_client.post(BUY, {"symbol": "AAPL", "quantity": "500", "token": "tk"})
    assert rejected.status_code == 400
    assert 'name="token" value="tk"' in rejected.content.decode()

    accepted = student_client.post(BUY, {"symbol": "AAPL", "quantity": "5", "token": "tk"})

    assert accepted.status_code == 302
    assert Trade.objects.filter(user=student).count() == 1


def test_a_double_submit_makes_one_trade_and_says_so(student_client, student, aapl):
    data = {"symbol": "AAPL", "quantity": "10", "token": "same-token"}
    first = student_client.post(BUY, data)

    second = student_client.post(BUY, data)

    assert first.status_code == second.status_code == 302
    assert flashes(second)[-1] == "This order was already placed; nothing was traded twice."
    assert Trade.objects.filter(user=student).count() == 1
    assert cash(student) == Decimal("8108.80")


def test_an_account_without_cash_cannot_trade(instructor_client, aapl):
    page = instructor_client.get(BUY)
    response = instructor_client.post(BUY, {"symbol": "AAPL", "quantity": "1"})

    assert "no cash account" in page.content.decode()
    assert response.status_code == 400
    assert not Trade.objects.exists()


# The sell page -----------------------------------------------------------------------


def test_sell_page_without_holdings_shows_an_empty_state(student_client, aapl):
    response = student_client.get(SELL)

    assert response.status_code == 200
    assert "You don't hold any shares yet" in response.content.decode()


def test_sell_page_lists_only_the_users_holdings_with_sell_all(
    student_client, student, other_student, aapl
):
    PriceFactory(symbol="MSFT", price=Decimal("400.00"))
    buy(user=student, symbol="AAPL", quantity=7)
    buy(user=other_student, symbol="MSFT", quantity=3)

    html = student_client.get(SELL + "?symbol=AAPL").content.decode()

    assert '<option value="AAPL" selected data-price="189.12" data-held="7">' in html
    assert 'value="MSFT"' not in html
    assert 'data-fill="all"' in html and "Sell all" in html
    assert "data-held-display>7<" in html


def test_sell_redirects_with_a_flash_including_realized_pnl(student_client, student, aapl):
    buy(user=student, symbol="AAPL", quantity=10)
    Price.objects.filter(symbol="AAPL").update(price=Decimal("200.00"))

    response = student_client.post(SELL, {"symbol": "AAPL", "quantity": "4"})

    assert response.status_code == 302
    assert flashes(response) == ["Sold 4 AAPL at $200.00 for $800.00 (realized +$43.52)."]
    assert Holding.objects.get(user=student).quantity == 6


def test_selling_more_than_held_is_400_and_changes_nothing(student_client, student, aapl):
    buy(user=student, symbol="AAPL", quantity=3)
    before = cash(student)

    response = student_client.post(SELL, {"symbol": "AAPL", "quantity": "4"})

    assert response.status_code == 400
    assert "You hold 3 AAPL shares; you cannot sell 4." in response.content.decode()
    assert Holding.objects.get(user=student).quantity == 3
    assert cash(student) == before


def test_a_student_cannot_sell_another_students_shares(other_client, student, aapl):
    buy(user=student, symbol="AAPL", quantity=5)

    response = other_client.post(SELL, {"symbol": "AAPL", "quantity": "5"})

    assert response.status_code == 400
    assert Holding.objects.get(user=student).quantity == 5


# History -----------------------------------------------------------------------------


def at(day: int, hour: int = 12):
    return datetime(2026, 3, day, hour, tzinfo=UTC)


@pytest.fixture
def trades(student, aapl):
    msft = PriceFactory(symbol="MSFT", price=Decimal("400.00"))
    return [
        TradeFactory(
            user=student, stock=aapl, quantity=10, price=Decimal("100.00"), timestamp=at(1)
        ),
        TradeFactory(
            user=student, stock=msft, quantity=2, price=Decimal("400.00"), timestamp=at(2)
        ),
        TradeFactory(
            user=student,
            stock=aapl,
            operation="sell",
            quantity=4,
            price=Decimal("120.00"),
            realized_pnl=Decimal("80.00"),
            commission=Decimal("1.00"),
            timestamp=at(3),
        ),
        TradeFactory(
            user=student,
            stock=msft,
            operation="sell",
            quantity=1,
            price=Decimal("390.00"),
            realized_pnl=Decimal("-10.00"),
            timestamp=at(4),
        ),
    ]


def rows_of(response) -> list[Trade]:
    return response.context["trades"]


@pytest.mark.parametrize(
    ("url", "data", "message"),
    [
        (BUY, {"symbol": "AAPL", "quantity": ["1", "50"]}, "sent twice; send it once"),
        (BUY, {"symbol": ["AAPL", "MSFT"], "quantity": "1"}, "sent twice; send it once"),
        (SELL, {"symbol": "AAPL", "quantity": ["1", "1"]}, "sent twice; send it once"),
        (
            BUY,
            {"symbol": "AAPL", "quantity": "1", "next": ["/ledger/", "/portfolio/"]},
            "Part of this form was changed or has expired",  # a hidden field
        ),
    ],
)
def test_an_order_with_a_field_sent_twice_is_refused_and_changes_nothing(
    student_client, student, aapl, url, data, message
):
    PriceFactory(symbol="MSFT")
    buy(user=student, symbol="AAPL", quantity=2)
    before = (cash(student), Trade.objects.count(), list(Holding.objects.values_list("quantity")))

    response = student_client.post(url, data)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert (
        cash(student),
        Trade.objects.count(),
        list(Holding.objects.values_list("quantity")),
    ) == before


def test_a_buy_past_the_most_one_holding_can_have_is_a_400_on_the_quantity(student_client, student):
    penny = PriceFactory(symbol="PENNY", price=Decimal("0.01"))
    Holding.objects.create(
        user=student, stock=penny, quantity=2_147_483_000, average_price=Decimal("0.01")
    )

    response = student_client.post(BUY, {"symbol": "PENNY", "quantity": "1000"})

    assert response.status_code == 400
    assert response.context["form"].errors["quantity"] == [
        "One holding can have at most 2,147,483,647 shares. "
        "You hold 2,147,483,000 PENNY, so you can buy at most 647 more."
    ]
    assert cash(student) == Decimal("10000.00")
    assert not Trade.objects.filter(user=student).exists()
    assert Holding.objects.get(user=student).quantity == 2_147_483_000


def test_history_lists_the_users_trades_newest_first_with_realized_total(student_client, trades):
    response = student_client.get(HISTORY)

    assert response.status_code == 200
    assert [t.pk for t in rows_of(response)] == [t.pk for t in reversed(trades)]
    html = response.content.decode()
    assert "▲ +$70.00" in html  # 80 − 10, over every row
    assert "▼ −$10.00" in html
    assert response.context["totals"].realized_pnl == Decimal("70.00")
    assert response.context["totals"].commission == Decimal("1.00")


def test_history_shows_an_empty_state(student_client):
    response = student_client.get(HISTORY)

    assert "You haven't traded yet" in response.content.decode()


def test_history_never_shows_another_users_trades(other_client, trades):
    response = other_client.get(HISTORY)
    export = other_client.get(HISTORY + "?format=csv")

    assert rows_of(response) == []
    assert "AAPL" not in response.content.decode().split("<table", 1)[-1]
    assert len(list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode())))) == 1


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("symbol=aapl", [2, 0]),
        ("operation=sell", [3, 2]),
        ("symbol=MSFT&operation=buy", [1]),
        ("start=2026-03-02&end=2026-03-03", [2, 1]),
        ("start=2026-03-04", [3]),
        ("end=2026-03-01", [0]),
        ("symbol=ZZZ", []),
    ],
)
def test_history_filters(student_client, trades, query, expected):
    response = student_client.get(f"{HISTORY}?{query}")

    assert response.status_code == 200
    assert [t.pk for t in rows_of(response)] == [trades[i].pk for i in expected]


def test_history_realized_total_follows_the_filters(student_client, trades):
    response = student_client.get(HISTORY + "?symbol=MSFT")

    assert response.context["totals"].realized_pnl == Decimal("-10.00")
    assert "No trades match" not in response.content.decode()


def test_history_filter_with_no_match_says_so(student_client, trades):
    response = student_client.get(HISTORY + "?symbol=ZZZ")

    assert "No trades match these filters" in response.content.decode()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("operation=hold", "Side must be buy, sell, short or cover."),
        ("start=yesterday", "Enter the start date as YYYY-MM-DD."),
        ("end=2026-13-45", "Enter the end date as YYYY-MM-DD."),
        ("start=2026-03-04&end=2026-03-01", "The start date is after the end date."),
        ("end=9999-12-31", "Pick a date between 1900 and 2999."),
        ("start=0001-01-01", "Pick a date between 1900 and 2999."),
        ("end=10000-01-01", "Enter the end date as YYYY-MM-DD."),
        ("symbol=%3Cscript%3E", "no symbol"),
        ("format=xml", "The format can be csv"),
    ],
)
def test_invalid_history_filters_are_400_with_a_message(student_client, trades, query, message):
    response = student_client.get(f"{HISTORY}?{query}")

    assert response.status_code == 400
    assert message in response.content.decode()


def test_history_paginates_by_25_keeping_the_filters(student_client, student, aapl):
    base = at(1)
    for i in range(30):
        TradeFactory(user=student, stock=aapl, timestamp=base + timedelta(minutes=i))

    first = student_client.get(HISTORY + "?operation=buy")
    second = student_client.get(HISTORY + "?operation=buy&page=2")

    assert len(rows_of(first)) == 25
    assert len(rows_of(second)) == 5
    assert "?operation=buy&amp;page=2" in first.content.decode()
    assert "Page 2 of 2" in second.content.decode()
    # Out-of-range and nonsense pages show a real page rather than an error.
    assert len(rows_of(student_client.get(HISTORY + "?page=99"))) == 5
    assert len(rows_of(student_client.get(HISTORY + "?page=x"))) == 25


def test_history_csv_has_every_filtered_row(student, student_client, trades):
    response = student_client.get(HISTORY + "?format=csv&symbol=AAPL")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    today = timezone.localdate().isoformat()
    assert response["Content-Disposition"] == (
        f'attachment; filename="tradesim-trades-{student.username}-{today}.csv"'
    )
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == [
        "Date and time (UTC)",
        "Symbol",
        "Side",
        "Quantity",
        "Price",
        "Amount",
        "Commission",
        "Realized P/L",
    ]
    assert rows[1][1:] == ["AAPL", "Sell", "4", "120.00", "480.00", "1.00", "80.00"]
    assert rows[2][1:] == ["AAPL", "Buy", "10", "100.00", "1000.00", "0.00", ""]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", row[0]) for row in rows[1:])
    assert len(rows) == 3


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
def test_a_csv_with_a_far_date_is_refused_before_the_download_starts(student_client, trades, day):
    response = student_client.get(HISTORY, {"format": "csv", "start": "2026-01-01", "end": day})

    assert response.status_code == 400
    assert not response.streaming
    assert "Pick a date between 1900 and 2999." in response.content.decode()


def test_history_links_to_the_csv_with_the_same_filters(student_client, trades):
    html = student_client.get(HISTORY + "?symbol=AAPL&page=1").content.decode()

    assert "?symbol=AAPL&amp;format=csv" in html


# The class's rules -------------------------------------------------------------------

START = datetime(2027, 1, 11, 14, 30, tzinfo=UTC)
END = START + timedelta(days=30)


@pytest.fixture
def in_class(student):
    """Puts the student in a class with the given rules."""

    def put(**rules):
        student.classroom = ClassroomFactory(**rules)
        student.save(update_fields=["classroom"])
        return student.classroom

    return put


def page_text(response) -> str:
    return html.unescape(response.content.decode())


@pytest.mark.parametrize(
    ("rules", "quantity", "message"),
    [
        (
            {"min_share_price": Decimal("200.00")},
            "1",
            "Your class does not allow buying shares priced below $200.00; AAPL is at $189.12.",
        ),
        (
            {"max_position_percent": Decimal("10")},
            "6",
            "Your class allows at most 10 % of your portfolio in one stock; after this buy "
            "AAPL would be 11 %.",
        ),
        (
            {"starts_at": timezone.now() + timedelta(days=1)},
            "1",
            "Trading opens ",
        ),
        (
            {
                "starts_at": timezone.now() - timedelta(days=30),
                "ends_at": timezone.now() - timedelta(minutes=1),
            },
            "1",
            "orders are closed and the standings are final.",
        ),
    ],
    ids=["lowest price", "most in one stock", "before the start", "after the end"],
)
def test_a_buy_refused_by_a_class_rule_is_400_with_its_message_and_changes_nothing(
    student_client, student, aapl, in_class, rules, quantity, message
):
    in_class(**rules)

    response = student_client.post(BUY, {"symbol": "AAPL", "quantity": quantity, "token": "t"})

    assert response.status_code == 400
    assert message in page_text(response)
    assert 'name="token" value="t"' in response.content.decode()
    assert nothing_changed(student)


def test_a_sell_after_the_class_ended_is_400_and_changes_nothing(
    student_client, student, aapl, in_class
):
    buy(user=student, symbol="AAPL", quantity=2)
    in_class(starts_at=timezone.now() - timedelta(days=30), ends_at=timezone.now())

    response = student_client.post(SELL, {"symbol": "AAPL", "quantity": "1"})

    assert response.status_code == 400
    assert "Your class ended" in page_text(response)
    assert Holding.objects.get(user=student).quantity == 2
    assert Trade.objects.filter(user=student).count() == 1


def test_exactly_the_most_in_one_stock_goes_through_over_http(student_client, student, in_class):
    PriceFactory(symbol="ACME", price=Decimal("100.00"))
    in_class(max_position_percent=Decimal("25"))

    refused = student_client.post(BUY, {"symbol": "ACME", "quantity": "26"})
    accepted = student_client.post(BUY, {"symbol": "ACME", "quantity": "25"})

    assert refused.status_code == 400
    assert "after this buy ACME would be 26 %." in page_text(refused)
    assert accepted.status_code == 302
    assert Holding.objects.get(user=student).quantity == 25


def test_a_price_exactly_at_the_lowest_goes_through_over_http(student_client, student, in_class):
    PriceFactory(symbol="PENNY", price=Decimal("1.00"))
    in_class(min_share_price=Decimal("1.00"))

    assert student_client.post(BUY, {"symbol": "PENNY", "quantity": "10"}).status_code == 302
    assert Holding.objects.get(user=student).quantity == 10


def test_the_most_trades_a_day_over_http(student_client, student, aapl, in_class):
    MarketState.objects.update_or_create(
        id=1, defaults={"day_started_at": timezone.now() - timedelta(hours=1)}
    )
    in_class(max_trades_per_day=2)
    student_client.post(BUY, {"symbol": "AAPL", "quantity": "2"})
    student_client.post(SELL, {"symbol": "AAPL", "quantity": "1"})

    response = student_client.post(SELL, {"symbol": "AAPL", "quantity": "1"})

    assert response.status_code == 400
    assert "at most 2 trades per market day, and you have made 2 today" in page_text(response)
    assert Holding.objects.get(user=student).quantity == 1


@pytest.mark.parametrize(
    ("moment", "status"),
    [
        (START - timedelta(seconds=1), 400),
        (START, 302),
        (END - timedelta(seconds=1), 302),
        (END, 400),
    ],
    ids=["a second early", "the first second", "the last second", "the end"],
)
def test_the_trading_window_over_http(client, student, aapl, in_class, clock, moment, status):
    in_class(starts_at=START, ends_at=END)
    clock(moment)
    client.force_login(student)  # once the clock is stopped, so the session is current

    response = client.post(BUY, {"symbol": "AAPL", "quantity": "1"})

    assert response.status_code == status
    assert Trade.objects.filter(user=student).count() == (status == 302)


def test_the_order_page_hands_the_ticket_the_class_commission(
    student_client, aapl, in_class, settings
):
    settings.COMMISSION_PER_TRADE = Decimal("4.95")
    in_class(
        commission_kind="percent",
        commission_amount=Decimal("0.5"),
        commission_minimum=Decimal("1.00"),
    )

    page = page_text(student_client.get(BUY + "?symbol=AAPL"))

    assert 'data-commission-kind="percent" data-commission-amount="0.5000"' in page
    assert 'data-commission-minimum="1.00"' in page
    assert "(0.5 % of the order's value, at least $1.00)" in page
    assert "data-commission-estimate" in page


def test_the_order_page_shows_no_commission_row_when_the_class_charges_none(
    student_client, aapl, in_class, settings
):
    settings.COMMISSION_PER_TRADE = Decimal("4.95")
    in_class(commission_kind="none")

    page = page_text(student_client.get(BUY + "?symbol=AAPL"))

    assert 'data-commission-kind="none"' in page
    assert "data-commission-estimate" not in page


# Query counts ------------------------------------------------------------------------


def make_trades(user, symbols, n):
    stocks = [PriceFactory(symbol=s) for s in symbols]
    for i in range(n):
        TradeFactory(
            user=user, stock=stocks[i % len(stocks)], timestamp=at(1) + timedelta(seconds=i)
        )


@pytest.mark.parametrize("n", [3, 80])
def test_history_runs_a_fixed_number_of_queries(
    student_client, student, n, django_assert_max_num_queries
):
    make_trades(student, ["AAA", "BBB", "CCC"], n)

    # session, user, one aggregate (count + totals), one page of rows
    with django_assert_max_num_queries(4):
        response = student_client.get(HISTORY + "?operation=buy")

    assert response.status_code == 200


@pytest.mark.parametrize("n", [3, 80])
def test_history_csv_runs_a_fixed_number_of_queries(
    student_client, student, n, django_assert_max_num_queries
):
    make_trades(student, ["AAA", "BBB"], n)

    with django_assert_max_num_queries(3):
        response = student_client.get(HISTORY + "?format=csv")
        body = b"".join(response.streaming_content)

    assert body.count(b"\n") == n + 1


@pytest.mark.parametrize("n", [1, 40])
@pytest.mark.parametrize("url", [BUY, SELL])
def test_order_pages_run_a_fixed_number_of_queries(
    student_client, student, n, url, django_assert_max_num_queries
):
    for i in range(n):
        PriceFactory(symbol=f"S{i}", price=Decimal("10.00"))
        buy(user=student, symbol=f"S{i}", quantity=1)

    # session, user, holdings, prices, cash
    with django_assert_max_num_queries(5):
        response = student_client.get(url + "?symbol=S0")

    assert response.status_code == 200
    assert response.content.decode().count('<option value="S') == n


def test_a_rejected_order_also_runs_a_fixed_number_of_queries(
    student_client, student, aapl, django_assert_max_num_queries
):
    for i in range(20):
        PriceFactory(symbol=f"S{i}")
    with django_assert_max_num_queries(5):
        response = student_client.post(BUY, {"symbol": "AAPL", "quantity": "0"})

    assert response.status_code == 400


def test_the_journal_shows_the_trade_rows(student_client, student, aapl):
    student_client.post(BUY, {"symbol": "AAPL", "quantity": "2"})

    row = Transaction.objects.filter(user=student).first()
    assert (row.type, row.description) == ("buy", "Bought 2 AAPL @ 189.12")


def test_a_second_student_with_equal_cash_is_unaffected(student_client, aapl):
    bob = StudentFactory(username="bystander")

    student_client.post(BUY, {"symbol": "AAPL", "quantity": "2"})

    assert cash(bob) == Decimal("10000.00")
    assert not Trade.objects.filter(user=bob).exists()
