"""``dummi import --data DIR``: bulk load content.jsonl, users.jsonl and interactions (train.jsonl or
interactions.jsonl), one JSON object a line, fields as in the API, and apply deletions.jsonl
(``{"content_id": ...}`` or ``{"user_id": ...}`` a line, with the guarantees of DELETE). Every line is
checked with the API's own schemas; a bad line stops the import and names its file, line and field.
Everything is written in one transaction with COPY: all of it lands, or none. Items and users that exist
are kept as they are (``on_conflict="skip"``) or take the file's fields where they differ ("update")."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError, model_validator

from dummi.api.schemas import ContentCreate, FeedbackCreate, Identifier, InteractionCreate, StrictModel, UserCreate
from dummi.db.connection import Database
from dummi.db.content_repository import ContentRepository
from dummi.db.import_repository import ImportRepository
from dummi.db.users_repository import UsersRepository
from dummi.errors import InvalidRequestError

INTERACTION_FILES = ("interactions.jsonl", "train.jsonl")
FEEDBACK_TYPES = {"positive", "negative", "neutral"}
DELETIONS_FILE = "deletions.jsonl"


@dataclass(frozen=True)
class ImportResult:
    users: int
    content: int
    events: int
    skipped_events: int
    files: list[str]
    users_updated: int = 0
    content_updated: int = 0
    content_deleted: int = 0
    users_deleted: int = 0


class _Deletion(StrictModel):
    content_id: Identifier | None = None
    user_id: Identifier | None = None

    @model_validator(mode="after")
    def _one(self) -> _Deletion:
        if (self.content_id is None) == (self.user_id is None):
            raise ValueError("give one of content_id, user_id")
        return self


def _lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidRequestError(f"{path.name}:{number}: not JSON ({exc.msg})") from None


def _validate(model: type[BaseModel], data: dict[str, Any], where: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise InvalidRequestError(f"{where}: {field}: {err['msg']}", field=field) from None


def import_directory(
    db: Database,
    data_dir: Path,
    *,
    progress: Callable[[str, int], None] | None = None,
    on_conflict: str = "skip",
) -> ImportResult:
    if on_conflict not in ("skip", "update"):
        raise InvalidRequestError(f"on_conflict must be skip or update, not {on_conflict!r}", field="on_conflict")
    update = on_conflict == "update"
    data_dir = Path(data_dir)
    report = progress or (lambda what, n: None)
    files: list[str] = []

    users = []
    if (data_dir / "users.jsonl").exists():
        files.append("users.jsonl")
        for n, raw in _lines(data_dir / "users.jsonl"):
            u = _validate(UserCreate, raw, f"users.jsonl:{n}")
            users.append((u.user_id, u.interests, u.skill_level.value))
        report("users read", len(users))

    content = []
    if (data_dir / "content.jsonl").exists():
        files.append("content.jsonl")
        for n, raw in _lines(data_dir / "content.jsonl"):
            c = _validate(ContentCreate, raw, f"content.jsonl:{n}")
            content.append(
                (
                    c.content_id,
                    c.title,
                    c.category,
                    c.tags,
                    c.description,
                    json.dumps(c.properties),
                    c.hidden,
                    c.available_from.isoformat() if c.available_from else None,
                    c.available_until.isoformat() if c.available_until else None,
                )
            )
        report("content read", len(content))

    events = []
    source = next((data_dir / f for f in INTERACTION_FILES if (data_dir / f).exists()), None)
    if source is not None:
        files.append(source.name)
        for n, raw in _lines(source):
            where = f"{source.name}:{n}"
            at = raw.pop("timestamp", None)
            if "feedback_type" in raw or raw.get("interaction_type") in FEEDBACK_TYPES:
                raw.setdefault("feedback_type", raw.pop("interaction_type", None))
                raw.pop("duration_seconds", None)
                f = _validate(FeedbackCreate, raw, where)
                events.append((f.user_id, f.content_id, "feedback", f.feedback_type.value, None, at))
            else:
                i = _validate(InteractionCreate, raw, where)
                events.append(
                    (i.user_id, i.content_id, "interaction", i.interaction_type.value, i.duration_seconds, at)
                )
            if n % 100_000 == 0:
                report("interactions read", len(events))
        report("interactions read", len(events))

    deletions: list[_Deletion] = []
    if (data_dir / DELETIONS_FILE).exists():
        files.append(DELETIONS_FILE)
        deletions = [_validate(_Deletion, raw, f"{DELETIONS_FILE}:{n}") for n, raw in _lines(data_dir / DELETIONS_FILE)]
        report("deletions read", len(deletions))

    if not files:
        raise InvalidRequestError(f"no content.jsonl, users.jsonl, interactions or {DELETIONS_FILE} in {data_dir}")
    with db.transaction() as conn:
        repo = ImportRepository(conn)
        n_users, users_updated = repo.import_users(users, update=update) if users else (0, 0)
        n_content, content_updated = repo.import_content(content, update=update) if content else (0, 0)
        n_events, skipped = repo.import_events(events) if events else (0, 0)
        # deletions last: a file that adds and deletes the same id leaves it deleted
        content_deleted = sum(ContentRepository(conn).delete(d.content_id) for d in deletions if d.content_id)
        users_deleted = sum(UsersRepository(conn).delete(d.user_id) for d in deletions if d.user_id)
    report("written", n_users + n_content + n_events + users_updated + content_updated)
    return ImportResult(
        n_users,
        n_content,
        n_events,
        skipped,
        files,
        users_updated,
        content_updated,
        content_deleted,
        users_deleted,
    )
