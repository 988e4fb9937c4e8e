"""The database side of ``dummi backup`` and ``dummi restore``: pg_dump and pg_restore, and the SQL around them.

* The client programs are the newest found on PATH, under Debian's ``/usr/lib/postgresql/*/bin``, or in the
  ``pgserver`` wheel (where no client is installed), and never one older than the server (pg_dump refuses a
  newer server; pg_restore reads archives of its own version and older).
* A dump is one consistent snapshot: a read-only REPEATABLE READ transaction exports its snapshot, counts every
  table's rows in it, and pg_dump reads the same snapshot (``--snapshot``) while that transaction stays open.
* A restore is one transaction (``pg_restore --single-transaction --exit-on-error``): all of it or nothing.
  Neither owners nor grants are restored (``--no-owner --no-privileges``): the restoring user owns the tables,
  as on a new server or RDS instance.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from dummi.db.connection import Database


class DumpToolError(RuntimeError):
    """No usable pg_dump / pg_restore, or one of them failed."""


@dataclass(frozen=True)
class Tool:
    path: Path
    major: int
    version: str  # what it printed, e.g. "pg_dump (PostgreSQL) 16.2"


def _candidates(name: str) -> list[Path]:
    found = [shutil.which(name), *sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))]
    try:
        # pgserver: the local extra, only on a laptop's embedded Postgres
        from pgserver._commands import POSTGRES_BIN_PATH

        found.append(str(POSTGRES_BIN_PATH / name))
    except ImportError:  # the container image and Lambda have no pgserver
        pass
    return [Path(p) for p in dict.fromkeys(f for f in found if f and os.access(f, os.X_OK))]


def find_tool(name: str, *, at_least: int) -> Tool:
    """The newest ``name`` (pg_dump, pg_restore) of major version ``at_least`` or newer."""
    tools = []
    for path in _candidates(name):
        try:
            printed = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=30).stdout
        except (OSError, subprocess.SubprocessError):
            continue
        match = re.search(r"\)\s+(\d+)", printed)
        if match:
            tools.append(Tool(path, int(match.group(1)), printed.strip()))
    usable = [t for t in tools if t.major >= at_least]
    if not usable:
        seen = ", ".join(f"{t.path} ({t.major})" for t in tools) or "none"
        raise DumpToolError(
            f"no {name} of PostgreSQL {at_least} or newer (the server's version) was found (seen: {seen}): install "
            f"the PostgreSQL {at_least} client programs (Debian: postgresql-client-{at_least}), or pgserver"
        )
    return max(usable, key=lambda t: t.major)


def libpq_target(url: str) -> tuple[str, dict[str, str]]:
    """(a connection URI for libpq without the password, the environment carrying it as PGPASSWORD): the
    password stays out of the process list."""
    parts = urlsplit(url)
    env = dict(os.environ)
    if parts.password is not None:
        env["PGPASSWORD"] = unquote(parts.password)
        user = parts.username or ""
        host = parts.netloc.rpartition("@")[2]
        parts = parts._replace(netloc=f"{user}@{host}" if user else host)
    return urlunsplit(parts), env


def _run(tool: Tool, args: list[str], url: str) -> None:
    target, env = libpq_target(url)
    done = subprocess.run([str(tool.path), *args, f"--dbname={target}"], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise DumpToolError(f"{tool.path.name} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")


def server_major(db: Database) -> int:
    return int(db.read(lambda conn: conn.run("SHOW server_version_num"))[0][0]) // 10000


@dataclass(frozen=True)
class Snapshot:
    snapshot_id: str
    rows: dict[str, int]  # every table of the public schema, counted in the snapshot
    migrations: list[str]  # schema_migrations' names, in order
    server_version: str


@contextmanager
def exported_snapshot(db: Database) -> Iterator[Snapshot]:
    """A read-only snapshot of the whole database, held open (for pg_dump --snapshot) until the block ends."""
    conn = db.connect()
    try:
        conn.run("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        snapshot_id = conn.run("SELECT pg_export_snapshot()")[0][0]
        yield Snapshot(
            snapshot_id,
            _count_rows(conn),
            [r[0] for r in conn.run("SELECT name FROM schema_migrations ORDER BY version")]
            if _has_table(conn, "schema_migrations")
            else [],
            conn.run("SHOW server_version")[0][0],
        )
        conn.run("COMMIT")
    finally:
        conn.close()


def _tables(conn) -> list[str]:
    return [r[0] for r in conn.run("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")]


def _has_table(conn, name: str) -> bool:
    return name in _tables(conn)


def _count_rows(conn) -> dict[str, int]:
    return {t: int(conn.run(f'SELECT count(*) FROM public."{t}"')[0][0]) for t in _tables(conn)}


def count_rows(db: Database) -> dict[str, int]:
    """Every table of the public schema with its rows (an empty dict: an empty database)."""
    return db.read(_count_rows)


def dump(db: Database, snapshot: Snapshot, out: Path) -> Tool:
    """pg_dump of the whole database in ``snapshot`` to ``out`` (custom format, compressed)."""
    tool = find_tool("pg_dump", at_least=server_major(db))
    args = ["--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot.snapshot_id}", f"--file={out}"]
    _run(tool, args, db.url())
    return tool


def restore(db: Database, dump_file: Path) -> Tool:
    """pg_restore of ``dump_file`` into the (empty) database, in one transaction."""
    tool = find_tool("pg_restore", at_least=server_major(db))
    _run(tool, ["--single-transaction", "--exit-on-error", "--no-owner", "--no-privileges", str(dump_file)], db.url())
    return tool


def other_sessions(db: Database) -> int:
    """Sessions of other dummi processes on this database (a server, a worker, a training run)."""
    return int(
        db.read(
            lambda conn: conn.run(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND application_name = 'dummi' AND pid <> pg_backend_pid()"
            )
        )[0][0]
    )


def drop_tables(db: Database) -> list[str]:
    """Drop every table of the public schema (their sequences and indexes go with them), in one transaction."""
    with db.transaction() as conn:
        tables = _tables(conn)
        if tables:
            conn.run("DROP TABLE " + ", ".join(f'public."{t}"' for t in tables) + " CASCADE")
    return tables


def renumber_change_xids(db: Database) -> None:
    """Catalog changes are found by transaction id (``changed_xid``, ``deleted_xid``: serving reads what
    changed since its last read); ids copied from another server mean nothing here, so every restored row is
    marked as changed by this transaction, as the last write it really had."""
    with db.transaction() as conn:
        conn.run("UPDATE content SET changed_xid = pg_current_xact_id()")
        conn.run("UPDATE content_deletions SET deleted_xid = pg_current_xact_id()")
