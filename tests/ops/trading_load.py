"""A class trading, for the backup tests: `python -m tests.ops.trading_load --threads N
--stop-file PATH`, against the database of DATABASE_URL.

It lists two symbols and opens an account for each thread's student, then each thread (a
real thread with a database connection of its own, closed at its end) buys, sells and
deposits through the services until the stop file appears, and deposits twice more after
that: rows committed once the backup has ended, which the backup must not have. Prints
"ready" when every thread has committed once, and "done N" with the operations that went
through."""

import argparse
import os
import random
from decimal import Decimal
from pathlib import Path

SYMBOLS = {"LOADA": Decimal("12.34"), "LOADB": Decimal("56.78")}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=6)
    parser.add_argument("--stop-file", type=Path, required=True)
    options = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradesim.settings")
    import django

    django.setup()

    import threading

    from django.db import connection

    from ledger.services import LedgerError, deposit
    from tests.concurrency import run_concurrently
    from tests.factories import PriceFactory, StudentFactory
    from trading.services import TradingError, buy, sell

    for symbol, price in SYMBOLS.items():
        PriceFactory(symbol=symbol, price=price)
    students = [
        StudentFactory(username=f"load{number}", cash="50000.00")
        for number in range(options.threads)
    ]
    connection.close()
    ready = threading.Barrier(options.threads, action=lambda: print("ready", flush=True))

    def trade(student, seed):
        rng = random.Random(seed)

        def put_in():
            deposit(user=student, amount=Decimal(rng.randint(1, 99_999)) / 100)

        put_in()
        ready.wait(timeout=60)
        done = 1
        while not options.stop_file.exists():
            symbol = rng.choice(list(SYMBOLS))
            try:
                match rng.choice(["buy", "buy", "sell", "deposit"]):
                    case "buy":
                        buy(user=student, symbol=symbol, quantity=rng.randint(1, 5))
                    case "sell":
                        sell(user=student, symbol=symbol, quantity=rng.randint(1, 3))
                    case _:
                        put_in()
                done += 1
            except (TradingError, LedgerError):  # nothing to sell, say: nothing written
                pass
        put_in()
        put_in()
        return done + 2

    results = run_concurrently(
        [lambda s=student, n=number: trade(s, n) for number, student in enumerate(students)]
    )
    failures = [r for r in results if isinstance(r, BaseException)]
    if failures:
        raise failures[0]
    print(f"done {sum(results)}", flush=True)


if __name__ == "__main__":
    main()
