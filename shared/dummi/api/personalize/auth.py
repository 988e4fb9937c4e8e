"""SigV4 on the Personalize routes (``DUMMI_AUTH=on``): the signature botocore made with a Dummi credential
(``dummi keys create --sigv4``), checked over the request as it came (the raw path, the body bytes), within 15
minutes of the clock; then the credential's scope. With auth off, any credentials (or none) are accepted."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.params import Depends as DependsParam
from starlette.concurrency import run_in_threadpool

from dummi.api.deps import DatabaseDep
from dummi.api.sigv4 import verify_request
from dummi.api.text_guard import raw_path as scope_raw_path
from dummi.config import get_settings
from dummi.errors import ForbiddenError
from dummi.services.api_keys import Principal, Scope
from dummi.services.personalize.credentials import lookup
from dummi.services.unit_of_work import Source


def raw_path(request: Request) -> str:
    """The path as the client sent it (still percent-encoded), which is what it signed
    (``dummi.api.text_guard.raw_path``; the decoded path encoded again where neither server gave it)."""
    raw = scope_raw_path(request.scope)
    if raw is not None:
        return raw
    return quote(request.scope.get("root_path", "") + request.scope["path"], safe="/~!$&'()*+,;=:@%")


def check(db: Source, method: str, path: str, query: str, headers: list[tuple[str, str]], body: bytes, scope: Scope):
    principals: dict[str, Principal] = {}

    def secret_for(access_key_id: str) -> str | None:
        found = lookup(db, access_key_id)
        if found is None:
            return None
        principals[access_key_id] = found[1]
        return found[0]

    verified = verify_request(method=method, path=path, query=query, headers=headers, body=body, secret_for=secret_for)
    principal = principals[verified.access_key_id]
    if not principal.allows(scope):
        raise ForbiddenError(f"this access key lacks the {scope.value!r} scope", field="Authorization")
    return principal


def signed(scope: Scope) -> DependsParam:
    async def dependency(request: Request, db: DatabaseDep) -> None:
        if not get_settings().auth_enabled:
            return
        body = await request.body()
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.scope["headers"]]
        query = request.scope.get("query_string", b"").decode("latin-1")
        principal = await run_in_threadpool(check, db, request.method, raw_path(request), query, headers, body, scope)
        request.state.api_key_id = principal.key_id

    return Depends(dependency)
