"""An A/B experiment end to end over HTTP on `dummi run`: simulated users with known tastes click, two
variants (the seed's NMF against the algorithm training chose), and /experiments/{name}/results is checked
against the variants' offline NDCG@10 of the very lists they served.

Tastes come from train.jsonl only (test.jsonl is not read): each user's events are cut at the user's own
80th percentile of time; the earlier parts are imported, and a user's later likes are what they would click.
Every user asks ROUNDS times (their clicks in between); a listed item the user likes later is clicked with
probability 0.8, any other listed item with probability 0.01 (noise).

    .venv/bin/python tests/benchmarks/experiment_e2e.py [--data ../shared/datasets/ml-100k-split] [--port 8765]

Takes ~3 minutes here (import + embedding + one training run with the NMF alternative + ~3,000 requests).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
DUMMI = str(Path(sys.executable).with_name("dummi"))
EXPERIMENT = "nmf-vs-chosen"
CLICK_LIKED, CLICK_OTHER = 0.8, 0.01
ROUNDS = 3


def call(base: str, method: str, path: str, body=None, ok=(200, 201)):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        base + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        if exc.code in ok:
            return json.loads(exc.read())
        raise RuntimeError(f"{method} {path}: {exc.code} {exc.read()[:300]!r}") from exc


def split(data: Path, out: Path) -> dict[str, set[str]]:
    """Write content, users and each user's earlier 80% of train.jsonl to ``out``; the later likes per user."""
    events = [json.loads(line) for line in (data / "train.jsonl").open()]
    by_user: dict[str, list[str]] = defaultdict(list)
    for e in events:
        by_user[e["user_id"]].append(e["timestamp"])
    cuts = {u: sorted(t)[int(0.8 * len(t))] for u, t in by_user.items()}
    out.mkdir(parents=True)
    shutil.copy(data / "content.jsonl", out / "content.jsonl")
    shutil.copy(data / "users.jsonl", out / "users.jsonl")
    tastes: dict[str, set[str]] = defaultdict(set)
    seen: dict[str, set[str]] = defaultdict(set)
    with (out / "train.jsonl").open("w") as f:
        for e in events:
            if e["timestamp"] < cuts[e["user_id"]]:
                f.write(json.dumps(e) + "\n")
                seen[e["user_id"]].add(e["content_id"])
    for e in events:
        if (
            e["timestamp"] >= cuts[e["user_id"]]
            and e["interaction_type"] == "like"
            and e["content_id"] not in seen[e["user_id"]]
        ):
            tastes[e["user_id"]].add(e["content_id"])
    return dict(tastes)


def ndcg(listed: list[str], relevant: set[str], k: int = 10) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, c in enumerate(listed[:k]) if c in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(relevant), k)))
    return dcg / ideal if ideal else 0.0


def training_holdout(artifacts: Path) -> dict[str, float]:
    """The training run's own holdout NDCG@10 (warm users, default settings) of the chosen algorithm's trial
    and of NMF's, from the published manifest."""
    version = json.loads((artifacts / "models" / "latest.json").read_text())["version"]
    manifest = json.loads((artifacts / "models" / version / "manifest.json").read_text())
    chosen = manifest["model"]["cf"]
    first = {}
    for trial in manifest["metrics"]["trials"]:
        name = (trial["cf"] or {}).get("algorithm")
        if (
            trial["group"] == "warm"
            and name
            and trial["cf"] == chosen_config(chosen, trial["cf"])
            and "chosen" not in first
        ):
            first["chosen"] = trial["ndcg"]
        if trial["group"] == "warm" and name == "nmf" and "nmf" not in first:
            first["nmf"] = trial["ndcg"]
    first["algorithm"] = chosen["algorithm"]
    return first


def chosen_config(chosen: dict, config: dict) -> dict:
    """``config`` when it is the chosen model's configuration (same algorithm and parameters), else {}."""
    params = chosen.get("params", {})
    same = config.get("algorithm") == chosen["algorithm"] and all(
        params.get(k) == v for k, v in config.items() if k != "algorithm" and k in params
    )
    return config if same else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "datasets" / "ml-100k-split")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    base = f"http://127.0.0.1:{args.port}"
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="dummi-e2e-") as tmp:
        env = {**os.environ, "DUMMI_DATA_DIR": str(Path(tmp) / "data"), "DUMMI_METRICS_INTERVAL_SECONDS": "0"}
        tastes = split(args.data, Path(tmp) / "import")
        subprocess.run([DUMMI, "import", "--data", str(Path(tmp) / "import"), "--embed"], env=env, check=True)
        server = subprocess.Popen(
            [DUMMI, "run", "--no-sample", "--port", str(args.port), "--no-access-log"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(600):
                try:
                    call(base, "GET", "/health")
                    break
                except (urllib.error.URLError, ConnectionError, RuntimeError):
                    time.sleep(0.5)
            variants = [{"name": "chosen"}, {"name": "nmf", "overrides": {"algorithm": "nmf"}}]
            call(base, "POST", "/experiments", {"name": EXPERIMENT, "variants": variants})
            call(base, "POST", "/training/train", {"force": True})
            while True:
                runs = call(base, "GET", "/training/status")["runs"]
                if runs and runs[0]["state"] in ("succeeded", "failed"):
                    break
                time.sleep(2)
            run = runs[0]
            assert run["state"] == "succeeded", run
            print(f"imported and trained in {time.perf_counter() - started:.0f} s: {run['decision']['reason']}")
            probe = sorted(tastes)[0]
            for _ in range(60):  # the server picks the new model up within seconds
                if call(base, "POST", "/recommendations/", {"user_id": probe})["model_version"]:
                    break
                time.sleep(1)
            rng = np.random.default_rng(args.seed)
            quality: dict[str, list[float]] = defaultdict(list)
            served: dict[tuple[int, str], int] = defaultdict(int)
            clicks = 0
            for round_ in range(ROUNDS):
                for user in sorted(tastes):
                    body = {"user_id": user, "n_recommendations": 10, "surface": "e2e"}
                    answer = call(base, "POST", "/recommendations/", body)
                    listed = [r["content_id"] for r in answer["recommendations"]]
                    quality[answer["variant"] or "none"].append(ndcg(listed, tastes[user]))
                    served[(round_, answer["variant"] or "none")] += 1
                    for item in listed:
                        if rng.random() < (CLICK_LIKED if item in tastes[user] else CLICK_OTHER):
                            event = {"user_id": user, "content_id": item, "interaction_type": "click"}
                            event["recommendation_id"] = answer["recommendation_id"]
                            call(base, "POST", "/recommendations/interact", event)
                            clicks += 1
            results = call(base, "GET", f"/experiments/{EXPERIMENT}/results")
            holdout = training_holdout(Path(tmp) / "data" / "artifacts")
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
    print(
        f"{len(tastes)} users asked {ROUNDS} times each, {clicks} clicks; answers per (round, variant): {dict(served)}"
    )
    by_ctr = []
    for v in results["variants"]:
        offline = float(np.mean(quality[v["name"]])) if quality[v["name"]] else float("nan")
        lift = (
            f"lift {v['lift']:+.1%} always-valid [{v['lift_interval']['low']:+.1%}, {v['lift_interval']['high']:+.1%}]"
            f" (fixed-horizon [{v['lift_fixed_interval']['low']:+.1%}, {v['lift_fixed_interval']['high']:+.1%}])"
            if v["lift"] is not None
            else "control"
        )
        print(
            f"  {v['name']:<7} users {v['users']:>4}  impressions {v['impressions']:>5}  clicks {v['clicks']:>4}  "
            f"CTR {v['ctr']:.4f} [{v['ctr_interval']['low']:.4f}, {v['ctr_interval']['high']:.4f}]  "
            f"mean NDCG@10 of its lists {offline:.4f}  {lift}"
        )
        by_ctr.append((v["ctr"], offline, v["name"]))
    print(f"sample ratio: p = {results['sample_ratio']['p_value']:.3f}; decision: {results['decision']}")
    print(
        f"training's own holdout, warm users, NDCG@10 at default settings: chosen ({holdout['algorithm']}) "
        f"{holdout.get('chosen')}, nmf {holdout.get('nmf')}"
    )
    same = [n for _, _, n in sorted(by_ctr, reverse=True)] == [n for _, _, n in sorted(by_ctr, key=lambda t: -t[1])]
    elapsed = time.perf_counter() - started
    print(f"/results ranks the variants as their NDCG@10 does: {'yes' if same else 'NO'} ({elapsed:.0f} s)")


if __name__ == "__main__":
    main()
