"""What reusing a choice costs: a retrain that refits the serving model's recipe (the choice made before the
last SHARE of the events arrived) against one that chooses again on all of them, scored on the same test
part; and what each retrain takes.

    .venv/bin/python tests/benchmarks/choice_reuse.py [--share 0.07] [--variant holdout] [--seed 0]

On training data only: splits.py cuts a test part from the ml-100k split's train.jsonl (``holdout``: the
protocol again; ``half-users``: half of the users), never reading its test.jsonl. The events of the cut's
training part are ordered by time; the first 1 - SHARE train a first model (a full choice), the rest are
imported as a day's new events would be, and two retrains follow on a copy of the same state: the default
(the choice is reused while the data moved less than 10%) and one asked for a full choice.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT


def _retrain(folder: Path, full_choice: bool) -> dict:
    from dummi.artifacts.store import FileStore
    from dummi.db.connection import Database
    from dummi.db.embedded import start_embedded_postgres, stop_embedded_postgres
    from dummi.services.evaluation_service import recommend_all, score_lists
    from dummi.training.params import TrainingParams
    from dummi.training.runs import run_now

    db = Database(start_embedded_postgres(folder / "db"), pool_size=2, statement_timeout_ms=600_000)
    try:
        store = FileStore(folder / "artifacts")
        started = time.perf_counter()
        run = run_now(db, store, "bench", TrainingParams(full_choice=full_choice))
        seconds = time.perf_counter() - started
        assert run.state == "succeeded", run.error
        lists, recommender = recommend_all(db, store, folder / "split")
        items = sum(1 for _ in (folder / "split" / "content.jsonl").open())
        metrics = score_lists(lists["default"], folder / "split", recommender, items)
        return {
            "seconds": round(seconds, 1),
            "choose": next(s["seconds"] for s in run.stages if s["name"] == "choose"),
            "decision": run.decision["reason"],
            "ndcg": {g: round(metrics[g]["ndcg"], 4) for g in ("all", "warm", "cold")},
            "coverage": round(metrics["all"]["coverage"], 3),
        }
    finally:
        db.close()
        stop_embedded_postgres(folder / "db")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--share", type=float, default=0.07, help="share of the events that arrive after the choice")
    parser.add_argument("--variant", default="holdout", help="splits.py resample")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--retrain", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.retrain:
        print(json.dumps(_retrain(Path(args.retrain[0]), args.retrain[1] == "full")))
        return

    from dummi.artifacts.store import FileStore
    from dummi.db.connection import Database
    from dummi.db.embedded import start_embedded_postgres, stop_embedded_postgres
    from dummi.db.migrations import migrate
    from dummi.services.import_service import import_directory
    from dummi.training.params import TrainingParams
    from dummi.training.runs import run_now

    work = Path(tempfile.mkdtemp(prefix="dummi-choice-reuse-"))
    split = work / "base" / "split"
    subprocess.run(
        [sys.executable, "splits.py", args.variant, str(split), "--seed", str(args.seed)],
        check=True,
        cwd=ROOT / "tests" / "benchmarks",
    )
    events = sorted((json.loads(line) for line in (split / "train.jsonl").open()), key=lambda e: e["timestamp"])
    cut = int(len(events) * (1 - args.share))
    first, later = work / "first", work / "later"
    for folder, rows, with_catalog in ((first, events[:cut], True), (later, events[cut:], False)):
        folder.mkdir()
        if with_catalog:
            for name in ("content.jsonl", "users.jsonl"):
                shutil.copy(split / name, folder / name)
        (folder / "train.jsonl").write_text("".join(json.dumps(e) + "\n" for e in rows))

    db = Database(start_embedded_postgres(work / "base" / "db"), pool_size=2, statement_timeout_ms=600_000)
    try:
        migrate(db)
        import_directory(db, first)
        run = run_now(db, FileStore(work / "base" / "artifacts"), "bench", TrainingParams())
        assert run.state == "succeeded", run.error
        import_directory(db, later)  # what arrived after the choice
    finally:
        db.close()
        stop_embedded_postgres(work / "base" / "db")
    print(f"{args.variant} (seed {args.seed}): first model on {cut} events, then {len(events) - cut} more", flush=True)
    results = {}
    for how in ("reused", "full"):
        copy = work / how
        shutil.copytree(work / "base", copy)
        out = subprocess.run(
            [sys.executable, __file__, "--retrain", str(copy), how], capture_output=True, text=True, cwd=ROOT
        )
        if out.returncode:
            raise RuntimeError(out.stderr[-3000:])
        results[how] = json.loads(out.stdout.strip().splitlines()[-1])
        r = results[how]
        print(
            f"  {how:6s} retrain {r['seconds']:5.1f} s (choose {r['choose']:.1f} s): NDCG@10 all / warm / cold "
            f"{r['ndcg']['all']:.4f} / {r['ndcg']['warm']:.4f} / {r['ndcg']['cold']:.4f}, coverage {r['coverage']}"
            f" - {r['decision']}",
            flush=True,
        )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
