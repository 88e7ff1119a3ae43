"""A student's whole journey over HTTP, the way a browser makes it.

Read this first: it shows what TradeSim does, in the order a student meets it —
register, join a class with its code, log in, move cash, look up a quote, buy, watch the
market move on her teacher's news, sell, read the portfolio and the history, place an order
that waits and cancel it, read the journal, the statistics and the leaderboard, trade
from a program through the JSON API, place an order after school that waits for the
market's open, buy on margin and sell short once her teacher allows it, and be paid a
dividend and see a split keep her value as the market writes the news, and log in with
the card her teacher printed for the first minute of a lesson.
Every step goes through the public URLs; the database is only read to check the money.
"""

import csv
import io
import re
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.core.management import call_command
from django.test import Client

from ledger.models import Balance, Transaction
from portfolio.models import Holding
from prices.models import QUARTER_DAYS, MarketState, Price
from tests.clock import closed_now
from tests.instructors.helpers import form_data
from trading.models import Trade
from trading.services import fill_orders

PASSWORD = "Tr4ding-Floor-2026"


def token_from(page: str) -> str:
    """The one-time token of the form on a page, as a browser would submit it."""
    match = re.search(r'name="token" value="([0-9a-f]+)"', page)
    assert match, "the form carries a one-time token"
    return match.group(1)


def body_of(response) -> str:
    """A page or a streamed export, as text."""
    return response.getvalue().decode()


def cash_of(username: str) -> Decimal:
    return Balance.objects.get(user__username=username).amount


@pytest.fixture
def market(db):
    call_command("load_market", stdout=io.StringIO())


@pytest.mark.django_db
def test_a_students_journey(market, settings, django_capture_on_commit_callbacks):
    browser = Client()

    # 1. Sign up: an account with the starting cash, logged in, sent to the dashboard;
    #    then join her class.
    response = browser.post(
        "/accounts/register/",
        {
            "username": "maya",
            "email": "maya@school.example",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/portfolio/"
    assert "You start with $10,000.00" in response.content.decode()
    assert cash_of("maya") == Decimal("10000.00")

    # Her teacher sets up the class from a script and reads out its code; she joins with
    # it, typed her own way, and starts with the class's cash like everyone in it.
    out = io.StringIO()
    call_command(
        "create_instructor",
        "mr.osei",
        email="osei@school.example",
        password=PASSWORD,
        stdout=io.StringIO(),
    )
    call_command(
        "create_class",
        "Economics 101",
        owner=["mr.osei"],
        rule=["starting_cash=25000", "max_position_percent=50"],
        stdout=out,
    )
    code = out.getvalue().splitlines()[-1]
    typed = f"{code[:4]}-{code[4:]}".lower()
    response = browser.post("/classes/join/", {"code": typed}, follow=True)
    assert "You joined Economics 101. You start with $25,000.00" in response.content.decode()
    assert cash_of("maya") == Decimal("25000.00")

    # 2. Log out and back in.
    browser.post("/accounts/logout/")
    assert browser.get("/portfolio/").status_code == 302
    response = browser.post("/accounts/login/", {"username": "maya", "password": PASSWORD})
    assert response.status_code == 302

    # 3. Deposit $500, with the form's one-time token; a double-click makes one deposit.
    token = token_from(browser.get("/ledger/deposit/").content.decode())
    response = browser.post("/ledger/deposit/", {"amount": "500.00", "token": token}, follow=True)
    assert "Your balance is now $25,500.00" in response.content.decode()
    browser.post("/ledger/deposit/", {"amount": "500.00", "token": token})
    assert cash_of("maya") == Decimal("25500.00")

    # 4. Withdraw $200; asking for more than there is changes nothing and says why.
    token = token_from(browser.get("/ledger/withdraw/").content.decode())
    browser.post("/ledger/withdraw/", {"amount": "200", "token": token})
    assert cash_of("maya") == Decimal("25300.00")
    response = browser.post("/ledger/withdraw/", {"amount": "99999"})
    assert response.status_code == 400
    assert "You can&#x27;t withdraw $99,999.00" in response.content.decode()
    assert cash_of("maya") == Decimal("25300.00")

    # 5. Look up a quote: the market page lists it, a lower-case symbol is redirected.
    assert "AAPL" in browser.get("/prices/").content.decode()
    assert browser.get("/prices/aapl/").url == "/prices/AAPL/"
    quote_page = browser.get("/prices/AAPL/").content.decode()
    price = Price.objects.get(symbol="AAPL").price
    assert f"{price:,.2f}" in quote_page

    # 6. Buy 10 AAPL from the order ticket; cash goes down by exactly the total.
    token = token_from(browser.get("/trading/buy/?symbol=AAPL").content.decode())
    response = browser.post(
        "/trading/buy/", {"symbol": "AAPL", "quantity": "10", "token": token}, follow=True
    )
    total = (price * 10).quantize(Decimal("0.01"))
    assert f"Bought 10 AAPL at ${price:,.2f} for ${total:,.2f}" in response.content.decode()
    assert cash_of("maya") == Decimal("25300.00") - total
    assert Holding.objects.get(user__username="maya", stock_id="AAPL").quantity == 10

    # Buying more than the cash covers is refused with a message, and nothing changes.
    response = browser.post("/trading/buy/", {"symbol": "AAPL", "quantity": "100000"})
    assert response.status_code == 400
    assert Trade.objects.filter(user__username="maya").count() == 1

    # 7. Her teacher schedules news in the console; the operator moves the market, the news
    #    moves AAPL, and she reads it on the market page and on AAPL's quote.
    teacher = Client()
    teacher.post("/admin/login/", {"username": "mr.osei", "password": PASSWORD})
    news = {"stock": "AAPL", "sector": "", "percent": "-8", "reason": "Flagship phone recalled"}
    assert teacher.post("/admin/prices/marketevent/add/", news).status_code == 302
    call_command("tick_prices", ticks=5, seed=7, stdout=io.StringIO())
    new_price = Price.objects.get(symbol="AAPL").price
    for page in ("/prices/", "/prices/AAPL/"):
        text = browser.get(page).content.decode()
        assert "Market news" in text and "−8.0 %" in text and "Flagship phone recalled" in text

    # 8. Sell 4 at the new price; the realized P/L is against the average cost.
    token = token_from(browser.get("/trading/sell/?symbol=AAPL").content.decode())
    browser.post("/trading/sell/", {"symbol": "AAPL", "quantity": "4", "token": token})
    sell = Trade.objects.get(user__username="maya", operation="sell")
    assert sell.price == new_price
    assert sell.realized_pnl == (new_price * 4).quantize(Decimal("0.01")) - (price * 4)
    assert Holding.objects.get(user__username="maya", stock_id="AAPL").quantity == 6

    # 9. The portfolio: cash, the holding, and its value at the current price.
    dashboard = browser.get("/portfolio/").content.decode()
    assert "AAPL" in dashboard
    value = cash_of("maya") + new_price * 6
    assert f"{value:,.2f}" in dashboard

    # She doesn't know what "time-weighted return" means: the "?" beside it says it in a
    # sentence and links to the glossary, which has the whole entry at that anchor.
    explained = re.search(
        r'<details class="explain" id="explain-live-time-weighted-return".*?</details>',
        dashboard,
        re.DOTALL,
    )
    assert explained and "<summary" in explained[0]
    assert "Your return from your choices alone" in explained[0]
    link = re.search(r'href="([^"#]+)#([a-z-]+)"', explained[0])
    assert link[2] == "time-weighted-return"
    glossary = browser.get(link[1])
    assert glossary.status_code == 200
    assert 'id="time-weighted-return"' in glossary.content.decode()

    # 10. The trade history, filtered and exported.
    history = browser.get("/trading/?symbol=AAPL&operation=sell").content.decode()
    assert "Sell" in history
    rows = list(csv.reader(io.StringIO(body_of(browser.get("/trading/?format=csv")))))
    assert len(rows) == 1 + 2  # header + two trades

    # 11. Orders that wait. A limit buy of 5 AAPL a fifth below the price, from the order
    #     ticket, holds its cost out of her cash. She finds it among her open orders and
    #     on her dashboard, cancels it there, and the cash is free to spend again.
    maya = Balance.objects.get(user__username="maya").user
    limit = (new_price * Decimal("0.8")).quantize(Decimal("0.01"))
    ticket = "/trading/orders/new/?symbol=AAPL&side=buy"
    order_form = {"symbol": "AAPL", "side": "buy", "type": "limit", "quantity": "5"}
    response = browser.post(
        "/trading/orders/new/",
        {
            **order_form,
            "limit_price": str(limit),
            "duration": "day",
            "token": token_from(browser.get(ticket).content.decode()),
        },
        follow=True,
    )
    held = (limit * 5).quantize(Decimal("0.01"))
    placed = f"Buy 5 AAPL if the price falls to ${limit:,.2f} or less; good for today"
    assert f"Order placed: {placed}" in response.content.decode()
    assert Balance.objects.get(user=maya).held == held
    open_orders = browser.get("/trading/orders/?status=open").content.decode()
    assert placed in open_orders
    order = maya.orders.get(status="open")
    assert f'action="/trading/orders/{order.pk}/cancel/"' in open_orders
    dashboard = browser.get("/portfolio/").content.decode()
    assert "Held for open orders" in dashboard and f"${held:,.2f}" in dashboard
    response = browser.post(
        f"/trading/orders/{order.pk}/cancel/", {"next": "/portfolio/"}, follow=True
    )
    assert f"${held:,.2f} is free again." in response.content.decode()
    assert "Held for open orders" not in response.content.decode()
    assert Balance.objects.get(user=maya).held == 0
    assert "Cancelled" in browser.get("/trading/orders/?status=cancelled").content.decode()

    #     A limit sell of 1 AAPL a cent above the price waits; the market rises to it and
    #     the next tick's fills sell it at the new price, which she is told on her next page.
    target = new_price + Decimal("0.01")
    browser.post(
        "/trading/orders/new/",
        {
            **order_form,
            "side": "sell",
            "quantity": "1",
            "limit_price": str(target),
            "duration": "gtc",
            "token": token_from(browser.get(ticket).content.decode()),
        },
    )
    assert maya.holdings.get(stock_id="AAPL").held_quantity == 1
    Price.objects.filter(symbol="AAPL").update(price=target + Decimal("1.00"))
    with django_capture_on_commit_callbacks(execute=True):
        assert str(fill_orders()) == "orders: 1 filled, 0 rejected, 0 expired"
    news = browser.get("/trading/orders/").content.decode()
    assert f"Your order filled: Sold 1 AAPL at ${target + Decimal('1.00'):,.2f}" in news
    assert "Your order filled" not in browser.get("/trading/orders/").content.decode()
    new_price = target + Decimal("1.00")

    # 12. The cash journal and its statistics; the export holds exactly the filtered rows.
    journal = browser.get("/ledger/").content.decode()
    # Total deposited: both starting cashes (the one set aside on joining too) and hers.
    assert "$35,500.00" in journal
    response = browser.get("/ledger/?type=deposit&format=csv")
    rows = list(csv.reader(io.StringIO(body_of(response))))
    assert len(rows) == 1 + 3  # header + two starting cashes + one deposit

    # 13. The leaderboard ranks her.
    assert "maya" in browser.get("/portfolio/leaderboard/").content.decode()

    # 14. Her programming class trades through the API. A script logs in for a token, reads
    #     her account (the dashboard's figures, money as strings), buys 2 AAPL with an
    #     Idempotency-Key (a retry makes no second trade), and a refused order answers with a
    #     code and the order ticket's own words.
    script = Client()
    response = script.post(
        "/api/v1/auth/token",
        {"username": "maya", "password": PASSWORD, "name": "my first bot"},
        content_type="application/json",
    )
    assert response.status_code == 201
    bearer = {"Authorization": f"Bearer {response.json()['token']}"}
    account = script.get("/api/v1/account", headers=bearer).json()
    assert account["cash"] == f"{cash_of('maya'):.2f}"
    buy = {"symbol": "AAPL", "quantity": 2}
    retry = {**bearer, "Idempotency-Key": "maya-buy-1"}
    first = script.post("/api/v1/orders", buy, content_type="application/json", headers=retry)
    again = script.post("/api/v1/orders", buy, content_type="application/json", headers=retry)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["trade"]["price"] == f"{new_price:.2f}"
    assert maya.trades.count() == 4
    too_many = {"symbol": "AAPL", "quantity": 500, "side": "sell"}
    refused = script.post(
        "/api/v1/orders", too_many, content_type="application/json", headers=bearer
    )
    assert refused.status_code == 400
    assert refused["Content-Type"] == "application/problem+json"
    assert refused.json()["code"] == "insufficient_shares"

    # 15. The school keeps market hours (MARKET_HOURS). After school every page says the
    #     market is closed and when it opens; a ticker left running ends the trading day and
    #     then leaves the market alone. Her
    #     market buy from the buy page waits for the open, holding its cost, and the first
    #     tick after the open fills it.
    settings.MARKET_HOURS = closed_now()
    portfolio_page = browser.get("/portfolio/").content.decode()
    assert "Market closed</strong>, opens" in portfolio_page
    # The ticker's first look after the close ends the trading day; then it waits.
    ticks_before = MarketState.objects.get().ticks
    with django_capture_on_commit_callbacks(execute=True):
        call_command("tick_prices", stdout=io.StringIO())
        call_command("tick_prices", stdout=io.StringIO())
    assert MarketState.objects.get().ticks == ticks_before + 1
    page = browser.get("/trading/buy/?symbol=AAPL").content.decode()
    assert "A market order waits for the open" in page
    response = browser.post(
        "/trading/buy/", {"symbol": "AAPL", "quantity": "1", "token": token_from(page)}
    )
    assert response.status_code == 302
    waiting = maya.orders.get(status="open")
    assert Balance.objects.get(user=maya).held == waiting.held_cash > 0
    settings.MARKET_HOURS = None  # morning: the market opens
    with django_capture_on_commit_callbacks(execute=True):
        call_command("tick_prices", stdout=io.StringIO())
    waiting.refresh_from_db()
    assert waiting.status == "filled" and Balance.objects.get(user=maya).held == 0

    # 16. Margin and short selling. Her teacher turns both on in the class's admin page
    #     (and lifts the most-in-one-stock limit). She buys more than her cash covers: the
    #     rest is a margin loan, her dashboard shows it with her equity and margin level,
    #     and a sale repays it. She sells MSFT short from the order ticket, its proceeds
    #     are cash, her dashboard says "Short 10", and she buys to cover.
    change = f"/admin/classrooms/classroom/{maya.classroom_id}/change/"
    data = form_data(teacher.get(change).content.decode(), "classroom_form")
    data.update({"margin": ["on"], "short_selling": ["on"], "max_position_percent": [""]})
    assert teacher.post(change, data).status_code == 302
    rules = browser.get("/classes/rules/").content.decode()
    assert "Margin" in rules and "Short selling" in rules

    aapl = Price.objects.get(symbol="AAPL").price
    cash = cash_of("maya")
    shares = int((cash + 5000) // aapl)  # about $5,000 more than her cash
    token = token_from(browser.get("/trading/buy/?symbol=AAPL").content.decode())
    response = browser.post(
        "/trading/buy/", {"symbol": "AAPL", "quantity": str(shares), "token": token}
    )
    assert response.status_code == 302
    loan = -cash_of("maya")
    assert loan > 0
    dashboard = browser.get("/portfolio/").content.decode()
    assert "Margin loan" in dashboard and f"${loan:,.2f}" in dashboard
    assert "Margin level" in dashboard and "Buying power" in dashboard
    token = token_from(browser.get("/trading/sell/?symbol=AAPL").content.decode())
    browser.post("/trading/sell/", {"symbol": "AAPL", "quantity": str(shares), "token": token})
    assert cash_of("maya") > 0
    assert Balance.objects.get(user=maya).loan_limit == 0  # repaid: no loan allowed now

    msft = Price.objects.get(symbol="MSFT").price
    ticket = "/trading/orders/new/?symbol=MSFT&side=sell_short"
    short = {"symbol": "MSFT", "side": "sell_short", "type": "market", "quantity": "10"}
    response = browser.post(
        "/trading/orders/new/",
        {**short, "token": token_from(browser.get(ticket).content.decode())},
        follow=True,
    )
    proceeds = (msft * 10).quantize(Decimal("0.01"))
    assert f"Sold short 10 MSFT at ${msft:,.2f} for ${proceeds:,.2f}" in (response.content.decode())
    assert Holding.objects.get(user=maya, stock_id="MSFT").quantity == -10
    assert "Short 10" in browser.get("/portfolio/").content.decode()
    ticket = "/trading/orders/new/?symbol=MSFT&side=buy_to_cover"
    cover = {**short, "side": "buy_to_cover"}
    response = browser.post(
        "/trading/orders/new/",
        {**cover, "token": token_from(browser.get(ticket).content.decode())},
        follow=True,
    )
    assert "Bought to cover 10 MSFT" in response.content.decode()
    assert not Holding.objects.filter(user=maya, stock_id="MSFT").exists()
    covered = Trade.objects.get(user=maya, operation="cover")
    assert covered.realized_pnl == proceeds - covered.total

    # 17. A market that teaches. The operator closes the trading day. Her teacher sets KO's
    #     dividend for the next day and schedules a 2-for-1 split of AAPL for it, both in
    #     the admin; she buys 10 KO. At the next day's open KO goes ex-dividend and pays
    #     her, AAPL splits (her shares double, their average cost halves, and no value
    #     moves), and the news page tells both. The market page shows the market's mood.
    with django_capture_on_commit_callbacks(execute=True):
        call_command("tick_prices", "--dt", "1", stdout=io.StringIO())  # the close
    opening = MarketState.objects.get(id=1).trading_day + 2  # the day the next tick opens
    ko = Price.objects.get(symbol="KO")
    change = f"/admin/prices/price/{ko.pk}/change/"
    data = form_data(teacher.get(change).content.decode(), "price_form")
    data["dividend_day"] = [str((opening - 1) % QUARTER_DAYS + 1)]
    assert teacher.post(change, data).status_code == 302
    split = {"stock": "AAPL", "ratio": "2-for-1", "days_ahead": "1"}
    assert teacher.post("/admin/prices/split/add/", split).status_code == 302
    quote = browser.get("/prices/AAPL/").content.decode()
    assert f"2-for-1 split on day {opening}" in quote

    token = token_from(browser.get("/trading/buy/?symbol=KO").content.decode())
    browser.post("/trading/buy/", {"symbol": "KO", "quantity": "10", "token": token})
    aapl_before = Holding.objects.get(user=maya, stock_id="AAPL")
    close = Price.objects.get(symbol="KO").price  # the close: the dividend is on it
    per_share = (close * Decimal(str(ko.dividend_yield)) / 4).quantize(Decimal("0.01"))
    with django_capture_on_commit_callbacks(execute=True):
        call_command("tick_prices", stdout=io.StringIO())  # the next day's open

    paid = Transaction.objects.get(user=maya, type="dividend", symbol="KO")
    assert paid.amount == per_share * 10
    aapl = Holding.objects.get(user=maya, stock_id="AAPL")
    assert aapl.quantity == 2 * aapl_before.quantity
    halved = (aapl_before.average_price / 2).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
    assert aapl.average_price == halved
    dashboard = browser.get("/portfolio/").content.decode()
    assert "Dividends" in dashboard and f"${paid.amount:,.2f}" in dashboard
    news = browser.get("/prices/news/").content.decode()
    assert "KO goes ex-dividend" in news and "AAPL splits 2-for-1 today" in news
    assert "Market mood" in browser.get("/prices/").content.decode()

    # 18. The first minute of a lesson. Her teacher prints the class's log-in cards in the
    #     console (each code shown this once, beside its QR code); on a classroom
    #     Chromebook she types hers, however she writes it, and lands on her dashboard
    #     without a password. The log-in ends when the browser closes. A mistyped code is
    #     refused and changes nothing; reloading the printed sheet prints nothing again;
    #     a reprint makes her old card stop working.
    cards = f"/admin/classrooms/classroom/{maya.classroom_id}/cards/"
    print_all = {"action": "print_all", "token": teacher.get(cards).context["card_token"]}
    printed = teacher.post(cards, print_all).content.decode()
    assert teacher.post(cards, print_all).status_code == 409
    code = re.search(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", printed).group(0)
    assert "<svg" in printed and "maya" in printed
    chromebook = Client()
    wrong = code[:-1] + ("0" if code[-1] != "0" else "1")
    assert chromebook.post("/accounts/card/", {"code": wrong}).status_code == 400
    response = chromebook.post("/accounts/card/", {"code": code.lower().replace("-", " ")})
    assert response.status_code == 302 and response["Location"] == "/portfolio/"
    assert chromebook.session.get_expire_at_browser_close()
    assert "maya" in chromebook.get("/portfolio/").content.decode()
    teacher.post(cards, {"action": "print_all", "token": teacher.get(cards).context["card_token"]})
    assert Client().post("/accounts/card/", {"code": code}).status_code == 400

    # 19. The books balance: every balance equals the sum of its journal.
    call_command("check_ledger", stdout=io.StringIO())
    journal_total = sum(t.signed_amount for t in Transaction.objects.filter(user__username="maya"))
    assert journal_total == cash_of("maya")
