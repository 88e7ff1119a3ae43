"""Benchmark: thinning the price history (prices.services.thin_history) of a market that has
ticked for days, on PostgreSQL and SQLite.

    .venv/bin/python bench/history.py [--days 10] [--every 60] [--keep-days 7]
                                      [--symbols 0] [--databases postgres sqlite]

In a throwaway database (PostgreSQL on 127.0.0.1:5432 as user postgres, or a temporary
SQLite file) with the sample market (and --symbols more), the history of --days days with a
tick every --every seconds is written in bulk; then timed:
- the first thinning, which turns the days older than --keep-days into their last rows
  (the whole history: what the first pass after an upgrade, or the command, does);
- a steady one, THIN_HISTORY_EVERY_TICKS ticks later: what a running ticker does each time
  (it starts where the last pass stopped).
Prints the rows before and after, the rows deleted and the time of each. Results go to
docs/performance.md by hand.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--every", type=int, default=60, help="seconds between ticks")
    parser.add_argument("--keep-days", type=int, default=7)
    parser.add_argument(
        "--symbols", type=int, default=0, help="symbols beside the sample market's (default 0)"
    )
    parser.add_argument(
        "--databases", nargs="+", choices=["postgres", "sqlite"], default=["postgres", "sqlite"]
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    from load import machine, throwaway_database

    print(machine(), flush=True)
    print(f"load average before the run: {os.getloadavg()[0]:.2f}", flush=True)
    for database in args.databases:
        with throwaway_database(database) as url:
            command = [sys.executable, __file__, "--child", url]
            command += ["--days", str(args.days), "--every", str(args.every)]
            command += ["--keep-days", str(args.keep_days), "--symbols", str(args.symbols)]
            out = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT)
            result = json.loads(out.stdout.splitlines()[-1])
        print(
            f"{database}: {result['symbols']} symbols, {args.days} days of a tick every "
            f"{args.every} s: {result['rows']:,} rows (written in {result['write_s']:.1f} s)"
        )
        for step in ("first", "steady"):
            r = result[step]
            print(
                f"  {step:<7} thinning: {r['deleted']:>9,} rows deleted in {r['seconds']:6.2f} s, "
                f"{r['rows_after']:,} rows left"
            )


def child(args):
    from datetime import timedelta

    os.environ.update(
        DJANGO_SETTINGS_MODULE="tradesim.settings",
        DATABASE_URL=args.child,
        DEBUG="False",
        SECRET_KEY="bench-" + uuid.uuid4().hex,
        LOG_LEVEL="WARNING",
    )
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from prices import bulk
    from prices.models import Price, PriceHistory
    from prices.services import THIN_HISTORY_EVERY_TICKS, load_market, thin_history

    call_command("migrate", verbosity=0)
    load_market()
    Price.objects.bulk_create(
        Price(
            symbol=f"X{i:05d}",
            name=f"Extra {i}",
            sector="Technology",
            price=100,
            previous_close=100,
            log_price=math.log(100),
        )
        for i in range(args.symbols)
    )
    prices = list(Price.objects.values_list("symbol", "price"))
    start = timezone.now().replace(microsecond=0) - timedelta(days=args.days)
    ticks = args.days * 86400 // args.every

    def write(first: int, count: int) -> None:
        with transaction.atomic():
            for n in range(first, first + count):
                bulk.insert_history(prices, timestamp=start + timedelta(seconds=n * args.every))

    began = time.perf_counter()
    step = 500
    for first in range(0, ticks, step):
        write(first, min(step, ticks - first))
    write_s = time.perf_counter() - began
    rows = PriceHistory.objects.count()

    def timed(now):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE price_history")
        began = time.perf_counter()
        deleted = thin_history(now=now, days=args.keep_days)
        return {
            "deleted": deleted,
            "seconds": time.perf_counter() - began,
            "rows_after": PriceHistory.objects.count(),
        }

    now = start + timedelta(seconds=ticks * args.every)
    first = timed(now)
    more = THIN_HISTORY_EVERY_TICKS  # what a running ticker adds between two passes
    write(ticks, more)
    steady = timed(now + timedelta(seconds=more * args.every))
    result = {"symbols": len(prices), "rows": rows, "write_s": write_s}
    result.update(first=first, steady=steady)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
