"""/experiments: create (admin), list, read, ramp and stop A/B experiments, and read their results."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field, StrictBool, create_model, model_validator

from dummi.api.auth import ADMIN, READ
from dummi.api.deps import DatabaseDep, ReadDatabaseDep
from dummi.api.errors import error_responses
from dummi.api.schemas import ErrorResponse
from dummi.domain.inputs import Instant, StrictFloat, StrictModel, bounded_whole, field_error
from dummi.experiments.assignment import Experiment
from dummi.experiments.overrides import ALGORITHM_NAMES, SETTING_BOUNDS, SETTING_DEFAULTS
from dummi.services import experiments_service
from dummi.services.experiments_service import Results

router = APIRouter(prefix="/experiments", tags=["experiments"], responses=error_responses(401, 403))

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=NAME_PATTERN)]
NamePath = Annotated[str, Path(min_length=1, max_length=64, pattern=NAME_PATTERN)]
Percent = Annotated[StrictFloat, Field(gt=0, le=100)]


def _setting_field(key: str) -> tuple[Any, Any]:
    low, high, whole = SETTING_BOUNDS[key]
    default = SETTING_DEFAULTS[key]
    bounds = Field(ge=low, le=high, description=f"ranking setting (the model's own is tuned; default {default})")
    # a whole number may come as 3 or 3.0 (JSON Schema's integer), never as "3" or true
    kind = bounded_whole(int(low), int(high), bounds.description) if whole else Annotated[StrictFloat, bounds]
    return kind | None, None


# The overrides a variant may set, as a schema (so that clients and the docs see them): what
# dummi.experiments.overrides.check accepts, no more.
VariantOverrides = create_model(
    "VariantOverrides",
    __base__=StrictModel,
    algorithm=(
        Literal[ALGORITHM_NAMES] | None,  # type: ignore[valid-type]
        Field(default=None, description="a CF algorithm: training publishes it beside the chosen one"),
    ),
    cf_weight=(Annotated[StrictFloat, Field(ge=0, le=1)] | None, None),
    use_cf=(StrictBool | None, None),
    use_embeddings=(StrictBool | None, None),
    max_per_category=(bounded_whole(1, 100, "at most this many items of one category") | None, None),
    explore_slots=(bounded_whole(0, 100, "slots for young items (Thompson sampling)") | None, None),
    **{key: _setting_field(key) for key in SETTING_BOUNDS},
)


class VariantIn(StrictModel):
    name: Name
    weight: Annotated[StrictFloat, Field(gt=0, le=1000)] = 1.0
    overrides: VariantOverrides = Field(  # type: ignore[valid-type]
        default_factory=VariantOverrides,
        description="what this variant changes (replacing the request's own fields); the first variant is the "
        "control, usually with none",
    )


class ExperimentCreate(StrictModel):
    name: Name
    variants: list[VariantIn] = Field(
        min_length=2, max_length=10, description="2 to 10 variants with different names (else a 422)"
    )
    traffic_percent: Percent = Field(default=100.0, description="share of users taking part (raise it to ramp up)")
    starts_at: Instant | None = Field(default=None, description="RFC 3339 with an offset; default: now")
    ends_at: Instant | None = Field(default=None, description="RFC 3339 with an offset; default: runs until stopped")

    @model_validator(mode="after")
    def _consistent(self) -> ExperimentCreate:
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise field_error("variants", "variant names must differ")
        if self.ends_at is not None and self.ends_at <= (self.starts_at or datetime.now(UTC)):
            raise field_error("ends_at", "ends_at must be after starts_at (and in the future)")
        return self


class TrafficUpdate(StrictModel):
    traffic_percent: Percent


class VariantPublic(BaseModel):
    name: str
    weight: float
    overrides: dict[str, Any]


class ExperimentPublic(BaseModel):
    name: str
    status: str = Field(description="scheduled | running | ended | stopped")
    variants: list[VariantPublic]
    traffic_percent: float
    starts_at: datetime
    ends_at: datetime | None
    stopped_at: datetime | None
    created_at: datetime | None


class Interval(BaseModel):
    low: float
    high: float


class VariantResults(BaseModel):
    name: str
    users: int = Field(description="users who got at least one answer in this variant")
    expected_share: float = Field(description="the variant's share of users by its weight")
    impressions: int = Field(description="items shown")
    clicks: int = Field(description="shown items clicked (once per answer and item)")
    ctr: float | None = Field(description="clicks / impressions")
    ctr_interval: Interval | None = Field(description="95% interval (delta method, the user as unit)")
    lift: float | None = Field(description="relative CTR lift over the control (0.1 = +10%)")
    lift_interval: Interval | None = Field(
        description="always-valid 95% interval of the lift: valid however often the results are looked at"
    )
    lift_fixed_interval: Interval | None = Field(
        description="the classical 95% interval: valid only for one look at a sample size fixed in advance"
    )
    significant: bool = Field(description="the always-valid interval excludes 0")


class SampleRatio(BaseModel):
    chi_square: float
    p_value: float
    mismatch: bool = Field(description="p < 0.001: users are not split as the weights say; do not trust the lifts")


class ExperimentResults(BaseModel):
    experiment: ExperimentPublic
    control: str
    variants: list[VariantResults]
    sample_ratio: SampleRatio
    decision: str


def _public(e: Experiment) -> ExperimentPublic:
    return ExperimentPublic(
        name=e.name,
        status=experiments_service.status(e),
        variants=[VariantPublic(name=v.name, weight=v.weight, overrides=v.overrides) for v in e.variants],
        traffic_percent=e.traffic_percent,
        starts_at=e.starts_at,
        ends_at=e.ends_at,
        stopped_at=e.stopped_at,
        created_at=e.created_at,
    )


def _interval(pair: tuple[float, float] | None) -> Interval | None:
    return Interval(low=round(pair[0], 6), high=round(pair[1], 6)) if pair else None


def _results(r: Results) -> ExperimentResults:
    total_weight = sum(v.weight for v in r.variants)
    return ExperimentResults(
        experiment=_public(r.experiment),
        control=r.experiment.control.name,
        variants=[
            VariantResults(
                name=v.name,
                users=v.users,
                expected_share=round(v.weight / total_weight, 6),
                impressions=v.impressions,
                clicks=v.clicks,
                ctr=round(v.ctr.ctr, 6) if v.ctr.ctr is not None else None,
                ctr_interval=_interval(v.ctr.interval()),
                lift=round(v.lift.relative, 6) if v.lift else None,
                lift_interval=_interval(v.lift.interval if v.lift else None),
                lift_fixed_interval=_interval(v.lift.fixed_interval if v.lift else None),
                significant=bool(v.lift and v.lift.significant),
            )
            for v in r.variants
        ],
        sample_ratio=SampleRatio(chi_square=round(r.srm_chi_square, 4), p_value=r.srm_p_value, mismatch=r.srm),
        decision=r.decision,
    )


class VariantPoint(BaseModel):
    name: str
    users: int
    impressions: int
    clicks: int
    ctr: float | None
    ctr_interval: Interval | None
    lift: float | None
    lift_interval: Interval | None = Field(description="always-valid 95% interval of the lift at that time")
    significant: bool


class TimelinePoint(BaseModel):
    at: datetime = Field(description="the results counted up to this time (a UTC day's end, or now)")
    variants: list[VariantPoint]
    sample_ratio_mismatch: bool
    decision: str


class ExperimentTimeline(BaseModel):
    experiment: ExperimentPublic
    control: str
    points: list[TimelinePoint] = Field(
        description="oldest first; at most 30, evenly spread over the experiment's days; none before it starts"
    )


@router.post("", status_code=201, dependencies=[ADMIN], responses=error_responses(400, 409, 413, 503))
def create_experiment(body: ExperimentCreate, db: DatabaseDep) -> ExperimentPublic:
    """Start an experiment (admin). Assignment is a salted hash of (experiment, user): a user keeps their
    variant across calls; 409 if the name is taken; 422 names what is wrong (an override, equal variant
    names, an end before the start)."""
    experiment = experiments_service.create(
        db,
        body.name,
        [
            {**v.model_dump(exclude={"overrides"}), "overrides": v.overrides.model_dump(exclude_none=True)}
            for v in body.variants
        ],
        body.traffic_percent,
        body.starts_at,
        body.ends_at,
    )
    return _public(experiment)


@router.get("", dependencies=[READ], responses=error_responses(503))
def list_experiments(db: ReadDatabaseDep) -> list[ExperimentPublic]:
    """Every experiment, oldest first."""
    return [_public(e) for e in experiments_service.list_all(db)]


@router.get("/{name}", dependencies=[READ], responses=error_responses(404, 503))
def get_experiment(name: NamePath, db: ReadDatabaseDep) -> ExperimentPublic:
    return _public(experiments_service.get(db, name))


@router.post("/{name}/stop", dependencies=[ADMIN], responses=error_responses(400, 404, 413, 503))
def stop_experiment(name: NamePath, db: DatabaseDep) -> ExperimentPublic:
    """Stop it (admin): from the next few seconds everyone gets the default ranking; results stay readable."""
    return _public(experiments_service.stop(db, name))


@router.post(
    "/{name}/traffic",
    dependencies=[ADMIN],
    responses=error_responses(400, 404, 413, 503)
    | {409: {"model": ErrorResponse, "description": "the experiment is stopped or ended: its traffic is kept"}},
)
def set_traffic(name: NamePath, body: TrafficUpdate, db: DatabaseDep) -> ExperimentPublic:
    """Ramp it (admin): users already in keep their variant when the traffic rises; 409 once it is stopped or
    ended (the traffic it ran with is part of its record)."""
    return _public(experiments_service.set_traffic(db, name, body.traffic_percent))


@router.get("/{name}/timeline", dependencies=[READ], responses=error_responses(404, 503))
def experiment_timeline(name: NamePath, db: ReadDatabaseDep) -> ExperimentTimeline:
    """The results as they stood at the end of each day (and now): the CTR of each variant and the lift's
    always-valid interval over time, as the console draws them."""
    experiment, points = experiments_service.timeline(db, name)
    out = []
    for at, r in points:
        whole = _results(r)
        variants = [
            VariantPoint(**v.model_dump(exclude={"expected_share", "lift_fixed_interval"})) for v in whole.variants
        ]
        out.append(TimelinePoint(at=at, variants=variants, sample_ratio_mismatch=r.srm, decision=r.decision))
    return ExperimentTimeline(experiment=_public(experiment), control=experiment.control.name, points=out)


@router.get("/{name}/results", dependencies=[READ], responses=error_responses(404, 503))
def experiment_results(name: NamePath, db: ReadDatabaseDep) -> ExperimentResults:
    """Per variant: users, impressions, clicks, CTR with a 95% interval, the lift over the control with an
    always-valid interval (look as often as you like), and a sample-ratio-mismatch check."""
    return _results(experiments_service.results(db, name))
