"""The index on the Spark engine: HNSW on the driver (as in process) while the catalog is below
``IVF_MIN_ITEMS``; above, IVF-PQ: the coarse quantizer and the product quantizer are trained on a sample on
the driver, every partition of the vectors is encoded into its own copy of that empty index on the
executors, and the driver merges the copies (``merge_from``). Serving searches it with the manifest's
``nprobe`` and re-scores the candidates exactly (``dummi.ml.vector_index``)."""

from __future__ import annotations

import numpy as np

from dummi.training.context import RunContext

# Above this many items the Spark engine builds IVF-PQ instead of HNSW: an HNSW build grows with the items
# on one core of the driver (~15 s per 100K items here, 704 s at 1M), while IVF-PQ's is a training on a
# fixed sample plus an encoding spread over the executors (tests/benchmarks/bench_ivf.py: times and recall@10
# at 100K and 1M items; README, Training at scale).
IVF_MIN_ITEMS = 500_000
TRAINING_SAMPLE = 100_000  # vectors the quantizers are trained on (~25 per list at 4,096 lists)


def _encode_partitions(empty_index: bytes):
    def run(frames):
        import faiss
        import pandas as pd

        index = faiss.deserialize_index(np.frombuffer(empty_index, np.uint8))
        for frame in frames:
            positions = frame["position"].to_numpy(np.int64)
            vectors = np.vstack([np.frombuffer(v, "<f4") for v in frame["vector"]]) if len(frame) else None
            if vectors is not None:
                index.add_with_ids(np.ascontiguousarray(vectors, np.float32), positions)
        yield pd.DataFrame({"index": [faiss.serialize_index(index).tobytes()]})

    return run


def build_ivfpq(spark, ids: list[str], vectors: np.ndarray, *, params: dict | None = None, seed: int = 0):
    """A ``VectorIndex`` of kind ivfpq over ``vectors`` (rows aligned with ``ids``)."""
    import faiss

    from dummi.ml.vector_index import VectorIndex, empty_ivfpq, ivfpq_params

    params = params or ivfpq_params(len(ids), vectors.shape[1])
    rng = np.random.default_rng(seed)
    sample = vectors[rng.choice(len(vectors), min(len(vectors), TRAINING_SAMPLE), replace=False)]
    empty = faiss.serialize_index(empty_ivfpq(sample, params)).tobytes()
    slices = max(1, 2 * spark.sparkContext.defaultParallelism)
    frame = spark.createDataFrame(
        [(i, np.asarray(v, "<f4").tobytes()) for i, v in enumerate(vectors)], "position long, vector binary"
    ).repartition(slices)
    shards = [row["index"] for row in frame.mapInPandas(_encode_partitions(empty), "index binary").collect()]
    merged = faiss.deserialize_index(np.frombuffer(empty, np.uint8))
    for shard in shards:
        merged.merge_from(faiss.deserialize_index(np.frombuffer(shard, np.uint8)), 0)
    merged.nprobe = params["nprobe"]
    return VectorIndex(merged, np.array(ids, dtype=object), "ivfpq", vectors=vectors, params=params)


class SparkIndex:
    name = "index"
    engine = "driver"

    def __init__(self, ivf_min_items: int = IVF_MIN_ITEMS) -> None:
        self.ivf_min_items = ivf_min_items

    def run(self, ctx: RunContext) -> None:
        from dummi.training.stages.index import BuildIndex, reusable_index

        if ctx.catalog.size < self.ivf_min_items:
            self.engine = "driver"
            BuildIndex().run(ctx)
            return
        self.engine = "spark"
        ctx.progress.start("building an IVF-PQ index on Spark")
        ctx.index = reusable_index(ctx, ctx.catalog.vectors_digest())
        how = f"reused from {ctx.serving.version}" if ctx.index is not None else "built"
        if ctx.index is None:
            ctx.index = build_ivfpq(ctx.spark, ctx.catalog.ids, ctx.catalog.vectors)
        ctx.progress.finish(f"{ctx.index.size} items, ivfpq {ctx.index.params}, {how}")
