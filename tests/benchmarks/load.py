"""Load against `dummi run` (the server `make run` starts) from a second process on loopback.

    .venv/bin/python tests/benchmarks/load.py [--items 10000] [--users 10000] [--seconds 60] [--rate 300]
                                             [--workers 3] [--connections 64] [--only KIND] [--keep DIR]
                                             [--retrain]

Sets up its own data folder: an embedded Postgres holding N embedded items, N users with ~10 events each
(synthetic, clustered by topic), one training run, then VACUUM ANALYZE and a checkpoint; starts `dummi run` on
a free port, warms it with 3 s of the same mix at half the rate (not measured) and sends an open-loop mix at
a fixed rate: 70% POST /recommendations/ (warm users), 25% POST /recommendations/interact
(each with a fresh event_id), 5% POST /users/ or POST /content/. Latency is measured from each request's
scheduled time, so a stalled server cannot hide its backlog. It stops by itself, then counts interactions
in Postgres against the number acknowledged, and prints the figures. Nothing here is a pass/fail test;
the exit code is 1 when an error or a lost interaction was seen.

With --take-downs N, N items are hidden one after the other during the measured minute (PATCH
/content/{id} {"hidden": true}, each the item most listed in the last second's answers) and, per item, the
time from the PATCH's answer to the last answer that still listed it (among requests sent after that answer)
is reported: the take-down promise is 5 s.

The client is a small HTTP/1.1 keep-alive client on asyncio streams: a heavier one would take the CPU
the server needs on a 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path

from _common import ROOT
from bench_recommend import EVENTS_PER_USER, load

MIX = (("recommend", 0.70), ("interact", 0.25), ("write", 0.05))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Connection:
    """One keep-alive HTTP/1.1 connection; the server answers with Content-Length."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.headers: dict[str, str] = {}  # of the last answer, names in lower case

    async def request(self, method: str, path: str, body: dict) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        payload = json.dumps(body).encode()
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n"
        ).encode()
        self.writer.write(head + payload)
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("server closed the connection")
        status = int(status_line.split()[1])
        self.headers = {}
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            self.headers[name.strip().lower()] = value.strip()
        length = int(self.headers.get("content-length", 0))
        close = self.headers.get("connection", "").lower() == "close"
        data = await self.reader.readexactly(length)
        if close:
            self.close()
        return status, data

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


class Workload:
    def __init__(self, n_items: int, n_users: int, seed: int = 1, only: str | None = None) -> None:
        self.rng = random.Random(seed)
        self.mix = [(kind, 1.0 if kind == only else 0.0) for kind, _ in MIX] if only else MIX
        self.n_items, self.n_users = n_items, n_users
        self.new = 0
        self.run = f"load{uuid.uuid4().hex[:6]}"  # new ids each run: writes create, not retry

    def next(self) -> tuple[str, str, dict, str | None]:
        """(kind, path, body, event_id)"""
        roll, acc, kind = self.rng.random(), 0.0, MIX[-1][0]
        for name, share in self.mix:
            acc += share
            if roll < acc:
                kind = name
                break
        user = f"u{self.rng.randrange(self.n_users)}"
        if kind == "recommend":
            return kind, "/recommendations/", {"user_id": user, "n_recommendations": 10}, None
        if kind == "interact":
            event_id = uuid.uuid4().hex
            event = self.rng.choice(["click", "like", "skip"])
            body = {
                "user_id": user,
                "content_id": f"c{self.rng.randrange(self.n_items)}",
                "interaction_type": event,
                "event_id": event_id,
            }
            return kind, "/recommendations/interact", body, event_id
        self.new += 1
        if self.new % 2:
            return "write", "/users/", {"user_id": f"{self.run}-u{self.new}", "interests": ["topic-3"]}, None
        body = {"content_id": f"{self.run}-c{self.new}", "title": f"Load item {self.new}", "category": "topic-3"}
        return "write", "/content/", body, None


async def run_load(port: int, args: argparse.Namespace) -> dict:
    workload = Workload(args.items, args.users, only=args.only)
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(args.connections):
        idle.put_nowait(Connection("127.0.0.1", port))
    latencies: dict[str, list[float]] = defaultdict(list)
    statuses: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    acknowledged: list[str] = []
    errors: list[str] = []
    shed: list[float] = []  # how long a request waited for its 503
    tasks: set[asyncio.Task] = set()
    by_second: dict[int, list[float]] = defaultdict(list)  # latencies by the second they were scheduled in
    listed: list[tuple[float, list[str]]] = []  # (sent at, ids) of recommend answers, with --take-downs
    taken: dict[str, float] = {}  # content id -> when its take-down answered
    watch = getattr(args, "take_downs", 0) > 0

    async def one(scheduled: float) -> None:
        kind, path, body, event_id = workload.next()
        conn = await idle.get()
        sent = time.perf_counter()
        try:
            status, data = await conn.request("POST", path, body)
        except Exception as exc:  # noqa: BLE001 - counted and reported
            conn.close()
            errors.append(f"{kind}: {type(exc).__name__}: {exc}")
            return
        finally:
            idle.put_nowait(conn)
        statuses[kind][status] += 1
        if status == 503:  # shed at capacity (Retry-After): counted apart, neither answered nor an error
            shed.append(time.perf_counter() - scheduled)
            return
        latencies[kind].append(time.perf_counter() - scheduled)
        by_second[int(scheduled - started)].append(latencies[kind][-1])
        if status >= 400 and len(errors) < 20:
            errors.append(f"{kind} {status}: {data[:200]!r}")
        if event_id and status == 201:
            acknowledged.append(event_id)
        if watch and kind == "recommend" and status == 200:
            listed.append((sent, [r["content_id"] for r in json.loads(data)["recommendations"]]))

    async def take_downs() -> None:
        """Every few seconds, hide the item most listed over the last second (not hidden before)."""
        conn = Connection("127.0.0.1", port)
        pause = max(0.2, (args.seconds - 8) / args.take_downs)
        await asyncio.sleep(3)
        while len(taken) < args.take_downs and time.perf_counter() - started < args.seconds - 5:
            now = time.perf_counter()
            counts: dict[str, int] = defaultdict(int)
            for sent_at, ids in reversed(listed):
                if sent_at < now - 1:
                    break
                for cid in ids:
                    if cid not in taken:
                        counts[cid] += 1
            if counts:
                cid = max(counts, key=counts.get)
                status, data = await conn.request("PATCH", f"/content/{cid}", {"hidden": True})
                if status != 200:
                    errors.append(f"take-down {status}: {data[:200]!r}")
                    break
                taken[cid] = time.perf_counter()
            await asyncio.sleep(pause)
        conn.close()

    started = time.perf_counter()
    if watch:
        task = asyncio.create_task(take_downs())
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    n = await open_loop(args.rate, one, started=started, until=lambda elapsed: elapsed >= args.seconds)
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    while not idle.empty():
        idle.get_nowait().close()
    return {
        "sent": n,
        "elapsed": elapsed,
        "latencies": latencies,
        "statuses": statuses,
        "acknowledged": acknowledged,
        "errors": errors,
        "shed": shed,
        "by_second": by_second,
        "take_downs": _last_appearances(listed, taken),
    }


async def open_loop(
    rate: float,
    one: Callable[[float], Awaitable[None]],
    *,
    started: float,
    until: Callable[[float], bool],
    now: Callable[[], float] = time.perf_counter,
) -> int:
    """Start ``one(scheduled)`` every 1/rate seconds from ``started``, on schedule whatever earlier requests take
    (an open loop: a stalled server cannot slow the load down), until ``until(seconds since started)``; wait
    for every one; return how many were started."""
    tasks: set[asyncio.Task] = set()
    n = 0
    while True:
        scheduled = started + n / rate
        if until(scheduled - started):
            break
        delay = scheduled - now()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(scheduled))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        n += 1
    await asyncio.gather(*tasks)
    return n


def _last_appearances(listed: list[tuple[float, list[str]]], taken: dict[str, float]) -> dict[str, float]:
    """Per hidden item: seconds from its take-down's answer to the latest request sent after it whose answer
    still listed the item (0: none did)."""
    last = dict.fromkeys(taken, 0.0)
    for sent_at, ids in listed:
        for cid in ids:
            at = taken.get(cid)
            if at is not None and sent_at > at:
                last[cid] = max(last[cid], sent_at - at)
    return last


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))] if ordered else float("nan")


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process, its live descendants and the children it has reaped."""
    import psutil

    root = psutil.Process(pid)
    times = root.cpu_times()
    total = times.user + times.system + times.children_user + times.children_system
    for process in root.children(recursive=True):
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rate", type=float, default=300, help="requests per second to send")
    parser.add_argument("--workers", type=int, default=3, help="dummi run --workers (3 measured best on 2 cores)")
    parser.add_argument("--connections", type=int, default=64, help="client keep-alive connections")
    parser.add_argument("--only", choices=[kind for kind, _ in MIX], help="send one kind of request (cost per kind)")
    parser.add_argument(
        "--retrain", action="store_true", help="train first even if a model exists (folds earlier runs' new items in)"
    )
    parser.add_argument("--keep", type=Path, help="data folder to use and keep (default: a temporary one)")
    parser.add_argument("--take-downs", type=int, default=0, help="hide this many listed items during the run")
    args = parser.parse_args()

    data_dir = args.keep or Path(tempfile.mkdtemp(prefix="dummi-load-"))
    os.environ["DUMMI_DATA_DIR"] = str(data_dir)
    os.environ.pop("DATABASE_URL", None)
    from dummi.artifacts.publish import read_pointer
    from dummi.artifacts.store import FileStore
    from dummi.db.connection import Database
    from dummi.db.embedded import _servers, start_embedded_postgres, stop_embedded_postgres
    from dummi.db.migrations import migrate
    from dummi.training.params import TrainingParams
    from dummi.training.runs import run_now

    url = start_embedded_postgres(data_dir)
    db = Database(url, pool_size=2)
    migrate(db)
    if not db.read(lambda conn: conn.run("SELECT count(*) FROM content"))[0][0]:
        t = time.perf_counter()
        load(db, args.items, args.users)
        print(f"loaded {args.items} items, {args.users} users, ~{args.users * EVENTS_PER_USER} events"
              f" in {time.perf_counter() - t:.1f}s", flush=True)  # fmt: skip
    store = FileStore(data_dir / "artifacts")
    if args.retrain or read_pointer(store) is None:
        t = time.perf_counter()
        run = run_now(db, store, "load", TrainingParams.configured(retrain_cf=True))
        if run is None or run.state != "succeeded":
            raise SystemExit(f"training failed: {run.error if run else 'another run is active'}")
        print(f"trained {run.model_version} in {time.perf_counter() - t:.1f}s", flush=True)
    # As after any bulk load: vacuum, analyze and checkpoint now, so that autovacuum and a timed checkpoint
    # catching up with the load do not run inside the measured minute.
    t = time.perf_counter()
    for statement in ("VACUUM ANALYZE", "CHECKPOINT"):
        db.read(lambda conn, statement=statement: conn.run(statement))
    print(f"vacuum, analyze, checkpoint in {time.perf_counter() - t:.1f}s", flush=True)
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "DUMMI_DATA_DIR": str(data_dir)}
    server_log = (data_dir / "server.log").open("w")
    server = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "dummi"), "run", "--no-sample", "--port", str(port),
         "--workers", str(args.workers), "--no-access-log"],
        env=env, cwd=ROOT, stdout=server_log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the server did not start: see {server_log.name}")
            time.sleep(0.3)
        # Not measured: a few seconds of the same mix at half the rate, so that every worker has loaded the
        # model and the embedding model and opened its pool connections (one-time costs of a start).
        warm = asyncio.run(run_load(port, argparse.Namespace(**{**vars(args), "seconds": 3, "rate": args.rate / 2})))
        if warm["errors"]:
            raise SystemExit(f"warm-up failed: {warm['errors'][0]}")
        print(
            f"server up on :{port} ({args.workers} workers); warm-up {warm['sent']} requests"
            + (f", {len(warm['shed'])} shed while the workers loaded the model" if warm["shed"] else ""),
            flush=True,
        )
        before = db.read(lambda conn: conn.run("SELECT count(*) FROM interactions"))[0][0]
        postgres_pid = _servers[(data_dir / "pg").resolve()].get_pid()
        cpu_before, pg_before = tree_cpu(server.pid), tree_cpu(postgres_pid)
        client_before = time.process_time()
        result = asyncio.run(run_load(port, args))
        server_cpu = tree_cpu(server.pid) - cpu_before
        postgres_cpu = tree_cpu(postgres_pid) - pg_before
        client_cpu = time.process_time() - client_before
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        server_log.close()

    stored = db.read(
        lambda conn: conn.run(
            "SELECT count(*), count(DISTINCT event_id) FROM interactions WHERE event_id = ANY(CAST(:ids AS text[]))",
            ids=result["acknowledged"],
        )
    )[0]
    after = db.read(lambda conn: conn.run("SELECT count(*) FROM interactions"))[0][0]
    db.close()
    if not args.keep:
        stop_embedded_postgres(data_dir)

    done = sum(len(v) for v in result["latencies"].values())
    print(f"\nload: {result['sent']} requests sent over {result['elapsed']:.1f}s at a target of {args.rate:.0f}/s;"
          f" {done / result['elapsed']:.1f} answered/s")  # fmt: skip
    for kind in ("recommend", "interact", "write"):
        values = result["latencies"].get(kind, [])
        codes = ", ".join(f"{code}: {n}" for code, n in sorted(result["statuses"][kind].items()))
        print(f"  {kind:<10} n={len(values):>6}  p50 {percentile(values, 50) * 1000:6.1f} ms"
              f"  p90 {percentile(values, 90) * 1000:6.1f} ms  p99 {percentile(values, 99) * 1000:6.1f} ms"
              f"  max {max(values, default=float('nan')) * 1000:6.1f} ms  [{codes}]")  # fmt: skip
    worst = sorted(result["by_second"].items(), key=lambda kv: -max(kv[1]))[:3]
    slowest = (f"t={t}s max {max(v) * 1000:.0f} ms p50 {percentile(v, 50) * 1000:.0f} ms" for t, v in sorted(worst))
    print("  slowest seconds (all kinds): " + ", ".join(slowest))
    errors = result["errors"]
    acknowledged = len(result["acknowledged"])
    print(f"  errors: {len(errors)}" + (f" (first: {errors[0]})" if errors else ""))
    shed = result["shed"]
    if shed:
        print(f"  shed at capacity (503 with Retry-After): {len(shed)} of {result['sent']}, answered in p50"
              f" {percentile(shed, 50) * 1000:.1f} ms, p99 {percentile(shed, 99) * 1000:.1f} ms")  # fmt: skip
    print(f"  interactions acknowledged {acknowledged}; stored with those event ids {stored[0]}"
          f" (distinct {stored[1]}); table grew by {after - before}")  # fmt: skip
    elapsed = result["elapsed"]
    print(
        f"  CPU per answered request: server {server_cpu / done * 1000:.2f} ms, Postgres"
        f" {postgres_cpu / done * 1000:.2f} ms, client {client_cpu / done * 1000:.2f} ms; in cores: server"
        f" {server_cpu / elapsed:.2f}, Postgres {postgres_cpu / elapsed:.2f}, client {client_cpu / elapsed:.2f}"
        f" of {os.cpu_count()}"
    )
    if result["take_downs"]:
        last = sorted(result["take_downs"].values())
        again = sum(1 for v in last if v > 0)
        print(f"  take-downs: {len(last)}; last appearance after the PATCH answered: p50 {percentile(last, 50):.2f} s,"
              f" max {last[-1]:.2f} s (promise 5 s); {again} were listed again after the answer")  # fmt: skip
    print(f"  server: dummi run --workers {args.workers} (uvicorn, httptools + uvloop), DB pool 8 and"
          f" {os.environ.get('DUMMI_SERVER_THREADS', '8')} handler threads per worker, math on one thread")  # fmt: skip
    lost = stored[0] != acknowledged or stored[1] != acknowledged
    if not args.keep:
        if errors or lost:
            print(f"  data folder kept for inspection (server.log, pg/log): {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)  # a few hundred MB per run
    return 1 if errors or lost else 0


if __name__ == "__main__":
    raise SystemExit(main())
