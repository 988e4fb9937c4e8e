"""Training runs: queue one, execute it on an engine, see how runs went.

Runs are rows in ``training_runs``. Triggering is serialized by a transaction-scoped advisory lock and at
most one run is queued or running (a partial unique index), so concurrent triggers start one run and are
told about it. Executing holds a session advisory lock, so a duplicate delivery of the same run (Lambda
retries an async invocation, a state machine retries a task) does nothing. A failed run is recorded with
its error and never moves the pointer: publishing writes ``models/latest.json`` only after every file of the
version is stored.

Which engine executes a run: the one its trigger asked for (``engine: local | spark``), or, for ``auto``, the
planner's choice (``dummi.training.planner``), recorded on the run with its reasons.
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from dummi.artifacts.publish import MANIFEST, MODELS, discard_unfinished, read_pointer
from dummi.artifacts.store import ArtifactStore
from dummi.db.connection import Database
from dummi.db.training_repository import TrainingRepository, TrainingRun
from dummi.errors import ConflictError
from dummi.progress import NullProgress, Progress
from dummi.training.params import TrainingParams
from dummi.training.planner import plan
from dummi.training.report import RunReport
from dummi.training.spark.events import STAGING  # the Spark engine's staged files: staging/<run id>/...
from dummi.training.spark.session import start_session

logger = logging.getLogger(__name__)

# A run that has not recorded progress for this long is considered dead (Lambda's limit is 15 minutes; a
# Spark stage records progress when it ends, so a longer stage must not look dead: the planner sends runs
# predicted to need more than a Lambda to Spark, whose stages stay well under this).
STALE_AFTER_SECONDS = 20 * 60


class TrainingAlreadyRunningError(ConflictError):
    code = "training_already_running"

    def __init__(self, run: TrainingRun | None) -> None:
        detail = f"training run {run.run_id} is already {run.state}" if run else "a training run is being started"
        super().__init__(detail, field=None)
        self.run = run


# -- triggering ------------------------------------------------------------------------------------------
def request_run(db: Database, trigger: str, params: TrainingParams) -> TrainingRun:
    """Queue a run, or raise TrainingAlreadyRunningError naming the run that is queued or running."""
    with db.transaction() as conn:
        runs = TrainingRepository(conn)
        if not runs.try_trigger_lock():
            raise TrainingAlreadyRunningError(None)
        runs.abandon_stale(STALE_AFTER_SECONDS)
        runs.abandon_orphaned()  # a run whose process was killed would otherwise block every trigger for 20 min
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


def plan_run(db: Database, run: TrainingRun) -> tuple[str, dict[str, Any]]:
    """(engine, plan) for a queued run: the engine its trigger pinned, or the planner's choice for auto;
    recorded on the run either way."""
    params = TrainingParams.from_dict(run.params)
    decided = plan(db, params)
    with db.transaction() as conn:
        TrainingRepository(conn).record_plan(run.run_id, decided["engine"], decided)
    return decided["engine"], decided


# -- executing -------------------------------------------------------------------------------------------
def execute_run(
    db: Database,
    store: ArtifactStore,
    run_id: str,
    *,
    progress: Progress | None = None,
    embedder_factory: Callable[[], Any] | None = None,
    engine: str | None = None,
    spark: Any = None,
) -> TrainingRun | None:
    """Run a queued run to the end on ``engine`` (default: the one the planner recorded, else the run's own
    choice, planned now). Returns the finished run, or None if this call did not run it (it was not queued
    any more, or another process is executing a run). ``spark``: a session to use on the Spark engine (one
    is started on local[N] when none is given)."""
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
        recover_from_killed_runs(db, store, run_id)
        params = TrainingParams.from_dict(run.params)
        report = RunReport(plan=run.plan)
        try:
            if engine is None:
                engine = run.engine
            if engine is None:
                engine, report.plan = plan_run(db, run)
        except Exception as exc:  # the plan could not be made: the run fails, nothing was built
            return _fail(db, run_id, report, exc)

        def checkpoint() -> None:
            with db.transaction() as conn:
                TrainingRepository(conn).record_progress(run_id, report.timings, report.counts, report.stages)

        # numpy, SciPy and FAISS (the stages): the routes that queue and list runs import this module without them
        from dummi.training.pipeline import train_and_publish

        try:
            with _session(engine, spark) as session:
                version = train_and_publish(
                    db,
                    store,
                    params,
                    run_id=run_id,
                    report=report,
                    progress=progress or NullProgress(),
                    checkpoint=checkpoint,
                    embedder_factory=embedder_factory,
                    engine=engine,
                    spark=session,
                )
        except Exception as exc:
            return _fail(db, run_id, report, exc)
        with db.transaction() as conn:
            return TrainingRepository(conn).finish(
                run_id,
                state="succeeded",
                timings=report.timings,
                counts=report.counts,
                model_version=version,
                decision=report.decision,
                stages=report.stages,
                engine=engine,
            )
    finally:
        try:
            lock_conn.close()  # ends the session: the advisory lock goes with it
        except Exception:  # noqa: BLE001
            pass


def recover_from_killed_runs(db: Database, store: ArtifactStore, run_id: str) -> None:
    """Before a run builds anything, while it holds the execute lock (no other run writes to the store): record
    the pointer's version if the run that published it was killed before recording it, and delete what killed
    runs left half-published (``dummi.artifacts.publish.discard_unfinished``) or staged for Spark. Best effort:
    a store that cannot be read now is cleaned by a later run, and this run goes on."""
    try:
        pointer = read_pointer(store)
        with db.transaction() as conn:
            runs = TrainingRepository(conn)
            recorded = runs.recorded_versions()
            if pointer and pointer["version"] not in recorded:
                version = pointer["version"]
                manifest = json.loads(store.get(f"{MODELS}/{version}/{MANIFEST}"))
                writer = manifest.get("run_id")
                writer = writer if writer and runs.get(writer) else None
                runs.record_model_version(version, writer, store.uri, manifest, manifest.get("metrics") or {})
                recorded.add(version)
                logger.warning("recorded model version %s: the run that published it stopped before it could", version)

        def failed(run_ids: list[str]) -> set[str]:
            return db.read(lambda conn: TrainingRepository(conn).failed(run_ids))

        discard_unfinished(store, keep=recorded, failed_runs=failed)
        staged = [key for key in store.list(f"{STAGING}/") if not key.startswith(f"{STAGING}/{run_id}/")]
        if staged:
            store.delete(staged)
            logger.warning("deleted %d files killed Spark runs left under %s/", len(staged), STAGING)
    except Exception:  # noqa: BLE001 - what is left stays harmless (never served) until a later run
        logger.warning("could not clean up after killed runs; a later run will", exc_info=True)


def _fail(db: Database, run_id: str, report: RunReport, exc: Exception) -> TrainingRun:
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
            stages=report.stages,
            engine=report.engine,
        )


@contextmanager
def _session(engine: str, given: Any) -> Iterator[Any]:
    """The Spark session a Spark run uses: the one handed in, or one started here and stopped after."""
    if engine != "spark" or given is not None:
        yield given
        return

    started = start_session()
    try:
        yield started
    finally:
        started.stop()


def run_now(
    db: Database,
    store: ArtifactStore,
    trigger: str,
    params: TrainingParams,
    *,
    progress: Progress | None = None,
    spark: Any = None,
) -> TrainingRun | None:
    """Trigger and execute in this process (the CLI and the scheduled event)."""
    run = request_run(db, trigger, params)
    return execute_run(db, store, run.run_id, progress=progress, spark=spark)
