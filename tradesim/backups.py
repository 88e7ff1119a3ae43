"""Backups of the whole database in one file, and putting one back: `manage.py backup` and
`manage.py restore` (console.services.restore_database, which holds the ticker off).

A backup is consistent while the class keeps trading:

- SQLite: SQLite's online backup API copies the live database (WAL mode) in one step, as
  one read transaction, so it is the database as it was at one commit; writers go on
  meanwhile. The copy is a standalone file (rollback journal, no -wal beside it) that
  `sqlite3 FILE` opens.
- PostgreSQL: `pg_dump --format=custom`, which reads one snapshot of the database.

Either is written under a temporary name in the backup's folder and renamed when it is
complete, so a file with a backup's name is always a whole backup; it is readable by its
owner only (it holds password hashes).

Restoring replaces everything in the database with the backup:

- SQLite: the online backup API the other way, into the live file, in one write
  transaction: a process that is reading keeps the old content until its read ends, the
  next read sees the backup. A file that does not exist yet is created.
- PostgreSQL: pg_restore turns the backup into SQL (all of it first: a damaged file stops
  here), and psql runs it in one transaction after dropping every table, view, sequence,
  function and type in the schema public. So a table the backup does not have (one a
  newer release's migration added) goes too, which `pg_restore --clean` would leave (and
  fail on, where it refers to a table of the backup), and a restore that fails part way
  changes nothing. The schema itself stays, with its owner and grants: a database owner
  who does not own the schema (the default before PostgreSQL 15) can restore. Limits:
  only the schema public (TradeSim's) is replaced; everything there must belong to the
  user TradeSim connects as (it does when TradeSim created it); objects of extensions
  stay; owners are not restored (`--no-owner`: everything belongs to that user), grants
  are, so the roles they name must exist; and anyone holding a table for longer than
  LOCK_TIMEOUT stops the restore (stop the web server first).
"""

import errno
import logging
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.postgresql.client import DatabaseClient as PostgresClient
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from tradesim.logging import log_event

logger = logging.getLogger("tradesim.backups")

BACKUP_NAME = re.compile(r"tradesim-(\d{8}-\d{6})(?:-(\d+))?\.(sqlite3|pgdump)")
SUFFIXES = {"sqlite": ".sqlite3", "postgresql": ".pgdump"}
ENGINES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
HEADERS = {"sqlite": b"SQLite format 3\0", "postgresql": b"PGDMP"}
LOCK_TIMEOUT = "30s"  # how long a PostgreSQL restore waits for a table someone is using
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
CLIENT_TOOLS = (
    "install the PostgreSQL client tools (postgresql-client) of version {server} or newer, "
    "e.g. `apt install postgresql-client-{server}` (apt.postgresql.org has every version)"
)


class BackupError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Backup:
    """A backup file as restore reads it."""

    path: Path
    engine: str  # "sqlite" or "postgresql"
    made: str  # when, for people
    source: str | None = None  # the database it was made of, when the file says


# Backing up -------------------------------------------------------------------------------


def backup_database(*, output: Path | str | None = None) -> Path:
    """Write a backup of the whole database to one new file and return its path.

    `output`: a file, or a folder to write `tradesim-YYYYmmdd-HHMMSS.sqlite3` (or `.pgdump`)
    in, with the time in TIME_ZONE; by default that name in BACKUP_DIR. The folder is made
    if it is missing. The file is readable by its owner only, and has its name only once it
    is complete: a backup that fails leaves nothing behind. Raises BackupError with what to
    do (the folder cannot be written, the disk is full, pg_dump is missing or too old)."""
    database = connections[DEFAULT_DB_ALIAS]
    vendor = _vendor(database)
    target = _target(output, suffix=SUFFIXES[vendor])
    if vendor == "sqlite":
        _refuse_the_live_file(database, target)
    else:
        pg_dump = _pg_dump_program(database)
    folder = target.parent
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor, partial_name = tempfile.mkstemp(
            dir=folder, prefix=".tradesim-", suffix=".partial"
        )
    except OSError as exc:
        if exc.errno in DISK_FULL:
            raise _disk_full(target) from exc
        raise BackupError(
            f"Cannot write the backup in the folder {folder} ({exc.strerror}). Make it "
            "writable by the user TradeSim runs as, or choose another folder with --output "
            "or BACKUP_DIR."
        ) from exc
    os.close(descriptor)
    partial = Path(partial_name)
    try:
        if vendor == "sqlite":
            _sqlite_backup(database, partial, target)
        else:
            _pg_dump(database, pg_dump, partial, target)
        os.chmod(partial, 0o600)
        _fsync(partial)
        os.replace(partial, target)
        _fsync(folder)
    except OSError as exc:
        if exc.errno in DISK_FULL:
            raise _disk_full(target) from exc
        raise BackupError(f"Could not write the backup {target}: {exc.strerror}.") from exc
    finally:
        for leftover in (partial, *(Path(f"{partial}{end}") for end in ("-journal", "-wal"))):
            leftover.unlink(missing_ok=True)
    log_event(logger, "backup.written", path=str(target), bytes=target.stat().st_size)
    return target


def prune_backups(folder: Path | str, *, keep: int) -> list[Path]:
    """Delete all but the newest `keep` backups in `folder` and return the deleted paths.

    Only files named as backup names them (`tradesim-YYYYmmdd-HHMMSS.sqlite3` or `.pgdump`,
    of either engine), the newest by the time in their name; any other file stays."""
    if keep < 1:
        raise BackupError("--keep must be 1 or more: the number of backups to keep.")
    found = []
    for path in Path(folder).iterdir():
        match = BACKUP_NAME.fullmatch(path.name)
        if match and path.is_file():
            found.append(((match[1], int(match[2] or 1)), path))
    found.sort(reverse=True)
    deleted = [path for _, path in found[keep:]]
    for path in deleted:
        path.unlink()
        log_event(logger, "backup.deleted", path=str(path))
    return deleted


def _vendor(database) -> str:
    if database.vendor not in SUFFIXES:
        raise BackupError(f"Backups are made of SQLite and PostgreSQL, not {database.vendor}.")
    return database.vendor


def _target(output, *, suffix: str) -> Path:
    if output is not None:
        given = Path(output).expanduser()  # a trailing "/" says "a folder", and Path drops it
        if not (given.is_dir() or str(output).endswith(("/", os.sep))):
            return given.absolute()
    folder = Path(given if output is not None else settings.BACKUP_DIR).absolute()
    stamp = f"tradesim-{timezone.localtime(timezone.now()):%Y%m%d-%H%M%S}"
    target, number = folder / f"{stamp}{suffix}", 1
    while target.exists():  # two backups in one second
        number += 1
        target = folder / f"{stamp}-{number}{suffix}"
    return target


def _refuse_the_live_file(database, target: Path) -> None:
    name = str(database.settings_dict["NAME"])
    if database.is_in_memory_db() or name.startswith("file:"):
        return
    live = Path(name).resolve()
    if target.resolve() in {live, Path(f"{live}-wal"), Path(f"{live}-shm")}:
        raise BackupError(f"{target} is the live database itself: choose another file.")


def _disk_full(target: Path) -> BackupError:
    folder = target.parent
    try:
        free = f"{shutil.disk_usage(folder).free / 1e6:,.1f} MB free"
    except OSError:
        free = "no room left"
    return BackupError(
        f"The disk is full: the backup {target} could not be written ({free} in {folder}). "
        "Nothing was saved. Free some space (older backups: --keep), or write the backup "
        "to another disk with --output."
    )


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


# SQLite -----------------------------------------------------------------------------------


def _sqlite_connect(database, name: str | None = None) -> sqlite3.Connection:
    """A connection of its own to the live database (or `name`), as Django opens it."""
    return sqlite3.connect(
        name or str(database.settings_dict["NAME"]),
        timeout=database.settings_dict.get("OPTIONS", {}).get("timeout", 20),
        uri=True,
    )


def _sqlite_backup(database, partial: Path, target: Path) -> None:
    name = str(database.settings_dict["NAME"])
    if name in ("", ":memory:"):
        raise BackupError("A database in one process's memory cannot be backed up.")
    if not (name.startswith("file:") or Path(name).is_file()):
        raise BackupError(f"There is no database at {name} to back up: check DATABASE_URL.")
    source = _sqlite_connect(database)
    try:
        copy = sqlite3.connect(partial)
        try:
            source.backup(copy)  # in one step: one read transaction, one moment
            copy.execute("PRAGMA journal_mode=DELETE")  # a file of its own, no -wal
            (check,) = copy.execute("PRAGMA quick_check").fetchone()
        finally:
            copy.close()
    except sqlite3.Error as exc:
        if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
            raise _disk_full(target) from exc
        raise BackupError(f"Could not back up the database: {exc}.") from exc
    finally:
        source.close()
    if check != "ok":
        raise BackupError(f"The copy of the database is damaged ({check}); nothing was saved.")


def _sqlite_restore(database, backup: Path) -> None:
    source = _sqlite_connect(database, f"{backup.resolve().as_uri()}?mode=ro")
    try:
        live = _sqlite_connect(database)
        try:
            source.backup(live)  # one write transaction: all of it or nothing
        finally:
            live.close()
    except sqlite3.Error as exc:
        full = getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
        raise BackupError(
            "The disk is full: the database could not be restored; it was not changed."
            if full
            else f"Could not restore the database ({exc}); it was not changed."
        ) from exc
    finally:
        source.close()


def _read_sqlite_backup(database, path: Path) -> Backup:
    try:
        backup = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            tables = backup.execute(
                "SELECT count(*) FROM sqlite_master WHERE name = 'django_migrations'"
            ).fetchone()[0]
            (check,) = backup.execute("PRAGMA quick_check").fetchone()
        finally:
            backup.close()
    except sqlite3.Error as exc:
        raise BackupError(f"{path} cannot be read as a SQLite database ({exc}).") from exc
    if not tables:
        raise BackupError(f"{path} is a SQLite database, but not one of TradeSim's.")
    if check != "ok":
        raise BackupError(f"{path} is damaged ({check}): choose another backup.")
    moment = datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.get_current_timezone())
    return Backup(
        path=path, engine="sqlite", made=f"{moment:%Y-%m-%d %H:%M:%S %Z} by the file's date"
    )


# PostgreSQL -------------------------------------------------------------------------------

# Empties the schema public, in the restore's transaction (see the module's docstring).
EMPTY_PUBLIC_SCHEMA = """
SET client_min_messages = warning;
SET lock_timeout = '{lock_timeout}';
DO $empty$
DECLARE
    statements text[];
    statement text;
BEGIN
    -- Tables first: their sequences, indexes and the views on them go with them (CASCADE),
    -- and IF EXISTS passes over what is gone already.
    SELECT coalesce(
               array_agg(format('DROP %s IF EXISTS public.%s CASCADE', kind, name)
                         ORDER BY rank),
               '{{}}')
      INTO statements
      FROM (
        SELECT CASE c.relkind WHEN 'v' THEN 2 WHEN 'm' THEN 2 WHEN 'S' THEN 3 ELSE 1 END
                   AS rank,
               CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                   WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END
                   AS kind,
               quote_ident(c.relname) AS name
          FROM pg_class c
         WHERE c.relnamespace = 'public'::regnamespace
           AND c.relkind IN ('r', 'p', 'f', 'v', 'm', 'S')
           AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                           AND d.objid = c.oid AND d.deptype = 'e')
        UNION ALL
        SELECT 4,
               CASE p.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE'
                   ELSE 'FUNCTION' END,
               format('%I(%s)', p.proname, pg_get_function_identity_arguments(p.oid))
          FROM pg_proc p
         WHERE p.pronamespace = 'public'::regnamespace
           AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                           AND d.objid = p.oid AND d.deptype = 'e')
        UNION ALL
        SELECT 5, CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, quote_ident(t.typname)
          FROM pg_type t
         WHERE t.typnamespace = 'public'::regnamespace
           AND (t.typtype IN ('d', 'e', 'r')
                OR (t.typtype = 'c' AND EXISTS (SELECT FROM pg_class c
                                                WHERE c.oid = t.typrelid AND c.relkind = 'c')))
           AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_type'::regclass
                           AND d.objid = t.oid AND d.deptype = 'e')
      ) AS objects;
    FOREACH statement IN ARRAY statements LOOP
        EXECUTE statement;
    END LOOP;
END
$empty$;
"""


def _pg_program(name: str, database) -> str:
    program = shutil.which(name)
    if program is None:
        server = database.pg_version // 10000
        raise BackupError(
            f"{name} is not installed (or not on the PATH): "
            + CLIENT_TOOLS.format(server=server)
            + "."
        )
    return program


def _pg_connection(database) -> tuple[list[str], dict]:
    """The connection options of pg_dump, pg_restore and psql, and their environment: the
    password (and TLS settings) in the environment, never on the command line, which
    every user of the machine can read."""
    settings_dict = database.settings_dict
    _, extra = PostgresClient.settings_to_cmd_args_env(settings_dict, [])
    args = []
    for option, key in (("--host", "HOST"), ("--port", "PORT"), ("--username", "USER")):
        if settings_dict.get(key):
            args.append(f"{option}={settings_dict[key]}")
    if settings_dict.get("NAME"):  # or the service's (OPTIONS)
        args.append(f"--dbname={settings_dict['NAME']}")
    return args, {**os.environ, **(extra or {})}


def _pg_dump_program(database) -> str:
    """pg_dump, if it is there and can back up this server."""
    database.ensure_connection()
    program = _pg_program("pg_dump", database)
    server = database.pg_version // 10000
    version = subprocess.run(  # noqa: S603 (pg_dump from the PATH, no input of anyone's)
        [program, "--version"], capture_output=True, text=True, check=False
    ).stdout
    found = re.search(r"\(PostgreSQL\)\s+((\d+)\S*)", version)
    if found is None or int(found[2]) < server:
        raise BackupError(
            f"pg_dump ({program}) is version {found[1] if found else 'unknown'}, older than "
            f"the PostgreSQL server's {server}, which it cannot back up: "
            + CLIENT_TOOLS.format(server=server)
            + "."
        )
    return program


def _pg_dump(database, program: str, partial: Path, target: Path) -> None:
    args, env = _pg_connection(database)
    result = subprocess.run(  # noqa: S603 (the arguments are ours and the database's settings)
        [program, "--format=custom", "--no-password", f"--file={partial}", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        said = result.stderr.strip()
        if "No space left on device" in said or "Disk quota exceeded" in said:
            raise _disk_full(target)
        raise BackupError(f"pg_dump could not back up the database: {said}")


def _read_pg_backup(database, path: Path) -> Backup:
    program = _pg_program("pg_restore", database)
    result = subprocess.run(  # noqa: S603 (pg_restore from the PATH and a file's path)
        [program, "--list", str(path)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        said = result.stderr.strip()
        hint = ""
        if "unsupported version" in said:
            hint = (
                " It was made by a newer pg_dump than this pg_restore: install the PostgreSQL"
                " client tools (postgresql-client) of the version that made it, or newer."
            )
        raise BackupError(f"pg_restore cannot read {path}: {said}.{hint}")
    made = re.search(r"^; Archive created at (.+)$", result.stdout, re.MULTILINE)
    source = re.search(r"^;\s+dbname: (.+)$", result.stdout, re.MULTILINE)
    return Backup(
        path=path,
        engine="postgresql",
        made=made[1].strip() if made else "at an unknown time",
        source=source[1].strip() if source else None,
    )


def _pg_restore(database, backup: Path) -> None:
    pg_restore = _pg_program("pg_restore", database)
    psql = _pg_program("psql", database)
    args, env = _pg_connection(database)
    # The script holds everything in the backup, password hashes too: a private folder.
    with tempfile.TemporaryDirectory(prefix="tradesim-restore-") as work:
        script, empty = Path(work) / "backup.sql", Path(work) / "empty.sql"
        result = subprocess.run(  # noqa: S603 (pg_restore from the PATH and a file's path)
            [pg_restore, "--no-owner", f"--file={script}", str(backup)],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise BackupError(
                f"pg_restore could not turn {backup} into SQL: {result.stderr.strip()}. "
                "The database was not changed."
            )
        empty.write_text(EMPTY_PUBLIC_SCHEMA.format(lock_timeout=LOCK_TIMEOUT))
        result = subprocess.run(  # noqa: S603 (psql from the PATH; the arguments are ours)
            [
                psql,
                "--no-psqlrc",
                "--quiet",
                "--no-password",
                "--single-transaction",
                "--set=ON_ERROR_STOP=1",
                *args,
                f"--file={empty}",
                f"--file={script}",
            ],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    if result.returncode != 0:
        said = result.stderr.strip()
        if "lock timeout" in said:
            raise BackupError(
                f"Another program kept a table busy for {LOCK_TIMEOUT}, so the restore "
                "stopped and the database was not changed. Stop the web server (systemctl "
                "stop tradesim) and close other sessions on the database, then restore again."
            )
        raise BackupError(f"The restore failed and the database was not changed: {said}")


# Restoring --------------------------------------------------------------------------------


def read_backup(path: Path | str) -> Backup:
    """What the backup at `path` is, when it was made, and of which database, after checking
    that it is a whole TradeSim backup of this engine (BackupError otherwise)."""
    path = Path(path).expanduser()
    database = connections[DEFAULT_DB_ALIAS]
    vendor = _vendor(database)
    try:
        with open(path, "rb") as file:
            header = file.read(16)
    except OSError as exc:
        raise BackupError(f"Cannot read {path}: {exc.strerror}.") from exc
    kind = next((k for k, start in HEADERS.items() if header.startswith(start)), None)
    if kind is None:
        raise BackupError(
            f"{path} is not a TradeSim backup: it is neither a SQLite database nor a "
            "pg_dump file of the custom format, which `manage.py backup` writes."
        )
    if kind != vendor:
        raise BackupError(
            f"{path} is a backup of a {ENGINES[kind]} database, and this TradeSim uses "
            f"{ENGINES[vendor]} (DATABASE_URL). Restore it into a TradeSim that uses "
            f"{ENGINES[kind]}, or choose a {ENGINES[vendor]} backup (tradesim-…"
            f"{SUFFIXES[vendor]})."
        )
    if vendor == "sqlite":
        backup = _read_sqlite_backup(database, path)
    else:
        database.ensure_connection()
        backup = _read_pg_backup(database, path)
    named = BACKUP_NAME.fullmatch(path.name)
    if named:  # the time it began, in TIME_ZONE
        made = f"{datetime.strptime(named[1], '%Y%m%d-%H%M%S'):%Y-%m-%d %H:%M:%S}"
        backup = replace(backup, made=f"{made} {settings.TIME_ZONE}")
    return backup


def replace_database(path: Path | str) -> Backup:
    """Replace everything in the database with the backup at `path`, in one transaction:
    on any error (BackupError) the database is as it was.

    The caller keeps the ticker off (console.services.restore_database). Django's
    connections are closed first and reopen on their next use."""
    backup = read_backup(path)
    database = connections[DEFAULT_DB_ALIAS]
    connections.close_all()
    if backup.engine == "sqlite":
        _sqlite_restore(database, backup.path)
    else:
        _pg_restore(database, backup.path)
    connections.close_all()
    log_event(logger, "backup.restored", path=str(backup.path), made=backup.made)
    return backup


def database_label() -> str:
    """The database this TradeSim uses, for people: what a restore replaces."""
    database = connections[DEFAULT_DB_ALIAS]
    settings_dict = database.settings_dict
    if database.vendor == "sqlite":
        return f"the SQLite database {settings_dict['NAME']}"
    where = settings_dict.get("HOST") or "this machine"
    if settings_dict.get("PORT"):
        where += f":{settings_dict['PORT']}"
    return f"the PostgreSQL database {settings_dict['NAME']} on {where}"


def database_name() -> str:
    """The database's short name: the SQLite file's name, or the PostgreSQL database's."""
    name = str(connections[DEFAULT_DB_ALIAS].settings_dict["NAME"])
    return Path(name).name if connections[DEFAULT_DB_ALIAS].vendor == "sqlite" else name


@dataclass(frozen=True)
class MigrationStatus:
    pending: list[str]  # this release's migrations the database lacks: an older backup
    unknown: list[str]  # migrations the database has and this release does not: a newer one


def migration_status() -> MigrationStatus:
    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    loader = executor.loader
    plan = executor.migration_plan(loader.graph.leaf_nodes())
    unknown = [
        key
        for key in loader.applied_migrations
        if key[0] in loader.migrated_apps and key not in loader.disk_migrations
    ]
    return MigrationStatus(
        pending=[f"{migration.app_label}.{migration.name}" for migration, _ in plan],
        unknown=sorted(f"{app}.{name}" for app, name in unknown),
    )
