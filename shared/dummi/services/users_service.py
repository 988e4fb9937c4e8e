"""Create, read and update users."""

from __future__ import annotations

from dataclasses import dataclass

from dummi.db.connection import Database
from dummi.db.records import UserRecord
from dummi.db.users_repository import UsersRepository
from dummi.services.embedding_queue import EmbeddingQueue


@dataclass(frozen=True)
class UserWithHistory:
    user: UserRecord
    history: list[str]


def create_user(
    db: Database, queue: EmbeddingQueue, user_id: str, interests: list[str], skill_level: str
) -> UserWithHistory:
    """Store the user, then ask for its interests to be embedded (cold-start matching)."""
    with db.transaction() as conn:
        user = UsersRepository(conn).insert(user_id, interests, skill_level)
    if interests:
        queue.enqueue("user", [user_id])
    return UserWithHistory(user, [])


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
