"""Collaborative filtering on Spark: MLlib ALS (implicit feedback, non-negative, checkpointed), published as
the factor arrays the recommender already serves (``FactorModel``: item factors and the ridge projection
that folds a user in from its current events), with the in-process twin's settings and fold-in
(``dummi.ml.cf.ALSAlgorithm``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from dummi.ml.cf import ALSAlgorithm, FactorModel, ridge_projection

# ALS cuts the lineage of its factor RDDs every this many iterations (without it, long runs overflow the
# stack with their lineage); the blocks are fixed so that the work is split the same way at any parallelism
BLOCKS = 4
CHECKPOINT_INTERVAL = 5


def fit_als(matrix, config: dict[str, Any]):
    """``matrix``: a ``dummi.training.spark.matrix.SparkMatrix``; ``config``: an ``als`` configuration."""
    # pyspark: the spark extra, only on the Spark engine
    from pyspark.ml.recommendation import ALS
    from pyspark.sql import functions as F

    twin = ALSAlgorithm(**{k: v for k, v in config.items() if k != "algorithm"})
    n_users, n_items = matrix.shape
    k = max(1, min(twin.n_components, n_users, n_items))
    als = ALS(
        rank=k,
        maxIter=twin.iterations,
        regParam=twin.reg,
        alpha=twin.alpha,
        implicitPrefs=True,
        nonnegative=True,
        userCol="row",
        itemCol="col",
        ratingCol="value",
        seed=twin.seed,
        numUserBlocks=BLOCKS,
        numItemBlocks=BLOCKS,
        checkpointInterval=CHECKPOINT_INTERVAL,
    )
    ratings = matrix.pairs.select(F.col("row").cast("int"), F.col("col").cast("int"), F.col("value"))
    model = als.fit(ratings)
    factors = np.zeros((n_items, k), np.float32)
    for row in model.itemFactors.collect():
        factors[row["id"]] = row["features"]
    users_with_pairs = matrix.pairs.select("row").distinct().count()
    fold_in_reg = twin.reg * (matrix.nnz / users_with_pairs) if users_with_pairs else twin.reg
    params = {
        "n_components": k,
        "alpha": twin.alpha,
        "reg": twin.reg,
        "iterations": twin.iterations,
        "fold_in_reg": round(fold_in_reg, 6),
        "engine": "spark",
    }
    return FactorModel("als", factors, ridge_projection(factors, fold_in_reg), params)
