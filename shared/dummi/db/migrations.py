"""Numbered ``.sql`` migrations, applied in order, each once, inside one transaction.

``schema_migrations`` records what ran. A transaction-scoped advisory lock lets several processes (two
Lambda cold starts, the local server and the CLI) call ``migrate`` at once: one applies, the others wait
and then find nothing to do.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from importlib import resources

from dummi.db.connection import Database

logger = logging.getLogger(__name__)

MIGRATION_LOCK_ID = 0x64756D6D69  # "dummi"
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def available_migrations() -> list[Migration]:
    folder = resources.files("dummi.db") / "migrations"
    found = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration numbers: {versions}")
    return found


def migrate(db: Database, *, up_to: int | None = None) -> list[str]:
    """Apply every migration not yet applied (``up_to``: numbered up to that one only, as a database an older
    release made); return the names applied now."""
    applied_now: list[str] = []
    with db.transaction() as conn:
        conn.run("SELECT pg_advisory_xact_lock(:id)", id=MIGRATION_LOCK_ID)
        conn.run(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {row[0] for row in conn.run("SELECT version FROM schema_migrations")}
        for migration in available_migrations():
            if migration.version in done or (up_to is not None and migration.version > up_to):
                continue
            logger.info("applying migration %s", migration.name)
            conn.run(migration.sql)
            conn.run(
                "INSERT INTO schema_migrations (version, name) VALUES (:v, :n)",
                v=migration.version,
                n=migration.name,
            )
            applied_now.append(migration.name)
    return applied_now
