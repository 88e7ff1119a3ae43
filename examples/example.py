"""TradeSim API: the usage example.

Walks through what a program can do with your account, printing each step:

  1. your account         GET  /api/v1/account
  2. a deposit            POST /api/v1/deposits
  3. a quote              GET  /api/v1/quotes?symbols=...
  4. a buy                POST /api/v1/orders   (and the same request again: no second buy)
  5. a sell               POST /api/v1/orders
  6. your portfolio       GET  /api/v1/positions
  7. your history         GET  /api/v1/trades and /api/v1/journal
  8. statistics           worked out here, from your trades and journal

Run it against a TradeSim server with a token from the API tokens page of your account:

    python example.py --url http://127.0.0.1:8000 --token tsk_...

Or put the token in the TRADESIM_TOKEN environment variable and leave out --token (then
it stays out of your shell's history). Or log in with your username: it asks for your
password and makes a new token named "example.py":

    python example.py --url http://127.0.0.1:8000 --username maya

It really trades: it deposits $100.00 and buys and sells a few shares (see --help).
Only Python's standard library is needed (Python 3.9 or newer).

Exit status: 0 when every step worked, 1 when the API refused a step (the reason is
printed), 2 when it could not start (no server, wrong token, bad arguments).
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import uuid
from decimal import Decimal

from tradesim_api import Problem, TradeSim, Unreachable, decimal, items, money


def main(argv=None) -> int:
    args = parse_arguments(argv)
    api = TradeSim(args.url, args.token)
    print(f"TradeSim API example, against {api.base}")
    try:
        if not args.token:
            password = args.password or getpass.getpass(f"Password for {args.username}: ")
            made = api.log_in(args.username, password, args.token_name)
            print(
                f"Logged in as {args.username}: new token {made['token'][:8]}... named "
                f"{made['name']!r} (revoke it on the API tokens page of your account)."
            )
        walk = Walk(api, args)
        walk.run()
    except Unreachable as error:
        print(f"Error: {error}. Is the server running, and is --url right?", file=sys.stderr)
        return 2
    except Problem as problem:
        # Only the log-in and the first request get here: the steps catch their own.
        print(f"Error: {problem.status} {problem.code}: {problem.detail}", file=sys.stderr)
        return 2
    refused = len(walk.refused)
    print()
    print(f"Done: {len(walk.steps)} steps, {refused} refused.")
    if refused:
        print("Refused: " + ", ".join(walk.refused))
    return 1 if refused else 0


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description="Walk through the TradeSim API, step by step.")
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the TradeSim server")
    parser.add_argument(
        "--token",
        default=os.environ.get("TRADESIM_TOKEN"),
        help="an API token (tsk_...) from the API tokens page; default: $TRADESIM_TOKEN",
    )
    parser.add_argument("--username", help="log in with this username instead of a token")
    parser.add_argument("--password", help="its password (asked for when left out)")
    parser.add_argument("--token-name", default="example.py", help="name of the new token")
    parser.add_argument("--symbol", help="the stock to quote, buy and sell (default: the first)")
    parser.add_argument("--quantity", type=int, default=2, help="shares to buy (default 2)")
    parser.add_argument("--deposit", default="100.00", help="dollars to deposit (default 100.00)")
    args = parser.parse_args(argv)
    if not args.url.startswith(("http://", "https://")):
        parser.error("--url must start with http:// or https://")
    if not args.token and not args.username:
        parser.error("give --token, or --username (and --password) to make a token")
    if args.quantity < 1:
        parser.error("--quantity must be at least 1")
    return args


class Walk:
    """The steps, in order. Each prints what it asked and what it got; a refused step
    prints the problem's code and detail, and the walk goes on."""

    def __init__(self, api: TradeSim, args):
        self.api = api
        self.args = args
        self.symbol = args.symbol.upper() if args.symbol else None
        self.refused: list[str] = []
        self.trades: list[dict] = []
        self.journal: list[dict] = []
        self.steps = [
            ("Your account", self.account),
            (f"Deposit ${args.deposit}", self.deposit),
            ("A quote", self.quote),
            (f"Buy {args.quantity} shares", self.buy),
            ("Sell some back", self.sell),
            ("Your portfolio", self.portfolio),
            ("Your history", self.history),
            ("Statistics, from your trades and journal", self.statistics),
        ]

    def run(self):
        for number, (title, step) in enumerate(self.steps, start=1):
            print()
            print(f"== {number}. {title} ==")
            if number == 1:
                # Outside the guard: without the account (a wrong token, say) there is
                # no point in going on.
                step()
                continue
            try:
                step()
            except Problem as problem:
                self.refused.append(step.__name__)
                show_problem(problem)

    # The steps --------------------------------------------------------------------------

    def account(self):
        account = self.api.get("/account")
        rows = [
            ("Cash", money(account["cash"])),
            ("Held for open orders", money(account["held_for_orders"])),
            ("Buying power", money(account["buying_power"])),
            ("Shares' market value", money(account["market_value"])),
            ("Total value", money(account["total_value"])),
            ("Total return", _return(account)),
        ]
        classroom = account.get("classroom")
        rank = account.get("rank")
        if classroom:
            place = ""
            if rank and rank.get("rank"):
                place = f" (rank {rank['rank']} of {rank['of']}, by {rank['metric']})"
            rows.append(("Class", classroom["name"] + place))
        show_rows(rows)

    def deposit(self):
        row = self.api.post(
            "/deposits", {"amount": self.args.deposit, "description": "From example.py"}
        )
        print(
            f"  Deposited {money(row['amount'])}: cash is now {money(row['balance_after'])} "
            f"(journal row #{row['id']})."
        )

    def quote(self):
        if self.symbol is None:
            # No --symbol: the first stock of the market (not its index fund).
            quotes = [q for q in items(self.api.get("/quotes")) if not q.get("is_index")]
            if not quotes:
                raise Problem(404, {"code": "not_found", "detail": "The market has no stocks."})
            self.symbol = quotes[0]["symbol"]
        found = items(self.api.get("/quotes", symbols=self.symbol))
        quote = next((q for q in found if q.get("symbol") == self.symbol), None)
        if quote is None:
            raise Problem(404, {"code": "unknown_symbol", "detail": f"No quote for {self.symbol}."})
        line = f"  {self.symbol}  {money(quote['price'])}"
        if quote.get("previous_close") is not None:
            previous = decimal(quote["previous_close"])
            change = decimal(quote["price"]) - previous
            percent = (change / previous * 100) if previous else Decimal("0")
            line += f"  (previous close {money(previous)}, {change:+.2f}, {percent:+.2f} %)"
        print(line)

    def buy(self):
        symbol = self.need_symbol()
        key = str(uuid.uuid4())
        order = {"symbol": symbol, "quantity": self.args.quantity, "side": "buy", "type": "market"}
        placed = self.api.post("/orders", order, key=key)
        show_order(placed)
        # The same request with the same Idempotency-Key, as a program would send it again
        # after losing the answer: the API answers with the first order, and buys nothing.
        again = self.api.post("/orders", order, key=key)
        replayed = self.api.last_headers.get("idempotent-replayed") == "true"
        print(
            f"  Sent again with the same Idempotency-Key: order #{again['id']} "
            f"({'replayed' if replayed else 'NOT replayed'}, status {self.api.last_status}), "
            f"nothing bought twice."
        )

    def sell(self):
        symbol = self.need_symbol()
        quantity = max(1, self.args.quantity // 2)
        order = {"symbol": symbol, "quantity": quantity, "side": "sell", "type": "market"}
        show_order(self.api.post("/orders", order))

    def portfolio(self):
        positions = items(self.api.get("/positions"))
        if not positions:
            print("  No shares held.")
        else:
            print(
                f"  {'Symbol':<8}{'Shares':>8}{'Avg cost':>12}{'Price':>12}"
                f"{'Value':>14}{'Unrealized P/L':>17}"
            )
            for p in positions:
                print(
                    f"  {p.get('symbol', '?'):<8}{p.get('quantity', 0):>8}"
                    f"{money(p.get('average_cost')):>12}{money(p.get('price')):>12}"
                    f"{money(p.get('market_value')):>14}{money(p.get('unrealized_pnl')):>17}"
                )
        account = self.api.get("/account")
        print(
            f"  Cash {money(account['cash'])}, shares {money(account['market_value'])}, "
            f"total value {money(account['total_value'])}."
        )

    def history(self):
        # Every page: the statistics below need all of it, not just the newest rows.
        self.trades = self.api.all_pages("/trades", limit=100)
        self.journal = self.api.all_pages("/journal", limit=100)
        print(f"  Trades, newest first ({len(self.trades)} in all):")
        for trade in self.trades[:5]:
            pnl = trade.get("realized_pnl")
            print(
                f"    {_when(trade)}  {_side(trade).upper():<4} {trade.get('quantity'):>5} "
                f"{trade.get('symbol', '?'):<6} at {money(trade.get('price'))}"
                f"  total {money(trade.get('total'))}"
                + (f"  realized P/L {money(pnl)}" if pnl is not None else "")
            )
        print(f"  Cash journal, newest first ({len(self.journal)} in all):")
        for row in self.journal[:5]:
            print(
                f"    {_when(row)}  {row.get('type', '?'):<12} {money(row.get('amount')):>12}"
                f"  balance {money(row.get('balance_after'))}  {row.get('description', '')}"
            )

    def statistics(self):
        if not self.trades and not self.journal:
            print("  No history read (see step 7).")
            return
        stats = statistics(self.trades, self.journal)
        show_rows(
            [
                (
                    "Trades",
                    f"{stats['trades']} ({_count(stats['buys'], 'buy')}, "
                    f"{_count(stats['sells'], 'sell')})",
                ),
                ("Shares bought / sold", f"{stats['bought']} / {stats['sold']}"),
                ("Spent on buys", money(stats["spent"])),
                ("Received from sells", money(stats["received"])),
                ("Fees (commissions)", money(stats["fees"])),
                ("Realized P/L", money(stats["realized"])),
                ("Winning / losing sells", f"{stats['wins']} / {stats['losses']}"),
                ("Largest trade", money(stats["largest"])),
                ("Deposits / withdrawals", f"{money(stats['in'])} / {money(stats['out'])}"),
                ("Symbols traded", ", ".join(stats["symbols"]) or "none"),
            ]
        )

    def need_symbol(self) -> str:
        if self.symbol is None:
            raise Problem(400, {"code": "unknown_symbol", "detail": "No symbol (see step 3)."})
        return self.symbol


def statistics(trades: list[dict], journal: list[dict]) -> dict:
    """Figures worked out from the API's answers, in Decimal (never float for money)."""
    buys = [t for t in trades if _side(t) == "buy"]
    sells = [t for t in trades if _side(t) == "sell"]
    realized = [decimal(t.get("realized_pnl")) for t in sells if t.get("realized_pnl") is not None]
    deposits = [decimal(row.get("amount")) for row in journal if row.get("type") == "deposit"]
    withdrawals = [decimal(row.get("amount")) for row in journal if row.get("type") == "withdrawal"]
    return {
        "trades": len(trades),
        "buys": len(buys),
        "sells": len(sells),
        "bought": sum(int(t.get("quantity", 0)) for t in buys),
        "sold": sum(int(t.get("quantity", 0)) for t in sells),
        "spent": sum((decimal(t.get("total")) for t in buys), Decimal("0")),
        "received": sum((decimal(t.get("total")) for t in sells), Decimal("0")),
        "fees": sum((decimal(t.get("commission")) for t in trades), Decimal("0")),
        "realized": sum(realized, Decimal("0")),
        "wins": sum(1 for pnl in realized if pnl > 0),
        "losses": sum(1 for pnl in realized if pnl < 0),
        "largest": max((decimal(t.get("total")) for t in trades), default=Decimal("0")),
        "in": sum(deposits, Decimal("0")),
        # The journal signs money out negative.
        "out": -sum(withdrawals, Decimal("0")),
        "symbols": sorted({t.get("symbol", "?") for t in trades}),
    }


# Printing -------------------------------------------------------------------------------


def show_problem(problem: Problem):
    """A refusal, as the API explains it: the code a program checks, the detail a person
    reads, and the field or class rule when it names one."""
    print(f"  Refused ({problem.status} {problem.code}): {problem.detail}")
    for name in ("field", "rule"):
        if problem.body.get(name):
            print(f"    {name}: {problem.body[name]}")


def show_order(order: dict):
    print(f"  Order #{order['id']} {order['status']}: {order['description']}")
    trade = order.get("trade")
    if trade:
        line = (
            f"  Traded {trade['quantity']} {trade['symbol']} at {money(trade['price'])} "
            f"= {money(trade['total'])}, commission {money(trade['commission'])}"
        )
        if trade.get("realized_pnl") is not None:
            line += f", realized P/L {money(trade['realized_pnl'])}"
        print(line + ".")


def show_rows(rows):
    width = max(len(label) for label, _ in rows) + 2
    for label, value in rows:
        print(f"  {label + ':':<{width}}{value}")


def _return(account: dict) -> str:
    text = money(account["total_return"])
    if account.get("total_return_pct") is not None:
        text += f" ({decimal(account['total_return_pct']):+.2f} %)"
    return text


def _count(number: int, word: str) -> str:
    return f"{number} {word}{'' if number == 1 else 's'}"


def _side(trade: dict) -> str:
    return str(trade.get("side") or trade.get("operation") or "?").lower()


def _when(row: dict) -> str:
    # "2026-03-02T10:15:00-05:00" -> "2026-03-02 10:15"
    return str(row.get("timestamp", "?"))[:16].replace("T", " ")


if __name__ == "__main__":
    sys.exit(main())
