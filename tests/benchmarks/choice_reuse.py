"""What reusing a choice costs: a retrain that refits the serving model's recipe (the choice made before the
last SHARE of the events arrived) against one that chooses again on all of them, scored on the same test
part; and what each retrain takes.

    .venv/bin/python tests/benchmarks/choice_reuse.py [--share 0.07] [--variant holdout] [--seed 0]

On training data only: splits.py cuts a test part from the ml-100k split's train.jsonl (``holdout``: the
protocol again; ``half-users``: half of the users), never reading its test.jsonl. The events of the cut's
training part are ordered by time; the first 1 - SHARE train a first model (a full choice), the rest are
imported as a day's new events would be, and two retrains follow on the same database: the default
(the choice is reused while the data moved less than 10%) and one asked for a full choice (a store of its
own, so nothing is reused). Both are forced past the publish gate: each is scored as it was fitted.
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


def _retrain(db, store, split: Path, full_choice: bool) -> dict:
    from dummi.services.evaluation_service import recommend_all, score_lists
    from dummi.training.params import TrainingParams
    from dummi.training.runs import run_now

    started = time.perf_counter()
    run = run_now(db, store, "bench", TrainingParams(full_choice=full_choice, force=True))
    seconds = time.perf_counter() - started
    assert run.state == "succeeded", run.error
    lists, recommender = recommend_all(db, store, split)
    items = sum(1 for _ in (split / "content.jsonl").open())
    metrics = score_lists(lists["default"], split, recommender, items)
    reused = next(s["seconds"] for s in run.stages if s["name"] == "choose") < 1.0
    return {
        "seconds": round(seconds, 1),
        "choose": next(s["seconds"] for s in run.stages if s["name"] == "choose"),
        "reused": reused,
        "ndcg": {g: round(metrics[g]["ndcg"], 4) for g in ("all", "warm", "cold")},
        "coverage": round(metrics["all"]["coverage"], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--share", type=float, default=0.07, help="share of the events that arrive after the choice")
    parser.add_argument("--variant", default="holdout", help="splits.py resample")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from dummi.artifacts.store import FileStore
    from dummi.db.connection import Database
    from dummi.db.embedded import start_embedded_postgres, stop_embedded_postgres
    from dummi.db.migrations import migrate
    from dummi.services.import_service import import_directory
    from dummi.training.params import TrainingParams
    from dummi.training.runs import run_now

    work = Path(tempfile.mkdtemp(prefix="dummi-choice-reuse-"))
    split = work / "split"
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

    db = Database(start_embedded_postgres(work / "db"), pool_size=2, statement_timeout_ms=600_000)
    try:
        migrate(db)
        import_directory(db, first)
        serving = FileStore(work / "artifacts")
        run = run_now(db, serving, "bench", TrainingParams())
        assert run.state == "succeeded", run.error
        import_directory(db, later)  # what arrived after the choice
        print(
            f"{args.variant} (seed {args.seed}): first model on {cut} events, then {len(events) - cut} more", flush=True
        )
        # the default retrain (reuses the serving model's choice), then a full choice on a store of its own
        results = {
            "reused": _retrain(db, serving, split, False),
            "full": _retrain(db, FileStore(work / "fresh"), split, True),
        }
    finally:
        db.close()
        stop_embedded_postgres(work / "db")
    for how, r in results.items():
        print(
            f"  {how:6s} retrain {r['seconds']:5.1f} s (choose {r['choose']:.1f} s, reused: {r['reused']}): NDCG@10 "
            f"all / warm / cold {r['ndcg']['all']:.4f} / {r['ndcg']['warm']:.4f} / {r['ndcg']['cold']:.4f}, "
            f"coverage {r['coverage']}",
            flush=True,
        )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
