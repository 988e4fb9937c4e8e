"""Fakes that the services' unit tests hand in: a database that counts its transactions, and a unit of work
whose repositories are the in-memory ones a test gives (no Postgres, no network)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any, TypeVar

from dummi.services.unit_of_work import UnitOfWork

T = TypeVar("T")


class FakeDatabase:
    """Runs what it is given on no connection; counts commits, rollbacks and reads."""

    def __init__(self) -> None:
        self.commits = self.rollbacks = self.reads = 0

    @contextmanager
    def transaction(self) -> Iterator[None]:
        try:
            yield None
        except BaseException:
            self.rollbacks += 1
            raise
        self.commits += 1

    def read(self, fn: Callable[[Any], T]) -> T:
        self.reads += 1
        return fn(None)

    def autocommit(self, fn: Callable[[Any], T]) -> T:
        return fn(None)


def fake_work(**repositories: Any) -> tuple[UnitOfWork, FakeDatabase]:
    """A unit of work handing out ``repositories`` (by name: content, users, interactions, ...), and its
    database."""
    db = FakeDatabase()
    repos = SimpleNamespace(**repositories)
    return UnitOfWork(db, repositories=lambda conn: repos), db


class RecordingQueue:
    """An embedding queue that keeps what was asked for."""

    def __init__(self) -> None:
        self.queued: list[tuple[str, list[str]]] = []

    def enqueue(self, kind: str, keys: list[str]) -> None:
        self.queued.append((kind, list(keys)))


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
