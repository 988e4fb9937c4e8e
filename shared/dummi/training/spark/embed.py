"""Embedding changed text on Spark: the texts go out as a DataFrame, each executor's Python worker loads the
ONNX embedder once (``load_embedder`` is cached per process, and Spark reuses its workers) and embeds its
partitions with ``mapInPandas``; the driver stores the vectors through the same path as in process
(``dummi.training.embedding``: only rows whose text hash changed, a row changed meanwhile is left)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dummi.ml.embeddings import load_embedder
from dummi.ml.text import DIMENSION

# texts per Spark job: each ``encode`` call is one job (a few hundred ms of scheduling), so many at once
SPARK_EMBED_BATCH = 20_000


def _embed_partitions(model_dir: str):
    def run(frames):
        # pandas: the spark extra, only on the Spark engine
        import pandas as pd

        embedder = load_embedder("onnx", model_dir, 1)  # one thread: Spark runs one worker per core
        for frame in frames:
            vectors = embedder.encode(frame["text"].tolist(), batch_size=8)
            yield pd.DataFrame(
                {"position": frame["position"], "vector": [np.asarray(v, "<f4").tobytes() for v in vectors]}
            )

    return run


class SparkEmbedder:
    """An ``Embedder`` whose ``encode`` runs on the Spark executors."""

    name = "onnx-spark"
    dimension = DIMENSION

    def __init__(self, spark, model_dir: str) -> None:
        self.spark, self.model_dir = spark, model_dir

    def encode(self, texts: Sequence[str], *, batch_size: int = 8, progress=None) -> np.ndarray:
        out = np.empty((len(texts), DIMENSION), np.float32)
        if not texts:
            return out
        slices = max(1, min(len(texts) // 64 + 1, 4 * self.spark.sparkContext.defaultParallelism))
        frame = self.spark.createDataFrame(list(enumerate(texts)), "position long, text string").repartition(slices)
        for row in frame.mapInPandas(_embed_partitions(self.model_dir), "position long, vector binary").collect():
            out[row["position"]] = np.frombuffer(row["vector"], "<f4")
        if progress is not None:
            progress(len(texts))
        return out
