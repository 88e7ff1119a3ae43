"""Short selling on the pages: the order ticket's "Sell short" and "Buy to cover"
sides in a class that allows them (side=sell_short / buy_to_cover on /trading/orders/new/),
the ticket as before in a class that does not, and the new sides on the history and orders
pages, their filters, their CSV exports and the dashboard's open-orders panel."""

import re
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from ledger.models import Balance
from portfolio.models import Holding
from tests.factories import ClassroomFactory, PriceFactory, StudentFactory
from tests.trading.orders import money_problems
from trading.models import Order, Trade
from trading.selectors import open_orders_panel
from trading.services import buy, buy_to_cover, order_request, place_order, sell_short

pytestmark = pytest.mark.django_db

D = Decimal
NEW = reverse("trading:order_new")
BUY = reverse("trading:buy")
SELL = reverse("trading:sell")
HISTORY = reverse("trading:history")
ORDERS = reverse("trading:orders")
QUOTE = reverse("prices:quote", args=["ACME"])


@pytest.fixture
def acme(db):
    return PriceFactory(symbol="ACME", name="Acme Corp", price=D("100.00"))


@pytest.fixture
def zed(db):
    return PriceFactory(symbol="ZED", name="Zed Inc", price=D("20.00"))


@pytest.fixture
def shorter(db):
    """sam, in a class that allows selling short ($10,000)."""
    return StudentFactory(username="sam", classroom=ClassroomFactory(short_selling=True))


@pytest.fixture
def cash_only(db):
    """carl, in a class of the defaults: no short selling ($10,000)."""
    return StudentFactory(username="carl", classroom=ClassroomFactory(name="Plain"))


@pytest.fixture
def sam(client, shorter):
    client.force_login(shorter)
    return client


@pytest.fixture
def carl(client, cash_only):
    client.force_login(cash_only)
    return client


def flashes(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def text(response) -> str:
    """The page's words, tags dropped and spaces squeezed."""
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


def post(client, **fields):
    data = {"symbol": "ACME", "side": "sell_short", "quantity": "10", "token": "t-1", **fields}
    return client.post(NEW, data)


def state(user):
    balance = Balance.objects.get(user=user)
    return (
        balance.amount,
        balance.held,
        list(Order.objects.filter(user=user).values_list("id", "status")),
        list(Holding.objects.filter(user=user).values_list("stock_id", "quantity")),
    )


def options(response) -> dict[str, str]:
    """The symbol picker's options: value → label."""
    page = response.content.decode()
    return {
        value: " ".join(label.split())
        for value, label in re.findall(r'<option value="([A-Z]+)"[^>]*>([^<]*)</option>', page)
    }


# The ticket in a class that allows selling short ----------------------------------------


def test_the_ticket_offers_sell_short_and_buy_to_cover_besides_buy_and_sell(sam, acme, zed):
    response = sam.get(NEW + "?side=sell_short&symbol=ACME")

    assert response.status_code == 200
    page = response.content.decode()
    words = text(response)
    assert '<h1 class="h3 mb-0">Sell short</h1>' in page
    pills = page.split('class="nav nav-pills side-pills"')[1].split("</ul>")[0]
    labels = re.findall(r'class="nav-link[^"]*"[^>]*>([^<]+)</a>', pills)
    assert labels == ["Buy", "Sell", "Sell short", "Buy to cover"]
    assert f"{NEW}?side=buy_to_cover&amp;symbol=ACME" in page
    assert 'aria-current="page" href="/trading/orders/new/?side=sell_short' in page
    assert '<input type="hidden" name="side" value="sell_short"' in page
    # Any listed symbol can be sold short.
    assert list(options(response)) == ["ACME", "ZED"]
    assert "Selling short" in words and "$5.00" in words and "50 %" in words
    assert 'href="/glossary/#short-selling"' in page
    assert "Estimated proceeds" in words
    assert re.search(r'class="btn btn-danger w-100" data-submit>\s*Sell short\s*</button>', page)


def test_buy_to_cover_offers_the_short_positions_and_how_many_can_be_covered(
    sam, shorter, acme, zed
):
    PriceFactory(symbol="OWN", price=D("10.00"))
    buy(user=shorter, symbol="OWN", quantity=5)
    sell_short(user=shorter, symbol="ACME", quantity=50)
    place_order(
        user=shorter,
        request=order_request(
            side="buy_to_cover", type="limit", symbol="ACME", quantity=10, limit_price="80"
        ),
    )

    response = sam.get(NEW + "?side=buy_to_cover&symbol=ACME")

    assert response.status_code == 200
    words = text(response)
    assert options(response) == {
        "ACME": "ACME — Acme Corp ($100.00) · short 50, you can cover 40 (10 held for open orders)"
    }
    page = response.content.decode()
    assert 'data-held="40"' in page and 'data-short="1"' in page
    assert "Short position" in words and "Short 50" in words
    assert "Cover all" in words and "Estimated cost" in words
    assert 'href="/glossary/#buy-to-cover"' in page
    assert re.search(r'class="btn btn-success w-100" data-submit>\s*Buy to cover\s*</button>', page)


def test_buy_to_cover_without_a_short_position_says_so(sam, acme):
    response = sam.get(NEW + "?side=buy_to_cover")

    assert response.status_code == 200
    assert "You have no short positions to cover." in text(response)


def test_a_short_sale_from_the_ticket_says_what_happened(sam, shorter, acme):
    response = post(sam)

    assert response.status_code == 302
    assert flashes(response) == ["Sold short 10 ACME at $100.00 for $1,000.00."]
    assert Holding.objects.get(user=shorter).quantity == -10
    assert Balance.objects.get(user=shorter).amount == D("11000.00")
    assert money_problems() == []


def test_a_cover_from_the_ticket_says_the_realized_pnl(sam, shorter, acme):
    sell_short(user=shorter, symbol="ACME", quantity=10)
    acme.price = D("90.00")
    acme.save()

    response = post(sam, side="buy_to_cover")

    assert response.status_code == 302
    assert flashes(response) == [
        "Bought to cover 10 ACME at $90.00 for $900.00 (realized +$100.00)."
    ]
    assert not Holding.objects.filter(user=shorter).exists()
    assert money_problems() == []


@pytest.mark.parametrize(
    ("side", "fields", "held"),
    [
        ("sell_short", {"limit_price": "120"}, "Nothing is held for it"),
        ("buy_to_cover", {"limit_price": "80"}, "10 of your short ACME shares are held for it."),
    ],
)
def test_a_resting_short_order_says_what_it_holds(sam, shorter, acme, side, fields, held):
    if side == "buy_to_cover":
        sell_short(user=shorter, symbol="ACME", quantity=30)

    response = post(sam, side=side, type="limit", duration="gtc", **fields)

    assert response.status_code == 302
    (flash,) = flashes(response)
    label = "Sell short" if side == "sell_short" else "Buy to cover"
    assert flash.startswith(f"Order placed: {label} 10 ACME if the price ")
    assert held in flash
    order = Order.objects.get(user=shorter, status="open")
    assert order.side == side


def test_cancelling_a_buy_to_cover_frees_the_short_shares(sam, shorter, acme):
    sell_short(user=shorter, symbol="ACME", quantity=30)
    order = place_order(
        user=shorter,
        request=order_request(
            side="buy_to_cover", type="limit", symbol="ACME", quantity=10, limit_price="80"
        ),
    )

    response = sam.post(reverse("trading:cancel_order", args=[order.pk]))

    assert response.status_code == 302
    assert flashes(response) == [
        "Cancelled: Buy to cover 10 ACME if the price falls to $80.00 or less; good for "
        "today. 10 short ACME shares are free to cover again."
    ]


@pytest.mark.parametrize(
    ("side", "quantity", "message"),
    [
        ("buy_to_cover", "11", "short"),  # covering more than the short position
        ("sell_short", "10", "You own 1 share of ACME: sell them before you sell short."),
        ("buy", "1", "short"),  # buying while short
        ("sell", "1", ""),  # selling shares one does not own
    ],
)
def test_a_refused_short_order_is_a_400_with_the_reason(
    sam, shorter, acme, side, quantity, message
):
    if side == "sell_short":
        buy(user=shorter, symbol="ACME", quantity=1)
    else:
        sell_short(user=shorter, symbol="ACME", quantity=10)
    before = state(shorter)

    response = post(sam, side=side, quantity=quantity)

    assert response.status_code == 400
    assert message in text(response)
    assert state(shorter) == before


def test_a_stock_under_the_lowest_price_to_short_is_refused(sam, shorter):
    PriceFactory(symbol="PENNY", price=D("4.99"))
    before = state(shorter)

    response = post(sam, symbol="PENNY")

    assert response.status_code == 400
    assert "does not allow selling short below $5.00 a share; PENNY is at $4.99" in text(response)
    assert state(shorter) == before


@pytest.mark.parametrize(
    "fields",
    [
        {"side": "sell_shorts"},
        {"side": "buy_to_cover", "quantity": "-3"},
        {"side": "sell_short", "type": "limit", "limit_price": "abc"},
        {"side": "sell_short", "type": "stop", "stop_price": "150"},  # a sell stop above
        {"side": "buy_to_cover", "symbol": "NOPE"},
        {"side": "sell_short", "type": "trailing_stop", "trail_percent": "99"},
        {"side": ["sell_short", "buy_to_cover"]},
    ],
)
def test_bad_input_on_a_short_side_is_a_400_never_a_500(sam, shorter, acme, fields):
    before = state(shorter)

    response = post(sam, **fields)

    assert response.status_code == 400
    assert state(shorter) == before


# The ticket in a class without short selling --------------------------------------------


@pytest.mark.parametrize("side", ["sell_short", "buy_to_cover"])
def test_without_the_class_switch_the_ticket_is_as_before(carl, acme, side):
    response = carl.get(NEW + f"?side={side}")
    plain = carl.get(NEW)

    def page(response):  # without its one-time and CSRF tokens
        return re.sub(r'value="[A-Za-z0-9_-]{30,}"', "", response.content.decode())

    assert response.status_code == 200
    assert page(response) == page(plain)
    words = text(response)
    assert "Buy shares" in words
    assert "Sell short" not in words and "Buy to cover" not in words


def test_without_the_class_switch_a_short_sale_gets_the_rule_message(carl, cash_only, acme):
    before = state(cash_only)

    response = post(carl)

    assert response.status_code == 400
    words = text(response)
    assert "Your class does not allow selling short: you can sell only shares you own." in words
    assert "Buy shares" in words and "Sell short" not in words
    assert state(cash_only) == before


# What the trading pages show of a short position ----------------------------------------


def test_the_sell_ticket_does_not_offer_a_short_position(sam, shorter, acme, zed):
    sell_short(user=shorter, symbol="ACME", quantity=50)
    buy(user=shorter, symbol="ZED", quantity=3)

    response = sam.get(SELL)

    assert list(options(response)) == ["ZED"]


def test_the_quote_pages_ticket_shows_a_short_position_and_no_shares_to_sell(sam, shorter, acme):
    sell_short(user=shorter, symbol="ACME", quantity=50)

    response = sam.get(QUOTE)

    page = response.content.decode()
    assert response.status_code == 200
    assert '<dd class="col-6 num mb-1">Short 50</dd>' in page
    assert 'data-held="0"' in page
    assert '<option value="sell" disabled>Sell (no shares to sell)</option>' in page
    assert "-50" not in text(response)


def test_history_shows_short_sales_and_covers_and_filters_them(sam, shorter, acme):
    sell_short(user=shorter, symbol="ACME", quantity=10)
    acme.price = D("90.00")
    acme.save()
    buy_to_cover(user=shorter, symbol="ACME", quantity=4)

    page = sam.get(HISTORY)
    shorts = sam.get(HISTORY + "?operation=short")
    covers = sam.get(HISTORY + "?operation=cover")
    csv = b"".join(sam.get(HISTORY + "?format=csv").streaming_content).decode()

    html = page.content.decode()
    assert '<span class="badge side-badge side-short">Sell short</span>' in html
    assert '<span class="badge side-badge side-cover">Buy to cover</span>' in html
    assert "+$40.00" in text(page)  # the cover's realized P/L, as a sale's shows
    assert 'value="short"' in html and ">Sell short</option>" in html
    assert "side-cover" not in shorts.content.decode()
    assert "side-short" not in covers.content.decode()
    assert ",ACME,Sell short,10,100.00,1000.00," in csv
    assert ",ACME,Buy to cover,4,90.00,360.00,0.00,40.00" in csv
    # Covers are bought, short sales sold, in the page's totals.
    assert "$360.00" in text(page) and "$1,000.00" in text(page)


def test_the_orders_page_shows_the_short_sides_and_what_they_hold(sam, shorter, acme):
    sell_short(user=shorter, symbol="ACME", quantity=30)
    for side, price in (("buy_to_cover", "80"), ("sell_short", "120")):
        place_order(
            user=shorter,
            request=order_request(
                side=side, type="limit", symbol="ACME", quantity=10, limit_price=price
            ),
        )

    page = sam.get(ORDERS)
    covers = sam.get(ORDERS + "?side=buy_to_cover")
    csv = b"".join(sam.get(ORDERS + "?format=csv").streaming_content).decode()
    panel = open_orders_panel(user=shorter)

    words = text(page)
    html = page.content.decode()
    assert '<span class="badge side-badge side-sell_short">Sell short</span>' in html
    assert '<span class="badge side-badge side-buy_to_cover">Buy to cover</span>' in html
    assert "10 short shares" in words and "Nothing" in words
    assert "side-sell_short" not in covers.content.decode()
    assert ",ACME,Buy to cover,Limit,10,80.00," in csv
    assert ",ACME,Sell short,Limit,10,120.00," in csv
    assert ",ACME,Sell short,Market,30," in csv
    assert [order.side for order in panel["orders"]] == ["sell_short", "buy_to_cover"]


def test_the_open_orders_panel_says_what_short_orders_hold(sam, shorter, acme):
    sell_short(user=shorter, symbol="ACME", quantity=30)
    place_order(
        user=shorter,
        request=order_request(
            side="buy_to_cover", type="limit", symbol="ACME", quantity=10, limit_price="80"
        ),
    )
    place_order(
        user=shorter,
        request=order_request(
            side="sell_short", type="limit", symbol="ACME", quantity=5, limit_price="120"
        ),
    )

    response = sam.get(reverse("portfolio:dashboard"))

    assert response.status_code == 200
    section = response.content.decode().split('id="open-orders-panel"')[1].split("</section>")[0]
    words = " ".join(re.sub(r"<[^>]+>", " ", section).split())
    assert "Sell short 5 ACME" in words and "Nothing" in words
    assert "Buy to cover 10 ACME" in words and "10 short shares" in words


# Queries --------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 40])
@pytest.mark.parametrize("side", ["sell_short", "buy_to_cover"])
def test_the_short_tickets_run_a_fixed_number_of_queries(
    sam, shorter, n, side, django_assert_num_queries
):
    for i in range(n):
        PriceFactory(symbol=f"S{i}", price=D("10.00"))
        sell_short(user=shorter, symbol=f"S{i}", quantity=1)

    # session, user, the class's rules, holdings, prices, cash, the margin call banner's
    # open call: as /trading/buy/ in a class
    with django_assert_num_queries(7):
        response = sam.get(NEW + f"?side={side}&symbol=S0")

    assert response.status_code == 200
    assert response.content.decode().count('<option value="S') == n


def test_a_refused_short_sale_runs_a_fixed_number_of_queries(
    sam, shorter, acme, django_assert_num_queries
):
    for i in range(20):
        PriceFactory(symbol=f"S{i}")
    with django_assert_num_queries(7):
        response = sam.post(NEW, {"symbol": "ACME", "side": "sell_short", "quantity": "0"})

    assert response.status_code == 400


def test_the_trade_model_knows_the_new_operations():
    assert dict(Trade.Operation.choices)["short"] == "Sell short"
    assert dict(Order.Side.choices)["buy_to_cover"] == "Buy to cover"
