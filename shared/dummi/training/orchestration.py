"""The steps of the training state machine in AWS (``TrainingStateMachine`` in template.yaml), run by the
PlannerFunction:

    plan    -> queue a run (the schedule) or take the one POST /training/train queued, choose its engine
               (``dummi.training.planner``) and record the plan: {run_id, engine, skip}
    [the training function executes it in process, or an EMR Serverless job run on Spark (.sync)]
    verify  -> the run's row must say succeeded (a job can end "successfully" without having run it)
    fail    -> a task failed before the run could record it (the Lambda timed out, the job was cancelled
               or never started): the run is failed with the task's error, so the next run is not blocked

Locally none of this runs: ``dummi train`` and the local server execute runs in process (the Spark engine on
local[N]); the same planner decides.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from dummi.db.connection import Database, get_database
from dummi.db.training_repository import TrainingRepository
from dummi.training.params import TrainingParams
from dummi.training.runs import TrainingAlreadyRunningError, get_run, plan_run, request_run

logger = logging.getLogger(__name__)


class RunNotSucceededError(Exception):
    """Raised by verify so that the state machine's execution fails visibly."""


def plan_step(db: Database, event: dict[str, Any]) -> dict[str, Any]:
    """``event``: the execution's input: {"run_id"} (queued by POST /training/train) or the schedule's
    {"retrain_cf", "regenerate_embeddings", "engine"}."""
    run_id = event.get("run_id")
    if run_id:
        run = db.read(lambda conn: TrainingRepository(conn).get(str(run_id)))
        if run is None or run.state != "queued":
            return {"run_id": run_id, "engine": None, "skip": True, "reason": "the run is not queued"}
    else:
        params = TrainingParams.configured(
            retrain_cf=bool(event.get("retrain_cf", True)),
            regenerate_embeddings=bool(event.get("regenerate_embeddings", False)),
            engine=str(event.get("engine", "auto")),
        )
        try:
            run = request_run(db, "schedule", params)
        except TrainingAlreadyRunningError as exc:
            logger.info("scheduled training skipped: %s", exc.message)
            return {"run_id": None, "engine": None, "skip": True, "reason": exc.message}
    engine, plan = plan_run(db, run)
    return {"run_id": run.run_id, "engine": engine, "skip": False, "reason": plan["reason"]}


def verify_step(db: Database, event: dict[str, Any]) -> dict[str, Any]:
    run = get_run(db, str(event["run_id"]))
    if run is None or run.state != "succeeded":
        state = run.state if run else "missing"
        raise RunNotSucceededError(f"run {event['run_id']} is {state}: {(run.error or '')[:500] if run else ''}")
    return {"run_id": run.run_id, "state": run.state, "model_version": run.model_version, "engine": run.engine}


def fail_step(db: Database, event: dict[str, Any]) -> dict[str, Any]:
    """Fail a run whose executor stopped before recording an outcome; a finished run is left as it is."""
    run_id, error = str(event["run_id"]), event.get("error")
    detail = error if isinstance(error, str) else json.dumps(error)[:2000]
    with db.transaction() as conn:
        runs = TrainingRepository(conn)
        run = runs.get(run_id)
        if run is None or run.state not in ("queued", "running"):
            return {"run_id": run_id, "state": run.state if run else "missing"}
        failed = runs.finish(
            run_id, state="failed", timings=run.timings, counts=run.counts, error=f"the executor failed: {detail}"
        )
    return {"run_id": run_id, "state": failed.state}


STEPS = {"plan": plan_step, "verify": verify_step, "fail": fail_step}


def handle_step(event: dict[str, Any]) -> dict[str, Any]:
    action = event.get("action")
    if action not in STEPS:
        raise ValueError(f"unknown step {action!r}: one of {', '.join(STEPS)}")
    return STEPS[action](get_database(), event.get("input") or event)
