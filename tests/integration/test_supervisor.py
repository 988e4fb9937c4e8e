"""The embedded Postgres killed with SIGKILL while writes commit: the supervisor starts it again on the same data
folder, crash recovery keeps every committed write, clients reconnect; a server that cannot be kept up is
given up on after a bounded number of tries with one clear log line, and /health says why meanwhile.

Each test starts an embedded server of its own (the session's one stays untouched)."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from dummi.db.connection import Database
from dummi.db.embedded import postmaster, restart_embedded_postgres, start_embedded_postgres, stop_embedded_postgres
from dummi.db.supervisor import EmbeddedSupervisor, read_state
from dummi.errors import DatabaseUnavailableError
from tests.conftest import _clear_caches


def _wait(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    pytest.fail(f"{what} within {timeout} s")


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    url = start_embedded_postgres(data_dir, database="supervised")
    Database(url).read(lambda conn: conn.run("CREATE TABLE IF NOT EXISTS acked (id text PRIMARY KEY)"))
    yield data_dir, url
    stop_embedded_postgres(data_dir)


def _writer(db: Database, stop: threading.Event, acked: list[str], failed: list[str]) -> None:
    while not stop.is_set():
        key = uuid.uuid4().hex
        try:
            with db.transaction() as conn:
                conn.run("INSERT INTO acked (id) VALUES (:id)", id=key)
        except DatabaseUnavailableError:
            failed.append(key)
            time.sleep(0.05)
            continue
        acked.append(key)  # COMMIT returned: acknowledged


def test_a_killed_embedded_postgres_is_started_again_and_keeps_every_committed_write(embedded):
    # Given a supervised server taking writes from two threads
    data_dir, url = embedded
    supervisor = EmbeddedSupervisor(data_dir, interval=0.1).start()
    db = Database(url, pool_size=2, connect_timeout=2)
    acked: list[str] = []
    failed: list[str] = []
    stop = threading.Event()
    writers = [threading.Thread(target=_writer, args=(db, stop, acked, failed)) for _ in range(2)]
    try:
        for writer in writers:
            writer.start()
        _wait(lambda: len(acked) > 20, 30, "no writes committed")
        # When its postmaster is killed as the OOM killer would
        victim = postmaster(data_dir)
        os.kill(victim.pid, signal.SIGKILL)
        killed_at = len(acked)
        # Then it is started again without anyone's help, and writes commit again
        _wait(lambda: supervisor.restarts == 1, 60, "the server was not restarted")
        _wait(lambda: len(acked) > killed_at + 20, 60, "writes did not resume")
    finally:
        stop.set()
        for writer in writers:
            writer.join(30)
        supervisor.stop()
    assert failed, "the outage was not seen by the writers"
    assert postmaster(data_dir).pid != victim.pid
    stored = {row[0] for row in Database(url).read(lambda conn: conn.run("SELECT id FROM acked"))}
    assert set(acked) <= stored, f"{len(set(acked) - stored)} acknowledged writes lost"
    assert not (data_dir / "supervisor.json").exists(), "a stopped supervisor leaves no state behind"


def test_a_server_that_keeps_dying_is_given_up_on_and_health_says_why(embedded, monkeypatch, caplog):
    from fastapi.testclient import TestClient

    from dummi.api.app import create_full_app

    data_dir, url = embedded
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("DUMMI_DATA_DIR", str(data_dir))
    monkeypatch.setenv("DUMMI_DB_CONNECT_TIMEOUT", "2")
    _clear_caches()
    conf = data_dir / "pg" / "postgresql.conf"
    good = conf.read_text()
    supervisor = EmbeddedSupervisor(data_dir, interval=0.1, max_tries=3, backoff=(0.0, 1.5)).start()
    try:
        with TestClient(create_full_app(), raise_server_exceptions=False) as client:
            ok = client.get("/health").json()
            assert ok["status"] == "ok" and ok["reason"] is None
            # Given a server that can no longer start (a broken setting stands in for what keeps killing it)
            conf.write_text(good + "\nshared_buffers = 'not a size'\n")
            with caplog.at_level(logging.WARNING, logger="dummi.db.supervisor"):
                os.kill(postmaster(data_dir).pid, signal.SIGKILL)
                # While the supervisor tries, /health is degraded and says it is restarting Postgres
                _wait(lambda: (read_state(data_dir) or {}).get("state") == "restarting", 10, "no restart began")
                during = client.get("/health")
                assert during.status_code == 503 and during.headers["retry-after"]
                assert during.json()["status"] == "degraded" and "restarting" in during.json()["reason"]
                # Then it gives up after its bounded tries, once, with one clear line
                _wait(lambda: supervisor.state == "given_up", 60, "the supervisor did not give up")
                after = client.get("/health")
        giving_up = [r.getMessage() for r in caplog.records if "giving up" in r.getMessage()]
        assert len(giving_up) == 1 and "3 restarts" in giving_up[0] and str(data_dir / "pg") in giving_up[0]
        assert after.status_code == 503 and "kept dying" in after.json()["reason"]
        assert read_state(data_dir)["state"] == "given_up"
        failed_attempts = [r for r in caplog.records if "restart" in r.getMessage() and "failed" in r.getMessage()]
        assert len(failed_attempts) == 3
    finally:
        supervisor.stop()
        conf.write_text(good)
        restart_embedded_postgres(data_dir)  # for the fixture's clean stop
        _clear_caches()
    assert Database(url).read(lambda conn: conn.run("SELECT 1")) == [[1]]
