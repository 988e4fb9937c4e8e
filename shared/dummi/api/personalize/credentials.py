"""/sigv4-keys (admin scope): SigV4 credentials for Personalize's clients. The secret access key is in the
create answer only; list and revoke as for API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from dummi.api.auth import ADMIN
from dummi.api.deps import DatabaseDep
from dummi.api.errors import error_responses
from dummi.domain.inputs import StrictModel
from dummi.services.api_keys import MAX_NAME_LENGTH, Scope
from dummi.services.personalize import credentials
from dummi.services.personalize.credentials import Sigv4KeyRecord

router = APIRouter(prefix="/sigv4-keys", tags=["keys"], dependencies=[ADMIN], responses=error_responses(401, 403))


class Sigv4KeyCreate(StrictModel):
    scopes: list[Scope] = Field(min_length=1, max_length=3, description="read, write and/or admin")
    name: str = Field(
        default="", max_length=MAX_NAME_LENGTH, pattern=r"^[^\x00-\x1f]*$", description="what the key is for"
    )


class Sigv4KeyPublic(BaseModel):
    access_key_id: str
    name: str
    scopes: list[str]
    created_at: datetime
    revoked_at: datetime | None


class Sigv4KeyCreated(Sigv4KeyPublic):
    secret_access_key: str = Field(description="shown only in this answer: the client's aws_secret_access_key")


def _public(record: Sigv4KeyRecord) -> Sigv4KeyPublic:
    return Sigv4KeyPublic(
        access_key_id=record.access_key_id,
        name=record.name,
        scopes=record.scopes,
        created_at=record.created_at,
        revoked_at=record.revoked_at,
    )


@router.post("", status_code=201, responses=error_responses(400, 413, 503))
def create_sigv4_key(body: Sigv4KeyCreate, db: DatabaseDep) -> Sigv4KeyCreated:
    """A SigV4 credential for boto3's Personalize clients (needs DUMMI_SECRETS_KEY to seal its secret)."""
    new = credentials.create_sigv4_key(db, [s.value for s in body.scopes], body.name)
    return Sigv4KeyCreated(**_public(new.record).model_dump(), secret_access_key=new.secret_access_key)


@router.get("", responses=error_responses(503))
def list_sigv4_keys(
    db: DatabaseDep, include_revoked: Annotated[bool, Query(description="also list revoked credentials")] = False
) -> list[Sigv4KeyPublic]:
    return [_public(r) for r in credentials.list_sigv4_keys(db, include_revoked=include_revoked)]


@router.delete("/{access_key_id}", responses=error_responses(404, 503))
def revoke_sigv4_key(
    access_key_id: Annotated[str, Path(min_length=1, max_length=64)], db: DatabaseDep
) -> Sigv4KeyPublic:
    return _public(credentials.revoke_sigv4_key(db, access_key_id))
