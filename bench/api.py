"""Benchmark: market buys through the JSON API beside the same buys through the order form,
in one run against one gunicorn server.

    .venv/bin/python bench/api.py [--students 50] [--seconds 10] [--rounds 3]
                                  [--database postgres|sqlite] [--json out.json]

What it does, in order:
1. makes a throwaway database (as bench/load.py: PostgreSQL on 127.0.0.1:5432 as user
   postgres, or a temporary SQLite file), migrates it, loads the sample market and creates
   N students with plenty of cash, each with a logged-in session (written straight into the
   session store, as load.py does) and an API token (made by api.services.create_token);
2. counts, in a process of its own with the server's settings, the SQL statements and the
   cache calls (Redis) of one request of each path, straight into the WSGI application as
   gunicorn calls it, after a warm-up:
   - api: POST /api/v1/orders, JSON {"symbol", "quantity"}, `Authorization: Bearer`, an
     Idempotency-Key; answers 201 with the order and its trade;
   - form: POST /trading/buy/ with the session cookie, the CSRF cookie and token, the
     form's one-time token; answers 302 with the success message in a cookie;
   - form + page: the same, then the page the 302 names (the trade history, which shows
     the message), as a browser follows it;
3. starts gunicorn with deploy/gunicorn.conf.py (DEBUG off, Redis cache and sessions) once,
   with a rate limit per token beyond what the run sends (the check itself still runs);
4. runs --rounds rounds; in each, every path in turn for --seconds after a 2 s warm-up, the
   order of the paths rotated from one round to the next; each student a closed loop (no
   think time) from a separate asyncio + aiohttp process, buying 1 to 3 shares of a random
   symbol; CPU time of the gunicorn workers and of this database's PostgreSQL backends
   read from /proc before and after each phase;
5. prints, per path: orders per second (median of the rounds, and the lowest and highest),
   p50 and p95 latency, CPU per order, statements and cache calls per request, errors.

Every loop is bounded in time and count; the only target is 127.0.0.1.
"""

import argparse
import asyncio
import importlib.util
import json
import os
import random
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

# This file's name is the app's: its folder must not come first on the path, or "api" would
# be this script. bench/load.py gives the throwaway databases, the server's settings and
# the CPU time from /proc.
BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != BENCH]
_spec = importlib.util.spec_from_file_location("load", BENCH / "load.py")
load = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(load)

PYTHON = sys.executable
HOST, PORT = load.HOST, load.PORT
WARMUP_SECONDS = 2.0
MAX_ORDERS_PER_STUDENT = 1_000_000  # a bound on each loop besides the clock
PATHS = ["api", "form", "form + page"]
# The cache's methods that each make a round trip to Redis.
CACHE_METHODS = (
    "get",
    "set",
    "add",
    "incr",
    "decr",
    "delete",
    "touch",
    "has_key",
    "get_many",
    "set_many",
    "delete_many",
)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0, help="per path and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--sql", action="store_true", help="print each path's statements")
    parser.add_argument("--setup", help=argparse.SUPPRESS)  # child: set up the database
    parser.add_argument("--count", help=argparse.SUPPRESS)  # child: statements per request
    parser.add_argument("--client", help=argparse.SUPPRESS)  # child: one phase of load
    args = parser.parse_args()
    if args.setup:
        setup_child(args.students)
        return
    if args.count:
        count_child(json.loads(Path(args.count).read_text()))
        return
    if args.client:
        client_child(json.loads(Path(args.client).read_text()))
        return

    print(load.machine(), flush=True)
    print(f"other processes: load average {os.getloadavg()[0]:.2f} before the run", flush=True)
    with load.throwaway_database(args.database) as url:
        results = run(args, url)
    results["load_average_after"] = os.getloadavg()[0]
    print(report(results), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


def run(args, url: str) -> dict:
    workdir = tempfile.mkdtemp(prefix="tradesim-api-bench-")
    env = load.server_env(url, workdir)
    env["API_RATE_LIMIT_PER_MINUTE"] = "100000000"
    try:
        began = time.perf_counter()
        state = child(["--setup", url, "--students", str(args.students)], env)
        print(f"setup: {time.perf_counter() - began:.1f} s", flush=True)
        state_file = Path(workdir) / "state.json"
        state_file.write_text(json.dumps({**state, "show_sql": args.sql}))
        subprocess.run(
            [PYTHON, "manage.py", "collectstatic", "--noinput", "-v0"],
            env=env,
            cwd=ROOT,
            check=True,
        )
        counts = child(["--count", str(state_file)], env)
        if not load.port_is_free(PORT):
            raise SystemExit(f"port {PORT} is in use: set BENCH_PORT to a free one")
        env["GUNICORN_BIND"] = f"{HOST}:{PORT}"
        log_path = Path(workdir) / "gunicorn.log"
        with open(log_path, "w") as log:
            server = subprocess.Popen(
                [PYTHON, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "tradesim.wsgi"],
                env=env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        phases = []
        try:
            load.wait_for(f"http://{HOST}:{PORT}/healthz")
            state["base"] = f"http://{HOST}:{PORT}"
            for round_number in range(args.rounds):
                shift = round_number % len(PATHS)
                for path in PATHS[shift:] + PATHS[:shift]:
                    phases.append(phase(server.pid, url, state, workdir, path, args.seconds))
                    phases[-1]["round"] = round_number + 1
                    print(one_line(phases[-1]), flush=True)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        server_log = log_path.read_text()
        return {
            "students": args.students,
            "seconds": args.seconds,
            "rounds": args.rounds,
            "database": args.database,
            "workers": server_log.count("Booting worker"),
            "server_errors_logged": server_log.count("Internal Server Error"),
            "database_locked": server_log.count("database is locked"),
            "counts": counts,
            "phases": phases,
        }
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def child(arguments: list[str], env: dict, timeout: float | None = None):
    """Run this script as a child with `arguments`; its last line of output, as JSON."""
    done = subprocess.run(
        [PYTHON, __file__, *arguments],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    sys.stderr.write(done.stderr)
    if done.returncode:
        raise SystemExit(f"{arguments[0]} failed (exit status {done.returncode})")
    return json.loads(done.stdout.splitlines()[-1])


def phase(master: int, url: str, state: dict, workdir: str, path: str, seconds: float) -> dict:
    """One path for `seconds` (after the warm-up), with the server's CPU time around it."""
    phase_file = Path(workdir) / "phase.json"
    phase_file.write_text(json.dumps({**state, "path": path, "seconds": seconds}))
    before = cpu_by_process(master, url)
    result = child(
        ["--client", str(phase_file)], dict(os.environ), timeout=seconds + WARMUP_SECONDS + 120
    )
    after = cpu_by_process(master, url)
    orders = result["orders_sent"] or 1
    used = {"app": 0.0}
    for (kind, pid), seconds_used in after.items():
        used[kind] = used.get(kind, 0.0) + seconds_used - before.get((kind, pid), 0.0)
    result["cpu_ms_per_order"] = {kind: total / orders * 1000 for kind, total in used.items()}
    result["path"] = path
    return result


def cpu_by_process(master: int, url: str) -> dict:
    """CPU seconds (user + system) so far of each gunicorn process and of each of this
    database's PostgreSQL backends, by (kind, pid): a phase's share is the difference, process
    by process (a backend that closes during a phase takes its time with it, so a sum over
    whatever runs at the end would miscount)."""
    tick = os.sysconf("SC_CLK_TCK")

    def used(pid: int) -> float | None:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / tick

    pids = {("app", master)}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == master:
                pids.add(("app", int(stat.parent.name)))
        except (OSError, ValueError, IndexError):
            continue
    if url.startswith("postgres"):
        p = load.pg_params()
        name = url.rsplit("/", 1)[1]
        out = subprocess.run(
            [
                "psql",
                "-h",
                p["host"],
                "-p",
                p["port"],
                "-U",
                p["user"],
                "-d",
                "postgres",
                "-Atc",
                f"SELECT pid FROM pg_stat_activity WHERE datname = '{name}'",
            ],
            capture_output=True,
            text=True,
        ).stdout
        pids |= {("database", int(pid)) for pid in out.split()}
    found = {key: used(key[1]) for key in pids}
    return {key: value for key, value in found.items() if value is not None}


# The setup child: runs with the server's settings -------------------------------------------


def setup_child(students: int):
    import django

    django.setup()
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
        get_user_model,
    )
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command

    from api.services import create_token
    from ledger.services import open_account
    from prices.models import Price
    from prices.services import load_market

    call_command("migrate", verbosity=0)
    load_market()
    symbols = list(Price.objects.filter(halted=False).values_list("symbol", flat=True))
    store = import_module(settings.SESSION_ENGINE).SessionStore
    User = get_user_model()
    password = make_password(None)  # unusable: nobody logs in with a password here
    made = []
    for i in range(students):
        user = User.objects.create(
            username=f"student{i:04d}", email=f"student{i:04d}@example.test", password=password
        )
        open_account(user=user)
        session = store()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.save()
        made.append(
            {"session": session.session_key, "token": create_token(user=user, name="bench").secret}
        )
    print(
        json.dumps(
            {
                "students": made,
                "symbols": symbols,
                "session_cookie": settings.SESSION_COOKIE_NAME,
                "csrf_cookie": settings.CSRF_COOKIE_NAME,
                "messages_cookie": getattr(settings, "MESSAGES_COOKIE_NAME", "messages"),
            }
        )
    )


# The count child: statements and cache calls per request, in process --------------------------


def count_child(state: dict):
    """One request of each path straight into the WSGI application (the environ gunicorn
    passes), after a warm-up, counting SQL statements and calls into the cache."""
    import io
    from urllib.parse import urlencode

    import django

    django.setup()
    from django.core.cache import caches
    from django.core.wsgi import get_wsgi_application
    from django.db import connection

    application = get_wsgi_application()
    student = state["students"][0]
    csrf = secrets.token_hex(16)
    cookie = f"{state['session_cookie']}={student['session']}; {state['csrf_cookie']}={csrf}"
    base = {
        "SERVER_NAME": HOST,
        "SERVER_PORT": str(PORT),
        "HTTP_HOST": HOST,
        "QUERY_STRING": "",
        "REMOTE_ADDR": HOST,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
    }

    def call(method, path, *, body=b"", content_type="", headers=None):
        environ = dict(base, REQUEST_METHOD=method, PATH_INFO=path, **(headers or {}))
        if body:
            environ.update(CONTENT_TYPE=content_type, CONTENT_LENGTH=str(len(body)))
        environ["wsgi.input"] = io.BytesIO(body)
        answer = {}

        def start_response(status, response_headers, exc_info=None):
            answer["status"] = status
            answer["headers"] = response_headers

        chunks = application(environ, start_response)
        b"".join(chunks)
        chunks.close()
        return answer

    def api_buy():
        body = json.dumps({"symbol": "AAPL", "quantity": 1}).encode()
        answer = call(
            "POST",
            "/api/v1/orders",
            body=body,
            content_type="application/json",
            headers={
                "HTTP_AUTHORIZATION": f"Bearer {student['token']}",
                "HTTP_IDEMPOTENCY_KEY": str(uuid.uuid4()),
            },
        )
        assert answer["status"].startswith("201"), answer

    def form_buy():
        body = urlencode(
            {
                "csrfmiddlewaretoken": csrf,
                "symbol": "AAPL",
                "quantity": "1",
                "token": str(uuid.uuid4()),
            }
        ).encode()
        answer = call(
            "POST",
            "/trading/buy/",
            body=body,
            content_type="application/x-www-form-urlencoded",
            headers={"HTTP_COOKIE": cookie, "HTTP_REFERER": f"http://{HOST}/prices/AAPL/"},
        )
        assert answer["status"].startswith("302"), answer
        return answer

    def form_buy_and_page():
        answer = form_buy()
        headers = dict(answer["headers"])
        sent = cookie
        for name, value in answer["headers"]:
            if name == "Set-Cookie" and value.startswith(state["messages_cookie"] + "="):
                sent += "; " + value.split(";", 1)[0]
        page = call("GET", headers["Location"], headers={"HTTP_COOKIE": sent})
        assert page["status"].startswith("200"), page

    cache_calls = [0]
    cache = caches["default"]
    for name in CACHE_METHODS:
        original = getattr(cache, name)

        def counted(*args, _original=original, **kwargs):
            cache_calls[0] += 1
            return _original(*args, **kwargs)

        setattr(cache, name, counted)

    counts = {}
    for path, request in (("api", api_buy), ("form", form_buy), ("form + page", form_buy_and_page)):
        for _ in range(5):  # warm: the connection, the caches, the token's last-used time
            request()
        statements = []

        def record(execute, sql, params, many, context, statements=statements):
            statements.append(sql)
            return execute(sql, params, many, context)

        cache_calls[0] = 0
        with connection.execute_wrapper(record):
            request()
        counts[path] = {"statements": len(statements), "cache_calls": cache_calls[0]}
        if state.get("show_sql"):
            sys.stderr.write(f"\n{path}:\n" + "".join(f"  {sql[:150]}\n" for sql in statements))
    print(json.dumps(counts))


# The client child: asyncio + aiohttp ---------------------------------------------------------


def client_child(state: dict):
    print(json.dumps(asyncio.run(drive(state))))


async def drive(state: dict) -> dict:
    import aiohttp

    base = state["base"]
    symbols = state["symbols"]
    path = state["path"]
    timeout = aiohttp.ClientTimeout(total=60)
    samples, errors, examples, sent = [], [0], [], [0]
    start = time.monotonic()
    measure_from = start + WARMUP_SECONDS
    stop = measure_from + state["seconds"]

    async def student(number: int, who: dict, session):
        rng = random.Random(number)
        csrf = secrets.token_hex(16)
        cookie = f"{state['session_cookie']}={who['session']}; {state['csrf_cookie']}={csrf}"
        form_headers = {"Cookie": cookie, "Referer": f"{base}/prices/"}
        api_headers = {"Authorization": f"Bearer {who['token']}"}
        await asyncio.sleep(rng.random() * 0.5)  # the class does not click in lockstep
        for _ in range(MAX_ORDERS_PER_STUDENT):
            if time.monotonic() >= stop:
                break
            symbol, quantity = rng.choice(symbols), rng.randint(1, 3)
            began = time.monotonic()
            try:
                if path == "api":
                    ok, detail = await api_buy(session, symbol, quantity, api_headers)
                else:
                    ok, detail = await form_buy(
                        session, symbol, quantity, csrf, form_headers, follow=path != "form"
                    )
            except (TimeoutError, aiohttp.ClientError) as error:
                ok, detail = False, type(error).__name__
            took = time.monotonic() - began
            sent[0] += 1
            if measure_from <= began < stop:
                samples.append(took)
                errors[0] += not ok
            if not ok and len(examples) < 5:
                examples.append(f"{path}: {detail}")

    async def api_buy(session, symbol, quantity, headers):
        async with session.post(
            f"{base}/api/v1/orders",
            json={"symbol": symbol, "quantity": quantity},
            headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
        ) as response:
            body = await response.read()
            return response.status == 201, f"{response.status} {body[:300]!r}"

    async def form_buy(session, symbol, quantity, csrf, headers, *, follow):
        data = {
            "csrfmiddlewaretoken": csrf,
            "symbol": symbol,
            "quantity": str(quantity),
            "token": str(uuid.uuid4()),
        }
        async with session.post(
            f"{base}/trading/buy/", data=data, headers=headers, allow_redirects=False
        ) as response:
            body = await response.read()
            where = response.headers.get("Location", "")
            # A 302 to the log-in page is a refused order, not a placed one.
            ok = response.status == 302 and not where.startswith("/accounts/login/")
            detail = f"{response.status} {where}: {body[:300]!r}"
            message = response.cookies.get(state["messages_cookie"])
        if not ok or not follow:
            return ok, detail
        sent_cookie = headers["Cookie"]
        if message is not None:
            sent_cookie += f"; {state['messages_cookie']}={message.value}"
        async with session.get(
            base + where, headers={**headers, "Cookie": sent_cookie}, allow_redirects=False
        ) as page:
            body = await page.read()
            return page.status == 200, f"page {page.status}: {body[:300]!r}"

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, cookie_jar=aiohttp.DummyCookieJar()
    ) as session:
        await asyncio.gather(*(student(i, who, session) for i, who in enumerate(state["students"])))

    for example in examples:
        sys.stderr.write(f"error: {example}\n")
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    samples.sort()
    return {
        "orders": len(samples),
        "per_second": len(samples) / state["seconds"],
        "p50_ms": load.pct(samples, 50),
        "p95_ms": load.pct(samples, 95),
        "errors": errors[0],
        "orders_sent": sent[0],
        "client_cpu_ms_per_order": (usage.ru_utime + usage.ru_stime) / max(sent[0], 1) * 1000,
    }


# The report --------------------------------------------------------------------------------


def one_line(result: dict) -> str:
    cpu = result["cpu_ms_per_order"]
    return (
        f"round {result['round']} {result['path']:<12} {result['per_second']:7.1f} orders/s  "
        f"p50 {result['p50_ms'] or 0:6.1f} ms  p95 {result['p95_ms'] or 0:6.1f} ms  "
        f"CPU/order gunicorn {cpu['app']:.2f} ms"
        + (f", PostgreSQL {cpu['database']:.2f} ms" if "database" in cpu else "")
        + f", client {result['client_cpu_ms_per_order']:.2f} ms  errors {result['errors']}"
    )


def report(results: dict) -> str:
    lines = [
        f"\n{results['students']} students, {results['rounds']} rounds of {results['seconds']:.0f}"
        f" s per path (after {WARMUP_SECONDS:.0f} s warm-up), no think time; "
        f"{results['database']}, {results['workers']} gunicorn workers; load average "
        f"{results['load_average_after']:.2f} after the run",
        "orders/s: the median of the rounds, then the lowest and the highest; the others: "
        "medians of the rounds; CPU ms per order",
        f"{'path':<12} {'orders/s':>8} {'low-high':>13} {'p50 ms':>7} {'p95 ms':>7} "
        f"{'gunicorn':>9} {'database':>9} {'client':>7} {'SQL':>4} {'cache':>6} {'errors':>7}",
    ]

    def mid(values):
        values = [v for v in values if v is not None]
        return statistics.median(values) if values else None

    def cell(value, width, places=2):
        return f"{value:>{width}.{places}f}" if value is not None else f"{'-':>{width}}"

    medians = {}
    for path in PATHS:
        rows = [p for p in results["phases"] if p["path"] == path]
        rates = [row["per_second"] for row in rows]
        medians[path] = statistics.median(rates)
        counts = results["counts"][path]
        cpu = [row["cpu_ms_per_order"] for row in rows]
        lines.append(
            f"{path:<12} {medians[path]:>8.1f} {f'{min(rates):.1f}-{max(rates):.1f}':>13} "
            + cell(mid([r["p50_ms"] for r in rows]), 7, 1)
            + " "
            + cell(mid([r["p95_ms"] for r in rows]), 7, 1)
            + " "
            + cell(mid([c["app"] for c in cpu]), 9)
            + " "
            + cell(mid([c.get("database") for c in cpu]), 9)
            + " "
            + cell(mid([r["client_cpu_ms_per_order"] for r in rows]), 7)
            + f" {counts['statements']:>4} {counts['cache_calls']:>6}"
            + f" {sum(r['errors'] for r in rows):>7}"
        )
    lines.append(
        f"API ÷ form: {medians['api'] / medians['form']:.2f}× the orders per second "
        f"({medians['api'] / medians['form + page']:.2f}× with the page after the form)"
    )
    lines.append(
        "SQL and cache: the statements and the calls into the cache (Redis) of one order "
        "(form + page: both requests)"
    )
    lines.append(
        f'"database is locked" in the server log: {results["database_locked"]}; '
        f"500s logged: {results['server_errors_logged']}"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
