"""Benchmark: the pages and the tick at classroom scale — 1,000 then 10,000 students with 20
holdings each on a market of 5,000 symbols, in a throwaway PostgreSQL database.

    .venv/bin/python bench/scale.py [--students 1000 10000] [--symbols 5000] [--holdings 20]
                                    [--repeat 5]

What is timed at each size (median of --repeat after one warm-up; server time: the request
goes through Django's whole stack via the test client with force_login, no network):
- leaderboard page: GET /portfolio/leaderboard/ as a superuser (the ranking of every
  student, one page of 25), and as a student, whose board is their class of 30 (students
  are put in classes of CLASS_SIZE; the page and the student's own rank);
- dashboard page: GET /portfolio/ of one student with 20 holdings;
- tick: prices.services.advance_market over all symbols, committed, without its hooks;
- snapshot: portfolio.services.take_snapshots for every student, the per-student work
  a tick does every SNAPSHOT_EVERY_TICKS ticks (the other ticks snapshot only students
  with new deposits or withdrawals).

Data is written with bulk_create, not through the services (that is what is being timed
elsewhere): each student has a cash balance, the opening deposit and one buy in the cash
journal per holding, and 20 holdings at the price of the day. The database is dropped
afterwards. Results go to docs/performance.md by hand.
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLASS_SIZE = 30
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--symbols", type=int, default=5000)
    parser.add_argument("--holdings", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the database (to EXPLAIN)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    from load import drop_later, machine, pg_params, psql

    print(machine(), flush=True)
    print(f"load average before the run: {os.getloadavg()[0]:.2f}", flush=True)
    name = f"tradesim_scale_{uuid.uuid4().hex[:8]}"
    psql(f"CREATE DATABASE {name}")
    p = pg_params()
    url = f"postgres://{p['user']}@{p['host']}:{p['port']}/{name}"
    try:
        command = [sys.executable, __file__, "--child", url, "--repeat", str(args.repeat)]
        command += ["--symbols", str(args.symbols), "--holdings", str(args.holdings)]
        command += ["--students", *map(str, args.students)]
        out = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT)
        results = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    finally:
        if args.keep:
            print(f"kept: {url}")
        else:
            drop_later(name)
    print(table(results))


def table(results) -> str:
    lines = [
        f"{'students':>8} {'holdings':>9} {'leaderboard':>12} {'class board':>11} "
        f"{'dashboard':>10} {'tick':>8} {'snapshot':>9}   (ms, median)"
    ]
    for r in results:
        lines.append(
            f"{r['students']:>8} {r['holding_rows']:>9} {r['leaderboard_ms']:>12.1f} "
            f"{r['class_board_ms']:>11.1f} {r['dashboard_ms']:>10.1f} {r['tick_ms']:>8.1f} "
            f"{r['snapshot_ms']:>9.1f}"
        )
    lines.append(f"tick over {results[0]['symbols']} symbols" if results else "no results")
    return "\n".join(lines)


# The child: Django set up on the throwaway database -----------------------------------------


def child(args):
    os.environ.update(
        DATABASE_URL=args.child,
        DJANGO_SETTINGS_MODULE="tradesim.settings",
        DEBUG="False",
        SECRET_KEY=uuid.uuid4().hex * 2,
        ALLOWED_HOSTS="testserver",
        SECURE_SSL_REDIRECT="False",
        SECURE_COOKIES="False",
        SECURE_HSTS_SECONDS="0",
        LOG_LEVEL="WARNING",
        STARTING_CASH="1000000.00",
    )
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    settings.TICK_HOOKS = []  # the snapshot is timed on its own
    from tick import fill_market

    fill_market(args.symbols)
    made = 0
    for size in sorted(args.students):
        add_students(made, size, args.holdings)
        made = size
        print(json.dumps(measure(size, args)), flush=True)


def add_students(start: int, end: int, holdings: int):
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.utils import timezone

    from classrooms.models import Classroom
    from ledger.models import Balance, Transaction
    from ledger.services import OPENING_TOKEN, STARTING_CASH_DESCRIPTION
    from portfolio.models import Holding
    from prices.models import Price

    User = get_user_model()
    rng = random.Random(end)
    prices = list(Price.objects.filter(is_index=False).values_list("symbol", "price"))
    now = timezone.now()
    cash = 1_000_000
    batch = 1000
    for first in range(start, end, batch):
        with transaction.atomic():
            numbers = range(first, min(first + batch, end))
            classes = {
                n: Classroom.objects.get_or_create(name=f"Class {n:04d}")[0]
                for n in {i // CLASS_SIZE for i in numbers}
            }
            users = User.objects.bulk_create(
                [
                    User(
                        username=f"s{i:06d}",
                        email=f"s{i:06d}@example.test",
                        password="!x",
                        classroom=classes[i // CLASS_SIZE],
                    )
                    for i in numbers
                ]
            )
            journal, positions, balances = [], [], []
            for user in users:
                balance = cash
                journal.append(
                    Transaction(
                        user=user,
                        type=Transaction.Type.DEPOSIT,
                        amount=cash,
                        description=STARTING_CASH_DESCRIPTION,
                        token=OPENING_TOKEN,
                        timestamp=now,
                        balance_after=balance,
                    )
                )
                for symbol, price in rng.sample(prices, holdings):
                    quantity = rng.randint(1, 100)
                    balance -= price * quantity
                    journal.append(
                        Transaction(
                            user=user,
                            type=Transaction.Type.BUY,
                            amount=price * quantity,
                            description=f"Bought {quantity} {symbol}",
                            symbol=symbol,
                            timestamp=now,
                            balance_after=balance,
                        )
                    )
                    positions.append(
                        Holding(
                            user=user,
                            stock_id=symbol,
                            quantity=quantity,
                            average_price=price,
                            last_updated=now,
                        )
                    )
                balances.append(Balance(user=user, amount=balance, last_updated=now))
            Balance.objects.bulk_create(balances)
            Transaction.objects.bulk_create(journal, batch_size=5000)
            Holding.objects.bulk_create(positions, batch_size=5000)


def timed(run, repeat: int) -> float:
    run()  # warm-up
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        run()
        times.append(time.perf_counter() - began)
    return statistics.median(times) * 1000


def measure(size: int, args) -> dict:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from portfolio.models import Holding
    from portfolio.services import take_snapshots
    from prices.models import Price
    from prices.services import advance_market

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    snapshot_ms = timed(lambda: take_snapshots(timestamp=timezone.now()), max(args.repeat // 2, 1))
    user = get_user_model().objects.get(username=f"s{size // 2:06d}")
    client = Client()
    client.force_login(user)
    root, _ = get_user_model().objects.get_or_create(
        username="bench-root", defaults={"is_staff": True, "is_superuser": True}
    )
    superuser = Client()
    superuser.force_login(root)

    def page(path, as_client=client):
        def run():
            response = as_client.get(path)
            assert response.status_code == 200, response.status_code

        return run

    return {
        "students": size,
        "symbols": Price.objects.count(),
        "holding_rows": Holding.objects.count(),
        "leaderboard_ms": timed(page("/portfolio/leaderboard/", superuser), args.repeat),
        "class_board_ms": timed(page("/portfolio/leaderboard/"), args.repeat),
        "dashboard_ms": timed(page("/portfolio/"), args.repeat),
        "tick_ms": timed(lambda: advance_market(), max(args.repeat // 2, 1)),
        "snapshot_ms": snapshot_ms,
    }


if __name__ == "__main__":
    main()
