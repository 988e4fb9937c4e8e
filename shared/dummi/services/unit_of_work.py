"""A unit of work: what a service asks for instead of a connection. It runs a function in one read, or a block
in one transaction, and hands out the repositories of that connection.

Services take a ``Database`` (what the routes, the CLI and the jobs hold) or a ``UnitOfWork``: given a
``Database`` they build the real one (``work_of``), so a unit test can hand in a ``UnitOfWork`` over a fake
database whose repositories are fakes (``UnitOfWork(db, repositories=...)``) and never touch Postgres."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import cached_property
from typing import Protocol, TypeVar

from dummi.db.connection import Connection
from dummi.db.content_repository import ContentRepository
from dummi.db.event_types_repository import EventTypesRepository
from dummi.db.experiments_repository import ExperimentsRepository
from dummi.db.impressions_repository import ImpressionsRepository
from dummi.db.interactions_repository import InteractionsRepository
from dummi.db.interests_repository import InterestsRepository
from dummi.db.promotions_repository import PromotionsRepository
from dummi.db.recommendations_repository import RecommendationsRepository
from dummi.db.service_secrets_repository import ServiceSecretsRepository
from dummi.db.sessions_repository import SessionsRepository
from dummi.db.trending_repository import TrendingRepository
from dummi.db.users_repository import UsersRepository

T = TypeVar("T")


class Source(Protocol):
    """What a unit of work runs on: ``dummi.db.connection.Database``, ``dummi.db.replica.ReadRouted``."""

    def transaction(self) -> AbstractContextManager[Connection]: ...

    def read(self, fn: Callable[[Connection], T]) -> T: ...

    def autocommit(self, fn: Callable[[Connection], T]) -> T: ...


class Repositories:
    """The repositories of one connection, each made when first asked for."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    @cached_property
    def content(self) -> ContentRepository:
        return ContentRepository(self.conn)

    @cached_property
    def users(self) -> UsersRepository:
        return UsersRepository(self.conn)

    @cached_property
    def interactions(self) -> InteractionsRepository:
        return InteractionsRepository(self.conn)

    @cached_property
    def impressions(self) -> ImpressionsRepository:
        return ImpressionsRepository(self.conn)

    @cached_property
    def interests(self) -> InterestsRepository:
        return InterestsRepository(self.conn)

    @cached_property
    def recommendations(self) -> RecommendationsRepository:
        return RecommendationsRepository(self.conn)

    @cached_property
    def experiments(self) -> ExperimentsRepository:
        return ExperimentsRepository(self.conn)

    @cached_property
    def event_types(self) -> EventTypesRepository:
        return EventTypesRepository(self.conn)

    @cached_property
    def sessions(self) -> SessionsRepository:
        return SessionsRepository(self.conn)

    @cached_property
    def service_secrets(self) -> ServiceSecretsRepository:
        return ServiceSecretsRepository(self.conn)

    @cached_property
    def promotions(self) -> PromotionsRepository:
        return PromotionsRepository(self.conn)

    @cached_property
    def trending(self) -> TrendingRepository:
        return TrendingRepository(self.conn)


class UnitOfWork:
    """Reads and transactions on ``db``, each handing ``repositories(conn)`` to the caller."""

    def __init__(self, db: Source, repositories: Callable[[Connection], Repositories] = Repositories) -> None:
        self.db = db
        self._repositories = repositories

    @contextmanager
    def transaction(self) -> Iterator[Repositories]:
        """One transaction: committed when the block ends, rolled back when it raises."""
        with self.db.transaction() as conn:
            yield self._repositories(conn)

    def read(self, fn: Callable[[Repositories], T]) -> T:
        """``fn(repositories)`` in one read (autocommit, retried once on a dropped connection)."""
        return self.db.read(lambda conn: fn(self._repositories(conn)))

    def autocommit(self, fn: Callable[[Repositories], T]) -> T:
        """``fn(repositories)`` in autocommit mode: a single statement that is safe to repeat."""
        return self.db.autocommit(lambda conn: fn(self._repositories(conn)))


def work_of(db: Source | UnitOfWork) -> UnitOfWork:
    """The unit of work a service runs on: ``db`` itself when it is one, else the real one over ``db``."""
    return db if isinstance(db, UnitOfWork) else UnitOfWork(db)
