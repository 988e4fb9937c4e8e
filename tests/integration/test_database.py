"""The connection layer against a real Postgres: reconnects, atomic transactions, clear unavailability."""

import threading

import pytest

from dummi.db.connection import Database
from dummi.db.migrations import migrate
from dummi.db.users_repository import UsersRepository
from dummi.errors import ConflictError, DatabaseUnavailableError


def _backend_pid(db: Database) -> int:
    return db.read(lambda conn: conn.run("SELECT pg_backend_pid()")[0][0])


def _kill_backend(url: str, pid: int) -> None:
    with Database(url).transaction() as conn:
        assert conn.run("SELECT pg_terminate_backend(:pid)", pid=pid)[0][0]


def test_one_connection_is_reused_across_units_of_work(migrated):
    db = Database(migrated, pool_size=1)
    first = _backend_pid(db)
    with db.transaction() as conn:
        in_transaction = conn.run("SELECT pg_backend_pid()")[0][0]
    assert first == _backend_pid(db) == in_transaction


def test_an_exhausted_pool_fails_clearly_instead_of_waiting_forever(migrated):
    db = Database(migrated, pool_size=1, acquire_timeout=0.2)
    with db.transaction():
        with pytest.raises(DatabaseUnavailableError, match="no database connection free"):
            db.read(lambda conn: conn.run("SELECT 1"))


@pytest.mark.parametrize("unit", ["read", "transaction"])
def test_a_dropped_connection_is_replaced_once(migrated, unit):
    db = Database(migrated, pool_size=1)
    first = _backend_pid(db)
    _kill_backend(migrated, first)  # what an idle timeout, a failover or a DB restart does
    if unit == "read":
        second = _backend_pid(db)
    else:
        with db.transaction() as conn:
            second = conn.run("SELECT pg_backend_pid()")[0][0]
    assert second != first


def test_a_failed_transaction_writes_nothing(db):
    with pytest.raises(ConflictError):
        with db.transaction() as conn:
            users = UsersRepository(conn)
            users.insert("first", [], "beginner")
            users.insert("first", [], "expert")  # a conflicting second insert fails the unit of work
    assert db.read(lambda conn: UsersRepository(conn).get("first")) is None


def test_an_exception_in_the_middle_rolls_back(db):
    with pytest.raises(RuntimeError):
        with db.transaction() as conn:
            UsersRepository(conn).insert("half", [], "beginner")
            raise RuntimeError("crash between two writes")
    assert db.read(lambda conn: UsersRepository(conn).get("half")) is None
    # the connection went back to the pool usable
    assert db.read(lambda conn: conn.run("SELECT 1")) == [[1]]


def test_unreachable_database_is_a_clear_error_not_a_hang():
    db = Database("postgresql://nobody:x@127.0.0.1:1/none", connect_timeout=1)
    with pytest.raises(DatabaseUnavailableError, match="cannot connect"):
        db.read(lambda conn: conn.run("SELECT 1"))


def test_migrate_is_idempotent_and_safe_when_run_concurrently(migrated):
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def run():
        try:
            results.append(migrate(Database(migrated)))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert results == [[], [], []]  # the session fixture applied everything already


def test_a_claim_goes_to_one_caller_per_period(db):
    from dummi.db.state_repository import StateRepository

    claim = lambda: db.autocommit(lambda conn: StateRepository(conn).claim("job", 3600))  # noqa: E731
    assert [claim(), claim(), claim()] == [True, False, False]
    db.autocommit(
        lambda conn: conn.run("UPDATE app_state SET updated_at = now() - interval '2 hours' WHERE key = 'job'")
    )
    assert [claim(), claim()] == [True, False]


@pytest.mark.parametrize("errcode", ["disk_full", "out_of_memory", "io_error"])
def test_a_server_out_of_disk_or_memory_is_unavailable_not_an_error(db, errcode):
    """Postgres raising disk_full (53100), out_of_memory (53200) or io_error (58030): a 503 with Retry-After
    (DatabaseUnavailableError), which a retry may get past, and nothing of the unit is written."""
    with pytest.raises(DatabaseUnavailableError):
        with db.transaction() as conn:
            UsersRepository(conn).insert("full", [], "beginner")
            conn.run(f"DO $$ BEGIN RAISE EXCEPTION 'no room' USING ERRCODE = '{errcode}'; END $$")
    assert db.read(lambda conn: UsersRepository(conn).get("full")) is None
