"""Benchmark: one market tick at several market sizes, on SQLite and on PostgreSQL, beside a
raw-SQL baseline that writes the same rows.

    .venv/bin/python bench/tick.py [--sizes 500 5000 50000] [--databases sqlite postgres]
                                   [--repeat 5] [--methods unnest json executemany orm values]

Each database is a throwaway one: a temporary SQLite file, or a PostgreSQL database with a
unique name created on 127.0.0.1:5432 as user postgres (PGHOST/PGPORT/PGUSER/PGPASSWORD
override) and dropped afterwards. Each database runs in a child process of its own, so
Django is set up once per database.

What is timed, per size (the median of --repeat rounds after one warm-up; a run slower than
SLOW_SECONDS is not repeated):
- tick (chosen): the real prices.services.advance_market, committed, as it runs in
  production (prices.bulk.CHOSEN);
- tick (<method>): the same with <method> writing both tables (prices/bulk.py; "orm" is
  Django's bulk_update + bulk_create, "values" is UPDATE … FROM (VALUES …) + bulk_create);
- raw SQL: the same N price updates and N history inserts written with the database
  driver directly, no Django: UPDATE … FROM (VALUES …) and a multi-row INSERT on
  PostgreSQL, executemany on SQLite, in one transaction;
- read and engine: the tick's SELECT of the symbols (prices.bulk.read_market), and the
  pure-Python engine step.

Results go to docs/performance.md by hand: the figures depend on the machine.

--orm-max (default 5,000) keeps Django's bulk_update off larger markets. Its UPDATE carries
three CASE expressions with one branch per row; at 50,000 rows PostgreSQL 15 spent over 30
minutes JIT-compiling them in LLVM, where the backend does not answer cancel requests, and
meanwhile every DROP DATABASE on the server waited for it. Raise it only on a server of
your own.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SIZES = [500, 5000, 50000]
SLOW_SECONDS = 20.0  # a run this slow is measured once, not --repeat times


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=DEFAULT_SIZES)
    parser.add_argument(
        "--databases", nargs="+", choices=["sqlite", "postgres"], default=["sqlite", "postgres"]
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--methods", nargs="+", help="writers to time (default: all that apply)")
    parser.add_argument(
        "--orm-max",
        type=int,
        default=5000,
        help="largest market to time Django's bulk_update at (default 5,000; see below)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)  # DATABASE_URL of a child run
    args = parser.parse_args()

    if args.child:
        child(args)
        return

    print(machine())
    results = []
    for database in args.databases:
        with throwaway_database(database) as url:
            command = [sys.executable, __file__, "--child", url, "--repeat", str(args.repeat)]
            command += ["--sizes", *map(str, args.sizes), "--orm-max", str(args.orm_max)]
            if args.methods:
                command += ["--methods", *args.methods]
            out = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT)
            sys.stderr.write(out.stderr)
            results += [json.loads(line) for line in out.stdout.splitlines() if line]
    print(table(results))


# The parent: databases and the report -----------------------------------------------------


class throwaway_database:
    def __init__(self, kind):
        self.kind = kind

    def __enter__(self):
        if self.kind == "sqlite":
            fd, self.path = tempfile.mkstemp(prefix="tradesim-bench-", suffix=".sqlite3")
            os.close(fd)
            return f"sqlite:///{self.path}"
        import psycopg

        self.server = {
            "host": os.environ.get("PGHOST", "127.0.0.1"),
            "port": os.environ.get("PGPORT", "5432"),
            "user": os.environ.get("PGUSER", "postgres"),
            "password": os.environ.get("PGPASSWORD", ""),
        }
        self.name = f"tradesim_bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(dbname="postgres", autocommit=True, **self.server) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
        s = self.server
        auth = f"{s['user']}:{s['password']}" if s["password"] else s["user"]
        return f"postgres://{auth}@{s['host']}:{s['port']}/{self.name}"

    def __exit__(self, *exc):
        if self.kind == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(self.path + suffix).unlink(missing_ok=True)
            return
        import psycopg

        with psycopg.connect(dbname="postgres", autocommit=True, **self.server) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"Machine: {cpu}, {os.cpu_count()} cores; Python {platform.python_version()}"


def table(results) -> str:
    methods = ["chosen", *sorted({m for r in results for m in r["ticks"]} - {"chosen"})]
    head = ["database", "symbols", *[f"tick ({m})" for m in methods], "raw SQL", "chosen/raw"]
    head += ["(CPU)"]
    head += ["read", "engine"]
    rows = [head]
    for r in results:
        rows.append(
            [
                r["database"],
                f"{r['size']:,}",
                *[_ms(r["ticks"].get(m)) for m in methods],
                _ms(r["raw"]),
                f"{r['ratio']:.2f}×" if r["ratio"] else "—",
                f"{r['cpu_ratio']:.2f}×" if r.get("cpu_ratio") else "—",
                _ms(r["read"]),
                _ms(r["engine"]),
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = [" | ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    chosen = {r["database"]: r["chosen"] for r in results}
    notes = ", ".join(f"{db}: {m}" for db, m in chosen.items())
    return "\n".join(
        [
            *lines,
            "",
            "Milliseconds, median of the rounds; chosen/raw is the median of the per-round "
            "ratios of wall time, (CPU) the same for process CPU time (SQLite only). "
            f"Chosen writer — {notes}.",
        ]
    )


def _ms(seconds):
    return "—" if seconds is None else f"{seconds * 1000:,.1f}"


# The child: one database ------------------------------------------------------------------


def child(args):
    os.environ["DATABASE_URL"] = args.child
    os.environ.setdefault("SECRET_KEY", "bench-only-not-secret")
    os.environ["DEBUG"] = "False"  # DEBUG would keep every (huge) statement in memory
    os.environ["DJANGO_SETTINGS_MODULE"] = "tradesim.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    # The market tick alone: what subscribers do after it (portfolio snapshots, whose cost
    # grows with students, not symbols) is theirs to measure.
    settings.TICK_HOOKS = []

    call_command("migrate", verbosity=0)
    from prices import bulk

    vendor = connection.vendor
    methods = [m for m in (args.methods or bulk.METHODS[vendor]) if m in bulk.METHODS[vendor]]
    if vendor == "postgresql":
        # A safety net for runaway variants (it cannot stop JIT compilation: see --orm-max).
        with connection.cursor() as cursor:
            cursor.execute("SET statement_timeout = '300s'")
    for size in args.sizes:
        sys.stderr.write(f"{vendor} {size:,} symbols…\n")
        sized = [m for m in methods if m != "orm" or size <= args.orm_max]
        print(json.dumps(measure(size, sized, args.repeat)), flush=True)


def measure(size, methods, repeat):
    """Round-robin: each round times every writer's tick and then the raw baseline, so
    they share whatever else the machine is doing at that moment; the ratio is taken per
    round and its median reported."""
    from django.db import connection

    from prices import bulk
    from prices.services import advance_market
    from prices.simulation import new_rng

    fill_market(size)
    vendor = connection.vendor
    chosen = bulk.CHOSEN[vendor]
    rng = new_rng(2026)
    runs = {
        "chosen": lambda: advance_market(rng=rng),
        **{method: _with_writer(bulk, vendor, method, lambda: advance_market(rng=rng))
           for method in methods},
        "raw": raw_writer(),
        "read": read_symbols,
        "engine": engine_step(rng),
    }  # fmt: skip
    times = {name: [] for name in runs}
    cpu = {name: [] for name in runs}
    for run in runs.values():
        run()  # warm-up: caches, statistics, the first history pages
    for _ in range(max(1, repeat)):
        for name, run in runs.items():
            if times[name] and max(times[name]) > SLOW_SECONDS:
                continue  # measured once: too slow to repeat
            start, start_cpu = time.perf_counter(), time.process_time()
            run()
            times[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    ratios = [t / r for t, r in zip(times["chosen"], times["raw"], strict=False)]
    # SQLite works inside this process, so its CPU time is the work itself and does not
    # swing with what else the machine runs; PostgreSQL's work is in the server.
    cpu_ratios = [t / r for t, r in zip(cpu["chosen"], cpu["raw"], strict=False)]
    return {
        "database": "PostgreSQL" if vendor == "postgresql" else "SQLite",
        "size": size,
        "chosen": " + ".join(f"{table} {how}" for table, how in chosen.items()),
        "ticks": {m: statistics.median(times[m]) for m in ["chosen", *methods] if times[m]},
        "raw": statistics.median(times["raw"]),
        "ratio": statistics.median(ratios) if ratios else None,
        "cpu_ratio": statistics.median(cpu_ratios) if vendor == "sqlite" else None,
        "cpu": {name: statistics.median(values) for name, values in cpu.items() if values},
        "read": statistics.median(times["read"]),
        "engine": statistics.median(times["engine"]),
        "rounds": repeat,
    }


def _with_writer(bulk, vendor, method, run):
    """Run a tick with `method` writing both tables."""

    def with_writer():
        chosen = bulk.CHOSEN[vendor]
        bulk.CHOSEN[vendor] = {"update": method, "insert": method}
        try:
            return run()
        finally:
            bulk.CHOSEN[vendor] = chosen

    return with_writer


def fill_market(size):
    """`size` symbols with the sample market's parameters, in eleven sectors."""
    from django.db import connection

    from prices.market_data import MARKET
    from prices.models import MarketEvent, Price, PriceHistory
    from prices.services import _new_price, load_market

    with connection.cursor() as cursor:
        for table in (MarketEvent, PriceHistory, Price):
            cursor.execute(f"DELETE FROM {table._meta.db_table}")  # noqa: S608
    listings = [m for m in MARKET if not m.is_index]
    load_market(listings=[m for m in MARKET if m.is_index])
    now = _now()
    rows = []
    for i in range(size - 1):
        price = _new_price(listings[i % len(listings)], now)
        price.symbol = f"B{i:06d}"
        rows.append(price)
    Price.objects.bulk_create(rows, batch_size=2000)


def _now():
    from django.utils import timezone

    return timezone.now()


def read_symbols():
    from prices import bulk

    return bulk.read_market()


def engine_step(rng):
    from prices.simulation import Stock, step

    stocks = [
        Stock(log_price=row[4], drift=row[5], volatility=row[6], beta=row[7])
        for row in read_symbols()
    ]
    return lambda: step(stocks, rng=rng)


def raw_writer():
    """The same rows as a tick writes, through the driver: no ORM, no engine, no reads."""
    from decimal import Decimal

    from django.db import connection

    from prices.models import Price

    ts = _now()
    rows = [
        (pk, (price * Decimal("1.001")).quantize(Decimal("0.01")), log + 0.001, symbol)
        for pk, symbol, price, log in Price.objects.values_list(
            "id", "symbol", "price", "log_price"
        )
    ]
    if connection.vendor == "postgresql":
        import psycopg

        settings = connection.settings_dict
        conn = psycopg.connect(
            dbname=settings["NAME"],
            user=settings["USER"],
            password=settings["PASSWORD"],
            host=settings["HOST"],
            port=settings["PORT"],
            cursor_factory=psycopg.ClientCursor,  # as Django: no 65,535-parameter cap
        )
        update = ", ".join(["(%s::bigint, %s::numeric, %s::double precision)"] * len(rows))
        insert = ", ".join(["(%s, %s, %s)"] * len(rows))

        def write():
            with conn.cursor() as cursor:
                cursor.execute(
                    "UPDATE prices AS p SET price = v.price, log_price = v.log_price, "  # noqa: S608
                    f"timestamp = %s FROM (VALUES {update}) AS v(id, price, log_price) "
                    "WHERE p.id = v.id",
                    [ts, *[x for pk, price, log, _ in rows for x in (pk, price, log)]],
                )
                cursor.execute(
                    f"INSERT INTO price_history (symbol, price, timestamp) VALUES {insert}",  # noqa: S608
                    [x for _, price, _, symbol in rows for x in (symbol, price, ts)],
                )
            conn.commit()

    else:
        import sqlite3

        stamp = connection.ops.adapt_datetimefield_value(ts)
        conn = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
        # As Django's own connections: foreign keys checked, WAL synced at checkpoints.
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = NORMAL")

        def write():
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "UPDATE prices SET price = ?, log_price = ?, timestamp = ? WHERE id = ?",
                [(str(price), log, stamp, pk) for pk, price, log, _ in rows],
            )
            conn.executemany(
                "INSERT INTO price_history (symbol, price, timestamp) VALUES (?, ?, ?)",
                [(symbol, str(price), stamp) for _, price, _, symbol in rows],
            )
            conn.execute("COMMIT")

    return write


if __name__ == "__main__":
    main()
