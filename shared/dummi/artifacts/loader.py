"""The serving side: load the published model once, keep it, and switch to a newer one safely.

* First use loads the version the pointer names; later calls re-check the pointer at most every
  ``check_interval`` seconds, with a conditional GET (S3 ETag / file stat), so an unchanged pointer costs
  one small request and no download.
* Every file's sha256 is checked against the manifest, and the manifest's against the pointer.
* The new model is built completely before it replaces the old one (one reference assignment); on any
  error the last good model stays in service and the error is kept for diagnostics.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from dummi.artifacts.publish import MANIFEST, MODELS, POINTER, sha256
from dummi.artifacts.store import ArtifactNotFoundError, ArtifactStore

logger = logging.getLogger(__name__)

T = TypeVar("T")

NO_MODEL_RECHECK_SECONDS = 5.0
FETCH_THREADS = 8


class ArtifactIntegrityError(Exception):
    pass


@dataclass(frozen=True)
class Loaded(Generic[T]):
    version: str
    manifest: dict[str, Any]
    model: T
    loaded_at: float


def load_version(store: ArtifactStore, version: str, manifest_sha256: str | None = None) -> tuple[dict, dict]:
    """(manifest, files) of one version, verified."""
    manifest_bytes = store.get(f"{MODELS}/{version}/{MANIFEST}")
    if manifest_sha256 is not None and sha256(manifest_bytes) != manifest_sha256:
        raise ArtifactIntegrityError(f"manifest of {version} does not match the pointer's checksum")
    manifest = json.loads(manifest_bytes)

    def fetch(item: tuple[str, dict]) -> tuple[str, bytes]:
        name, meta = item
        data = store.get(f"{MODELS}/{version}/{name}")
        if len(data) != meta["bytes"] or sha256(data) != meta["sha256"]:
            raise ArtifactIntegrityError(f"{version}/{name} is corrupted (checksum mismatch)")
        return name, data

    # Downloads and checksums release the GIL: the files come in at once (S3 GETs in parallel; locally the
    # reads and hashes of the big files overlap), which is most of a cold start's loading.
    with ThreadPoolExecutor(max_workers=FETCH_THREADS) as pool:
        files = dict(pool.map(fetch, manifest["files"].items()))
    return manifest, files


class ModelCache(Generic[T]):
    def __init__(
        self,
        store: ArtifactStore | Callable[[], ArtifactStore],
        parse: Callable[[dict[str, Any], dict[str, bytes]], T],
        *,
        check_interval: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._parse = parse
        self._interval = check_interval
        self._clock = clock
        self._current: Loaded[T] | None = None
        self._pointer_etag: str | None = None
        self._checked_at: float | None = None
        self._lock = threading.Lock()
        self.last_error: str | None = None

    @property
    def store(self) -> ArtifactStore:
        if callable(self._store):
            self._store = self._store()
        return self._store

    def current(self) -> Loaded[T] | None:
        """The model in service, without checking for a newer one."""
        return self._current

    def get(self) -> Loaded[T] | None:
        """The model in service, after re-checking the pointer if ``check_interval`` has passed."""
        now = self._clock()
        if self._checked_at is not None and now - self._checked_at < self._wait():
            return self._current
        if not self._lock.acquire(blocking=self._current is None):
            return self._current  # another thread is checking; serve what we have
        try:
            if self._checked_at is not None and self._clock() - self._checked_at < self._wait():
                return self._current
            self._refresh()
            self._checked_at = self._clock()
        finally:
            self._lock.release()
        return self._current

    def _wait(self) -> float:
        """Seconds between pointer checks; while nothing is loaded yet, look again soon."""
        return self._interval if self._current is not None else min(self._interval, NO_MODEL_RECHECK_SECONDS)

    def _refresh(self) -> None:
        try:
            found = self.store.get_if_changed(POINTER, self._pointer_etag)
            if found is None:
                return
            pointer_bytes, etag = found
            pointer = json.loads(pointer_bytes)
            version = pointer["version"]
            if self._current is None or self._current.version != version:
                manifest, files = load_version(self.store, version, pointer.get("manifest_sha256"))
                model = self._parse(manifest, files)
                self._current = Loaded(version, manifest, model, time.time())
                logger.info("model %s loaded", version)
            self._pointer_etag = etag
            self.last_error = None
        except ArtifactNotFoundError as exc:
            self.last_error = f"not found: {exc}"
            if self._current is not None:
                logger.warning("model pointer or file missing (%s); keeping %s", exc, self._current.version)
        except Exception as exc:  # anything at all: keep serving the last good model
            self.last_error = f"{type(exc).__name__}: {exc}"
            logger.warning(
                "could not load the published model (%s); keeping %s",
                self.last_error,
                self._current.version if self._current else "no model",
            )
