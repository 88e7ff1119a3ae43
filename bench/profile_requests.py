"""Profile TradeSim's hot requests in one process: queries per request and a pyinstrument
profile of many of them, with the settings bench/load.py gives gunicorn.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<throwaway> \\
    CACHE_URL=redis://127.0.0.1:6379/1 \\
        .venv/bin/python bench/profile_requests.py [--requests 300] [--kind buy] [--html out.html]

The database must be empty or a throwaway one: it is migrated and gets a market and a
student. The requests go through Django's full stack (middleware, sessions, auth, CSRF,
messages) via the WSGI handler, as gunicorn calls it, without the network.
"""

import argparse
import os
import secrets
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
    parser.add_argument("--kind", choices=["buy", "sell", "quote", "dashboard", "history"])
    parser.add_argument("--html", help="write the pyinstrument profile here")
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from accounts.services import register_student
    from prices.services import load_market

    call_command("migrate", verbosity=0)
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

    def request(kind):
        if kind in ("buy", "sell"):
            data = {
                "csrfmiddlewaretoken": csrf,
                "symbol": "AAPL",
                "quantity": "1",
                "token": str(uuid.uuid4()),
            }
            response = client.post(f"/trading/{kind}/", data)
            assert response.status_code == 302, response.status_code
        else:
            path = {"quote": "/prices/AAPL/", "dashboard": "/portfolio/", "history": "/trading/"}
            response = client.get(path[kind])
            assert response.status_code == 200, response.status_code
        client.cookies.pop("messages", None)

    for _ in range(20):  # holdings to sell, a warm cache, a warm connection
        request("buy")
    kinds = [args.kind] if args.kind else ["buy", "sell", "quote", "dashboard", "history"]
    for kind in kinds:
        queries = []

        def record(execute, sql, params, many, context, queries=queries):
            queries.append(sql)
            return execute(sql, params, many, context)

        # Django clears connection.queries at each request's start, so count with a wrapper.
        with connection.execute_wrapper(record):
            request(kind)
        began = time.perf_counter()
        for _ in range(args.requests):
            request(kind)
        took = (time.perf_counter() - began) / args.requests
        print(f"{kind:<10} {len(queries):>3} queries  {took * 1000:6.2f} ms per request")
        if args.kind:
            for query in queries:
                print("   ", query[:160])

    if args.kind:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005)
        profiler.start()
        for _ in range(args.requests):
            request(args.kind)
        profiler.stop()
        if args.html:
            Path(args.html).write_text(profiler.output_html())
        print(profiler.output_text(unicode=False, color=False, show_all=False))


if __name__ == "__main__":
    main()
