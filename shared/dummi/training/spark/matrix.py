"""The weighted users x items matrix on Spark, identical to the in-process ``build_matrix``: the same event
weights (from ``dummi.ml.interactions``' own tables), each pair's events summed in the same order (by time,
then id: float sums depend on their order), the same cap and sign rules, users numbered by sorted id and
items by the catalog's order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from dummi.ml.interactions import (
    FEEDBACK_WEIGHTS,
    INTERACTION_WEIGHTS,
    MAX_PAIR_WEIGHT,
    MAX_VIEW_FACTOR,
    REFERENCE_VIEW_SECONDS,
    InteractionMatrix,
)


def event_weight_column():
    """``dummi.ml.interactions.event_weight`` as a Spark column expression."""
    # pyspark: the spark extra, only on the Spark engine
    from pyspark.sql import functions as F

    event_type, duration = F.col("event_type"), F.col("duration_seconds")
    feedback = F.lit(None).cast("double")
    for name, weight in FEEDBACK_WEIGHTS.items():
        feedback = F.when(event_type == name, F.lit(weight)).otherwise(feedback)
    interaction = F.lit(None).cast("double")
    for name, weight in INTERACTION_WEIGHTS.items():
        value = F.lit(weight)
        if name == "view_time":
            factor = F.least(duration / F.lit(REFERENCE_VIEW_SECONDS), F.lit(MAX_VIEW_FACTOR))
            value = F.when(duration.isNull(), F.lit(weight)).otherwise(F.lit(weight) * factor)
        interaction = F.when(event_type == name, value).otherwise(interaction)
    return F.when(F.col("kind") == "feedback", feedback).otherwise(interaction)


@dataclass
class SparkMatrix:
    """The matrix as DataFrames: ``pairs`` (row, col, value) with value in (0, MAX_PAIR_WEIGHT], ``negatives``
    (row, col) of pairs whose total is negative, ``users`` (user_id, row)."""

    pairs: Any
    negatives: Any
    users: Any
    shape: tuple[int, int]
    nnz: int
    item_ids: list[str]

    def collect(self):
        """The same matrix in this process (``dummi.ml.interactions.InteractionMatrix``), for the in-process
        fits where they fit and for tests."""
        # SciPy: training only; the serving layer ships numpy and FAISS, not SciPy
        from scipy import sparse

        users = self.users.orderBy("row").toPandas()
        pairs = self.pairs.toPandas()
        negatives = self.negatives.toPandas()
        matrix = sparse.csr_matrix(
            (
                pairs["value"].to_numpy(np.float32),
                (pairs["row"].to_numpy(np.int64), pairs["col"].to_numpy(np.int64)),
            ),
            shape=self.shape,
            dtype=np.float32,
        )
        return InteractionMatrix(
            np.array(users["user_id"].tolist(), dtype=object),
            np.array(self.item_ids, dtype=object),
            matrix,
            {(int(r), int(c)) for r, c in zip(negatives["row"], negatives["col"], strict=True)},
        )


def build_matrix(spark, events, item_ids: list[str]) -> SparkMatrix:
    """``events``: the DataFrame of ``dummi.training.spark.events``; ``item_ids``: the catalog in index order."""
    # pyspark: the spark extra, only on the Spark engine
    from pyspark.sql import functions as F

    items = spark.createDataFrame([(cid, j) for j, cid in enumerate(item_ids)], "content_id string, col int")
    weighted = events.withColumn("w", event_weight_column()).join(F.broadcast(items), "content_id")
    # each pair's weights added in time order (then by id), as in process: float sums depend on their order
    ordered = F.array_sort(F.collect_list(F.struct("at", "interaction_id", "w")))
    totals = (
        weighted.groupBy("user_id", "col")
        .agg(ordered.alias("events"))
        .select(
            "user_id",
            "col",
            F.aggregate(F.col("events.w"), F.lit(0.0).cast("double"), lambda acc, w: acc + w).alias("total"),
        )
    ).persist()
    users = _numbered_users(spark, totals.select("user_id").distinct())
    numbered = totals.join(users, "user_id")
    pairs = (
        numbered.where(F.col("total") > 0)
        .select("row", "col", F.least(F.col("total"), F.lit(MAX_PAIR_WEIGHT)).cast("float").alias("value"))
        .persist()
    )
    negatives = numbered.where(F.col("total") < 0).select("row", "col").persist()
    n_users, nnz = users.count(), pairs.count()
    totals.unpersist()
    return SparkMatrix(pairs, negatives, users, (n_users, len(item_ids)), nnz, list(item_ids))


def _numbered_users(spark, user_ids):
    """(user_id, row): rows in sorted id order, as ``sorted()`` numbers them in process (Spark orders strings
    by their UTF-8 bytes, which is code point order)."""
    rdd = user_ids.orderBy("user_id").rdd.zipWithIndex().map(lambda pair: (pair[0][0], int(pair[1])))
    return spark.createDataFrame(rdd, "user_id string, row long").persist()
