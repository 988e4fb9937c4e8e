"""The personalize control plane's filter operations: POST /personalize with ``X-Amz-Target:
AmazonPersonalize.<Operation>`` (CreateFilter, DescribeFilter, ListFilters, DeleteFilter). Creating and
deleting need the write scope, describing and listing read. Any other operation is an
``UnknownOperationException``, as AWS answers; the path is served with and without a trailing slash (no
redirect: botocore would not follow it with the body)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from dummi.api.deps import DatabaseDep
from dummi.api.personalize.auth import signed
from dummi.api.personalize.errors import ALREADY_EXISTS, aws_error, route_class
from dummi.api.personalize.schemas import (
    CreateFilterRequest,
    FilterArnRequest,
    ListFiltersRequest,
    json_body,
    shaped,
)
from dummi.services.api_keys import Scope
from dummi.services.personalize import filters
from dummi.services.personalize.filters import FilterRecord

TARGET_PREFIX = "AmazonPersonalize."
OPERATION_SCOPES = {
    "CreateFilter": Scope.WRITE,
    "DeleteFilter": Scope.WRITE,
    "DescribeFilter": Scope.READ,
    "ListFilters": Scope.READ,
}
JSON_TYPE = "application/x-amz-json-1.1"

router = APIRouter(
    tags=["personalize"],
    route_class=route_class(json_protocol=True, conflict=ALREADY_EXISTS),
    include_in_schema=False,
)
Body = Annotated[Any, Depends(json_body)]


def operation(request: Request) -> str:
    target = request.headers.get("x-amz-target", "")
    return target[len(TARGET_PREFIX) :] if target.startswith(TARGET_PREFIX) else ""


# One signature check, at the scope the operation needs (the operation is read from the header first).
_checks = {name: signed(scope).dependency for name, scope in OPERATION_SCOPES.items()}


async def _signed(request: Request, db: DatabaseDep) -> None:
    # an operation Dummi does not serve is still refused to an unsigned caller before it is named
    await _checks.get(operation(request), _checks["DescribeFilter"])(request, db)


def _epoch(record_time) -> float:
    return record_time.timestamp()


def _summary(record: FilterRecord) -> dict[str, Any]:
    return {
        "name": record.name,
        "filterArn": record.filter_arn,
        "creationDateTime": _epoch(record.created_at),
        "lastUpdatedDateTime": _epoch(record.updated_at),
        "datasetGroupArn": record.dataset_group_arn,
        "status": "ACTIVE",
    }


def _answer(content: dict[str, Any]) -> JSONResponse:
    return JSONResponse(content, media_type=JSON_TYPE)


@router.post("/personalize", dependencies=[Depends(_signed)])
@router.post("/personalize/", dependencies=[Depends(_signed)])
def control(request: Request, body: Body, db: DatabaseDep) -> JSONResponse:
    name = operation(request)
    if name == "CreateFilter":
        create = shaped(CreateFilterRequest, body)
        record = filters.create_filter(db, create.name, create.datasetGroupArn, create.filterExpression)
        return _answer({"filterArn": record.filter_arn})
    if name == "DescribeFilter":
        record = filters.describe_filter(db, shaped(FilterArnRequest, body).filterArn)
        return _answer({"filter": {**_summary(record), "filterExpression": record.filter_expression}})
    if name == "ListFilters":
        listing = shaped(ListFiltersRequest, body)
        page = filters.list_filters(db, listing.datasetGroupArn, listing.nextToken, listing.maxResults or 100)
        answer: dict[str, Any] = {"Filters": [_summary(r) for r in page.filters]}
        if page.next_token:
            answer["nextToken"] = page.next_token
        return _answer(answer)
    if name == "DeleteFilter":
        filters.delete_filter(db, shaped(FilterArnRequest, body).filterArn)
        return _answer({})
    target = request.headers.get("x-amz-target", "")
    return aws_error("UnknownOperationException", f"Dummi serves the filter operations only, not {target!r}", 400)
