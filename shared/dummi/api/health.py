"""GET /health: is the service up, can it reach Postgres (a read, never a write) and its result cache (a ping)."""

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
from dummi.services.result_cache import get_result_cache

router = APIRouter(tags=["health"])
CACHE_DOWN = "the result cache's server cannot be reached: answers are computed without it"


@router.get("/health", responses={503: {"model": Health, "description": "database unreachable; `reason` says why"}})
def health(db: DatabaseDep) -> Health:
    settings = get_settings()
    auth = settings.auth_enabled  # the console asks for a key before its first call, not after a 401
    result_cache = get_result_cache()
    cache = None if result_cache is None else "ok" if result_cache.reachable() else "unavailable"
    try:
        db.ping()
    except DatabaseUnavailableError:
        reason = database_down_reason(settings.data_dir)  # e.g. dummi run's supervisor is restarting Postgres
        body = Health(
            status="degraded", database="unavailable", cache=cache, version=__version__, auth=auth, reason=reason
        )
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}  # as every other 503
        return JSONResponse(body.model_dump(), status_code=503, headers=headers)  # type: ignore[return-value]
    if cache == "unavailable":  # still a 200: every answer is computed, as with no cache at all
        return Health(status="degraded", database="ok", cache=cache, version=__version__, auth=auth, reason=CACHE_DOWN)
    return Health(status="ok", database="ok", cache=cache, version=__version__, auth=auth)
