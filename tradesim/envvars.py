"""Settings from environment variables, read strictly: a value that cannot be read as its
type stops the start with ImproperlyConfigured, naming the variable and the value.

django-environ's casts are lenient where it hurts: `env.bool` reads any unknown string as
False and `env.int` raises a bare ValueError. systemd's EnvironmentFile (and a `.env`
file) keeps an inline `# comment` as part of the value, so `BEHIND_PROXY=True  # nginx`
silently meant False. Here it stops the start instead.

    DEBUG = setting("DEBUG", boolean, default=False)
    CONN_MAX_AGE = setting("CONN_MAX_AGE", whole_number(minimum=0), default=60)

A variable that is unset, or set to nothing but spaces, takes the default. Each reader
takes the stripped text and returns the value, or raises ValueError with what the value
must be ("True or False").
"""

import os
import re
import shutil
import subprocess
import zoneinfo
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TypeVar

import environ
from django.core.exceptions import ImproperlyConfigured

T = TypeVar("T")

TRUE = {"true", "yes", "on", "1"}
FALSE = {"false", "no", "off", "0"}


def setting(name: str, read: Callable[[str], T], *, default: T) -> T:
    """The value of environment variable `name` as `read` reads it, or `default` if unset."""
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return read(raw.strip())
    except ValueError as error:
        shown = re.sub(r"(://[^:/@\s]*:)\S*@", r"\1***@", raw)  # a URL's password
        message = f"{name} must be {error}; it is set to {shown!r}."
        if "#" in raw:
            message += (
                " A # comment must be on a line of its own: environment files"
                " (systemd's EnvironmentFile, .env) keep the rest of the line in the value."
            )
        raise ImproperlyConfigured(message) from None


def boolean(text: str) -> bool:
    if text.lower() in TRUE:
        return True
    if text.lower() in FALSE:
        return False
    raise ValueError("True or False (or yes/no, on/off, 1/0)")


def whole_number(*, minimum: int) -> Callable[[str], int]:
    def read(text: str) -> int:
        if not re.fullmatch(r"[+-]?[0-9]+", text) or int(text) < minimum:
            raise ValueError(f"a whole number, {minimum} or more")
        return int(text)

    return read


def dollars(text: str) -> Decimal:
    what = "an amount of dollars, 0 or more, such as 10000.00"
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValueError(what) from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(what)
    return amount


def one_of(*choices: str) -> Callable[[str], str]:
    """One of `choices`, in any case; returned as spelled in `choices`."""

    def read(text: str) -> str:
        for choice in choices:
            if text.lower() == choice.lower():
                return choice
        raise ValueError(f"one of {', '.join(choices)}")

    return read


def time_zone(text: str) -> str:
    try:
        zoneinfo.ZoneInfo(text)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError("a time zone name such as UTC or Europe/Paris") from None
    return text


def dotted_path(text: str) -> str:
    """A Python dotted path, such as django.contrib.sessions.backends.db."""
    if not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", text):
        raise ValueError("a Python dotted path such as django.contrib.sessions.backends.db")
    return text


def folder(*, base: Path) -> Callable[[str], Path]:
    """A folder's path: absolute, from the home folder (~), or relative to `base`."""

    def read(text: str) -> Path:
        return base / Path(text).expanduser()

    return read


def names(text: str) -> list[str]:
    """A comma-separated list (host names, origins): no item may contain a space."""
    items = [item.strip() for item in text.split(",")]
    if any(" " in item or "\t" in item or "#" in item for item in items):
        raise ValueError("a comma-separated list of names without spaces")
    return [item for item in items if item]


def database_url(text: str) -> dict:
    """A DATABASE_URL as Django's DATABASES entry (django-environ's schemes)."""
    what = "a database URL such as postgres://USER:PASSWORD@HOST:5432/NAME"
    if any(character.isspace() for character in text):
        raise ValueError(what)
    try:
        config = environ.Env.db_url_config(text)
    except (ValueError, ImproperlyConfigured):
        raise ValueError(what) from None
    # An unknown scheme becomes the ENGINE itself ("postgress"), not a backend's path.
    if "." not in config.get("ENGINE", ""):
        raise ValueError(what)
    return config


def cache_url(text: str) -> dict:
    """A CACHE_URL as Django's CACHES entry (django-environ's schemes)."""
    what = "a cache URL such as redis://HOST:6379/1"
    if any(character.isspace() for character in text):
        raise ValueError(what)
    try:
        return environ.Env.cache_url_config(text)
    except (ValueError, ImproperlyConfigured):
        raise ValueError(what) from None


def machine_time_zone(
    *,
    environ: dict | None = None,
    timezone_file: str = "/etc/timezone",
    localtime: str = "/etc/localtime",
    timedatectl: Callable[[], str] | None = None,
) -> str:
    """This machine's time zone as an IANA name, for `make` to write into .env: the TZ
    variable, else /etc/timezone (Debian), else the zone /etc/localtime links to, else what
    `timedatectl` says; the first that zoneinfo knows. "UTC" when none does."""
    environ = os.environ if environ is None else environ

    def from_tz_variable():
        return environ.get("TZ", "").lstrip(":")

    def from_timezone_file():
        with open(timezone_file, encoding="utf-8") as file:
            return file.readline()

    def from_localtime_link():
        target = os.path.realpath(localtime)
        return target.split("/zoneinfo/", 1)[1] if "/zoneinfo/" in target else ""

    def from_timedatectl():
        program = shutil.which("timedatectl")
        if program is None:
            return ""
        result = subprocess.run(  # noqa: S603 (a fixed command, no input of anyone's)
            [program, "show", "-p", "Timezone", "--value"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        return result.stdout if result.returncode == 0 else ""

    for source in (
        from_tz_variable,
        from_timezone_file,
        from_localtime_link,
        timedatectl or from_timedatectl,
    ):
        try:
            name = source().strip()
        except (OSError, ValueError, subprocess.SubprocessError):
            continue
        for prefix in ("posix/", "right/"):  # the same zone, from another zoneinfo tree
            name = name.removeprefix(prefix)
        if not name:
            continue
        try:
            time_zone(name)
        except ValueError:
            continue
        return name
    return "UTC"
