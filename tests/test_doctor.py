"""manage.py doctor: each check fires on the bad state and stays quiet on the good one, and
the command's output and exit code."""

import json
import shutil
from datetime import timedelta
from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import call_command, load_command_class
from django.core.management.base import CommandError
from django.db import connection, connections
from django.db.migrations.recorder import MigrationRecorder
from django.db.utils import load_backend
from django.test import override_settings
from django.utils import timezone

from console import doctor
from console.doctor import Context, Level
from prices.models import MarketState
from prices.ticker import HEARTBEAT_KEY, heartbeat
from tests.factories import InstructorFactory, PriceFactory, StudentFactory

SECRET = "a-long-random-secret-key-for-the-doctor-tests-0123456789-abcdefghij"
MANIFEST_STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
}


def levels(findings) -> list[Level]:
    return [finding.level for finding in findings if finding.level is not Level.NOTE]


def text(findings) -> str:
    return "\n".join(f"{finding.message} {finding.fix}" for finding in findings)


@pytest.fixture(autouse=True)
def _no_gunicorn_https(monkeypatch, tmp_path):
    """gunicorn serves no HTTPS unless a test says so (in its configuration file, or in
    GUNICORN_CMD_ARGS)."""
    monkeypatch.delenv("GUNICORN_CMD_ARGS", raising=False)
    monkeypatch.setattr(doctor, "GUNICORN_CONFIG", tmp_path / "gunicorn.conf.py")


@pytest.fixture
def production(settings):
    """A served install as deploy/ sets it up: DEBUG off, behind nginx, HTTPS forced."""
    settings.DEBUG = False
    settings.SECRET_KEY = SECRET
    settings.ALLOWED_HOSTS = ["tradesim.school.example"]
    settings.CSRF_TRUSTED_ORIGINS = ["https://tradesim.school.example"]
    settings.BEHIND_PROXY = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT = True
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = settings.SECURE_HSTS_PRELOAD = True
    return settings


@pytest.fixture
def file_cache(settings, tmp_path):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path / "cache"),
        }
    }


@pytest.fixture(scope="module")
def collected(tmp_path_factory):
    """The static files as `collectstatic` writes them with the manifest storage."""
    root = tmp_path_factory.mktemp("collected")
    with override_settings(STATIC_ROOT=str(root), STORAGES=MANIFEST_STORAGES):
        call_command("collectstatic", "--noinput", verbosity=0)
    return root


@pytest.fixture
def static_root(settings, tmp_path, collected):
    """A copy of the collected files, served by the manifest storage, for a test to spoil."""
    root = tmp_path / "staticfiles"
    shutil.copytree(collected, root)
    settings.STATIC_ROOT = str(root)
    settings.STORAGES = MANIFEST_STORAGES
    return root


# Settings ----------------------------------------------------------------------------------


def test_redirect_to_https_without_a_proxy_or_certificate_is_a_problem(production):
    production.BEHIND_PROXY = False

    findings = doctor.https_settings(Context())

    assert levels(findings) == [Level.PROBLEM]
    assert "SECURE_SSL_REDIRECT is on but BEHIND_PROXY is off" in findings[0].message
    assert "BEHIND_PROXY=True" in findings[0].fix


def test_redirect_to_https_behind_a_proxy_is_quiet(production):
    assert doctor.https_settings(Context()) == []


def test_redirect_to_https_with_gunicorn_serving_https_is_quiet(production, monkeypatch):
    production.BEHIND_PROXY = False
    monkeypatch.setenv("GUNICORN_CMD_ARGS", "--certfile /etc/ssl/tradesim.pem --keyfile k.pem")

    assert doctor.https_settings(Context()) == []


def test_a_certfile_in_the_gunicorn_configuration_counts_as_https(production):
    production.BEHIND_PROXY = False
    config = doctor.GUNICORN_CONFIG
    config.write_text("bind = '0.0.0.0:443'\n")
    assert levels(doctor.https_settings(Context())) == [Level.PROBLEM]

    config.write_text("bind = '0.0.0.0:443'\ncertfile = '/etc/ssl/tradesim.pem'\n")
    assert doctor.https_settings(Context()) == []


def test_a_proxy_without_the_https_redirect_is_a_warning(production):
    production.SECURE_SSL_REDIRECT = False

    findings = doctor.https_settings(Context())

    assert levels(findings) == [Level.WARNING]
    assert "SECURE_SSL_REDIRECT is off" in findings[0].message


def test_secure_cookies_with_nothing_serving_https_is_a_warning(production):
    production.BEHIND_PROXY = False
    production.SECURE_SSL_REDIRECT = False

    findings = doctor.https_settings(Context())

    assert levels(findings) == [Level.WARNING]
    assert "SECURE_COOKIES is on" in findings[0].message


def test_plain_http_with_every_https_setting_off_is_quiet(production):
    production.BEHIND_PROXY = False
    production.SECURE_SSL_REDIRECT = False
    production.SESSION_COOKIE_SECURE = production.CSRF_COOKIE_SECURE = False
    production.SECURE_HSTS_SECONDS = 0

    assert doctor.https_settings(Context()) == []


def test_debug_on_a_network_is_a_problem(settings):
    settings.DEBUG = True
    settings.ALLOWED_HOSTS = ["localhost", "tradesim.school.example"]

    findings = doctor.debug_settings(Context())

    assert levels(findings) == [Level.PROBLEM]
    assert "tradesim.school.example" in findings[0].message
    assert "localhost" not in findings[0].message
    assert "DEBUG=False" in findings[0].fix


@pytest.mark.parametrize("hosts", [["*"], ["192.168.1.20"]])
def test_debug_with_any_host_or_an_address_is_a_problem(settings, hosts):
    settings.DEBUG = True
    settings.ALLOWED_HOSTS = hosts

    assert levels(doctor.debug_settings(Context())) == [Level.PROBLEM]


def test_debug_on_this_machine_alone_is_quiet(settings):
    settings.DEBUG = True
    settings.ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]"]

    assert doctor.debug_settings(Context()) == []


def test_a_served_install_answering_only_to_localhost_is_a_warning(settings):
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["localhost", "127.0.0.1"]

    findings = doctor.debug_settings(Context())

    assert levels(findings) == [Level.WARNING]
    assert "400 Bad Request" in findings[0].message


def test_a_served_install_with_its_name_is_quiet(production):
    assert doctor.debug_settings(Context()) == []


def test_a_cache_of_each_process_is_a_problem_when_served(production):
    # The test settings' cache is LocMemCache.
    findings = doctor.shared_cache(Context())

    assert levels(findings) == [Level.PROBLEM]
    assert "locmemcache://" in findings[0].message
    assert "the same CACHE_URL" in findings[0].fix


def test_a_cache_of_each_process_is_a_warning_in_development(settings):
    settings.DEBUG = True

    assert levels(doctor.shared_cache(Context())) == [Level.WARNING]


def test_a_cache_that_keeps_nothing_is_a_problem(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}

    findings = doctor.shared_cache(Context())

    assert levels(findings) == [Level.PROBLEM]
    assert "keeps nothing" in findings[0].message
    # ... and the cache check does not say so a second time.
    assert doctor.cache_answers(Context()) == []


@pytest.mark.parametrize(
    "backend",
    [
        "django.core.cache.backends.filebased.FileBasedCache",
        "django.core.cache.backends.redis.RedisCache",
    ],
)
def test_a_shared_cache_is_quiet(production, backend, tmp_path):
    location = str(tmp_path) if backend.endswith("FileBasedCache") else "redis://127.0.0.1:1/0"
    # The setting is restored before the test's cache is cleared: that cache is not there.
    with override_settings(CACHES={"default": {"BACKEND": backend, "LOCATION": location}}):
        assert doctor.shared_cache(Context()) == []


def test_djangos_deployment_checks_are_warnings(production):
    production.SECURE_HSTS_SECONDS = 0

    findings = doctor.django_system_checks(Context())

    assert levels(findings) == [Level.WARNING]
    assert "security.W004" in findings[0].message


def test_djangos_deployment_checks_are_left_out_in_development(settings):
    settings.DEBUG = True
    settings.SECURE_HSTS_SECONDS = 0

    assert doctor.django_system_checks(Context()) == []


def test_djangos_https_redirect_warning_is_left_to_the_https_check(production):
    production.SECURE_SSL_REDIRECT = False

    assert doctor.django_system_checks(Context()) == []
    production.BEHIND_PROXY = False
    assert "security.W008" in text(doctor.django_system_checks(Context()))


def test_a_silenced_django_check_stays_silent(production):
    production.SECURE_HSTS_SECONDS = 0
    production.SILENCED_SYSTEM_CHECKS = ["security.W004"]

    assert doctor.django_system_checks(Context()) == []


def test_a_django_check_error_is_a_problem(production):
    production.CSRF_TRUSTED_ORIGINS = ["tradesim.school.example"]  # no scheme

    findings = doctor.django_system_checks(Context())

    assert levels(findings) == [Level.PROBLEM]
    assert "4_0.E001" in findings[0].message


def test_djangos_checks_on_a_served_install_are_quiet(production):
    assert doctor.django_system_checks(Context()) == []


# The database ------------------------------------------------------------------------------


def sqlite_connection(path):
    settings_dict = connections.configure_settings(
        {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path)}}
    )["default"]
    return load_backend(settings_dict["ENGINE"]).DatabaseWrapper(settings_dict, "doctor")


def test_a_missing_sqlite_file_is_a_problem_and_is_not_created(tmp_path):
    path = tmp_path / "db.sqlite3"

    findings = doctor.database_answers(Context(connection=sqlite_connection(path)))

    assert levels(findings) == [Level.PROBLEM]
    assert f"{path} does not exist" in findings[0].message
    assert not path.exists()


def test_a_database_that_does_not_answer_is_a_problem(tmp_path, django_db_blocker):
    path = tmp_path / "db.sqlite3"
    path.write_bytes(b"not a database, " * 512)
    database = sqlite_connection(path)
    try:
        with django_db_blocker.unblock():
            findings = doctor.database_answers(Context(connection=database))
    finally:
        database.close()

    assert levels(findings) == [Level.PROBLEM]
    assert "The database does not answer" in findings[0].message
    assert "file is not a database" in findings[0].message
    assert "DATABASE_URL" in findings[0].fix


@pytest.mark.django_db
def test_a_database_that_answers_is_noted_with_its_engine_and_version():
    findings = doctor.database_answers(Context())

    assert levels(findings) == []
    assert findings[0].message.startswith(f"Database: {connection.display_name}")
    assert "version" in findings[0].message


def test_an_unmigrated_database_lists_its_migrations(tmp_path, django_db_blocker):
    database = sqlite_connection(tmp_path / "db.sqlite3")
    try:
        with django_db_blocker.unblock():
            findings = doctor.migrations_applied(Context(connection=database))
    finally:
        database.close()

    assert levels(findings) == [Level.PROBLEM]
    assert "prices.0001_initial" in findings[0].message
    assert "trading.0004_orders" in findings[0].message
    assert "manage.py migrate" in findings[0].fix


@pytest.mark.django_db
def test_a_migrated_database_is_quiet():
    assert doctor.migrations_applied(Context()) == []


@pytest.mark.django_db
def test_a_migration_this_version_does_not_have_is_a_warning():
    MigrationRecorder(connection).record_applied("prices", "9999_from_a_newer_version")

    findings = doctor.migrations_applied(Context())

    assert levels(findings) == [Level.WARNING]
    assert "prices.9999_from_a_newer_version" in findings[0].message


@pytest.mark.django_db
def test_no_market_is_a_problem():
    findings = doctor.market_listed(Context())

    assert levels(findings) == [Level.PROBLEM]
    assert "manage.py load_market" in findings[0].fix


@pytest.mark.django_db
def test_a_listed_market_is_quiet():
    PriceFactory(symbol="AAPL")

    assert doctor.market_listed(Context()) == []


@pytest.mark.django_db
def test_no_instructor_is_a_problem():
    StudentFactory()
    InstructorFactory(is_active=False)

    findings = doctor.instructor_exists(Context())

    assert levels(findings) == [Level.PROBLEM]
    assert "manage.py create_instructor" in findings[0].fix


@pytest.mark.django_db
def test_an_active_instructor_is_quiet():
    InstructorFactory()

    assert doctor.instructor_exists(Context()) == []


# Static files ------------------------------------------------------------------------------


def test_collected_static_files_are_quiet(production, static_root):
    assert doctor.static_files(Context()) == []


def test_static_files_never_collected_are_a_problem(production, static_root):
    shutil.rmtree(static_root)

    findings = doctor.static_files(Context())

    assert levels(findings) == [Level.PROBLEM]
    assert "staticfiles.json" in findings[0].message
    assert "manage.py collectstatic" in findings[0].fix


def test_a_static_file_new_since_collectstatic_is_a_problem(production, static_root):
    manifest = static_root / "staticfiles.json"
    stored = json.loads(manifest.read_text())
    del stored["paths"]["css/tradesim.css"]
    manifest.write_text(json.dumps(stored))

    findings = doctor.static_files(Context())

    assert levels(findings) == [Level.PROBLEM]
    assert "1 static file not collected" in findings[0].message
    assert "css/tradesim.css" in findings[0].message


def test_a_collected_file_gone_from_disk_is_a_problem(production, static_root):
    stored = json.loads((static_root / "staticfiles.json").read_text())
    (static_root / stored["paths"]["css/tradesim.css"]).unlink()

    findings = doctor.static_files(Context())

    assert levels(findings) == [Level.PROBLEM]
    assert "css/tradesim.css" in findings[0].message


def test_static_files_are_not_checked_in_development(settings, static_root):
    settings.DEBUG = True
    shutil.rmtree(static_root)

    assert doctor.static_files(Context()) == []


# The cache ---------------------------------------------------------------------------------


def test_a_cache_that_answers_is_noted(file_cache, tmp_path):
    findings = doctor.cache_answers(Context())

    assert levels(findings) == []
    assert findings[0].message == f"Cache: files in {tmp_path / 'cache'}."


def test_a_cache_that_does_not_answer_is_a_problem(tmp_path):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache's folder should be")
    cache = {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache"}

    with override_settings(CACHES={"default": {**cache, "LOCATION": str(blocked)}}):
        findings = doctor.cache_answers(Context())

    assert levels(findings) == [Level.PROBLEM]
    assert "The cache does not answer" in findings[0].message


def test_a_cache_password_is_not_shown():
    redis = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://:s3cret@cache.internal:6379/1",
    }

    with override_settings(CACHES={"default": redis}):
        assert doctor.describe_cache() == "Redis at redis://:…@cache.internal:6379/1"


# The ticker --------------------------------------------------------------------------------

TICKER = "tick_prices (process 4242 on web1)"


def ticker_seen(moment):
    MarketState.objects.update_or_create(id=1, defaults={"ticker_seen_at": moment})


@pytest.mark.django_db
def test_a_ticker_that_never_ran_is_a_problem():
    ticker_seen(None)

    findings = doctor.ticker_running(Context())

    assert levels(findings) == [Level.PROBLEM]
    assert "No ticker has ever run" in findings[0].message
    assert "tick_prices --every 60" in findings[0].fix


@pytest.mark.django_db
def test_a_ticker_not_seen_for_longer_than_the_limit_is_a_problem():
    ticker_seen(timezone.now() - timedelta(minutes=12))

    findings = doctor.ticker_running(Context(ticker_minutes=5))

    assert levels(findings) == [Level.PROBLEM]
    assert "last seen 12 minutes ago" in findings[0].message


@pytest.mark.django_db
def test_a_ticker_seen_within_the_limit_is_noted_with_who_it_is():
    ticker_seen(timezone.now() - timedelta(minutes=12))
    assert doctor.ticker_running(Context(ticker_minutes=15))[0].level is Level.NOTE

    heartbeat(by=TICKER)
    findings = doctor.ticker_running(Context())

    assert levels(findings) == []
    assert findings[0].message.startswith("Ticker: seen ")
    assert TICKER in findings[0].message


@pytest.mark.django_db
def test_a_ticker_writing_to_the_same_cache_is_quiet(file_cache):
    heartbeat(by=TICKER)

    assert doctor.ticker_shares_cache(Context()) == []


@pytest.mark.django_db
def test_a_ticker_seen_in_the_database_but_not_in_this_cache_is_a_problem(file_cache):
    heartbeat(by=TICKER)
    cache.delete(HEARTBEAT_KEY)  # as if the ticker had written to another cache

    findings = doctor.ticker_shares_cache(Context())

    assert levels(findings) == [Level.PROBLEM]
    assert "the ticker uses another cache" in findings[0].message
    assert "the same CACHE_URL" in findings[0].fix


@pytest.mark.django_db
def test_an_old_heartbeat_in_this_cache_is_a_cache_of_its_own(file_cache):
    heartbeat(by=TICKER)  # long ago, when both used this cache ...
    ticker_seen(timezone.now() + timedelta(minutes=3))  # ... and since, only the database

    assert levels(doctor.ticker_shares_cache(Context())) == [Level.PROBLEM]


@pytest.mark.django_db
def test_the_ticker_checks_wait_for_a_ticker(production, file_cache):
    ticker_seen(None)

    report = doctor.examine()

    assert "No ticker has ever run here" in text(report.findings)
    assert report.skipped == ["ticker's cache"]


@pytest.mark.django_db
def test_the_ticker_checks_wait_for_a_cache_that_answers(production, tmp_path):
    heartbeat(by=TICKER)
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache's folder should be")
    cache_settings = {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(blocked),
    }

    with override_settings(CACHES={"default": cache_settings}):
        report = doctor.examine()

    assert "The cache does not answer" in text(report.findings)
    assert report.skipped == ["ticker", "ticker's cache"]


# The runner and the command ----------------------------------------------------------------


def test_a_check_that_fails_with_an_error_is_a_problem_and_the_others_still_run():
    def broken(context):
        raise RuntimeError("no such thing")

    report = doctor.examine(
        checks=[
            doctor.Check("broken", broken),
            doctor.Check("later", lambda context: [doctor.warning("still ran")]),
        ]
    )

    assert [f.level for f in report.findings] == [Level.PROBLEM, Level.WARNING]
    assert "The broken check stopped with an error: RuntimeError: no such thing" in (
        report.findings[0].message
    )


def test_a_check_is_left_out_while_the_one_it_needs_has_a_problem():
    report = doctor.examine(
        checks=[
            doctor.Check("first", lambda context: [doctor.problem("down")]),
            doctor.Check("second", lambda context: [doctor.problem("x")], needs=("first",)),
            doctor.Check("third", lambda context: [doctor.problem("x")], needs=("second",)),
            doctor.Check("fourth", lambda context: []),
        ]
    )

    assert [f.message for f in report.findings] == ["down"]
    assert report.skipped == ["second", "third"]


@pytest.mark.parametrize(
    ("problems", "warnings", "summary"),
    [
        (0, 0, "No problems found."),
        (0, 2, "0 problems, 2 warnings."),
        (1, 1, "1 problem, 1 warning."),
        (3, 0, "3 problems, 0 warnings."),
    ],
)
def test_the_summary_counts_problems_and_warnings(problems, warnings, summary):
    report = doctor.Report(
        findings=[doctor.problem("p")] * problems
        + [doctor.warning("w")] * warnings
        + [doctor.note("n")]
    )

    assert report.summary == summary


@pytest.fixture
def healthy(production, file_cache, static_root, db):
    PriceFactory(symbol="AAPL")
    InstructorFactory()
    heartbeat(by=TICKER)


def run_doctor(*args) -> str:
    out = StringIO()
    call_command("doctor", *args, stdout=out)
    return out.getvalue()


def test_a_healthy_install_has_no_problems(healthy):
    output = run_doctor()

    assert output.splitlines()[-1] == "No problems found.", output
    assert "Database: " in output
    assert "Problem" not in output and "Warning" not in output


def test_problems_are_printed_with_what_to_do_and_the_command_fails(healthy, settings):
    settings.DEBUG = True
    out = StringIO()

    with pytest.raises(CommandError) as raised:
        call_command("doctor", stdout=out)

    assert raised.value.returncode == 1
    assert str(raised.value) == "1 problem, 0 warnings."
    assert "Problem: DEBUG is on while ALLOWED_HOSTS" in out.getvalue()
    assert "  What to do: Set DEBUG=False" in out.getvalue()


def test_warnings_alone_do_not_fail_the_command(healthy, settings):
    settings.SECURE_HSTS_SECONDS = 0

    output = run_doctor()

    assert "Warning: Django's check security.W004" in output
    assert output.splitlines()[-1] == "0 problems, 1 warning."


def test_a_problem_exits_1_from_the_command_line(healthy, settings, capsys):
    settings.DEBUG = True
    command = load_command_class("console", "doctor")

    with pytest.raises(SystemExit) as exited:
        command.run_from_argv(["manage.py", "doctor"])

    assert exited.value.code == 1
    assert capsys.readouterr().err.strip().endswith("1 problem, 0 warnings.")


def test_ticker_minutes_must_be_a_whole_number():
    with pytest.raises(CommandError, match="whole number of minutes"):
        call_command("doctor", "--ticker-minutes", "0")
