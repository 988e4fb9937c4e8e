"""Postgres stopped, restarted and hung under real traffic: answers stay 2xx or 503, nothing is lost or doubled.

These tests start an embedded Postgres of their own (the session's one stays untouched), send requests
from several threads through the full app, and stop / freeze the server in the middle.
"""

from __future__ import annotations

import signal
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dummi.db.connection import Database
from dummi.db.migrations import migrate
from tests.conftest import _clear_caches

CONNECT_TIMEOUT = 2
STATEMENT_TIMEOUT_MS = 1000
# The longest a request may take while Postgres is down or hung: a read that times out on its socket
# (statement timeout + 2 s), one reconnect attempt (connect timeout), and slack for a loaded machine.
REQUEST_BOUND_SECONDS = STATEMENT_TIMEOUT_MS / 1000 + 2 + CONNECT_TIMEOUT + 3


class EmbeddedServer:
    """An embedded Postgres that a test may stop, start, freeze and thaw."""

    def __init__(self, data_dir: Path) -> None:
        from dummi.db.embedded import _servers, start_embedded_postgres

        self.data_dir = data_dir
        self.url = start_embedded_postgres(data_dir, database="faults")
        self.server = _servers[(data_dir / "pg").resolve()]

    def stop(self) -> None:
        from pgserver._commands import pg_ctl

        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.server.pgdata, user=self.server.system_user)

    def start(self) -> None:
        self.server.ensure_postgres_running()
        assert self.server.get_uri("faults") == self.url  # same socket: clients reconnect to the same URL

    def _processes(self):
        import psutil

        main = psutil.Process(self.server.get_pid())
        return [main, *main.children(recursive=True)]

    def freeze(self) -> None:
        for process in self._processes():
            process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        for process in self._processes():
            process.send_signal(signal.SIGCONT)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    from dummi.db.embedded import stop_embedded_postgres

    data_dir = tmp_path_factory.mktemp("faults")
    found = EmbeddedServer(data_dir)
    migrate(Database(found.url))
    yield found
    stop_embedded_postgres(data_dir)


@pytest.fixture
def app_client(server: EmbeddedServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    from fastapi.testclient import TestClient

    from dummi.api.app import create_full_app

    monkeypatch.setenv("DATABASE_URL", server.url)
    monkeypatch.setenv("DUMMI_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DUMMI_DB_POOL_SIZE", "4")
    monkeypatch.setenv("DUMMI_DB_CONNECT_TIMEOUT", str(CONNECT_TIMEOUT))
    monkeypatch.setenv("DUMMI_DB_STATEMENT_TIMEOUT_MS", str(STATEMENT_TIMEOUT_MS))
    _clear_caches()
    with Database(server.url).transaction() as conn:
        conn.run("TRUNCATE interactions, content, users RESTART IDENTITY CASCADE")
    with TestClient(create_full_app(), raise_server_exceptions=False) as client:
        assert client.post("/users/", json={"user_id": "u1", "skill_level": "beginner"}).status_code == 201
        for i in range(5):
            item = {"content_id": f"c{i}", "title": f"Item {i}", "category": "cat"}
            assert client.post("/content/", json=item).status_code == 201
        yield client
    _clear_caches()


@dataclass
class Outcome:
    event_id: str | None
    path: str
    status: int
    started: float
    seconds: float
    headers: dict = field(default_factory=dict)
    body: dict = field(default_factory=dict)


def _traffic(client, stop: threading.Event, outcomes: list[Outcome], lock: threading.Lock, *, recommend: bool) -> None:
    n = 0
    while not stop.is_set():
        n += 1
        started = time.monotonic()
        if recommend:
            event_id, path = None, "/recommendations/"
            response = client.post(path, json={"user_id": "u1", "n_recommendations": 3})
        else:
            event_id, path = uuid.uuid4().hex, "/recommendations/interact"
            payload = {"user_id": "u1", "content_id": f"c{n % 5}", "interaction_type": "click", "event_id": event_id}
            response = client.post(path, json=payload)
        outcome = Outcome(
            event_id, path, response.status_code, started, time.monotonic() - started, dict(response.headers)
        )
        if response.headers.get("content-type", "").startswith("application/json"):
            outcome.body = response.json()
        with lock:
            outcomes.append(outcome)
        time.sleep(0.005)


def _stored(server: EmbeddedServer) -> dict[str, int]:
    rows = Database(server.url).read(
        lambda conn: conn.run("SELECT event_id, count(*) FROM interactions WHERE event_id IS NOT NULL GROUP BY 1")
    )
    return dict(rows)


def test_a_postgres_restart_under_traffic_loses_nothing_and_doubles_nothing(server, app_client):
    outcomes: list[Outcome] = []
    lock, stop = threading.Lock(), threading.Event()
    workers = [
        threading.Thread(target=_traffic, args=(app_client, stop, outcomes, lock), kwargs={"recommend": i == 0})
        for i in range(4)
    ]
    for worker in workers:
        worker.start()
    try:
        time.sleep(1.0)
        server.stop()
        down_at = time.monotonic()
        time.sleep(2.0)
        server.start()
        up_at = time.monotonic()
        time.sleep(2.0)
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=30)
        server.start()  # whatever happened, leave it running for the next test

    writes = [o for o in outcomes if o.event_id]
    reads = [o for o in outcomes if not o.event_id]
    assert {o.status for o in writes} <= {201, 503}, "a write answered something other than 201 or 503"
    assert {o.status for o in reads} <= {200, 503}
    failed = [o for o in outcomes if o.status == 503]
    assert [o for o in failed if o.started >= down_at], "the outage was not seen"
    for o in failed:
        assert o.headers.get("retry-after") and o.body["code"] == "database_unavailable", o
    assert max(o.seconds for o in outcomes) < REQUEST_BOUND_SECONDS
    # The process was not restarted: once Postgres is back, requests succeed again.
    after = [o for o in outcomes if o.started > up_at + 0.5]
    assert after and all(o.status in (200, 201) for o in after)

    stored = _stored(server)
    acknowledged = {o.event_id for o in writes if o.status == 201}
    assert acknowledged <= set(stored), "an acknowledged event is missing"
    assert set(stored.values()) == {1}, "an event was stored twice"
    # A 503'd write may or may not have committed (the answer was lost); the client's retry with the
    # same event_id settles it: afterwards every event sent is stored exactly once.
    for o in writes:
        if o.status == 503:
            n = int(o.event_id, 16) % 5
            payload = {"user_id": "u1", "content_id": f"c{n}", "interaction_type": "click", "event_id": o.event_id}
            retry = app_client.post("/recommendations/interact", json=payload)
            assert retry.status_code in (201, 409), retry.text
    stored = _stored(server)
    assert set(stored.values()) == {1}
    assert acknowledged <= set(stored)
    assert app_client.get("/health").json()["database"] == "ok"


def test_a_hung_postgres_is_a_503_in_bounded_time_then_recovers(server, app_client):
    assert app_client.get("/users/u1").status_code == 200  # a pooled connection exists
    server.freeze()
    try:
        started = time.monotonic()
        response = app_client.get("/users/u1")
        seconds = time.monotonic() - started
        health = app_client.get("/health")
    finally:
        server.thaw()
    assert response.status_code == 503 and response.json()["code"] == "database_unavailable"
    assert response.headers["Retry-After"]
    assert seconds < REQUEST_BOUND_SECONDS
    assert health.status_code == 503 and health.json()["database"] == "unavailable"
    assert app_client.get("/users/u1").status_code == 200


def test_a_write_that_fails_midway_commits_nothing(server, app_client):
    """Postgres stops between the INSERT and the COMMIT of one unit of work: nothing of it is stored."""
    from dummi.db.users_repository import UsersRepository
    from dummi.errors import DatabaseUnavailableError

    db = Database(server.url, connect_timeout=CONNECT_TIMEOUT)
    try:
        with pytest.raises(DatabaseUnavailableError):
            with db.transaction() as conn:
                UsersRepository(conn).insert("half-written", [], "beginner")
                server.stop()
    finally:
        server.start()
    assert Database(server.url).read(lambda conn: UsersRepository(conn).get("half-written")) is None


def _user_rows(server: EmbeddedServer, user_id: str) -> list:
    return Database(server.url).read(
        lambda conn: conn.run(
            "SELECT (SELECT count(*) FROM users WHERE user_id = :u), (SELECT count(*) FROM interactions"
            " WHERE user_id = :u), (SELECT count(*) FROM impressions WHERE user_id = :u)",
            u=user_id,
        )
    )


def test_a_delete_while_postgres_is_down_is_a_503_and_changes_nothing(server, app_client):
    """DELETE /users and /content with Postgres stopped, and Postgres stopping in the middle of the user's
    erasure: 503, and everything is still there afterwards."""
    from dummi.db.users_repository import UsersRepository
    from dummi.errors import DatabaseUnavailableError

    for i in range(3):
        body = {"user_id": "u1", "content_id": f"c{i}", "interaction_type": "like"}
        assert app_client.post("/recommendations/interact", json=body).status_code == 201
    assert app_client.post("/recommendations/", json={"user_id": "u1"}).status_code == 200
    before = _user_rows(server, "u1")
    assert before[0][0] == 1 and before[0][1] == 3 and before[0][2] >= 1  # earlier tests' answers stay logged
    server.stop()
    try:
        user = app_client.delete("/users/u1")
        item = app_client.delete("/content/c0")
        patch = app_client.patch("/content/c1", json={"hidden": True})
    finally:
        server.start()
    for response in (user, item, patch):
        assert response.status_code == 503 and response.headers["Retry-After"]
    assert _user_rows(server, "u1") == before
    assert app_client.get("/content/c0").status_code == 200
    assert app_client.get("/content/c1").json()["hidden"] is False
    db = Database(server.url, connect_timeout=CONNECT_TIMEOUT)
    try:
        with pytest.raises(DatabaseUnavailableError):
            with db.transaction() as conn:
                UsersRepository(conn).delete("u1")  # the rows go, then the server before the commit
                server.stop()
    finally:
        server.start()
    assert _user_rows(server, "u1") == before
