"""Training runs as the API asks for them: start one (checked, recorded, handed to the dispatcher) and list
the latest. The routes call this; the bookkeeping itself is ``dummi.training.runs``."""

from __future__ import annotations

from dummi.db.connection import Database
from dummi.db.training_repository import TrainingRun
from dummi.errors import InvalidRequestError, UnavailableError
from dummi.services.training_dispatch import TrainingDispatcher
from dummi.training import runs as training_runs
from dummi.training.params import TrainingParams
from dummi.training.planner import spark_available

__all__ = ["TrainingRun", "latest_runs", "start_run"]


def start_run(
    db: Database,
    dispatcher: TrainingDispatcher,
    *,
    retrain_cf: bool,
    regenerate_embeddings: bool,
    force: bool,
    engine: str,
    full_choice: bool,
) -> TrainingRun:
    """Queue a run and start it through ``dispatcher``. InvalidRequestError when the Spark engine is asked for
    where there is none; TrainingAlreadyRunningError (the bookkeeping's) when a run is already queued or running;
    UnavailableError, with the run marked failed, when the dispatcher cannot start it."""
    if engine == "spark":
        available, where = spark_available()
        if not available:
            raise InvalidRequestError(f"the spark engine is not available here: {where}", field="engine")
    params = TrainingParams.configured(
        retrain_cf=retrain_cf,
        regenerate_embeddings=regenerate_embeddings,
        force=force,
        engine=engine,
        full_choice=full_choice,
    )
    run = training_runs.request_run(db, "api", params)
    try:
        dispatcher.dispatch(run.run_id)
    except Exception as exc:
        training_runs.fail_undispatched(db, run.run_id, f"could not start the run: {exc}")
        raise UnavailableError("could not start the training run; retry shortly") from exc
    return run


def latest_runs(db: Database, limit: int) -> list[TrainingRun]:
    """The latest runs, newest first."""
    return training_runs.latest_runs(db, limit)
