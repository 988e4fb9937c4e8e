"""The overview an operator opens first (GET /overview, the console's first view): how much there is, what
happened on the last days, which model serves and how old it is, the last training run, the running
experiments, yesterday's CTR against its baseline (what the CtrVsBaseline alarm watches) and each
promotion's CTR."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from dummi.db.connection import Database
from dummi.db.overview_repository import OverviewRepository
from dummi.db.training_repository import TrainingRun
from dummi.services import experiments_service, promotions_service
from dummi.services.online_metrics_service import ctr_against_baseline
from dummi.training import runs as training_runs

DAYS = 14


@dataclass(frozen=True)
class DayCount:
    day: date
    events: int
    users: int


@dataclass(frozen=True)
class Overview:
    generated_at: datetime
    totals: dict[str, int]
    approximate: bool
    days: list[DayCount]  # the last DAYS days, oldest first, today last
    model_version: str | None
    model_published_at: datetime | None
    last_run: TrainingRun | None  # the newest run that ended
    active_run: TrainingRun | None  # queued or running
    experiments_running: int
    ctr_vs_baseline: float | None
    promotions: list[promotions_service.PromotionFigures] = field(default_factory=list)  # the last DAYS days


def overview(db: Database, now: datetime | None = None) -> Overview:
    now = now or datetime.now(UTC)
    today = now.date()
    first = today - timedelta(days=DAYS - 1)

    def read(conn):
        repo = OverviewRepository(conn)
        return repo.totals(), repo.events_by_day(datetime.combine(first, time.min, UTC)), repo.latest_model()

    (totals, approximate), by_day, model = db.read(read)
    days = [DayCount(d, *by_day.get(d, (0, 0))) for d in (first + timedelta(days=k) for k in range(DAYS))]
    runs = training_runs.latest_runs(db, 5)
    experiments = experiments_service.list_all(db)
    return Overview(
        generated_at=now,
        totals=totals,
        approximate=approximate,
        days=days,
        model_version=model[0] if model else None,
        model_published_at=model[1] if model else None,
        last_run=next((r for r in runs if r.state in ("succeeded", "failed")), None),
        active_run=next((r for r in runs if r.state in ("queued", "running")), None),
        experiments_running=sum(experiments_service.status(e, now) == "running" for e in experiments),
        ctr_vs_baseline=ctr_against_baseline(db, today),
        promotions=promotions_service.by_name(db, today, DAYS),
    )
