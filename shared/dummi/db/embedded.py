"""The embedded Postgres for laptops and tests, started from the ``pgserver`` wheel (no installed server).

The server runs from ``<data_dir>/pg`` and listens on a Unix socket only. It stops when the last process
that started it exits (pgserver counts the handles), so ``make run`` stops it cleanly on Ctrl-C. When it dies
(an out-of-memory kill, a crash) ``dummi run``'s supervisor (``dummi.db.supervisor``) starts it again here,
on the same data folder and socket.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import pg8000.native

from dummi.db import urls  # a module: urls imports this one too

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
                    # pgserver: the local extra, only on a laptop's embedded Postgres
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
        try:
            server.cleanup()
        except Exception:  # noqa: BLE001 - psutil.NoSuchProcess: it had died already (nothing left to stop)
            logger.warning("the embedded Postgres in %s was not running any more", pgdata)


def postmaster(data_dir: Path) -> Any | None:
    """The running postmaster of this process's embedded server under ``data_dir`` (a psutil.Process), or
    None when it is not running (killed, crashed, stopped) or this process never started it."""
    server = _servers.get((data_dir / "pg").resolve())
    try:
        return _alive(server.get_pid()) if server is not None else None
    except AssertionError:  # pgserver has no postmaster info
        return None


def _alive(pid: int | None) -> Any | None:
    """psutil's process ``pid`` if it runs; a zombie (dead, not yet reaped by init) does not."""
    # psutil: with pgserver (the local extra), only on a laptop's embedded Postgres
    import psutil

    try:
        process = psutil.Process(pid)
        return None if process.status() == psutil.STATUS_ZOMBIE else process
    except (psutil.Error, TypeError, ValueError):
        return None


def restart_embedded_postgres(data_dir: Path, *, timeout: float = 120.0) -> str:
    """Start this process's embedded server again after it died, on the same data folder and socket (so every
    URL handed out stays valid); Postgres replays its WAL first (crash recovery), which ``timeout`` bounds.
    Raises RuntimeError (with the end of Postgres' log) when it does not come up."""
    # pgserver: the local extra, only on a laptop's embedded Postgres
    from pgserver._commands import pg_ctl
    from pgserver.utils import PostmasterInfo, find_suitable_socket_dir

    pgdata = (data_dir / "pg").resolve()
    server = _servers.get(pgdata)
    if server is None:
        raise RuntimeError(f"no embedded Postgres was started in {pgdata} by this process")
    info = PostmasterInfo.read_from_pgdata(pgdata)
    if info is None or _alive(info.pid) is None:  # (else another process started it: wait until it is ready)
        if info is not None:
            _wait_until_reaped(info.pid)
        socket_dir = find_suitable_socket_dir(pgdata, server.runtime_path)  # pgserver's own choice: the same one
        try:
            pg_ctl(
                [
                    "-w",
                    "-t",
                    str(int(timeout)),
                    "-o",
                    '-h ""',
                    "-o",
                    f"-k {socket_dir}",
                    "-l",
                    str(server.log),
                    "start",
                ],
                pgdata=pgdata,
                user=server.system_user,
                timeout=timeout + 10,
            )
        except Exception as exc:  # noqa: BLE001 - CalledProcessError, TimeoutExpired: said with the log's end
            raise RuntimeError(f"the embedded Postgres did not start: {exc}; {log_tail(data_dir)}") from exc
    deadline = time.monotonic() + timeout
    while (info := PostmasterInfo.read_from_pgdata(pgdata)) is None or info.status != "ready":
        if (info is not None and _alive(info.pid) is None) or time.monotonic() > deadline:
            raise RuntimeError(f"the embedded Postgres did not come up; {log_tail(data_dir)}")
        time.sleep(0.1)
    server._postmaster_info = info  # pgserver stops this postmaster on the last handle's exit, not the dead one
    return server.get_uri(DATABASE_NAME)


def _wait_until_reaped(pid: int, timeout: float = 10.0) -> None:
    """A dead postmaster stays a zombie until its parent (init) reaps it, and Postgres will not start while the
    pid in postmaster.pid exists: wait for it (reaping it where this process is the parent, as PID 1 is)."""
    # psutil: with pgserver (the local extra), only on a laptop's embedded Postgres
    import psutil

    deadline = time.monotonic() + timeout
    while psutil.pid_exists(pid) and _alive(pid) is None and time.monotonic() < deadline:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.05)


def log_tail(data_dir: Path, lines: int = 5) -> str:
    """The last lines of the embedded server's log, for an error message."""
    try:
        tail = (data_dir / "pg" / "log").resolve().read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return "no log"
    return "its log ends: " + " | ".join(line.strip() for line in tail)


def _forget_dead_handles(pgdata: Path) -> None:
    """pgserver stops the server when the last process holding a handle exits, counting handles by pid in
    ``.handle_pids.json``. A process killed without cleanup stays listed and would keep the server running
    forever; drop pids that no longer exist before joining."""
    path = pgdata / ".handle_pids.json"
    try:
        pids = json.loads(path.read_text())
    except (OSError, ValueError):
        return
    # psutil: with pgserver (the local extra), only on a laptop's embedded Postgres
    import psutil

    live = [pid for pid in pids if isinstance(pid, int) and psutil.pid_exists(pid)]
    if live != pids:
        path.write_text(json.dumps(live))


def _ensure_database(server: Any, database: str) -> None:
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", database):
        raise ValueError(f"invalid database name {database!r}")

    params = urls.parse_database_url(server.get_uri("postgres"))
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
