"""/keys routes (admin scope): create a key (its secret is in this answer only), list keys, revoke one."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from dummi.api.auth import ADMIN
from dummi.api.deps import DatabaseDep
from dummi.api.errors import error_responses
from dummi.db.records import ApiKeyRecord
from dummi.domain.inputs import StrictModel
from dummi.services import api_keys
from dummi.services.api_keys import MAX_NAME_LENGTH, Scope

router = APIRouter(prefix="/keys", tags=["keys"], dependencies=[ADMIN], responses=error_responses(401, 403))


class KeyCreate(StrictModel):
    scopes: list[Scope] = Field(min_length=1, max_length=3, description="read, write and/or admin")
    name: str = Field(
        default="", max_length=MAX_NAME_LENGTH, pattern=r"^[^\x00-\x1f]*$", description="what the key is for"
    )


class KeyPublic(BaseModel):
    key_id: str
    name: str
    scopes: list[str]
    created_at: datetime
    revoked_at: datetime | None


class KeyCreated(KeyPublic):
    key: str = Field(description="the key itself: shown only in this answer, send it as X-API-Key")


def _public(record: ApiKeyRecord) -> KeyPublic:
    return KeyPublic(
        key_id=record.key_id,
        name=record.name,
        scopes=record.scopes,
        created_at=record.created_at,
        revoked_at=record.revoked_at,
    )


@router.post("", status_code=201, responses=error_responses(400, 413, 503))
def create_key(body: KeyCreate, db: DatabaseDep) -> KeyCreated:
    new = api_keys.create_key(db, [scope.value for scope in body.scopes], body.name)
    return KeyCreated(key=new.key, **_public(new.record).model_dump())


@router.get("", responses=error_responses(503))
def list_keys(
    db: DatabaseDep, include_revoked: Annotated[bool, Query(description="list revoked keys too")] = False
) -> list[KeyPublic]:
    return [_public(record) for record in api_keys.list_keys(db, include_revoked=include_revoked)]


@router.delete("/{key_id}", responses=error_responses(404, 503))
def revoke_key(
    key_id: Annotated[str, Path(min_length=1, max_length=64, description="the key's id (after dk_)")], db: DatabaseDep
) -> KeyPublic:
    """Revoke a key: refused at once by this process, within DUMMI_AUTH_CACHE_SECONDS by every other."""
    return _public(api_keys.revoke_key(db, key_id))
