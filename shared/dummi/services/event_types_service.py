"""Event types: the interaction types a product may send and their weights (``dummi.ml.interactions``).

The built-in four (like 5, click 2, view_time 1, skip -1) keep their names and meaning and cannot be
deleted; their weights may be tuned like any other (``PUT`` with the default puts one back). A custom type
can be deleted while no stored event names it. Training reads the weights at the start of a run; serving
re-reads them every few seconds (:class:`EventTypesCache`) for the real-time fold-in."""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from dummi.domain.events import EventTypeRecord
from dummi.errors import InvalidRequestError, UnavailableError
from dummi.services.unit_of_work import Repositories, Source, UnitOfWork, work_of

if TYPE_CHECKING:
    from dummi.ml.interactions import EventTypes

NAME_PATTERN = r"^[a-z0-9_]{1,40}$"
MAX_WEIGHT = 100.0
MAX_DESCRIPTION_LENGTH = 1000
RESERVED = frozenset({"positive", "negative", "neutral"})  # feedback's own types
_NAME = re.compile(NAME_PATTERN)


def list_types(db: Source | UnitOfWork) -> list[EventTypeRecord]:
    return work_of(db).read(lambda repos: repos.event_types.list())


def put_type(
    db: Source | UnitOfWork, name: str, weight: float, description: str | None = None
) -> tuple[EventTypeRecord, bool]:
    """Define ``name`` with ``weight`` or change its weight; (the type, whether it is new)."""
    check_name(name)
    if not math.isfinite(weight) or abs(weight) > MAX_WEIGHT:
        raise InvalidRequestError(f"weight must be between -{MAX_WEIGHT:g} and {MAX_WEIGHT:g}", field="weight")
    with work_of(db).transaction() as repos:
        return repos.event_types.put(name, float(weight), description)


def delete_type(db: Source | UnitOfWork, name: str) -> EventTypeRecord:
    check_name(name)
    with work_of(db).transaction() as repos:
        return repos.event_types.delete(name)


def check_name(name: str) -> None:
    if not _NAME.match(name):
        raise InvalidRequestError("an event type's name is 1 to 40 of a-z, 0-9 and _", field="name")
    if name in RESERVED:
        raise InvalidRequestError(f"{name!r} is a feedback type (POST /recommendations/feedback)", field="name")


def require_defined(repos: Repositories, names: Iterable[str], *, field: str = "interaction_type") -> None:
    """Refuse (422 naming ``field``) any of ``names`` that is not a defined event type; the defined ones stay
    locked against deletion until the transaction ends."""
    wanted = sorted(set(names))
    if not wanted:
        return
    unknown = [n for n in wanted if n not in repos.event_types.lock_for_use(wanted)]
    if unknown:
        raise InvalidRequestError(
            f"unknown {field} {unknown[0]!r}: define it with PUT /event-types/{{name}} (GET /event-types lists them)",
            field=field,
        )


def defined_names(db: Source | UnitOfWork) -> frozenset[str]:
    return frozenset(work_of(db).read(lambda repos: repos.event_types.weights()))


def event_types(db: Source | UnitOfWork) -> EventTypes:
    # numpy comes with dummi.ml: imported here, the interactions function (which only checks names) loads none
    from dummi.ml.interactions import EventTypes

    return EventTypes(work_of(db).read(lambda repos: repos.event_types.weights()))


def click_types(db: Source | UnitOfWork) -> list[str]:
    """What every online figure counts as a click on a shown item (``EventTypes.clicks``: click and each custom
    type with a positive weight): the online metrics, experiments' results, promotions' figures, exploration's
    counts and the evaluation of its policies."""
    return sorted(event_types(db).clicks())


class EventTypesCache:
    """The event types as a serving process knows them: re-read at most every ``refresh`` seconds (one small
    query), the last good ones kept when a read fails."""

    def __init__(self, refresh: float) -> None:
        self._refresh = refresh
        self._types: EventTypes | None = None
        self._checked: float | None = None
        self._lock = threading.Lock()

    def get(self, db: Source | UnitOfWork) -> EventTypes:
        now = time.monotonic()
        if self._types is not None and self._checked is not None and now - self._checked < self._refresh:
            return self._types
        with self._lock:
            if self._types is None or self._checked is None or time.monotonic() - self._checked >= self._refresh:
                try:
                    self._types = event_types(db)
                except UnavailableError:
                    if self._types is None:
                        raise
                self._checked = time.monotonic()
        return self._types
