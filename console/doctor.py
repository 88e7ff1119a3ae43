"""`manage.py doctor`: what is wrong with a running install, in plain words, with what to do.

The checks are data: CHECKS lists them in the order they run, each a function that takes
the Context and returns its Findings (none when all is well). A check that needs the
database answering, or its tables migrated, names the checks it depends on, and is left
out when one of them found a problem. To add a check: write the function, add a line to
CHECKS, and a test that it fires on the bad state and stays quiet on the good one.
"""

import enum
import os
import runpy
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core import checks as django_checks
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from prices.models import Price
from prices.selectors import ticker_heartbeat


class Level(enum.Enum):
    PROBLEM = "Problem"  # something does not work: exit 1
    WARNING = "Warning"  # may bite; worth a look
    NOTE = "Note"  # a fact about the install, such as which database it uses


@dataclass(frozen=True)
class Finding:
    level: Level
    message: str
    fix: str = ""


def problem(message: str, fix: str = "") -> Finding:
    return Finding(Level.PROBLEM, message, fix)


def warning(message: str, fix: str = "") -> Finding:
    return Finding(Level.WARNING, message, fix)


def note(message: str) -> Finding:
    return Finding(Level.NOTE, message)


def default_connection():
    return connections[DEFAULT_DB_ALIAS]


@dataclass(frozen=True)
class Context:
    ticker_minutes: int = 5
    connection: BaseDatabaseWrapper = field(default_factory=default_connection)

    @property
    def using(self) -> str:
        return self.connection.alias


@dataclass(frozen=True)
class Check:
    name: str
    run: Callable[[Context], Iterable[Finding]]
    # Left out when a check of these names found a problem (or was itself left out).
    needs: tuple[str, ...] = ()


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def count(self, level: Level) -> int:
        return sum(1 for finding in self.findings if finding.level is level)

    @property
    def problems(self) -> int:
        return self.count(Level.PROBLEM)

    @property
    def warnings(self) -> int:
        return self.count(Level.WARNING)

    @property
    def summary(self) -> str:
        if not self.problems and not self.warnings:
            return "No problems found."
        return f"{_plural(self.problems, 'problem')}, {_plural(self.warnings, 'warning')}."


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def examine(*, ticker_minutes: int = 5, checks: list[Check] | None = None) -> Report:
    """Run every check in CHECKS (or those given). A check that fails with an error becomes
    a problem that says so, and the others still run."""
    context = Context(ticker_minutes=ticker_minutes)
    report = Report()
    failed: set[str] = set()
    for check in CHECKS if checks is None else checks:
        if failed.intersection(check.needs):
            failed.add(check.name)
            report.skipped.append(check.name)
            continue
        try:
            findings = list(check.run(context))
        except Exception as error:
            findings = [
                problem(
                    f"The {check.name} check stopped with an error: "
                    f"{type(error).__name__}: {error}",
                    "Fix what the error names and run `manage.py doctor` again.",
                )
            ]
        if any(finding.level is Level.PROBLEM for finding in findings):
            failed.add(check.name)
        report.findings.extend(findings)
    return report


# Settings --------------------------------------------------------------------------------

LOCAL_HOSTS = {"localhost", ".localhost", "127.0.0.1", "::1", "[::1]"}
GUNICORN_CONFIG = Path(settings.BASE_DIR) / "deploy" / "gunicorn.conf.py"
PLAIN_HTTP_FIX = (
    "If a proxy such as nginx serves HTTPS in front of TradeSim (deploy/nginx.conf), set "
    "BEHIND_PROXY=True. If TradeSim is served over plain http on a closed network, set "
    "SECURE_SSL_REDIRECT=False, SECURE_COOKIES=False and SECURE_HSTS_SECONDS=0."
)


def gunicorn_serves_https() -> bool:
    """Whether gunicorn is told to serve HTTPS itself (its certfile): in GUNICORN_CMD_ARGS or
    in the project's gunicorn configuration file."""
    if "--certfile" in os.environ.get("GUNICORN_CMD_ARGS", ""):
        return True
    try:
        return bool(runpy.run_path(str(GUNICORN_CONFIG)).get("certfile"))
    except Exception:  # no such file, or one that does not run here: no sign of a certfile
        return False


def https_settings(context: Context) -> list[Finding]:
    """HTTPS asked for while nothing tells TradeSim a request came over HTTPS."""
    if settings.BEHIND_PROXY:
        if settings.SECURE_SSL_REDIRECT:
            return []
        return [
            warning(
                "BEHIND_PROXY is on but SECURE_SSL_REDIRECT is off: a browser that asks for "
                "http://… stays on plain http, where the secure cookies are refused and "
                "nobody can log in, unless the proxy itself sends http to https.",
                "Set SECURE_SSL_REDIRECT=True, or have the proxy redirect port 80 to https.",
            )
        ]
    if gunicorn_serves_https():
        return []
    if settings.SECURE_SSL_REDIRECT:
        return [
            problem(
                "SECURE_SSL_REDIRECT is on but BEHIND_PROXY is off, and gunicorn does not "
                "serve HTTPS itself (no certfile): every request reaches TradeSim as plain "
                "http and is sent to https:// again. Behind a proxy that serves HTTPS this "
                "repeats forever (the browser says there are too many redirects); without "
                "one, the browser finds no HTTPS server.",
                PLAIN_HTTP_FIX,
            )
        ]
    if settings.SESSION_COOKIE_SECURE or settings.CSRF_COOKIE_SECURE:
        return [
            warning(
                "SECURE_COOKIES is on, but nothing tells TradeSim the site is served over "
                "HTTPS (BEHIND_PROXY and SECURE_SSL_REDIRECT are off). Over plain http "
                'browsers refuse secure cookies, and every log-in fails ("CSRF verification '
                'failed").',
                PLAIN_HTTP_FIX,
            )
        ]
    return []


def network_hosts() -> list[str]:
    return [host for host in settings.ALLOWED_HOSTS if host.lower() not in LOCAL_HOSTS]


def debug_settings(context: Context) -> list[Finding]:
    """DEBUG on a network; a production install that answers to no name but localhost."""
    others = network_hosts()
    if settings.DEBUG and others:
        return [
            problem(
                f"DEBUG is on while ALLOWED_HOSTS lets other machines in ({', '.join(others)}): "
                "every error page shows TradeSim's code, settings and the request's data to "
                "whoever caused it, and every query is kept in memory.",
                "Set DEBUG=False in the environment (the env file or .env); SECRET_KEY must "
                "then be set too.",
            )
        ]
    if not settings.DEBUG and not others:
        return [
            warning(
                "ALLOWED_HOSTS names only this machine "
                f"({', '.join(settings.ALLOWED_HOSTS) or 'nothing'}): a browser (or a proxy) "
                "that asks for the server by its name or address gets 400 Bad Request.",
                "Set ALLOWED_HOSTS to the name students type, such as "
                "ALLOWED_HOSTS=tradesim.school.example.",
            )
        ]
    return []


def cache_backend() -> str:
    return settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]


def shared_cache(context: Context) -> list[Finding]:
    """A cache of each process's own: the ticker and the web server's workers cannot reach
    each other's."""
    backend = cache_backend()
    if backend == "DummyCache":
        return [
            problem(
                "The cache keeps nothing (CACHE_URL is dummycache://): students are never "
                "told of their filled orders, the API's rate limit does not count, and every "
                "quote is read from the database.",
                "Set CACHE_URL to a shared cache: redis://HOST:6379/1, or leave it unset for "
                "the file cache in the project folder (one machine).",
            )
        ]
    if backend != "LocMemCache":
        return []
    finding = problem if not settings.DEBUG else warning
    return [
        finding(
            "The cache lives inside each process (CACHE_URL is locmemcache://): the ticker "
            "cannot refresh the web server's quotes or tell students of their filled "
            "orders, each gunicorn worker keeps its own sessions and rate limits, and "
            "doctor cannot see the ticker's heartbeat.",
            "Set the same CACHE_URL for the web server and the ticker: redis://HOST:6379/1, "
            "or leave it unset for the file cache in the project folder (one machine).",
        )
    ]


def django_system_checks(context: Context) -> list[Finding]:
    """Django's own checks (`manage.py check`), with the deployment ones when DEBUG is off
    (`check --deploy`): errors are problems, the rest warnings."""
    messages = django_checks.run_checks(include_deployment_checks=not settings.DEBUG)
    findings = []
    for message in messages:
        if message.is_silenced() or message.level < django_checks.WARNING:
            continue
        if message.id == "security.W008" and settings.BEHIND_PROXY:
            continue  # https_settings says it in TradeSim's words
        found = problem if message.level >= django_checks.ERROR else warning
        where = f"{message.obj}: " if message.obj is not None else ""
        findings.append(
            found(f"Django's check {message.id}: {where}{message.msg}", message.hint or "")
        )
    return findings


# The database ----------------------------------------------------------------------------


def describe_database(connection) -> str:
    data = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"SQLite file {data['NAME']}"
    where = data.get("HOST") or "the local socket"
    if data.get("PORT"):
        where = f"{where}:{data['PORT']}"
    return f"{connection.display_name} database {data['NAME']} on {where}"


def database_answers(context: Context) -> list[Finding]:
    connection = context.connection
    name = str(connection.settings_dict["NAME"])
    if (
        connection.vendor == "sqlite"
        and not connection.creation.is_in_memory_db(name)
        and not Path(name).exists()
    ):
        # Connecting would create an empty file in its place.
        return [
            problem(
                f"The database file {name} does not exist.",
                "Check DATABASE_URL (unset, it is db.sqlite3 in the project folder); for a "
                "new install, run `manage.py migrate` to create it.",
            )
        ]
    try:
        # Reading the list of tables reads the database itself (SELECT 1 would not).
        with connection.cursor() as cursor:
            connection.introspection.table_names(cursor)
        version = ".".join(str(part) for part in connection.get_database_version())
    except Exception as error:
        return [
            problem(
                f"The database does not answer ({describe_database(connection)}): {error}",
                "Check DATABASE_URL, that the database server is running, and that it lets "
                "this user in.",
            )
        ]
    return [note(f"Database: {describe_database(connection)}, version {version}.")]


def migrations_applied(context: Context) -> list[Finding]:
    executor = MigrationExecutor(context.connection)
    loader = executor.loader
    plan = executor.migration_plan(loader.graph.leaf_nodes())
    findings = []
    if plan:
        names = ", ".join(f"{m.app_label}.{m.name}" for m, _backwards in plan)
        findings.append(
            problem(
                f"{_plural(len(plan), 'migration')} not applied: {names}. Pages that read "
                "their tables fail until they are.",
                "Run `manage.py migrate` (once, from one machine), then restart the web "
                "server and the ticker.",
            )
        )
    unknown = sorted(
        f"{app}.{name}"
        for app, name in loader.applied_migrations
        if app in loader.migrated_apps and (app, name) not in loader.disk_migrations
    )
    if unknown:
        findings.append(
            warning(
                f"The database has migrations this TradeSim does not have ({', '.join(unknown)}):"
                " a newer version migrated it, and this one may fail on its tables.",
                "Install that newer version again, or restore a backup made before it "
                "(`manage.py restore FILE`).",
            )
        )
    return findings


def market_listed(context: Context) -> list[Finding]:
    if Price.objects.using(context.using).exists():
        return []
    return [
        problem(
            "No market: no symbols are listed, so students cannot look up or buy anything.",
            "Run `manage.py load_market` to list the sample market.",
        )
    ]


def instructor_exists(context: Context) -> list[Finding]:
    users = get_user_model()._default_manager.using(context.using)
    if users.filter(is_staff=True, is_active=True).exists():
        return []
    return [
        problem(
            "No instructor: nobody can log in to /admin/ to run the classes.",
            "Run `manage.py create_instructor USERNAME --email EMAIL` (it asks for the password).",
        )
    ]


# Static files ----------------------------------------------------------------------------

IGNORED_STATIC = ["CVS", ".*", "*~"]  # collectstatic's default ignore patterns


def static_files(context: Context) -> list[Finding]:
    """With DEBUG off, pages name the hashed files that collectstatic lists in its manifest;
    a file missing from it makes the page that uses it fail (500)."""
    storage = staticfiles_storage
    if settings.DEBUG or not hasattr(storage, "manifest_name"):
        return []
    fix = (
        "Run `manage.py collectstatic --noinput`, then restart the web server (it reads the "
        "list of files when it starts)."
    )
    if not storage.manifest_storage.exists(storage.manifest_name):
        return [
            problem(
                f"The static files have not been collected: {settings.STATIC_ROOT} has no "
                f"{storage.manifest_name}, so every page fails (500).",
                fix,
            )
        ]
    collected, _hash = storage.load_manifest()
    sources = {
        path.replace(os.sep, "/")
        for finder in finders.get_finders()
        for path, _storage in finder.list(IGNORED_STATIC)
    }
    missing = sorted(sources - collected.keys())
    missing += sorted(name for name, hashed in collected.items() if not storage.exists(hashed))
    if not missing:
        return []
    shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
    return [
        problem(
            f"{_plural(len(missing), 'static file')} not collected into {settings.STATIC_ROOT} "
            f"({shown}): the pages that use them fail (500). collectstatic has not run since "
            "this version was installed.",
            fix,
        )
    ]


# The cache -------------------------------------------------------------------------------


def _without_password(location: str) -> str:
    parts = urlsplit(location)
    if not parts.password:
        return location
    netloc = parts.netloc.replace(f":{parts.password}@", ":…@")
    return urlunsplit(parts._replace(netloc=netloc))


def describe_cache() -> str:
    backend = cache_backend()
    location = settings.CACHES["default"].get("LOCATION", "")
    if isinstance(location, (list, tuple)):
        location = ", ".join(location)
    location = _without_password(str(location))
    if backend == "FileBasedCache":
        return f"files in {location}"
    if backend == "RedisCache":
        return f"Redis at {location}"
    if backend == "LocMemCache":
        return "the memory of each process"
    return f"{backend} {location}".strip()


def cache_answers(context: Context) -> list[Finding]:
    backend = cache_backend()
    described = describe_cache()
    if backend == "DummyCache":
        return []  # shared_cache says it keeps nothing
    key = f"tradesim:doctor:{uuid.uuid4().hex}"
    value = timezone.now().isoformat()
    try:
        cache.set(key, value, timeout=60)
        kept = cache.get(key)
        cache.delete(key)
    except Exception as error:
        return [
            problem(
                f"The cache does not answer ({described}): {error}",
                "Check CACHE_URL and that the cache server (Redis) is running; with the "
                "file cache, that its folder exists and this user may write to it.",
            )
        ]
    if kept != value:
        return [
            problem(
                f"The cache does not keep what it is given ({described}).",
                "Check CACHE_URL and the cache server's memory settings.",
            )
        ]
    return [note(f"Cache: {described}.")]


# The ticker -------------------------------------------------------------------------------

TICKER_FIX = (
    "Start the ticker: `systemctl enable --now tradesim-ticker` (deploy/tradesim-ticker."
    "service), or `manage.py tick_prices --every 60` under a supervisor. If it is running, "
    "its log says why it stops: `journalctl -u tradesim-ticker`."
)
# The ticker writes the database and the cache together; its cache record may lag by this
# much (one process's clock, two writes).
CACHE_SLACK = timedelta(seconds=60)


def ago(moment) -> str:
    seconds = max(int((timezone.now() - moment).total_seconds()), 0)
    if seconds < 120:
        return _plural(seconds, "second")
    if seconds < 120 * 60:
        return _plural(seconds // 60, "minute")
    if seconds < 48 * 3600:
        return _plural(seconds // 3600, "hour")
    return _plural(seconds // 86400, "day")


def ticker_running(context: Context) -> list[Finding]:
    """A running ticker reports after every tick and about once a minute while the market
    is closed (prices.ticker.heartbeat)."""
    beat = ticker_heartbeat()
    if beat.seen_at is None:
        return [
            problem(
                "No ticker has ever run here: prices do not move and resting orders never fill.",
                TICKER_FIX,
            )
        ]
    limit = timedelta(minutes=context.ticker_minutes)
    if timezone.now() - beat.seen_at > limit:
        when = timezone.localtime(beat.seen_at).strftime("%Y-%m-%d %H:%M %Z")
        return [
            problem(
                f"The ticker was last seen {ago(beat.seen_at)} ago ({when}); a running one "
                "reports about once a minute, also while the market is closed. Until it "
                "runs, prices do not move and resting orders do not fill.",
                TICKER_FIX,
            )
        ]
    by = f", {beat.by}" if beat.by else ""
    return [note(f"Ticker: seen {ago(beat.seen_at)} ago{by}.")]


def ticker_shares_cache(context: Context) -> list[Finding]:
    """The ticker's heartbeat is in the database but not in this process's cache: the
    ticker writes to another cache than the one the web server (and doctor) reads."""
    if cache_backend() in ("LocMemCache", "DummyCache"):
        return []  # shared_cache says so already
    beat = ticker_heartbeat()
    if beat.cache_seen_at is not None and beat.cache_seen_at >= beat.seen_at - CACHE_SLACK:
        return []
    return [
        problem(
            f"The ticker ran {ago(beat.seen_at)} ago, but this cache ({describe_cache()}) "
            "has no recent sign of it: the ticker uses another cache, so pages keep showing "
            "old quotes and students are not told of their filled orders.",
            "Give the web server, the ticker and doctor the same CACHE_URL (the same "
            "environment file), and restart them. If the cache was just restarted or "
            "cleared, run `manage.py doctor` again in a minute.",
        )
    ]


CHECKS: list[Check] = [
    Check("HTTPS settings", https_settings),
    Check("DEBUG and ALLOWED_HOSTS", debug_settings),
    Check("shared cache", shared_cache),
    Check("Django system", django_system_checks),
    Check("database", database_answers),
    Check("migrations", migrations_applied, needs=("database",)),
    Check("market", market_listed, needs=("migrations",)),
    Check("instructor", instructor_exists, needs=("migrations",)),
    Check("static files", static_files),
    Check("cache", cache_answers),
    Check("ticker", ticker_running, needs=("migrations", "cache")),
    Check("ticker's cache", ticker_shares_cache, needs=("ticker",)),
]
