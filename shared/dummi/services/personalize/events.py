"""PutEvents, PutItems and PutUsers on Dummi's own tables and services.

- PutEvents: one transaction for the whole list (all stored or none). Each event's ``eventType`` is one of
  Dummi's event types by its name, else mapped by the table of ``services.personalize.event_types``;
  ``eventValue`` is the duration of a ``view_time``; ``sentAt`` is the event's time; ``eventId`` makes a retry
  store nothing new; ``recommendationId`` (Dummi's own, a UUID) and otherwise the attribution window attribute
  it. A user the events name is created if unknown (Personalize learns users from their events). The
  ``sessionId`` is Dummi's anonymous session (``services.sessions_service``): without a ``userId`` the events
  are the session's anonymous events (no user); with both, the session's earlier anonymous events join the
  user first (once), as on POST /interactions/ (a ``sessionId`` that is not an id as Dummi's routes take one
  is the session ``pz-<hash>``). The session, the value and type as sent, the impression list
  and the event's properties are also kept beside each event (``personalize_events``).
- PutItems / PutUsers: each record upserted as Dummi's own routes create or change one (new text is embedded
  through the same queue). ``item_fields`` and ``user_fields`` map Personalize's camelCase ``properties``.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from dummi.config import get_settings
from dummi.db.interactions_repository import InteractionsRepository
from dummi.db.personalize_repository import PersonalizeEventsRepository
from dummi.db.trending_repository import UNMARKED_LATENESS
from dummi.domain.inputs import MAX_CLOCK_AHEAD_SECONDS, MAX_DURATION_SECONDS, ahead_of_now
from dummi.errors import InvalidRequestError
from dummi.services import content_service, sessions_service, users_service
from dummi.services.embedding_queue import EmbeddingQueue
from dummi.services.impressions_service import attribute
from dummi.services.personalize.event_types import EventTypeTable
from dummi.services.unit_of_work import Source, UnitOfWork, work_of

DEFAULT_CATEGORY = "uncategorized"
MAX_PROPERTY_TEXT = 256  # a property's text holds at most this (dummi.api.schemas)
DEFAULT_SKILL_LEVEL = "beginner"
SKILL_LEVELS = ("beginner", "intermediate", "advanced", "expert")
ITEM_FIELDS = ("content_id", "title", "category", "tags", "description", "properties")
_EVENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")  # an id, as Dummi's routes take one


@dataclass(frozen=True, slots=True)
class EventIn:
    event_type: str
    item_id: str
    sent_at: datetime
    event_value: float | None = None
    event_id: str | None = None
    recommendation_id: str | None = None
    impression: list[str] | None = None
    properties: dict[str, Any] | None = None


def dummi_event_id(event_id: str | None) -> str | None:
    """Personalize's ``eventId`` (up to 256 characters of anything) as Dummi's (its own when it fits)."""
    return None if event_id is None else _own_or_hashed(event_id)


def dummi_session_id(session_id: str) -> str:
    """Personalize's ``sessionId`` (up to 256 characters of anything) as Dummi's session, an id as Dummi's own
    routes take one (its own when it is one), so that POST /recommendations/ can name it."""
    return _own_or_hashed(session_id)


def _own_or_hashed(value: str) -> str:
    return value if _EVENT_ID.match(value) else "pz-" + hashlib.sha256(value.encode()).hexdigest()[:40]


def _recommendation_uuid(value: str | None) -> str | None:
    """Dummi's recommendation ids are UUIDs; anything else (an id Personalize itself gave) names no answer here."""
    if value is None:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def put_events(
    db: Source | UnitOfWork, event_types: EventTypeTable, *, user_id: str | None, session_id: str, events: list[EventIn]
) -> list[int]:
    """Store every event or none; the interaction ids stored (a retried event: its first id). Without a
    ``user_id`` the events are the session's anonymous ones."""
    user, session = user_id or None, dummi_session_id(session_id)
    for n, event in enumerate(events):  # a time in the future would count now in trending, and again later
        if ahead_of_now(event.sent_at):
            raise InvalidRequestError(
                f"eventList.{n}.sentAt is {event.sent_at.isoformat()}, more than {MAX_CLOCK_AHEAD_SECONDS // 60}"
                " minutes ahead of the server's clock (an event has happened already)",
                field="sentAt",
            )
    settings = get_settings()
    window = timedelta(minutes=settings.dummi_attribution_window_minutes)
    retention = timedelta(days=settings.dummi_impression_retention_days)
    stored = []
    with work_of(db).transaction() as repos:
        # Dummi's event types these events may name, locked against deletion until they are written
        wanted = sorted({name for e in events for name in event_types.candidates(e.event_type)})
        defined = repos.event_types.lock_for_use(wanted)
        mapped = [event_types.map(e.event_type, defined) for e in events]  # an unknown type refuses the call
        if user is not None and repos.users.get(user) is None:
            repos.users.insert(user, [], DEFAULT_SKILL_LEVEL)
        sessions_service.merge_in(repos, session, user)  # the session's anonymous events join the user
        interactions, extras = repos.interactions, PersonalizeEventsRepository(repos.conn)
        for event, kind in zip(events, mapped, strict=True):
            duration = event.event_value if kind.event_type == "view_time" else None
            if duration is not None and not 0 <= duration <= MAX_DURATION_SECONDS:
                raise InvalidRequestError(
                    f"eventValue of a view is its duration in seconds: 0 to {MAX_DURATION_SECONDS}", field="eventValue"
                )
            attribution = attribute(
                repos.impressions,
                user,
                event.item_id,
                _recommendation_uuid(event.recommendation_id),
                window=window,
                retention=retention,
                session_id=session,
            )
            event_id = dummi_event_id(event.event_id)
            record = interactions.add(
                _owner(interactions, user, session, event_id),
                event.item_id,
                kind=kind.kind,
                event_type=kind.event_type,
                duration_seconds=duration,
                created_at=event.sent_at,
                event_id=event_id,
                attribution=attribution,
                session_id=session,
            )
            extras.keep(
                record.interaction_id,
                session_id=session_id,
                event_type=event.event_type,
                event_value=event.event_value,
                impression=event.impression,
                properties=event.properties,
            )
            stored.append(record.interaction_id)
        # a client that buffered its events sends some an hour or more late: trending counts their hours again
        earliest = min(e.sent_at for e in events)
        if earliest < datetime.now(UTC) - UNMARKED_LATENESS:
            repos.trending.mark_late(earliest, max(e.sent_at for e in events))
    return stored


def _owner(interactions: InteractionsRepository, user: str | None, session: str, event_id: str | None) -> str | None:
    """Whose event this is: the user; for an anonymous event sent again (a retry) after its session joined a
    user, that user (the stored event, so the retry stores nothing new rather than conflicting)."""
    if user is not None or event_id is None:
        return user
    stored = interactions.by_event_id(event_id)
    return stored.user_id if stored is not None and stored.session_id == session else None


# -- items and users -----------------------------------------------------------------------------------
def split_values(value: Any) -> list[str]:
    """Personalize's multi-valued text: ``"Action|Comedy"`` -> ``["Action", "Comedy"]``."""
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [part.strip() for part in str(value).split("|") if part.strip()]


def item_fields(item_id: str, properties: Mapping[str, Any]) -> dict[str, Any]:
    """Personalize's item ``properties`` as Dummi's content fields: ``title`` (default: the item id),
    ``category`` (else ``categoryL1``, else the first of ``genres``; default ``uncategorized``), ``tags``
    (pipe-separated), ``description``. Every key but ``category`` and ``tags`` (Dummi's own columns, which
    filters read as ``Items.CATEGORY`` / ``Items.TAGS``) is also kept as a property under its own name, so that
    every field stays filterable (``Items.TITLE``, ``Items.CATEGORY_L1``, ``Items.GENRES``, ...); a title or
    description longer than a property holds is kept in its field only."""
    rest = dict(properties)
    category = rest.pop("category", None) or rest.get("categoryL1")
    tags = split_values(rest.pop("tags", None))
    title, description = rest.get("title"), rest.get("description")
    for key in ("title", "description"):
        if not isinstance(rest.get(key), str) or len(rest[key]) > MAX_PROPERTY_TEXT:
            rest.pop(key, None)
    if not category:
        genres = split_values(rest.get("genres"))
        category = genres[0] if genres else DEFAULT_CATEGORY
    return {
        "content_id": item_id,
        "title": str(title) if title not in (None, "") else item_id,
        "category": str(category),
        "tags": list(dict.fromkeys(tags)),
        "description": str(description) if description is not None else "",
        "properties": rest,
    }


def user_fields(properties: Mapping[str, Any]) -> dict[str, Any]:
    """Personalize's user ``properties``: ``interests`` (pipe-separated) and ``skillLevel``; Dummi keeps no
    other user attribute."""
    fields: dict[str, Any] = {"interests": split_values(properties.get("interests"))}
    skill = properties.get("skillLevel")
    if skill is not None:
        if str(skill).lower() not in SKILL_LEVELS:
            raise InvalidRequestError(
                f"skillLevel {skill!r} is not one of {', '.join(SKILL_LEVELS)}", field="properties.skillLevel"
            )
        fields["skill_level"] = str(skill).lower()
    return fields


def upsert_item(db: Source | UnitOfWork, queue: EmbeddingQueue, fields: dict[str, Any]) -> None:
    """Create the item, or replace its fields (changed text is embedded again, as on PUT /content)."""
    content_id = fields["content_id"]
    exists = work_of(db).read(lambda repos: repos.content.get(content_id)) is not None
    if not exists:
        content_service.create_content(
            db,
            queue,
            content_id,
            fields["title"],
            fields["category"],
            fields["tags"],
            fields["description"],
            properties=fields["properties"],
        )
        return
    changes = {k: v for k, v in fields.items() if k != "content_id"}
    content_service.update_content(db, queue, content_id, changes)


def upsert_user(db: Source | UnitOfWork, queue: EmbeddingQueue, user_id: str, fields: dict[str, Any]) -> None:
    exists = work_of(db).read(lambda repos: repos.users.get(user_id)) is not None
    if not exists:
        skill = fields.get("skill_level", DEFAULT_SKILL_LEVEL)
        users_service.create_user(db, queue, user_id, fields["interests"], skill, history_limit=0)
        return
    users_service.update_user(
        db, queue, user_id, interests=fields["interests"], skill_level=fields.get("skill_level"), history_limit=0
    )
