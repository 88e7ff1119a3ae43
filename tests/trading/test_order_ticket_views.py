"""The order ticket for every type of order: POST /trading/orders/new/ (symbol, side, type,
quantity, limit_price, stop_price, trail_percent or trail_amount, duration, token), its page,
and the ticket's type fields on /trading/buy/, /trading/sell/ and the quote page."""

import logging
import re
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from ledger.models import Balance
from portfolio.models import Holding
from tests.factories import ClassroomFactory, PriceFactory
from trading.models import Order, Trade
from trading.services import buy, order_request, place_order

pytestmark = pytest.mark.django_db

NEW = reverse("trading:order_new")
BUY = reverse("trading:buy")
SELL = reverse("trading:sell")
HISTORY = reverse("trading:history")
QUOTE = reverse("prices:quote", args=["AAPL"])
ORDERS = reverse("trading:orders")


@pytest.fixture
def aapl(db):
    return PriceFactory(symbol="AAPL", name="Apple Inc.", price=Decimal("189.12"))


@pytest.fixture
def holder(student, aapl):
    """alice owns 20 AAPL (bought at $189.12: $6,217.60 cash left)."""
    buy(user=student, symbol="AAPL", quantity=20)
    return student


def flashes(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def money_state(user):
    balance = Balance.objects.get(user=user)
    return (
        balance.amount,
        balance.held,
        list(Order.objects.filter(user=user).values_list("id", "status")),
        list(Trade.objects.filter(user=user).values_list("id", flat=True)),
        list(Holding.objects.filter(user=user).values_list("quantity", "held_quantity")),
    )


def post(client, **fields):
    data = {"symbol": "AAPL", "side": "buy", "quantity": "10", "token": "tok", **fields}
    return client.post(NEW, {k: v for k, v in data.items() if v is not None})


def field_errors(response, field: str) -> str:
    """The text of a field's error block on the ticket page (id_<field>_error)."""
    match = re.search(
        rf'<div class="invalid-feedback d-block" id="id_{field}_error">(.*?)</div>\s*</div>',
        response.content.decode(),
        re.DOTALL,
    )
    return re.sub(r"<[^>]+>", "", match[1]) if match else ""


# Who may use it -------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_log_in_and_place_nothing(anon_client, aapl):
    page = anon_client.get(NEW)
    response = anon_client.post(
        NEW, {"symbol": "AAPL", "side": "buy", "type": "limit", "quantity": "1", "limit_price": "1"}
    )

    assert page.status_code == response.status_code == 302
    assert page.url.startswith(reverse("login"))
    assert not Order.objects.exists()


def test_other_methods_are_refused(student_client):
    assert student_client.put(NEW).status_code == 405
    assert student_client.delete(NEW).status_code == 405


# The ticket page --------------------------------------------------------------------------


def test_the_ticket_page_is_filled_in_from_the_query_string(student_client, holder):
    response = student_client.get(NEW + "?symbol=aapl&side=sell&type=limit")

    assert response.status_code == 200
    html = response.content.decode()
    assert '<h1 class="h3 mb-0">Sell shares</h1>' in html
    assert f'action="{NEW}"' in html
    assert '<input type="hidden" name="side" value="sell"' in html
    assert re.search(r'<option value="AAPL" selected[^>]*>', html)
    assert re.search(r'<option value="limit" selected>Limit</option>', html)
    assert re.search(r'name="token" value="[0-9a-f]{32}"', html)


def test_without_a_script_every_field_shows_which_types_use_it(student_client, aapl):
    html = student_client.get(NEW + "?symbol=AAPL").content.decode()

    for name in ("limit_price", "stop_price", "trail_percent", "trail_amount", "duration"):
        assert f'name="{name}"' in html
    assert "Limit and stop-limit orders. </span>" in html
    assert "Stop and stop-limit orders. </span>" in html
    assert html.count("Trailing stops (fill in one of the two trails). </span>") == 2
    assert "Every type but market. </span>" in html
    # The plain-words preview is the script's: hidden until it runs.
    assert re.search(r'<p class="order-preview[^"]*" aria-live="polite"[^>]*hidden>', html)
    # Each field's hint is its description, for screen readers too.
    assert 'aria-describedby="id_limit_price_helptext"' in html
    assert 'id="id_limit_price_helptext"' in html


def test_the_labels_explain_each_type_in_the_glossary(student_client, aapl):
    html = student_client.get(NEW + "?symbol=AAPL").content.decode()

    for key in (
        "market-order",
        "limit-order",
        "stop-order",
        "stop-limit-order",
        "trailing-stop",
        "order-duration",
        "held-for-orders",
    ):
        assert f"/glossary/#{key}" in html, key


@pytest.mark.parametrize("url", [BUY, SELL, NEW])
def test_every_ticket_page_posts_to_the_order_ticket(student_client, holder, url):
    html = student_client.get(url + "?symbol=AAPL").content.decode()

    assert f'action="{NEW}"' in html
    assert 'name="type"' in html


@pytest.fixture
def market_only(student):
    student.classroom = ClassroomFactory(order_types="market")
    student.save(update_fields=["classroom"])
    return student


def test_a_class_of_market_orders_only_gets_no_type_choice(student_client, market_only, aapl):
    html = student_client.get(NEW + "?symbol=AAPL").content.decode()

    assert '<input type="hidden" name="type" value="market">' in html
    assert '<select name="type"' not in html
    assert 'name="limit_price"' not in html


def test_an_order_type_the_class_does_not_allow_is_refused_above_the_form(
    student_client, market_only, aapl
):
    before = money_state(market_only)

    response = post(student_client, type="limit", limit_price="180")

    assert response.status_code == 400
    assert "Your class trades with market orders only" in response.content.decode()
    assert money_state(market_only) == before


def test_the_ticket_shows_the_cash_free_and_what_orders_hold(student_client, holder):
    place_order(
        user=holder,
        request=order_request(
            side="buy", type="limit", symbol="AAPL", quantity=10, limit_price="100"
        ),
    )
    place_order(
        user=holder,
        request=order_request(
            side="sell", type="limit", symbol="AAPL", quantity=5, limit_price="250"
        ),
    )

    buy_page = student_client.get(BUY + "?symbol=AAPL").content.decode()
    sell_page = student_client.get(SELL + "?symbol=AAPL").content.decode()

    # $8,108.80 − 20 × ... : $6,217.60 cash, $1,000.00 of it held for the buy.
    assert 'data-cash="5217.60"' in buy_page
    assert "$5,217.60" in buy_page
    assert "$1,000.00 held for orders" in buy_page
    assert re.search(r'<option value="AAPL" selected data-price="189.12" data-held="15"', sell_page)
    assert 'data-held-for-orders="5"' in sell_page
    assert "20 held, 5 of them for open orders" in sell_page
    assert "5 held for your orders" in sell_page


# Placing each type -----------------------------------------------------------------------


def test_a_market_buy_trades_now_and_says_what_it_bought(student_client, student, aapl):
    response = post(student_client, type="market")

    assert response.status_code == 302
    assert response.url == HISTORY
    assert flashes(response) == ["Bought 10 AAPL at $189.12 for $1,891.20."]
    order = Order.objects.get(user=student)
    assert (order.type, order.status, order.token) == ("market", "filled", "tok")
    assert order.trade.quantity == 10
    assert Balance.objects.get(user=student).amount == Decimal("8108.80")


def test_a_market_sell_returns_to_the_page_it_came_from(student_client, holder):
    response = post(student_client, side="sell", type="market", quantity="4", next=QUOTE)

    assert response.status_code == 302
    assert response.url == QUOTE
    assert flashes(response) == ["Sold 4 AAPL at $189.12 for $756.48 (realized $0.00)."]
    assert Holding.objects.get(user=holder).quantity == 16


def test_a_limit_buy_below_the_price_waits_and_holds_its_cost(student_client, student, aapl):
    response = post(student_client, type="limit", limit_price="180", duration="day")

    assert response.status_code == 302
    assert response.url == ORDERS
    assert flashes(response) == [
        "Order placed: Buy 10 AAPL if the price falls to $180.00 or less; good for today. "
        f'$1,800.00 is held for it. <a href="{ORDERS}">See your orders</a>'
    ]
    order = Order.objects.get(user=student)
    assert (order.type, order.side, order.status, order.duration) == ("limit", "buy", "open", "day")
    assert (order.limit_price, order.stop_price, order.held_cash) == (
        Decimal("180.00"),
        None,
        Decimal("1800.00"),
    )
    balance = Balance.objects.get(user=student)
    assert (balance.amount, balance.held) == (Decimal("10000.00"), Decimal("1800.00"))
    assert not Trade.objects.exists()


def test_a_resting_order_from_the_quote_page_returns_there(student_client, student, aapl):
    response = post(student_client, type="limit", limit_price="180", next=QUOTE)

    assert response.url == QUOTE
    assert Order.objects.get(user=student).status == "open"


def test_the_news_of_a_resting_order_links_to_the_orders(student_client, student, aapl):
    response = post(student_client, type="limit", limit_price="180")
    page = student_client.get(response.url)

    assert response.url == ORDERS
    assert f'held for it. <a href="{ORDERS}">See your orders</a>' in page.content.decode()


def test_a_limit_the_price_already_meets_fills_now(student_client, student, aapl):
    response = post(student_client, type="limit", limit_price="190")

    assert response.status_code == 302
    assert response.url == HISTORY
    assert flashes(response) == [
        "The price was already within your limit, so it filled now: "
        "Bought 10 AAPL at $189.12 for $1,891.20."
    ]
    order = Order.objects.get(user=student)
    assert (order.type, order.status, order.trade.price) == ("limit", "filled", Decimal("189.12"))
    assert Balance.objects.get(user=student).held == Decimal("0.00")


def test_a_stop_buy_holds_its_stop_and_the_cushion(student_client, student, aapl):
    response = post(student_client, type="stop", stop_price="200", duration="gtc")

    assert response.status_code == 302
    assert flashes(response)[0].startswith(
        "Order placed: Buy 10 AAPL at the market price once it rises to $200.00; good until "
        "cancelled (up to 90 trading days). $2,100.00 is held for it."
    )
    order = Order.objects.get(user=student)
    assert (order.type, order.stop_price, order.duration) == ("stop", Decimal("200.00"), "gtc")
    assert order.held_cash == Decimal("2100.00")  # 10 × $200.00 × 1.05
    assert Balance.objects.get(user=student).held == Decimal("2100.00")


def test_a_stop_limit_sell_holds_its_shares(student_client, holder):
    response = post(
        student_client, side="sell", type="stop_limit", stop_price="170", limit_price="165"
    )

    assert response.status_code == 302
    assert flashes(response)[0].startswith(
        "Order placed: Sell 10 AAPL once the price falls to $170.00, for at least $165.00 a "
        "share; good for today. Your 10 AAPL shares are held for it."
    )
    order = Order.objects.get(user=holder, type="stop_limit")
    assert (order.stop_price, order.limit_price, order.held_shares) == (
        Decimal("170.00"),
        Decimal("165.00"),
        10,
    )
    holding = Holding.objects.get(user=holder)
    assert (holding.quantity, holding.held_quantity) == (20, 10)


def test_a_trailing_stop_sell_in_percent_follows_from_the_price(student_client, holder):
    response = post(
        student_client, side="sell", type="trailing_stop", quantity="1", trail_percent="5"
    )

    assert response.status_code == 302
    assert flashes(response)[0].startswith(
        "Order placed: Sell 1 AAPL at the market price once it falls 5 % below its highest "
        "point; good for today. Your 1 AAPL share is held for it."
    )
    order = Order.objects.get(user=holder, type="trailing_stop")
    assert (order.trail_percent, order.trail_amount) == (Decimal("5.00"), None)
    assert (order.trail_mark, order.trigger_price) == (Decimal("189.12"), Decimal("179.66"))


def test_a_trailing_stop_buy_in_dollars_holds_its_stop_and_the_cushion(
    student_client, student, aapl
):
    response = post(student_client, type="trailing_stop", trail_amount="2.50")

    assert response.status_code == 302
    order = Order.objects.get(user=student)
    assert (order.trail_percent, order.trail_amount) == (None, Decimal("2.50"))
    assert order.trigger_price == Decimal("191.62")
    assert order.held_cash == Decimal("2012.00")  # 10 × $191.62 × 1.05 = 10 × $201.20


def test_the_hold_includes_the_class_commission(client, aapl):
    from tests.factories import StudentFactory

    room = ClassroomFactory(commission_kind="flat", commission_amount=Decimal("5.00"))
    nia = StudentFactory(username="nia", classroom=room)
    client.force_login(nia)

    response = post(client, type="limit", limit_price="180")

    assert "$1,805.00 is held for it." in flashes(response)[0]
    assert Balance.objects.get(user=nia).held == Decimal("1805.00")


def test_a_price_a_type_does_not_use_is_ignored(student_client, student, aapl):
    response = post(
        student_client,
        type="limit",
        limit_price="180",
        stop_price="150",
        trail_amount="3",
    )

    assert response.status_code == 302
    order = Order.objects.get(user=student)
    assert (order.limit_price, order.stop_price, order.trail_amount) == (
        Decimal("180.00"),
        None,
        None,
    )


def test_a_market_order_ignores_the_prices_and_the_duration(student_client, student, aapl):
    response = post(student_client, type="market", limit_price="1.00", duration="gtc")

    assert response.status_code == 302
    assert Trade.objects.get(user=student).price == Decimal("189.12")


# Refusals: 400, the message on its field, nothing changed ----------------------------------


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"type": "limit"}, "limit_price", "A limit order needs a limit price."),
        ({"type": "stop"}, "stop_price", "A stop order needs a stop price."),
        (
            {"type": "stop_limit", "stop_price": "200"},
            "limit_price",
            "A stop-limit order needs a limit price.",
        ),
        (
            {"type": "stop_limit", "limit_price": "200"},
            "stop_price",
            "A stop-limit order needs a stop price.",
        ),
        (
            {"type": "trailing_stop"},
            "trail_percent",
            "A trailing stop needs a trail, in percent or in dollars.",
        ),
        (
            {"type": "trailing_stop", "trail_percent": "5", "trail_amount": "2"},
            "trail_amount",
            "Give the trail in percent or in dollars, not both.",
        ),
        ({"type": "limit", "limit_price": "abc"}, "limit_price", "in dollars and cents"),
        ({"type": "limit", "limit_price": "-5"}, "limit_price", "above $0.00"),
        ({"type": "limit", "limit_price": "0"}, "limit_price", "above $0.00"),
        ({"type": "limit", "limit_price": "180.555"}, "limit_price", "in whole cents"),
        ({"type": "limit", "limit_price": "1e3"}, "limit_price", "in dollars and cents"),
        ({"type": "limit", "limit_price": "١٨٠"}, "limit_price", "in dollars and cents"),
        ({"type": "limit", "limit_price": "NaN"}, "limit_price", "in dollars and cents"),
        ({"type": "limit", "limit_price": "99999999999"}, "limit_price", "of at most"),
        ({"type": "limit", "limit_price": "9" * 40}, "limit_price", "too long to be a price"),
        ({"type": "stop", "stop_price": "1,50"}, "stop_price", "in dollars and cents"),
        ({"type": "trailing_stop", "trail_percent": "60"}, "trail_percent", "at most 50 %"),
        ({"type": "trailing_stop", "trail_percent": "x"}, "trail_percent", "in percent"),
        ({"type": "trailing_stop", "trail_amount": "-1"}, "trail_amount", "above $0.00"),
        ({"type": "iceberg"}, "type", "Choose an order type"),
        ({"type": "limit", "limit_price": "180", "duration": "week"}, "duration", "how long"),
        ({"type": "limit", "limit_price": "180", "quantity": "1.5"}, "quantity", "whole number"),
        ({"type": "limit", "limit_price": "180", "quantity": "0"}, "quantity", "at least 1"),
        ({"type": "limit", "limit_price": "180", "symbol": "NOPE"}, "symbol", "no symbol NOPE"),
        # A stop the price has passed already would go off at once.
        ({"type": "stop", "stop_price": "150"}, "stop_price", "would go off at once"),
    ],
)
def test_a_refused_order_is_400_with_its_message_on_its_field(
    student_client, student, aapl, fields, field, message
):
    before = money_state(student)

    response = post(student_client, **fields)

    assert response.status_code == 400
    assert message in field_errors(response, field)
    assert "There is a problem" in response.content.decode()
    assert money_state(student) == before


def test_a_refused_ticket_is_logged_by_its_error_codes_not_what_was_typed(
    student_client, aapl, caplog
):
    caplog.set_level(logging.INFO, logger="tradesim.trading")

    post(student_client, side="sell", type="stop", stop_price="secret-ish 12")

    (record,) = [r for r in caplog.records if r.name == "tradesim.trading"]
    assert record.event == "order.rejected"
    assert record.fields["side"] == "sell" and record.fields["type"] == "stop"
    assert record.fields["errors"] == "stop_price:invalid"
    assert "secret" not in str(record.fields)


def test_a_price_and_a_quantity_are_refused_together(student_client, student, aapl):
    response = post(student_client, type="limit", limit_price="abc", quantity="")

    assert response.status_code == 400
    assert "Enter how many shares." in field_errors(response, "quantity")
    assert "in dollars and cents" in field_errors(response, "limit_price")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"side": "hold"}, "Choose Buy or Sell."),
        ({"side": ""}, "Choose Buy or Sell."),
        ({"type": "limit", "limit_price": ["180", "170"]}, "sent twice; send it once"),
        ({"type": ["limit", "market"], "limit_price": "180"}, "sent twice; send it once"),
    ],
)
def test_a_forged_order_is_400_with_a_message_above_the_form(
    student_client, student, aapl, fields, message
):
    before = money_state(student)

    response = post(student_client, **{"type": "limit", "limit_price": "180", **fields})

    assert response.status_code == 400
    assert message in response.content.decode()
    assert money_state(student) == before


def test_a_buy_the_cash_cannot_hold_is_400_and_changes_nothing(student_client, student, aapl):
    before = money_state(student)

    response = post(student_client, type="limit", limit_price="180", quantity="100")

    assert response.status_code == 400
    assert "There is a problem" in response.content.decode()
    assert "$18,000.00" in response.content.decode()
    assert money_state(student) == before


def test_a_sell_of_shares_held_for_another_order_is_400_on_the_quantity(student_client, holder):
    place_order(
        user=holder,
        request=order_request(
            side="sell", type="limit", symbol="AAPL", quantity=15, limit_price="250"
        ),
    )
    before = money_state(holder)

    response = post(student_client, side="sell", type="stop", stop_price="150", quantity="6")

    assert response.status_code == 400
    assert field_errors(response, "quantity")
    assert money_state(holder) == before


def test_a_refused_order_keeps_its_side_its_type_and_its_token(student_client, holder):
    response = post(
        student_client, side="sell", type="stop_limit", stop_price="170", token="keep-me"
    )

    html = response.content.decode()
    assert response.status_code == 400
    assert '<h1 class="h3 mb-0">Sell shares</h1>' in html
    assert '<input type="hidden" name="side" value="sell"' in html
    assert '<option value="stop_limit" selected>Stop-limit</option>' in html
    assert 'value="170"' in html
    assert 'name="token" value="keep-me"' in html

    fixed = post(
        student_client,
        side="sell",
        type="stop_limit",
        stop_price="170",
        limit_price="165",
        token="keep-me",
    )
    assert fixed.status_code == 302
    assert Order.objects.filter(user=holder, type="stop_limit").count() == 1


# One token, one order -------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"type": "limit", "limit_price": "180"},
        {"type": "limit", "limit_price": "190"},  # filled at once
        {"type": "market"},
    ],
)
def test_a_double_submit_places_one_order_and_says_so(student_client, student, aapl, fields):
    first = post(student_client, token="same", **fields)
    after_first = money_state(student)

    second = post(student_client, token="same", **fields)

    assert first.status_code == second.status_code == 302
    assert flashes(second)[-1] == "This order was already placed; nothing was traded twice."
    assert Order.objects.filter(user=student).count() == 1
    assert money_state(student) == after_first


def test_a_resubmitted_ticket_with_another_type_is_still_a_repeat(student_client, student, aapl):
    post(student_client, token="same", type="limit", limit_price="180")
    after_first = money_state(student)

    again = post(student_client, token="same", type="market")

    assert again.status_code == 302
    assert flashes(again)[-1] == "This order was already placed; nothing was traded twice."
    assert money_state(student) == after_first


# /trading/buy/ and /trading/sell/ stay market orders ---------------------------------------


@pytest.mark.parametrize("url", [BUY, SELL])
def test_the_old_order_urls_place_market_orders_whatever_else_is_sent(student_client, holder, url):
    response = student_client.post(
        url,
        {
            "symbol": "AAPL",
            "quantity": "2",
            "side": "sell" if url == BUY else "buy",
            "type": "limit",
            "limit_price": "1.00",
            "duration": "gtc",
        },
    )

    assert response.status_code == 302
    latest = Trade.objects.filter(user=holder).order_by("-id").first()
    assert latest.operation == ("buy" if url == BUY else "sell")
    assert latest.price == Decimal("189.12")
    assert not Order.objects.filter(user=holder, status="open").exists()


def test_a_refused_old_order_shows_the_whole_ticket(student_client, student, aapl):
    response = student_client.post(BUY, {"symbol": "AAPL", "quantity": "0"})

    html = response.content.decode()
    assert response.status_code == 400
    assert f'action="{NEW}"' in html
    assert '<input type="hidden" name="side" value="buy"' in html
    assert '<option value="market" selected>Market</option>' in html


# Only one's own -------------------------------------------------------------------------


def test_another_students_cash_shares_and_orders_are_never_shown(other_client, holder):
    place_order(
        user=holder,
        request=order_request(
            side="sell", type="limit", symbol="AAPL", quantity=7, limit_price="321.09"
        ),
    )

    pages = [
        other_client.get(url).content.decode()
        for url in (NEW + "?symbol=AAPL", NEW + "?symbol=AAPL&side=sell", QUOTE, SELL)
    ]

    for html in pages:
        assert "6,217.60" not in html and "6217.60" not in html  # alice's cash
        assert "321.09" not in html
        assert 'data-held="13"' not in html and 'data-held="20"' not in html
    assert "$10,000.00" in pages[0]


def test_a_student_cannot_sell_another_students_shares_with_an_order(other_client, holder):
    before = money_state(holder)

    response = other_client.post(
        NEW,
        {
            "symbol": "AAPL",
            "side": "sell",
            "type": "limit",
            "quantity": "5",
            "limit_price": "200",
        },
    )

    assert response.status_code == 400
    assert money_state(holder) == before
    assert not Order.objects.filter(user__username="bob").exists()


def test_an_account_without_cash_cannot_place_an_order(instructor_client, aapl):
    response = instructor_client.post(
        NEW,
        {"symbol": "AAPL", "side": "buy", "type": "limit", "quantity": "1", "limit_price": "1"},
    )

    assert response.status_code == 400
    assert "no cash account" in response.content.decode()
    assert not Order.objects.exists()


# Queries ------------------------------------------------------------------------------------


def make_orders(user, n):
    for i in range(n):
        PriceFactory(symbol=f"S{i}", price=Decimal("10.00"))
        buy(user=user, symbol=f"S{i}", quantity=2)
        place_order(
            user=user,
            request=order_request(
                side="sell", type="limit", symbol=f"S{i}", quantity=1, limit_price="20"
            ),
        )
        place_order(
            user=user,
            request=order_request(
                side="buy", type="limit", symbol=f"S{i}", quantity=1, limit_price="5"
            ),
        )


@pytest.mark.parametrize("n", [1, 30])
@pytest.mark.parametrize("side", ["buy", "sell"])
def test_the_ticket_page_runs_a_fixed_number_of_queries(
    student_client, student, n, side, django_assert_max_num_queries
):
    make_orders(student, n)

    # session, user, holdings, prices, cash
    with django_assert_max_num_queries(5):
        response = student_client.get(f"{NEW}?symbol=S0&side={side}")

    assert response.status_code == 200
    assert response.content.decode().count('<option value="S') == n


@pytest.mark.parametrize("n", [1, 30])
def test_placing_an_order_that_waits_runs_a_fixed_number_of_queries(
    student_client, student, n, django_assert_max_num_queries
):
    make_orders(student, n)

    # session, user; the balance lock, the token, the open orders counted, the market day,
    # the quote, the hold, the order; the session's message
    with django_assert_max_num_queries(11):
        response = post(student_client, symbol="S0", type="limit", limit_price="4", quantity="1")

    assert response.status_code == 302
    assert Order.objects.filter(user=student, status="open").count() == 2 * n + 1


@pytest.mark.parametrize("n", [1, 30])
def test_placing_a_market_order_runs_a_fixed_number_of_queries(
    student_client, student, n, django_assert_max_num_queries
):
    make_orders(student, n)

    # session, user; the trade's (the balance lock with the token, the quote, the journal
    # row, the balance, the holding, the trade, the order row, with their savepoints); the
    # order read back
    with django_assert_max_num_queries(14):
        response = post(student_client, symbol="S0", type="market", quantity="1")

    assert response.status_code == 302
    assert Trade.objects.filter(user=student).count() == n + 1


@pytest.mark.parametrize("n", [1, 30])
def test_a_refused_order_runs_a_fixed_number_of_queries(
    student_client, student, n, django_assert_max_num_queries
):
    make_orders(student, n)

    with django_assert_max_num_queries(5):
        response = post(student_client, symbol="S0", type="limit", limit_price="x")

    assert response.status_code == 400


# The quote page's ticket ------------------------------------------------------------------


def test_the_quote_ticket_offers_every_type_and_posts_to_the_order_ticket(student_client, holder):
    html = student_client.get(QUOTE).content.decode()

    assert f'action="{NEW}"' in html
    assert '<select name="side" id="ticket-side"' in html
    assert re.search(r'<select name="type"[^>]*id="ticket-type"', html)
    for kind in ("market", "limit", "stop", "stop_limit", "trailing_stop"):
        assert f'<option value="{kind}"' in html
    assert 'id="ticket-limit_price"' in html and 'id="ticket-trail_amount"' in html
    assert f'name="next" value="{QUOTE}"' in html


def test_the_quote_ticket_counts_only_the_cash_and_shares_orders_do_not_hold(
    student_client, holder
):
    for side, price in (("buy", "100"), ("sell", "250")):
        place_order(
            user=holder,
            request=order_request(
                side=side, type="limit", symbol="AAPL", quantity=5, limit_price=price
            ),
        )

    html = student_client.get(QUOTE).content.decode()

    assert 'data-cash="5717.60"' in html  # $6,217.60 less the $500.00 the buy holds
    assert 'data-held="15"' in html  # 20 shares less the 5 the sell holds
    assert re.search(r"Held for orders .*?</dt><dd[^>]*>\$500\.00</dd>", html, re.DOTALL)
    assert re.search(r"Of them, held for orders</dt><dd[^>]*>5</dd>", html)


def test_the_quote_ticket_of_a_market_only_class_has_no_type(student_client, market_only, aapl):
    html = student_client.get(QUOTE).content.decode()

    assert '<input type="hidden" name="type" value="market">' in html
    assert 'name="limit_price"' not in html


def test_a_limit_order_from_the_quote_ticket_is_placed(student_client, student, aapl):
    html = student_client.get(QUOTE).content.decode()
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html))

    response = student_client.post(
        NEW, {**hidden, "side": "buy", "type": "limit", "quantity": "3", "limit_price": "150"}
    )

    assert response.status_code == 302
    assert response.url == QUOTE
    order = Order.objects.get(user=student)
    assert (order.type, order.quantity, order.limit_price, order.held_cash) == (
        "limit",
        3,
        Decimal("150.00"),
        Decimal("450.00"),
    )
