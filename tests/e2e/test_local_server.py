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


def _start(data_dir: Path, port: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DUMMI_DB_POOL_SIZE")}
    env.update(DUMMI_DATA_DIR=str(data_dir), PORT=str(port))
    return subprocess.Popen(
        [sys.executable, "-m", "dummi.cli", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_ready(proc: subprocess.Popen, base: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited early:\n{proc.stdout.read()}")
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    pytest.fail(f"server not ready in {timeout}s:\n{proc.stdout.read()}")


def _stop(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        pytest.fail(f"server did not stop on SIGINT:\n{out}")
    return out


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
