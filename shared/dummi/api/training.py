"""/training routes: start a run (202, admin) and see how runs went (read)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field, StrictBool

from dummi.api.auth import ADMIN, READ
from dummi.api.deps import DatabaseDep
from dummi.api.errors import error_responses
from dummi.domain.inputs import StrictModel
from dummi.services import training_service
from dummi.services.training_dispatch import TrainingDispatcher, get_training_dispatcher
from dummi.services.training_service import TrainingRun

router = APIRouter(prefix="/training", tags=["training"], responses=error_responses(401, 403))


async def _dispatcher() -> TrainingDispatcher:
    return get_training_dispatcher()


DispatcherDep = Annotated[TrainingDispatcher, Depends(_dispatcher)]


class TrainRequest(StrictModel):
    retrain_cf: StrictBool = Field(default=True, description="fit collaborative filtering again (else keep the last)")
    regenerate_embeddings: StrictBool = Field(
        default=False, description="check every item's text hash, not only items written since the last run"
    )
    force: StrictBool = Field(
        default=False, description="publish the new model even if it scores worse on the holdout than the serving one"
    )
    engine: Literal["auto", "local", "spark"] = Field(
        default="auto",
        description="where the stages run: auto (the planner chooses from the data's size), local (one process: "
        "the training function in AWS), spark (EMR Serverless in AWS, local[N] on a laptop)",
    )
    full_choice: StrictBool = Field(
        default=False, description="choose on the holdout even where the serving model's choice could be reused"
    )


class TrainingRunPublic(BaseModel):
    run_id: str
    state: str = Field(description="queued | running | succeeded | failed")
    trigger: str
    params: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    timings: dict[str, float] = Field(description="seconds per step")
    counts: dict[str, int]
    model_version: str | None = Field(description="the model serving after the run (the kept one when not published)")
    error: str | None
    decision: dict[str, Any] | None = Field(
        description="published | kept, why, and the holdout NDCG@10 of the new and the serving model"
    )
    engine: str | None = Field(description="where the run ran: local | spark (null until an executor takes it)")
    plan: dict[str, Any] | None = Field(
        description="the planner's choice of engine: engine, reason, the predicted time and memory of the "
        "in-process path, the counts it was predicted from and the limits it was held against"
    )
    stages: list[dict[str, Any]] = Field(
        description="the stages in the order they ran: [{name, seconds, engine}] (engine: local, spark or driver)"
    )


class TrainingStatus(BaseModel):
    active: TrainingRunPublic | None = Field(description="the queued or running run, if any")
    runs: list[TrainingRunPublic] = Field(description="latest runs, newest first")


def public_run(run: TrainingRun) -> TrainingRunPublic:
    return TrainingRunPublic(
        run_id=run.run_id,
        state=run.state,
        trigger=run.trigger,
        params=run.params,
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        timings=run.timings,
        counts=run.counts,
        model_version=run.model_version,
        error=run.error,
        decision=run.decision,
        engine=run.engine,
        plan=run.plan,
        stages=run.stages,
    )


@router.post("/train", status_code=202, dependencies=[ADMIN], responses=error_responses(400, 409, 413, 503))
def train(db: DatabaseDep, dispatcher: DispatcherDep, body: TrainRequest | None = None) -> TrainingRunPublic:
    """Queue a training run and start it in the background; 409 if a run is already queued or running."""
    body = body or TrainRequest()
    run = training_service.start_run(
        db,
        dispatcher,
        retrain_cf=body.retrain_cf,
        regenerate_embeddings=body.regenerate_embeddings,
        force=body.force,
        engine=body.engine,
        full_choice=body.full_choice,
    )
    return public_run(run)


@router.get("/status", dependencies=[READ], responses=error_responses(503))
def status(db: DatabaseDep, limit: Annotated[int, Query(ge=1, le=100)] = 10) -> TrainingStatus:
    """The latest runs: state, start and finish times, per-step timings, counts, version, error (any key
    that may read: watching training is not running it)."""
    runs = training_service.latest_runs(db, limit)
    active = next((r for r in runs if r.state in ("queued", "running")), None)
    return TrainingStatus(active=public_run(active) if active else None, runs=[public_run(r) for r in runs])
