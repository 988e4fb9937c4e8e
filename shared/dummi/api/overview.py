"""GET /overview: the figures an operator looks at first (the console's overview), aggregated server-side."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from dummi.api.auth import READ
from dummi.api.deps import ReadDatabaseDep
from dummi.api.errors import error_responses
from dummi.api.training import TrainingRunPublic, public_run
from dummi.services import overview_service

router = APIRouter(tags=["overview"], dependencies=[READ], responses=error_responses(401, 403))


class Totals(BaseModel):
    users: int
    items: int = Field(description="every stored item, taken-down ones included")
    recommendable_items: int = Field(description="items neither hidden nor outside their availability window")
    events: int = Field(description="interactions and feedback events stored")
    approximate: bool = Field(
        description="true when a table holds 1M rows or more: its total is then Postgres' estimate (a count "
        "would scan it)"
    )


class DayActivity(BaseModel):
    day: str = Field(description="UTC day, YYYY-MM-DD")
    events: int = Field(description="interactions and feedback events created that day")
    users: int = Field(description="distinct users with an event that day")


class ServingModel(BaseModel):
    version: str
    published_at: datetime
    age_seconds: float = Field(description="seconds since it was published")


class PromotionCtr(BaseModel):
    name: str
    impressions: int = Field(description="promoted items shown (one per promoted slot of a logged answer)")
    clicks: int = Field(description="promoted items clicked (attributed, once per answer and item)")
    ctr: float | None = Field(description="clicks / impressions; null without impressions")


class OverviewResponse(BaseModel):
    generated_at: datetime
    totals: Totals
    days: list[DayActivity] = Field(description=f"the last {overview_service.DAYS} UTC days, oldest first")
    events_today: int
    model: ServingModel | None = Field(description="the model published last (it serves); null before training")
    last_run: TrainingRunPublic | None = Field(description="the newest training run that ended")
    active_run: TrainingRunPublic | None = Field(description="a queued or running training run")
    experiments_running: int
    ctr_vs_baseline: float | None = Field(
        description="yesterday's CTR / the CTR of the 7 days before it (what the CtrVsBaseline alarm watches; "
        "below 0.8 it fires); null without impressions in either"
    )
    promotions: list[PromotionCtr] = Field(
        default=[],
        description=f"each promotion's figures over the last {overview_service.DAYS} UTC days as the metrics job "
        "last computed them, most shown first",
    )


@router.get("/overview", responses=error_responses(503))
def overview(db: ReadDatabaseDep) -> OverviewResponse:
    """Totals, events per day over the last two weeks, the serving model and its age, the last training run,
    the running experiments and CTR against its baseline. Bounded reads whatever the data's size: totals of
    tables past 1M rows are Postgres' estimates (flagged), days go through an index; only the count of
    taken-down items scans the content table."""
    found = overview_service.overview(db)
    model = None
    if found.model_version is not None and found.model_published_at is not None:
        model = ServingModel(
            version=found.model_version,
            published_at=found.model_published_at,
            age_seconds=round((found.generated_at - found.model_published_at).total_seconds(), 1),
        )
    return OverviewResponse(
        generated_at=found.generated_at,
        totals=Totals(**found.totals, approximate=found.approximate),
        days=[DayActivity(day=d.day.isoformat(), events=d.events, users=d.users) for d in found.days],
        events_today=found.days[-1].events,
        model=model,
        last_run=public_run(found.last_run) if found.last_run else None,
        active_run=public_run(found.active_run) if found.active_run else None,
        experiments_running=found.experiments_running,
        ctr_vs_baseline=round(found.ctr_vs_baseline, 6) if found.ctr_vs_baseline is not None else None,
        promotions=[
            PromotionCtr(
                name=p.name,
                impressions=p.impressions,
                clicks=p.clicks,
                ctr=round(p.ctr, 6) if p.ctr is not None else None,
            )
            for p in found.promotions
        ],
    )
