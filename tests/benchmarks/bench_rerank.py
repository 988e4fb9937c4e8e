"""What the re-rankers cost per request: the diversity re-rank (greedy MMR) picking n=10 out of 100 candidates
with 384-dimensional embeddings (goal: at most 1 ms at p50), with and without a category cap.

    .venv/bin/python tests/benchmarks/bench_rerank.py [--repeats 5000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from dummi.ml.ranking.mmr import diversify


def timed(fn, repeats: int) -> tuple[float, float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 99))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(100, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    relevance = np.sort(rng.normal(size=100))[::-1]
    categories = [f"c{k % 12}" for k in range(100)]
    for label, kwargs in (
        ("diversity 0 (the ranked order)", {"diversity": 0.0}),
        ("diversity 0.3", {"diversity": 0.3}),
        ("diversity 0.3, at most 2 per category", {"diversity": 0.3, "categories": categories, "max_per_category": 2}),
    ):
        p50, p99 = timed(lambda kw=kwargs: diversify(relevance, vectors, 10, **kw), args.repeats)
        print(f"re-rank n=10 of 100 candidates, {label}: p50 {p50:.3f} ms, p99 {p99:.3f} ms (goal p50 <= 1 ms)")


if __name__ == "__main__":
    main()
