"""A snapshot of what the recommender answers, to hold a refactoring of the ranking code to the same lists.

Train once with the real pipeline and keep the published model; then, from that model alone (no
database), answer a battery of requests for every user of the split (default, diversity, a category cap,
a category, exclusions, CF or content alone, cf_weight 0 and 1, exploration with fixed counts and a fixed
seed, items newer than the model) plus popular and similar lists, and write every list with its scores,
methods and reasons. Two snapshots of the same model by two versions of the code are then compared.

    .venv/bin/python tests/benchmarks/ranking_snapshot.py train MODEL_DIR [split]     # once
    .venv/bin/python tests/benchmarks/ranking_snapshot.py snapshot MODEL_DIR OUT.json [split]
    .venv/bin/python tests/benchmarks/ranking_snapshot.py compare A.json B.json
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from datetime import datetime
from pathlib import Path

import numpy as np
from _common import ROOT

SAMPLE = ROOT / "data" / "sample_data.json"


def _split_rows(split: str):
    """(content, users, events) of a split folder, or of the sample catalog (``sample``)."""
    if split == "sample":
        data = json.loads(SAMPLE.read_text())
        return data["content"], data["users"], [*data.get("interactions", []), *data.get("feedback", [])]
    folder = Path(split)
    read = lambda name: [json.loads(line) for line in (folder / name).open() if line.strip()]  # noqa: E731
    return read("content.jsonl"), read("users.jsonl"), read("train.jsonl")


def train(model_dir: Path, split: str) -> None:
    from dummi.artifacts.store import FileStore
    from dummi.db.connection import Database
    from dummi.db.embedded import start_embedded_postgres, stop_embedded_postgres
    from dummi.db.migrations import migrate
    from dummi.training.params import TrainingParams
    from dummi.training.runs import run_now

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        db = Database(start_embedded_postgres(data), pool_size=2, statement_timeout_ms=600_000)
        try:
            migrate(db)
            if split == "sample":
                from dummi.services.sample_data import load_sample_data

                load_sample_data(db, SAMPLE)
            else:
                from dummi.services.import_service import import_directory

                import_directory(db, Path(split))
            run = run_now(db, FileStore(data / "artifacts"), "snapshot", TrainingParams())
            assert run.state == "succeeded", run.error
        finally:
            db.close()
            stop_embedded_postgres(data)
        shutil.rmtree(model_dir, ignore_errors=True)
        shutil.copytree(data / "artifacts", model_dir)
    print(f"model {run.model_version} kept in {model_dir}")


def _recommender(model_dir: Path):
    from dummi.artifacts.loader import load_version
    from dummi.artifacts.publish import read_pointer
    from dummi.artifacts.store import FileStore
    from dummi.ml.model_bundle import parse_bundle
    from dummi.ml.recommender import FreshItems, HybridRecommender

    store = FileStore(model_dir)
    pointer = read_pointer(store)
    manifest, files = load_version(store, pointer["version"], pointer.get("manifest_sha256"))
    bundle = parse_bundle(manifest, files)
    # items newer than the model: copies of the first few, under new ids
    k = min(12, bundle.size)
    fresh = FreshItems(
        ids=[f"fresh-{i}" for i in range(k)],
        titles=[f"New: {t}" for t in bundle.titles[:k]],
        categories=list(bundle.categories[:k]),
        tags=[list(t) for t in bundle.tags[:k]],
        vectors=np.asarray(bundle.vectors[:k], np.float32),
    )
    return HybridRecommender(bundle), HybridRecommender(bundle, fresh)


def _states(split: str):
    from dummi.ml.embeddings import get_embedder
    from dummi.ml.recommender import UserEvent, UserState
    from dummi.ml.text import interests_text

    content, users, events = _split_rows(split)
    by_user: dict[str, list] = {}
    for e in events:
        kind = "feedback" if "feedback_type" in e else "interaction"
        etype = e.get("feedback_type") or e["interaction_type"]
        at = datetime.fromisoformat(e["timestamp"])
        by_user.setdefault(e["user_id"], []).append(
            UserEvent(e["content_id"], kind, etype, e.get("duration_seconds"), at)
        )
    named = [u for u in users if u.get("interests")]
    vectors = get_embedder().encode([interests_text(u["interests"]) for u in named]) if named else []
    interest_vectors = {u["user_id"]: v for u, v in zip(named, vectors, strict=True)}
    states = {}
    for u in users:
        evs = sorted(by_user.get(u["user_id"], []), key=lambda e: e.at, reverse=True)
        states[u["user_id"]] = UserState(
            u["user_id"],
            list(u.get("interests", [])),
            interest_vectors.get(u["user_id"]),
            evs,
            {e.content_id for e in evs},
        )
    return content, states


def _requests(recommender, content):
    from dummi.ml.recommender import RankRequest

    categories = sorted({c["category"] for c in content})
    some = frozenset(c["content_id"] for c in content[:5])
    return {
        "default": RankRequest(explore_slots=0),
        "n3": RankRequest(n=3, explore_slots=0),
        "n40": RankRequest(n=40, explore_slots=0),
        "diversity 0.5": RankRequest(diversity=0.5, explore_slots=0),
        "diversity 1": RankRequest(diversity=1.0, explore_slots=0),
        "cap 2": RankRequest(max_per_category=2, explore_slots=0),
        "category": RankRequest(category=categories[0], explore_slots=0),
        "exclude": RankRequest(exclude=some, explore_slots=0),
        "cf only": RankRequest(use_embeddings=False, explore_slots=0),
        "content only": RankRequest(use_cf=False, explore_slots=0),
        "neither": RankRequest(use_cf=False, use_embeddings=False, explore_slots=0),
        "cf_weight 0": RankRequest(cf_weight=0.0, explore_slots=0),
        "cf_weight 1": RankRequest(cf_weight=1.0, explore_slots=0),
        "explore": RankRequest(n=10),
        "explore 3": RankRequest(n=12, explore_slots=3, diversity=0.3),
    }


def _arms(recommender):
    from dummi.ml.recommender import ExploreArms

    rng = np.random.default_rng(5)
    impressions = rng.integers(0, 200, recommender.size).astype(np.float64)
    clicks = np.floor(impressions * rng.random(recommender.size) * 0.1)
    return ExploreArms(impressions < 100, impressions, clicks, 0.05)


def _row(r) -> list:
    return [r.content_id, round(float(r.score), 10), r.method, r.reason, r.propensity]


def snapshot(model_dir: Path, out: Path, split: str) -> None:
    plain, with_fresh = _recommender(model_dir)
    content, states = _states(split)
    users = sorted(states)
    lists: dict[str, list] = {}
    for label, recommender in (("model", plain), ("fresh", with_fresh)):
        arms = _arms(recommender)
        for name, request in _requests(recommender, content).items():
            for k, user in enumerate(users):
                rng = np.random.default_rng(k)
                recs = recommender.recommend(states[user], request, arms, rng)
                lists[f"{label}|{name}|{user}"] = [_row(r) for r in recs]
    categories = sorted({c["category"] for c in content})
    for category in [None, *categories[:3]]:
        lists[f"popular|{category}"] = [_row(r) for r in plain.popular(20, category)]
    for cid in [c["content_id"] for c in content[:: max(1, len(content) // 25)]]:
        lists[f"similar|{cid}"] = [_row(r) for r in plain.similar(cid, 10)]
    out.write_text(json.dumps(lists, sort_keys=True))
    print(f"{len(lists)} lists written to {out}")


def compare(a: Path, b: Path) -> None:
    first, second = json.loads(a.read_text()), json.loads(b.read_text())
    keys = sorted(set(first) | set(second))
    same_ids = same_all = 0
    score_diff = 0.0
    reasons = []
    for key in keys:
        x, y = first.get(key, []), second.get(key, [])
        if [r[0] for r in x] == [r[0] for r in y]:
            same_ids += 1
            score_diff = max([score_diff, *(abs(p[1] - q[1]) for p, q in zip(x, y, strict=True))])
            if x == y:
                same_all += 1
            elif len(reasons) < 10:
                reasons.append((key, [p for p, q in zip(x, y, strict=True) if p != q][:2]))
        elif len(reasons) < 10:
            reasons.append((key, [r[0] for r in x][:6], [r[0] for r in y][:6]))
    print(f"{len(keys)} lists: {same_ids} with the same items in the same order, {same_all} identical in every field")
    print(f"largest score difference where the items agree: {score_diff:.2e}")
    for found in reasons:
        print("  differs:", found)


def main() -> None:
    args = sys.argv[1:]
    if not args:
        raise SystemExit(__doc__)
    if args[0] == "train":
        train(Path(args[1]), args[2] if len(args) > 2 else "sample")
    elif args[0] == "snapshot":
        snapshot(Path(args[1]), Path(args[2]), args[3] if len(args) > 3 else "sample")
    elif args[0] == "compare":
        compare(Path(args[1]), Path(args[2]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
