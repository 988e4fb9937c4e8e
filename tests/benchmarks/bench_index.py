"""Exact (IndexFlatIP) versus HNSW on real all-MiniLM-L6-v2 embeddings: recall@10 against exact search,
single-query latency and build time, at several catalog sizes. This is what places EXACT_MAX_ITEMS.

The catalog is made of real text: the ml-100k titles and genres recombined with phrases from the sample
catalog's descriptions, so the vectors have the cluster structure of a real catalog (random vectors would
flatter HNSW). Embeddings are cached under <data dir>/bench so a rerun does not re-embed.
"""

from __future__ import annotations

import sys
import time

import numpy as np
from _common import ROOT, content_texts, model_dir

SIZES = [int(s) for s in (sys.argv[1].split(",") if len(sys.argv) > 1 else ["10000", "50000"])]
QUERIES = 300


def catalog(n: int, seed: int = 0) -> list[str]:
    import json

    base = content_texts()
    phrases = [
        p.strip()
        for c in json.loads((ROOT / "data" / "sample_data.json").read_text())["content"]
        for p in c["description"].replace(":", ",").split(",")
        if p.strip()
    ]
    rng = np.random.default_rng(seed)
    texts = []
    for i in range(n):
        title = base[i % len(base)]
        extra = ". ".join(rng.choice(phrases, size=int(rng.integers(0, 3))))
        texts.append(f"{title} {extra} #{i // len(base)}")
    return texts


def embeddings(n: int) -> np.ndarray:
    from dummi.config import get_settings
    from dummi.ml.embeddings import OnnxEmbedder

    cache = get_settings().data_dir / "bench" / f"catalog-{n}.npy"
    if cache.exists():
        return np.load(cache)
    texts = catalog(n)
    started = time.perf_counter()
    vectors = OnnxEmbedder(model_dir()).encode(texts, batch_size=32)
    print(f"  embedded {n} texts in {time.perf_counter() - started:.0f}s")
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache, vectors)
    return vectors


def latency_ms(index, queries) -> tuple[float, float]:
    times = []
    for q in queries:
        started = time.perf_counter()
        index.search(q[None, :], 10)
        times.append((time.perf_counter() - started) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 99))


def main() -> None:
    import faiss

    from dummi.ml.vector_index import EXACT_MAX_ITEMS, build_index, recall_at_k

    faiss.omp_set_num_threads(1)  # one request = one core; the other serves another request
    print(f"switch today: exact up to {EXACT_MAX_ITEMS} items, HNSW above (single-thread search)")
    largest = embeddings(max(SIZES) + QUERIES)
    for n in SIZES:
        vectors, queries = largest[:n], largest[-QUERIES:]
        ids = [str(i) for i in range(n)]
        t = time.perf_counter()
        flat = build_index(ids, vectors, kind="flat")
        flat_build = time.perf_counter() - t
        t = time.perf_counter()
        hnsw = build_index(ids, vectors, kind="hnsw")
        hnsw_build = time.perf_counter() - t
        recall = recall_at_k(flat, hnsw, queries, 10)
        f50, f99 = latency_ms(flat, queries)
        h50, h99 = latency_ms(hnsw, queries)
        print(
            f"n={n:>7}: exact p50 {f50:6.2f} ms p99 {f99:6.2f} ms (build {flat_build:.1f}s) | "
            f"hnsw p50 {h50:6.2f} ms p99 {h99:6.2f} ms (build {hnsw_build:.0f}s) recall@10 {recall:.4f} | "
            f"exact/hnsw p50 {f50 / h50:.1f}x"
        )


if __name__ == "__main__":
    main()
