"""GET /health: is the service up and can it reach Postgres (a read, never a write)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from dummi import __version__
from dummi.api.deps import DatabaseDep
from dummi.api.errors import RETRY_AFTER_SECONDS
from dummi.api.schemas import Health
from dummi.config import get_settings
from dummi.db.supervisor import database_down_reason
from dummi.errors import DatabaseUnavailableError

router = APIRouter(tags=["health"])


@router.get("/health", responses={503: {"model": Health, "description": "database unreachable; `reason` says why"}})
def health(db: DatabaseDep) -> Health:
    settings = get_settings()
    auth = settings.auth_enabled  # the console asks for a key before its first call, not after a 401
    try:
        db.ping()
    except DatabaseUnavailableError:
        reason = database_down_reason(settings.data_dir)  # e.g. dummi run's supervisor is restarting Postgres
        body = Health(status="degraded", database="unavailable", version=__version__, auth=auth, reason=reason)
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}  # as every other 503
        return JSONResponse(body.model_dump(), status_code=503, headers=headers)  # type: ignore[return-value]
    return Health(status="ok", database="ok", version=__version__, auth=auth)
