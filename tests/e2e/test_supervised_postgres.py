"""`dummi run` (what `make run` starts) with its embedded Postgres killed by SIGKILL under writes: the service
heals by itself, every acknowledged write is stored once, /health is back to ok, and nothing answered a 500."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid

import httpx

from tests.e2e.test_local_server import _free_port, _output, _start, _stop, _wait_ready


def _postmaster_pid(data_dir) -> int:
    return int((data_dir / "pg" / "postmaster.pid").read_text().splitlines()[0])


def test_dummi_run_heals_a_killed_postgres_and_loses_no_acknowledged_write(tmp_path):
    data_dir, port = tmp_path / "data", _free_port()
    base = f"http://127.0.0.1:{port}"
    proc = _start(data_dir, port)
    acked: list[str] = []
    statuses: list[tuple[int, str | None]] = []
    stop = threading.Event()

    def write() -> None:
        with httpx.Client(base_url=base, timeout=30) as client:
            n = 0
            while not stop.is_set():
                n += 1
                event_id = uuid.uuid4().hex
                body = {"user_id": "alice", "content_id": "tut1", "interaction_type": "click", "event_id": event_id}
                try:
                    response = client.post("/recommendations/interact", json=body)
                except httpx.HTTPError as exc:
                    statuses.append((0, type(exc).__name__))
                    continue
                statuses.append((response.status_code, response.headers.get("retry-after")))
                if response.status_code == 201:
                    acked.append(event_id)
                time.sleep(0.01)

    try:
        _wait_ready(proc, base)
        assert httpx.post(f"{base}/users/", json={"user_id": "alice", "interests": ["python"]}).status_code == 201
        item = {"content_id": "tut1", "title": "ML for Beginners", "category": "machine-learning"}
        assert httpx.post(f"{base}/content/", json=item).status_code == 201
        writers = [threading.Thread(target=write) for _ in range(3)]
        for writer in writers:
            writer.start()
        deadline = time.monotonic() + 30
        while len(acked) < 30:
            assert time.monotonic() < deadline, "no writes were acknowledged"
            time.sleep(0.05)
        victim = _postmaster_pid(data_dir)
        os.kill(victim, signal.SIGKILL)
        killed, killed_at = len(acked), time.monotonic()
        deadline = killed_at + 60
        while True:  # healed: /health ok and writes acknowledged again, with nobody's help
            assert time.monotonic() < deadline, f"not healed in 60 s:\n{_output(proc)[-3000:]}"
            try:
                health = httpx.get(f"{base}/health", timeout=10)
            except httpx.HTTPError:
                health = None
            if health is not None and health.status_code == 200 and len(acked) > killed + 30:
                break
            time.sleep(0.1)
        healed = time.monotonic() - killed_at
        stop.set()
        for writer in writers:
            writer.join(30)
        body = health.json()
        assert body["status"] == "ok" and body["database"] == "ok" and body["reason"] is None
        assert _postmaster_pid(data_dir) != victim
        stored = httpx.get(f"{base}/users/alice", params={"history_limit": 1000}).json()
    finally:
        stop.set()
        out = _stop(proc)
    assert "the embedded Postgres is back after" in out, out[-3000:]
    codes = {code for code, _ in statuses}
    assert codes <= {201, 503}, f"answers other than 201 or 503 while Postgres was down: {codes}"
    assert all(retry for code, retry in statuses if code == 503), "a 503 without Retry-After"
    assert 503 in codes, "the outage was not seen"
    assert stored["history"] == ["tut1"]  # the user and the item came through the crash
    assert "embedded Postgres stopped" in out and not (data_dir / "pg" / "postmaster.pid").exists()
    # every acknowledged event is stored exactly once (read straight from the data folder's database)
    from dummi.db.connection import Database
    from dummi.db.embedded import start_embedded_postgres, stop_embedded_postgres

    db = Database(start_embedded_postgres(data_dir))
    try:
        rows = db.read(
            lambda conn: conn.run(
                "SELECT event_id, count(*) FROM interactions WHERE event_id = ANY(CAST(:ids AS text[])) GROUP BY 1",
                ids=acked,
            )
        )
    finally:
        db.close()
        stop_embedded_postgres(data_dir)
    assert len(rows) == len(set(acked)) and {n for _, n in rows} == {1}, "an acknowledged write was lost or doubled"
    print(f"healed in {healed:.1f} s; {len(acked)} writes acknowledged, all stored")
