"""Latency of a warm recommendation through the real handler (API Gateway v2 event, in process, Postgres
on a local socket), the recommendations function's cold start (fresh process: imports + artifact load),
and peak RSS, on synthetic data: N items in topics (clustered unit vectors), N users with ~10 events each.

    .venv/bin/python tests/benchmarks/bench_recommend.py [items=100000] [users=100000] [--core-only 1000000]
        [--keep=DIR] [--logging-cost] [--explore-cost] [--filter-cost] [--page-cost] [--batch=N]
        [--requests=N] [--warm-only] [--count-sql]

The default run times the cold start (median of 3 fresh processes) and then 500 warm requests
(--requests=N); --warm-only leaves the cold start out (to alternate two versions' warm loops quickly, each
from a git worktree on PYTHONPATH), and --count-sql also prints the SQL statements a warm request sends, by
statement.

--logging-cost measures what logging each answer (the impression INSERT) adds: blocks of 50 requests with
the log written and 50 with it replaced by a stub, interleaved, 1,000 of each, in one process.
--explore-cost likewise compares the default request (one exploration slot) with explore_slots 0.
--filter-cost likewise compares unfiltered requests with requests filtered to 10% and to 1% of the items
(`properties.p10` / `properties.p1`), each filtered answer checked to hold 10 matching items.
--page-cost likewise compares plain requests, page-token requests (page 2 of a list whose first page an
untimed request just logged) and promotion requests (30% of the slots for `properties.p10`), side by side,
3,000 of each (BENCH_PER_KIND). Both print each p99's ratio to the first kind's (unfiltered, plain) with a
95% interval from the turns resampled: a p99 rests on its slowest 1% of requests, and another run of the
same code can land anywhere in that interval.

--batch=N answers N users (u0..) as `dummi batch-recommend` does (the model loaded once per process,
chunks of 1,000, the output written whole) and prints users per second; --batch-workers=K answers the
chunks in K processes.

--core-only N measures the recommender itself (no Postgres, no training: a synthetic model of N items)
for catalogs too large to load and train here in a few minutes.
"""

from __future__ import annotations

import io
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from _common import PEAK_RSS_SNIPPET, ROOT, LambdaContext, bench_database, in_fresh_process

TOPICS = 50
EVENTS_PER_USER = 10
DIM = 384


def synthetic_vectors(n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    centers = rng.standard_normal((TOPICS, DIM)).astype(np.float32)
    topic = rng.integers(0, TOPICS, n)
    x = centers[topic] + 0.6 * rng.standard_normal((n, DIM)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x, topic


def load(db, n_items: int, n_users: int, seed: int = 0) -> None:
    """COPY synthetic content (already embedded), users and events into Postgres (a dev tool: raw SQL)."""
    from dummi.ml.text import content_text, text_hash

    rng = np.random.default_rng(seed)
    vectors, topic = synthetic_vectors(n_items, rng)
    by_topic = [np.flatnonzero(topic == t) for t in range(TOPICS)]
    zipf = [1.0 / np.arange(1, len(ix) + 1) ** 0.9 for ix in by_topic]
    zipf = [z / z.sum() for z in zipf]
    conn = db.connect()

    def copy(table: str, columns: str, lines) -> None:
        buffer = io.BytesIO("".join(lines).encode())
        conn.run(f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT text)", stream=buffer)

    def content_rows():
        for i in range(n_items):
            title, category = f"Item {i} about topic {topic[i]}", f"topic-{topic[i]}"
            h = text_hash(content_text(title, category, [], ""))
            vector = vectors[i].astype("<f4").tobytes().hex()
            # what --filter-cost filters on: 1% and 10% of the items, spread over the topics
            props = json.dumps({"p1": i % 100 == 0, "p10": i % 10 == 0})
            yield f"c{i}\t{title}\t{category}\t{{}}\t\t\\\\x{vector}\t{h}\t2025-12-01T00:00:00Z\t{props}\n"

    copy(
        "content",
        "content_id, title, category, tags, description, embedding, text_hash, created_at, properties",
        content_rows(),
    )
    user_topic = rng.integers(0, TOPICS, n_users)

    def user_rows():
        for u in range(n_users):
            t = user_topic[u]
            interest = vectors[by_topic[t][0]].astype("<f4").tobytes().hex()
            yield f"u{u}\t{{topic-{t}}}\tintermediate\t\\\\x{interest}\tbench\n"

    copy("users", "user_id, interests, skill_level, interests_embedding, interests_hash", user_rows())
    start = datetime(2026, 1, 1, tzinfo=UTC)

    def event_rows():
        for u in range(n_users):
            t = user_topic[u]
            items = rng.choice(by_topic[t], size=EVENTS_PER_USER, p=zipf[t])
            kinds = rng.choice(["like", "click", "skip"], size=EVENTS_PER_USER, p=[0.6, 0.3, 0.1])
            for k, (item, kind) in enumerate(zip(items, kinds, strict=True)):
                at = (start + timedelta(minutes=int(u) * 3 + k)).isoformat()
                yield f"u{u}\tc{item}\tinteraction\t{kind}\t\\N\t{at}\n"

    copy("interactions", "user_id, content_id, kind, event_type, duration_seconds, created_at", event_rows())
    conn.close()


def percentile(times, q):
    return float(np.percentile(times, q))


def _handler_loop(n_users: int, extra: dict | None = None):
    sys.path.insert(0, str(ROOT / "functions" / "recommendations"))
    import app  # the real function module

    event = json.loads((ROOT / "tests" / "events" / "recommendations_recommend.json").read_text())

    rng = np.random.default_rng(1)

    wanted = (extra or {}).get("filters")

    def one() -> float:
        body = {"user_id": f"u{int(rng.integers(0, n_users))}", "n_recommendations": 10, **(extra or {})}
        event["body"] = json.dumps(body)
        started = time.perf_counter()
        response = app.handler(event, LambdaContext())
        elapsed = (time.perf_counter() - started) * 1000
        assert response["statusCode"] == 200, response["body"]
        if wanted:  # every item matches, and the list is full
            items = [r["content_id"] for r in json.loads(response["body"])["recommendations"]]
            key = wanted[0]["field"].removeprefix("properties.")
            share = {"p1": 100, "p10": 10}[key]
            assert len(items) == 10 and all(int(c[1:]) % share == 0 for c in items), items
        return elapsed

    return one


def _summary(times: list[float]) -> dict:
    return {"p50": percentile(times, 50), "p99": percentile(times, 99), "mean": float(np.mean(times))}


def bench_handler(n_requests: int, n_users: int, count_sql: bool = False) -> dict:
    one = _handler_loop(n_users)
    for _ in range(50):  # the first requests load the model and warm caches
        one()
    if not count_sql:
        return _summary([one() for _ in range(n_requests)])
    import collections

    import pg8000.native

    counts: collections.Counter = collections.Counter()
    run = pg8000.native.Connection.run

    def counting(self, sql, *args, **kwargs):
        counts[" ".join(sql.split())[:100]] += 1
        return run(self, sql, *args, **kwargs)

    pg8000.native.Connection.run = counting
    try:
        found = _summary([one() for _ in range(n_requests)])
    finally:
        pg8000.native.Connection.run = run
    print(f"SQL statements per warm request: {sum(counts.values()) / n_requests:.2f}")
    for statement, n in counts.most_common(8):
        print(f"  {n / n_requests:5.2f}  {statement}")
    return found


def _interleaved(loops: dict[str, Callable[[], float]], per_kind: int, block: int) -> dict[str, dict]:
    """Each kind of request warmed up (50 each), then timed in turns of ``block`` requests, ``per_kind`` each,
    in one process: what the machine does meanwhile falls on every kind alike. Each summary keeps its
    ``turns`` (one row of times per turn) for ``p99_ratio``."""
    for one in loops.values():
        for _ in range(50):
            one()
    turns: dict[str, list[list[float]]] = {name: [] for name in loops}
    for _ in range(per_kind // block):
        for name, one in loops.items():
            turns[name].append([one() for _ in range(block)])
    return {name: {**_summary([t for turn in rows for t in turn]), "turns": rows} for name, rows in turns.items()}


def p99_ratio(kind: dict, base: dict, draws: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """``kind``'s p99 over ``base``'s and a 95% interval: whole turns resampled with replacement, the same
    turns for both (a turn's blocks ran side by side, so what the machine did then stays paired). A p99 of
    1,000 requests rests on its 10 slowest; the interval says how far another run could land."""
    a, b = np.asarray(kind["turns"]), np.asarray(base["turns"])
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(a), (draws, len(a)))
    ratios = [np.percentile(a[p], 99) / np.percentile(b[p], 99) for p in picks]
    low, high = np.percentile(ratios, [2.5, 97.5])
    return kind["p99"] / base["p99"], float(low), float(high)


def bench_explore_cost(n_users: int, per_side: int = 1000, block: int = 50) -> tuple[dict, dict]:
    """(with the default exploration slot, with explore_slots 0), interleaved in blocks in one process."""
    loops = {"slot": _handler_loop(n_users), "none": _handler_loop(n_users, {"explore_slots": 0})}
    found = _interleaved(loops, per_side, block)
    return found["slot"], found["none"]


FILTERS = {
    "unfiltered": None,
    "10% of the items": [{"field": "properties.p10", "op": "in", "value": [True]}],
    "1% of the items": [{"field": "properties.p1", "op": "in", "value": [True]}],
}


def bench_filter_cost(n_users: int, per_kind: int = 1000, block: int = 50) -> dict[str, dict]:
    """Unfiltered requests and requests filtered to 10% and to 1% of the items, interleaved in blocks in one
    process (each filtered answer is checked: n items, all matching)."""
    loops = {name: _handler_loop(n_users, {"filters": f} if f else None) for name, f in FILTERS.items()}
    return _interleaved(loops, per_kind, block)


PROMOTION = {"name": "bench", "share": 0.3, "filters": [{"field": "properties.p10", "op": "in", "value": [True]}]}


def bench_page_cost(n_users: int, per_kind: int = 1000, block: int = 50) -> dict[str, dict]:
    """Plain requests, page-token requests (page 2: an untimed first page gives the token) and promotion
    requests, interleaved in blocks in one process; each page and promoted answer is checked."""
    sys.path.insert(0, str(ROOT / "functions" / "recommendations"))
    import app

    event = json.loads((ROOT / "tests" / "events" / "recommendations_recommend.json").read_text())
    rng = np.random.default_rng(2)

    def call(body: dict) -> tuple[float, dict]:
        event["body"] = json.dumps({"n_recommendations": 10, **body})
        started = time.perf_counter()
        response = app.handler(event, LambdaContext())
        elapsed = (time.perf_counter() - started) * 1000
        assert response["statusCode"] == 200, response["body"]
        return elapsed, json.loads(response["body"])

    def plain() -> float:
        return call({"user_id": f"u{int(rng.integers(0, n_users))}"})[0]

    def page() -> float:
        user = f"u{int(rng.integers(0, n_users))}"
        _, first = call({"user_id": user})
        elapsed, second = call({"user_id": user, "page_token": first["next_page_token"]})
        shown = {r["content_id"] for r in first["recommendations"]}
        assert second["page"] == 2 and not shown & {r["content_id"] for r in second["recommendations"]}
        return elapsed

    def promoted() -> float:
        elapsed, answer = call({"user_id": f"u{int(rng.integers(0, n_users))}", "promotion": PROMOTION})
        held = [r["content_id"] for r in answer["recommendations"] if r["promoted"]]
        assert len(held) == 3 and all(int(c[1:]) % 10 == 0 for c in held), answer
        return elapsed

    return _interleaved({"plain": plain, "page token": page, "promotion": promoted}, per_kind, block)


def bench_logging_cost(n_users: int, per_side: int = 1000, block: int = 50) -> tuple[dict, dict]:
    """(with the impression log, with a stub in its place), interleaved in blocks in one process."""
    import dummi.services.answers_service as route

    one = _handler_loop(n_users)
    for _ in range(50):
        one()
    real = route.log_answer
    logged, stubbed = [], []
    for k in range(2 * per_side // block):
        route.log_answer = real if k % 2 == 0 else (lambda *a, **kw: "00000000-0000-7000-8000-000000000000")
        (logged if k % 2 == 0 else stubbed).extend(one() for _ in range(block))
    route.log_answer = real
    return _summary(logged), _summary(stubbed)


COLD_START = """
import json, sys, time
t0 = time.perf_counter()
sys.path.insert(0, {fn!r})
import app
imported = time.perf_counter() - t0
event = json.load(open({event!r}))
event["body"] = json.dumps({{"user_id": "u1", "n_recommendations": 10}})
class C:
    function_name, function_version, memory_limit_in_mb = "bench", "$LATEST", 1769
    invoked_function_arn, aws_request_id = "arn:aws:lambda:us-east-1:0:function:bench", "cold"
    def get_remaining_time_in_millis(self): return 29000
if {profile!r}:
    import cProfile, pstats, io as _io
    prof = cProfile.Profile(); prof.enable()
r = app.handler(event, C())
if {profile!r}:
    prof.disable(); out = _io.StringIO(); pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(25)
    print(out.getvalue(), file=sys.stderr)
assert r["statusCode"] == 200, r
print(json.dumps({{"import_s": imported, "first_response_s": time.perf_counter() - t0, "rss_mb": {rss},
                  "torch": "torch" in sys.modules, "sklearn": "sklearn" in sys.modules}}))
"""


def bench_batch(db, n_users: int, folder: Path, workers: int = 1) -> None:
    """N users through the batch job's steps in this process, as `dummi batch-recommend` runs them."""
    from dummi.batch.files import batch_file
    from dummi.batch.options import BatchOptions
    from dummi.services.recommendation_service import get_engine

    source, out = folder / "batch-users.jsonl", folder / "batch-recs.jsonl"
    source.write_text("".join(json.dumps({"userId": f"u{u}"}) + "\n" for u in range(n_users)))
    started = time.perf_counter()
    job, _ = batch_file(db, get_engine, source, out, BatchOptions(), chunk_size=1000, workers=workers)
    seconds = time.perf_counter() - started
    assert job.lines_done == n_users and job.errors == 0, job
    print(
        f"batch: {n_users} users in {seconds:.1f}s = {n_users / seconds:.0f} users/s "
        f"({workers} worker process(es), {job.chunks_total} chunks, model {job.model_versions[0]}, "
        f"output {out.stat().st_size / 1e6:.0f} MB)"
    )


def core_only(n_items: int) -> None:
    """The recommender on a synthetic model of n_items (NMF-shaped factors, HNSW index), no Postgres."""
    from dummi.ml.cf import FactorModel
    from dummi.ml.model_bundle import ModelBundle
    from dummi.ml.recommender import HybridRecommender, RankRequest, UserEvent, UserState
    from dummi.ml.vector_index import build_index

    rng = np.random.default_rng(0)
    vectors, topic = synthetic_vectors(n_items, rng)
    t = time.perf_counter()
    index = build_index([f"c{i}" for i in range(n_items)], vectors)
    print(f"  {index.kind} index over {n_items} items built in {time.perf_counter() - t:.0f}s")
    factors = np.abs(rng.standard_normal((n_items, 50))).astype(np.float32) * 0.1
    bundle = ModelBundle(
        np.array([f"c{i}" for i in range(n_items)], dtype=object),
        [f"Item {i}" for i in range(n_items)],
        [f"topic-{k}" for k in topic],
        index,
        rng.random(n_items).astype(np.float32),
        FactorModel("nmf", factors, factors.copy()),
        {},
        vectors,
    )
    recommender = HybridRecommender(bundle)
    now = datetime.now(UTC)
    times = []
    for i in range(300):
        items = rng.integers(0, n_items, 12)
        events = [
            UserEvent(f"c{j}", "interaction", "like", None, now - timedelta(minutes=k)) for k, j in enumerate(items)
        ]
        state = UserState(f"u{i}", [], None, events, {f"c{j}" for j in items})
        started = time.perf_counter()
        recommender.recommend(state, RankRequest(n=10))
        times.append((time.perf_counter() - started) * 1000)
    peak = int(next(line for line in open("/proc/self/status") if line.startswith("VmHWM")).split()[1]) / 1024
    print(
        f"core recommender, {n_items} items: p50 {percentile(times[20:], 50):.2f} ms, "
        f"p99 {percentile(times[20:], 99):.2f} ms, peak RSS {peak:.0f} MB"
    )


def _print_ratios(found: dict[str, dict], base: str, goal: str) -> None:
    for name, figures in found.items():
        line = f"{name:>17}: p50 {figures['p50']:.2f} ms, p99 {figures['p99']:.2f} ms"
        if name != base:
            ratio, low, high = p99_ratio(figures, found[base])
            line += f" ({ratio:.2f}x the {base} p99, 95% interval {low:.2f}-{high:.2f}x; goal <= {goal})"
        print(line)
    print(f"(intervals: the turns of {len(found[base]['turns'][0])} requests resampled, paired across the kinds)")


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if "--core-only" in sys.argv:
        core_only(int(args[0]) if args else 1_000_000)
        return
    n_items = int(args[0]) if args else 100_000
    n_users = int(args[1]) if len(args) > 1 else 100_000
    from dummi.artifacts.store import FileStore
    from dummi.training.params import TrainingParams
    from dummi.training.runs import run_now

    keep = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--keep=")), None)
    with tempfile.TemporaryDirectory(prefix="dummi-bench-") as tmp:
        data = Path(keep or tmp)  # --keep=DIR: reuse a loaded and trained folder between runs
        reuse = keep is not None and (data / "artifacts" / "models" / "latest.json").exists()
        with bench_database(data) as db:
            if not reuse:
                t = time.perf_counter()
                load(db, n_items, n_users)
                print(
                    f"loaded {n_items} items, {n_users} users, {n_users * EVENTS_PER_USER} events in "
                    f"{time.perf_counter() - t:.0f}s"
                )
                t = time.perf_counter()
                run = run_now(db, FileStore(data / "artifacts"), "bench", TrainingParams(cf_algorithm="nmf"))
                assert run.state == "succeeded", run.error
                print(f"trained in {time.perf_counter() - t:.0f}s: {run.timings}")
            db.read(lambda c: c.run("ANALYZE"))
            batch = next((int(a.split("=", 1)[1]) for a in sys.argv if a.startswith("--batch=")), None)
            if batch:
                workers = next((int(a.split("=", 1)[1]) for a in sys.argv if a.startswith("--batch-workers=")), 1)
                bench_batch(db, min(batch, n_users), data, workers)
                return
            if "--warm-only" in sys.argv:
                _print_warm(bench_handler(_requests(), n_users, "--count-sql" in sys.argv))
                return
            # Cold start first: after the warm loop this process's idle OpenMP threads would still be
            # spinning on the two cores and slow the fresh process down.
            runs = [
                in_fresh_process(
                    COLD_START.format(
                        fn=str(ROOT / "functions" / "recommendations"),
                        event=str(ROOT / "tests" / "events" / "recommendations_recommend.json"),
                        rss=PEAK_RSS_SNIPPET,
                        profile="--profile" in sys.argv,
                    ),
                    echo_stderr="--profile" in sys.argv,
                )
                for _ in range(3)
            ]
            cold = sorted(runs, key=lambda r: r["first_response_s"])[1]  # the median of three
            print(
                f"cold start (fresh process, median of 3): imports {cold['import_s']:.2f}s, first answer "
                f"{cold['first_response_s']:.2f}s (target 1.5 s), peak RSS {cold['rss_mb']:.0f} MB, "
                f"torch imported: {cold['torch']}, scikit-learn imported: {cold['sklearn']}"
            )
            if "--explore-cost" in sys.argv:
                slot, none = bench_explore_cost(n_users)
                print(
                    f"exploration slot: p50 {slot['p50']:.2f} ms with it, {none['p50']:.2f} ms without "
                    f"(+{slot['p50'] - none['p50']:.2f} ms); p99 {slot['p99']:.2f} vs {none['p99']:.2f} ms"
                )
                return
            if "--filter-cost" in sys.argv:
                _print_ratios(bench_filter_cost(n_users), "unfiltered", "2x")
                return
            if "--page-cost" in sys.argv:
                found = bench_page_cost(n_users, per_kind=int(os.environ.get("BENCH_PER_KIND", "3000")))
                _print_ratios(found, "plain", "1.2x")
                return
            if "--logging-cost" in sys.argv:
                logged, stubbed = bench_logging_cost(n_users)
                print(
                    f"impression log: p50 {logged['p50']:.2f} ms with it, {stubbed['p50']:.2f} ms without "
                    f"(+{logged['p50'] - stubbed['p50']:.2f} ms, goal <= 1 ms); p99 {logged['p99']:.2f} vs "
                    f"{stubbed['p99']:.2f} ms (+{logged['p99'] - stubbed['p99']:.2f} ms); "
                    f"{db.read(lambda c: c.run('SELECT count(*) FROM impressions'))[0][0]} answers logged"
                )
                return
            _print_warm(bench_handler(_requests(), n_users, "--count-sql" in sys.argv))


def _requests() -> int:
    return next((int(a.split("=", 1)[1]) for a in sys.argv if a.startswith("--requests=")), 500)


def _print_warm(warm: dict) -> None:
    print(
        f"warm recommendation through the handler: p50 {warm['p50']:.2f} ms, p99 {warm['p99']:.2f} ms "
        f"(targets 10 / 25 ms: {10 / warm['p50']:.1f}x / {25 / warm['p99']:.1f}x headroom)"
    )


if __name__ == "__main__":
    main()
