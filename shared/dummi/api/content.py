"""/content routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from dummi.api.auth import READ, WRITE
from dummi.api.deps import DatabaseDep, EmbeddingQueueDep
from dummi.api.errors import create_responses, error_responses
from dummi.api.schemas import (
    DEFAULT_PAGE_SIZE,
    MAX_CATEGORY_LENGTH,
    MAX_ID_LENGTH,
    MAX_PAGE_SIZE,
    ContentCreate,
    ContentPage,
    ContentPublic,
)
from dummi.db.records import ContentRecord
from dummi.services import content_service

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
        db, queue, body.content_id, body.title, body.category, body.tags, body.description
    )
    if not created:
        response.status_code = 200
    return _public(item)


@router.get("/category/{category}", dependencies=[READ], responses=error_responses(503))
def list_category(
    category: CategoryPath,
    db: DatabaseDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> ContentPage:
    """One page of a category's items, ordered by content_id (stable across pages)."""
    items, total = content_service.list_category(db, category, limit=limit, offset=offset)
    return ContentPage(category=category, items=[_public(i) for i in items], total=total, limit=limit, offset=offset)


@router.get("/{content_id}", dependencies=[READ], responses=error_responses(404, 503))
def get_content(content_id: ContentIdPath, db: DatabaseDep) -> ContentPublic:
    return _public(content_service.get_content(db, content_id))
