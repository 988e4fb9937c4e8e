"""The result cache (DUMMI_RESULT_CACHE_URL) against the uncached path, on page reloads and pagination, through
the real recommendations handler in process, with a real redis-server started here (dummi.local_cache).

    .venv/bin/python tests/benchmarks/bench_cache.py [items=100000] [users=100000] --keep=DIR [--sessions 2000]

Needs a loaded and trained folder (bench_recommend.py ITEMS USERS --keep=DIR makes one). A session is one
user (Zipf over users: some come back) opening page 1 (10 items), then each with its probability: reloading
it (0.5), paging on (0.5: page 2 sends page 1's items as `exclude`, page 3 those of 1 and 2, 0.5 each
time), reloading a later page (0.3), clicking an item (0.3: a new event, so the next page is a new key) and
going back to page 1 (0.3). Sessions alternate in blocks of 50 between the cache on and off (one process,
the same engine, the same model). Printed: hit ratio, p50 / p99 per mode, SQL statements per request, and a
last phase in which the cache server is stopped in the middle: p99 and errors while it is gone.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from _common import ROOT, LambdaContext

BLOCK = 50


class Counter:
    """Counts the SQL statements sent (pg8000's Connection.run), per request."""

    def __init__(self) -> None:
        import pg8000.native

        self.n = 0
        real = pg8000.native.Connection.run

        def run(conn, *args, **kwargs):
            self.n += 1
            return real(conn, *args, **kwargs)

        pg8000.native.Connection.run = run


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    n_users = int(args[1]) if len(args) > 1 else 100_000
    keep = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--keep=")), None)
    sessions = int(next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--sessions=")), 2000))
    if keep is None or not (Path(keep) / "artifacts" / "models" / "latest.json").exists():
        sys.exit("needs --keep=DIR with a trained model: run bench_recommend.py ITEMS USERS --keep=DIR first")
    data = Path(keep)
    from dummi.db.embedded import start_embedded_postgres, stop_embedded_postgres
    from dummi.local_cache import LocalCacheServer

    cache_server = LocalCacheServer(data / "bench-cache").start()
    url = start_embedded_postgres(data)
    os.environ.update(
        DATABASE_URL=url,
        ARTIFACTS_URI=(data / "artifacts").as_uri(),
        DUMMI_RESULT_CACHE_URL=cache_server.url,
        POWERTOOLS_TRACE_DISABLED="1",
        POWERTOOLS_METRICS_NAMESPACE="Bench",
        POWERTOOLS_LOG_LEVEL="WARNING",
        POWERTOOLS_METRICS_DISABLED="true",
        DUMMI_MODEL_CHECK_SECONDS="60",
    )
    sys.path.insert(0, str(ROOT / "functions" / "recommendations"))
    try:
        run(n_users, sessions, cache_server)
    finally:
        cache_server.stop()
        stop_embedded_postgres(data)


def run(n_users: int, sessions: int, cache_server) -> None:
    import app  # the real function module

    from dummi.services.recommendation_service import get_engine

    counter = Counter()
    event = json.loads((ROOT / "tests" / "events" / "recommendations_recommend.json").read_text())

    def ask(body: dict) -> tuple[float, int, list[str], int]:
        event["body"] = json.dumps(body)
        before = counter.n
        started = time.perf_counter()
        response = app.handler(event, LambdaContext())
        elapsed = (time.perf_counter() - started) * 1000
        status = response["statusCode"]
        items = [r["content_id"] for r in json.loads(response["body"])["recommendations"]] if status == 200 else []
        return elapsed, status, items, counter.n - before

    from dummi.db.connection import get_database

    def click(user: str, item: str) -> None:
        """A click as POST /recommendations/interact stores it (that route is another function's)."""
        get_database().autocommit(
            lambda c: c.run(
                "INSERT INTO interactions (user_id, content_id, kind, event_type) VALUES (:u, :c, 'interaction',"
                " 'click')",
                u=user,
                c=item,
            )
        )

    rng = np.random.default_rng(7)
    weights = 1.0 / np.arange(1, n_users + 1) ** 0.8
    weights /= weights.sum()
    engine = get_engine()
    cache = engine.cache
    assert cache is not None, "the cache is not configured"

    def session(record) -> None:
        user = f"u{int(rng.choice(n_users, p=weights))}"
        pages: list[list[str]] = []

        def page(k: int) -> None:
            exclude = [c for p in pages[:k] for c in p]
            body = {"user_id": user, "n_recommendations": 10, "exclude": exclude, "surface": "home"}
            elapsed, status, items, queries = ask(body)
            record(elapsed, status, queries)
            if k == len(pages):
                pages.append(items)

        page(0)
        if rng.random() < 0.5:
            page(0)
        k = 1
        while rng.random() < 0.5 and k < 4:
            page(k)
            k += 1
        if k > 1 and rng.random() < 0.3:
            page(k - 1)
        if rng.random() < 0.3 and pages[0]:
            click(user, pages[0][0])
            if len(pages) < 4:
                page(len(pages))
        if rng.random() < 0.3:
            page(0)

    results: dict[str, dict] = defaultdict(lambda: {"times": [], "errors": 0, "queries": 0})

    def recorder(mode: str):
        def record(elapsed: float, status: int, queries: int) -> None:
            results[mode]["times"].append(elapsed)
            results[mode]["errors"] += status >= 500
            results[mode]["queries"] += queries

        return record

    for _ in range(100):  # warm: the model loads, caches fill
        ask({"user_id": f"u{int(rng.integers(n_users))}", "n_recommendations": 10})
    hits0, misses0, rejected0 = cache.hits, cache.misses, cache.rejected
    for b in range(sessions // BLOCK):
        on = b % 2 == 0
        engine.cache = cache if on else None
        for _ in range(BLOCK):
            session(recorder("cached" if on else "uncached"))
    engine.cache = cache
    hits, misses = cache.hits - hits0, cache.misses - misses0
    for mode in ("uncached", "cached"):
        r = results[mode]
        t = r["times"]
        print(
            f"{mode:>8}: {len(t)} requests, p50 {np.percentile(t, 50):.2f} ms, p99 {np.percentile(t, 99):.2f} ms, "
            f"mean {np.mean(t):.2f} ms, {r['queries'] / len(t):.2f} SQL statements a request, {r['errors']} errors"
        )
    print(
        f"  cache: hit ratio {hits / max(1, hits + misses):.3f} ({hits} hits, {misses} misses, "
        f"{cache.rejected - rejected0} cached answers refused as no longer servable)"
    )
    # the cache server stops in the middle of a phase
    for _ in range(BLOCK // 2):
        session(recorder("before the stop"))
    cache_server.stop()
    stopped_at = time.perf_counter()
    for _ in range(BLOCK * 2):
        session(recorder("server stopped"))
    t = results["server stopped"]["times"]
    print(
        f"  cache server stopped mid-load: {len(t)} requests in {time.perf_counter() - stopped_at:.1f}s after it, "
        f"p50 {np.percentile(t, 50):.2f} ms, p99 {np.percentile(t, 99):.2f} ms, max {max(t):.1f} ms, "
        f"{results['server stopped']['errors']} errors, {cache.errors} cache call failures"
    )


if __name__ == "__main__":
    main()
