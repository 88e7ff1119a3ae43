"""Shared fixtures: the personas every page is tried by, and the database switches."""

import os

import pytest
from django.db import connection

from tests.factories import InstructorFactory, StudentFactory

FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def pytest_collection_modifyitems(config, items):
    """Skip PostgreSQL-only tests on other databases, with the reason."""
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        return
    if os.environ.get("TRADESIM_REQUIRE_POSTGRES"):
        pytest.exit("TRADESIM_REQUIRE_POSTGRES is set but DATABASE_URL is not PostgreSQL", 2)
    skip = pytest.mark.skip(reason="needs PostgreSQL: SQLite has no row locks (DATABASE_URL)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _fast_password_hashing(request, settings):
    """PBKDF2 at full strength costs ~0.5 s a hash; tests that check the real hasher
    are marked `real_hasher`."""
    if "real_hasher" not in request.keywords:
        settings.PASSWORD_HASHERS = FAST_HASHERS


@pytest.fixture(autouse=True)
def _clear_cache(settings):
    """Each test gets an empty cache of its own process (parallel workers and a developer's
    running server would share the file cache)."""
    from django.core.cache import cache

    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "tradesim-tests",
        }
    }
    from portfolio.selectors import _compiled_page

    cache.clear()
    _compiled_page.cache_clear()  # the ranking's SQL, compiled once per board
    yield
    cache.clear()


@pytest.fixture
def clock(monkeypatch):
    """Stops the site's clock (django.utils.timezone.now) where a test says:
    `clock(moment)`, as often as it likes. For the trading window's edges."""
    from django.utils import timezone

    def stop_at(moment):
        monkeypatch.setattr(timezone, "now", lambda: moment)

    return stop_at


@pytest.fixture
def is_postgres():
    return connection.vendor == "postgresql"


@pytest.fixture
def student(db):
    return StudentFactory(username="alice", email="alice@school.example")


@pytest.fixture
def other_student(db):
    return StudentFactory(username="bob", email="bob@school.example")


@pytest.fixture
def instructor(db):
    return InstructorFactory(username="teacher", email="teacher@school.example")


@pytest.fixture
def student_client(client, student):
    client.force_login(student)
    return client


@pytest.fixture
def other_client(db, other_student):
    from django.test import Client

    c = Client()
    c.force_login(other_student)
    return c


@pytest.fixture
def instructor_client(db, instructor):
    from django.test import Client

    c = Client()
    c.force_login(instructor)
    return c


@pytest.fixture
def anon_client(db):
    from django.test import Client

    return Client()
