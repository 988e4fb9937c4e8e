"""Create, read and update users."""

from __future__ import annotations

from dataclasses import dataclass

from dummi.db.connection import Database
from dummi.db.records import UserRecord
from dummi.db.users_repository import UsersRepository


@dataclass(frozen=True)
class UserWithHistory:
    user: UserRecord
    history: list[str]


def create_user(db: Database, user_id: str, interests: list[str], skill_level: str) -> UserWithHistory:
    with db.transaction() as conn:
        user = UsersRepository(conn).insert(user_id, interests, skill_level)
    return UserWithHistory(user, [])


def get_user(db: Database, user_id: str, *, history_limit: int) -> UserWithHistory:
    def read(conn):
        users = UsersRepository(conn)
        user = users.require(user_id)
        return UserWithHistory(user, users.history(user_id, history_limit))

    return db.read(read)


def update_user(
    db: Database,
    user_id: str,
    *,
    interests: list[str] | None,
    skill_level: str | None,
    history_limit: int,
) -> UserWithHistory:
    with db.transaction() as conn:
        users = UsersRepository(conn)
        user = users.update(user_id, interests=interests, skill_level=skill_level)
        return UserWithHistory(user, users.history(user_id, history_limit))
