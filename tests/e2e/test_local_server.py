"""`dummi run` as a user runs it (what `make run` starts): a fresh data folder, the embedded Postgres,
the sample data, the seed's curl flow over real HTTP, and a clean stop on Ctrl-C."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _popen(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """The server with its output in a file: a pipe nobody reads while it serves fills up (~650 access-log
    lines) and then blocks the server's next write, stalling its requests for as long as the test runs."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
    proc.log = log  # type: ignore[attr-defined]
    return proc


def _output(proc: subprocess.Popen) -> str:
    return proc.log.read_text()  # type: ignore[attr-defined]


def _start(data_dir: Path, port: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DUMMI_DB_POOL_SIZE")}
    env.update(DUMMI_DATA_DIR=str(data_dir), PORT=str(port))
    return _popen([sys.executable, "-m", "dummi.cli", "run"], env, data_dir.parent / f"server-{port}.log")


def _wait_ready(proc: subprocess.Popen, base: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited early:\n{_output(proc)}")
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    pytest.fail(f"server not ready in {timeout}s:\n{_output(proc)}")


def _stop(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f"server did not stop on SIGINT:\n{_output(proc)}")
    return _output(proc)


def test_dummi_run_serves_the_seed_flow_and_stops_cleanly(tmp_path):
    data_dir, port = tmp_path / "data", _free_port()
    base = f"http://127.0.0.1:{port}"

    proc = _start(data_dir, port)
    try:
        _wait_ready(proc, base)
        # the seed's curl examples, as written
        assert (
            httpx.post(
                f"{base}/users/",
                json={"user_id": "alice", "interests": ["machine-learning", "python"], "skill_level": "intermediate"},
            ).status_code
            == 201
        )
        assert (
            httpx.post(
                f"{base}/content/",
                json={
                    "content_id": "tut1",
                    "title": "ML for Beginners",
                    "category": "machine-learning",
                    "tags": ["tutorial", "beginner", "python"],
                },
            ).status_code
            == 201
        )
        assert (
            httpx.post(
                f"{base}/recommendations/feedback",
                json={"user_id": "alice", "content_id": "tut1", "feedback_type": "positive"},
            ).status_code
            == 201
        )
        assert httpx.get(f"{base}/users/alice").json()["history"] == ["tut1"]
        sample = httpx.get(f"{base}/content/category/machine-learning?limit=100").json()
        assert sample["total"] > 1, "the sample catalog was loaded"
        assert httpx.get(f"{base}/docs").status_code == 200
    finally:
        out = _stop(proc)
    assert proc.returncode in (0, -signal.SIGINT, 130), out
    assert "sample data loaded" in out and "embedded Postgres stopped" in out
    assert not (data_dir / "pg" / "postmaster.pid").exists(), "Postgres was left running"

    # a second run reuses the data and does not load the sample again
    proc = _start(data_dir, port)
    try:
        _wait_ready(proc, base)
        assert httpx.get(f"{base}/users/alice").status_code == 200
    finally:
        out = _stop(proc)
    assert "sample data: already loaded" in out


def _start_workers(data_dir: Path, port: int, workers: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DUMMI_DB_POOL_SIZE")}
    # as `make run` serves (the test session turns embedding on write off)
    env.update(DUMMI_DATA_DIR=str(data_dir), PORT=str(port), DUMMI_EMBEDDING_MODE="background")
    args = [sys.executable, "-m", "dummi.cli", "run", "--workers", str(workers)]
    return _popen(args, env, data_dir.parent / f"server-{port}.log")


# The promise: after a hide, an expiry or a DELETE answers, no answer of any warm process lists the item
# after this many seconds.
TAKE_DOWN_SECONDS = 5.0


def test_a_take_down_reaches_every_worker_process_within_the_promise(tmp_path):
    """`dummi run --workers 3`: every worker holds three items; one is hidden, one deleted, one expires. Each
    request opens a new connection, so the kernel spreads them over the workers; none answered after the
    promise lists a taken-down item."""
    import threading
    from datetime import UTC, datetime, timedelta

    data_dir, port = tmp_path / "data", _free_port()
    base = f"http://127.0.0.1:{port}"
    category = "lifecycle-e2e"
    items = {"hide": "e2e-hidden", "delete": "e2e-deleted", "expire": "e2e-expired"}
    url = f"{base}/recommendations/popular?category={category}&n=10"

    def listed() -> set[str]:
        response = httpx.get(url, timeout=10)  # a new connection each time
        assert response.status_code == 200, response.text
        return {r["content_id"] for r in response.json()["recommendations"]}

    proc = _start_workers(data_dir, port, 3)
    try:
        _wait_ready(proc, base)
        for how, cid in items.items():
            body = {"content_id": cid, "title": f"An item to {how}", "category": category}
            assert httpx.post(f"{base}/content/", json=body).status_code == 201
        deadline, streak, seen = time.monotonic() + 60, 0, []
        while streak < 30:  # every worker has embedded and lists all three
            assert time.monotonic() < deadline, f"the items never reached every worker: {seen[-50:]}"
            seen.append(len(listed()))
            streak = streak + 1 if seen[-1] == len(items) else 0
        expires = datetime.now(UTC) + timedelta(seconds=1)
        patch = httpx.patch(f"{base}/content/{items['expire']}", json={"available_until": expires.isoformat()})
        assert patch.status_code == 200
        assert httpx.patch(f"{base}/content/{items['hide']}", json={"hidden": True}).status_code == 200
        hidden_at = time.monotonic()
        assert httpx.delete(f"{base}/content/{items['delete']}").status_code == 204
        deleted_at = time.monotonic()
        expired_at = hidden_at + max(0.0, (expires - datetime.now(UTC)).total_seconds())
        answers: list[tuple[float, set[str]]] = []
        lock = threading.Lock()

        window_ends = max(hidden_at, deleted_at, expired_at) + TAKE_DOWN_SECONDS  # the last item's promise

        def poll() -> None:
            # until 30 answers have looked past every item's promised window: a count, not a clock (a busy
            # machine answers fewer per second), bounded by a minute
            while time.monotonic() < window_ends + 60:
                started, found = time.monotonic(), listed()
                with lock:
                    answers.append((started, found))
                    if sum(at > window_ends for at, _ in answers) >= 30:
                        return

        threads = [threading.Thread(target=poll) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        out = _stop(proc)
    assert proc.returncode in (0, -signal.SIGINT, 130), out
    since = {items["hide"]: hidden_at, items["delete"]: deleted_at, items["expire"]: expired_at}
    late = [
        (round(at - since[cid], 2), cid)
        for at, found in answers
        for cid in found
        if at > since[cid] + TAKE_DOWN_SECONDS
    ]
    assert not late, late
    assert len([a for a in answers if a[0] > window_ends]) >= 30  # the window was looked at
    last = {cid: max((at - since[cid] for at, found in answers if cid in found), default=0.0) for cid in since}
    print(f"last appearance after the take-down (s): {last}")
