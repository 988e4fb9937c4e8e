"""The embedded Postgres for laptops and tests, started from the ``pgserver`` wheel (no installed server).

The server runs from ``<data_dir>/pg`` and listens on a Unix socket only. It stops when the last process
that started it exits (pgserver counts the handles), so ``make run`` stops it cleanly on Ctrl-C.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import warnings
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

DATABASE_NAME = "dummi"
_servers: dict[Path, Any] = {}
_lock = threading.Lock()


def start_embedded_postgres(data_dir: Path, *, database: str = DATABASE_NAME) -> str:
    """Start (or join) the embedded server under ``data_dir`` and return a URL for ``database``."""
    pgdata = (data_dir / "pg").resolve()
    with _lock:
        server = _servers.get(pgdata)
        if server is None:
            pgdata.mkdir(parents=True, exist_ok=True)
            logger.info("starting embedded Postgres in %s", pgdata)
            with warnings.catch_warnings():
                # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); its fallback is fine.
                warnings.simplefilter("ignore")
                try:
                    import pgserver
                except ImportError as exc:  # pragma: no cover - depends on the install
                    raise RuntimeError(
                        "no DATABASE_URL is set and the embedded Postgres is not installed: "
                        "pip install 'dummi[local]' or set DATABASE_URL"
                    ) from exc
                _forget_dead_handles(pgdata)
                server = pgserver.get_server(pgdata, cleanup_mode="stop")
            _servers[pgdata] = server
            _ensure_database(server, database)
    return server.get_uri(database)


def stop_embedded_postgres(data_dir: Path) -> None:
    """Stop this process's handle on the server (the server stops when no process holds one)."""
    pgdata = (data_dir / "pg").resolve()
    with _lock:
        server = _servers.pop(pgdata, None)
    if server is not None:
        server.cleanup()


def _forget_dead_handles(pgdata: Path) -> None:
    """pgserver stops the server when the last process holding a handle exits, counting handles by pid in
    ``.handle_pids.json``. A process killed without cleanup stays listed and would keep the server running
    forever; drop pids that no longer exist before joining."""
    path = pgdata / ".handle_pids.json"
    try:
        pids = json.loads(path.read_text())
    except (OSError, ValueError):
        return
    import psutil

    live = [pid for pid in pids if isinstance(pid, int) and psutil.pid_exists(pid)]
    if live != pids:
        path.write_text(json.dumps(live))


def _ensure_database(server: Any, database: str) -> None:
    import pg8000.native

    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", database):
        raise ValueError(f"invalid database name {database!r}")

    from dummi.db.urls import parse_database_url

    params = parse_database_url(server.get_uri("postgres"))
    conn = pg8000.native.Connection(**params.kwargs())
    try:
        exists = conn.run("SELECT 1 FROM pg_database WHERE datname = :name", name=database)
        if not exists:
            conn.run(f'CREATE DATABASE "{database}"')
    finally:
        conn.close()


def background_priority(db: Any, niceness: int = 19) -> bool:
    """Give the embedded server's backend behind ``db`` (a pool of one connection) and the calling thread
    the lowest CPU priority, and keep that backend's queries to itself (parallel query workers are processes
    of their own, at normal priority), so that background work on this machine (the online metrics job) does
    not take the cores from requests. Only for the embedded server, whose backends are this machine's
    processes; False where it could not (another host's database, no permission)."""
    import os
    import threading

    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)  # Linux: this thread only

        def own_backend(conn: Any) -> int:
            conn.run("SET max_parallel_workers_per_gather = 0")
            return int(conn.run("SELECT pg_backend_pid()")[0][0])

        pid = db.read(own_backend)
        os.setpriority(os.PRIO_PROCESS, pid, niceness)
    except (OSError, AttributeError):
        return False
    return True
