"""A real `dummi run` for the console's browser tests, screenshots and benchmark: its own Postgres (a real
server on a loopback port), the sample data or a data set imported, API keys, and Debian's Chromium."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from dummi.db.connection import Database
from dummi.services import api_keys
from tests.browser.traffic import Written, write_month
from tests.conftest import PostgresServer

ROOT = Path(__file__).resolve().parents[2]
# Chromium as a root process in a closed network (the probe's flags): no sandbox (root), no GPU, and none of
# the background fetches that the network would refuse.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium() -> str | None:
    """Debian's Chromium (`make browser-setup`), or DUMMI_CHROMIUM."""
    return os.environ.get("DUMMI_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ConsoleServer:
    """`dummi run` with DUMMI_AUTH=on against a Postgres of its own; keys made once it is up."""

    def __init__(self, folder: Path, *, sample: bool = True, auth: bool = True) -> None:
        self.folder = folder
        self.sample, self.auth = sample, auth
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = folder / "server.log"
        self.postgres: PostgresServer | None = None
        self.proc: subprocess.Popen | None = None
        self.keys: dict[str, str] = {}

    def start_database(self) -> Database:
        self.postgres = PostgresServer(self.folder / "postgres").init().start()
        return self.database()

    def database(self) -> Database:
        assert self.postgres is not None
        return Database(self.postgres.url, pool_size=2, statement_timeout_ms=600_000)

    def start(self, timeout: float = 90) -> ConsoleServer:
        if self.postgres is None:
            self.start_database()
        assert self.postgres is not None
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DUMMI_EMBEDDING_MODE", "DUMMI_DB_POOL"))}
        env.update(
            DATABASE_URL=self.postgres.url,
            DUMMI_DATA_DIR=str(self.folder / "data"),
            PORT=str(self.port),
            DUMMI_AUTH="on" if self.auth else "off",
        )
        args = [sys.executable, "-m", "dummi.cli", "run"] + ([] if self.sample else ["--no-sample"])
        with self.log.open("w") as out:  # a file, not a pipe nobody reads (a full pipe stalls the server)
            self.proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dummi run exited early:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            self.stop()
            raise RuntimeError(f"dummi run not ready in {timeout} s:\n{self.log.read_text()}")
        if self.auth:
            db = self.database()
            self.keys = {s: api_keys.create_key(db, [s], f"console {s}").key for s in ("read", "admin")}
            db.close()
        return self

    def call(self, method: str, path: str, *, key: str = "admin", **kwargs) -> httpx.Response:
        headers = {"X-API-Key": self.keys[key]} if self.auth else {}
        return httpx.request(method, f"{self.base}{path}", headers=headers, timeout=60, **kwargs)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.postgres is not None:
            self.postgres.stop()
            self.postgres = None


EXPERIMENT = "fresh-blend"


def seed(server: ConsoleServer, *, readers: int = 80, answers_per_day: int = 150) -> Written:
    """What the console is looked at with: an experiment started 20 days ago (the control and a variant with
    another cf_weight), ``readers`` users of their own (the sample users keep their short histories) and a
    month of answers and clicks to them, the variant clicked 25% more."""
    started = (datetime.now(UTC) - timedelta(days=20)).isoformat()
    body = {
        "name": EXPERIMENT,
        "variants": [{"name": "control"}, {"name": "fresh", "overrides": {"cf_weight": 0.3}}],
        "starts_at": started,
    }
    assert server.call("POST", "/experiments", json=body).status_code == 201
    names = [f"reader-{k:03d}" for k in range(readers)]
    for k, name in enumerate(names):
        profile = {"user_id": name, "interests": [["python"], ["machine-learning"], ["devops"]][k % 3]}
        assert server.call("POST", "/users/", json=profile).status_code == 201
    db = server.database()
    try:
        return write_month(db, days=30, answers_per_day=answers_per_day, variant_lift={"fresh": 0.25}, users=names)
    finally:
        db.close()
