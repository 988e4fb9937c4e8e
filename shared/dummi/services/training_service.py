"""Training: turn what is in Postgres into a published model version that serving can load.

    embed (only changed text) -> FAISS index -> CF factors -> popularity -> publish (pointer last) -> record

Runs are rows in ``training_runs``. Triggering is serialized by a transaction-scoped advisory lock and at
most one run is queued or running (a partial unique index), so concurrent triggers start one run and are
told about it. Executing holds a session advisory lock, so a duplicate delivery of the same run (Lambda
retries an async invocation) does nothing. A failed run is recorded with its error and never moves the
pointer: publishing writes ``models/latest.json`` only after every file of the version is stored.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from dummi.artifacts.publish import new_version, publish
from dummi.artifacts.store import ArtifactStore
from dummi.db.connection import Database
from dummi.db.content_repository import ContentRepository
from dummi.db.interactions_repository import InteractionsRepository
from dummi.db.training_repository import TrainingRepository, TrainingRun
from dummi.errors import ConflictError
from dummi.progress import NullProgress, Progress

logger = logging.getLogger(__name__)

# A run that has not recorded progress for this long is considered dead (Lambda's limit is 15 minutes).
STALE_AFTER_SECONDS = 20 * 60


class TrainingAlreadyRunningError(ConflictError):
    code = "training_already_running"

    def __init__(self, run: TrainingRun | None) -> None:
        detail = f"training run {run.run_id} is already {run.state}" if run else "a training run is being started"
        super().__init__(detail, field=None)
        self.run = run


@dataclass(frozen=True)
class TrainingParams:
    retrain_cf: bool = True
    regenerate_embeddings: bool = False  # True: hash-check every row, not only rows a write marked
    cf_algorithm: str = "nmf"
    cf_factors: int = 50

    def as_dict(self) -> dict[str, Any]:
        return {
            "retrain_cf": self.retrain_cf,
            "regenerate_embeddings": self.regenerate_embeddings,
            "cf_algorithm": self.cf_algorithm,
            "cf_factors": self.cf_factors,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingParams:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


@dataclass
class RunReport:
    timings: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)


# -- triggering ------------------------------------------------------------------------------------------
def request_run(db: Database, trigger: str, params: TrainingParams) -> TrainingRun:
    """Queue a run, or raise TrainingAlreadyRunningError naming the run that is queued or running."""
    with db.transaction() as conn:
        runs = TrainingRepository(conn)
        if not runs.try_trigger_lock():
            raise TrainingAlreadyRunningError(None)
        runs.abandon_stale(STALE_AFTER_SECONDS)
        created = runs.create_queued(trigger, params.as_dict())
        if created is None:
            raise TrainingAlreadyRunningError(runs.active())
        return created


def fail_undispatched(db: Database, run_id: str, error: str) -> None:
    """A queued run that could not be handed to an executor: fail it, so it does not block the next."""
    with db.transaction() as conn:
        TrainingRepository(conn).finish(run_id, state="failed", timings={}, counts={}, error=error)


def latest_runs(db: Database, limit: int = 10) -> list[TrainingRun]:
    return db.read(lambda conn: TrainingRepository(conn).latest(limit))


def get_run(db: Database, run_id: str) -> TrainingRun | None:
    return db.read(lambda conn: TrainingRepository(conn).get(run_id))


# -- executing -------------------------------------------------------------------------------------------
def execute_run(
    db: Database,
    store: ArtifactStore,
    run_id: str,
    *,
    progress: Progress | None = None,
    embedder_factory: Callable[[], Any] | None = None,
) -> TrainingRun | None:
    """Run a queued run to the end. Returns the finished run, or None if this call did not run it (it was
    not queued any more, or another process is executing a run)."""
    lock_conn = db.connect()  # a dedicated session for the advisory lock, held for the whole run
    try:
        lock = TrainingRepository(lock_conn)
        if not lock.try_execute_lock():
            logger.info("run %s: another run is executing; leaving it", run_id)
            return None
        with db.transaction() as conn:
            run = TrainingRepository(conn).mark_running(run_id)
        if run is None:
            logger.info("run %s is not queued any more; nothing to do", run_id)
            return None
        params = TrainingParams.from_dict(run.params)
        report = RunReport()

        def checkpoint() -> None:
            with db.transaction() as conn:
                TrainingRepository(conn).record_progress(run_id, report.timings, report.counts)

        try:
            version = train_and_publish(
                db,
                store,
                params,
                run_id=run_id,
                report=report,
                progress=progress or NullProgress(),
                checkpoint=checkpoint,
                embedder_factory=embedder_factory,
            )
        except Exception as exc:
            logger.exception("training run %s failed", run_id)
            message = f"{type(exc).__name__}: {exc}"
            if len(message) > 2000:
                message = message[:2000] + "..."
            with db.transaction() as conn:
                return TrainingRepository(conn).finish(
                    run_id,
                    state="failed",
                    timings=report.timings,
                    counts=report.counts,
                    error=message + "\n" + traceback.format_exc(limit=3)[-1500:],
                )
        with db.transaction() as conn:
            return TrainingRepository(conn).finish(
                run_id, state="succeeded", timings=report.timings, counts=report.counts, model_version=version
            )
    finally:
        try:
            lock_conn.close()  # ends the session: the advisory lock goes with it
        except Exception:  # noqa: BLE001
            pass


def run_now(
    db: Database,
    store: ArtifactStore,
    trigger: str,
    params: TrainingParams,
    *,
    progress: Progress | None = None,
) -> TrainingRun | None:
    """Trigger and execute in this process (the CLI and the scheduled event)."""
    run = request_run(db, trigger, params)
    return execute_run(db, store, run.run_id, progress=progress)


# -- the pipeline ----------------------------------------------------------------------------------------
class _Timer:
    def __init__(self, report: RunReport, name: str) -> None:
        self.report, self.name = report, name

    def __enter__(self) -> _Timer:
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.report.timings[self.name] = round(time.perf_counter() - self.started, 3)


def train_and_publish(
    db: Database,
    store: ArtifactStore,
    params: TrainingParams,
    *,
    run_id: str | None,
    report: RunReport,
    progress: Progress,
    checkpoint: Callable[[], None] = lambda: None,
    embedder_factory: Callable[[], Any] | None = None,
    retention: int | None = None,
) -> str:
    """Build every artifact from Postgres and publish them as a new version; returns the version."""
    from dummi.config import get_settings
    from dummi.ml.collaborative import make_algorithm
    from dummi.ml.embeddings import from_bytes, get_embedder
    from dummi.ml.interactions import build_matrix, popularity
    from dummi.ml.model_bundle import ModelBundle, bundle_files
    from dummi.ml.vector_index import build_index
    from dummi.services.embedding_service import embed_content, embed_user_interests

    settings = get_settings()
    started = time.perf_counter()
    embedder = (embedder_factory or get_embedder)()

    with _Timer(report, "embed"):
        result = embed_content(
            db,
            embedder,
            pending_only=not params.regenerate_embeddings,
            progress=progress.advance,
            on_plan=lambda n: progress.start("embedding content", n),
        )
        progress.finish(f"{result.embedded} of {result.examined} items had new text")
        users = embed_user_interests(db, embedder, pending_only=not params.regenerate_embeddings)
        report.counts.update(
            content_examined=result.examined,
            content_embedded=result.stored,
            users_embedded=users.stored,
        )
    checkpoint()

    with _Timer(report, "index"):
        progress.start("building index")
        items = db.read(lambda conn: ContentRepository(conn).embedded_items())
        ids = [i[0] for i in items]
        vectors = np.vstack([from_bytes(i[3]) for i in items]) if items else np.empty((0, 384), np.float32)
        index = build_index(ids, vectors)
        progress.finish(f"{index.size} items, {index.kind}")
        report.counts["items"] = index.size

    with _Timer(report, "load_interactions"):
        events = db.read(lambda conn: InteractionsRepository(conn).all_events())
        report.counts["interactions"] = len(events)
    checkpoint()

    cf = None
    with _Timer(report, "cf"):
        matrix = build_matrix(events, ids)
        report.counts.update(cf_users=matrix.shape[0], cf_nonzeros=int(matrix.matrix.nnz))
        if params.retrain_cf and matrix.matrix.nnz > 0:
            progress.start(f"fitting {params.cf_algorithm}")
            algorithm = make_algorithm(params.cf_algorithm, n_components=params.cf_factors)
            cf = algorithm.fit(matrix.matrix)
            progress.finish(f"{matrix.shape[0]} users x {matrix.shape[1]} items, {matrix.matrix.nnz} values")
        elif not params.retrain_cf:
            cf = _previous_cf(store, ids)

    with _Timer(report, "popularity"):
        pop = popularity(events, ids)

    bundle = ModelBundle(
        item_ids=np.array(ids, dtype=object),
        titles=[i[1] for i in items],
        categories=[i[2] for i in items],
        index=index,
        popularity=pop,
        cf=cf,
    )
    with _Timer(report, "publish"):
        progress.start("publishing")
        files, facts = bundle_files(bundle)
        version = new_version()
        report.timings["total"] = round(time.perf_counter() - started, 3)
        manifest = publish(
            store,
            version,
            files,
            {
                "created_at": datetime.now(UTC).isoformat(),
                "run_id": run_id,
                "params": params.as_dict(),
                "model": facts,
                "counts": dict(report.counts),
                "timings": dict(report.timings),
                "metrics": {},
            },
            retention=retention or settings.dummi_model_retention,
        )
        with db.transaction() as conn:
            TrainingRepository(conn).record_model_version(version, run_id, store.uri, manifest, manifest["metrics"])
        progress.finish(version)
    report.timings["total"] = round(time.perf_counter() - started, 3)
    return version


def _previous_cf(store: ArtifactStore, ids: list[str]):
    """retrain_cf=false: keep the published CF model, re-aligned to today's items (new items get zeros)."""
    from dummi.artifacts.loader import load_version
    from dummi.artifacts.publish import read_pointer
    from dummi.ml.collaborative import CFModel
    from dummi.ml.model_bundle import parse_bundle

    pointer = read_pointer(store)
    if pointer is None:
        return None
    manifest, files = load_version(store, pointer["version"], pointer.get("manifest_sha256"))
    previous = parse_bundle(manifest, files)
    if previous.cf is None:
        return None
    k = previous.cf.item_factors.shape[1]
    factors = np.zeros((len(ids), k), np.float32)
    projection = np.zeros((len(ids), k), np.float32)
    for j, cid in enumerate(ids):
        old = previous.position.get(cid)
        if old is not None:
            factors[j] = previous.cf.item_factors[old]
            projection[j] = previous.cf.projection[old]
    return CFModel(
        previous.cf.algorithm, factors, projection, {**previous.cf.params, "reused_from": pointer["version"]}
    )
