"""Load ``data/sample_data.json`` into an empty project, once per database."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from dummi.db.connection import Database
from dummi.db.content_repository import ContentRepository
from dummi.db.interactions_repository import InteractionsRepository
from dummi.db.state_repository import StateRepository
from dummi.db.users_repository import UsersRepository
from dummi.domain.inputs import ContentCreate, FeedbackCreate, InteractionCreate, UserCreate
from dummi.errors import ConflictError
from dummi.services.interactions_service import KIND_FEEDBACK, KIND_INTERACTION

STATE_KEY = "sample_data_loaded"


@dataclass(frozen=True)
class LoadResult:
    loaded: bool
    users: int = 0
    content: int = 0
    events: int = 0


def load_sample_data(db: Database, path: Path) -> LoadResult:
    """Insert the file's users, content, interactions and feedback in one transaction, unless a previous
    call did or the database holds users or items already (the sample is for an empty project, not one
    restored from a backup). Every record goes through the API's own schemas, so the sample obeys the API's
    bounds."""
    data = json.loads(path.read_text(encoding="utf-8"))
    users = [UserCreate.model_validate(u) for u in data.get("users", [])]
    content = [ContentCreate.model_validate(c) for c in data.get("content", [])]
    events: list[tuple[str, str, str, str, float | None, datetime]] = []
    for raw in data.get("interactions", []):
        item = InteractionCreate.model_validate({k: v for k, v in raw.items() if k != "timestamp"})
        events.append(
            (
                item.user_id,
                item.content_id,
                KIND_INTERACTION,
                item.interaction_type.value,
                item.duration_seconds,
                datetime.fromisoformat(raw["timestamp"]),
            )
        )
    for raw in data.get("feedback", []):
        fb = FeedbackCreate.model_validate({k: v for k, v in raw.items() if k != "timestamp"})
        events.append(
            (
                fb.user_id,
                fb.content_id,
                KIND_FEEDBACK,
                fb.feedback_type.value,
                None,
                datetime.fromisoformat(raw["timestamp"]),
            )
        )

    with db.transaction() as conn:
        state = StateRepository(conn)
        if state.get(STATE_KEY) is None and state.holds_data():
            return LoadResult(loaded=False)  # not an empty project (e.g. one restored from a backup): leave it be
        if not state.set_once(STATE_KEY, {"file": path.name}):
            return LoadResult(loaded=False)
        result = LoadResult(loaded=True)
        n_users = n_content = 0
        for user in users:
            try:
                n_users += UsersRepository(conn).insert(user.user_id, user.interests, user.skill_level.value)[1]
            except ConflictError:
                pass
        for item in content:
            try:
                n_content += ContentRepository(conn).insert(
                    item.content_id, item.title, item.category, item.tags, item.description
                )[1]
            except ConflictError:
                pass
        interactions = InteractionsRepository(conn)
        for user_id, content_id, kind, event_type, duration, at in events:
            interactions.add(
                user_id, content_id, kind=kind, event_type=event_type, duration_seconds=duration, created_at=at
            )
        result = LoadResult(loaded=True, users=n_users, content=n_content, events=len(events))
    return result
