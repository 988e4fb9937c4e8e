"""GET /recommendations/trending: what is rising now (``dummi.services.trending_service``), without a retrain."""

from __future__ import annotations

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
    _logged,
    _query_filters,
)
from dummi.domain.inputs import MAX_CATEGORY_LENGTH
from dummi.services import trending_service
from dummi.services.impressions_service import DEFAULT_SURFACE

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
    ] = f"{trending_service.DEFAULT_WINDOW_HOURS}h",
    user_id: UserQuery = None,
    surface: SurfaceQuery = DEFAULT_SURFACE,
    filters: FiltersQuery = None,
    preview: PreviewQuery = False,
) -> ItemList:
    """Items whose engagement in the window most exceeds their own baseline: trend = log((recent + 3) /
    (expected + 3)), at least 2 recent events; fresh within a minute. Hidden, expired and filtered items are
    left out as in every list; score = 1 - (expected + 3) / (recent + 3)."""
    served = trending_service.trending(
        db, engine, n, window_hours=int(window[:-1]), category=category, filters=_query_filters(filters)
    )
    return _logged(db, served, "trending", user_id, surface, preview)
