"""A momentum trading bot for the TradeSim class market: a starting point for your own.

The idea ("momentum"): a stock that has been rising tends to keep rising for a while,
and one that has been falling tends to keep falling. So, every round, for each symbol
it watches, the bot:

  - looks at the last few prices (GET /api/v1/quotes/<symbol>/history) and the price now
    (GET /api/v1/quotes), and works out how much the price moved, in percent;
  - BUYS a stock that rose by at least --threshold percent, if it holds none;
  - SELLS all of a stock it holds that fell by at least --threshold percent;
  - otherwise holds.

It never spends more than --fraction of your buying power in one round, shared between
the stocks it buys. Run it for a few rounds:

    python momentum_bot.py --url http://127.0.0.1:8000 --token tsk_... \\
        --symbols AAPL,MSFT,NVDA --rounds 10 --interval 60

With --dry-run it only says what it would do. It trades with your class account, under
your class's rules: an order the rules refuse is printed with the reason, and the bot
carries on.

Ideas to make it yours: a stop loss (sell a holding that fell 5 % below what you paid:
GET /api/v1/positions has average_cost); compare each stock with the whole market; trade
more when the move is bigger; keep a log of your decisions in a CSV file and look at
which ones made money; use limit orders ("type": "limit", "limit_price": "101.50").

Only Python's standard library is needed (Python 3.9 or newer). Keep tradesim_api.py in
the same folder.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from decimal import ROUND_DOWN, Decimal

from tradesim_api import Problem, TradeSim, Unreachable, decimal, items, money


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description="Buy what rose, sell what fell, and repeat.")
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the TradeSim server")
    parser.add_argument(
        "--token",
        default=os.environ.get("TRADESIM_TOKEN"),
        help="an API token from the API tokens page; default: $TRADESIM_TOKEN",
    )
    parser.add_argument("--symbols", help="symbols to watch, comma-separated (default: 5 first)")
    parser.add_argument("--lookback", type=int, default=5, help="price points to look back")
    parser.add_argument("--threshold", type=Decimal, default=Decimal("1.0"), help="percent move")
    parser.add_argument(
        "--fraction",
        type=Decimal,
        default=Decimal("0.25"),
        help="most of the buying power to spend in one round (0.25 = a quarter)",
    )
    parser.add_argument("--rounds", type=int, default=10, help="how many rounds to run")
    parser.add_argument("--interval", type=float, default=60, help="seconds between rounds")
    parser.add_argument("--dry-run", action="store_true", help="decide, but place no orders")
    args = parser.parse_args(argv)
    if not args.url.startswith(("http://", "https://")):
        parser.error("--url must start with http:// or https://")
    if not args.token:
        parser.error("give --token, or set TRADESIM_TOKEN")
    if args.lookback < 2:
        parser.error("--lookback must be at least 2 (a move needs two prices)")
    if not Decimal("0") < args.fraction <= Decimal("1"):
        parser.error("--fraction must be more than 0 and at most 1")
    if args.rounds < 1 or args.interval < 0:
        parser.error("--rounds must be at least 1 and --interval not negative")
    return args


def main(argv=None) -> int:
    args = parse_arguments(argv)
    api = TradeSim(args.url, args.token)
    try:
        symbols = watch_list(api, args.symbols)
        start = api.get("/account")
    except Unreachable as error:
        print(f"Error: {error}. Is the server running, and is --url right?", file=sys.stderr)
        return 2
    except Problem as problem:
        print(f"Error: {problem.status} {problem.code}: {problem.detail}", file=sys.stderr)
        return 2
    print(f"Momentum bot on {api.base}, watching {', '.join(symbols)}")
    print(
        f"Buy after a rise of {args.threshold} % or more over {args.lookback} prices, sell "
        f"after a fall as large; spend at most {args.fraction * 100:.0f} % of the buying "
        f"power a round.{' (Dry run: no orders.)' if args.dry_run else ''}"
    )

    placed = refused = 0
    for number in range(1, args.rounds + 1):
        try:
            done = one_round(api, args, symbols, number)
        except Unreachable as error:
            print(f"Error: {error}", file=sys.stderr)
            return 2
        except Problem as problem:
            # A read that failed (the market, your account): skip this round, try the next.
            print(f"  This round is skipped: {problem.code}: {problem.detail}")
            done = (0, 0)
        placed += done[0]
        refused += done[1]
        if number < args.rounds:
            time.sleep(args.interval)

    try:
        end = api.get("/account")
    except (Unreachable, Problem) as error:
        print(f"Done: {plural(args.rounds, 'round')}, {plural(placed, 'order')} placed ({error}).")
        return 0
    change = decimal(end["total_value"]) - decimal(start["total_value"])
    print()
    print(
        f"Done: {plural(args.rounds, 'round')}, {plural(placed, 'order')} placed, {refused} "
        f"refused. Total value "
        f"{money(start['total_value'])} -> {money(end['total_value'])} ({money(change)})."
    )
    return 0


def plural(number: int, word: str) -> str:
    return f"{number} {word}{'' if number == 1 else 's'}"


def watch_list(api: TradeSim, given: str | None) -> list[str]:
    """The symbols to watch: those given, or the first five stocks of the market (its
    index fund aside)."""
    if given:
        return [s.strip().upper() for s in given.split(",") if s.strip()]
    stocks = [quote for quote in items(api.get("/quotes")) if not quote.get("is_index")]
    return [quote["symbol"] for quote in stocks[:5]]


def one_round(api: TradeSim, args, symbols: list[str], number: int) -> tuple[int, int]:
    """Look, decide, trade. Returns (orders placed, orders refused)."""
    print()
    print(f"Round {number} of {args.rounds}")
    account = api.get("/account")
    held = {p["symbol"]: int(p["quantity"]) for p in items(api.get("/positions"))}
    quotes = items(api.get("/quotes", symbols=",".join(symbols)))
    prices = {q["symbol"]: decimal(q["price"]) for q in quotes}
    budget = (decimal(account["buying_power"]) * args.fraction).quantize(Decimal("0.01"))
    print(f"  Buying power {money(account['buying_power'])}, budget this round {money(budget)}")

    # First decide everything, then trade: the budget is shared by this round's buys.
    buys, sells = [], []
    for symbol in symbols:
        if symbol not in prices:
            print(f"  {symbol:<6} no quote: skipped")
            continue
        move = percent_move(api, symbol, prices[symbol], args.lookback)
        if move is None:
            print(f"  {symbol:<6} not enough price history yet: hold")
            continue
        shares = held.get(symbol, 0)
        if move >= args.threshold and shares == 0:
            buys.append(symbol)
            verdict = "BUY"
        elif move <= -args.threshold and shares > 0:
            sells.append((symbol, shares))
            verdict = f"SELL all {shares}"
        else:
            verdict = "hold" + (f" ({shares} held)" if shares else "")
        print(f"  {symbol:<6} {move:+.2f} % at {money(prices[symbol])}: {verdict}")

    orders = []
    for symbol, shares in sells:
        orders.append({"symbol": symbol, "quantity": shares, "side": "sell"})
    if buys:
        each = budget / len(buys)  # the same amount for every stock bought this round
        for symbol in buys:
            quantity = int((each / prices[symbol]).to_integral_value(rounding=ROUND_DOWN))
            if quantity < 1:
                print(f"  {symbol:<6} one share costs more than {money(each)}: not bought")
                continue
            orders.append({"symbol": symbol, "quantity": quantity, "side": "buy"})

    placed = refused = 0
    for order in orders:
        what = f"{order['side'].upper()} {order['quantity']} {order['symbol']}"
        if args.dry_run:
            print(f"  (dry run) would {what}")
            continue
        try:
            # A market order; tradesim_api sends it with an Idempotency-Key.
            answer = api.post("/orders", {**order, "type": "market"})
        except Problem as problem:
            refused += 1
            print(f"  {what}: refused ({problem.code}): {problem.detail}")
            continue
        placed += 1
        trade = answer.get("trade") or {}
        price = f" at {money(trade['price'])}" if trade.get("price") else ""
        print(f"  {what}: order #{answer['id']} {answer['status']}{price}")
    return placed, refused


def percent_move(api: TradeSim, symbol: str, price_now: Decimal, lookback: int):
    """How much the price moved over the last `lookback` prices, in percent (+2.5 means
    it rose 2.5 %), or None without enough history."""
    points = items(api.get(f"/quotes/{symbol}/history", limit=lookback))
    # Oldest first, whatever order they came in; the last `lookback` of them.
    points = sorted(points, key=lambda p: p.get("timestamp", ""))[-lookback:]
    if len(points) < 2:
        return None
    first = decimal(points[0]["price"])
    return ((price_now - first) / first * 100).quantize(Decimal("0.01"))


if __name__ == "__main__":
    sys.exit(main())
