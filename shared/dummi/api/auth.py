"""The API-key check every protected route depends on (``DUMMI_AUTH=on``); /health and /docs stay open.

The same check runs in every Lambda function and in the local server, rather than in an API Gateway
Lambda authorizer: one code path, tested as it runs; no second function (and its cold start) in front
of each uncached request; and a checked key costs nothing after the first request (``KeyCache``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.params import Depends as DependsParam
from fastapi.security import APIKeyHeader
from starlette.concurrency import run_in_threadpool

from dummi.api.deps import DatabaseDep
from dummi.config import get_settings
from dummi.services.api_keys import Scope, authorize, cached_principal

API_KEY_HEADER = "X-API-Key"
api_key_header = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    scheme_name="ApiKey",
    description="A key from `dummi keys create` (needed when the service runs with DUMMI_AUTH=on).",
)


def requires(scope: Scope) -> DependsParam:
    """A dependency that lets the request through only with a key holding ``scope`` (or admin)."""

    async def check(request: Request, db: DatabaseDep, key: ApiKey) -> None:
        await check_scope(request, db, key, scope)

    return Depends(check)


ApiKey = Annotated[str | None, Security(api_key_header)]


async def check_scope(request: Request, db, key: str | None, scope: Scope) -> None:
    """Let the request through only with a key holding ``scope`` (401 / 403 otherwise; nothing when auth is
    off). Async, so that the common cases (auth off, a key checked recently) cost no thread hop; a key not in
    the cache is looked up in Postgres on the thread pool."""
    if not get_settings().auth_enabled:
        return
    principal = cached_principal(key, scope)
    if principal is None:
        principal = await run_in_threadpool(authorize, db, key, scope)
    request.state.api_key_id = principal.key_id


READ = requires(Scope.READ)
WRITE = requires(Scope.WRITE)
ADMIN = requires(Scope.ADMIN)
