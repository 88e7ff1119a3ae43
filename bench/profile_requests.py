"""Profile TradeSim's hot requests in one process: queries per request and a pyinstrument
profile of many of them, with the settings bench/load.py gives gunicorn.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<throwaway> \\
    CACHE_URL=redis://127.0.0.1:6379/1 \\
        .venv/bin/python bench/profile_requests.py [--requests 300] [--kind buy] [--html out.html]

The database must be empty or a throwaway one: it is migrated and gets a market and a
student. The requests go through Django's full stack (middleware, sessions, auth, CSRF,
messages) via the WSGI handler, as gunicorn calls it, without the network: through
Django's test client by default, or with --direct straight into the WSGI application
with a hand-made environ (a session cookie and a urlencoded form, what gunicorn passes),
which leaves out the test client's own work. `api-buy` is the same market buy through the
JSON API (POST /api/v1/orders with a bearer token and an Idempotency-Key, no session or
cookie). Each request type reports its statements,
and wall and CPU time per request (process time: this process alone, which other work on
the machine inflates less than wall time).
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
    parser.add_argument(
        "--kind", choices=["buy", "sell", "quote", "dashboard", "history", "api-buy"]
    )
    parser.add_argument("--html", help="write the pyinstrument profile here")
    parser.add_argument("--direct", action="store_true", help="call the WSGI app directly")
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
    # The API's rate limit is counted, as on a server, but never reached here.
    from django.conf import settings

    from api.services import create_token

    settings.API_RATE_LIMIT_PER_MINUTE = 10**9
    client.api_token = create_token(user=user, name="profile").secret

    request = (direct_requests if args.direct else client_requests)(client, csrf)

    for _ in range(20):  # shares to sell (one per sale timed), a warm cache and connection
        request("buy", quantity=args.requests // 20 + 1)
    kinds = (
        [args.kind] if args.kind else ["buy", "api-buy", "sell", "quote", "dashboard", "history"]
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
        began, cpu = time.perf_counter(), time.process_time()
        for _ in range(args.requests):
            request(kind)
        took = (time.perf_counter() - began) / args.requests
        cpu = (time.process_time() - cpu) / args.requests
        print(
            f"{kind:<10} {len(queries):>3} queries  {took * 1000:6.2f} ms per request, "
            f"{cpu * 1000:6.2f} ms of CPU"
        )
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


PATHS = {"quote": "/prices/AAPL/", "dashboard": "/portfolio/", "history": "/trading/"}


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
            environ.update(REQUEST_METHOD="GET", PATH_INFO=PATHS[kind])
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
