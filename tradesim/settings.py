"""TradeSim settings: everything comes from the environment (and `.env` when present)."""

from decimal import Decimal
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env(
    DEBUG=(bool, False),
    ALLOWED_HOSTS=(list, ["localhost", "127.0.0.1", "[::1]"]),
    CSRF_TRUSTED_ORIGINS=(list, []),
    TIME_ZONE=(str, "UTC"),
    CONN_MAX_AGE=(int, 60),
    LOG_LEVEL=(str, "INFO"),
    STARTING_CASH=(Decimal, Decimal("10000.00")),
    COMMISSION_PER_TRADE=(Decimal, Decimal("0.00")),
    MAX_DEPOSIT=(Decimal, Decimal("100000.00")),
    DEPOSITS_OPEN=(bool, True),
    QUOTE_CACHE_SECONDS=(int, 60),
    SNAPSHOT_EVERY_TICKS=(int, 15),
    PRICE_HISTORY_DAYS=(int, 7),
    AXES_FAILURE_LIMIT=(int, 5),
    AXES_COOLOFF_MINUTES=(int, 15),
)
environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env("DEBUG")

SECRET_KEY = env("SECRET_KEY", default=None)
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it in the environment or in .env "
            "(`make run` writes a random one), or set DEBUG=True for local development."
        )
    SECRET_KEY = "insecure-development-key-only-for-DEBUG"  # noqa: S105

ALLOWED_HOSTS = env("ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env("CSRF_TRUSTED_ORIGINS")

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
    "accounts",
    "prices",
    "ledger",
    "portfolio",
    "trading",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "tradesim.middleware.ContentSecurityPolicyMiddleware",
    "axes.middleware.AxesMiddleware",
    "tradesim.middleware.RejectNulCharactersMiddleware",
    "tradesim.middleware.AdminChangeListGuardMiddleware",
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
            ],
        },
    },
]

WSGI_APPLICATION = "tradesim.wsgi.application"

# Databases -----------------------------------------------------------------------------

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
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
    _db["CONN_MAX_AGE"] = env("CONN_MAX_AGE")
    _db["CONN_HEALTH_CHECKS"] = True
    if _db["ENGINE"] == "django.db.backends.postgresql":
        # No JIT: the leaderboard's per-student subqueries push its estimated cost past
        # jit_above_cost, and compiling the plan took 3.3 s of a 3.7 s query (EXPLAIN
        # ANALYZE, 1,000 students) that runs in 0.35 s without it. Short OLTP queries
        # never gain from JIT.
        _options = _db.setdefault("OPTIONS", {})
        _options["options"] = f"{_options.get('options', '')} -c jit=off".strip()

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cache ---------------------------------------------------------------------------------

# The default is a file cache in the project folder, shared by every process on the machine
# (runserver, gunicorn's workers, a separate tick_prices), so a tick's invalidation of the
# quote cache reaches them all. Production: redis://… shared by every machine.
CACHES = {"default": env.cache("CACHE_URL", default=f"filecache://{BASE_DIR / '.cache'}")}

# Sessions: with a shared cache (CACHE_URL, Redis in production) they are read from it and
# written through to the database, so a cache restart logs nobody out; that saves the
# session query on every request. Without one they stay in the database only.
SESSION_ENGINE = env.str(
    "SESSION_ENGINE",
    default=(
        "django.contrib.sessions.backends.cached_db"
        if env.str("CACHE_URL", default="")
        else "django.contrib.sessions.backends.db"
    ),
)

# Auth ----------------------------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
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
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "portfolio:dashboard"
LOGOUT_REDIRECT_URL = "home"

# Brute-force protection (django-axes): lock a username + IP pair after repeated failures.
AXES_FAILURE_LIMIT = env("AXES_FAILURE_LIMIT")
AXES_COOLOFF_TIME = env("AXES_COOLOFF_MINUTES") / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False

# Internationalization ------------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE")
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
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
if env.bool("BEHIND_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Logging -------------------------------------------------------------------------------

# One line per record (tradesim.logging.StructuredFormatter): key=value pairs, or JSON with
# LOG_FORMAT=json. Money movements and refusals are logged on tradesim.ledger and
# tradesim.trading as `event=cash.deposit user=… amount=… result=ok` and the like.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "structured": {
            "()": "tradesim.logging.StructuredFormatter",
            "output": env.str("LOG_FORMAT", default="keyvalue"),
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "tradesim": {"handlers": ["console"], "level": env("LOG_LEVEL"), "propagate": False},
        # Django's own records (500s with their traceback, 404s, CSRF refusals) in the same
        # one-line format, instead of its default handler's plain multi-line text.
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}

# The simulation ------------------------------------------------------------------------

STARTING_CASH = env("STARTING_CASH")
COMMISSION_PER_TRADE = env("COMMISSION_PER_TRADE")
MAX_DEPOSIT = env("MAX_DEPOSIT")
for _name in ("STARTING_CASH", "COMMISSION_PER_TRADE", "MAX_DEPOSIT"):
    if not globals()[_name].is_finite() or globals()[_name] < 0:
        raise ImproperlyConfigured(f"{_name} must be a number of dollars, 0 or more.")
DEPOSITS_OPEN = env("DEPOSITS_OPEN")
_max_total = env.str("MAX_TOTAL_DEPOSITS", default="")
MAX_TOTAL_DEPOSITS = Decimal(_max_total) if _max_total.strip() else None
QUOTE_CACHE_SECONDS = env("QUOTE_CACHE_SECONDS")
SNAPSHOT_EVERY_TICKS = env("SNAPSHOT_EVERY_TICKS")
# Price history older than this many days keeps each symbol's last price of the day
# (prices.services.thin_history); 0 keeps every tick forever.
PRICE_HISTORY_DAYS = env("PRICE_HISTORY_DAYS")

# Called after each committed market tick as hook(ticks=<market tick count>, timestamp=...).
# This keeps `prices` at the bottom of the app graph: apps above it subscribe here.
TICK_HOOKS: list[str] = ["portfolio.services.after_tick"]
