"""Faults under load: `dummi run` under load.py's mixed load while its parts are broken one after another, counting
what users saw and what survived. Loopback only; everything it breaks it starts itself in a temporary folder (an
embedded Postgres, a second Postgres from pgserver's binaries, a redis-server), and it stops by itself.

    .venv/bin/python tests/benchmarks/faults.py [--items 5000] [--users 5000] [--rate 100] [--workers 3]
                                               [--gap 20] [--timeout 30] [--json OUT]

Setup: an embedded Postgres holding N synthetic items (embedded), N users and ~10 events each, one training run;
`dummi backup` of it (size and time reported). The data folder sits on a tmpfs of its own where this process may
mount one (root on Linux), so that its disk can be filled.

Phase 1, `dummi run --workers W --result-cache` on that embedded Postgres, `--gap` seconds between faults:
  a Postgres backend killed with SIGKILL (the one the OOM killer would pick: the largest), the embedded postmaster
  killed with SIGKILL (dummi run's supervisor starts it again), one server process killed with SIGKILL (uvicorn
  starts another), the artifact store unreadable for 10 s (its folder moved away and back), the data folder's
  disk full for 10 s (its tmpfs quota filled, then freed), the result cache's redis-server killed (dummi run
  starts it again).
Phase 2, `dummi run --workers W` against a second Postgres named by DATABASE_URL, filled by `dummi restore` of the
backup (time reported): that server killed with SIGKILL and started again 2 s later, as compose's restart
policy does (Dummi does not supervise a server it did not start).

Throughout, an open-loop mix at --rate requests/s (70% POST /recommendations/, 25% POST
/recommendations/interact with a fresh event_id, 5% POST /users/ or /content/), and every 5 s one listed item
hidden or deleted. Per fault, over its window (until the next fault): requests, answered (any status but 503
and 5xx), shed (503 with Retry-After), failed (5xx other than 503, a 503 without Retry-After, no answer within
--timeout), dropped (the connection closed under the request: the in-flight requests of a killed process), the
slowest answer, time to recover (from the fault to the last shed, failed or dropped answer in its window),
writes acknowledged (2xx) against stored (looked up in Postgres at the end: must be equal), and answers to
requests sent more than 5 s after a take-down answered (the promise) that listed the item.
Exit code 1 when a write was lost, an answer failed, or a taken-down item was listed; dropped connections are
reported, not counted as failures (a client sees a reset connection, never a wrong answer).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from _common import ROOT
from bench_recommend import EVENTS_PER_USER, load
from load import Connection, Workload, free_port, open_loop

sys.path.insert(0, str(ROOT))
from tests.postgres_server import PostgresServer  # noqa: E402

TAKE_DOWN_PROMISE = 5.0
TAKE_DOWN_EVERY = 5.0
BACKEND_ROLES = ("checkpointer", "background writer", "walwriter", "autovacuum", "logical replication", "startup")


@dataclass
class Answer:
    kind: str
    scheduled: float
    sent: float
    done: float
    status: int | None = None  # None: no answer (error says why)
    error: str | None = None
    retry_after: bool = False
    event_id: str | None = None
    content_id: str | None = None  # an interaction's item (its events go when the item is deleted)
    created: tuple[str, str] | None = None  # ("users" | "content", id)
    listed: list[str] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        if self.status is None:
            return "dropped" if self.error and self.error.startswith("dropped") else "failed"
        if self.status == 503:
            return "shed" if self.retry_after else "failed"
        return "failed" if self.status >= 500 else "answered"


@dataclass
class Fault:
    name: str
    at: float = 0.0  # when it was injected (clock of the run)
    notes: list[str] = field(default_factory=list)


class Clock:
    def __init__(self) -> None:
        self.zero = time.perf_counter()

    def now(self) -> float:
        return time.perf_counter() - self.zero


# -- the load ----------------------------------------------------------------------------------------------------
async def send_load(
    port: int,
    args,
    clock: Clock,
    stop: threading.Event,
    answers: list[Answer],
    taken: dict[str, float],
    deleted: set[str],
    *,
    take_downs_on: bool = True,
) -> None:
    """The open-loop mix until ``stop``; with ``take_downs_on``, one listed item hidden or deleted every 5 s
    (``taken``: when each take-down answered; ``deleted``: those deleted, whose events went with them)."""
    workload = Workload(args.items, args.users)
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(args.connections):
        idle.put_nowait(Connection("127.0.0.1", port))

    async def one(scheduled: float) -> None:
        kind, path, body, event_id = workload.next()
        conn = await idle.get()
        sent = clock.now()
        answer = Answer(kind, scheduled, sent, sent, event_id=event_id, content_id=body.get("content_id"))
        if kind == "write":
            answer.created = ("users", body["user_id"]) if "user_id" in body else ("content", body["content_id"])
        try:
            status, data = await asyncio.wait_for(conn.request("POST", path, body), args.timeout)
            answer.status, answer.retry_after = status, "retry-after" in conn.headers
            if kind == "recommend" and status == 200:
                answer.listed = [r["content_id"] for r in json.loads(data)["recommendations"]]
        except TimeoutError:
            answer.error = f"no answer in {args.timeout:.0f} s"
            conn.close()
        except (ConnectionError, asyncio.IncompleteReadError, OSError) as exc:
            answer.error = f"dropped: {type(exc).__name__}"
            conn.close()
        finally:
            idle.put_nowait(conn)
        answer.done = clock.now()
        answers.append(answer)

    async def take_downs() -> None:
        """Every few seconds, hide or delete the item most listed over the last second (of the catalog loaded
        at setup, so that the writes' own items stay countable)."""
        conn, n = Connection("127.0.0.1", port), 0
        while not stop.is_set():
            await asyncio.sleep(TAKE_DOWN_EVERY)
            now, counts = clock.now(), defaultdict(int)
            for a in reversed(answers):
                if a.sent < now - 1:
                    break
                for cid in a.listed:
                    if cid not in taken and re.fullmatch(r"c\d+", cid):
                        counts[cid] += 1
            if not counts:
                continue
            cid = max(counts, key=counts.get)
            n += 1
            try:
                if n % 2:
                    status, _ = await asyncio.wait_for(conn.request("PATCH", f"/content/{cid}", {"hidden": True}), 30)
                else:
                    status, _ = await asyncio.wait_for(conn.request("DELETE", f"/content/{cid}", {}), 30)
            except (TimeoutError, ConnectionError, asyncio.IncompleteReadError, OSError):
                conn.close()
                continue
            if status in (200, 204):  # a 503 (Postgres away) is no take-down: tried again later
                taken[cid] = clock.now()
                if status == 204:
                    deleted.add(cid)
        conn.close()

    downs = asyncio.create_task(take_downs() if take_downs_on else asyncio.sleep(0))
    await open_loop(args.rate, one, started=clock.now(), until=lambda _: stop.is_set(), now=clock.now)
    await downs
    while not idle.empty():
        idle.get_nowait().close()


# -- the server and what is broken -------------------------------------------------------------------------------
class Server:
    """`dummi run` in a process of its own; its output in a log file outside the data folder."""

    def __init__(self, env: dict[str, str], args: list[str], log: Path) -> None:
        self.port = free_port()
        self.log = log
        with log.open("w") as out:
            self.process = subprocess.Popen(
                [str(ROOT / ".venv" / "bin" / "dummi"), "run", "--no-sample", "--no-access-log",
                 "--port", str(self.port), *args],
                env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        self.wait_healthy(180)

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def wait_healthy(self, timeout: float) -> float:
        started = time.monotonic()
        while not self.healthy():
            if self.process.poll() is not None or time.monotonic() - started > timeout:
                raise SystemExit(f"the server is not up: see {self.log}")
            time.sleep(0.2)
        return time.monotonic() - started

    def workers(self) -> list:
        """The uvicorn worker processes: the children holding the listening socket."""
        import psutil

        found = []
        for child in psutil.Process(self.process.pid).children():
            try:
                if any(c.status == psutil.CONN_LISTEN and c.laddr.port == self.port for c in child.net_connections()):
                    found.append(child)
            except psutil.Error:
                pass
        return found

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()


def postmaster_pid(pgdata: Path) -> int:
    return int((pgdata / "postmaster.pid").read_text().splitlines()[0])


def kill_largest_backend(pgdata: Path) -> str:
    import psutil

    backends = [
        p for p in psutil.Process(postmaster_pid(pgdata)).children()
        if not any(role in " ".join(p.cmdline()) for role in BACKEND_ROLES)
    ]  # fmt: skip
    victim = max(backends, key=lambda p: p.memory_info().rss)
    line = " ".join(" ".join(victim.cmdline()).split())
    victim.kill()
    return f"killed backend {victim.pid} ({line})"


def watch_health(port: int, clock: Clock, stop: threading.Event, seen: list) -> None:
    """/health every 0.2 s: (when, status, reason) whenever it changes."""
    last = None
    while not stop.is_set():
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
                now = (response.status, json.loads(response.read() or b"{}").get("reason"))  # a 200 may be degraded
        except urllib.error.HTTPError as exc:
            now = (exc.code, json.loads(exc.read() or b"{}").get("reason"))
        except OSError as exc:
            now = (None, type(exc).__name__)
        if now != last:
            seen.append((clock.now(), *now))
            last = now
        time.sleep(0.2)


# -- a phase -----------------------------------------------------------------------------------------------------
def run_phase(server: Server, faults: list[tuple[str, callable]], args, label: str) -> dict:
    clock, stop = Clock(), threading.Event()
    answers: list[Answer] = []
    taken: dict[str, float] = {}
    deleted: set[str] = set()
    done: list[Fault] = [Fault("baseline (no fault)")]
    health: list = []

    def controller() -> None:
        time.sleep(args.gap)
        for name, act in faults:
            fault = Fault(name, clock.now())
            done.append(fault)
            print(f"  [{label} +{fault.at:5.1f}s] {name}", flush=True)
            try:
                note = act(fault)
                if note:
                    fault.notes.append(note)
            except Exception as exc:  # noqa: BLE001 - reported beside the fault
                fault.notes.append(f"could not inject: {type(exc).__name__}: {exc}")
            time.sleep(max(0.0, fault.at + args.gap - clock.now()))
        stop.set()

    # not measured: 3 s of the same mix at half the rate, so that every worker has loaded its models
    warm = threading.Event()
    threading.Timer(3, warm.set).start()
    half = argparse.Namespace(**{**vars(args), "rate": args.rate / 2})
    asyncio.run(send_load(server.port, half, Clock(), warm, [], {}, set(), take_downs_on=False))
    watcher = threading.Thread(target=watch_health, args=(server.port, clock, stop, health), daemon=True)
    watcher.start()
    thread = threading.Thread(target=controller, daemon=True)
    clock.zero = time.perf_counter()
    thread.start()
    asyncio.run(send_load(server.port, args, clock, stop, answers, taken, deleted))
    thread.join()
    watcher.join(10)
    return {"answers": answers, "faults": done, "taken": taken, "deleted": deleted, "health": health}


def summarize(phase: dict, stored: dict[str, set[str]]) -> list[dict]:
    faults, answers, taken = phase["faults"], phase["answers"], phase["taken"]
    starts = [f.at for f in faults] + [float("inf")]
    rows = []
    for i, fault in enumerate(faults):
        window = [a for a in answers if starts[i] <= a.scheduled < starts[i + 1]]
        by = defaultdict(int)
        for a in window:
            by[a.outcome] += 1
        bad = [a for a in window if a.outcome != "answered"]
        acked = [
            a for a in window
            if a.status is not None and 200 <= a.status < 300 and (a.event_id or a.created)
            and not (a.event_id and a.content_id in phase["deleted"])  # its item deleted since: its events too
        ]  # fmt: skip
        kept = [
            a for a in acked
            if (a.event_id in stored["events"]) or (a.created and a.created[1] in stored[a.created[0]])
        ]  # fmt: skip
        late = [
            a for a in window for cid in a.listed if cid in taken and a.sent > taken[cid] + TAKE_DOWN_PROMISE
        ]  # fmt: skip
        errors = sorted({a.error or f"HTTP {a.status}" for a in bad if a.outcome in ("failed", "dropped")})
        rows.append(
            {
                "fault": fault.name,
                "at": round(fault.at, 1),
                "requests": len(window),
                "answered": by["answered"],
                "shed": by["shed"],
                "failed": by["failed"],
                "dropped": by["dropped"],
                "slowest_s": round(max((a.done - a.sent for a in window), default=0.0), 2),
                "recovery_s": round(max(a.done for a in bad) - fault.at, 1) if bad and i else 0.0,
                "writes_on_deleted_items": sum(
                    1 for a in window if a.event_id and a.status == 201 and a.content_id in phase["deleted"]
                ),
                "writes_acked": len(acked),
                "writes_stored": len(kept),
                "listed_taken_down": len(late),
                "not_answered_by_kind": dict(sorted(Counter(a.kind for a in bad).items())),
                "errors": errors[:5],
                "notes": fault.notes,
            }
        )
    return rows


def stored_writes(db_url: str, answers: list[Answer]) -> dict[str, set[str]]:
    from dummi.db.connection import Database

    events = [a.event_id for a in answers if a.event_id]
    created = defaultdict(list)
    for a in answers:
        if a.created:
            created[a.created[0]].append(a.created[1])
    db = Database(db_url, statement_timeout_ms=600_000)
    found = {
        "events": {
            r[0]
            for r in db.read(
                lambda c: c.run("SELECT event_id FROM interactions WHERE event_id = ANY(CAST(:i AS text[]))", i=events)
            )
        }
    }
    for table, key in (("users", "user_id"), ("content", "content_id")):
        ids = created.get(table, [])
        found[table] = {
            r[0]
            for r in db.read(
                lambda c, t=table, k=key, ids=ids: c.run(
                    f"SELECT {k} FROM {t} WHERE {k} = ANY(CAST(:i AS text[]))", i=ids
                )
            )
        }
    db.close()
    return found


# -- the disk ----------------------------------------------------------------------------------------------------
def mount_tmpfs(folder: Path, size: str) -> str | None:
    """None when mounted; else why not."""
    if sys.platform != "linux" or os.geteuid() != 0:
        return "needs root on Linux to mount a tmpfs of a set size for the data folder"
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(folder)],
                          capture_output=True, text=True)  # fmt: skip
    return None if done.returncode == 0 else f"mount -t tmpfs failed here: {done.stderr.strip()}"


def used_bytes(folder: Path) -> int:
    stat = os.statvfs(folder)
    return (stat.f_blocks - stat.f_bfree) * stat.f_frsize


# -- main --------------------------------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=100, help="requests per second")
    parser.add_argument("--workers", type=int, default=3, help="dummi run --workers")
    parser.add_argument("--connections", type=int, default=64, help="client keep-alive connections")
    parser.add_argument("--gap", type=float, default=20, help="seconds between faults (a fault's window; >= 12)")
    parser.add_argument("--timeout", type=float, default=30, help="a request with no answer by then has failed")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if args.gap < 12:
        parser.error("--gap: at least 12 s (the store and the disk stay broken for 10 s; a window holds one fault)")

    from _common import model_dir

    os.environ["DUMMI_MODEL_DIR"] = str(model_dir())  # make run's exported model (exported once if missing)
    base = Path(tempfile.mkdtemp(prefix="dummi-faults-"))
    data = base / "data"
    no_disk_fault = mount_tmpfs(data, "8G")
    os.environ.pop("DATABASE_URL", None)
    from dummi.artifacts.store import FileStore
    from dummi.db.connection import Database
    from dummi.db.embedded import start_embedded_postgres, stop_embedded_postgres
    from dummi.db.migrations import migrate
    from dummi.training.params import TrainingParams
    from dummi.training.runs import run_now

    servers: list[Server] = []
    external: PostgresServer | None = None
    results: dict = {"setup": {}, "phases": {}}
    try:
        # -- setup: a loaded, trained deployment, and a backup of it
        url = start_embedded_postgres(data)
        db = Database(url, pool_size=2, statement_timeout_ms=600_000)
        migrate(db)
        t = time.perf_counter()
        load(db, args.items, args.users)
        print(f"loaded {args.items} items, {args.users} users, ~{args.users * EVENTS_PER_USER} events"
              f" in {time.perf_counter() - t:.1f}s", flush=True)  # fmt: skip
        t = time.perf_counter()
        run = run_now(db, FileStore(data / "artifacts"), "faults", TrainingParams.configured(retrain_cf=True))
        assert run is not None and run.state == "succeeded", run
        print(f"trained {run.model_version} in {time.perf_counter() - t:.1f}s", flush=True)
        for statement in ("VACUUM ANALYZE", "CHECKPOINT"):
            db.read(lambda conn, statement=statement: conn.run(statement))
        db.close()
        stop_embedded_postgres(data)
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ARTIFACTS_URI")}
        env["DUMMI_DATA_DIR"] = str(data)
        archive = base / "backup.tar"
        t = time.perf_counter()
        subprocess.run([str(ROOT / ".venv/bin/dummi"), "backup", "--out", str(archive)], env=env, check=True,
                       capture_output=True)  # fmt: skip
        results["setup"]["backup"] = {
            "seconds": round(time.perf_counter() - t, 1),
            "mb": archive.stat().st_size / 2**20,
        }
        print(f"dummi backup: {archive.stat().st_size / 2**20:.1f} MB in {time.perf_counter() - t:.1f}s", flush=True)
        if no_disk_fault is None:  # a small quota: what the data holds now and 256 MB more
            quota = used_bytes(data) + 256 * 2**20
            subprocess.run(["mount", "-o", f"remount,size={quota}", str(data)], check=True)
            print(f"data folder on a tmpfs of {quota / 2**20:.0f} MB ({used_bytes(data) / 2**20:.0f} MB used)")

        # -- phase 1: the embedded Postgres, supervised
        server = Server(env, ["--workers", str(args.workers), "--result-cache"], base / "server-1.log")
        servers.append(server)
        pgdata = data / "pg"

        def kill_backend() -> str:
            return kill_largest_backend(pgdata)

        def kill_postmaster(fault: Fault) -> str:
            pid = postmaster_pid(pgdata)
            os.kill(pid, signal.SIGKILL)
            return f"killed postmaster {pid}"

        def kill_worker(fault: Fault) -> str:
            victim = server.workers()[0]
            victim.kill()
            return f"killed server process {victim.pid} of {args.workers}"

        def store_away(fault: Fault) -> str:
            away = data / "artifacts.away"
            os.rename(data / "artifacts", away)
            threading.Timer(10, os.rename, args=(away, data / "artifacts")).start()
            return "artifacts/ moved away for 10 s"

        def disk_full(fault: Fault) -> str:
            filler = data / "filler"
            with filler.open("wb", buffering=0) as out:
                for chunk in (b"\0" * 2**22, b"\0" * 2**12):  # 4 MB at a time, then 4 KB: every block taken
                    try:
                        while True:
                            out.write(chunk)
                    except OSError:  # ENOSPC
                        pass
            threading.Timer(10, filler.unlink).start()
            return f"filled {os.path.getsize(filler) / 2**20:.0f} MB; {os.statvfs(data).f_bavail} blocks left, for 10 s"

        def kill_cache(fault: Fault) -> str:
            import psutil

            cache = next(p for p in psutil.Process(server.process.pid).children() if "redis" in p.name())
            cache.kill()  # dummi run's watch starts it again on the same socket
            return f"killed redis-server {cache.pid}"

        faults = [
            ("a Postgres backend killed (SIGKILL, the largest, as the OOM killer does)", lambda f: kill_backend()),
            ("the embedded Postgres killed (SIGKILL to the postmaster)", kill_postmaster),
            ("one server process killed (SIGKILL)", kill_worker),
            ("the artifact store unreadable for 10 s", store_away),
        ]  # fmt: skip
        if no_disk_fault is None:
            faults.append(("the data folder's disk full for 10 s", disk_full))
        faults.append(("the result cache's redis-server killed", kill_cache))
        print(f"phase 1: dummi run --workers {args.workers} --result-cache, embedded Postgres; {args.rate:.0f} req/s",
              flush=True)  # fmt: skip
        phase = run_phase(server, faults, args, "1")
        server.stop()
        log = server.log.read_text()
        back = re.findall(r"the embedded Postgres is back after ([0-9.]+) s", log)
        url = start_embedded_postgres(data)
        rows = summarize(phase, stored_writes(url, phase["answers"]))
        stop_embedded_postgres(data)
        if back:
            rows[2]["notes"].append(f"the supervisor restarted it after {', '.join(back)} s")
        cache_back = re.findall(r"the result cache's server is back after ([0-9.]+) s", log)
        rows[-1]["notes"].append(f"dummi run started it again after {', '.join(cache_back) or 'never'} s")
        pglog = (pgdata / "log").read_text(errors="replace")
        results["postgres_log"] = {
            "no space left": pglog.count("No space left on device"),
            "PANIC": pglog.count("PANIC"),
            "reinitializing after a crash": pglog.count("all server processes terminated; reinitializing"),
        }
        results["phases"]["embedded"] = {"rows": rows, "health": phase["health"], "giving_up": "giving up" in log}

        # -- phase 2: an external Postgres (DATABASE_URL), restarted by "compose"
        external = PostgresServer(base / "external").init().start()
        Database(external.url).read(lambda conn: conn.run("CREATE DATABASE dummi"))
        env2 = {**env, "DATABASE_URL": external.url.rsplit("/", 1)[0] + "/dummi",
                "ARTIFACTS_URI": (base / "artifacts-2").as_uri()}  # fmt: skip
        t = time.perf_counter()
        subprocess.run([str(ROOT / ".venv/bin/dummi"), "restore", "--from", str(archive)], env=env2, check=True,
                       capture_output=True)  # fmt: skip
        results["setup"]["restore"] = {"seconds": round(time.perf_counter() - t, 1)}
        print(f"dummi restore into a second Postgres: {time.perf_counter() - t:.1f}s", flush=True)
        server = Server(env2, ["--workers", str(args.workers)], base / "server-2.log")
        servers.append(server)

        def kill_external(fault: Fault) -> str:
            import psutil

            pid = external.pid
            os.kill(pid, signal.SIGKILL)
            time.sleep(2)
            while psutil.pid_exists(pid):  # a zombie until init reaps it (a container's restart has none)
                time.sleep(0.05)
            t = time.monotonic()
            external.start()
            return f"killed postmaster {pid}; started again 2 s later ({time.monotonic() - t:.1f} s to start)"

        print(f"phase 2: dummi run --workers {args.workers}, DATABASE_URL (Postgres from pgserver's binaries)")
        phase = run_phase(server, [("the external Postgres killed (SIGKILL), restarted 2 s later", kill_external)],
                          args, "2")  # fmt: skip
        server.stop()
        rows = summarize(phase, stored_writes(env2["DATABASE_URL"], phase["answers"]))
        results["phases"]["external"] = {"rows": rows, "health": phase["health"]}
    finally:
        for server in servers:
            if server.process.poll() is None:
                server.stop()
        if external is not None:
            try:
                external.stop()
            except subprocess.CalledProcessError:
                pass
        stop_embedded_postgres(data)
        if no_disk_fault is None:
            subprocess.run(["umount", str(data)], check=False)

    bad = report(results, args, no_disk_fault)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    shutil.rmtree(base, ignore_errors=True)
    return 1 if bad else 0


def report(results: dict, args, no_disk_fault: str | None) -> bool:
    print(f"\nfaults under load: {args.rate:.0f} requests/s, --workers {args.workers}, {args.items} items,"
          f" {args.users} users; a fault's window runs {args.gap:.0f} s, until the next one")  # fmt: skip
    head = "| fault | requests | answered | shed (503 + Retry-After) | failed | dropped | slowest | recovered after |"
    head += " writes acked / stored | listed after a take-down |"
    print(head)
    print("|" + "---|" * 10)
    bad = False
    for phase in results["phases"].values():
        for r in phase["rows"]:
            print(f"| {r['fault']} | {r['requests']} | {r['answered']} | {r['shed']} | {r['failed']} | {r['dropped']}"
                  f" | {r['slowest_s']:.2f} s | {r['recovery_s']:.1f} s | {r['writes_acked']} / {r['writes_stored']}"
                  f" | {r['listed_taken_down']} |")  # fmt: skip
            bad |= r["failed"] > 0 or r["writes_acked"] != r["writes_stored"] or r["listed_taken_down"] > 0
    for phase in results["phases"].values():
        for r in phase["rows"]:
            said = list(r["notes"])
            said += [f"errors: {r['errors']}"] if r["errors"] else []
            said += [f"not answered, by kind: {r['not_answered_by_kind']}"] if r["not_answered_by_kind"] else []
            if said:
                print(f"  {r['fault']}: {'; '.join(said)}")
    print(f"  the embedded Postgres' log: {results['postgres_log']}")
    skipped = sum(r["writes_on_deleted_items"] for p in results["phases"].values() for r in p["rows"])
    print(f"  not counted as writes: {skipped} interactions with items the take-downs deleted (their events go too)")
    reasons = sorted({h[2] for p in results["phases"].values() for h in p["health"] if h[2]})
    print(f"  /health while degraded said: {reasons}")
    if no_disk_fault:
        print(f"  not tried: the disk-full fault ({no_disk_fault})")
    print(f"  backup {results['setup']['backup']['mb']:.1f} MB in {results['setup']['backup']['seconds']} s;"
          f" restore {results['setup']['restore']['seconds']} s")  # fmt: skip
    return bad


if __name__ == "__main__":
    raise SystemExit(main())
