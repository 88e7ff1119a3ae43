"""Benchmark: a classroom trading at once, over HTTP, against gunicorn — beside pgbench on
the same PostgreSQL server, the machine's limit for small write transactions.

    .venv/bin/python bench/load.py [--students 50] [--seconds 30] [--database postgres]
                                   [--think 0] [--pgbench] [--nginx]

What it does, in order:
1. makes a throwaway database (PostgreSQL on 127.0.0.1:5432 as user postgres, PGHOST/PGPORT/
   PGUSER override; or a temporary SQLite file with --database sqlite), migrates it, loads
   the sample market and creates N students with plenty of cash;
2. logs each student in by writing a session for them straight into the session store
   (what django.contrib.auth.login stores: user id, backend, password hash digest): a real
   login costs one PBKDF2 hash, about half a second of CPU, which would only measure the
   hasher. The CSRF cookie is a secret the client makes, sent back in the form, as a
   browser does with the cookie Django gives it;
3. starts gunicorn with deploy/gunicorn.conf.py (DEBUG off, Redis cache, production
   static files) — optionally behind nginx with deploy/nginx.conf (--nginx);
4. from a separate process (asyncio + aiohttp), each student runs the classroom mix in a
   loop for --seconds after a short warm-up: quote page, buy, sell, dashboard, trade
   history, with --think seconds of mean think time between requests (0: as fast as the
   server answers). Redirects are not followed: a POST must answer 302;
5. with --pgbench, runs pgbench's built-in TPC-B-like script (-M simple, scale = clients)
   with the same number of clients against the same server, in a second throwaway database;
6. prints, per request type: requests, throughput, p50/p95/p99 latency and errors (any
   status other than the expected one, any exception, and every "database is locked" in
   the server's log), then buys/s ÷ pgbench tps.

Every loop is bounded in time and count; the only target is 127.0.0.1.
"""

import argparse
import asyncio
import json
import os
import platform
import random
import re
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

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
HOST = "127.0.0.1"
PORT = int(os.environ.get("BENCH_PORT", 18731))
NGINX_PORT = PORT + 1
WARMUP_SECONDS = 3.0
MAX_REQUESTS_PER_STUDENT = 1_000_000  # a bound on each loop besides the clock
STARTING_CASH = "1000000.00"  # enough that no buy in a run is refused for cash

# What each student does, by weight. "classroom": the first minute of a lesson. "buys": every
# request a buy, the trade alone, for the ratio to pgbench's transactions. "trades": buys and
# sells, half each (a student with nothing to sell buys instead).
MIXES = {
    "classroom": {"quote": 35, "buy": 25, "sell": 15, "dashboard": 15, "history": 10},
    "buys": {"buy": 100},
    "trades": {"buy": 50, "sell": 50},
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--database", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--mix", choices=sorted(MIXES), default="classroom")
    parser.add_argument("--think", type=float, default=0.0, help="mean think time, seconds")
    parser.add_argument("--workers", type=int, help="gunicorn workers (default: its config)")
    parser.add_argument("--pgbench", action="store_true", help="also run pgbench (PostgreSQL)")
    parser.add_argument("--pgbench-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--nginx", action="store_true", help="go through nginx on 127.0.0.1")
    parser.add_argument(
        "--floor",
        choices=["wsgi", "django"],
        help="serve bench/floor.py instead of TradeSim: what gunicorn alone (wsgi) or "
        "Django's request stack (django) costs per request, without the trade",
    )
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--setup", help=argparse.SUPPRESS)  # child: set up DATABASE_URL
    parser.add_argument("--client", help=argparse.SUPPRESS)  # child: run the load, JSON in
    args = parser.parse_args()
    if args.setup:
        setup_child(args)
        return
    if args.client:
        client_child(args)
        return

    print(machine(), flush=True)
    print(f"other processes: load average {os.getloadavg()[0]:.2f} before the run", flush=True)
    results = {
        "students": args.students,
        "seconds": args.seconds,
        "think": args.think,
        "mix": args.mix,
    }
    if not args.pgbench_only:
        with throwaway_database(args.database) as url:
            results["http"] = http_run(args, url)
    if (args.pgbench or args.pgbench_only) and args.database == "postgres":
        results["pgbench_tps"] = pgbench(args.students, args.seconds)
    print(report(results), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


# Environment and databases ----------------------------------------------------------------


def pg_params():
    return {
        "host": os.environ.get("PGHOST", "127.0.0.1"),
        "port": os.environ.get("PGPORT", "5432"),
        "user": os.environ.get("PGUSER", "postgres"),
    }


def psql(sql, database="postgres"):
    p = pg_params()
    subprocess.run(
        ["psql", "-h", p["host"], "-p", p["port"], "-U", p["user"], "-d", database, "-qc", sql],
        check=True,
        capture_output=True,
    )


def drop_later(name: str):
    """Drop a throwaway database without waiting: DROP DATABASE waits for every backend on
    the server to acknowledge it, so one long query elsewhere would stall the report."""
    p = pg_params()
    sql = f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    subprocess.Popen(
        ["psql", "-h", p["host"], "-p", p["port"], "-U", p["user"], "-d", "postgres", "-qc", sql],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def port_is_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex((HOST, port)) != 0


class throwaway_database:
    def __init__(self, kind):
        self.kind = kind

    def __enter__(self):
        if self.kind == "sqlite":
            self.dir = tempfile.mkdtemp(prefix="tradesim-load-")
            return f"sqlite:///{self.dir}/load.sqlite3"
        self.name = f"tradesim_load_{uuid.uuid4().hex[:8]}"
        psql(f"CREATE DATABASE {self.name}")
        p = pg_params()
        return f"postgres://{p['user']}@{p['host']}:{p['port']}/{self.name}"

    def __exit__(self, *exc):
        if self.kind == "sqlite":
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            drop_later(self.name)


def server_env(url: str, static_root: str) -> dict:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="tradesim.settings",
        DATABASE_URL=url,
        DEBUG="False",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS=HOST,
        SECURE_SSL_REDIRECT="False",
        SECURE_COOKIES="False",
        SECURE_HSTS_SECONDS="0",
        CACHE_URL=os.environ.get("BENCH_CACHE_URL", "redis://127.0.0.1:6379/1"),
        STARTING_CASH=STARTING_CASH,
        LOG_LEVEL="WARNING",  # one line per trade would measure the terminal
        PYTHONPATH=str(ROOT),
    )
    return env


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    pg = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.strip()
    return (
        f"machine: {os.cpu_count()} cores, {cpu}; Python {platform.python_version()}; {pg}; "
        f"{platform.platform()}"
    )


# The HTTP run -----------------------------------------------------------------------------


def http_run(args, url: str) -> dict:
    static_root = tempfile.mkdtemp(prefix="tradesim-static-")
    env = server_env(url, static_root)
    try:
        t0 = time.perf_counter()
        setup = subprocess.run(
            [PYTHON, __file__, "--setup", url, "--students", str(args.students)],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        state = json.loads(setup.stdout.splitlines()[-1])
        print(f"setup: {time.perf_counter() - t0:.1f} s", flush=True)
        subprocess.run(
            [PYTHON, "manage.py", "collectstatic", "--noinput", "-v0"],
            env=env,
            cwd=ROOT,
            check=True,
        )
        for port in (PORT, NGINX_PORT):
            if not port_is_free(port):
                raise SystemExit(f"port {port} is in use: set BENCH_PORT to a free one")
        log_path = Path(static_root) / "gunicorn.log"
        if args.workers:
            env["GUNICORN_WORKERS"] = str(args.workers)
        env["GUNICORN_BIND"] = f"{HOST}:{PORT}"
        app = "tradesim.wsgi"
        if args.floor:
            env["BENCH_FLOOR"] = args.floor
            env["PYTHONPATH"] = f"{ROOT / 'bench'}{os.pathsep}{env['PYTHONPATH']}"
            app = f"floor:{args.floor}"
        with open(log_path, "w") as log:
            server = subprocess.Popen(
                [PYTHON, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", app],
                env=env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        nginx = None
        port = PORT
        try:
            wait_for(f"http://{HOST}:{PORT}/healthz")
            if args.nginx:
                nginx, port = start_nginx(static_root)
                wait_for(f"http://{HOST}:{port}/healthz")
            state.update(
                base=f"http://{HOST}:{port}",
                seconds=args.seconds,
                think=args.think,
                students=args.students,
                mix=args.mix,
            )
            state_file = Path(static_root) / "state.json"
            state_file.write_text(json.dumps(state))
            client = subprocess.run(
                [PYTHON, __file__, "--client", str(state_file)],
                cwd=ROOT,
                check=True,
                capture_output=True,
                text=True,
                timeout=args.seconds + WARMUP_SECONDS + 120,
            )
            sys.stderr.write(client.stderr)
            result = json.loads(client.stdout.splitlines()[-1])
            result["cpu_seconds"] = cpu_seconds(server.pid, url)
        finally:
            if nginx:
                nginx.terminate()
                nginx.wait(timeout=10)
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        server_log = log_path.read_text()
        result["database_locked"] = server_log.count("database is locked")
        result["server_errors_logged"] = server_log.count("Internal Server Error")
        result["workers"] = server_log.count("Booting worker")
        result["through_nginx"] = bool(args.nginx)
        result["floor"] = args.floor
        result["database"] = args.database
        if result["server_errors_logged"]:
            sys.stderr.write(server_log[-4000:])
        return result
    finally:
        shutil.rmtree(static_root, ignore_errors=True)


def cpu_seconds(master: int, url: str) -> dict:
    """CPU time used so far by the gunicorn workers and by this database's PostgreSQL
    backends (user + system, from /proc): a cost per request that other work on the
    machine does not inflate, unlike latency."""
    tick = os.sysconf("SC_CLK_TCK")

    def used(pid: int, reaped: bool = False) -> float:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        # utime + stime; with reaped, also cutime + cstime: the workers gunicorn recycled
        # (max_requests) and waited for during the run.
        return sum(int(f) for f in fields[11 : 15 if reaped else 13]) / tick

    workers = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == master:
                workers.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    result = {"app": sum(used(pid) for pid in workers) + used(master, reaped=True)}
    if url.startswith("postgres"):
        p = pg_params()
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
        result["database"] = sum(used(int(pid)) for pid in out.split())
    return result


def wait_for(url: str, seconds: float = 30.0):
    import urllib.request

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {seconds:.0f} s")


def nginx_bench_conf(workdir: str) -> str:
    """A whole nginx configuration around deploy/nginx.conf for HOST:NGINX_PORT: its upstream
    and its HTTPS server block as they are, but over plain HTTP (the figures are the app's
    behind nginx, not TLS's), without the port-80 redirect, and with files in workdir."""
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    redirect = conf.index("server {\n    listen 80;")
    conf = conf[:redirect] + conf[conf.index("\n}\n", redirect) + 3 :]
    conf = re.sub(r"^ *(listen \[::\]:443 .*|ssl_.*)\n", "", conf, flags=re.MULTILINE)
    conf = conf.replace("listen 443 ssl http2;", f"listen {HOST}:{NGINX_PORT};")
    conf = conf.replace("server 127.0.0.1:8000", f"server {HOST}:{PORT}")
    conf = conf.replace("/srv/tradesim/staticfiles/", f"{ROOT}/staticfiles/")
    return (
        f"daemon off;\npid {workdir}/nginx.pid;\nerror_log {workdir}/nginx-error.log;\n"
        f"worker_processes 1;\nevents {{ worker_connections 1024; }}\n"
        f"http {{\n  access_log off;\n  client_body_temp_path {workdir}/nginx-body;\n"
        f"  proxy_temp_path {workdir}/nginx-proxy;\n"
        f"  include /etc/nginx/mime.types;\n{conf}\n}}\n"
    )


def start_nginx(workdir: str):
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        raise SystemExit("nginx is not installed (apt-get install -y nginx-light)")
    path = Path(workdir) / "nginx.conf"
    path.write_text(nginx_bench_conf(workdir))
    process = subprocess.Popen([binary, "-c", str(path), "-p", workdir])
    return process, NGINX_PORT


# The setup child: runs with the server's settings -------------------------------------------


def setup_child(args):
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

    from ledger.services import open_account
    from prices.models import Price
    from prices.services import load_market

    call_command("migrate", verbosity=0)
    load_market()
    symbols = list(Price.objects.filter(halted=False).values_list("symbol", flat=True))
    store = import_module(settings.SESSION_ENGINE).SessionStore
    User = get_user_model()
    password = make_password(None)  # unusable: nobody logs in with a password here
    students = []
    for i in range(args.students):
        user = User.objects.create(
            username=f"student{i:04d}", email=f"student{i:04d}@example.test", password=password
        )
        open_account(user=user)
        session = store()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.save()
        students.append(session.session_key)
    print(
        json.dumps(
            {
                "sessions": students,
                "symbols": symbols,
                "session_cookie": settings.SESSION_COOKIE_NAME,
                "csrf_cookie": settings.CSRF_COOKIE_NAME,
            }
        )
    )


# The client child: asyncio + aiohttp ---------------------------------------------------------


def client_child(args):
    state = json.loads(Path(args.client).read_text())
    print(json.dumps(asyncio.run(drive(state))))


async def drive(state: dict) -> dict:
    import aiohttp

    base = state["base"]
    symbols = state["symbols"]
    think = state["think"]
    mix = MIXES[state["mix"]]
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=60)
    samples = {kind: [] for kind in mix}
    errors = dict.fromkeys(mix, 0)
    examples = []
    sent = [0]
    start = time.monotonic()
    measure_from = start + WARMUP_SECONDS
    stop = measure_from + state["seconds"]
    kinds, weights = zip(*mix.items(), strict=True)

    async def student(number: int, session_key: str):
        rng = random.Random(number)
        csrf = secrets.token_hex(16)  # 32 characters, what Django's CSRF secret looks like
        cookie = f"{state['session_cookie']}={session_key}; {state['csrf_cookie']}={csrf}"
        headers = {"Cookie": cookie, "Referer": f"{base}/prices/"}
        held: dict[str, int] = {}
        await asyncio.sleep(rng.random() * 0.5)  # the class does not click in lockstep
        for _ in range(MAX_REQUESTS_PER_STUDENT):
            if time.monotonic() >= stop:
                break
            kind = rng.choices(kinds, weights)[0]
            if kind == "sell" and not held:
                kind = "buy"
            symbol = rng.choice(symbols)
            method, path, data, expect = "GET", "", None, 200
            if kind == "quote":
                path = f"/prices/{symbol}/"
            elif kind == "dashboard":
                path = "/portfolio/"
            elif kind == "history":
                path = "/trading/"
            else:
                if kind == "sell":
                    symbol = rng.choice(list(held))
                quantity = rng.randint(1, 3) if kind == "buy" else 1
                method, path, expect = "POST", f"/trading/{kind}/", 302
                data = {
                    "csrfmiddlewaretoken": csrf,
                    "symbol": symbol,
                    "quantity": str(quantity),
                    "token": str(uuid.uuid4()),
                }
            began = time.monotonic()
            try:
                async with session.request(
                    method, base + path, data=data, headers=headers, allow_redirects=False
                ) as response:
                    body = await response.read()
                    status = response.status
                    loc = response.headers.get("Location", "")
                    # A 302 to the log-in page is a refused order, not a placed one.
                    ok = status == expect and not loc.startswith("/accounts/login/")
            except (TimeoutError, aiohttp.ClientError) as error:
                ok, status, body, loc = False, type(error).__name__, b"", ""
            took = time.monotonic() - began
            sent[0] += 1
            if ok and kind in ("buy", "sell"):
                held[symbol] = held.get(symbol, 0) + (quantity if kind == "buy" else -quantity)
                if held[symbol] <= 0:
                    del held[symbol]
            if began >= measure_from and began < stop:
                samples[kind].append(took)
                if not ok:
                    errors[kind] += 1
            if not ok and len(examples) < 5:
                examples.append(f"{kind} {path} -> {status} {loc}: {body[:300]!r}")
            if think:
                await asyncio.sleep(min(rng.expovariate(1 / think), 10 * think))

    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, cookie_jar=aiohttp.DummyCookieJar()
    ) as session:
        await asyncio.gather(*(student(i, key) for i, key in enumerate(state["sessions"])))

    for example in examples:
        sys.stderr.write(f"error: {example}\n")
    seconds = state["seconds"]
    per_kind = {}
    for kind in mix:
        times = sorted(samples[kind])
        per_kind[kind] = {
            "requests": len(times),
            "per_second": len(times) / seconds,
            "p50_ms": pct(times, 50),
            "p95_ms": pct(times, 95),
            "p99_ms": pct(times, 99),
            "errors": errors[kind],
        }
    everything = sorted(t for kind in mix for t in samples[kind])
    per_kind["all"] = {
        "requests": len(everything),
        "per_second": len(everything) / seconds,
        "p50_ms": pct(everything, 50),
        "p95_ms": pct(everything, 95),
        "p99_ms": pct(everything, 99),
        "errors": sum(errors.values()),
    }
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "per_kind": per_kind,
        "requests_sent": sent[0],
        "client_cpu_seconds": usage.ru_utime + usage.ru_stime,
    }


def pct(times: list[float], p: int) -> float | None:
    if not times:
        return None
    if len(times) == 1:
        return times[0] * 1000
    return statistics.quantiles(times, n=100, method="inclusive")[p - 1] * 1000


# pgbench -----------------------------------------------------------------------------------


def pgbench(clients: int, seconds: float) -> float:
    binary = shutil.which("pgbench") or next(
        iter(sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench"))), None
    )
    if not binary:
        raise SystemExit("pgbench is missing: apt-get install -y postgresql-contrib")
    p = pg_params()
    name = f"tradesim_pgbench_{uuid.uuid4().hex[:8]}"
    psql(f"CREATE DATABASE {name}")
    common = ["-h", p["host"], "-p", p["port"], "-U", p["user"]]
    try:
        # Server-side data generation (G): the init is not what is measured.
        subprocess.run(
            [str(binary), *common, "-i", "-I", "dtGvp", "-s", str(max(clients, 1)), "-q", name],
            check=True,
            capture_output=True,
        )
        out = subprocess.run(
            [
                str(binary),
                *common,
                "-M",
                "simple",
                "-c",
                str(clients),
                "-j",
                str(min(clients, os.cpu_count() or 1)),
                "-T",
                str(max(int(seconds), 1)),
                name,
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        for line in out.splitlines():
            if line.startswith("tps ="):
                return float(line.split()[2])
        raise RuntimeError(f"pgbench printed no tps:\n{out}")
    finally:
        drop_later(name)


# The report --------------------------------------------------------------------------------


def report(results: dict) -> str:
    lines = []
    http = results.get("http")
    if http:
        lines.append(
            f"\n{results['students']} students, {results['seconds']:.0f} s measured after "
            f"{WARMUP_SECONDS:.0f} s warm-up, {results['mix']} mix, "
            f"think time {results['think']} s; "
            f"{http['database']}, {http['workers']} gunicorn workers"
            + (", through nginx" if http["through_nginx"] else "")
            + (f"; floor {http['floor']}: no trade is placed" if http.get("floor") else "")
        )
        lines.append(
            f"{'request':<10} {'count':>7} {'per s':>8} {'p50 ms':>8} {'p95 ms':>8} "
            f"{'p99 ms':>8} {'errors':>7}"
        )
        for kind, row in http["per_kind"].items():
            lines.append(
                f"{kind:<10} {row['requests']:>7} {row['per_second']:>8.1f} "
                f"{_f(row['p50_ms'])} {_f(row['p95_ms'])} {_f(row['p99_ms'])} {row['errors']:>7}"
            )
        total = sum(row["requests"] for kind, row in http["per_kind"].items() if kind != "all")
        cpu = http.get("cpu_seconds", {})
        if total:
            lines.append(
                "CPU per request (all requests, warm-up included): gunicorn "
                f"{cpu.get('app', 0) / http['requests_sent'] * 1000:.2f} ms"
                + (
                    f", PostgreSQL {cpu['database'] / http['requests_sent'] * 1000:.2f} ms"
                    if "database" in cpu
                    else ""
                )
                + (
                    ", the load client "
                    f"{http['client_cpu_seconds'] / http['requests_sent'] * 1000:.2f} ms"
                    if "client_cpu_seconds" in http
                    else ""
                )
            )
        lines.append(
            f'"database is locked" in the server log: {http["database_locked"]}; '
            f"500s logged: {http['server_errors_logged']}"
        )
    tps = results.get("pgbench_tps")
    if tps:
        lines.append(f"pgbench TPC-B-like, -M simple, {results['students']} clients: {tps:.0f} tps")
        if http:
            buys = http["per_kind"]["buy"]["per_second"]
            lines.append(f"buys/s ÷ pgbench tps = {buys:.1f} / {tps:.0f} = {buys / tps:.1%}")
            if "sell" in http["per_kind"]:
                trades = buys + http["per_kind"]["sell"]["per_second"]
                lines.append(f"(buys + sells)/s ÷ pgbench tps = {trades / tps:.1%}")
    return "\n".join(lines)


def _f(value) -> str:
    return f"{value:>8.1f}" if value is not None else f"{'-':>8}"


if __name__ == "__main__":
    main()
