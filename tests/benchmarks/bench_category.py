"""Category-filtered recommendations (``category=``) against unfiltered ones, on the recommender itself (no
Postgres), at N items: 50 topics of ~2% each, and a rare category holding 0.1% of the items.

    .venv/bin/python tests/benchmarks/bench_category.py [items=1000000] [--keep=DIR]

The model is synthetic (clustered unit vectors, NMF-shaped factors) with the index training would publish
(HNSW below 500K items, IVF-PQ above); --keep=DIR stores the index so that a second run (another checkout's
code, say, with PYTHONPATH=<checkout>/shared) measures on the very same model. For each of: unfiltered, a
common category, the rare category: p50 / p99 of 300 warm users' requests (n = 10), and how many answers
held n items of that category.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from bench_recommend import percentile, synthetic_vectors

RARE_SHARE = 0.001


def model(n_items: int, keep: Path | None):
    from dummi.ml.cf import FactorModel
    from dummi.ml.model_bundle import ModelBundle
    from dummi.ml.vector_index import VectorIndex, build_index, choose_kind, empty_ivfpq, ivfpq_params
    from dummi.training.spark.index import IVF_MIN_ITEMS

    rng = np.random.default_rng(0)
    vectors, topic = synthetic_vectors(n_items, rng)
    categories = [f"topic-{k}" for k in topic]
    rare = rng.choice(n_items, int(n_items * RARE_SHARE), replace=False)
    for pos in rare:
        categories[pos] = "rare"
    ids = [f"c{i}" for i in range(n_items)]
    kind = "ivfpq" if n_items >= IVF_MIN_ITEMS else choose_kind(n_items)
    params = ivfpq_params(n_items) if kind == "ivfpq" else None
    cached = keep / f"index-{n_items}.faiss" if keep else None
    t = time.perf_counter()
    if cached is not None and cached.exists():
        index = VectorIndex.deserialize(cached.read_bytes(), ids, kind, params=params, vectors=vectors)
    else:
        if kind == "ivfpq":
            sample = vectors[rng.choice(n_items, min(n_items, 64 * params["nlist"]), replace=False)]
            raw = empty_ivfpq(sample, params)
            raw.add(vectors)
            raw.nprobe = params["nprobe"]
            index = VectorIndex(raw, np.array(ids, dtype=object), kind, vectors=vectors, params=params)
        else:
            index = build_index(ids, vectors)
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            cached.write_bytes(index.serialize())
    print(f"  {kind} index over {n_items} items: {time.perf_counter() - t:.0f}s")
    factors = np.abs(rng.standard_normal((n_items, 50))).astype(np.float32) * 0.1
    bundle = ModelBundle(
        np.array(ids, dtype=object),
        [f"Item {i}" for i in range(n_items)],
        categories,
        index,
        rng.random(n_items).astype(np.float32),
        FactorModel("nmf", factors, factors.copy()),
        {},
        vectors,
    )
    return bundle, topic


def main() -> None:
    from dummi.ml.recommender import HybridRecommender, RankRequest, UserEvent, UserState

    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    n_items = int(args[0]) if args else 1_000_000
    keep = next((Path(a.split("=", 1)[1]) for a in sys.argv if a.startswith("--keep=")), None)
    bundle, topic = model(n_items, keep)
    recommender = HybridRecommender(bundle)
    rng = np.random.default_rng(1)
    now = datetime.now(UTC)
    by_topic = [np.flatnonzero(topic == t) for t in range(50)]
    users = []
    for i in range(300):
        items = rng.choice(by_topic[i % 50], 12)
        events = [
            UserEvent(f"c{j}", "interaction", "like", None, now - timedelta(minutes=k)) for k, j in enumerate(items)
        ]
        users.append(UserState(f"u{i}", [], None, events, {f"c{j}" for j in items}))
    cases = {"unfiltered": None, "common (2%)": "topic-7", f"rare ({RARE_SHARE:.1%})": "rare"}
    for _ in range(20):  # warm: lazily built indexes, caches
        for category in cases.values():
            recommender.recommend(users[0], RankRequest(n=10, category=category, explore_slots=0))
    results = {name: [] for name in cases}
    full = dict.fromkeys(cases, 0)
    for user in users:
        for name, category in cases.items():
            started = time.perf_counter()
            answer = recommender.recommend(user, RankRequest(n=10, category=category, explore_slots=0))
            results[name].append((time.perf_counter() - started) * 1000)
            if len(answer) == 10 and all(category is None or r.category == category for r in answer):
                full[name] += 1
    base = percentile(results["unfiltered"], 99)
    for name, times in results.items():
        print(
            f"{n_items} items, {name:>12}: p50 {percentile(times, 50):6.2f} ms, p99 {percentile(times, 99):6.2f} ms "
            f"({percentile(times, 99) / base:.2f}x the unfiltered p99); {full[name]}/{len(users)} answers of 10 items"
        )


if __name__ == "__main__":
    main()
