"""``dummi import --data DIR``: bulk load content.jsonl, users.jsonl and interactions (train.jsonl or
interactions.jsonl), one JSON object a line, fields as in the API, and apply deletions.jsonl
(``{"content_id": ...}`` or ``{"user_id": ...}`` a line, with the guarantees of DELETE). Every line is
checked with the API's own schemas. By default (``on_error="stop"``) a bad line stops the import and names
its file, line and field, and nothing is written; with ``on_error="skip"`` every valid line is imported and
each bad one is returned as a :class:`Reject` (file, line, field, message) instead. Everything is written in
one transaction with COPY: all of what is imported lands, or none of it. Items and users that exist are kept
as they are (``on_conflict="skip"``) or take the file's fields where they differ ("update")."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError, model_validator

from dummi.db.connection import Database
from dummi.db.content_repository import ContentRepository
from dummi.db.import_repository import OPTIONAL_CONTENT_FIELDS, ImportRepository
from dummi.db.trending_repository import TrendingRepository
from dummi.db.users_repository import UsersRepository
from dummi.domain.inputs import (
    ContentCreate,
    FeedbackCreate,
    Identifier,
    InteractionCreate,
    StrictModel,
    UserCreate,
    ahead_of_now,
    field_error,
    located,
)
from dummi.errors import InvalidRequestError
from dummi.services.event_types_service import defined_names, require_defined
from dummi.services.unit_of_work import Repositories

INTERACTION_FILES = ("interactions.jsonl", "train.jsonl")
FEEDBACK_TYPES = {"positive", "negative", "neutral"}
DELETIONS_FILE = "deletions.jsonl"
ON_ERROR = ("stop", "skip")


@dataclass(frozen=True)
class Reject:
    """A line left out by ``on_error="skip"``: where it is, the field at fault ("" for the whole line) and why."""

    file: str
    line: int
    field: str
    message: str

    def as_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)


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
    rejects: list[Reject] = field(default_factory=list)
    # the skipped events (naming a user or an item that does not exist), by line: the first MAX_SKIPPED_NAMED
    skipped: list[Reject] = field(default_factory=list)


class _Deletion(StrictModel):
    content_id: Identifier | None = None
    user_id: Identifier | None = None

    @model_validator(mode="after")
    def _one(self) -> _Deletion:
        if (self.content_id is None) == (self.user_id is None):
            raise field_error("content_id", "give one of content_id, user_id")
        return self


class _LineError(Exception):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field, self.message = field, message


class _Reader:
    """The files' lines as JSON objects; a bad line stops everything (``stop``) or becomes a reject (``skip``)."""

    def __init__(self, on_error: str, data_dir: Path, report: Callable[[str, int], None]):
        self.skip = on_error == "skip"
        self.rejects: list[Reject] = []
        self.files: list[str] = []
        self.data_dir, self.report = data_dir, report

    def load(
        self, name: str, parse: Callable[[dict[str, Any]], Any], what: str, key: str | None = None, numbered=False
    ) -> list:
        """The good rows of one file; with ``key``, a line repeating an earlier line's id is a bad line (one
        statement cannot write a row twice); ``numbered``: each row ends with its line number."""
        self.files.append(name)
        rows, first_line = [], {}
        for n, raw in self.lines(self.data_dir / name):
            try:
                row = parse(raw)
                if key is not None and first_line.setdefault(row[0], n) != n:
                    raise _LineError(key, f"{row[0]!r} is on line {first_line[row[0]]} already")
            except _LineError as exc:
                self.fail(name, n, exc)
                continue
            rows.append((*row, n) if numbered else row)
            if len(rows) % 100_000 == 0:
                self.report(f"{what} read", len(rows))
        self.report(f"{what} read", len(rows))
        return rows

    def windows_ending_too_soon(self, lines: list[int]) -> None:
        """content.jsonl lines whose available_until falls before the start their item keeps."""
        for line in lines:
            error = _LineError("available_until", "must be after available_from (the stored one, kept)")
            self.fail("content.jsonl", line, error)

    def lines(self, path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    raw = json.loads(line)
                except json.JSONDecodeError as exc:
                    self.fail(path.name, number, _LineError("", f"not JSON ({exc.msg})"))
                    continue
                if not isinstance(raw, dict):
                    self.fail(path.name, number, _LineError("", "not a JSON object"))
                    continue
                yield number, raw

    def fail(self, file: str, line: int, error: _LineError) -> None:
        if not self.skip:
            where = f"{file}:{line}: " + (f"{error.field}: " if error.field else "")
            raise InvalidRequestError(where + error.message, field=error.field or None)
        self.rejects.append(Reject(file, line, error.field, error.message))


def _validate(model: type[BaseModel], data: dict[str, Any]) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise _LineError(".".join(str(p) for p in located(err)), err["msg"]) from None


def _timestamp(raw: dict[str, Any]) -> str | None:
    """The line's ``timestamp`` (ISO 8601) or None (now); checked here, so that a bad one names its line."""
    at = raw.pop("timestamp", None)
    if at is None:
        return None
    try:
        if not isinstance(at, str):
            raise ValueError
        when = datetime.fromisoformat(at)
    except ValueError:
        raise _LineError("timestamp", f"not an ISO 8601 date and time: {at!r}") from None
    # a time without a zone is stored as Postgres reads it (the session's zone); UTC for the bound only
    if ahead_of_now(when):
        raise _LineError("timestamp", f"{at!r} is in the future: an imported event has happened already")
    return when.isoformat()


def _event(raw: dict[str, Any], defined: frozenset[str] | None = None) -> tuple:
    """One event line; an interaction type not among ``defined`` (None: any) is a bad line."""
    at = _timestamp(raw)
    if "feedback_type" in raw or raw.get("interaction_type") in FEEDBACK_TYPES:
        raw.setdefault("feedback_type", raw.pop("interaction_type", None))
        raw.pop("duration_seconds", None)
        f = _validate(FeedbackCreate, raw)
        _named_user(f)
        return (f.user_id, f.content_id, "feedback", f.feedback_type.value, None, at)
    i = _validate(InteractionCreate, raw)
    _named_user(i)
    if defined is not None and i.interaction_type not in defined:
        raise _LineError("interaction_type", f"unknown event type {i.interaction_type!r} (GET /event-types lists them)")
    return (i.user_id, i.content_id, "interaction", i.interaction_type, i.duration_seconds, at)


def _named_user(event) -> None:
    """An imported event is a user's: anonymous sessions' events come through the API only."""
    if event.user_id is None or event.session_id is not None:
        raise _LineError("user_id", "an imported event names a user_id and no session_id")


def _content(raw: dict[str, Any]) -> tuple:
    c = _validate(ContentCreate, raw)
    return (
        c.content_id,
        c.title,
        c.category,
        c.tags,
        c.description,
        json.dumps(c.properties),
        c.hidden,
        c.available_from.isoformat() if c.available_from else None,
        c.available_until.isoformat() if c.available_until else None,
        sorted(set(raw) & set(OPTIONAL_CONTENT_FIELDS)),  # the line's own keys (a validator sets tags)
    )


def _user(raw: dict[str, Any]) -> tuple:
    u = _validate(UserCreate, raw)
    return (u.user_id, u.interests, u.skill_level.value, sorted(set(raw) & {"interests", "skill_level"}))


def import_directory(
    db: Database,
    data_dir: Path,
    *,
    progress: Callable[[str, int], None] | None = None,
    on_conflict: str = "skip",
    on_error: str = "stop",
) -> ImportResult:
    if on_conflict not in ("skip", "update"):
        raise InvalidRequestError(f"on_conflict must be skip or update, not {on_conflict!r}", field="on_conflict")
    if on_error not in ON_ERROR:
        raise InvalidRequestError(f"on_error must be stop or skip, not {on_error!r}", field="on_error")
    update = on_conflict == "update"
    data_dir = Path(data_dir)
    report = progress or (lambda what, n: None)
    read = _Reader(on_error, data_dir, report)
    load, files = read.load, read.files

    users = load("users.jsonl", _user, "users", "user_id") if (data_dir / "users.jsonl").exists() else []
    has_content = (data_dir / "content.jsonl").exists()
    content = load("content.jsonl", _content, "content", "content_id", numbered=True) if has_content else []
    source = next((f for f in INTERACTION_FILES if (data_dir / f).exists()), None)
    defined = defined_names(db) if source is not None else frozenset()
    events = load(source, lambda raw: _event(raw, defined), "interactions", numbered=True) if source else []
    deletions: list[_Deletion] = []
    if (data_dir / DELETIONS_FILE).exists():
        deletions = load(DELETIONS_FILE, lambda raw: _validate(_Deletion, raw), "deletions")

    if not files:
        raise InvalidRequestError(f"no content.jsonl, users.jsonl, interactions or {DELETIONS_FILE} in {data_dir}")
    with db.transaction() as conn:
        repo = ImportRepository(conn)
        n_users, users_updated = repo.import_users(users, update=update) if users else (0, 0)
        refuse = read.windows_ending_too_soon
        n_content, content_updated = repo.import_content(content, update=update, refuse=refuse) if content else (0, 0)
        require_defined(Repositories(conn), {e[3] for e in events if e[2] == "interaction"})  # none deleted since read
        n_events, skipped, named = repo.import_events(events) if events else (0, 0, [])
        if events:  # old timestamps land in hours trending has counted: they are counted again
            TrendingRepository(conn).mark_late(*repo.imported_span())
        # deletions last: a file that adds and deletes the same id leaves it deleted
        content_deleted = sum(ContentRepository(conn).delete(d.content_id) for d in deletions if d.content_id)
        users_deleted = sum(UsersRepository(conn).delete(d.user_id) for d in deletions if d.user_id)
    report("written", n_users + n_content + n_events + users_updated + content_updated)
    unknown = [Reject(source or "", line, field, f"no {field[:-3]} {value!r}: skipped") for line, field, value in named]
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
        read.rejects,
        unknown,
    )
