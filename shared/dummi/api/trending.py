"""GET /recommendations/trending: what is rising now (``dummi.ml.trending``), without a retrain."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from dummi.api.auth import READ
from dummi.api.deps import ReadDatabaseDep
from dummi.api.errors import error_responses
from dummi.api.recommendations import (
    FILTERS_PARAMETER,
    MAX_RECOMMENDATIONS,
    EngineDep,
    FiltersQuery,
    ItemList,
    PreviewQuery,
    SurfaceQuery,
    UserQuery,
    _items,
    _query_filters,
)
from dummi.api.schemas import MAX_CATEGORY_LENGTH
from dummi.ml import trending as formula
from dummi.services.impressions_service import DEFAULT_SURFACE, log_answer
from dummi.services.trending_service import get_trending_cache

router = APIRouter(tags=["recommendations"], dependencies=[READ], responses=error_responses(401, 403))

WINDOW_PATTERN = r"^([1-9]|[1-3][0-9]|4[0-8])h$"


@router.get("/recommendations/trending", responses=error_responses(503), openapi_extra=FILTERS_PARAMETER)
def trending(
    db: ReadDatabaseDep,
    engine: EngineDep,
    n: Annotated[int, Query(ge=1, le=MAX_RECOMMENDATIONS)] = 10,
    category: Annotated[str | None, Query(min_length=1, max_length=MAX_CATEGORY_LENGTH)] = None,
    window: Annotated[
        str,
        Query(
            pattern=WINDOW_PATTERN,
            description="how far back engagement counts as recent: 1h to 48h (this hour so far and the ones "
            "before it); each item is compared with its own rate over the 7 days before the window",
        ),
    ] = f"{formula.DEFAULT_WINDOW_HOURS}h",
    user_id: UserQuery = None,
    surface: SurfaceQuery = DEFAULT_SURFACE,
    filters: FiltersQuery = None,
    preview: PreviewQuery = False,
) -> ItemList:
    """Items whose engagement in the window most exceeds their own baseline: trend = log((recent + 3) /
    (expected + 3)), at least 2 recent events; fresh within a minute. Hidden, expired and filtered items are
    left out as in every list; score = 1 - (expected + 3) / (recent + 3)."""
    conditions = _query_filters(filters)
    ranked = get_trending_cache().get(db, int(window[:-1]))
    recommender, version = engine.recommender(db)
    recs = formula.trending(
        ranked.trends,
        recommender.position,
        recommender.catalog,
        n,
        now=time.time(),
        category=category,
        filters=conditions,
        window=window,
    )
    recommendation_id = None
    if not preview:
        recommendation_id = log_answer(
            db, recs, user_id=user_id, surface=surface, endpoint="trending", model_version=version
        )
    return ItemList(
        recommendation_id=recommendation_id,
        recommendations=_items(recs),
        model_version=version,
        timestamp=datetime.now(UTC),
    )
