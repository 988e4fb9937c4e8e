"""POST /recommendations/, GET /recommendations/popular and GET /content/{content_id}/similar."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, StrictBool, TypeAdapter, ValidationError, model_validator

from dummi.api.auth import READ
from dummi.api.deps import DatabaseDep, ReadDatabaseDep
from dummi.api.errors import error_responses
from dummi.api.schemas import model_response
from dummi.api.text_guard import strict_json, text_errors
from dummi.domain.inputs import (
    MAX_CATEGORY_LENGTH,
    MAX_FILTERS,
    MAX_ID_LENGTH,
    Category,
    Filters,
    Identifier,
    SessionId,
    StrictFloat,
    StrictModel,
    WholeNumber,
    bounded_whole,
    conditions,
    one_subject,
)
from dummi.domain.ranking import Promotion, RankRequest, Recommendation
from dummi.services import answers_service
from dummi.services.impressions_service import DEFAULT_SURFACE, log_answer
from dummi.services.page_tokens import PAGE_TOKEN_TTL_SECONDS
from dummi.services.recommendation_service import RecommendationEngine, Served, get_engine

router = APIRouter(tags=["recommendations"], dependencies=[READ], responses=error_responses(401, 403))


async def _engine() -> RecommendationEngine:
    return get_engine()  # built on the first call (cheap: the model loads on the first request's thread)


EngineDep = Annotated[RecommendationEngine, Depends(_engine)]
MAX_RECOMMENDATIONS = 100
MAX_EXCLUDE = 500
SURFACE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"
Surface = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=SURFACE_PATTERN,
        description="where the answer is shown (home, email, ...): online metrics are reported per surface",
    ),
]
UserQuery = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=MAX_ID_LENGTH,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$",
        description="the user the list is shown to: interactions are attributed to it",
    ),
]
SurfaceQuery = Annotated[
    str, Query(min_length=1, max_length=64, pattern=SURFACE_PATTERN, description="where the answer is shown")
]
PreviewQuery = Annotated[
    bool, Query(description="true: a look at the list, not logged (as preview in POST /recommendations/)")
]


FILTERS_QUERY_DESCRIPTION = (
    'business rules as a JSON list, as in POST /recommendations/: [{"field": "properties.lang", "op": "in", '
    '"value": ["de"]}]'
)
# The parameter is JSON text: the spec says so (OpenAPI's ``content`` form, with the body's own schema), so
# that clients and schemathesis send a list of conditions rather than any string.
FiltersQuery = Annotated[str | None, Query(max_length=20_000, include_in_schema=False)]
FILTERS_PARAMETER = {
    "parameters": [
        {
            "name": "filters",
            "in": "query",
            "required": False,
            "description": FILTERS_QUERY_DESCRIPTION,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "array",
                        "maxItems": MAX_FILTERS,
                        "items": {
                            "anyOf": [
                                {"$ref": f"#/components/schemas/{name}"}
                                for name in ("LabelCondition", "PropertyCondition", "RangeCondition")
                            ]
                        },
                    }
                }
            },
        }
    ]
}
_FILTERS = TypeAdapter(Filters)


def _query_filters(raw: str | None) -> tuple:
    """A ``filters`` query parameter, checked as the body's are; a bad one is a 422 naming the condition."""
    if raw is None:
        return ()
    try:
        document = strict_json(raw)
    except ValueError as exc:  # not JSON, or NaN / Infinity / 1e999, which Python's json reads
        message = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("query", "filters"), "msg": f"not JSON: {message}", "input": raw}]
        ) from None
    unstorable = text_errors(document)  # a NUL or a lone surrogate escaped inside the JSON
    if unstorable:
        raise RequestValidationError([{**e, "loc": ("query", "filters", *e["loc"])} for e in unstorable])
    try:
        return conditions(_FILTERS.validate_python(document))
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("query", "filters", *e["loc"])} for e in exc.errors(include_url=False)]
        ) from None


class PromotionRequest(StrictModel):
    name: Annotated[
        str,
        Field(
            min_length=1,
            max_length=64,
            pattern=SURFACE_PATTERN,
            description="the campaign's name: promoted items carry it, online metrics count them by it",
        ),
    ]
    share: StrictFloat = Field(
        ge=0.0,
        le=1.0,
        description="ceil(share x n_recommendations) slots hold the best-scored items matching filters (fewer "
        "when fewer match); placed from position 2 on, spread evenly (slot i of k in a list of L items at "
        "2 + floor(i (L - 1) / k)); the rest is the personal list in its order; no item twice",
    )
    filters: Filters = []


PAGE_TOKEN_DESCRIPTION = (
    "the next_page_token of the previous page: the next n of the same list, with no item of the earlier pages "
    f"(the same user_id or session_id; a token expires {PAGE_TOKEN_TTL_SECONDS // 60} minutes after it was "
    "issued). A bad, expired or foreign token is a 422 naming page_token"
)


class RecommendationRequest(StrictModel):
    user_id: Identifier | None = Field(default=None, description="the user; or session_id, or both")
    session_id: SessionId | None = None
    page_token: Annotated[str, Field(min_length=1, max_length=1000, description=PAGE_TOKEN_DESCRIPTION)] | None = None
    promotion: PromotionRequest | None = Field(
        default=None, description="a share of the slots for items matching a campaign's filters"
    )
    n_recommendations: WholeNumber = Field(default=10, ge=1, le=MAX_RECOMMENDATIONS)
    use_cf: StrictBool = Field(default=True, description="use collaborative filtering")
    use_embeddings: StrictBool = Field(default=True, description="use content similarity")
    cf_weight: StrictFloat = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="share of collaborative filtering in the blend (0: content only, 1: CF only); 0.5 is "
        "the blend the last training found best on its holdout (scaled linearly on each side)",
    )
    category: Category | None = Field(default=None, description="only items of this category")
    exclude: list[Identifier] = Field(default=[], max_length=MAX_EXCLUDE, description="content ids to leave out")
    surface: Surface = DEFAULT_SURFACE
    filters: Filters = []
    diversity: StrictFloat | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="0..1: trade relevance for variety (greedy MMR over the best max(4n, 50) candidates; 0 is "
        "the ranked order); default: the value the last training chose on its holdout",
    )
    max_per_category: bounded_whole(1, MAX_RECOMMENDATIONS, "at most this many items of one category") | None = None
    explore_slots: (
        bounded_whole(
            0,
            MAX_RECOMMENDATIONS,
            "slots given to young items (created within 30 days or shown fewer than 100 times) that match the "
            "user, chosen by Thompson sampling and placed at a random position from 3 on (method: explore); "
            "default 1 from n_recommendations = 10 up, else 0",
        )
        | None
    ) = None
    preview: StrictBool = Field(
        default=False,
        description="true: a look at the list (the console, a QA tool), not an answer shown to the user: it is "
        "not logged (recommendation_id null), so it counts in no online metric, experiment or exploration "
        "figure and no interaction is attributed to it",
    )

    @model_validator(mode="after")
    def check_subject(self):
        return one_subject(self)


class RecommendedItem(BaseModel):
    content_id: str
    title: str
    category: str
    score: float = Field(
        ge=0.0,
        le=1.0,
        description="the item's estimated relevance to the request, 0..1, higher is better: the ranking's "
        "relevance on the scale training calibrated against its holdout (about the chance that the item is "
        "among what the user goes on to like), the same scale for every method in one list; similar items: "
        "(1 + cosine) / 2. Boosts and the diversity re-rank order the list without changing it, so the list's "
        "order is not always the order of the scores",
    )
    method: str = Field(description="hybrid | cf | embedding | interest | popular | trending | explore")
    reason: str
    promoted: bool = Field(default=False, description="true: the item holds a slot of the request's promotion")
    promotion: str | None = Field(default=None, description="the promotion's name when promoted")


RECOMMENDATION_ID = Field(
    description="this answer's id (a time-ordered UUIDv7): send it with the interactions it leads to. Null only "
    "when the answer could not be logged"
)


class RecommendationsResponse(BaseModel):
    user_id: str | None = Field(description="null: an answer to an anonymous session")
    session_id: str | None = None
    recommendation_id: str | None = RECOMMENDATION_ID
    next_page_token: str | None = Field(
        default=None,
        description="send it as page_token for the next page (no item of this or earlier pages); null for a "
        "preview, an answer that could not be logged, or a page shorter than n (the catalog is used up)",
    )
    page: int = Field(default=1, ge=1, description="this page's number in its list (1: the first)")
    recommendations: list[RecommendedItem]
    model_version: str | None = Field(description="the published model used; null before the first training")
    experiment: str | None = Field(default=None, description="the experiment the user takes part in, if any")
    variant: str | None = Field(default=None, description="the user's variant in it; null: the default ranking")
    needs_interests: bool = Field(
        description="the user has fewer than 5 items and no interests: ask for some "
        "(GET /users/{user_id}/suggested-interests) and set them with PUT /users/{user_id}"
    )
    timestamp: datetime


class ItemList(BaseModel):
    recommendation_id: str | None = RECOMMENDATION_ID
    recommendations: list[RecommendedItem]
    model_version: str | None
    timestamp: datetime


def _items(recs: list[Recommendation]) -> list[RecommendedItem]:
    return [
        RecommendedItem(
            content_id=r.content_id,
            title=r.title,
            category=r.category,
            score=round(r.score, 6),
            method=r.method,
            reason=r.reason,
            promoted=r.promoted is not None,
            promotion=r.promoted,
        )
        for r in recs
    ]


# API Gateway HTTP API routes cannot end in "/": both forms are served.
@router.post("/recommendations", include_in_schema=False, response_model=RecommendationsResponse)
@router.post("/recommendations/", response_model=RecommendationsResponse, responses=error_responses(400, 404, 413, 503))
def recommend(body: RecommendationRequest, db: DatabaseDep, engine: EngineDep) -> Response:
    """Personal top-K for a user or an anonymous session: hybrid CF + content similarity for users with
    history, interest- and popularity-based for newcomers, a session's own events folded in. Never returns
    what the user (or session) has already interacted with, nor, with page_token, an item of earlier pages."""
    promotion = body.promotion
    request = RankRequest(
        n=body.n_recommendations,
        use_cf=body.use_cf,
        use_embeddings=body.use_embeddings,
        cf_weight=body.cf_weight,
        category=body.category,
        exclude=frozenset(body.exclude),
        diversity=body.diversity,
        max_per_category=body.max_per_category,
        explore_slots=body.explore_slots,
        filters=conditions(body.filters),
        promotion=(Promotion(promotion.name, promotion.share, conditions(promotion.filters)) if promotion else None),
    )
    answer = answers_service.recommend(
        db,
        engine,
        request,
        user_id=body.user_id,
        session_id=body.session_id,
        surface=body.surface,
        preview=body.preview,
        page_token=body.page_token,
    )
    served = answer.served
    response = RecommendationsResponse(
        user_id=body.user_id,
        session_id=body.session_id,
        recommendation_id=answer.recommendation_id,
        next_page_token=answer.next_page_token,
        page=answer.page,
        recommendations=_items(served.recommendations),
        model_version=served.model_version,
        experiment=served.experiment,
        variant=served.variant,
        needs_interests=answer.needs_interests,
        timestamp=datetime.now(UTC),
    )
    return model_response(response)


@router.get("/recommendations/popular", responses=error_responses(503), openapi_extra=FILTERS_PARAMETER)
def popular(
    db: ReadDatabaseDep,
    engine: EngineDep,
    category: Annotated[str | None, Query(min_length=1, max_length=MAX_CATEGORY_LENGTH)] = None,
    n: Annotated[int, Query(ge=1, le=MAX_RECOMMENDATIONS)] = 10,
    user_id: UserQuery = None,
    surface: SurfaceQuery = DEFAULT_SURFACE,
    filters: FiltersQuery = None,
    preview: PreviewQuery = False,
) -> ItemList:
    """The most liked items, overall or in one category."""
    served = engine.popular(db, n, category, _query_filters(filters))
    return _logged(db, served, "popular", user_id, surface, preview)


@router.get("/content/{content_id}/similar", responses=error_responses(404, 503), openapi_extra=FILTERS_PARAMETER)
def similar(
    content_id: Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH)],
    db: ReadDatabaseDep,
    engine: EngineDep,
    n: Annotated[int, Query(ge=1, le=MAX_RECOMMENDATIONS)] = 10,
    user_id: UserQuery = None,
    surface: SurfaceQuery = DEFAULT_SURFACE,
    filters: FiltersQuery = None,
    preview: PreviewQuery = False,
) -> ItemList:
    """Content most similar to this item (by embedding)."""
    served = engine.similar(db, content_id, n, _query_filters(filters))
    return _logged(db, served, "similar", user_id, surface, preview)


def _logged(db, served: Served, endpoint: str, user_id: str | None, surface: str, preview: bool) -> ItemList:
    recommendation_id = None
    if not preview:
        recommendation_id = log_answer(
            db,
            served.recommendations,
            user_id=user_id,
            surface=surface,
            endpoint=endpoint,
            model_version=served.model_version,
        )
    return ItemList(
        recommendation_id=recommendation_id,
        recommendations=_items(served.recommendations),
        model_version=served.model_version,
        timestamp=datetime.now(UTC),
    )
