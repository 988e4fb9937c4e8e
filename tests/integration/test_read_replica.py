"""A read replica (DATABASE_READ_URL): a second real Postgres streaming from the primary. Read-only routes and
serving's catalog reads go to it; writes, auth and the user's own events go to the primary; when it stops,
reads fall back to the primary (503 only when both are down)."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from dummi.api.app import create_full_app
from dummi.artifacts.store import get_artifact_store
from dummi.db.connection import Database, get_database
from dummi.db.migrations import migrate
from dummi.db.replica import ReadRouted, get_read_database
from dummi.services.import_service import import_directory
from dummi.training.params import TrainingParams
from dummi.training.runs import run_now
from tests.conftest import PostgresServer, _clear_caches, write_tastes


def _caught_up(primary: Database, replica: Database, timeout: float = 30.0) -> None:
    target = primary.read(lambda c: c.run("SELECT CAST(pg_current_wal_lsn() AS text)"))[0][0]
    deadline = time.monotonic() + timeout
    while not replica.read(lambda c: c.run("SELECT pg_last_wal_replay_lsn() >= CAST(:t AS pg_lsn)", t=target))[0][0]:
        assert time.monotonic() < deadline, "the replica did not catch up"
        time.sleep(0.05)


@pytest.fixture
def pair(tmp_path, monkeypatch):
    primary = PostgresServer(tmp_path / "primary")
    primary.init().start()
    replica = PostgresServer(tmp_path / "replica")
    try:
        replica.replica_of(primary).start()
        monkeypatch.setenv("DATABASE_URL", primary.url)
        monkeypatch.setenv("DATABASE_READ_URL", replica.url)
        monkeypatch.setenv("DUMMI_DATA_DIR", str(tmp_path / "data"))
        monkeypatch.setenv("DUMMI_MODEL_CHECK_SECONDS", "0")
        monkeypatch.setenv("DUMMI_DB_POOL_SIZE", "4")
        monkeypatch.setenv("DUMMI_DB_CONNECT_TIMEOUT", "1")
        _clear_caches()
        db = get_database()
        migrate(db)
        import_directory(db, write_tastes(tmp_path / "tastes", users=30))
        assert run_now(db, get_artifact_store(), "test", TrainingParams()).state == "succeeded"
        routed = get_read_database()
        assert isinstance(routed, ReadRouted)
        _caught_up(db, routed.replica)
        with TestClient(create_full_app(), raise_server_exceptions=False) as client:
            yield client, db, routed, primary, replica
    finally:
        _clear_caches()
        for server in (replica, primary):
            try:
                server.stop()
            except Exception:
                pass  # a test stopped it already


def _ranked(client, user):
    response = client.post("/recommendations/", json={"user_id": user, "explore_slots": 0, "diversity": 0})
    assert response.status_code == 200, response.text
    return [r["content_id"] for r in response.json()["recommendations"]]


def test_reads_come_from_the_replica_and_the_users_own_like_from_the_primary(pair):
    client, db, routed, primary, replica = pair
    assert client.get("/content/soups-1").json()["title"] == "soups number 1"
    assert routed.replica_reads > 0
    routed.replica.read(lambda c: c.run("SELECT pg_wal_replay_pause()"))  # the replica lags from here on
    assert client.patch("/content/soups-1", json={"title": "Soup, renamed"}).status_code == 200
    assert client.get("/content/soups-1").json()["title"] == "soups number 1", "served by the lagging replica"

    top = _ranked(client, "u0")[0]
    like = {"user_id": "u0", "content_id": top, "interaction_type": "like"}
    assert client.post("/recommendations/interact", json=like).status_code in (200, 201)
    assert top not in _ranked(client, "u0"), "the like changes the very next answer though the replica lags"

    routed.replica.read(lambda c: c.run("SELECT pg_wal_replay_resume()"))
    _caught_up(db, routed.replica)
    assert client.get("/content/soups-1").json()["title"] == "Soup, renamed"


def test_reads_fall_back_to_the_primary_when_the_replica_stops_and_503_when_both_do(pair):
    client, db, routed, primary, replica = pair
    replica.stop()
    before = routed.primary_reads
    started = time.monotonic()
    for _ in range(20):
        assert client.get("/content/soups-2").status_code == 200
    assert _ranked(client, "u1")
    assert client.get("/recommendations/popular").status_code == 200
    assert routed.primary_reads > before
    assert time.monotonic() - started < 10, "one connect timeout, not one a request"
    primary.stop()
    response = client.get("/content/soups-2")
    assert response.status_code == 503, response.text
