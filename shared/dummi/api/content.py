"""/content routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from dummi.api.auth import READ, WRITE, ApiKey, check_scope
from dummi.api.deps import DatabaseDep, EmbeddingQueueDep, ReadDatabaseDep
from dummi.api.errors import create_responses, error_responses
from dummi.api.schemas import ContentPage, ContentPublic
from dummi.db.records import ContentRecord
from dummi.domain.inputs import (
    DEFAULT_PAGE_SIZE,
    MAX_CATEGORY_LENGTH,
    MAX_ID_LENGTH,
    MAX_PAGE_SIZE,
    ContentCreate,
    ContentUpdate,
)
from dummi.services import content_service
from dummi.services.api_keys import Scope

router = APIRouter(prefix="/content", tags=["content"], responses=error_responses(401, 403))

ContentIdPath = Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH, description="the content item's id")]
CategoryPath = Annotated[str, Path(min_length=1, max_length=MAX_CATEGORY_LENGTH)]
MAX_OFFSET = 1_000_000


def _public(item: ContentRecord) -> ContentPublic:
    return ContentPublic(
        content_id=item.content_id,
        title=item.title,
        category=item.category,
        tags=item.tags,
        description=item.description,
        properties=item.properties,
        hidden=item.hidden,
        available_from=item.available_from,
        available_until=item.available_until,
        created_at=item.created_at,
        updated_at=item.updated_at,
    )


# API Gateway HTTP API routes cannot end in "/": the template declares the path without it and the
# gateway sends either form, so both are served here (no redirect round trip).
@router.post("", status_code=201, include_in_schema=False, dependencies=[WRITE])
@router.post(
    "/",
    status_code=201,
    dependencies=[WRITE],
    responses=create_responses(ContentPublic, "item"),
)
def create_content(body: ContentCreate, db: DatabaseDep, queue: EmbeddingQueueDep, response: Response) -> ContentPublic:
    """Create a content item (201); its embedding follows within seconds. The same request again answers
    200 with the stored item; the id with other fields is a 409."""
    item, created = content_service.create_content(
        db,
        queue,
        body.content_id,
        body.title,
        body.category,
        body.tags,
        body.description,
        properties=body.properties,
        hidden=body.hidden,
        available_from=body.available_from,
        available_until=body.available_until,
    )
    if not created:
        response.status_code = 200
    return _public(item)


@router.get("/category/{category}", dependencies=[READ], responses=error_responses(503))
async def list_category(
    category: CategoryPath,
    db: ReadDatabaseDep,
    request: Request,
    key: ApiKey,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    include_hidden: Annotated[
        bool, Query(description="also items taken down (hidden or outside their window): needs an admin key")
    ] = False,
) -> ContentPage:
    """One page of a category's items, ordered by content_id (stable across pages); items taken down (hidden,
    or outside their availability window) are left out unless `include_hidden=true` with an admin key."""
    if include_hidden:
        await check_scope(request, db, key, Scope.ADMIN)
    items, total = await run_in_threadpool(
        content_service.list_category, db, category, limit=limit, offset=offset, include_hidden=include_hidden
    )
    return ContentPage(category=category, items=[_public(i) for i in items], total=total, limit=limit, offset=offset)


@router.get("/{content_id}", dependencies=[READ], responses=error_responses(404, 503))
def get_content(content_id: ContentIdPath, db: ReadDatabaseDep) -> ContentPublic:
    """Every field of the item, taken down or not (a hidden item stays readable by id)."""
    return _public(content_service.get_content(db, content_id))


@router.patch("/{content_id}", dependencies=[WRITE], responses=error_responses(400, 404, 413, 503))
def update_content(
    content_id: ContentIdPath, body: ContentUpdate, db: DatabaseDep, queue: EmbeddingQueueDep
) -> ContentPublic:
    """Change any of the fields given (the others stay). A new text is embedded again within seconds (the
    old vector serves until then, never after); `hidden`, the availability window and a new category apply
    to every answer within seconds, without a retrain. The same PATCH again changes nothing."""
    return _public(content_service.update_content(db, queue, content_id, body.changes()))


@router.delete("/{content_id}", status_code=204, dependencies=[WRITE], responses=error_responses(404, 503))
def delete_content(content_id: ContentIdPath, db: DatabaseDep) -> Response:
    """Delete the item for good (write scope, as the catalog's other changes): its fields, vector,
    interactions and feedback (they leave users' histories); answers drop it within seconds, then it is 404
    on every route. Logged answers that listed it keep their rows (online metrics keep their counts);
    `hidden: true` is the reversible take-down."""
    content_service.delete_content(db, content_id)
    return Response(status_code=204)
