"""The index on the Spark engine: HNSW on the driver (as in process) while the catalog is below
``IVF_MIN_ITEMS``; above, IVF-PQ: the coarse quantizer and the product quantizer are trained on a sample on
the driver, every shard of the vectors is encoded into its own copy of that empty index on the executors,
and the driver merges the copies (``merge_from``). Serving searches it with the manifest's
``nprobe`` and re-scores the candidates exactly (``dummi.ml.vector_index``)."""

from __future__ import annotations

import numpy as np

from dummi.artifacts.store import store_from_uri
from dummi.ml.vector_index import VectorIndex, empty_ivfpq, from_npy, ivfpq_params, to_npy
from dummi.training.context import RunContext
from dummi.training.stages.index import BuildIndex

# Above this many items the Spark engine builds IVF-PQ instead of HNSW: an HNSW build grows with the items
# on one core of the driver (~15 s per 100K items here, 704 s at 1M), while IVF-PQ's is a training on a
# fixed sample plus an encoding spread over the executors (tests/benchmarks/bench_ivf.py: times and recall@10
# at 100K and 1M items; README, Training at scale).
IVF_MIN_ITEMS = 500_000
# vectors the quantizers are trained on, per centroid of the coarse quantizer (nlist) and of each
# sub-quantizer (2^bits): faiss asks for 39 at least
TRAINING_PER_CENTROID = 64


SHARD_VECTORS = 100_000  # vectors per shard: each executor task reads one shard from the artifact store


def _encode_shards(store_uri: str, empty_index: bytes):
    def run(frames):
        # FAISS loads a large native library (~0.5 s here): only building or searching an index pays it
        import faiss
        import pandas as pd

        store = store_from_uri(store_uri)
        index = faiss.deserialize_index(np.frombuffer(empty_index, np.uint8))
        for frame in frames:
            for start, key in zip(frame["start"], frame["key"], strict=True):
                vectors = np.ascontiguousarray(from_npy(store.get(key)), np.float32)
                index.add_with_ids(vectors, np.arange(start, start + len(vectors), dtype=np.int64))
        yield pd.DataFrame({"index": [faiss.serialize_index(index).tobytes()]})

    return run


def build_ivfpq(spark, store, prefix: str, ids: list[str], vectors: np.ndarray, *, params: dict | None = None):
    """A ``VectorIndex`` of kind ivfpq over ``vectors`` (rows aligned with ``ids``). The vectors go to the
    executors as shards under ``prefix`` in the artifact store (not through the driver's JVM: a million
    vectors are 1.5 GB), deleted afterwards."""
    # FAISS loads a large native library (~0.5 s here): only building or searching an index pays it
    import faiss

    params = params or ivfpq_params(len(ids), vectors.shape[1])
    rng = np.random.default_rng(0)
    size = min(len(vectors), TRAINING_PER_CENTROID * max(params["nlist"], 2 ** params["bits"]))
    sample = vectors[rng.choice(len(vectors), size, replace=False)]
    empty = faiss.serialize_index(empty_ivfpq(sample, params)).tobytes()
    shards = []
    try:
        for k, start in enumerate(range(0, len(vectors), SHARD_VECTORS)):
            key = f"{prefix}/vectors-{k:05d}.npy"
            store.put(key, to_npy(np.ascontiguousarray(vectors[start : start + SHARD_VECTORS], np.float32)))
            shards.append((start, key))
        frame = spark.createDataFrame(shards, "start long, key string").repartition(max(1, len(shards)))
        parts = [row["index"] for row in frame.mapInPandas(_encode_shards(store.uri, empty), "index binary").collect()]
    finally:
        store.delete([key for _, key in shards])
    merged = faiss.deserialize_index(np.frombuffer(empty, np.uint8))
    for part in parts:
        merged.merge_from(faiss.deserialize_index(np.frombuffer(part, np.uint8)), 0)
    merged.nprobe = params["nprobe"]
    return VectorIndex(merged, np.array(ids, dtype=object), "ivfpq", vectors=vectors, params=params)


class SparkIndex(BuildIndex):
    """HNSW on the driver (the in-process build) below ``ivf_min_items``, IVF-PQ on the executors above."""

    def __init__(self, ivf_min_items: int = IVF_MIN_ITEMS) -> None:
        self.ivf_min_items = ivf_min_items

    def run(self, ctx: RunContext) -> None:
        self.engine = "driver" if ctx.catalog.size < self.ivf_min_items else "spark"
        super().run(ctx)

    def build(self, ctx: RunContext):
        if ctx.catalog.size < self.ivf_min_items:
            return super().build(ctx)
        prefix = f"staging/{ctx.run_id or 'adhoc'}/index"
        return build_ivfpq(ctx.spark, ctx.store, prefix, ctx.catalog.ids, ctx.catalog.vectors)
