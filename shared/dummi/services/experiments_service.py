"""Experiments: create, stop, ramp, read results; and the serving side's view of the running ones."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from typing import Any

from dummi.errors import ConflictError, InvalidRequestError, NotFoundError
from dummi.experiments.assignment import Assignment, Experiment, Variant, assign
from dummi.experiments.overrides import Overrides, check
from dummi.experiments.statistics import (
    SRM_P_VALUE,
    Lift,
    RatioEstimate,
    UserSums,
    lift,
    ratio,
    sample_ratio_mismatch,
)
from dummi.services.event_types_service import click_types
from dummi.services.unit_of_work import Source, UnitOfWork, work_of

EXPERIMENTS_REFRESH_SECONDS = 5.0


def status(experiment: Experiment, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    if experiment.stopped_at is not None:
        return "stopped"
    if now < experiment.starts_at:
        return "scheduled"
    if experiment.ends_at is not None and now >= experiment.ends_at:
        return "ended"
    return "running"


def create(
    db: Source | UnitOfWork,
    name: str,
    variants: list[dict[str, Any]],
    traffic_percent: float,
    starts_at: datetime | None,
    ends_at: datetime | None,
) -> Experiment:
    """A new experiment; InvalidRequestError names the field at fault (e.g. ``variants[1].overrides``)."""
    checked = []
    for i, v in enumerate(variants):
        try:
            check(v.get("overrides") or {})
        except ValueError as exc:
            raise InvalidRequestError(str(exc), field=f"variants[{i}].overrides") from exc
        checked.append(Variant(v["name"], float(v.get("weight", 1.0)), dict(v.get("overrides") or {})))
    starts_at = starts_at or datetime.now(UTC)
    if ends_at is not None and ends_at <= starts_at:
        raise InvalidRequestError("ends_at must be after starts_at", field="ends_at")
    if len({v.name for v in checked}) != len(checked):
        raise InvalidRequestError("variant names must differ", field="variants")
    experiment = Experiment(name, secrets.token_hex(8), tuple(checked), traffic_percent, starts_at, ends_at)
    with work_of(db).transaction() as repos:
        return repos.experiments.create(experiment)


def get(db: Source | UnitOfWork, name: str) -> Experiment:
    found = work_of(db).read(lambda repos: repos.experiments.get(name))
    if found is None:
        raise NotFoundError("experiment", name, field="name")
    return found


def list_all(db: Source | UnitOfWork) -> list[Experiment]:
    return work_of(db).read(lambda repos: repos.experiments.all())


def stop(db: Source | UnitOfWork, name: str) -> Experiment:
    with work_of(db).transaction() as repos:
        found = repos.experiments.stop(name)
    if found is None:
        raise NotFoundError("experiment", name, field="name")
    return found


def set_traffic(db: Source | UnitOfWork, name: str, traffic_percent: float) -> Experiment:
    """Ramp an experiment: users already in keep their variant when the traffic rises. A stopped or ended one
    keeps the traffic it ran with (its results and the users' exported assignments are read from it)."""
    with work_of(db).transaction() as repos:
        found = repos.experiments.get(name, lock=True)
        if found is None:
            raise NotFoundError("experiment", name, field="name")
        state = status(found)
        if state in ("stopped", "ended"):
            raise ConflictError(
                f"experiment {name!r} is {state}: the traffic it ran with is part of its record", field="name"
            )
        return repos.experiments.set_traffic(name, traffic_percent)


@dataclass(frozen=True)
class VariantResult:
    name: str
    weight: float
    users: int
    impressions: int
    clicks: int
    ctr: RatioEstimate
    lift: Lift | None  # against the control (None for the control itself, or while too little is known)


@dataclass(frozen=True)
class Results:
    experiment: Experiment
    variants: list[VariantResult]
    srm_chi_square: float
    srm_p_value: float

    @property
    def srm(self) -> bool:
        return self.srm_p_value < SRM_P_VALUE

    @property
    def decision(self) -> str:
        if self.srm:
            return "sample ratio mismatch: users are not split as configured; do not trust the lifts"
        winners = [v.name for v in self.variants[1:] if v.lift and v.lift.significant and v.lift.relative > 0]
        losers = [v.name for v in self.variants[1:] if v.lift and v.lift.significant and v.lift.relative < 0]
        parts = []
        if winners:
            parts.append(f"{', '.join(winners)} beat{'s' if len(winners) == 1 else ''} the control")
        if losers:
            parts.append(f"{', '.join(losers)} lose{'s' if len(losers) == 1 else ''} to the control")
        return "; ".join(parts) if parts else "no difference shown yet (keep it running or stop it)"


def results(db: Source | UnitOfWork, name: str) -> Results:
    experiment = get(db, name)
    clicks = click_types(db)
    return _results(experiment, work_of(db).read(lambda repos: repos.experiments.user_sums(name, clicks)))


TIMELINE_POINTS = 30


def timeline(
    db: Source | UnitOfWork, name: str, now: datetime | None = None
) -> tuple[Experiment, list[tuple[datetime, Results]]]:
    """The results as they stood at the end of each UTC day of the experiment (and now, for the day under
    way), at most TIMELINE_POINTS of them, evenly spread: how the CTRs and the always-valid interval of the
    lift narrowed as users came in. One read of the experiment's answers for all of them."""
    experiment = get(db, name)
    now = now or datetime.now(UTC)
    end = min(t for t in (now, experiment.stopped_at, experiment.ends_at) if t is not None)
    if end <= experiment.starts_at:
        return experiment, []
    day_ends = []
    cut = datetime.combine(experiment.starts_at.astimezone(UTC).date() + timedelta(days=1), dt_time.min, UTC)
    while cut < end:
        day_ends.append(cut)
        cut += timedelta(days=1)
    day_ends.append(end)
    if len(day_ends) > TIMELINE_POINTS:
        step = (len(day_ends) - 1) / (TIMELINE_POINTS - 1)
        day_ends = [day_ends[round(k * step)] for k in range(TIMELINE_POINTS)]
    clicks = click_types(db)
    sums = work_of(db).read(lambda repos: repos.experiments.user_sums_at(name, day_ends, clicks))
    return experiment, [(at, _results(experiment, at_cut)) for at, at_cut in zip(day_ends, sums, strict=True)]


def _results(experiment: Experiment, sums: dict[str, UserSums]) -> Results:
    estimates = {v.name: ratio(sums.get(v.name, UserSums())) for v in experiment.variants}
    control = estimates[experiment.control.name]
    out = []
    for i, v in enumerate(experiment.variants):
        s = sums.get(v.name, UserSums())
        out.append(
            VariantResult(
                v.name,
                v.weight,
                s.users,
                int(s.impressions),
                int(s.clicks),
                estimates[v.name],
                lift(control, estimates[v.name]) if i > 0 else None,
            )
        )
    chi, p = sample_ratio_mismatch([r.users for r in out], [v.weight for v in experiment.variants])
    return Results(experiment, out, chi, p)


class ExperimentCache:
    """The live experiments as serving sees them: read at most every few seconds, kept across requests."""

    def __init__(self, db: Source | UnitOfWork, refresh: float = EXPERIMENTS_REFRESH_SECONDS) -> None:
        self._work = work_of(db)
        self._refresh = refresh
        self._lock = threading.Lock()
        self._experiments: list[Experiment] = []
        self._overrides: dict[tuple[str, str], Overrides] = {}
        self._checked: float | None = None

    def assignment(self, user_id: str, now: datetime | None = None) -> tuple[Assignment, Overrides] | None:
        self._maybe_refresh()
        found = assign(self._experiments, user_id, now or datetime.now(UTC))
        if found is None:
            return None
        return found, self._overrides[(found.experiment, found.variant.name)]

    def forced(self, experiment: str, variant: str) -> tuple[Assignment, Overrides] | None:
        """A live experiment's variant, whoever the user (a Personalize ARN that names it); None if the
        experiment is not live or has no such variant."""
        self._maybe_refresh()
        overrides = self._overrides.get((experiment, variant))
        if overrides is None:
            return None
        found = next(e for e in self._experiments if e.name == experiment)
        return Assignment(experiment, next(v for v in found.variants if v.name == variant)), overrides

    def experiments(self) -> list[Experiment]:
        self._maybe_refresh()
        return self._experiments

    def _maybe_refresh(self) -> None:
        now = time.monotonic()
        if self._checked is not None and now - self._checked < self._refresh:
            return
        with self._lock:
            if self._checked is not None and now - self._checked < self._refresh:
                return
            live = self._work.read(lambda repos: repos.experiments.live())
            overrides = {}
            for e in live:
                for v in e.variants:
                    overrides[(e.name, v.name)] = check(v.overrides)
            self._experiments, self._overrides, self._checked = live, overrides, now
