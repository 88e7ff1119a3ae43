"""A database that the test and the manage.py processes it starts all see, and the tools
to read it from outside Django: for the backup and restore tests."""

import os
import shutil
import sqlite3
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

from tests.processes import Process

BASE_DIR = Path(__file__).resolve().parents[2]
HANG_GUARD = 120  # seconds: only so that a hung process fails the test instead of hanging it


def environment(database_url: str, tmp: Path) -> dict:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CACHE_URL": f"filecache://{tmp / 'cache'}",
        "BACKUP_DIR": str(tmp / "backups"),
        "DEBUG": "True",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


def postgres_url(name: str) -> str:
    db = connection.settings_dict
    login = quote(db["USER"]) + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    return f"postgres://{login}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{quote(name)}"


@dataclass
class Database:
    """A TradeSim database by its URL, and manage.py run against it."""

    url: str
    env: dict
    sqlite_path: Path | None = None
    pg_name: str | None = None
    started: list = field(default_factory=list)

    def start(self, *args) -> Process:
        process = Process([sys.executable, *args], self.env, hang_guard=HANG_GUARD)
        self.started.append(process)
        return process

    def manage(self, *args) -> tuple[int, list[str], list[str]]:
        return self.start("manage.py", *args).finish()

    def connect(self):
        """A connection of the database's own driver, outside Django."""
        if self.sqlite_path is not None:
            return sqlite3.connect(self.sqlite_path, timeout=20)
        import psycopg

        db = connection.settings_dict
        return psycopg.connect(
            host=db["HOST"] or None,
            port=db["PORT"] or None,
            user=db["USER"] or None,
            password=db["PASSWORD"] or None,
            dbname=self.pg_name,
            autocommit=True,
        )

    def select(self, *queries: str) -> list[list[tuple]]:
        """The rows of each query, all read in one transaction (one moment)."""
        db = self.connect()
        try:
            cursor = db.cursor()
            cursor.execute("BEGIN" if self.sqlite_path else "BEGIN ISOLATION LEVEL REPEATABLE READ")
            results = []
            for sql in queries:
                cursor.execute(sql)
                results.append(cursor.fetchall())
            cursor.execute("COMMIT")
            return results
        finally:
            db.close()

    @contextmanager
    def reading_all_along(self):
        """A read transaction open for the block, as a long report's would be. On SQLite it
        keeps the WAL from being checkpointed past the moment it began: whatever is
        committed meanwhile lives only in the -wal file, where a backup must find it (a
        copy of the database file alone would not have it)."""
        db = self.connect()
        try:
            db.execute("BEGIN")
            db.execute("SELECT count(*) FROM django_migrations").fetchall()
            yield
        finally:
            db.close()

    def stop(self):
        for process in self.started:
            if process.popen.poll() is None:
                process.popen.kill()
                process.popen.wait()


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory) -> Path:
    """A SQLite file with TradeSim's schema, made once."""
    folder = tmp_path_factory.mktemp("migrated")
    path = folder / "db.sqlite3"
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"],
        cwd=BASE_DIR,
        env=environment(f"sqlite:///{path}", folder),
        check=True,
        capture_output=True,
        timeout=HANG_GUARD * 2,
    )
    return path


@pytest.fixture
def pg_tools(is_postgres):
    """On PostgreSQL, the client tools that backup and restore run."""
    if is_postgres:
        missing = [name for name in ("pg_dump", "pg_restore", "psql") if not shutil.which(name)]
        if missing:
            pytest.skip(f"needs the PostgreSQL client tools: {', '.join(missing)} not found")


@pytest.fixture
def live(request, tmp_path, pg_tools):
    """The database that the test and its manage.py processes share: on PostgreSQL the
    test database (the test commits its rows: django_db(transaction=True)); on SQLite,
    where the test database lives in pytest's memory, a copy of a migrated file."""
    if connection.vendor == "postgresql":
        name = connection.settings_dict["NAME"]
        database = Database(url=postgres_url(name), env=environment(postgres_url(name), tmp_path))
        database.pg_name = name
    else:
        path = tmp_path / "db.sqlite3"
        shutil.copy(request.getfixturevalue("migrated_sqlite"), path)
        url = f"sqlite:///{path}"
        database = Database(url=url, env=environment(url, tmp_path), sqlite_path=path)
    yield database
    database.stop()


@pytest.fixture
def fresh(tmp_path, pg_tools):
    """A second, empty database to restore into: a new SQLite file (not there yet), or a
    new PostgreSQL database, dropped after the test."""
    if connection.vendor != "postgresql":
        path = tmp_path / "restored" / "db.sqlite3"
        path.parent.mkdir()
        url = f"sqlite:///{path}"
        database = Database(url=url, env=environment(url, tmp_path / "restored"), sqlite_path=path)
        yield database
        database.stop()
        return
    name = f"{connection.settings_dict['NAME']}_restore"
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    database = Database(url=postgres_url(name), env=environment(postgres_url(name), tmp_path))
    database.pg_name = name
    try:
        yield database
    finally:
        database.stop()
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
