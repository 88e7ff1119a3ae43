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

Volatility that clusters (`--volatility`): a tick of --sizes (5,000) symbols with the
market's calm and stormy regimes (MarketParameters' defaults) beside the same tick with one
volatility (calm = stormy = 16 %, the engine's figure before it had regimes), both the real
advance_market reading its parameters row, in the same rounds on the same database. Per
kind of tick (TICK_KINDS: one within a day, one that opens a new day and rolls the
previous closes; a new kind is one more entry, set up outside the timing), and for the
engine's step alone: wall and CPU time (this process and, on PostgreSQL, the server
process serving it), medians of --repeat rounds after a warm-up, and the per-round ratio.

    .venv/bin/python bench/tick.py --volatility [--sizes 5000] [--databases sqlite postgres]
                                   [--repeat 9]

--orm-max (default 5,000) keeps Django's bulk_update off larger markets. Its UPDATE carries
three CASE expressions with one branch per row; at 50,000 rows PostgreSQL 15 spent over 30
minutes JIT-compiling them in LLVM, where the backend does not answer cancel requests, and
meanwhile every DROP DATABASE on the server waited for it. Raise it only on a server of
your own.

Orders (`--orders`): the fills a tick makes, on a market of --symbols (5,000) symbols with
open orders built in bulk — students in classes of 30, each with 50 open orders (25 buys;
25 sells of shares they hold), of every type that rests (limit, stop, stop-limit, trailing
stop in percent or dollars), day and good-till-cancelled, with the cash and shares they
hold set on `balances.held` and `holdings.held_quantity`, and each student's cash journal
(the starting cash and the buys of the shares held) behind the balance. Every order's
trigger is 0.2–20 % away from the price it was placed at; then every symbol moves by the
same share x, even-numbered symbols down and odd ones up, x chosen so that the wanted
number of orders is reached (the count is checked against the query's). Each database gets
two throwaway databases:
- finding: open orders grown to each of --open (20,000, 100,000, 200,000); at each size
  --triggered (5,000) orders are reached, and at --base (100,000) also each --percent
  (1, 5, 10 %). Timed (median of --repeat after a warm-up): trading.services
  .triggered_orders, the set-based query that finds them, and follow_trailing_stops, which
  moves the trailing stops' marks (in a transaction rolled back each round, so every round
  moves the same marks); PostgreSQL's EXPLAIN (ANALYZE, BUFFERS) or SQLite's EXPLAIN QUERY
  PLAN of the query;
- fills: --base open orders, --fill-percent (5 %) reached; one trading.services
  .fill_orders, as the tick's hook runs it: the fills per second, the statements per fill
  and the time of each fill (p50, p95); `check_ledger` must pass before and after.
The cache is Django's local-memory one unless BENCH_CACHE_URL names another (a fill tells
the student through the cache).

    .venv/bin/python bench/tick.py --orders [--open 20000 100000 200000] [--triggered 5000]
                                   [--base 100000] [--percent 1 5 10] [--repeat 7]
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
from functools import partial
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
    parser.add_argument("--orders", action="store_true", help="the orders benchmark (below)")
    parser.add_argument(
        "--volatility", action="store_true", help="clustering volatility against one (below)"
    )
    parser.add_argument("--symbols", type=int, default=5000, help="orders: market size")
    parser.add_argument("--open", type=int, nargs="+", default=[20_000, 100_000, 200_000])
    parser.add_argument("--triggered", type=int, default=5000, help="orders reached, any size")
    parser.add_argument("--base", type=int, default=100_000, help="orders: the main size")
    parser.add_argument("--percent", type=float, nargs="+", default=[1.0, 5.0, 10.0])
    parser.add_argument("--fill-percent", type=float, default=5.0)
    parser.add_argument("--phases", nargs="+", choices=["find", "fill"], default=["find", "fill"])
    parser.add_argument("--child", help=argparse.SUPPRESS)  # DATABASE_URL of a child run
    parser.add_argument("--phase", choices=["find", "fill"], help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        if args.orders:
            orders_child(args)
        elif args.volatility:
            volatility_child(args)
        else:
            child(args)
        return
    if args.orders:
        orders_main(args)
        return
    if args.volatility:
        volatility_main(args)
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


def setup_django(url: str):
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("SECRET_KEY", "bench-only-not-secret")
    os.environ["DEBUG"] = "False"  # DEBUG would keep every (huge) statement in memory
    os.environ["DJANGO_SETTINGS_MODULE"] = "tradesim.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    # The market tick alone: what subscribers do after it (portfolio snapshots, whose cost
    # grows with students, not symbols) is theirs to measure.
    settings.TICK_HOOKS = []
    call_command("migrate", verbosity=0)


def child(args):
    setup_django(args.child)
    from django.db import connection

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


# Volatility that clusters: calm and stormy regimes against one volatility ------------------

# What each kind of tick needs before it runs (outside the timing): the share of the
# simulated day already gone decides whether the tick opens a new day.
TICK_KINDS = {
    "within a day": lambda: _set_day_elapsed(0.5),
    "opening a day": lambda: _set_day_elapsed(1.0),
}
# The market's parameters for each variant: one volatility, or the defaults' regimes.
VOLATILITIES = {
    "constant": {"calm_volatility": 0.16, "turbulent_volatility": 0.16},
    "clustering": {"calm_volatility": 0.12, "turbulent_volatility": 0.30},
}


def volatility_main(args):
    sizes = args.sizes if args.sizes != DEFAULT_SIZES else [5000]
    print(machine(), flush=True)
    print(f"load average before the run: {os.getloadavg()[0]:.2f}", flush=True)
    results = []
    for database in args.databases:
        with throwaway_database(database) as url:
            command = [sys.executable, __file__, "--volatility", "--child", url]
            command += ["--sizes", *map(str, sizes), "--repeat", str(args.repeat)]
            out = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True, cwd=ROOT)
            results += [json.loads(line) for line in out.stdout.splitlines() if line]
    print(f"load average after the run: {os.getloadavg()[0]:.2f}", flush=True)
    print(volatility_report(results))


def volatility_report(results) -> str:
    versions = {r["database"]: r["version"] for r in results}
    head = ["database", "symbols", "tick", "new day", "constant ms", "clustering ms", "ratio"]
    head += ["constant CPU ms", "clustering CPU ms", "CPU ratio"]
    rows = [head]
    for r in results:
        rows.append(
            [
                r["database"],
                f"{r['size']:,}",
                r["kind"],
                {True: "yes", False: "no", None: "—"}[r["new_day"]],
                _ms(r["wall"]["constant"]),
                _ms(r["wall"]["clustering"]),
                f"{r['ratio']:.3f}×",
                _ms(r["cpu"]["constant"]),
                _ms(r["cpu"]["clustering"]),
                f"{r['cpu_ratio']:.3f}×",
            ]
        )
    return "\n".join(
        [
            *(f"{db}: {version}" for db, version in versions.items()),
            *_aligned(rows),
            "",
            "Milliseconds, medians of the rounds; the ratios are clustering ÷ constant, the "
            "median of the per-round ratios. CPU: this process and, on PostgreSQL, the server "
            "process serving it.",
        ]
    )


def volatility_child(args):
    setup_django(args.child)
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET statement_timeout = '300s'")
    for size in args.sizes:
        sys.stderr.write(f"{connection.vendor} {size:,} symbols, volatility…\n")
        fill_market(size)
        analyze()
        for result in measure_volatility(size, args.repeat):
            print(json.dumps(result), flush=True)


def _set_day_elapsed(elapsed: float):
    from prices.models import MarketState

    MarketState.objects.filter(id=1).update(day_elapsed=elapsed)


def _set_volatility(variant: str):
    from prices.models import MarketParameters

    MarketParameters.objects.filter(id=1).update(**VOLATILITIES[variant])


def measure_volatility(size: int, repeat: int) -> list[dict]:
    """Round-robin: each round runs every kind of tick with each variant, back to back
    and in alternating order, so the two variants of a kind share whatever else the
    machine is doing; the ratio is taken per round. The engine's step alone (no database)
    is measured the same way."""
    from prices.models import MarketParameters
    from prices.services import advance_market
    from prices.simulation import Stock, new_rng, step

    database, version = _database()
    MarketParameters.current()
    rng = new_rng(2026)
    stocks = [
        Stock(log_price=row[4], drift=row[5], volatility=row[6], beta=row[7])
        for row in read_symbols()
    ]
    models = {}
    for variant in VOLATILITIES:
        _set_volatility(variant)
        models[variant] = MarketParameters.current().market_model()

    def tick():
        return advance_market(rng=rng)

    runs = {}  # (kind, variant) → (set-up, run)
    for kind, prepare in TICK_KINDS.items():
        for variant in VOLATILITIES:
            runs[kind, variant] = (partial(_prepare, prepare, variant), tick)
    for variant, model in models.items():
        runs["engine step", variant] = (lambda: None, partial(step, stocks, rng=rng, model=model))

    wall = {key: [] for key in runs}
    cpu = {key: [] for key in runs}
    new_day = {}
    for prepare, run in runs.values():  # warm-up
        prepare()
        run()
    for round_ in range(max(1, repeat)):
        # Every other round the other variant goes first: what one tick leaves behind (a
        # WAL to checkpoint, dead rows to prune) lands on both variants alike.
        order = list(runs.items())
        if round_ % 2:
            order = [pair for i in range(0, len(order), 2) for pair in order[i : i + 2][::-1]]
        for key, (prepare, run) in order:
            prepare()
            began, began_cpu = time.perf_counter(), cpu_clock()
            result = run()
            wall[key].append(time.perf_counter() - began)
            cpu[key].append(cpu_clock() - began_cpu)
            new_day[key] = getattr(result, "new_day", None)
    results = []
    for kind in [*TICK_KINDS, "engine step"]:
        constant, clustering = (kind, "constant"), (kind, "clustering")
        results.append(
            {
                "database": database,
                "version": version,
                "size": size,
                "kind": kind,
                "new_day": new_day[clustering],
                "wall": {v: statistics.median(wall[kind, v]) for v in VOLATILITIES},
                "cpu": {v: statistics.median(cpu[kind, v]) for v in VOLATILITIES},
                "ratio": statistics.median(
                    a / b for a, b in zip(wall[clustering], wall[constant], strict=True)
                ),
                "cpu_ratio": statistics.median(
                    a / b for a, b in zip(cpu[clustering], cpu[constant], strict=True)
                ),
                "rounds": repeat,
            }
        )
    return results


def _prepare(kind_setup, variant: str):
    _set_volatility(variant)
    kind_setup()


# Orders: finding the orders a tick reaches, and filling them --------------------------------

ORDERS_PER_STUDENT = 50  # 25 buys, 25 sells of shares the student holds
STUDENT_CASH = "250000.00"
ORDER_TYPES = {"limit": 45, "stop": 20, "stop_limit": 10, "trailing_stop": 25}  # weights
BUILD_BATCH = 250  # students per transaction


def orders_main(args):
    sizes = sorted({*args.open, args.base})
    if any(size % ORDERS_PER_STUDENT for size in sizes):
        raise SystemExit(f"--open and --base: multiples of {ORDERS_PER_STUDENT} orders")
    print(machine(), flush=True)
    print(f"load average before the run: {os.getloadavg()[0]:.2f}", flush=True)
    results = []
    for database in args.databases:
        for phase in args.phases:
            with throwaway_database(database) as url:
                command = [sys.executable, __file__, "--orders", "--child", url, "--phase", phase]
                command += ["--symbols", str(args.symbols), "--repeat", str(args.repeat)]
                command += ["--open", *map(str, args.open), "--triggered", str(args.triggered)]
                command += ["--base", str(args.base), "--percent", *map(str, args.percent)]
                command += ["--fill-percent", str(args.fill_percent)]
                out = subprocess.run(
                    command, check=True, stdout=subprocess.PIPE, text=True, cwd=ROOT
                )
                results += [json.loads(line) for line in out.stdout.splitlines() if line]
    print(f"load average after the run: {os.getloadavg()[0]:.2f}", flush=True)
    print(orders_report(results, args.triggered))


def orders_report(results, triggered: int) -> str:
    versions = {r["database"]: r["version"] for r in results}
    lines = [f"{db}: {version}" for db, version in versions.items()]
    finding = [r for r in results if r["phase"] == "find"]
    if finding:
        head = ["database", "open", "reached", "of open", "find ms", "(min–max)", "CPU ms"]
        head += ["by symbol", "marks moved", "follow ms", "CPU ms", "load"]
        rows = [head]
        for r in finding:
            rows.append(
                [
                    r["database"],
                    f"{r['open']:,}",
                    f"{r['reached']:,}",
                    f"{r['reached'] / r['open']:.1%}",
                    f"{r['find_ms']:,.1f}",
                    f"{min(r['find_runs_ms']):,.0f}–{max(r['find_runs_ms']):,.0f}",
                    f"{r['find_cpu_ms']:,.1f}",
                    "yes" if r["index_used"] else "NO",
                    f"{r['marks_moved']:,}",
                    f"{r['follow_ms']:,.1f}",
                    f"{r['follow_cpu_ms']:,.1f}",
                    f"{r['load']:.1f}",
                ]
            )
        lines += ["", "Finding the reached orders (median of the rounds):", *_aligned(rows)]
        lines.append(
            "find: triggered_orders; follow: follow_trailing_stops; CPU: this process and its "
            "PostgreSQL server process; by symbol: the plan reads a range of "
            "orders_open_trigger per symbol; load: the load average after the rounds."
        )
    fills = [r for r in results if r["phase"] == "fill"]
    if fills:
        head = ["database", "open", "reached", "filled", "rejected", "triggered", "failed"]
        head += ["fill_orders s", "find+follow s", "fills/s", "statements", "p50 ms", "p95 ms"]
        head += ["CPU ms", "load", "check_ledger"]
        rows = [head]
        for r in fills:
            rows.append(
                [
                    r["database"],
                    f"{r['open']:,}",
                    f"{r['reached']:,}",
                    f"{r['filled']:,}",
                    f"{r['rejected']:,}",
                    f"{r['triggered']:,}",
                    f"{r['failed']:,}",
                    f"{r['fill_orders_s']:,.2f}",
                    f"{r['find_s'] + r['follow_s']:,.2f}",
                    f"{r['fills_per_s']:,.0f}",
                    f"{r['statements_per_fill']:.1f}",
                    f"{r['fill_p50_ms']:.2f}",
                    f"{r['fill_p95_ms']:.2f}",
                    f"{r['cpu_per_fill_ms']:.2f}",
                    f"{r['load']:.1f}",
                    f"{r['ledger_before']}/{r['ledger_after']}",
                ]
            )
        lines += ["", "Filling them: one fill_orders, as the tick's hook runs it:", *_aligned(rows)]
        lines.append(
            "fills/s: orders handled (filled, rejected or stop-limits triggered) per second of "
            "fill_order; statements: per fill_order; p50/p95: one fill_order's time; CPU: per "
            "order handled, this process and its PostgreSQL server process."
        )
    for r in finding:
        if r["target"] == triggered and r.get("plan"):
            lines += ["", f"{r['database']}, {r['open']:,} open, {r['reached']:,} reached:"]
            lines.append(r["plan"])
    return "\n".join(lines)


def _aligned(rows) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [" | ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return lines


def orders_child(args):
    # A fill tells its student through the cache; the project folder's file cache would be
    # shared with whatever else runs here.
    os.environ["CACHE_URL"] = os.environ.get("BENCH_CACHE_URL", "locmemcache://")
    os.environ["LOG_LEVEL"] = "WARNING"  # no log line per fill
    setup_django(args.child)
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET statement_timeout = '300s'")
    fill_market(args.symbols)
    market = OrderMarket()
    if args.phase == "find":
        built = 0
        for size in sorted({*args.open, args.base}):
            sys.stderr.write(f"{connection.vendor}: {size:,} open orders…\n")
            add_order_students(market, built // ORDERS_PER_STUDENT, size // ORDERS_PER_STUDENT)
            built = size
            analyze()
            targets = {args.triggered}
            if size == args.base:
                targets |= {round(size * percent / 100) for percent in args.percent}
            for target in sorted(targets):
                result = measure_finding(market, size, target, args.repeat)
                print(json.dumps(result), flush=True)
    else:
        sys.stderr.write(f"{connection.vendor}: {args.base:,} open orders to fill…\n")
        add_order_students(market, 0, args.base // ORDERS_PER_STUDENT)
        analyze()
        target = round(args.base * args.fill_percent / 100)
        print(json.dumps(measure_fills(market, args.base, target)), flush=True)


def _database():
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
            return "PostgreSQL", f"PostgreSQL {cursor.fetchone()[0]}"
        cursor.execute("SELECT sqlite_version()")
        return "SQLite", f"SQLite {cursor.fetchone()[0]}"


def analyze():
    """PostgreSQL: fresh statistics, as autovacuum would give them after a bulk load. SQLite
    is left as a deployment leaves it: nothing in TradeSim runs ANALYZE there."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")


class OrderMarket:
    """The symbols orders are placed on, their prices at placing, and which way each moves:
    even-numbered symbols down, odd ones up."""

    def __init__(self):
        from prices.models import Price

        rows = Price.objects.filter(is_index=False).order_by("symbol")
        self.start = dict(rows.values_list("symbol", "price"))
        self.symbols = list(self.start)
        self.falls = {symbol: i % 2 == 0 for i, symbol in enumerate(self.symbols)}

    def prices(self, move):
        from decimal import Decimal

        from tradesim.money import to_cents

        cent = Decimal("0.01")
        return {
            symbol: max(to_cents(price * (1 - move if self.falls[symbol] else 1 + move)), cent)
            for symbol, price in self.start.items()
        }

    def move_for(self, target: int):
        """The move that reaches `target` open orders (ties at a cent may add a few), the
        prices after it, and how many orders they reach."""
        from trading.models import Order

        below = Order.Direction.BELOW
        orders = list(
            Order.objects.filter(status=Order.Status.OPEN).values_list(
                "stock_id", "trigger_direction", "trigger_price"
            )
        )
        distances = sorted(
            (start - trigger) / start if direction == below else (trigger - start) / start
            for symbol, direction, trigger in orders
            for start in [self.start[symbol]]
            if self.falls[symbol] == (direction == below)
        )
        move = distances[target - 1]
        prices = self.prices(move)
        reached = sum(
            prices[symbol] <= trigger if direction == below else prices[symbol] >= trigger
            for symbol, direction, trigger in orders
        )
        return move, prices, reached


def add_order_students(market, first: int, last: int):
    """Students number `first` to `last` − 1, in classes of 30, each with the starting
    cash, 25 holdings bought with it (in the journal), a portfolio summary and
    ORDERS_PER_STUDENT open orders: 25 buys holding their worst-case cost, 25 sells holding
    shares of those holdings."""
    import random
    from datetime import timedelta
    from decimal import Decimal

    from django.contrib.auth import get_user_model
    from django.db import transaction

    from classrooms.models import Classroom
    from classrooms.rules import Rulebook
    from ledger.models import Balance, Transaction
    from ledger.services import OPENING_TOKEN, STARTING_CASH_DESCRIPTION
    from portfolio.models import Holding, PortfolioSummary
    from tradesim.money import ZERO, to_cents
    from trading.models import Order
    from trading.services import _buy_hold

    User = get_user_model()
    half = ORDERS_PER_STUDENT // 2
    for start in range(first, last, BUILD_BATCH):
        numbers = range(start, min(start + BUILD_BATCH, last))
        rng = random.Random(start)
        now = _now()
        with transaction.atomic():
            classes = {
                n: Classroom.objects.get_or_create(name=f"Class {n:05d}")[0]
                for n in {i // 30 for i in numbers}
            }
            rules = {n: Rulebook.from_classroom(c) for n, c in classes.items()}
            users = User.objects.bulk_create(
                [
                    User(
                        username=f"o{i:06d}",
                        email=f"o{i:06d}@example.test",
                        password="!x",
                        classroom=classes[i // 30],
                    )
                    for i in numbers
                ]
            )
            journal, holdings, balances, orders = [], [], [], []
            for number, user in zip(numbers, users, strict=True):
                cash = Decimal(STUDENT_CASH)
                journal.append(
                    Transaction(
                        user=user,
                        type=Transaction.Type.DEPOSIT,
                        amount=cash,
                        description=STARTING_CASH_DESCRIPTION,
                        token=OPENING_TOKEN,
                        timestamp=now,
                        balance_after=cash,
                    )
                )
                for symbol in rng.sample(market.symbols, half):
                    price = market.start[symbol]
                    quantity = max(2, int(rng.uniform(1000, 5000) / float(price)))
                    total = to_cents(price * quantity)
                    cash -= total
                    journal.append(
                        Transaction(
                            user=user,
                            type=Transaction.Type.BUY,
                            amount=total,
                            description=f"Bought {quantity:,} {symbol} @ {price:.2f}",
                            symbol=symbol,
                            timestamp=now,
                            balance_after=cash,
                        )
                    )
                    selling = rng.randint(1, quantity)
                    holdings.append(
                        Holding(
                            user=user,
                            stock_id=symbol,
                            quantity=quantity,
                            average_price=price,
                            held_quantity=selling,
                            last_updated=now,
                        )
                    )
                    orders.append(_resting_order(rng, user, "sell", symbol, selling, price))
                held = ZERO
                for symbol in rng.sample(market.symbols, half):
                    price = market.start[symbol]
                    quantity = max(1, int(rng.uniform(500, 3000) / float(price)))
                    order = _resting_order(rng, user, "buy", symbol, quantity, price)
                    order.held_cash = _buy_hold(
                        order, rules=rules[number // 30], trigger=order.trigger_price
                    )
                    held += order.held_cash
                    orders.append(order)
                if held > cash:
                    raise RuntimeError("a student's orders hold more than their cash")
                balances.append(Balance(user=user, amount=cash, held=held, last_updated=now))
            rng.shuffle(orders)  # the class places its orders in no particular order
            for k, order in enumerate(orders):
                order.created_at = now + timedelta(microseconds=k)
            Balance.objects.bulk_create(balances)
            Transaction.objects.bulk_create(journal, batch_size=5000)
            Holding.objects.bulk_create(holdings, batch_size=5000)
            Order.objects.bulk_create(orders, batch_size=2000)
            # A class that trades has had snapshots: each student has a summary row.
            PortfolioSummary.objects.bulk_create(
                [PortfolioSummary(user=user, last_updated=now) for user in users]
            )


def _resting_order(rng, user, side: str, symbol: str, quantity: int, price):
    """An open order placed at `price`, its trigger 0.2–20 % away, on the side that waits."""
    from decimal import Decimal

    from tradesim.money import to_cents
    from trading.models import Order
    from trading.services import _trail_stop

    kind = rng.choices(list(ORDER_TYPES), list(ORDER_TYPES.values()))[0]
    basis_points = rng.randint(20, 2000)
    away = Decimal(basis_points) / 10000
    buying = side == Order.Side.BUY
    above, below = Order.Direction.ABOVE, Order.Direction.BELOW
    day = rng.random() < 0.5
    order = Order(
        user=user,
        stock_id=symbol,
        side=side,
        type=kind,
        quantity=quantity,
        status=Order.Status.OPEN,
        duration=Order.Duration.DAY if day else Order.Duration.GTC,
        expires_day=1 if day else 90,
        held_shares=0 if buying else quantity,
    )
    up, down = to_cents(price * (1 + away)), to_cents(price * (1 - away))
    if kind == Order.Type.LIMIT:
        order.limit_price = order.trigger_price = down if buying else up
        order.trigger_direction = below if buying else above
    elif kind in (Order.Type.STOP, Order.Type.STOP_LIMIT):
        order.stop_price = order.trigger_price = up if buying else down
        order.trigger_direction = above if buying else below
        if kind == Order.Type.STOP_LIMIT:
            order.limit_price = to_cents(order.stop_price * Decimal("1.02" if buying else "0.98"))
    else:
        if rng.random() < 0.7:
            order.trail_percent = Decimal(basis_points) / 100
        else:
            order.trail_amount = to_cents(price * away)
        order.trail_mark = price
        order.trigger_price = _trail_stop(order, mark=price)
        order.trigger_direction = above if buying else below
    return order


def set_prices(prices: dict):
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(
            "UPDATE prices SET price = %s WHERE symbol = %s",
            [(price, symbol) for symbol, price in prices.items()],
        )


_BACKEND = []  # the PostgreSQL server process serving this connection, once known


def cpu_clock() -> float:
    """CPU seconds used so far by this process and, on PostgreSQL, by the server process
    that serves it (its /proc/PID/schedstat; the server is on this machine): steadier than
    wall time when other work shares the cores, since waiting for a core is not counted."""
    from django.db import connection

    used = time.process_time()
    if connection.vendor == "postgresql":
        if not _BACKEND:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                _BACKEND.append(Path(f"/proc/{cursor.fetchone()[0]}/schedstat"))
        used += int(_BACKEND[0].read_text().split()[0]) / 1e9
    return used


def _runs(run, repeat: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of each of `repeat` runs, after a warm-up."""
    run()
    times, cpu = [], []
    for _ in range(max(1, repeat)):
        began, began_cpu = time.perf_counter(), cpu_clock()
        run()
        times.append(time.perf_counter() - began)
        cpu.append(cpu_clock() - began_cpu)
        if times[-1] > SLOW_SECONDS:
            break
    return times, cpu


def measure_finding(market, size: int, target: int, repeat: int) -> dict:
    from django.db import connection, transaction

    from trading import services

    move, prices, reached = market.move_for(target)
    set_prices(prices)
    found = services.triggered_orders()
    if len(found) != reached:
        raise RuntimeError(f"the query found {len(found):,} orders, {reached:,} are reached")
    find, find_cpu = _runs(services.triggered_orders, repeat)
    sql = services._TRIGGERED_SQL
    plan = explain(sql[connection.vendor] if isinstance(sql, dict) else sql)

    moved = []

    def follow():  # each round moves the same marks: the moves are rolled back
        with transaction.atomic():
            moved.append(services.follow_trailing_stops())
            transaction.set_rollback(True)

    follow_runs, follow_cpu = _runs(follow, repeat)
    # What autovacuum would do before long: the rolled-back rounds left dead index
    # entries behind, which would slow the next size's queries.
    analyze()
    database, version = _database()
    return {
        "phase": "find",
        "database": database,
        "version": version,
        "open": size,
        "target": target,
        "reached": reached,
        "move": float(move),
        "find_ms": statistics.median(find) * 1000,
        "find_runs_ms": [t * 1000 for t in find],
        "marks_moved": moved[-1],
        "follow_ms": statistics.median(follow_runs) * 1000,
        "find_cpu_ms": statistics.median(find_cpu) * 1000,
        "follow_cpu_ms": statistics.median(follow_cpu) * 1000,
        "load": os.getloadavg()[0],
        "plan": plan,
        "index_used": _probes_by_symbol(plan),
        "vendor": connection.vendor,
    }


def _probes_by_symbol(plan: str) -> bool:
    """Whether the plan looks each symbol's reached orders up in orders_open_trigger (a
    range of it per symbol and direction), rather than reading every open order."""
    if "orders_open_trigger" not in plan:
        return False
    return "AND (symbol = " in plan or "symbol=? AND trigger_price" in plan


def explain(sql: str) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
        else:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
        return "\n".join(" ".join(str(c) for c in row) for row in cursor.fetchall())


def measure_fills(market, size: int, target: int) -> dict:
    """One fill_orders over `target` reached orders, timed part by part through wrappers
    around the functions it calls (module globals, looked up at each call)."""
    from django.db import connection

    from trading import services

    ledger_before = _check_ledger()
    move, prices, reached = market.move_for(target)
    set_prices(prices)
    statements = [0]

    def count(execute, sql, params, many, context):
        statements[0] += 1
        return execute(sql, params, many, context)

    parts = {"follow": [], "find": [], "fill": []}
    parts_cpu = {"follow": 0.0, "find": 0.0}
    per_fill = []

    def timing(name, function):
        def timed(*args, **kwargs):
            began, counted = time.perf_counter(), statements[0]
            began_cpu = cpu_clock() if name in parts_cpu else 0.0  # not per fill: a syscall
            try:
                return function(*args, **kwargs)
            finally:
                parts[name].append(time.perf_counter() - began)
                if name == "fill":
                    per_fill.append(statements[0] - counted)
                else:
                    parts_cpu[name] += cpu_clock() - began_cpu

        return timed

    originals = {
        "follow_trailing_stops": services.follow_trailing_stops,
        "triggered_orders": services.triggered_orders,
        "fill_order": services.fill_order,
    }
    services.follow_trailing_stops = timing("follow", services.follow_trailing_stops)
    services.triggered_orders = timing("find", services.triggered_orders)
    services.fill_order = timing("fill", services.fill_order)
    try:
        began_cpu = cpu_clock()
        with connection.execute_wrapper(count):
            began = time.perf_counter()
            summary = services.fill_orders()
            total = time.perf_counter() - began
        fill_cpu = cpu_clock() - began_cpu - sum(parts_cpu.values())
    finally:
        for name, function in originals.items():
            setattr(services, name, function)
    fills = parts["fill"]
    handled = summary.filled + summary.rejected + summary.triggered
    database, version = _database()
    ordered = sorted(fills)
    return {
        "phase": "fill",
        "database": database,
        "version": version,
        "open": size,
        "reached": reached,
        "move": float(move),
        "filled": summary.filled,
        "rejected": summary.rejected,
        "triggered": summary.triggered,
        "failed": summary.failed,
        "fill_orders_s": total,
        "follow_s": sum(parts["follow"]),
        "find_s": sum(parts["find"]),
        "fill_s": sum(fills),
        "fills_per_s": handled / sum(fills) if fills else 0.0,
        "cpu_per_fill_ms": fill_cpu / handled * 1000 if handled else 0.0,
        "follow_cpu_s": parts_cpu["follow"],
        "find_cpu_s": parts_cpu["find"],
        "load": os.getloadavg()[0],
        "statements_per_fill": statistics.mean(per_fill) if per_fill else 0.0,
        "fill_p50_ms": statistics.median(fills) * 1000 if fills else 0.0,
        "fill_p95_ms": ordered[int(len(ordered) * 0.95)] * 1000 if fills else 0.0,
        "ledger_before": ledger_before,
        "ledger_after": _check_ledger(),
    }


def _check_ledger() -> str:
    """check_ledger's verdict: "clean", or its first lines."""
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    out = StringIO()
    try:
        call_command("check_ledger", stdout=out)
    except CommandError as error:
        sys.stderr.write(out.getvalue()[:4000])
        return f"FAILED ({error})"
    return "clean"


if __name__ == "__main__":
    main()
