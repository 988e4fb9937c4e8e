"""Backup and restore of a deployment: the database and the model serving, in one archive (``dummi backup`` and
``dummi restore``; the same code whatever holds the data: the embedded Postgres of ``make run``, a container's
PostgreSQL, RDS, and a file or S3 artifact store).

The archive is a tar file:

    manifest.json                          format, versions, the database's row counts and migrations, the
                                           pointer, and sha256 and size of every other member
    database.dump                          pg_dump of the whole database (custom format), one snapshot
    artifacts/models/<version>/<file>      every file of the serving version (``--all-versions``: of every
    artifacts/models/<version>/manifest.json    version in the store), as stored
    artifacts/models/latest.json           the pointer

A backup is written under a temporary name and renamed into place when whole. The pointer is read before the
database snapshot and again after the copy; if a training run moved it meanwhile, the backup starts again
(the database and the model it names then belong together). A restore checks every checksum before it
touches anything, refuses a target that holds data (``force``: a safety backup of the target first, then the
target is emptied), writes the model files, restores the database in one transaction, applies the migrations
an older archive lacks, and writes the pointer last.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dummi import __version__
from dummi.artifacts.loader import load_version
from dummi.artifacts.publish import MANIFEST, MODELS, POINTER, published_versions, read_pointer
from dummi.artifacts.store import ArtifactStore
from dummi.db import dump as pg
from dummi.db.connection import Database
from dummi.db.migrations import available_migrations, migrate
from dummi.errors import InvalidRequestError
from dummi.progress import NullProgress, Progress

FORMAT = "dummi-backup"
FORMAT_VERSION = 1
ARCHIVE_MANIFEST = "manifest.json"
DATABASE_DUMP = "database.dump"
ARTIFACTS = "artifacts/"
ATTEMPTS = 3  # backups started again because a training run published meanwhile
CHUNK = 1 << 20
# Counting a big table or renumbering every item may take minutes: the work's own connection waits for hours.
STATEMENT_TIMEOUT_MS = 6 * 3600 * 1000


def _own_connection(db: Database) -> Database:
    """One connection of its own to ``db``'s database, with a long statement timeout (and so a long read
    timeout): the serving pool's 15 s would cut a count of a 100M-row table."""
    return Database(db.url, pool_size=1, statement_timeout_ms=STATEMENT_TIMEOUT_MS)


@dataclass(frozen=True)
class BackupResult:
    path: Path
    bytes: int
    seconds: float
    rows: dict[str, int]
    versions: list[str]
    serving: str | None


@dataclass(frozen=True)
class RestoreResult:
    rows: dict[str, int]
    versions: list[str]
    serving: str | None
    migrations_applied: list[str]
    seconds: float
    safety_backup: Path | None = None
    replaced: dict[str, Any] = field(default_factory=dict)


# -- backup ------------------------------------------------------------------------------------------------------
def backup(
    db: Database,
    store: ArtifactStore,
    out: Path,
    *,
    all_versions: bool = False,
    progress: Progress | None = None,
) -> BackupResult:
    """Write the archive ``out`` (which must not exist)."""
    progress = progress or NullProgress()
    out = Path(out)
    if out.exists():
        raise InvalidRequestError(f"{out} exists; name a new file (a backup never overwrites one)", field="out")
    if not out.parent.is_dir():
        raise InvalidRequestError(f"no folder {out.parent}", field="out")
    started = time.monotonic()
    partial = out.with_name(f".{out.name}.partial")
    db = _own_connection(db)
    try:
        for _attempt in range(ATTEMPTS):
            written = _write_archive(db, store, partial, all_versions, progress)
            if written is not None:
                break
        else:
            raise InvalidRequestError(
                f"training published a new model during each of {ATTEMPTS} tries; try again after it", field=None
            )
        _fsync(partial)
        os.replace(partial, out)
        _fsync(out.parent)
    finally:
        partial.unlink(missing_ok=True)
        db.close()
    rows, versions, serving = written
    return BackupResult(out, out.stat().st_size, time.monotonic() - started, rows, versions, serving)


def _write_archive(
    db: Database, store: ArtifactStore, partial: Path, all_versions: bool, progress: Progress
) -> tuple[dict[str, int], list[str], str | None] | None:
    """One try; None when the pointer moved while it ran."""
    pointer = read_pointer(store)
    files: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(dir=partial.parent, prefix=".dummi-backup-") as tmp:
        dump_file = Path(tmp) / DATABASE_DUMP
        progress.start("database: one snapshot, pg_dump")
        with pg.exported_snapshot(db) as snapshot:
            tool = pg.dump(db, snapshot, dump_file)
        progress.finish(f"{sum(snapshot.rows.values())} rows in {len(snapshot.rows)} tables")
        versions = _versions_to_keep(store, pointer, all_versions)
        with tarfile.open(partial, "w") as tar:
            files[DATABASE_DUMP] = _add_file(tar, DATABASE_DUMP, dump_file)
            progress.start("model files", sum(1 for _ in versions))
            for version in versions:
                sha = pointer["manifest_sha256"] if pointer and version == pointer["version"] else None
                _, data = load_version(store, version, sha)  # every checksum verified, as serving verifies them
                manifest_bytes = store.get(f"{MODELS}/{version}/{MANIFEST}")  # as stored: the pointer's checksum
                for name, blob in sorted(data.items()):
                    key = f"{ARTIFACTS}{MODELS}/{version}/{name}"
                    files[key] = _add_bytes(tar, key, blob)
                key = f"{ARTIFACTS}{MODELS}/{version}/{MANIFEST}"
                files[key] = _add_bytes(tar, key, manifest_bytes)
                progress.advance()
            progress.finish(", ".join(versions) or "no model published")
            if read_pointer(store) != pointer:
                return None  # a run published meanwhile: the database snapshot may predate it
            if pointer is not None:
                files[f"{ARTIFACTS}{POINTER}"] = _add_bytes(tar, f"{ARTIFACTS}{POINTER}", json.dumps(pointer).encode())
            manifest = {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "created_at": datetime.now(UTC).isoformat(),
                "dummi_version": __version__,
                "database": {
                    "server_version": snapshot.server_version,
                    "dumped_with": tool.version,
                    "migrations": snapshot.migrations,
                    "rows": snapshot.rows,
                },
                "artifacts": {"source": store.uri, "pointer": pointer, "versions": versions},
                "files": files,
            }
            _add_bytes(tar, ARCHIVE_MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode())
    return snapshot.rows, versions, pointer["version"] if pointer else None


def _versions_to_keep(store: ArtifactStore, pointer: dict | None, all_versions: bool) -> list[str]:
    serving = [pointer["version"]] if pointer else []
    if not all_versions:
        return serving
    complete = [v for v in published_versions(store) if store.exists(f"{MODELS}/{v}/{MANIFEST}")]
    return sorted(set(complete) | set(serving))


def _add_file(tar: tarfile.TarFile, name: str, path: Path) -> dict[str, Any]:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    tar.add(path, arcname=name, recursive=False)
    return {"sha256": digest.hexdigest(), "bytes": path.stat().st_size}


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> dict[str, Any]:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), int(time.time()), 0o644
    tar.addfile(info, io.BytesIO(data))
    return {"sha256": _sha256(data), "bytes": len(data)}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- reading an archive ------------------------------------------------------------------------------------------
def read_archive(source: Path, progress: Progress | None = None) -> dict[str, Any]:
    """The archive's manifest, after every member's size and sha256 were checked against it (nothing missing,
    nothing added)."""
    progress = progress or NullProgress()
    source = Path(source)
    if not source.is_file():
        raise InvalidRequestError(f"no file {source}", field="from")
    try:
        with tarfile.open(source, "r") as tar:
            members = {m.name: m for m in tar.getmembers() if m.isfile()}
            if ARCHIVE_MANIFEST not in members:
                raise InvalidRequestError(f"{source} is not a dummi backup (no {ARCHIVE_MANIFEST})", field="from")
            manifest = json.loads(tar.extractfile(members[ARCHIVE_MANIFEST]).read())
            if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
                raise InvalidRequestError(
                    f"{source}: format {manifest.get('format')} {manifest.get('format_version')}; this dummi reads "
                    f"{FORMAT} {FORMAT_VERSION}",
                    field="from",
                )
            listed = manifest["files"]
            extra = sorted(set(members) - set(listed) - {ARCHIVE_MANIFEST})
            missing = sorted(set(listed) - set(members))
            if extra or missing:
                raise InvalidRequestError(
                    f"{source}: members missing {missing[:3]}, unlisted {extra[:3]}", field="from"
                )
            progress.start("checking the archive's checksums", len(listed))
            for name, expected in listed.items():
                digest, size = hashlib.sha256(), 0
                handle = tar.extractfile(members[name])
                for chunk in iter(lambda handle=handle: handle.read(CHUNK), b""):
                    digest.update(chunk)
                    size += len(chunk)
                if size != expected["bytes"] or digest.hexdigest() != expected["sha256"]:
                    raise InvalidRequestError(f"{source}: {name} is corrupted (checksum mismatch)", field="from")
                progress.advance()
            progress.finish(f"{len(listed)} files whole")
    except (tarfile.TarError, EOFError, ValueError, KeyError) as exc:
        raise InvalidRequestError(f"{source} cannot be read as a dummi backup: {exc}", field="from") from exc
    unknown = sorted(set(manifest["database"]["migrations"]) - {m.name for m in available_migrations()})
    if unknown:
        raise InvalidRequestError(
            f"{source} comes from a newer dummi (migrations {', '.join(unknown)} are unknown here): restore it "
            "with that version or a later one",
            field="from",
        )
    return manifest


# -- restore -----------------------------------------------------------------------------------------------------
def restore(
    db: Database,
    store: ArtifactStore,
    source: Path,
    *,
    force: bool = False,
    safety_dir: Path | None = None,
    progress: Progress | None = None,
) -> RestoreResult:
    """Bring the archive ``source`` back into ``db`` and ``store``, which must be empty; ``force``: replace what
    they hold, after writing a safety backup of it into ``safety_dir`` (None: no safety backup)."""
    progress = progress or NullProgress()
    started = time.monotonic()
    source = Path(source)
    manifest = read_archive(source, progress)
    db = _own_connection(db)
    try:
        return _restore(db, store, source, manifest, force, safety_dir, progress, started)
    finally:
        db.close()


def _restore(
    db: Database,
    store: ArtifactStore,
    source: Path,
    manifest: dict[str, Any],
    force: bool,
    safety_dir: Path | None,
    progress: Progress,
    started: float,
) -> RestoreResult:
    others = pg.other_sessions(db)
    if others:
        raise InvalidRequestError(
            f"{others} sessions of other dummi processes are connected to the database: stop the service (dummi run,"
            " the API, a training run) before restoring",
            field="database",
        )
    held, models = pg.count_rows(db), store.list(f"{MODELS}/")
    safety = None
    if held or models:
        if not force:
            found = [f"the database holds {len(held)} tables, {sum(held.values())} rows"] if held else []
            found += [f"{store.uri}/{MODELS}/ holds {len(models)} files"] if models else []
            raise InvalidRequestError(
                f"the target is not empty ({'; '.join(found)}): restore into an empty data folder or database, or"
                " pass --force to replace it (a safety backup of it is written first)",
                field="database" if held else "artifacts",
            )
        if safety_dir is not None:
            safety = Path(safety_dir) / f"dummi-before-restore-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.tar"
            backup(db, store, safety, all_versions=True, progress=progress)
        pg.drop_tables(db)
        store.delete(models)
    try:
        return _bring_back(db, store, source, manifest, progress, started, safety, held, len(models))
    except Exception as exc:
        if held or models:
            exc.add_note(f"the target had been emptied for --force; what it held is in {safety or 'no safety backup'}")
        raise


def _bring_back(
    db: Database,
    store: ArtifactStore,
    source: Path,
    manifest: dict[str, Any],
    progress: Progress,
    started: float,
    safety: Path | None,
    held: dict[str, int],
    files_held: int,
) -> RestoreResult:
    written: list[str] = []
    try:
        with tarfile.open(source, "r") as tar, tempfile.TemporaryDirectory(dir=source.parent) as tmp:
            keys = sorted(k for k in manifest["files"] if k.startswith(ARTIFACTS) and k != f"{ARTIFACTS}{POINTER}")
            keys.sort(key=lambda k: k.endswith(f"/{MANIFEST}"))  # every version's files, then its manifest
            progress.start("model files", len(keys))
            for name in keys:
                store.put(name[len(ARTIFACTS) :], tar.extractfile(name).read())
                written.append(name[len(ARTIFACTS) :])
                progress.advance()
            progress.finish(", ".join(manifest["artifacts"]["versions"]) or "no model in the archive")
            dump_file = Path(tmp) / DATABASE_DUMP
            with tar.extractfile(DATABASE_DUMP) as src, dump_file.open("wb") as dst:
                for chunk in iter(lambda: src.read(CHUNK), b""):
                    dst.write(chunk)
            progress.start("database: pg_restore in one transaction")
            pg.restore(db, dump_file)
            progress.finish()
    except BaseException:
        store.delete(written)  # nothing half-restored: the database's transaction rolled back, the files go
        raise
    rows = pg.count_rows(db)
    if rows != manifest["database"]["rows"]:
        raise pg.DumpToolError(f"the restored database's rows {rows} differ from the archive's {manifest['database']}")
    applied = migrate(db)  # an archive of an older dummi
    pg.renumber_change_xids(db)
    pointer = manifest["artifacts"]["pointer"]
    if pointer is not None:
        load_version(store, pointer["version"], pointer["manifest_sha256"])  # whole, before anyone is sent to it
        store.put(POINTER, json.dumps(pointer).encode())  # last
    return RestoreResult(
        rows=rows,
        versions=list(manifest["artifacts"]["versions"]),
        serving=pointer["version"] if pointer else None,
        migrations_applied=applied,
        seconds=time.monotonic() - started,
        safety_backup=safety,
        replaced={"rows": held, "files": files_held} if held or files_held else {},
    )
