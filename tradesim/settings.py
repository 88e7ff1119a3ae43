"""TradeSim settings: everything comes from the environment (and `.env` when present).

Typed values are read by tradesim.envvars: one that cannot be read as its type stops the
start with a message naming the variable, instead of silently becoming False or a default.
"""

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from tradesim import market_hours
from tradesim.envvars import (
    boolean,
    cache_url,
    database_url,
    dollars,
    dotted_path,
    folder,
    names,
    one_of,
    setting,
    time_zone,
    whole_number,
)

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")

DEBUG = setting("DEBUG", boolean, default=False)

SECRET_KEY = env("SECRET_KEY", default=None)
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it in the environment or in .env "
            "(`make run` writes a random one), or set DEBUG=True for local development."
        )
    SECRET_KEY = "insecure-development-key-only-for-DEBUG"  # noqa: S105

ALLOWED_HOSTS = setting("ALLOWED_HOSTS", names, default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = setting("CSRF_TRUSTED_ORIGINS", names, default=[])

INSTALLED_APPS = [
    "tradesim.apps.TradeSimAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "axes",
    "tradesim",
    "classrooms",
    "accounts",
    "prices",
    "ledger",
    "portfolio",
    "trading",
    "console",
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # /api/: problem documents for errors answered in HTML by the layers below; no-store.
    "api.middleware.ApiResponseMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # A session opened by a log-in card ends when the card is revoked or replaced.
    "accounts.card_sessions.CardSessionMiddleware",
    "tradesim.middleware.NoStoreWhenLoggedInMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "tradesim.middleware.ContentSecurityPolicyMiddleware",
    "accounts.lockout.KnownBrowserMiddleware",
    "axes.middleware.AxesMiddleware",
    "tradesim.middleware.RejectNulCharactersMiddleware",
    "tradesim.middleware.AdminChangeListGuardMiddleware",
    # After the session, auth and messages: tells a student of their filled, rejected and
    # expired orders on their next page.
    "trading.middleware.OrderNewsMiddleware",
]

ROOT_URLCONF = "tradesim.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tradesim.context_processors.time_zone",
                "tradesim.context_processors.market_hours",
                # One query on a logged-in student's page: their margin call, if any.
                "trading.context_processors.margin_call",
            ],
        },
    },
]

# Django's form renderer with the plain inputs and selects formatted in Python, the same HTML.
FORM_RENDERER = "tradesim.form_renderer.FastWidgetRenderer"

WSGI_APPLICATION = "tradesim.wsgi.application"

# Databases -----------------------------------------------------------------------------

DATABASES = {
    "default": setting(
        "DATABASE_URL",
        database_url,
        default={"ENGINE": "django.db.backends.sqlite3", "NAME": str(BASE_DIR / "db.sqlite3")},
    )
}
_conn_max_age = setting("CONN_MAX_AGE", whole_number(minimum=0), default=60)
_db = DATABASES["default"]
_db["ATOMIC_REQUESTS"] = False  # services own their transactions; locks stay short
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # Concurrent writers wait for each other instead of failing with "database is locked":
    # WAL lets readers run beside a writer, IMMEDIATE takes the write lock at BEGIN.
    _db["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    _db["CONN_MAX_AGE"] = _conn_max_age
    _db["CONN_HEALTH_CHECKS"] = True
    if _db["ENGINE"] == "django.db.backends.postgresql":
        # No JIT: the leaderboard's per-student subqueries push its estimated cost past
        # jit_above_cost, and compiling the plan took 3.3 s of a 3.7 s query (EXPLAIN
        # ANALYZE, 1,000 students) that runs in 0.35 s without it. Short OLTP queries
        # never gain from JIT.
        _options = _db.setdefault("OPTIONS", {})
        _options["options"] = f"{_options.get('options', '')} -c jit=off".strip()

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Where `manage.py backup` writes its files (tradesim.backups); relative to the project folder.
BACKUP_DIR = setting("BACKUP_DIR", folder(base=BASE_DIR), default=BASE_DIR / "backups")

# Cache ---------------------------------------------------------------------------------

FILE_CACHE_MAX_ENTRIES = 20_000

# The default is a file cache in the project folder, shared by every process on the machine
# (runserver, gunicorn's workers, a separate tick_prices), so a tick's invalidation of the
# quote cache reaches them all. Production: redis://… shared by every machine.
CACHES = {
    "default": setting(
        "CACHE_URL",
        cache_url,
        default={
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(BASE_DIR / ".cache"),
            # Django's default of 300 entries would drop keys that must last until read,
            # such as each student's news of a filled order (trading.middleware).
            "OPTIONS": {"MAX_ENTRIES": FILE_CACHE_MAX_ENTRIES},
        },
    )
}

if CACHES["default"]["BACKEND"].endswith("FileBasedCache"):  # also CACHE_URL=filecache://…
    CACHES["default"].setdefault("OPTIONS", {}).setdefault("MAX_ENTRIES", FILE_CACHE_MAX_ENTRIES)

# Sessions: with a shared cache (CACHE_URL, Redis in production) they are read from it and
# written through to the database, so a cache restart logs nobody out; that saves the
# session query on every request. Without one they stay in the database only.
SESSION_ENGINE = setting(
    "SESSION_ENGINE",
    dotted_path,
    default=(
        "django.contrib.sessions.backends.cached_db"
        if env.str("CACHE_URL", default="").strip()
        else "django.contrib.sessions.backends.db"
    ),
)

# Auth ----------------------------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
# PBKDF2-SHA256 at OWASP's 600,000 iterations (accounts/hashers.py); the others read
# hashes made elsewhere and rehash them at log-in.
PASSWORD_HASHERS = [
    "accounts.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# A shared classroom computer: the log-in lasts until the browser closes, unless the student
# ticks "Keep me logged in" (then SESSION_COOKIE_AGE, two weeks).
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "portfolio:dashboard"
LOGOUT_REDIRECT_URL = "home"

# Brute-force protection (django-axes, accounts.lockout): repeated failures lock a username
# on a browser that has logged in as that user before, or else from the client's address.
AXES_FAILURE_LIMIT = setting("AXES_FAILURE_LIMIT", whole_number(minimum=1), default=5)
AXES_COOLOFF_TIME = timedelta(
    minutes=setting("AXES_COOLOFF_MINUTES", whole_number(minimum=1), default=15)
)
AXES_HANDLER = "accounts.lockout.LoginThrottle"
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "accounts.lockout.client_ip"
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
# A try during the lock neither counts nor extends it: otherwise whoever keeps trying keeps
# the account locked for as long as they like.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False

# Internationalization ------------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = setting("TIME_ZONE", time_zone, default="UTC")
USE_I18N = True
USE_TZ = True
USE_THOUSAND_SEPARATOR = False

# Static files --------------------------------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# Security ------------------------------------------------------------------------------

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
CONTENT_SECURITY_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    # Chart.js and the admin set style attributes; styles cannot run code.
    "style-src": ["'self'", "'unsafe-inline'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
X_FRAME_OPTIONS = "DENY"
SECURE_SSL_REDIRECT = setting("SECURE_SSL_REDIRECT", boolean, default=not DEBUG)
SESSION_COOKIE_SECURE = setting("SECURE_COOKIES", boolean, default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = setting(
    "SECURE_HSTS_SECONDS", whole_number(minimum=0), default=0 if DEBUG else 31536000
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
# Behind a proxy (deploy/nginx.conf) that sets X-Forwarded-Proto and appends the client's
# address to X-Forwarded-For; the log-in throttle reads that address (accounts.lockout).
BEHIND_PROXY = setting("BEHIND_PROXY", boolean, default=False)
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Logging -------------------------------------------------------------------------------

_log_level = one_of("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# One line per record (tradesim.logging.StructuredFormatter): key=value pairs, or JSON with
# LOG_FORMAT=json. Money movements and refusals are logged on tradesim.ledger and
# tradesim.trading as `event=cash.deposit user=… amount=… result=ok` and the like.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "structured": {
            "()": "tradesim.logging.StructuredFormatter",
            "output": setting("LOG_FORMAT", one_of("keyvalue", "json"), default="keyvalue"),
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "tradesim": {
            "handlers": ["console"],
            "level": setting("LOG_LEVEL", _log_level, default="INFO"),
            "propagate": False,
        },
        # Django's own records (500s with their traceback, 404s, CSRF refusals) in the same
        # one-line format, instead of its default handler's plain multi-line text.
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}

# The simulation ------------------------------------------------------------------------

STARTING_CASH = setting("STARTING_CASH", dollars, default=Decimal("10000.00"))
COMMISSION_PER_TRADE = setting("COMMISSION_PER_TRADE", dollars, default=Decimal("0.00"))
MAX_DEPOSIT = setting("MAX_DEPOSIT", dollars, default=Decimal("100000.00"))
DEPOSITS_OPEN = setting("DEPOSITS_OPEN", boolean, default=True)
MAX_TOTAL_DEPOSITS = setting("MAX_TOTAL_DEPOSITS", dollars, default=None)
QUOTE_CACHE_SECONDS = setting("QUOTE_CACHE_SECONDS", whole_number(minimum=0), default=60)
SNAPSHOT_EVERY_TICKS = setting("SNAPSHOT_EVERY_TICKS", whole_number(minimum=0), default=15)
# Price history older than this many days keeps each symbol's last price of the day
# (prices.services.thin_history); 0 keeps every tick forever.
PRICE_HISTORY_DAYS = setting("PRICE_HISTORY_DAYS", whole_number(minimum=0), default=7)

# When the market is open (tradesim.market_hours), in TIME_ZONE: e.g. "Mon-Fri 08:00-15:30".
# Unset, it never closes. tick_prices ticks only inside the hours; outside them the pages
# say when it opens, and market orders wait for the open or are refused (the class's rule).
MARKET_HOURS = setting("MARKET_HOURS", market_hours.parse, default=None)

# The JSON API (/api/v1/): requests each token may send a minute, in every class. A bot that
# polls quotes once a second and trades now and then stays well inside it.
API_RATE_LIMIT_PER_MINUTE = setting(
    "API_RATE_LIMIT_PER_MINUTE", whole_number(minimum=1), default=120
)

# Called after each committed market tick as hook(ticks=<market tick count>, timestamp=...).
# This keeps `prices` at the bottom of the app graph: apps above it subscribe here.
# In this order: fills change holdings and cash, then the snapshots value them.
TICK_HOOKS: list[str] = ["trading.services.after_tick", "portfolio.services.after_tick"]
# Called by the market's tick that opens a trading day, INSIDE its transaction, with that
# day's dividends as handler(dividends=[(symbol, per-share Decimal), …], day=N, at=<tick
# time>) (prices.actions): the apps above the ledger pay them to their holders (trading:
# a `dividend` row for each holder, a `dividend_charge` row for each short). An error
# undoes the tick, so the price drop and the cash never part. May return a summary string.
DIVIDEND_HANDLERS: list[str] = ["trading.dividends.pay_dividends"]
# Called by the tick that applies a stock split (prices.splits), inside the tick's
# transaction with the market lock held, after the symbol's price and history are divided,
# as hook(symbol=…, numerator=…, denominator=…, price=<the new price>, day=…, now=…): the
# apps above the market adjust what they keep (trading: every holding, the cash in lieu of
# fractions, and every open order), each in a fixed number of statements.
SPLIT_HANDLERS: list[str] = ["trading.splits.apply_split"]
# Run by check_ledger after the journal check, as check() -> list of problem lines: the
# apps above the ledger check what they keep on it (trading: the cash and shares that open
# orders hold).
LEDGER_CHECKS: list[str] = ["trading.services.check_holds"]
# Asked by a withdrawal under the student's balance lock, as check(user=…, amount=…,
# balance=…, rules=<the class's rulebook>) -> the refusal's message, or None: the apps
# above the ledger keep what the cash carries (trading: with margin or short positions, the
# equity left must cover the initial margin of the positions).
WITHDRAWAL_CHECKS: list[str] = ["trading.services.margin_after_withdrawal"]
# What the apps above the portfolio show on its dashboard, as hook(user=…) -> a dict with
# the "template" that shows it and that template's `panel`, or None (trading: the student's
# open orders, in one query). Each must cost a fixed number of queries: the dashboard's
# count is pinned in its tests.
DASHBOARD_PANELS: list[str] = ["trading.selectors.open_orders_panel"]
