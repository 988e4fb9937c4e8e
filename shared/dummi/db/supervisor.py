"""The embedded Postgres of ``dummi run``, watched and started again when it dies.

A thread of the process that started the server looks at the postmaster every half second. When it is gone
(an out-of-memory kill, a crash, a stray ``kill -9``), the thread ends what is left of it (orphaned backends
keep its shared memory and would stop a new postmaster), starts it again on the same data folder and socket
(Postgres replays its WAL first: every committed transaction is there) and goes back to watching; clients
reconnect by themselves (``dummi.db.connection``). Restart attempts wait 0, 1, 2, 4, 8, 16 s; a server that
keeps dying (``max_tries`` attempts within ``window_seconds``) is given up on with one log line saying so, and
the service answers 503 until an operator restarts ``dummi run``.

What the supervisor is doing is written to ``<data dir>/supervisor.json``, so that ``/health`` in every server
process can say why the database is away (``reason``). Only the embedded server is supervised: a server named
by ``DATABASE_URL`` (the container image's, RDS) belongs to whoever runs it (compose's restart policy, AWS).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from dummi.db.embedded import log_tail, postmaster, restart_embedded_postgres

logger = logging.getLogger(__name__)

STATE_FILE = "supervisor.json"
BACKOFF_SECONDS = (0.0, 1.0, 2.0, 4.0, 8.0, 16.0)


class EmbeddedSupervisor:
    """Watches this process's embedded server under ``data_dir``; ``start()`` it after the server is up."""

    def __init__(
        self,
        data_dir: Path,
        *,
        interval: float = 0.5,
        max_tries: int = 6,
        window_seconds: float = 600.0,
        backoff: tuple[float, ...] = BACKOFF_SECONDS,
        start_timeout: float = 120.0,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.interval = interval
        self.max_tries = max_tries
        self.window_seconds = window_seconds
        self.backoff = backoff
        self.start_timeout = start_timeout
        self.state = "watching"
        self.reason: str | None = None
        self.restarts = 0
        self._tries: deque[float] = deque()
        self._children: list[Any] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def state_path(self) -> Path:
        return self.data_dir / STATE_FILE

    def start(self) -> EmbeddedSupervisor:
        if postmaster(self.data_dir) is None:
            raise RuntimeError(f"no embedded Postgres of this process is running in {self.data_dir / 'pg'}")
        self._write()
        self._thread = threading.Thread(target=self._watch, name="dummi-postgres-supervisor", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop watching (before the server is stopped on purpose) and remove the state file."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.start_timeout + 15)
        self.state_path.unlink(missing_ok=True)

    # -- the watch -------------------------------------------------------------------------------------------
    def _watch(self) -> None:
        ticks = 0
        while not self._stop.wait(self.interval):
            process = postmaster(self.data_dir)
            if process is not None:
                if ticks % 4 == 0:  # its backends, to end them if the postmaster dies under them
                    try:
                        self._children = process.children(recursive=True)
                    except Exception:  # noqa: BLE001 - it died while being looked at: the next tick sees it
                        pass
                ticks += 1
                continue
            if self._stop.is_set():
                return
            self._recover()
            if self.state == "given_up":
                return

    def _recover(self) -> None:
        died = time.monotonic()
        logger.warning("dummi: the embedded Postgres in %s stopped; starting it again", self.data_dir / "pg")
        self._set("restarting", "the embedded Postgres stopped; restarting it (crash recovery replays its WAL)")
        self._end_orphans()
        while not self._stop.is_set():
            now = time.monotonic()
            while self._tries and now - self._tries[0] > self.window_seconds:
                self._tries.popleft()
            if len(self._tries) >= self.max_tries:
                self._give_up()
                return
            if self._stop.wait(self.backoff[min(len(self._tries), len(self.backoff) - 1)]):
                return
            self._tries.append(time.monotonic())
            attempt = len(self._tries)
            try:
                restart_embedded_postgres(self.data_dir, timeout=self.start_timeout)
            except Exception as exc:  # noqa: BLE001 - said, then tried again after a longer wait
                logger.error("dummi: restart %d of the embedded Postgres failed: %s", attempt, exc)
                self._set("restarting", f"the embedded Postgres stopped; restart attempt {attempt} failed, retrying")
                continue
            self.restarts += 1
            logger.warning(
                "dummi: the embedded Postgres is back after %.1f s (restart %d; its WAL was replayed)",
                time.monotonic() - died,
                self.restarts,
            )
            self._set("watching", None)
            return

    def _give_up(self) -> None:
        line = (
            f"dummi: giving up on the embedded Postgres in {self.data_dir / 'pg'}: {len(self._tries)} restarts in "
            f"{self.window_seconds:.0f} s did not keep it up; the service answers 503 until it is fixed and `dummi "
            f"run` is started again ({log_tail(self.data_dir)})"
        )
        logger.error(line)
        self._set(
            "given_up",
            f"the embedded Postgres kept dying ({len(self._tries)} restarts in {self.window_seconds:.0f} s); not "
            "restarted again: see the server's log, fix it and start `dummi run` again",
        )

    def _end_orphans(self) -> None:
        """Backends of the dead postmaster still attached to its shared memory keep a new one from starting;
        they are this data folder's own processes (looked up while the postmaster lived), so end them."""
        for child in self._children:
            try:
                if child.is_running():  # psutil compares start times: a reused pid is not ours
                    child.kill()
            except Exception:  # noqa: BLE001 - gone already
                pass
        self._children = []

    def _set(self, state: str, reason: str | None) -> None:
        self.state, self.reason = state, reason
        self._write()

    def _write(self) -> None:
        body = {
            "state": self.state,
            "reason": self.reason,
            "restarts": self.restarts,
            "pid": os.getpid(),
            "updated_at": time.time(),
        }
        tmp = self.state_path.with_name(f".{STATE_FILE}.{os.getpid()}")
        try:
            tmp.write_text(json.dumps(body))
            os.replace(tmp, self.state_path)
        except OSError:  # a full disk must not stop the restart itself
            logger.warning("could not write %s", self.state_path, exc_info=True)


def read_state(data_dir: Path) -> dict[str, Any] | None:
    """What the supervisor of ``data_dir`` last wrote, or None when none is running there (no file, or the
    process that wrote it is gone)."""
    try:
        state = json.loads((Path(data_dir) / STATE_FILE).read_text())
        os.kill(int(state["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return state


def database_down_reason(data_dir: Path) -> str:
    """Why the database cannot be reached, as ``/health`` says it."""
    state = read_state(data_dir)
    if state and state.get("state") in ("restarting", "given_up") and state.get("reason"):
        return str(state["reason"])
    return "the database cannot be reached"
