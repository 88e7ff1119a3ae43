"""Profile TradeSim's hot requests in one process: queries per request and a pyinstrument
profile of many of them, with the settings bench/load.py gives gunicorn.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<throwaway> \\
    CACHE_URL=redis://127.0.0.1:6379/1 \\
        .venv/bin/python bench/profile_requests.py [--requests 300] [--kind buy] [--html out.html]

The database must be empty or a throwaway one: it is migrated and gets a market and a
student. With --students N (N > 1) it gets the classroom population of bench/scale.py
instead: 5,000 symbols, N students in classes of 30 with 20 holdings each and their cash
journal, written with bulk inserts; the profiled student sits in the first class with 20
holdings, a few hundred trades and as many journal rows, so every paginated page is full.
A database that already holds that population is reused as it is. --database postgres or
sqlite makes the throwaway database itself (PostgreSQL on 127.0.0.1 as bench/load.py
reaches it, or a temporary SQLite file) and drops it afterwards.

The student pages: `market` (/prices/), `quote` (/prices/AAPL/), `ticket` (the buy
ticket, /trading/buy/?symbol=AAPL), `dashboard` (/portfolio/), `history` (/trading/),
`journal` (/ledger/) and `leaderboard` (/portfolio/leaderboard/, the student's class);
`--kind pages` times all seven. --repeat R times each kind R times and reports the median
and the spread of the CPU per request.

The requests go through Django's full stack (middleware, sessions, auth, CSRF, messages)
via the WSGI handler, as gunicorn calls it, without the network: through Django's test
client by default, or with --direct straight into the WSGI application with a hand-made
environ (a session cookie and a urlencoded form, what gunicorn passes), which leaves out
the test client's own work. `api-buy` is the same market buy through the JSON API
(POST /api/v1/orders with a bearer token and an Idempotency-Key, no session or cookie).
Each request type reports its statements, and wall and CPU time per request (process
time: this process alone, which other work on the machine inflates less than wall time).
"""

import argparse
import os
import secrets
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradesim.settings")
os.environ.setdefault("DEBUG", "False")
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1")
os.environ.setdefault("SECURE_SSL_REDIRECT", "False")
os.environ.setdefault("SECURE_COOKIES", "False")
os.environ.setdefault("SECURE_HSTS_SECONDS", "0")
os.environ.setdefault("STARTING_CASH", "1000000.00")
os.environ.setdefault("LOG_LEVEL", "WARNING")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument(
        "--kind",
        nargs="+",
        choices=["buy", "sell", "api-buy", *PATHS, "pages"],
        help="one kind is also profiled; `pages` is the seven student pages",
    )
    parser.add_argument("--html", help="write the pyinstrument profile here")
    parser.add_argument(
        "--cprofile", type=int, metavar="N", help="cProfile instead: the N costliest functions"
    )
    parser.add_argument("--direct", action="store_true", help="call the WSGI app directly")
    parser.add_argument("--students", type=int, default=1, help="students in the database")
    parser.add_argument("--repeat", type=int, default=1, help="timed runs of each kind")
    parser.add_argument("--queries", action="store_true", help="print each kind's statements")
    parser.add_argument(
        "--database",
        choices=["postgres", "sqlite"],
        help="run on a throwaway database of this kind, dropped afterwards",
    )
    args = parser.parse_args()
    if args.database:
        throwaway(args.database)
        return
    if args.kind and "pages" in args.kind:
        args.kind = [k for k in args.kind if k != "pages"] + [
            k for k in PATHS if k not in args.kind
        ]
    profile = args.kind[0] if args.kind and len(args.kind) == 1 else None

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from accounts.services import register_student
    from prices.services import load_market

    call_command("migrate", verbosity=0)
    # DEBUG off serves hashed names from the manifest, as in production. Collected into a
    # temporary folder: a staticfiles/ left in the checkout would be served to the tests.
    import atexit
    import shutil
    import tempfile

    from django.conf import settings

    settings.STATIC_ROOT = tempfile.mkdtemp(prefix="tradesim-static-")
    atexit.register(shutil.rmtree, settings.STATIC_ROOT, ignore_errors=True)
    call_command("collectstatic", interactive=False, verbosity=0)
    if args.students > 1:
        user = populate(args.students)
    else:
        load_market()
        user = register_student(
            username=f"p{uuid.uuid4().hex[:8]}",
            email=f"{uuid.uuid4().hex[:8]}@e.test",
            password=secrets.token_urlsafe(16),
        )
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    csrf = secrets.token_hex(16)
    client.cookies["csrftoken"] = csrf
    # The API's rate limit is counted, as on a server, but never reached here.
    from django.conf import settings

    from api.services import create_token

    settings.API_RATE_LIMIT_PER_MINUTE = 10**9
    if not args.kind or "api-buy" in args.kind:
        client.api_token = create_token(user=user, name="profile").secret

    request = (direct_requests if args.direct else client_requests)(client, csrf)

    for _ in range(20):  # shares to sell (one per sale timed), a warm cache and connection
        request("buy", quantity=args.requests * args.repeat // 20 + 1)
    kinds = args.kind or ["buy", "api-buy", "sell", "quote", "dashboard", "history"]
    print(
        f"{args.students} students, {'direct' if args.direct else 'test client'}, "
        f"{connection.vendor}, load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    for kind in kinds:
        request(kind)  # warm: a first sale also creates the seller's portfolio summary
        queries = []

        def record(execute, sql, params, many, context, queries=queries):
            queries.append(sql)
            return execute(sql, params, many, context)

        # Django clears connection.queries at each request's start, so count with a wrapper.
        with connection.execute_wrapper(record):
            request(kind)
        walls, cpus = [], []
        for _ in range(args.repeat):
            began, cpu = time.perf_counter(), time.process_time()
            for _ in range(args.requests):
                request(kind)
            walls.append((time.perf_counter() - began) / args.requests)
            cpus.append((time.process_time() - cpu) / args.requests)
        spread = f" ({min(cpus) * 1000:.2f}-{max(cpus) * 1000:.2f})" if args.repeat > 1 else ""
        print(
            f"{kind:<11} {len(queries):>3} queries  {statistics.median(walls) * 1000:6.2f} ms "
            f"per request, {statistics.median(cpus) * 1000:6.2f} ms of CPU{spread}",
            flush=True,
        )
        if profile or args.queries:
            for query in queries:
                print("   ", query[:160])

    if profile and args.cprofile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(args.requests):
            request(profile)
        profiler.disable()
        stats = pstats.Stats(profiler).strip_dirs()
        stats.sort_stats("tottime").print_stats(args.cprofile)
        stats.sort_stats("cumulative").print_stats(args.cprofile)
    elif profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.001)
        profiler.start()
        for _ in range(args.requests):
            request(profile)
        profiler.stop()
        if args.html:
            Path(args.html).write_text(profiler.output_html())
        print(profiler.output_text(unicode=False, color=False, show_all=False))


PATHS = {
    "market": "/prices/",
    "quote": "/prices/AAPL/",
    "ticket": "/trading/buy/?symbol=AAPL",
    "dashboard": "/portfolio/",
    "history": "/trading/",
    "journal": "/ledger/",
    "leaderboard": "/portfolio/leaderboard/",
}
PROFILED = "bench-student"
TRADES = 300  # the profiled student's trades beside the harness's own buys


def throwaway(kind: str):
    """Run this script again on a throwaway database of `kind`, then drop it."""
    import subprocess
    import tempfile

    sys.path.insert(0, str(ROOT / "bench"))
    command = [sys.executable, __file__, *sys.argv[1:]]
    at = command.index("--database")
    del command[at : at + 2]
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{folder}/bench.sqlite3"
            subprocess.run(command, check=True, env={**os.environ, "DATABASE_URL": url})
        return
    from load import drop_later, pg_params, psql

    name = f"tradesim_profile_{uuid.uuid4().hex[:8]}"
    psql(f"CREATE DATABASE {name}")
    p = pg_params()
    url = f"postgres://{p['user']}@{p['host']}:{p['port']}/{name}"
    try:
        subprocess.run(command, check=True, env={**os.environ, "DATABASE_URL": url})
    finally:
        drop_later(name)


def populate(students: int):
    """bench/scale.py's classroom population and the profiled student in its first class,
    with 20 holdings bought over TRADES trades, each with its cash journal row."""
    import datetime
    import random
    from decimal import Decimal

    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.utils import timezone

    from accounts.services import register_student
    from classrooms.models import Classroom
    from ledger.models import Balance, Transaction
    from portfolio.models import Holding
    from prices.models import Price
    from prices.services import load_market
    from trading.models import Trade

    User = get_user_model()
    user = User.objects.filter(username=PROFILED).first()
    if user is not None:
        return user
    sys.path.insert(0, str(ROOT / "bench"))
    from scale import add_students
    from tick import fill_market

    fill_market(5000)
    load_market()  # the sample symbols too, so AAPL is there to quote and trade
    add_students(0, students, 20)
    user = register_student(
        username=PROFILED,
        email="bench-student@example.test",
        password=secrets.token_urlsafe(16),
        classroom=Classroom.objects.get(name="Class 0000"),
    )
    rng = random.Random(0)
    stocks = rng.sample(
        list(
            Price.objects.filter(is_index=False)
            .exclude(symbol="AAPL")
            .values_list("symbol", "price")
        ),
        19,
    )
    now = timezone.now()
    with transaction.atomic():
        balance = Balance.objects.select_for_update().get(user=user)
        cash = balance.amount
        budget = cash / 2 / TRADES  # half the cash stays, for the buys the harness times
        trades, journal, bought = [], [], {}
        for n in range(TRADES):
            symbol, price = stocks[n % len(stocks)]
            quantity = max(1, min(rng.randint(1, 20), int(budget / price)))
            total = price * quantity
            cash -= total
            when = now - datetime.timedelta(minutes=TRADES - n)
            trades.append(
                Trade(
                    user=user,
                    stock_id=symbol,
                    operation=Trade.Operation.BUY,
                    quantity=quantity,
                    price=price,
                    total=total,
                    timestamp=when,
                )
            )
            journal.append(
                Transaction(
                    user=user,
                    type=Transaction.Type.BUY,
                    amount=total,
                    description=f"Bought {quantity} {symbol}",
                    symbol=symbol,
                    timestamp=when,
                    balance_after=cash,
                )
            )
            shares, cost = bought.get(symbol, (0, Decimal("0")))
            bought[symbol] = (shares + quantity, cost + total)
        Trade.objects.bulk_create(trades)
        Transaction.objects.bulk_create(journal)
        Holding.objects.bulk_create(
            Holding(
                user=user,
                stock_id=symbol,
                quantity=shares,
                average_price=(cost / shares).quantize(Decimal("0.0001")),
                last_updated=now,
            )
            for symbol, (shares, cost) in bought.items()
        )
        balance.amount = cash
        balance.save(update_fields=["amount"])
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return user


def client_requests(client, csrf):
    """One request of a kind through Django's test client."""

    def request(kind, quantity=1):
        if kind == "api-buy":
            response = client.post(
                "/api/v1/orders",
                {"symbol": "AAPL", "quantity": quantity},
                content_type="application/json",
                headers={
                    "Authorization": f"Bearer {client.api_token}",
                    "Idempotency-Key": str(uuid.uuid4()),
                },
            )
            assert response.status_code == 201, response.status_code
        elif kind in ("buy", "sell"):
            data = {
                "csrfmiddlewaretoken": csrf,
                "symbol": "AAPL",
                "quantity": str(quantity),
                "token": str(uuid.uuid4()),
            }
            response = client.post(f"/trading/{kind}/", data)
            assert response.status_code == 302, response.status_code
        else:
            response = client.get(PATHS[kind])
            assert response.status_code == 200, response.status_code
        client.cookies.pop("messages", None)

    return request


def direct_requests(client, csrf):
    """One request of a kind straight into the WSGI application, with the environ gunicorn
    would pass: the client's session cookie and, for an order, a urlencoded form."""
    import io
    import json
    from urllib.parse import urlencode

    from django.conf import settings
    from django.core.wsgi import get_wsgi_application

    application = get_wsgi_application()
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    cookie = f"{settings.SESSION_COOKIE_NAME}={session}; {settings.CSRF_COOKIE_NAME}={csrf}"
    base = {
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "HTTP_HOST": "testserver",
        "HTTP_COOKIE": cookie,
        "QUERY_STRING": "",
        "REMOTE_ADDR": "127.0.0.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
    }

    def request(kind, quantity=1):
        environ = dict(base)
        if kind == "api-buy":
            body = json.dumps({"symbol": "AAPL", "quantity": quantity}).encode()
            environ.update(
                REQUEST_METHOD="POST",
                PATH_INFO="/api/v1/orders",
                HTTP_AUTHORIZATION=f"Bearer {client.api_token}",
                HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
                CONTENT_TYPE="application/json",
                CONTENT_LENGTH=str(len(body)),
            )
            del environ["HTTP_COOKIE"]
            environ["wsgi.input"] = io.BytesIO(body)
            expect = "201"
        elif kind in ("buy", "sell"):
            body = urlencode(
                {
                    "csrfmiddlewaretoken": csrf,
                    "symbol": "AAPL",
                    "quantity": str(quantity),
                    "token": str(uuid.uuid4()),
                }
            ).encode()
            environ.update(
                REQUEST_METHOD="POST",
                PATH_INFO=f"/trading/{kind}/",
                HTTP_REFERER="http://testserver/prices/AAPL/",
                CONTENT_TYPE="application/x-www-form-urlencoded",
                CONTENT_LENGTH=str(len(body)),
            )
            environ["wsgi.input"] = io.BytesIO(body)
            expect = "302"
        else:
            path, _, query = PATHS[kind].partition("?")
            environ.update(REQUEST_METHOD="GET", PATH_INFO=path, QUERY_STRING=query)
            environ["wsgi.input"] = io.BytesIO(b"")
            expect = "200"
        statuses = []
        body = application(environ, lambda status, headers, exc_info=None: statuses.append(status))
        b"".join(body)
        body.close()
        assert statuses[0].startswith(expect), statuses

    return request


if __name__ == "__main__":
    main()
