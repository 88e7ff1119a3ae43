"""`make serve`: TradeSim for a class on this machine, over the school network.

One supervisor process gets the database ready (migrate, the sample market, the static
files, an instructor login on the first start), then runs the two processes a class needs:
the web server (gunicorn with deploy/gunicorn.conf.py, DEBUG off, on 0.0.0.0:PORT) and the
ticker (`manage.py tick_prices --every TICK_SECONDS`). If either stops, it stops the other
and exits 1. Ctrl-C, SIGTERM or closing the terminal stops both, and it exits 0.

It serves plain HTTP on purpose, for a lesson on the school network; a server that stays
up goes behind HTTPS (docs/deploy.md).

    python -m tradesim.serve [--port 8000]

It imports no app: every step is a `manage.py` command or gunicorn, in a child process.
POSIX only (process groups), like gunicorn itself.
"""

import argparse
import contextlib
import ipaddress
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from tradesim.envvars import names, setting, whole_number

BASE_DIR = Path(__file__).resolve().parent.parent

# A tick is one minute of the simulated trading day (tick_prices' default --dt), so a tick a
# minute runs the market at the pace of a real one: 60 moves in a lesson hour, a quote
# screen that changes as a real one does, and one write a minute for the database beside
# the class's trades. The systemd ticker of docs/deploy.md ticks every 60 seconds too.
DEFAULT_TICK_SECONDS = 60
INSTRUCTOR = "teacher"
INSTRUCTOR_EMAIL = "teacher@localhost"
# Seconds the children get to stop after SIGTERM: gunicorn's graceful_timeout (30) lets
# requests in flight finish. A second Ctrl-C kills them at once.
STOP_GRACE_SECONDS = 35
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
HTTP_WARNING = (
    "Plain HTTP on the school network: anyone on it can read what is sent, passwords "
    "included; for a server use docs/deploy.md."
)


# The address students open ------------------------------------------------------------


def lan_address() -> str | None:
    """The address of the interface that leads to the school network. "Connecting" a UDP
    socket sends nothing: it only picks the route, and with it the local address."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("10.255.255.255", 1))
            return _reachable(probe.getsockname()[0])
    except OSError:
        return None


def hostname_address() -> str | None:
    try:
        return _reachable(socket.gethostbyname(socket.gethostname()))
    except OSError:
        return None


def _reachable(address: str) -> str | None:
    """The address, unless other machines cannot reach it (loopback, 0.0.0.0)."""
    ip = ipaddress.ip_address(address)
    return None if ip.is_loopback or ip.is_unspecified else address


def network_address() -> str:
    """The address to print: the LAN address, else the host name's, else 127.0.0.1 (then
    only this computer can open the site)."""
    return lan_address() or hostname_address() or "127.0.0.1"


def allowed_hosts(address: str, *, hostname: str, configured: list[str]) -> list[str]:
    """What the site answers to: the network address, this machine's name, localhost, and
    whatever ALLOWED_HOSTS lists already; each once, in that order."""
    hosts = [address, hostname.lower(), "localhost", "127.0.0.1", "[::1]", *configured]
    return list(dict.fromkeys(host for host in hosts if host))


def child_environment(base: dict, *, hosts: list[str], port: int) -> dict:
    """The children's environment: production settings (DEBUG off, whatever .env says),
    plain HTTP allowed, no proxy in front, gunicorn on every interface."""
    return {
        **base,
        "DEBUG": "False",
        "ALLOWED_HOSTS": ",".join(hosts),
        "SECURE_SSL_REDIRECT": "False",
        "SECURE_COOKIES": "False",
        "SECURE_HSTS_SECONDS": "0",
        "BEHIND_PROXY": "False",
        "GUNICORN_BIND": f"0.0.0.0:{port}",
        "PYTHONUNBUFFERED": "1",
    }


# Steps and children --------------------------------------------------------------------


class Failed(Exception):
    """What went wrong and what to do, for the teacher."""


def say(message: str) -> None:
    with contextlib.suppress(OSError):  # the terminal was closed (SIGHUP): stop anyway
        print(message, flush=True)


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("0.0.0.0", port))  # noqa: S104 (where gunicorn will listen)
        except OSError:
            return False
    return True


def port_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def manage(*arguments: str) -> list[str]:
    return [sys.executable, "manage.py", *arguments]


def run(command: list[str], env: dict, **options) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=BASE_DIR, env=env, **options)  # noqa: S603 (our own)


def prepare(env: dict) -> None:
    """Migrate, list the sample market, collect the static files (quiet unless a step
    fails), then create the instructor login if there is none (its password is printed)."""
    quiet_steps = [
        ("migrate the database", manage("migrate", "--noinput")),
        ("list the sample market", manage("load_market")),
        ("collect the static files", manage("collectstatic", "--noinput")),
    ]
    for what, command in quiet_steps:
        done = run(command, env, capture_output=True, text=True)
        if done.returncode:
            say(done.stdout + done.stderr)
            raise Failed(f"Could not {what} (`{' '.join(command[1:])}`): see the message above.")
    instructor = manage(
        "create_instructor",
        INSTRUCTOR,
        "--email",
        INSTRUCTOR_EMAIL,
        "--random-password",
        "--if-no-instructor",
    )
    if run(instructor, env).returncode:
        raise Failed(
            f"Could not create the instructor login {INSTRUCTOR!r} (see above). Create one "
            "with `.venv/bin/python manage.py create_instructor NAME --email EMAIL`, then "
            "run `make serve` again."
        )


def start(arguments: list[str], env: dict) -> subprocess.Popen:
    # A process group of its own (gunicorn's workers with it): Ctrl-C reaches the
    # supervisor alone, which stops each child once, and the group's stragglers after it.
    return subprocess.Popen(  # noqa: S603 (this interpreter, our own arguments)
        [sys.executable, *arguments], cwd=BASE_DIR, env=env, start_new_session=True
    )


def signal_group(child: subprocess.Popen, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # the group is gone already
        os.killpg(child.pid, signum)


def stop(children: dict[str, subprocess.Popen], signals: list[int]) -> None:
    """SIGTERM to each child's group; SIGKILL to what is left after the grace time, or at
    once on another Ctrl-C. Returns when every child has exited."""
    asked = len(signals)
    for child in children.values():
        signal_group(child, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    while any(child.poll() is None for child in children.values()):
        if time.monotonic() > deadline or len(signals) > asked:
            break
        time.sleep(0.1)
    for child in children.values():
        signal_group(child, signal.SIGKILL)
        child.wait()


def ended(returncode: int) -> str:
    if returncode < 0:
        return f"killed by {signal.Signals(-returncode).name}"
    return f"exit code {returncode}"


def supervise(children: dict[str, subprocess.Popen], signals: list[int], *, port, on_ready):
    """Until a stop signal: raises Failed when a child exits. Calls on_ready() once, when
    the web server answers on `port`."""
    ready = False
    while not signals:
        for name, child in children.items():
            if child.poll() is not None:
                raise Failed(
                    f"The {name} stopped ({ended(child.returncode)}), so TradeSim stopped "
                    "too: see its message above."
                )
        if not ready and port_answers(port):
            on_ready()
            ready = True
        time.sleep(0.2)


# The command ---------------------------------------------------------------------------


def serve(port: int) -> int:
    environ.Env.read_env(BASE_DIR / ".env")  # as settings do: the environment wins
    try:
        every = setting("TICK_SECONDS", whole_number(minimum=1), default=DEFAULT_TICK_SECONDS)
        configured = setting("ALLOWED_HOSTS", names, default=[])
    except ImproperlyConfigured as error:
        raise Failed(str(error)) from None
    if not os.environ.get("SECRET_KEY", "").strip():
        raise Failed("No SECRET_KEY in .env or the environment: `make env` writes one.")
    if not port_is_free(port):
        raise Failed(
            f"Port {port} is in use: is TradeSim (or another server) running already? "
            f"Stop it, or serve on another port: make serve PORT={port + 1}"
        )
    address = network_address()
    hosts = allowed_hosts(address, hostname=socket.gethostname(), configured=configured)
    env = child_environment(dict(os.environ), hosts=hosts, port=port)

    say("Getting the database and the static files ready…")
    prepare(env)

    signals: list[int] = []
    for signum in STOP_SIGNALS:
        signal.signal(signum, lambda number, frame: signals.append(number))
    web = ["-m", "gunicorn", "--config", "deploy/gunicorn.conf.py", "tradesim.wsgi"]
    children = {
        "web server": start(web, env),
        "ticker": start(["manage.py", "tick_prices", "--every", str(every)], env),
    }

    def announce():
        say("")
        if address == "127.0.0.1":
            say(
                f"No network address found, so only this computer can open "
                f"http://127.0.0.1:{port}/ (is it on the school network?)."
            )
        else:
            say(f"TradeSim is serving the class at http://{address}:{port}/")
        say(f"The market moves every {every} seconds (TICK_SECONDS). Ctrl-C stops TradeSim.")
        say(HTTP_WARNING)
        say("")

    try:
        supervise(children, signals, port=port, on_ready=announce)
    finally:
        if signals:
            say("Stopping the web server and the ticker…")
        stop(children, signals)
    say("Stopped.")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tradesim.serve", description=__doc__)
    parser.add_argument("--port", type=int, default=8000, help="the port (default 8000)")
    args = parser.parse_args(argv)
    if not 0 < args.port < 65536:
        parser.error("--port must be a port number, 1 to 65535.")
    try:
        return serve(args.port)
    except Failed as failure:
        print(f"make serve: {failure}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:  # Ctrl-C while getting ready, before any child was started
        print("make serve: stopped before serving.", file=sys.stderr, flush=True)
        return 130


if __name__ == "__main__":
    sys.exit(main())
