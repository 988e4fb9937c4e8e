"""personalize-runtime: POST /personalize/recommendations (GetRecommendations) and
POST /personalize/personalize-ranking (GetPersonalizedRanking), read scope."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from dummi.api.deps import DatabaseDep
from dummi.api.personalize.auth import signed
from dummi.api.personalize.errors import route_class
from dummi.api.personalize.schemas import GetPersonalizedRankingRequest, GetRecommendationsRequest, json_body, shaped
from dummi.services.api_keys import Scope
from dummi.services.personalize import runtime
from dummi.services.personalize.arns import get_arn_map
from dummi.services.personalize.event_types import get_event_types
from dummi.services.recommendation_service import get_engine

router = APIRouter(
    prefix="/personalize",
    tags=["personalize"],
    dependencies=[signed(Scope.READ)],
    route_class=route_class(),
    include_in_schema=False,
)
Body = Annotated[Any, Depends(json_body)]


def _filter(arn: str | None, values: dict[str, str]) -> runtime.FilterUse | None:
    return runtime.FilterUse(arn, values) if arn else None


def _promotion(request: GetRecommendationsRequest) -> runtime.PromotionUse | None:
    if not request.promotions:
        return None
    promotion = request.promotions[0]
    use = runtime.FilterUse(promotion.filterArn, promotion.filterValues)
    return runtime.PromotionUse(promotion.name, promotion.percentPromotedItems, use)


def _items(answer: runtime.Answer, db, columns: dict[str, list[str]]) -> list[dict[str, Any]]:
    """The answer's items; with ``metadataColumns`` (Personalize's one dataset key, ``ITEMS``), each item's
    ``metadata``."""
    items = next(iter(columns.values()), [])
    metadata = runtime.item_metadata(db, get_engine(), [i.item_id for i in answer.items], items) if items else {}
    out = []
    for item in answer.items:
        entry: dict[str, Any] = {"itemId": item.item_id, "score": item.score}
        if item.promotion:
            entry["promotionName"] = item.promotion
        if item.reason:
            entry["reason"] = [item.reason]
        if items:
            entry["metadata"] = metadata.get(item.item_id, {})
        out.append(entry)
    return out


@router.post("/recommendations")
def get_recommendations(body: Body, db: DatabaseDep) -> JSONResponse:
    request = shaped(GetRecommendationsRequest, body)
    answer = runtime.get_recommendations(
        db,
        get_engine(),
        get_event_types(),
        user_id=request.userId,
        item_id=request.itemId,
        n=runtime.results(request.numResults),
        target=get_arn_map().target(request.recommenderArn or request.campaignArn, request.context),
        filter_use=_filter(request.filterArn, request.filterValues),
        context=request.context,
        promotion=_promotion(request),
    )
    items = _items(answer, db, request.metadataColumns)
    return JSONResponse({"itemList": items, "recommendationId": answer.recommendation_id})


@router.post("/personalize-ranking")
def get_personalized_ranking(body: Body, db: DatabaseDep) -> JSONResponse:
    request = shaped(GetPersonalizedRankingRequest, body)
    answer = runtime.get_personalized_ranking(
        db,
        get_engine(),
        get_event_types(),
        user_id=request.userId,
        input_list=request.inputList,
        target=get_arn_map().target(request.campaignArn, request.context),
        filter_use=_filter(request.filterArn, request.filterValues),
        context=request.context,
    )
    items = _items(answer, db, request.metadataColumns)
    return JSONResponse({"personalizedRanking": items, "recommendationId": answer.recommendation_id})
