"""GetRecommendations through the PersonalizeFunction's handler beside POST /recommendations/ through the
RecommendationsFunction's, side by side in one process: the same users, ten items each, blocks of 50 requests
interleaved (so both see the same machine), on bench_recommend.py's synthetic catalog (N items in topics, N
users with ~10 events each, a trained NMF model). Prints each side's p50, p99 and mean and the ratios (target:
the Personalize road within 10% of Dummi's own).

    .venv/bin/python tests/benchmarks/bench_personalize.py [items=20000] [users=20000] [--per-side=1000]
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import ROOT, LambdaContext, bench_database
from bench_recommend import EVENTS_PER_USER, load

BLOCK = 50


def _load_function(folder: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"_bench_{folder}", ROOT / "functions" / folder / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


def _event(path: str, body: dict) -> dict:
    event = json.loads((ROOT / "tests" / "events" / "recommendations_recommend.json").read_text())
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["body"] = json.dumps(body)
    event["isBase64Encoded"] = False
    return event


def roads(n_users: int):
    """(Dummi's own road, the Personalize road): each a function answering one random user, in ms."""
    own, personalize = _load_function("recommendations"), _load_function("personalize")
    rng = np.random.default_rng(1)

    def dummi() -> float:
        event = _event("/recommendations/", {"user_id": f"u{int(rng.integers(0, n_users))}", "n_recommendations": 10})
        started = time.perf_counter()
        response = own(event, LambdaContext())
        elapsed = (time.perf_counter() - started) * 1000
        assert response["statusCode"] == 200, response["body"]
        return elapsed

    def boto_shaped() -> float:
        body = {"campaignArn": "arn:aws:personalize:us-east-1:1:campaign/api", "numResults": 10}
        event = _event("/personalize/recommendations", {**body, "userId": f"u{int(rng.integers(0, n_users))}"})
        started = time.perf_counter()
        response = personalize(event, LambdaContext())
        elapsed = (time.perf_counter() - started) * 1000
        assert response["statusCode"] == 200, response["body"]
        assert len(json.loads(response["body"])["itemList"]) == 10
        return elapsed

    return dummi, boto_shaped


def side_by_side(n_users: int, per_side: int) -> tuple[dict, dict]:
    dummi, personalize = roads(n_users)
    for _ in range(50):  # the first requests load the model and warm caches, on both roads
        dummi()
        personalize()
    own, theirs = [], []
    for _ in range(per_side // BLOCK):
        own += [dummi() for _ in range(BLOCK)]
        theirs += [personalize() for _ in range(BLOCK)]
    return _summary(own), _summary(theirs)


def _summary(times: list[float]) -> dict:
    return {
        "p50": float(np.percentile(times, 50)),
        "p99": float(np.percentile(times, 99)),
        "mean": float(np.mean(times)),
    }


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    n_items = int(args[0]) if args else 20_000
    n_users = int(args[1]) if len(args) > 1 else 20_000
    per_side = next((int(a.split("=", 1)[1]) for a in sys.argv if a.startswith("--per-side=")), 1000)
    from dummi.artifacts.store import FileStore
    from dummi.training.params import TrainingParams
    from dummi.training.runs import run_now

    with tempfile.TemporaryDirectory(prefix="dummi-bench-") as tmp:
        data = Path(tmp)
        with bench_database(data) as db:
            load(db, n_items, n_users)
            run = run_now(db, FileStore(data / "artifacts"), "bench", TrainingParams(cf_algorithm="nmf"))
            assert run.state == "succeeded", run.error
            db.read(lambda c: c.run("ANALYZE"))
            print(f"{n_items} items, {n_users} users, {n_users * EVENTS_PER_USER} events; {per_side} requests a side")
            own, theirs = side_by_side(n_users, per_side)
            for name, figures in (("POST /recommendations/", own), ("GetRecommendations", theirs)):
                p50, p99, mean = figures["p50"], figures["p99"], figures["mean"]
                print(f"{name:>24}: p50 {p50:.2f} ms, p99 {p99:.2f} ms, mean {mean:.2f} ms")
            print(
                f"GetRecommendations / POST /recommendations/: p50 {theirs['p50'] / own['p50']:.3f}x, "
                f"p99 {theirs['p99'] / own['p99']:.3f}x, mean {theirs['mean'] / own['mean']:.3f}x (target <= 1.10x)"
            )


if __name__ == "__main__":
    main()
