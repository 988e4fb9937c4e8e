"""Domain errors. Repositories and services raise these; ``dummi.api.errors`` maps them to HTTP statuses."""

from __future__ import annotations


class DummiError(Exception):
    """Base class of every error the domain raises on purpose."""

    code = "error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFoundError(DummiError):
    code = "not_found"

    def __init__(self, resource: str, key: str, *, field: str | None = None) -> None:
        super().__init__(f"{resource} {key!r} not found", field=field)
        self.resource = resource
        self.key = key


class ConflictError(DummiError):
    code = "conflict"


class UnauthenticatedError(DummiError):
    """No API key, or one that is unknown or revoked (401)."""

    code = "unauthenticated"


class ForbiddenError(DummiError):
    """A valid API key without the scope the route needs (403)."""

    code = "forbidden"


class InvalidRequestError(DummiError):
    """A request that is well formed but not acceptable (e.g. an update with no fields)."""

    code = "invalid_request"


class InvalidNextTokenError(InvalidRequestError):
    """A pagination token that is not one this service gave (Personalize's ListFilters answers its own
    InvalidNextTokenException)."""

    code = "invalid_next_token"


class UnavailableError(DummiError):
    """A dependency is down or busy; callers should retry later (503)."""

    code = "unavailable"


class DatabaseUnavailableError(UnavailableError):
    """Postgres cannot be reached."""

    code = "database_unavailable"
