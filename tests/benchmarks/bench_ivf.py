"""The Spark engine's index past IVF_MIN_ITEMS: IVF-PQ trained on a sample, encoded per partition on Spark
(local[2] here) and merged, beside HNSW built on one process; build time, recall@10 against exact search (as
serving asks: IVF_REFINE x k candidates re-scored exactly) and query time.

    .venv/bin/python tests/benchmarks/bench_ivf.py [--sizes 100000,1000000] [--hnsw-max 200000]

Vectors: the ml-100k catalog's real all-MiniLM-L6-v2 embeddings as centres (the sample catalog's without
it), each item a centre plus noise, renormalised (cosine to its centre ~0.75, as neighbouring titles are);
synthetic, so a real catalog's recall may differ. 1,000 queries: items' own vectors plus noise.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from _common import content_texts, model_dir


def vectors(n: int, seed: int = 0) -> np.ndarray:
    from dummi.ml.embeddings import OnnxEmbedder

    centres = OnnxEmbedder(model_dir()).encode(content_texts())
    rng = np.random.default_rng(seed)
    out = np.empty((n, centres.shape[1]), np.float32)
    for start in range(0, n, 100_000):
        stop = min(n, start + 100_000)
        picked = centres[rng.integers(0, len(centres), stop - start)]
        noisy = picked + 0.05 * rng.standard_normal(picked.shape).astype(np.float32)
        out[start:stop] = noisy / np.linalg.norm(noisy, axis=1, keepdims=True)
    return out


def recall(index, exact, queries: np.ndarray, k: int = 10) -> tuple[float, float]:
    """(recall@k against exact search, median ms per query)."""
    _, truth = exact.search(queries, k)
    hits, times = 0, []
    for q, row in zip(queries, truth, strict=True):
        started = time.perf_counter()
        _, found = index.search(q, k)
        times.append((time.perf_counter() - started) * 1000)
        hits += len(set(row) & set(found[0][found[0] >= 0]))
    return hits / truth.size, float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--hnsw-max", type=int, default=200_000, help="largest catalog HNSW is built for")
    args = parser.parse_args()
    import tempfile

    from dummi.artifacts.store import FileStore
    from dummi.ml.vector_index import build_index
    from dummi.training.spark.index import build_ivfpq
    from dummi.training.spark.session import start_session

    spark = start_session("local[2]")
    store = FileStore(Path(tempfile.mkdtemp(prefix="dummi-bench-ivf-")))
    try:
        for n in (int(s) for s in args.sizes.split(",")):
            x = vectors(n)
            ids = [f"i{i}" for i in range(n)]
            rng = np.random.default_rng(1)
            queries = x[rng.integers(0, n, 1000)] + 0.02 * rng.standard_normal((1000, x.shape[1])).astype(np.float32)
            queries /= np.linalg.norm(queries, axis=1, keepdims=True)
            exact = build_index(ids, x, kind="flat")
            started = time.perf_counter()
            ivf = build_ivfpq(spark, store, "staging/bench", ids, x)
            ivf_seconds = time.perf_counter() - started
            ivf_recall, ivf_ms = recall(ivf, exact, queries)
            line = (
                f"{n:>9} items: IVF-PQ {ivf.params} on Spark local[2] built in {ivf_seconds:.1f} s, "
                f"recall@10 {ivf_recall:.4f}, {ivf_ms:.2f} ms a query"
            )
            if n <= args.hnsw_max:
                started = time.perf_counter()
                hnsw = build_index(ids, x, kind="hnsw")
                hnsw_seconds = time.perf_counter() - started
                hnsw_recall, hnsw_ms = recall(hnsw, exact, queries)
                line += f"; HNSW built in {hnsw_seconds:.1f} s, recall@10 {hnsw_recall:.4f}, {hnsw_ms:.2f} ms a query"
            print(line, flush=True)
    finally:
        spark.stop()


if __name__ == "__main__":
    main()
