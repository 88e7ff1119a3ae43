"""`make serve` (tradesim/serve.py): the address students open, the children's settings,
and a real start on a free port: the site answers on the printed address, an instructor
login is made once, the ticker ticks, Ctrl-C leaves no process behind, and when one child
dies the other is stopped too."""

import ipaddress
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import pytest

from tradesim import serve

BASE_DIR = Path(__file__).resolve().parent.parent


# The address and the hosts ---------------------------------------------------------------


class FakeUdpSocket:
    """Records where it was "connected"; has no send method, so sending would fail."""

    def __init__(self, *, local=None, error=None):
        self.local, self.error, self.connected_to = local, error, None

    def __call__(self, family, kind):
        assert (family, kind) == (socket.AF_INET, socket.SOCK_DGRAM)
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def connect(self, address):
        if self.error:
            raise self.error
        self.connected_to = address

    def getsockname(self):
        return (self.local, 40000)


def test_the_lan_address_is_the_local_end_of_a_udp_route_to_a_private_address(monkeypatch):
    fake = FakeUdpSocket(local="192.168.1.23")
    monkeypatch.setattr(serve.socket, "socket", fake)

    assert serve.lan_address() == "192.168.1.23"
    assert ipaddress.ip_address(fake.connected_to[0]).is_private


def test_no_lan_address_without_a_route_or_with_only_loopback(monkeypatch):
    monkeypatch.setattr(serve.socket, "socket", FakeUdpSocket(error=OSError(101, "unreachable")))
    assert serve.lan_address() is None

    monkeypatch.setattr(serve.socket, "socket", FakeUdpSocket(local="127.0.0.1"))
    assert serve.lan_address() is None


def test_the_host_names_address_is_skipped_when_it_is_loopback(monkeypatch):
    monkeypatch.setattr(serve.socket, "gethostname", lambda: "teacher-pc")
    monkeypatch.setattr(serve.socket, "gethostbyname", lambda name: "127.0.1.1")  # Debian
    assert serve.hostname_address() is None

    monkeypatch.setattr(serve.socket, "gethostbyname", lambda name: "10.4.0.17")
    assert serve.hostname_address() == "10.4.0.17"


@pytest.mark.parametrize(
    ("lan", "by_name", "printed"),
    [
        ("192.168.1.23", "10.4.0.17", "192.168.1.23"),
        (None, "10.4.0.17", "10.4.0.17"),
        (None, None, "127.0.0.1"),
    ],
)
def test_the_printed_address_is_the_lan_one_then_the_host_names_then_loopback(
    monkeypatch, lan, by_name, printed
):
    monkeypatch.setattr(serve, "lan_address", lambda: lan)
    monkeypatch.setattr(serve, "hostname_address", lambda: by_name)
    assert serve.network_address() == printed


def test_the_site_answers_to_the_address_the_machines_name_localhost_and_what_was_set():
    hosts = serve.allowed_hosts(
        "192.168.1.23", hostname="Teacher-PC", configured=["localhost", "tradesim.school.example"]
    )
    assert hosts == [
        "192.168.1.23",
        "teacher-pc",
        "localhost",
        "127.0.0.1",
        "[::1]",
        "tradesim.school.example",
    ]


def test_the_children_run_in_production_mode_over_plain_http_whatever_env_says():
    env = serve.child_environment(
        {"DEBUG": "True", "SECURE_SSL_REDIRECT": "True", "BEHIND_PROXY": "True", "TZ": "UTC"},
        hosts=["192.168.1.23", "localhost"],
        port=8123,
    )
    assert env["DEBUG"] == "False"
    assert env["ALLOWED_HOSTS"] == "192.168.1.23,localhost"
    assert (env["SECURE_SSL_REDIRECT"], env["SECURE_COOKIES"]) == ("False", "False")
    assert env["SECURE_HSTS_SECONDS"] == "0"
    assert env["BEHIND_PROXY"] == "False"
    assert env["GUNICORN_BIND"] == "0.0.0.0:8123"
    assert env["TZ"] == "UTC"


def test_a_tick_seconds_that_is_not_a_whole_number_stops_the_start_with_its_name(
    monkeypatch, capsys
):
    monkeypatch.setenv("TICK_SECONDS", "fast")
    assert serve.main(["--port", "8123"]) == 1
    assert "TICK_SECONDS must be a whole number, 1 or more" in capsys.readouterr().err


def test_a_port_in_use_stops_the_start_before_anything_else(monkeypatch, capsys):
    monkeypatch.setenv("SECRET_KEY", "a-key")
    monkeypatch.delenv("TICK_SECONDS", raising=False)
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert serve.main(["--port", str(port)]) == 1
    assert f"Port {port} is in use" in capsys.readouterr().err


# A real start --------------------------------------------------------------------------


class Output:
    """The supervisor's output (its children's too), read as it comes."""

    def __init__(self, stream):
        self.lines: list[str] = []
        self._changed = threading.Condition()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream):
        for line in stream:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()

    def wait_for(self, pattern: str, *, seconds: float = 120) -> re.Match:
        """The first line that matches; fails with the output so far if none comes."""
        deadline = time.monotonic() + seconds
        with self._changed:
            while True:
                for line in self.lines:
                    if match := re.search(pattern, line):
                        return match
                left = deadline - time.monotonic()
                if left <= 0:
                    pytest.fail(f"no line matching {pattern!r} in:\n" + "\n".join(self.lines))
                self._changed.wait(left)

    def text(self) -> str:
        with self._changed:
            return "\n".join(self.lines)


def processes() -> dict[int, tuple[int, str, str]]:
    """pid: (parent pid, state, command line) of every process. `-ww`: whole command
    lines, however wide COLUMNS says the terminal is."""
    listing = subprocess.run(
        ["ps", "-ww", "-e", "-o", "pid=,ppid=,stat=,args="],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    table = {}
    for line in listing.splitlines():
        pid, ppid, state, *args = line.split(None, 3)
        table[int(pid)] = (int(ppid), state, args[0] if args else "")
    return table


def descendants(pid: int) -> dict[int, str]:
    table, found, todo = processes(), {}, [pid]
    while todo:
        parent = todo.pop()
        for child, (ppid, _, args) in table.items():
            if ppid == parent and child not in found:
                found[child] = args
                todo.append(child)
    return found


def running(pids) -> list[int]:
    table = processes()
    return [pid for pid in pids if pid in table and not table[pid][1].startswith("Z")]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("0.0.0.0", 0))
        return sock.getsockname()[1]


@pytest.fixture
def start_serve(tmp_path):
    """Starts `python -m tradesim.serve` (what `make serve` runs) on a free port with a
    SQLite database of its own; kills whatever is left of it at the end."""
    started = []

    def start():
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "CACHE_URL": f"filecache://{tmp_path / 'cache'}",
            "SECRET_KEY": "a-test-key-that-is-long-enough-for-django-to-accept-it-0123456789",
            "TICK_SECONDS": "1",
            "MARKET_HOURS": "",
            "GUNICORN_WORKERS": "2",
            "GUNICORN_THREADS": "2",
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "tradesim.serve", "--port", str(port)],
            cwd=BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        started.append(process)
        return process, Output(process.stdout), port

    yield start
    for process in started:
        if process.poll() is None:
            left = descendants(process.pid)
            process.kill()
            for pid in running(left):
                os.kill(pid, signal.SIGKILL)
        process.wait()


def get(url: str, opener=None):
    return (opener or urllib.request.build_opener()).open(url, timeout=30)


def log_in_to_the_admin(base: str, username: str, password: str) -> str:
    """Logs in through the admin's form, over the network; returns the page's final URL."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    form = get(base + "admin/login/", opener).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)[1]
    data = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": token, "username": username, "password": password}
    ).encode()
    return opener.open(base + "admin/login/?next=/admin/", data, timeout=30).geturl()


def test_make_serve_runs_the_class_once_set_up_and_stops_every_process_it_started(
    start_serve, tmp_path
):
    # First start: the site answers on the printed network address, in production mode
    # over plain HTTP, and the teacher gets an instructor login with its password once.
    process, output, port = start_serve()
    url = output.wait_for(r"(?:serving the class at|only this computer can open) (http://\S+/)")[1]
    assert url.endswith(f":{port}/")
    # The warning comes a moment after the address: wait for it rather than read too soon.
    output.wait_for(r"^Plain HTTP on the school network", seconds=30)

    health = get(url + "healthz")
    assert (health.status, health.read()) == (200, b"ok")
    assert health.headers["Strict-Transport-Security"] is None  # no HSTS on plain HTTP
    login_page = get(url + "accounts/login/")
    cookies = login_page.headers.get_all("Set-Cookie") or []
    assert any(cookie.startswith("csrftoken=") for cookie in cookies)
    assert not any("secure" in cookie.lower() for cookie in cookies)
    with pytest.raises(urllib.error.HTTPError) as missing:
        get(url + "no-such-page/")
    assert missing.value.code == 404
    assert b"URLconf" not in missing.value.read()  # DEBUG is off: no debug page

    passwords = re.findall(r"Password for teacher: (\S+)", output.text())
    assert len(passwords) == 1
    assert log_in_to_the_admin(url, "teacher", passwords[0]).endswith("/admin/")

    output.wait_for(r"^Tick 1 ")
    children = descendants(process.pid)
    assert any("tick_prices --every 1" in args for args in children.values())
    assert sum("gunicorn" in args for args in children.values()) >= 2  # master and workers

    # Ctrl-C: every process it started stops, and it exits cleanly.
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=90) == 0
    assert running(children) == []
    assert output.wait_for(r"^Stopped\.$")

    # Second start on the same database: no new login, no password. When the web server
    # dies, the ticker is stopped too and it exits 1, saying which stopped.
    process, output, port = start_serve()
    output.wait_for(r"serving the class at|only this computer can open")
    assert "There is an instructor already; none created." in output.text()
    assert "Password" not in output.text()
    output.wait_for(r"^Tick \d+ ")
    children = descendants(process.pid)
    table = processes()
    web_server = next(
        pid for pid in children if table[pid][0] == process.pid and "gunicorn" in table[pid][2]
    )

    os.kill(web_server, signal.SIGKILL)
    assert process.wait(timeout=90) == 1
    assert running(children) == []
    assert output.wait_for(r"The web server stopped \(killed by SIGKILL\), so TradeSim stopped too")
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM users WHERE is_staff").fetchone() == (1,)
