"""manage.py restore: the question first, the whole database replaced, and the refusals
(another engine's backup, a file that is no backup, a running ticker)."""

import builtins
import sqlite3
from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder

from ledger.models import Balance
from ledger.services import deposit
from prices.ticker import ticker_lock
from tests.factories import StudentFactory
from tradesim import backups
from tradesim.backups import backup_database, database_label

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("pg_tools")]


@pytest.fixture
def saved(settings, tmp_path):
    """A backup with one student, alice, who has $1,000.00; and bob, who came after it."""
    settings.BACKUP_DIR = tmp_path / "backups"
    alice = StudentFactory(username="alice", cash="1000.00")
    path = backup_database()
    deposit(user=alice, amount=Decimal("250.00"))
    StudentFactory(username="bob")
    return path


def usernames() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT username FROM users ORDER BY username")
        return [row[0] for row in cursor.fetchall()]


def restore(*args) -> str:
    out = StringIO()
    call_command("restore", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def answer(monkeypatch):
    """Answers the command's question with `text`; keeps the questions asked."""
    asked = []

    def reply(text):
        def fake_input(prompt):
            asked.append(prompt)
            return text

        monkeypatch.setattr(builtins, "input", fake_input)
        return asked

    return reply


def test_noinput_puts_the_backup_back_and_says_what_to_do_next(saved):
    out = restore(str(saved), "--noinput")

    assert usernames() == ["alice"]
    assert Balance.objects.get(user__username="alice").amount == Decimal("1000.00")
    assert f"Restored {database_label()} from {saved}" in out
    assert "manage.py check_ledger" in out
    assert "manage.py migrate" not in out  # the backup is of this release
    call_command("check_ledger", stdout=StringIO())


def test_the_question_names_the_database_and_the_backup_s_time(settings, tmp_path, clock, answer):
    settings.TIME_ZONE = "Europe/Paris"
    settings.BACKUP_DIR = tmp_path
    clock(datetime(2026, 3, 2, 7, 4, 5, tzinfo=UTC))
    path = backup_database()
    asked = answer("no")

    out = restore(str(path))

    assert out.startswith(
        f"This replaces everything in {database_label()} with the backup {path}, made "
        "2026-03-02 08:04:05 Europe/Paris"
    )
    assert asked == [
        f"Type yes (or the database's name, {backups.database_name()}) to restore it: "
    ]


def test_answering_no_changes_nothing(saved, answer):
    answer("no")

    out = restore(str(saved))

    assert out.splitlines()[-1] == "Nothing was restored; the database is as it was."
    assert usernames() == ["alice", "bob"]


@pytest.mark.parametrize("typed", ["yes", "YES ", "the database's name"])
def test_answering_yes_or_the_database_s_name_restores(saved, answer, typed):
    answer(backups.database_name() if typed == "the database's name" else typed)

    restore(str(saved))

    assert usernames() == ["alice"]


def test_a_table_the_backup_does_not_have_is_gone_after_it(saved):
    # As a newer release's migration would leave one, referring to a table of the backup.
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE newer_release (id integer PRIMARY KEY, "
            "user_id bigint REFERENCES users (id))"
        )
        cursor.execute("INSERT INTO newer_release SELECT 1, id FROM users WHERE username = 'bob'")

    restore(str(saved), "--noinput")

    assert "newer_release" not in connection.introspection.table_names()
    assert usernames() == ["alice"]


def test_a_backup_from_an_older_release_says_to_migrate_first(settings, tmp_path):
    settings.BACKUP_DIR = tmp_path
    recorder = MigrationRecorder(connection)
    latest = recorder.migration_qs.filter(app="ledger").latest("id")
    app, name = latest.app, latest.name
    latest.delete()  # the backup's release did not have it yet
    try:
        path = backup_database()
        recorder.record_applied(app, name)

        out = restore(str(path), "--noinput")

        assert "manage.py migrate        the backup is from an older release" in out
        assert out.index("manage.py migrate") < out.index("manage.py check_ledger")
    finally:
        if not recorder.migration_qs.filter(app=app, name=name).exists():
            recorder.record_applied(app, name)


# Refusals ---------------------------------------------------------------------------------


def test_a_backup_of_the_other_engine_is_refused(tmp_path):
    StudentFactory(username="alice")
    other = tmp_path / "other-engine-backup"
    if connection.vendor == "sqlite":
        other.write_bytes(b"PGDMP\x01\x0e\x00" + bytes(100))
        this, that = "SQLite", "PostgreSQL"
    else:
        with sqlite3.connect(other) as db:
            db.execute("CREATE TABLE django_migrations (id integer)")
        this, that = "PostgreSQL", "SQLite"

    with pytest.raises(CommandError) as refused:
        restore(str(other), "--noinput")

    assert str(refused.value) == (
        f"{other} is a backup of a {that} database, and this TradeSim uses {this} "
        f"(DATABASE_URL). Restore it into a TradeSim that uses {that}, or choose a {this} "
        f"backup (tradesim-…{'.sqlite3' if this == 'SQLite' else '.pgdump'})."
    )
    assert usernames() == ["alice"]


def test_a_file_that_is_no_backup_is_refused(tmp_path):
    StudentFactory(username="alice")
    notes = tmp_path / "notes.txt"
    notes.write_text("-- not a database\n")

    with pytest.raises(CommandError, match="is not a TradeSim backup: it is neither a SQLite"):
        restore(str(notes), "--noinput")
    with pytest.raises(CommandError, match=f"Cannot read {tmp_path}/missing: No such file"):
        restore(str(tmp_path / "missing"), "--noinput")

    assert usernames() == ["alice"]


@pytest.mark.skipif("connection.vendor != 'sqlite'", reason="a SQLite file: DATABASE_URL")
def test_a_sqlite_database_that_is_not_tradesim_s_is_refused(tmp_path):
    other = tmp_path / "other.sqlite3"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE recipes (id integer)")

    with pytest.raises(CommandError, match="is a SQLite database, but not one of TradeSim's"):
        restore(str(other), "--noinput")


def test_restore_is_refused_while_a_ticker_runs(saved, answer):
    asked = answer("yes")

    with ticker_lock(command="tick_prices"), pytest.raises(CommandError) as refused:
        restore(str(saved))

    assert "Another tick_prices is already running" in str(refused.value)
    assert "stop the ticker first: systemctl stop tradesim-ticker" in str(refused.value)
    assert asked == []  # refused before the question
    assert usernames() == ["alice", "bob"]


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="PostgreSQL's table locks")
def test_a_restore_that_cannot_take_its_locks_changes_nothing(saved, live, monkeypatch):
    monkeypatch.setattr(backups, "LOCK_TIMEOUT", "200ms")
    reader = live.connect()
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM users")  # holds users until it ends

        with pytest.raises(CommandError) as refused:
            restore(str(saved), "--noinput")
    finally:
        reader.close()

    assert str(refused.value).startswith(
        "Another program kept a table busy for 200ms, so the restore stopped and the "
        "database was not changed. Stop the web server (systemctl stop tradesim)"
    )
    assert usernames() == ["alice", "bob"]
