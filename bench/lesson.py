"""Benchmark: the first minute of a lesson. A whole class logs in and trades at once,
over HTTP, against gunicorn (deploy/gunicorn.conf.py) on this machine.

    .venv/bin/python bench/lesson.py [--students 30 100 300] [--database postgres sqlite]
                                     [--login password card] [--buys 16] [--json out.json]

What it does, for each database, class size and way of logging in:
1. makes a throwaway database (PostgreSQL on 127.0.0.1:5432 as user postgres, PGHOST/
   PGPORT/PGUSER override; or a temporary SQLite file), migrates it, loads the sample
   market, and signs up one class of N students with an instructor (accounts.services:
   the students already exist, as they do on a lesson's day). With `password` every student
   has a password, hashed by the server's own hasher; with `card` the instructor has
   printed the class's log-in cards (accounts.cards), and each student has their code;
2. starts gunicorn with deploy/gunicorn.conf.py (DEBUG off, the Redis cache, production
   static files);
3. from a separate process (asyncio + aiohttp, a cookie jar per student, as a browser
   keeps), every student at the same moment: opens the log-in page, logs in (the password
   form, or the card page with their code), opens the dashboard it redirects to, a quote,
   the buy ticket, buys one share at market (the ticket's form, with the CSRF token the
   page gave), and opens the dashboard again;
4. reports the time from the start until the last student's buy landed and until the last
   student was done, p50/p95 per step, the errors (any other status, any exception, a
   500 or "database is locked" in the server's log), and the CPU the server used
   (gunicorn, PostgreSQL's backends) and the load client.

With `--buys S` it also measures the browser's buy alone once the class is in: S students
(already logged in) each repeat the browser's buy — GET the ticket, POST it, follow the
redirect — for `--buy-seconds`, with `--think` seconds of mean think time between buys
(0: as fast as the server answers), and reports p50/p95 of the whole buy.

Every loop is bounded in time and count; the only target is 127.0.0.1.
"""

import argparse
import asyncio
import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path


def _load_bench_module():
    """bench/load.py, for its throwaway databases, server settings and CPU counters, by its
    path (the setup child takes bench/ off sys.path)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "bench_load", Path(__file__).resolve().parent / "load.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_load = _load_bench_module()
HOST, PORT, PYTHON, ROOT = _load.HOST, _load.PORT, _load.PYTHON, _load.ROOT
cpu_seconds, machine, pct = _load.cpu_seconds, _load.machine, _load.pct
port_is_free, server_env, wait_for = _load.port_is_free, _load.server_env, _load.wait_for
throwaway_database = _load.throwaway_database

STEPS = ["login_page", "login", "dashboard", "quote", "ticket", "buy", "dashboard_again"]
PASSWORD = "lesson-bench-Pa55word"  # every student's; hashed once by the server's hasher
TIMEOUT_SECONDS = 300  # a bound on one request; a wave that needs more has failed anyway


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, nargs="+", default=[30, 100, 300])
    parser.add_argument(
        "--database", nargs="+", choices=["postgres", "sqlite"], default=["postgres", "sqlite"]
    )
    parser.add_argument("--login", nargs="+", choices=["password", "card"], default=["password"])
    parser.add_argument(
        "--workers", type=int, help="gunicorn workers (default: deploy/gunicorn.conf.py's)"
    )
    parser.add_argument("--buys", type=int, default=0, help="students in the buy run (0: none)")
    parser.add_argument("--buy-seconds", type=float, default=20.0)
    parser.add_argument(
        "--think",
        type=float,
        nargs="+",
        default=[0.0],
        help="mean think time in the buy run, seconds (several: one buy run each)",
    )
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--setup", help=argparse.SUPPRESS)  # child: set up DATABASE_URL
    parser.add_argument("--client", help=argparse.SUPPRESS)  # child: run the wave, JSON in
    args = parser.parse_args()
    if args.setup:
        setup_child(args)
        return
    if args.client:
        client_child(args.client)
        return

    print(machine(), flush=True)
    print(f"load average {os.getloadavg()[0]:.2f} before the runs", flush=True)
    results = []
    # gunicorn serves the static files from the checkout's STATIC_ROOT, where each run
    # collects them; left there, they would shadow static/ for the browser tests.
    collected = ROOT / "staticfiles"
    had_collected = collected.exists()
    try:
        for database in args.database:
            for login in args.login:
                for students in args.students:
                    with throwaway_database(database) as url:
                        result = run(args, url, database, login, students)
                    results.append(result)
                    print(report(result), flush=True)
    finally:
        if not had_collected:
            shutil.rmtree(collected, ignore_errors=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


def run(args, url: str, database: str, login: str, students: int) -> dict:
    workdir = tempfile.mkdtemp(prefix="tradesim-lesson-")
    env = server_env(url, workdir)
    try:
        began = time.perf_counter()
        setup = subprocess.run(
            [PYTHON, __file__, "--setup", url, "--students", str(students), "--login", login],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        if setup.returncode:
            raise SystemExit(f"the setup failed:\n{setup.stderr[-3000:]}")
        state = json.loads(setup.stdout.splitlines()[-1])
        setup_seconds = time.perf_counter() - began
        subprocess.run(
            [PYTHON, "manage.py", "collectstatic", "--noinput", "-v0"],
            env=env,
            cwd=ROOT,
            check=True,
        )
        if not port_is_free(PORT):
            raise SystemExit(f"port {PORT} is in use: set BENCH_PORT to a free one")
        if args.workers:
            env["GUNICORN_WORKERS"] = str(args.workers)
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
        try:
            wait_for(f"http://{HOST}:{PORT}/healthz")
            # Each worker answers one page before the wave: the first request of a fresh
            # worker imports and compiles what the rest reuse, which is not the lesson.
            for _ in range((args.workers or os.cpu_count() or 1) * 2):
                wait_for(f"http://{HOST}:{PORT}/accounts/login/")
            state.update(
                server_pid=server.pid,
                database_url=url,
                base=f"http://{HOST}:{PORT}",
                buys=args.buys,
                buy_seconds=args.buy_seconds,
                think=args.think,
            )
            state_file = Path(workdir) / "state.json"
            state_file.write_text(json.dumps(state))
            client = subprocess.run(
                [PYTHON, __file__, "--client", str(state_file)],
                cwd=ROOT,
                check=True,
                capture_output=True,
                text=True,
                timeout=TIMEOUT_SECONDS * 3 + args.buy_seconds * len(args.think),
            )
            sys.stderr.write(client.stderr)
            result = json.loads(client.stdout.splitlines()[-1])
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        server_log = log_path.read_text()
        result.update(
            database=database,
            login=login,
            students=students,
            workers=server_log.count("Booting worker"),
            setup_seconds=setup_seconds,
            load_average=os.getloadavg()[0],
            database_locked=server_log.count("database is locked"),
            server_errors_logged=server_log.count("Internal Server Error"),
        )
        if result["server_errors_logged"]:
            sys.stderr.write(server_log[-4000:])
        return result
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# The setup child: runs with the server's settings --------------------------------------------


def setup_child(args):
    # Python put bench/ first on the path, where api.py would shadow the `api` app.
    here = Path(__file__).resolve().parent
    sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != here]
    import django

    django.setup()
    from django.core.management import call_command

    from accounts.services import create_instructor, enroll_students
    from classrooms.services import create_class
    from prices.models import Price
    from prices.services import load_market

    call_command("migrate", verbosity=0)
    load_market()
    symbols = list(Price.objects.filter(halted=False).values_list("symbol", flat=True))
    teacher = create_instructor(
        username="teacher", email="teacher@example.test", password=secrets.token_urlsafe(16)
    )
    classroom = create_class(name="Lesson", owners=[teacher])
    count = args.students[0]
    roster = [
        (f"student{i:04d}", f"student{i:04d}@example.test", "Student", f"{i:04d}")
        for i in range(count)
    ]
    students = enroll_students(students=roster, password=PASSWORD, classroom=classroom)
    codes = [None] * count
    if args.login[0] == "card":
        from accounts.services import issue_cards

        issued = {
            user.pk: code
            for user, code in issue_cards(classroom=classroom, users=students, by=teacher)
        }
        codes = [issued[user.pk] for user in students]
    print(
        json.dumps(
            {
                "login": args.login[0],
                "students": [
                    {"username": user.username, "code": code}
                    for user, code in zip(students, codes, strict=True)
                ],
                "password": PASSWORD,
                "symbols": symbols,
            }
        )
    )


# The client child: asyncio + aiohttp ---------------------------------------------------------


def client_child(path: str):
    state = json.loads(Path(path).read_text())
    print(json.dumps(asyncio.run(drive(state))))


class Refused(Exception):
    pass


def _form_value(body: str, name: str) -> str | None:
    """The value of the first input named `name` in a page, if any."""
    marker = f'name="{name}"'
    at = body.find(marker)
    if at < 0:
        return None
    start = body.rfind("<input", 0, at)
    end = body.find(">", at)
    tag = body[start:end]
    value_at = tag.find('value="')
    if value_at < 0:
        return None
    return tag[value_at + 7 : tag.index('"', value_at + 7)]


async def drive(state: dict) -> dict:
    import aiohttp

    base = state["base"]
    symbols = state["symbols"]
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
    connector = aiohttp.TCPConnector(limit=0)
    samples = defaultdict(list)  # the wave's STEPS, then the buy runs' own
    errors = defaultdict(int)
    examples = []
    bought_at, done_at = [], []
    sessions = {}

    async def step(http, name, method, path, expect, data=None, referer=None):
        headers = {"Referer": base + referer} if referer else {}
        began = time.monotonic()
        try:
            async with http.request(
                method, base + path, data=data, headers=headers, allow_redirects=False
            ) as response:
                body = (await response.read()).decode("utf-8", "replace")
                status, location = response.status, response.headers.get("Location", "")
        except (TimeoutError, aiohttp.ClientError) as error:
            body, status, location = "", type(error).__name__, ""
        samples[name].append(time.monotonic() - began)
        ok = status == expect and not (status == 302 and "/login/" in location)
        if not ok:
            errors[name] += 1
            if len(examples) < 8:
                examples.append(f"{name} {method} {path} -> {status} {location}: {body[:200]!r}")
            raise Refused(name)
        return body, location

    def csrf(http) -> str:
        for cookie in http.cookie_jar:
            if cookie.key == "csrftoken":
                return cookie.value
        raise Refused("no CSRF cookie")

    async def student(number: int, who: dict, start: float):
        rng = random.Random(number)
        symbol = rng.choice(symbols)
        jar = aiohttp.CookieJar(unsafe=True)  # cookies for an address, as for a name
        http = aiohttp.ClientSession(
            connector=connector, connector_owner=False, timeout=timeout, cookie_jar=jar
        )
        sessions[number] = http
        try:
            if state["login"] == "card":
                await step(http, "login_page", "GET", "/accounts/card/", 200)
                form = {"code": who["code"]}
                login_path = "/accounts/card/"
            else:
                await step(http, "login_page", "GET", "/accounts/login/", 200)
                form = {"username": who["username"], "password": state["password"]}
                login_path = "/accounts/login/"
            form["csrfmiddlewaretoken"] = csrf(http)
            _, landing = await step(
                http, "login", "POST", login_path, 302, data=form, referer=login_path
            )
            await step(http, "dashboard", "GET", landing, 200)
            await step(http, "quote", "GET", f"/prices/{symbol}/", 200)
            await buy_from_ticket(http, symbol)
            bought_at.append(time.monotonic() - start)
            await step(http, "dashboard_again", "GET", "/portfolio/", 200)
            done_at.append(time.monotonic() - start)
        except Refused:
            pass

    async def buy_from_ticket(http, symbol: str) -> str:
        """Open the buy ticket for `symbol` and buy one share with its form; the address
        the order redirects to."""
        ticket_path = f"/trading/buy/?symbol={symbol}"
        page, _ = await step(http, "ticket", "GET", ticket_path, 200)
        order = {
            "csrfmiddlewaretoken": csrf(http),
            "symbol": symbol,
            "quantity": "1",
            "token": _form_value(page, "token") or secrets.token_hex(16),
        }
        _, then = await step(
            http, "buy", "POST", "/trading/buy/", 302, data=order, referer=ticket_path
        )
        return then

    async def buyer(number: int, stop: float, think: float, buys: list, buy_errors: list):
        http = sessions[number]
        rng = random.Random(1000 + number)
        while time.monotonic() < stop:
            symbol = rng.choice(symbols)
            began = time.monotonic()
            try:
                then = await buy_from_ticket(http, symbol)
                await step(http, "after_buy", "GET", then, 200)
                buys.append(time.monotonic() - began)
            except Refused:
                buy_errors.append(1)
            if think:
                await asyncio.sleep(min(rng.expovariate(1 / think), 10 * think))

    def server_cpu():
        return cpu_seconds(state["server_pid"], state["database_url"])

    def used(before: dict) -> dict:
        after = server_cpu()
        return {key: after[key] - before.get(key, 0) for key in after}

    cpu_before = server_cpu()
    start = time.monotonic()
    await asyncio.gather(*(student(i, who, start) for i, who in enumerate(state["students"])))
    wave_seconds = time.monotonic() - start
    wave_cpu = used(cpu_before)
    wave = {
        "steps": {
            name: {
                "count": len(samples[name]),
                "p50_ms": pct(sorted(samples[name]), 50),
                "p95_ms": pct(sorted(samples[name]), 95),
                "errors": errors[name],
            }
            for name in STEPS
        },
        "last_buy_s": max(bought_at) if bought_at else None,
        "last_done_s": max(done_at) if done_at else None,
        "bought": len(bought_at),
        "wave_seconds": wave_seconds,
        "errors": sum(errors.values()),
        "server_cpu": wave_cpu,
    }
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    wave["client_cpu_seconds"] = usage.ru_utime + usage.ru_stime

    buy_runs = []
    for think in state["think"] if state["buys"] else []:
        buyers = [n for n in sorted(sessions) if n < state["buys"]]
        buys, buy_errors = [], []
        stop = time.monotonic() + state["buy_seconds"]
        cpu_before = server_cpu()
        await asyncio.gather(*(buyer(n, stop, think, buys, buy_errors) for n in buyers))
        buy_cpu = used(cpu_before)
        times = sorted(buys)
        buy_runs.append(
            {
                "students": len(buyers),
                "seconds": state["buy_seconds"],
                "think": think,
                "buys": len(times),
                "per_second": len(times) / state["buy_seconds"],
                "p50_ms": pct(times, 50),
                "p95_ms": pct(times, 95),
                "errors": len(buy_errors),
                "server_cpu_per_buy_ms": {
                    key: value / len(times) * 1000 for key, value in buy_cpu.items()
                }
                if times
                else {},
            }
        )
    for http in sessions.values():
        await http.close()
    await connector.close()
    for example in examples:
        sys.stderr.write(f"error: {example}\n")
    return {"wave": wave, "buy_runs": buy_runs}


# The report --------------------------------------------------------------------------------


def _ms(value) -> str:
    return f"{value:>8.0f}" if value is not None else f"{'-':>8}"


def report(result: dict) -> str:
    wave = result["wave"]
    cpu = wave["server_cpu"]
    lines = [
        "",
        f"{result['students']} students, {result['login']} log-in, {result['database']}, "
        f"{result['workers']} gunicorn workers (load average {result['load_average']:.2f}; "
        f"setup {result['setup_seconds']:.0f} s)",
        f"last buy landed after {_s(wave['last_buy_s'])}, last student done after "
        f"{_s(wave['last_done_s'])}; {wave['bought']} of {result['students']} bought; "
        f"errors {wave['errors']}, 500s logged {result['server_errors_logged']}, "
        f'"database is locked" {result["database_locked"]}',
        f"{'step':<16} {'count':>6} {'p50 ms':>8} {'p95 ms':>8} {'errors':>7}",
    ]
    for name, row in wave["steps"].items():
        lines.append(
            f"{name:<16} {row['count']:>6} {_ms(row['p50_ms'])} {_ms(row['p95_ms'])} "
            f"{row['errors']:>7}"
        )
    lines.append(
        f"CPU for the wave: gunicorn {cpu.get('app', 0):.1f} s"
        + (f", PostgreSQL {cpu['database']:.1f} s" if "database" in cpu else "")
        + f", the load client {wave['client_cpu_seconds']:.1f} s"
    )
    for buy in result.get("buy_runs", []):
        lines.append(
            f"browser's buy (GET ticket, POST, follow the redirect), {buy['students']} students "
            f"for {buy['seconds']:.0f} s, think time {buy['think']} s: {buy['buys']} buys "
            f"({buy['per_second']:.1f}/s), p50 {buy['p50_ms']:.0f} ms, "
            f"p95 {buy['p95_ms']:.0f} ms, errors {buy['errors']}; server CPU per buy: "
            + ", ".join(f"{k} {v:.1f} ms" for k, v in buy["server_cpu_per_buy_ms"].items())
            if buy["buys"]
            else f"browser's buy: no buy landed, errors {buy['errors']}"
        )
    return "\n".join(lines)


def _s(value) -> str:
    return f"{value:.1f} s" if value is not None else "never"


if __name__ == "__main__":
    main()
