"""Embedding throughput per backend on real catalog text, agreement between them, the serving path's cold
import (time and peak RSS, fresh process), and ONNX throughput by text length.

    .venv/bin/python tests/benchmarks/bench_embeddings.py [--by-length]
"""

from __future__ import annotations

import sys
import time

import numpy as np
from _common import PEAK_RSS_SNIPPET, content_texts, in_fresh_process, model_dir

COLD_ONNX = """
import json, time, sys
t = time.perf_counter()
from dummi.ml.embeddings import OnnxEmbedder
imported = time.perf_counter() - t
e = OnnxEmbedder({dir!r}); e.encode(["warm up"])
loaded = time.perf_counter() - t
print(json.dumps({{"import_s": imported, "ready_s": loaded, "rss_mb": {rss},
                   "torch": "torch" in sys.modules}}))
"""
COLD_ST = """
import json, time
t = time.perf_counter()
from dummi.ml.embeddings import SentenceTransformerEmbedder
e = SentenceTransformerEmbedder(); e.encode(["warm up"])
print(json.dumps({{"ready_s": time.perf_counter() - t, "rss_mb": {rss}}}))
"""


def throughput(embedder, texts, batch_size=32, repeats=2):
    embedder.encode(texts[:64], batch_size=batch_size)
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        vectors = embedder.encode(texts, batch_size=batch_size)
        best = min(best, time.perf_counter() - started)
    return len(texts) / best, vectors


def by_length(folder) -> None:
    """ONNX (2 threads, batch 32) on texts of growing length: items/s and tokens/s (the model reads at
    most 256 tokens, so longer texts cost no more than that)."""
    from splits import WORDS

    from dummi.ml.embeddings import OnnxEmbedder

    embedder = OnnxEmbedder(folder, threads=2)
    rng = np.random.default_rng(0)
    print("onnx by text length (2 threads, batch 32, 512 texts each):")
    for words in (10, 30, 100, 200, 400):
        texts = [" ".join(rng.choice(WORDS, words)) for _ in range(512)]
        per_text = sum(len(embedder._tokenizer.encode(t).ids) for t in texts) / len(texts)  # truncated at 256
        rate, _ = throughput(embedder, texts, 32, repeats=1)
        print(f"  {words:>4} words ({per_text:4.0f} tokens): {rate:6.0f} items/s, {rate * per_text:7.0f} tokens/s")


def main() -> None:
    from dummi.ml.embeddings import OnnxEmbedder, SentenceTransformerEmbedder

    if "--by-length" in sys.argv:
        by_length(model_dir())
        return
    texts = content_texts()
    folder = model_dir()
    print(f"{len(texts)} catalog texts, mean {np.mean([len(t) for t in texts]):.0f} characters")
    rates = {}
    for threads in (1, 2):
        for batch in (8, 32, 128):
            rate, onnx_vectors = throughput(OnnxEmbedder(folder, threads=threads), texts, batch)
            rates[(threads, batch)] = rate
            print(f"onnx      threads={threads} batch={batch:<4} {rate:7.0f} items/s")
    st = SentenceTransformerEmbedder()
    st_rate, st_vectors = throughput(st, texts, 32)
    print(f"sentence-transformers batch=32   {st_rate:7.0f} items/s")
    cosine = (onnx_vectors * st_vectors).sum(axis=1)
    best = max(rates.values())
    print(f"cosine onnx vs sentence-transformers: min {cosine.min():.6f} mean {cosine.mean():.6f}")
    print(f"ratio onnx (best) / sentence-transformers: {best / st_rate:.2f}x; target >= 200 items/s: {best:.0f}")

    cold = in_fresh_process(COLD_ONNX.format(dir=str(folder), rss=PEAK_RSS_SNIPPET))
    print(
        f"serving path (onnx): import {cold['import_s']:.2f}s, model ready {cold['ready_s']:.2f}s, "
        f"peak RSS {cold['rss_mb']:.0f} MB, torch imported: {cold['torch']}"
    )
    cold_st = in_fresh_process(COLD_ST.format(rss=PEAK_RSS_SNIPPET))
    print(
        f"sentence-transformers: ready {cold_st['ready_s']:.2f}s, peak RSS {cold_st['rss_mb']:.0f} MB "
        f"({cold_st['ready_s'] / cold['ready_s']:.0f}x slower to start)"
    )
    by_length(folder)


if __name__ == "__main__":
    main()
