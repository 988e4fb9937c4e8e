"""Popularity, co-likes and the next-item model on Spark, as Spark SQL aggregations and top-k windows, ending
in the same sparse layout as the in-process fits (``dummi.ml.cf``, ``dummi.ml.sequence``).

Where the two differ, on purpose: a row's top k are cut with ties broken by item position (in process, by
numpy's partition order), and events stamped with the same time are ordered by a hash of their id (in
process, by a seeded shuffle): both are arbitrary orders of equal things, just not the same arbitrary one.
"""

from __future__ import annotations

import numpy as np

from dummi.ml.cf import CooccurrenceModel, ItemItemModel
from dummi.ml.interactions import POPULARITY_WEIGHTS
from dummi.ml.sequence import KEEP, SMOOTHING, WINDOW
from dummi.training.spark.matrix import event_weight_column


def _known(spark, events, item_ids: list[str]):
    # pyspark: the spark extra, only on the Spark engine
    from pyspark.sql import functions as F

    items = spark.createDataFrame([(cid, j) for j, cid in enumerate(item_ids)], "content_id string, col int")
    return events.join(F.broadcast(items), "content_id")


def popularity(spark, events, item_ids: list[str]) -> np.ndarray:
    """``dummi.ml.interactions.popularity`` (no decay): likes, a quarter per click or view, less a quarter
    per skip, floored at zero, scaled to [0, 1]."""
    # pyspark: the spark extra, only on the Spark engine
    from pyspark.sql import functions as F

    weight = F.lit(0.0)
    for name, value in POPULARITY_WEIGHTS.items():
        weight = F.when(F.col("event_type") == name, F.lit(value)).otherwise(weight)
    rows = _known(spark, events, item_ids).groupBy("col").agg(F.sum(weight).alias("score")).collect()
    scores = np.zeros(len(item_ids), np.float64)
    for row in rows:
        scores[row["col"]] = row["score"]
    scores = np.maximum(scores, 0.0)
    top = scores.max() if len(scores) else 0.0
    return (scores / top if top > 0 else scores).astype(np.float32)


def _top_k_csr(spark_rows, n_items: int, value: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR arrays from a DataFrame of (i, j, ``value``) already cut to each row's top k."""
    frame = spark_rows.orderBy("i", "j").toPandas()
    counts = np.bincount(frame["i"].to_numpy(np.int64), minlength=n_items) if len(frame) else np.zeros(n_items)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return indptr, frame["j"].to_numpy(np.int32), frame[value].to_numpy(np.float32)


def _keep_top(frame, keep: int, value: str):
    # pyspark: the spark extra, only on the Spark engine
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    rank = F.row_number().over(Window.partitionBy("i").orderBy(F.col(value).desc(), F.col("j")))
    return frame.withColumn("rank", rank).where(F.col("rank") <= keep).drop("rank")


def cooccurrence(spark, events, item_ids: list[str], *, keep: int = 200, prior_strength: float = 50.0):
    """``dummi.ml.cf.fit_cooccurrence``: for items i != j, the users who engaged with i (any
    positive event) and liked j; each row's ``keep`` largest."""
    # pyspark: the spark extra, only on the Spark engine
    from pyspark.sql import functions as F

    known = _known(spark, events, item_ids)
    engaged = known.where(event_weight_column() > 0).select("user_id", F.col("col").alias("i")).distinct()
    liked = known.where(F.col("event_type").isin("like", "positive")).select("user_id", F.col("col").alias("j"))
    pairs = (
        engaged.join(liked.distinct(), "user_id")
        .where(F.col("i") != F.col("j"))
        .groupBy("i", "j")
        .agg(F.count(F.lit(1)).cast("float").alias("count"))
    )
    indptr, indices, counts = _top_k_csr(_keep_top(pairs, keep, "count"), len(item_ids), "count")
    return CooccurrenceModel(indptr, indices, counts, prior_strength)


def transitions(spark, events, item_ids: list[str]):
    """``dummi.ml.sequence.fit_transitions``: each item j within the next ``WINDOW`` positive events after i
    counts once for i -> j; rows normalized to next-item shares shrunk by ``SMOOTHING``, the strongest
    ``KEEP`` kept."""
    # pyspark: the spark extra, only on the Spark engine
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    positive = _known(spark, events, item_ids).where(event_weight_column() > 0)
    order = Window.partitionBy("user_id").orderBy("at", F.xxhash64("interaction_id"), "interaction_id")
    # the next WINDOW items of each positive event, read off one sort of the user's events (no self-join)
    following = F.array(*[F.lead("col", gap).over(order) for gap in range(1, WINDOW + 1)])
    pairs = (
        positive.select(F.col("col").alias("i"), following.alias("following"))
        .select("i", F.explode("following").alias("j"))
        .where(F.col("j").isNotNull())
    )
    counts = (
        pairs.where(F.col("i") != F.col("j")).groupBy("i", "j").agg(F.count(F.lit(1)).cast("double").alias("count"))
    ).persist()
    totals = counts.groupBy("i").agg((F.sum("count") + F.lit(SMOOTHING)).alias("total"))
    shares = (
        _keep_top(counts, KEEP, "count")
        .join(totals, "i")
        .select("i", "j", (F.col("count") / F.col("total")).alias("share"))
    )
    indptr, indices, data = _top_k_csr(shares, len(item_ids), "share")
    counts.unpersist()
    return ItemItemModel("transitions", indptr, indices, data, {"window": WINDOW, "keep": KEEP, "smoothing": SMOOTHING})
