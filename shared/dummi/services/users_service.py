"""Create, read and update users."""

from __future__ import annotations

from dataclasses import dataclass

from dummi.db.connection import Database
from dummi.db.interests_repository import InterestsRepository
from dummi.db.records import UserRecord
from dummi.db.users_repository import UsersRepository
from dummi.ml.interests import SuggestedInterest, label, suggest
from dummi.services.embedding_queue import EmbeddingQueue


@dataclass(frozen=True)
class UserWithHistory:
    user: UserRecord
    history: list[str]
    created: bool = False


def create_user(
    db: Database, queue: EmbeddingQueue, user_id: str, interests: list[str], skill_level: str, *, history_limit: int
) -> UserWithHistory:
    """Store the user, then ask for its interests to be embedded (cold-start matching). A retry with
    identical fields finds the stored user (``created`` False, with its history)."""
    with db.transaction() as conn:
        users = UsersRepository(conn)
        user, created = users.insert(user_id, interests, skill_level)
        history = [] if created else users.history(user_id, history_limit)
    if interests and created:
        queue.enqueue("user", [user_id])
    return UserWithHistory(user, history, created)


@dataclass(frozen=True)
class InterestSuggestions:
    suggestions: list[SuggestedInterest]
    source: str  # engagement (the last training's) | catalog (no training yet)


def suggested_interests(db: Database, user_id: str, n: int) -> InterestSuggestions:
    """Interests worth asking this user about, the user's own left out: the last training's list (greedy
    coverage of engagement), or before any training the same worked out from the catalog's labels."""

    def read(conn) -> InterestSuggestions:
        user = UsersRepository(conn).require(user_id)
        interests = InterestsRepository(conn)
        stored, source = interests.stored()
        if source is not None:
            own = {label(i) for i in user.interests}
            return InterestSuggestions([s for s in stored if label(s.interest) not in own][:n], source)
        items = ((category, tags, 1.0) for category, tags in interests.catalog_labels())
        return InterestSuggestions(suggest(items, exclude=user.interests, n=n), "catalog")

    return db.read(read)


def get_user(db: Database, user_id: str, *, history_limit: int) -> UserWithHistory:
    def read(conn):
        users = UsersRepository(conn)
        user = users.require(user_id)
        return UserWithHistory(user, users.history(user_id, history_limit))

    return db.read(read)


def update_user(
    db: Database,
    queue: EmbeddingQueue,
    user_id: str,
    *,
    interests: list[str] | None,
    skill_level: str | None,
    history_limit: int,
) -> UserWithHistory:
    with db.transaction() as conn:
        users = UsersRepository(conn)
        before = users.require(user_id)
        user = users.update(user_id, interests=interests, skill_level=skill_level)
        result = UserWithHistory(user, users.history(user_id, history_limit))
    if interests is not None and interests != before.interests:
        queue.enqueue("user", [user_id])
    return result
