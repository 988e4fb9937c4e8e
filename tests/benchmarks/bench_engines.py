"""Training time per stage in process and on Spark (local[2], the same machine), for 0.1M, 1M and 10M synthetic
events; the cost model the planner uses, fitted to these runs; where the in-process path stops fitting the
training Lambda (the crossover); the growth law of each engine; a projection for EMR Serverless.

    .venv/bin/python tests/benchmarks/bench_engines.py [--sizes 0.1,1,10] [--keep DIR] [--choice]

Data: bench_recommend's synthetic catalog (clustered unit vectors, already embedded: the embed stage is
measured by bench_embeddings.py), 10 events per user (likes, clicks, skips over a Zipf popularity per
topic): 0.1M events = 10K items x 10K users, 1M = 50K x 100K, 10M = 100K x 1M. Both engines fit the same
algorithm (ALS, 50 factors, pinned: the choice is measured apart with --choice, on the in-process path, where
it grows with the data; on Spark it runs on a sample of at most 2M events). Each run is a fresh process and
a fresh artifact store (nothing reused from the other run); memory is the run process's peak RSS (on Spark
the driver's Python; the JVM's heap is capped by spark.driver.memory, 4g here).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import ROOT

SIZES = {0.1: (10_000, 10_000), 1.0: (50_000, 100_000), 10.0: (100_000, 1_000_000)}
LAMBDA_SECONDS, LAMBDA_MB = 720.0, 8192.0


def prepare(folder: Path, items: int, users: int) -> None:
    from bench_recommend import load

    from dummi.db.connection import Database
    from dummi.db.embedded import start_embedded_postgres, stop_embedded_postgres
    from dummi.db.migrations import migrate

    db = Database(start_embedded_postgres(folder), pool_size=2, statement_timeout_ms=3_600_000)
    try:
        migrate(db)
        if not db.read(lambda conn: conn.run("SELECT count(*) FROM content"))[0][0]:
            started = time.perf_counter()
            load(db, items, users)
            db.autocommit(lambda conn: conn.run("VACUUM ANALYZE"))
            print(f"  loaded {items} items, {users} users in {time.perf_counter() - started:.0f} s", flush=True)
    finally:
        db.close()
        stop_embedded_postgres(folder)


def one_run(folder: Path, engine: str, choice: bool) -> dict:
    """In this process: one training run on ``engine``; its stages, counts and peak RSS, as JSON."""
    import logging

    logging.basicConfig(level=logging.WARNING)
    from dummi.artifacts.store import FileStore
    from dummi.db.connection import Database
    from dummi.db.embedded import start_embedded_postgres, stop_embedded_postgres
    from dummi.training.params import TrainingParams
    from dummi.training.runs import run_now

    db = Database(start_embedded_postgres(folder), pool_size=2, statement_timeout_ms=3_600_000)
    try:
        params = TrainingParams(cf_algorithm="auto" if choice else "als", engine=engine, force=True, full_choice=True)
        with tempfile.TemporaryDirectory() as artifacts:
            started = time.perf_counter()
            run = run_now(db, FileStore(Path(artifacts)), "bench", params)
            seconds = time.perf_counter() - started
        assert run is not None and run.state == "succeeded", run.error if run else "not run"
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return {
            "engine": engine,
            "seconds": round(seconds, 1),
            "stages": run.stages,
            "counts": run.counts,
            "peak_mb": round(peak_mb),
        }
    finally:
        db.close()
        stop_embedded_postgres(folder)


def in_subprocess(folder: Path, engine: str, choice: bool) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--one", str(folder), engine] + (["--choice"] if choice else []),
        capture_output=True,
        text=True,
        cwd=ROOT / "tests" / "benchmarks",
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def stage(result: dict, name: str) -> float:
    return sum(s["seconds"] for s in result["stages"] if s["name"] == name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="0.1,1,10", help="millions of events")
    parser.add_argument("--keep", type=Path, help="keep the databases here (reused by the next run)")
    parser.add_argument("--choice", action="store_true", help="also time the in-process choice (cf auto)")
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_run(Path(args.one[0]), args.one[1], args.choice)))
        return
    root = args.keep or Path(tempfile.mkdtemp(prefix="dummi-bench-engines-"))
    results = []
    for size in (float(s) for s in args.sizes.split(",")):
        items, users = SIZES[size]
        folder = root / f"{size:g}M"
        print(f"{size:g}M events ({items} items, {users} users):", flush=True)
        prepare(folder, items, users)
        for engine in ("local", "spark"):
            result = in_subprocess(folder, engine, choice=False)
            result.update(size=size, items=items, users=users)
            results.append(result)
            parts = ", ".join(f"{s['name']} {s['seconds']:.1f}" for s in result["stages"])
            print(f"  {engine:5s} {result['seconds']:7.1f} s, peak {result['peak_mb']} MB: {parts}", flush=True)
        if args.choice and size <= 1.0:
            result = in_subprocess(folder, "local", choice=True)
            print(
                f"  local, choice on the holdout: {stage(result, 'choose'):.1f} s of {result['seconds']:.1f} s",
                flush=True,
            )
            results.append({**result, "size": size, "items": items, "users": users, "with_choice": True})
    report(results)
    (root / "results.json").write_text(json.dumps(results, indent=1))
    print(f"results: {root / 'results.json'}")


def report(results: list[dict]) -> None:
    plain = [r for r in results if not r.get("with_choice")]
    local = [r for r in plain if r["engine"] == "local"]
    spark = [r for r in plain if r["engine"] == "spark"]
    print("\nside by side (seconds; stages that grow with the events)")
    header = ("events", "engine", "total", "read", "matrix", "index", "cf", "item_item", "MB")
    print(" ".join(f"{h:>{w}}" for h, w in zip(header, (8, 6, 7, 6, 6, 6, 6, 9, 6), strict=True)))
    for r in plain:
        cells = [stage(r, n) for n in ("read", "matrix", "index", "cf", "item_item")]
        print(
            f"{r['size']:>7g}M {r['engine']:>6} {r['seconds']:7.1f} "
            + " ".join(f"{c:6.1f}" for c in cells[:2])
            + f" {cells[2]:6.1f} {cells[3]:6.1f} {cells[4]:9.1f} {r['peak_mb']:6d}"
        )
    for name, runs in (("in process", local), ("spark local[2]", spark)):
        if len(runs) >= 2:
            x = np.log([r["counts"]["interactions"] for r in runs])
            y = np.log([r["seconds"] for r in runs])
            slope = np.polyfit(x, y, 1)[0]
            print(f"growth, {name}: time ~ events^{slope:.2f}")
    if local:
        # the event-driven part of the in-process path, per event, and memory per event, from the largest run
        big = max(local, key=lambda r: r["counts"]["interactions"])
        events = big["counts"]["interactions"]
        per_event = sum(stage(big, n) for n in ("read", "matrix", "item_item")) / events
        cf_per_value = stage(big, "cf") / (big["counts"]["cf_nonzeros"] * 50)
        mb = [(r["counts"]["interactions"], r["peak_mb"]) for r in local]
        slope_mb = np.polyfit([e for e, _ in mb], [m for _, m in mb], 1) if len(mb) >= 2 else (0.0, 0.0)
        print(
            f"\ncost model (in process): {per_event * 1e6:.2f} us per event (read, matrix, item-item), "
            f"{cf_per_value * 1e6:.3f} us per stored value and factor (ALS), memory {slope_mb[0] * 1e3:.3f} MB "
            f"per thousand events over {slope_mb[1]:.0f} MB"
        )
        from dummi.training.planner import COST_MODEL

        for r in local:
            counts = {**r["counts"], "events": r["counts"]["interactions"], "items": r["items"]}
            predicted = COST_MODEL.predict(counts, choice=False)  # these runs pin ALS
            print(
                f"  {r['size']:g}M: measured {r['seconds']:.0f} s / {r['peak_mb']} MB, the planner's model predicts "
                f"{predicted['seconds']:.0f} s / {predicted['memory_mb']} MB"
            )
        seconds_per_event = big["seconds"] / events
        mb_per_event = slope_mb[0]
        crossover_time = LAMBDA_SECONDS / seconds_per_event
        crossover_memory = (LAMBDA_MB - slope_mb[1]) / mb_per_event if mb_per_event > 0 else float("inf")
        print(
            f"crossover (the training Lambda's 720 s / 8,192 MB): ~{crossover_time / 1e6:.0f}M events by time, "
            f"~{crossover_memory / 1e6:.0f}M by memory, at this machine's speed (a Lambda core is about as fast)"
        )
    if spark:
        big = max(spark, key=lambda r: r["counts"]["interactions"])
        executor = sum(stage(big, n) for n in ("read", "matrix", "cf", "item_item"))
        driver = big["seconds"] - executor
        per_event_core = executor * 2 / big["counts"]["interactions"]  # local[2]: two cores
        for cores in (64, 256):
            projected = driver * 10 + per_event_core * 100e6 / cores  # the driver's share grows ~linearly too
            print(
                f"projection, 100M events on EMR Serverless with {cores} executor cores: ~{projected / 60:.0f} min "
                f"(executor stages scaled from {per_event_core * 1e6:.1f} core-us per event measured here; the "
                f"driver's {driver:.0f} s at 10M taken x10)"
            )


if __name__ == "__main__":
    main()
