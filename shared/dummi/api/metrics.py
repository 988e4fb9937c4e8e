"""GET /metrics/online: the online figures the hourly job stored, grouped as asked; GET /metrics/items/{id}:
one item's impressions and clicks per day."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, BeforeValidator, Field, WithJsonSchema

from dummi.api.auth import READ
from dummi.api.deps import ReadDatabaseDep
from dummi.api.errors import error_responses
from dummi.domain.inputs import MAX_ID_LENGTH
from dummi.services import online_metrics_service
from dummi.services.online_metrics_service import DIMENSIONS

router = APIRouter(prefix="/metrics", tags=["metrics"], dependencies=[READ], responses=error_responses(401, 403))

DEFAULT_DAYS = 7
_ONE = "(" + "|".join(DIMENSIONS) + ")"
GROUP_BY_PATTERN = f"^{_ONE}(,{_ONE})*$"


class OnlineRow(BaseModel):
    day: str | None = None
    surface: str | None = None
    experiment: str | None = Field(default=None, description="'' outside any experiment")
    variant: str | None = Field(default=None, description="'' outside any experiment")
    method: str | None = Field(default=None, description="an item method, or * for whole lists")
    model_version: str | None = None
    lists: int = Field(description="answers")
    impressions: int = Field(description="items shown")
    users: int = Field(description="distinct users with an impression (per day: user-days once the day is summed)")
    clicks: int = Field(description="shown items clicked, attributed (once per answer and item)")
    likes: int = Field(description="shown items liked or given positive feedback, attributed")
    ctr: float | None = Field(description="clicks / impressions")
    like_rate: float | None = Field(description="likes / impressions")
    ctr_per_user: float | None = Field(description="mean over reached users of their clicks / impressions")
    ctr_by_position: dict[str, float | None] = Field(description="CTR of each 1-based position")
    coverage: float | None = Field(description="distinct items shown / catalog (mean of the days)")
    intra_list_diversity: float | None = Field(description="mean over lists of 1 - mean pairwise cosine")
    category_spread: float | None = Field(description="mean over lists of distinct categories / items")
    novelty: float | None = Field(description="mean over impressions of -log2(share of users who used the item)")
    young_share: float | None = Field(description="share of impressions of items younger than 7 days")


class OnlineMetrics(BaseModel):
    from_: str = Field(alias="from")
    to: str
    group_by: list[str]
    rows: list[OnlineRow]

    model_config = {"populate_by_name": True}


def _calendar_day(value: object) -> object:
    """A day is written YYYY-MM-DD: 0 or 1700000000 is not one (pydantic would read a Unix time)."""
    if isinstance(value, str) and not DAY_PATTERN.fullmatch(value):
        raise ValueError("Input should be a calendar day, YYYY-MM-DD")
    return value


DAY_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}")
Day = Annotated[date, BeforeValidator(_calendar_day), WithJsonSchema({"type": "string", "format": "date"})]


@router.get("/online", responses=error_responses(503), response_model_by_alias=True)
def online_metrics(
    db: ReadDatabaseDep,
    from_: Annotated[Day | None, Query(alias="from", description="first day (UTC); default: 6 days ago")] = None,
    to: Annotated[Day | None, Query(description="last day (UTC), included; default: today")] = None,
    group_by: Annotated[
        str,
        Query(
            max_length=200,
            pattern=GROUP_BY_PATTERN,
            description=f"comma-separated, of: {', '.join(DIMENSIONS)}",
        ),
    ] = "day,surface,variant",
) -> OnlineMetrics:
    """Online figures per the dimensions asked for, from the rows the hourly metrics job stored (run
    `dummi metrics` to bring them up to date by hand). A range with from after to holds no days."""
    today = datetime.now(UTC).date()
    end = to or today
    start = from_ or max(date.min, end - timedelta(days=min(DEFAULT_DAYS - 1, (end - date.min).days)))
    groups = online_metrics_service.groups_of(group_by)
    rows = online_metrics_service.query(db, start, end, groups)
    return OnlineMetrics(
        from_=start.isoformat(),
        to=end.isoformat(),
        group_by=[d for d in DIMENSIONS if d in groups],
        rows=[OnlineRow(**r) for r in rows],
    )


class ItemDay(BaseModel):
    day: str
    impressions: int = Field(description="times the item was shown")
    clicks: int = Field(description="shown and clicked (attributed, once per answer)")
    likes: int = Field(description="shown and liked or given positive feedback (attributed, once per answer)")
    ctr: float | None = Field(description="clicks / impressions")


class ItemMetrics(BaseModel):
    content_id: str
    from_: str = Field(alias="from")
    to: str
    days: list[ItemDay] = Field(description="every day of the range, oldest first (zeros: not shown)")

    model_config = {"populate_by_name": True}


ITEM_DAYS = 30
MAX_ITEM_DAYS = 366


@router.get("/items/{content_id}", responses=error_responses(404, 503), response_model_by_alias=True)
def item_metrics(
    content_id: Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH)],
    db: ReadDatabaseDep,
    from_: Annotated[Day | None, Query(alias="from", description="first day (UTC); default: 29 days ago")] = None,
    to: Annotated[Day | None, Query(description="last day (UTC), included; default: today")] = None,
) -> ItemMetrics:
    """How often one item was shown, clicked and liked per day, as the hourly metrics job stored it (answers
    within the impression retention period). At most 366 days at once: an earlier `from` is moved up to the
    366th day before `to` (the answer's `from` says which day it starts on)."""
    end = to or datetime.now(UTC).date()
    start = from_ or max(date.min, end - timedelta(days=min(ITEM_DAYS - 1, (end - date.min).days)))
    if (end - start).days + 1 > MAX_ITEM_DAYS:
        start = end - timedelta(days=MAX_ITEM_DAYS - 1)
    days = online_metrics_service.item_days(db, content_id, start, end)  # from after to: no days
    return ItemMetrics(content_id=content_id, from_=start.isoformat(), to=end.isoformat(), days=days)
