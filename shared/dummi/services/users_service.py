"""Create, read, update, delete and export users. Each takes a ``Database`` or a ``UnitOfWork``
(``dummi.services.unit_of_work``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dummi.db.records import UserRecord
from dummi.errors import NotFoundError
from dummi.experiments.assignment import in_traffic, variant_of
from dummi.ml.interests import SuggestedInterest, label, suggest
from dummi.services.embedding_queue import EmbeddingQueue
from dummi.services.unit_of_work import Repositories, Source, UnitOfWork, work_of


@dataclass(frozen=True)
class UserWithHistory:
    user: UserRecord
    history: list[str]
    created: bool = False


def create_user(
    db: Source | UnitOfWork,
    queue: EmbeddingQueue,
    user_id: str,
    interests: list[str],
    skill_level: str,
    *,
    history_limit: int,
) -> UserWithHistory:
    """Store the user, then ask for its interests to be embedded (cold-start matching). A retry with
    identical fields finds the stored user (``created`` False, with its history)."""
    with work_of(db).transaction() as repos:
        users = repos.users
        user, created = users.insert(user_id, interests, skill_level)
        history = [] if created else users.history(user_id, history_limit)
    if interests and created:
        queue.enqueue("user", [user_id])
    return UserWithHistory(user, history, created)


@dataclass(frozen=True)
class InterestSuggestions:
    suggestions: list[SuggestedInterest]
    source: str  # engagement (the last training's) | catalog (no training yet)


def suggested_interests(db: Source | UnitOfWork, user_id: str, n: int) -> InterestSuggestions:
    """Interests worth asking this user about, the user's own left out: the last training's list (greedy
    coverage of engagement), or before any training the same worked out from the catalog's labels."""

    def read(repos: Repositories) -> InterestSuggestions:
        user = repos.users.require(user_id)
        interests = repos.interests
        stored, source = interests.stored()
        if source is not None:
            own = {label(i) for i in user.interests}
            return InterestSuggestions([s for s in stored if label(s.interest) not in own][:n], source)
        items = ((category, tags, 1.0) for category, tags in interests.catalog_labels())
        return InterestSuggestions(suggest(items, exclude=user.interests, n=n), "catalog")

    return work_of(db).read(read)


def get_user(db: Source | UnitOfWork, user_id: str, *, history_limit: int) -> UserWithHistory:
    def read(repos: Repositories) -> UserWithHistory:
        users = repos.users
        user = users.require(user_id)
        return UserWithHistory(user, users.history(user_id, history_limit))

    return work_of(db).read(read)


def update_user(
    db: Source | UnitOfWork,
    queue: EmbeddingQueue,
    user_id: str,
    *,
    interests: list[str] | None,
    skill_level: str | None,
    history_limit: int,
) -> UserWithHistory:
    with work_of(db).transaction() as repos:
        users = repos.users
        before = users.require(user_id)
        user = users.update(user_id, interests=interests, skill_level=skill_level)
        result = UserWithHistory(user, users.history(user_id, history_limit))
    if interests is not None and interests != before.interests:
        queue.enqueue("user", [user_id])
    return result


def delete_user(db: Source | UnitOfWork, user_id: str) -> None:
    """One transaction: the user's profile, interests and their embedding, interactions, feedback and logged
    answers go (experiment assignments are a hash of the id: nothing is stored). Aggregated online metrics
    keep their counts and hold no user id. The same id created again starts empty. Models: serving reads the
    user's state per request (none is cached), and the next training run replaces and prunes every model
    version trained before the deletion (``dummi.training.stages.publish``)."""
    with work_of(db).transaction() as repos:
        if not repos.users.delete(user_id):
            raise NotFoundError("user", user_id, field="user_id")


def export_user(db: Source | UnitOfWork, user_id: str) -> dict[str, Any]:
    """Everything stored about the user as one document: profile and interests, every interaction and
    feedback event (with the answer each is attributed to), every logged answer with its recommendation id,
    and the user's experiment assignments."""
    # experiments_service imports numpy (through experiments.overrides): the users function ships without it
    from dummi.services.experiments_service import list_all, status

    def read(repos: Repositories) -> dict[str, Any]:
        found = repos.users.export(user_id)
        if found is None:
            raise NotFoundError("user", user_id, field="user_id")
        found["impressions"] = repos.impressions.for_user(user_id)
        return found

    work = work_of(db)
    document = work.read(read)
    document["assignments"] = [
        {"experiment": e.name, "variant": variant_of(e, user_id).name, "status": status(e)}
        for e in list_all(work)
        if in_traffic(e, user_id)
    ]
    document["exported_at"] = datetime.now(UTC).isoformat()
    return document
