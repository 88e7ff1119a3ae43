"""manage.py backup: the file's name, place, permissions and completeness, --keep, and the
refusals; on the engine the tests run on (SQLite or PostgreSQL)."""

import os
import sqlite3
import stat
import subprocess
import sys
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from tests.factories import StudentFactory
from tests.ops.conftest import BASE_DIR, HANG_GUARD
from tradesim.backups import BackupError, backup_database, prune_backups

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("pg_tools")]

MOMENT = datetime(2026, 3, 2, 7, 4, 5, tzinfo=UTC)  # 08:04:05 in Paris

sqlite_only = pytest.mark.skipif(
    "connection.vendor != 'sqlite'", reason="SQLite's backup: DATABASE_URL is PostgreSQL"
)
postgres_only = pytest.mark.skipif(
    "connection.vendor != 'postgresql'", reason="pg_dump's backup: needs PostgreSQL (DATABASE_URL)"
)


@pytest.fixture
def suffix():
    return ".pgdump" if connection.vendor == "postgresql" else ".sqlite3"


@pytest.fixture
def backup_dir(settings, tmp_path):
    settings.BACKUP_DIR = tmp_path / "backups"
    return settings.BACKUP_DIR


def backup(*args) -> list[str]:
    out = StringIO()
    call_command("backup", *args, stdout=out)
    return out.getvalue().splitlines()


# Where and under which name ---------------------------------------------------------------


def test_a_backup_is_named_by_its_time_in_the_school_s_time_zone(
    settings, backup_dir, clock, suffix
):
    settings.TIME_ZONE = "Europe/Paris"
    clock(MOMENT)

    path = backup_database()

    assert path == backup_dir / f"tradesim-20260302-080405{suffix}"
    assert path.is_file()


def test_the_command_prints_the_backup_s_path_as_its_last_line(backup_dir, suffix):
    lines = backup()

    path = Path(lines[-1])
    assert path.parent == backup_dir and path.name.endswith(suffix) and path.is_file()


def test_a_second_backup_in_the_same_second_gets_a_name_of_its_own(backup_dir, clock, suffix):
    clock(MOMENT)

    first, second = backup_database(), backup_database()

    assert first.name == f"tradesim-20260302-070405{suffix}"
    assert second.name == f"tradesim-20260302-070405-2{suffix}"
    assert first.is_file() and second.is_file()


def test_output_a_folder_puts_the_default_name_in_it(backup_dir, tmp_path, clock, suffix):
    clock(MOMENT)
    folder = tmp_path / "elsewhere"
    folder.mkdir()

    assert Path(backup("--output", str(folder))[-1]) == folder / f"tradesim-20260302-070405{suffix}"
    assert not backup_dir.exists()


def test_output_a_new_folder_ending_in_a_slash_is_made_with_the_default_name_in_it(
    backup_dir, tmp_path, clock, suffix
):
    clock(MOMENT)
    folder = tmp_path / "usb" / "tradesim"

    path = Path(backup("--output", f"{folder}/")[-1])

    assert path == folder / f"tradesim-20260302-070405{suffix}"
    assert path.is_file()


def test_output_a_file_is_that_file(backup_dir, tmp_path):
    path = tmp_path / "new" / "before-the-upgrade.bak"

    assert backup("--output", str(path))[-1] == str(path)
    assert path.is_file()


def test_the_backup_and_its_new_folder_are_private_to_their_owner(backup_dir):
    path = backup_database()

    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # it holds password hashes
    assert stat.S_IMODE(backup_dir.stat().st_mode) == 0o700
    assert [p.name for p in backup_dir.iterdir()] == [path.name]  # no temporary file left


@sqlite_only
def test_a_sqlite_backup_is_a_database_file_of_its_own_with_the_data(backup_dir):
    StudentFactory(username="alice")

    path = backup_database()

    assert path.read_bytes()[18:20] == b"\x01\x01"  # rollback journal, not WAL
    assert not Path(f"{path}-wal").exists()
    with sqlite3.connect(path) as copy:
        assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        assert copy.execute("SELECT username FROM users").fetchall() == [("alice",)]
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)


@postgres_only
def test_a_postgresql_backup_is_a_pg_dump_archive_with_the_data(backup_dir):
    StudentFactory(username="alice")

    path = backup_database()

    assert path.read_bytes()[:5] == b"PGDMP"
    listing = subprocess.run(
        ["pg_restore", "--data-only", "--table=users", "--file=-", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "\talice\t" in listing


# --keep -----------------------------------------------------------------------------------


def test_keep_deletes_all_but_the_newest_backups_and_nothing_else(tmp_path, clock, suffix):
    clock(MOMENT)
    folder = tmp_path / "backups"
    folder.mkdir()
    older = [
        "tradesim-20260101-020000.sqlite3",
        "tradesim-20260102-020000.pgdump",
        "tradesim-20260301-020000.sqlite3",
        "tradesim-20260301-020000-2.pgdump",
    ]
    others = [
        "notes.txt",
        "tradesim-before-the-upgrade.sqlite3",
        "tradesim-20250101-020000.sqlite3.gz",
        "mine-20250101-020000.sqlite3",
        ".tradesim-abc.partial",
    ]
    for number, name in enumerate(older + others):
        (folder / name).write_text(name)
        os.utime(folder / name, (2_000_000_000 - number, 2_000_000_000 - number))
    (folder / "tradesim-20250101-020000.pgdump").mkdir()  # a folder, not a backup

    lines = backup("--output", str(folder), "--keep", "2")

    new = f"tradesim-20260302-070405{suffix}"
    assert lines[-1] == str(folder / new)
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [new, "tradesim-20260301-020000-2.pgdump", *others, "tradesim-20250101-020000.pgdump"]
    )
    assert lines[:3] == [
        f"Deleted the older backup {folder / name}"
        for name in ["tradesim-20260301-020000.sqlite3", *older[1::-1]]
    ]


def test_keep_orders_backups_by_the_time_in_their_names(tmp_path):
    names = [
        "tradesim-20260301-020000.sqlite3",
        "tradesim-20260301-020000-2.sqlite3",
        "tradesim-20260301-020000-10.sqlite3",
        "tradesim-20260302-010000.pgdump",
    ]
    for name in names:
        (tmp_path / name).write_text(name)

    deleted = prune_backups(tmp_path, keep=2)

    assert [p.name for p in deleted] == names[1::-1]


@pytest.mark.parametrize("keep", ["0", "-3"])
def test_keep_below_one_is_refused_before_anything_is_written(backup_dir, keep):
    with pytest.raises(CommandError, match="--keep must be 1 or more"):
        backup("--keep", keep)

    assert not backup_dir.exists()


# Refusals ---------------------------------------------------------------------------------


@sqlite_only
def test_the_live_database_file_is_refused_as_the_output(live):
    code, out, err = live.manage("backup", "--output", str(live.sqlite_path))

    assert code == 1
    assert f"{live.sqlite_path} is the live database itself: choose another file." in err[-1]


@pytest.fixture
def private_mount(live, tmp_path):
    """Runs `manage.py backup --output FOLDER` with a small tmpfs mounted on FOLDER, in a
    mount namespace of its own (unshare, as an unprivileged user may), so that the folder
    can be read-only or full even for root; prints what the folder holds afterwards."""
    folder = tmp_path / "mounted"
    folder.mkdir()
    script = (
        'mount -t tmpfs -o "$1" backup-test "$2" || exit 97; folder="$2"; shift 2; "$@"; '
        'status=$?; echo "left in the folder: [$(ls -A "$folder")]" >&2; exit $status'
    )

    def run(options):
        command = ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script, "sh"]
        return subprocess.run(
            [*command, options, str(folder), sys.executable, "manage.py", "backup"]
            + ["--output", str(folder)],
            cwd=BASE_DIR,
            env=live.env,
            capture_output=True,
            text=True,
            timeout=HANG_GUARD,
        )

    probe = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script, "sh"]
        + ["size=4k", str(folder), "true"],
        capture_output=True,
        check=False,
    )
    if probe.returncode != 0:
        pytest.skip("needs `unshare` and a tmpfs mounted in a user namespace of its own")
    return run


def test_a_folder_that_cannot_be_written_is_named_with_what_to_do(private_mount, tmp_path):
    result = private_mount("ro,size=1m")

    assert result.returncode == 1, result.stderr
    folder = tmp_path / "mounted"
    assert (
        f"Cannot write the backup in the folder {folder} (Read-only file system). Make it "
        "writable by the user TradeSim runs as, or choose another folder with --output or "
        "BACKUP_DIR."
    ) in result.stderr


def test_a_full_disk_is_named_with_the_file_and_leaves_nothing(private_mount, tmp_path):
    result = private_mount("size=16k")

    assert result.returncode == 1, result.stderr
    assert "The disk is full: the backup " in result.stderr
    assert f"{tmp_path / 'mounted'}/tradesim-" in result.stderr  # the file it was writing
    assert "Nothing was saved." in result.stderr
    assert result.stderr.rstrip().endswith("left in the folder: []")  # no part of it either


@pytest.fixture
def programs(tmp_path, monkeypatch):
    """A PATH of its own: only the programs a test writes there."""
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", str(folder))

    def write(name, script):
        path = folder / name
        path.write_text(f"#!/bin/sh\n{script}\n")
        path.chmod(0o755)

    return write


@postgres_only
def test_a_missing_pg_dump_says_which_client_to_install(backup_dir, programs):
    server = connection.pg_version // 10000

    with pytest.raises(BackupError) as refused:
        backup_database()

    assert refused.value.message == (
        "pg_dump is not installed (or not on the PATH): install the PostgreSQL client tools "
        f"(postgresql-client) of version {server} or newer, e.g. `apt install "
        f"postgresql-client-{server}` (apt.postgresql.org has every version)."
    )
    assert not backup_dir.exists()


@postgres_only
def test_a_pg_dump_older_than_the_server_is_refused(backup_dir, programs):
    programs("pg_dump", 'echo "pg_dump (PostgreSQL) 9.6.24"')
    server = connection.pg_version // 10000

    with pytest.raises(BackupError) as refused:
        backup_database()

    assert refused.value.message.startswith(
        f"pg_dump ({backup_dir.parent}/bin/pg_dump) is version 9.6.24, older than the "
        f"PostgreSQL server's {server}, which it cannot back up: install the PostgreSQL "
        f"client tools (postgresql-client) of version {server} or newer"
    )
    assert not backup_dir.exists()


@postgres_only
def test_pg_dump_gets_the_password_in_its_environment_not_on_its_command_line(
    backup_dir, programs, monkeypatch, tmp_path
):
    monkeypatch.setitem(connection.settings_dict, "PASSWORD", "hunter2-secret")
    record = tmp_path / "record"
    programs(
        "pg_dump",
        'if [ "$1" = --version ]; then echo "pg_dump (PostgreSQL) 99.1"; exit; fi\n'
        f'echo "$@" > {record}; echo "$PGPASSWORD" >> {record}\n'
        'for a; do case "$a" in --file=*) printf PGDMP > "${a#--file=}";; esac; done',
    )

    path = backup_database()

    arguments, password = record.read_text().splitlines()
    assert password == "hunter2-secret"
    assert "hunter2" not in arguments
    assert {
        "--format=custom",
        "--no-password",
        f"--dbname={connection.settings_dict['NAME']}",
    } <= set(arguments.split())
    assert path.read_bytes() == b"PGDMP"
