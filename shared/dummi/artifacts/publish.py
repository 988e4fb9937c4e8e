"""Publishing a model version: every file under ``models/<version>/``, then its manifest (sha256 and size of
every file), then the pointer ``models/latest.json`` last. A run that fails before the pointer is written
leaves the published model as it was. Old versions beyond the retention count are deleted afterwards."""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from dummi.artifacts.store import ArtifactNotFoundError, ArtifactStore

logger = logging.getLogger(__name__)

MODELS = "models"
POINTER = f"{MODELS}/latest.json"
MANIFEST = "manifest.json"
DEFAULT_RETENTION = 5


def new_version(now: datetime | None = None) -> str:
    """Sortable and unique: 20261126T141500Z-3fa2c1."""
    now = now or datetime.now(UTC)
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_pointer(store: ArtifactStore) -> dict[str, Any] | None:
    try:
        return json.loads(store.get(POINTER))
    except ArtifactNotFoundError:
        return None


def publish(
    store: ArtifactStore,
    version: str,
    files: dict[str, bytes],
    manifest: dict[str, Any],
    *,
    retention: int = DEFAULT_RETENTION,
) -> dict[str, Any]:
    """Write a version and move the pointer to it. Returns the manifest as written."""
    if MANIFEST in files:
        raise ValueError(f"{MANIFEST} is written by publish itself")
    for name, data in files.items():
        store.put(f"{MODELS}/{version}/{name}", data)
    manifest = {
        **manifest,
        "version": version,
        "files": {name: {"sha256": sha256(data), "bytes": len(data)} for name, data in sorted(files.items())},
    }
    manifest_bytes = json.dumps(manifest, indent=2, sort_keys=True).encode()
    store.put(f"{MODELS}/{version}/{MANIFEST}", manifest_bytes)
    pointer = {
        "version": version,
        "manifest_sha256": sha256(manifest_bytes),
        "published_at": datetime.now(UTC).isoformat(),
    }
    store.put(POINTER, json.dumps(pointer).encode())  # last: the version is complete before anyone sees it
    try:
        collect_garbage(store, retention=retention, keep={version})
    except Exception:  # an old version left behind is harmless; the publish succeeded
        logger.exception("could not delete old model versions")
    return manifest


def published_versions(store: ArtifactStore) -> list[str]:
    versions = set()
    for key in store.list(f"{MODELS}/"):
        parts = key.split("/")
        if len(parts) >= 3 and parts[0] == MODELS:
            versions.add(parts[1])
    return sorted(versions)


def collect_garbage(store: ArtifactStore, *, retention: int, keep: set[str] = frozenset()) -> list[str]:
    """Delete all but the newest ``retention`` versions (never one in ``keep`` or the pointer's)."""
    pointer = read_pointer(store)
    protected = set(keep) | ({pointer["version"]} if pointer else set())
    versions = published_versions(store)
    doomed = [v for v in versions[: max(0, len(versions) - retention)] if v not in protected]
    for version in doomed:
        store.delete(store.list(f"{MODELS}/{version}/"))
    return doomed


def discard_unfinished(
    store: ArtifactStore, *, keep: set[str], failed_runs: Callable[[list[str]], set[str]]
) -> list[str]:
    """Delete what runs killed while publishing left: a version without its manifest (killed while its files
    were written), a version whose manifest names a run that failed (killed after the manifest, before the
    pointer), and files half-written by a killed put. Never the pointer's version or one in ``keep``. Only
    while no run publishes (the caller holds training's execute lock). ``failed_runs(run_ids)``: those that
    failed. Returns the versions deleted."""
    removed = store.remove_partial_writes(f"{MODELS}/")
    if removed:
        logger.warning("removed %d half-written files of a killed publish: %s", len(removed), removed[:5])
    pointer = read_pointer(store)
    protected = set(keep) | ({pointer["version"]} if pointer else set())
    written_by: dict[str, str | None] = {}
    for version in published_versions(store):
        if version in protected:
            continue
        try:
            written_by[version] = json.loads(store.get(f"{MODELS}/{version}/{MANIFEST}")).get("run_id") or ""
        except ArtifactNotFoundError:
            written_by[version] = None  # no manifest: never complete
    failed = failed_runs(sorted({run for run in written_by.values() if run})) if written_by else set()
    doomed = [version for version, run in sorted(written_by.items()) if run is None or (run and run in failed)]
    for version in doomed:
        store.delete(store.list(f"{MODELS}/{version}/"))
    if doomed:
        logger.warning("deleted model versions a killed run left unpublished: %s", doomed)
    return doomed


def prune_trained_before(store: ArtifactStore, cutoff: datetime, *, keep: set[str]) -> list[str]:
    """Delete every version whose training read its events before ``cutoff`` (or says nothing of when),
    except those in ``keep``: after a user's deletion, no kept version holds anything learnt from the user,
    also not as an earlier version a versioned bucket keeps (``purge``)."""
    doomed = []
    for version in published_versions(store):
        if version in keep:
            continue
        try:
            manifest = json.loads(store.get(f"{MODELS}/{version}/{MANIFEST}"))
            as_of = manifest.get("events_as_of")
            old = as_of is None or datetime.fromisoformat(as_of) < cutoff
        except ArtifactNotFoundError:  # a version half-deleted or half-written: nothing to keep
            old = True
        if old:
            store.purge(f"{MODELS}/{version}/")
            doomed.append(version)
    return doomed
