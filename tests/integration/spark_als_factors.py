"""Fit MLlib ALS on a fixed random matrix on the Spark master given, and save the item factors: run once
per master by test_spark_training.py (one Spark context per JVM)."""

import sys

import numpy as np

from dummi.training.spark.als import fit_als
from dummi.training.spark.matrix import SparkMatrix
from dummi.training.spark.session import start_session

master, out = sys.argv[1], sys.argv[2]
spark = start_session(master)
rng = np.random.default_rng(1)
n_users, n_items, nnz = 300, 120, 4000
cells = {
    (int(r), int(c)): float(rng.choice([1.0, 2.0, 5.0]))
    for r, c in zip(rng.integers(0, n_users, nnz), rng.integers(0, n_items, nnz), strict=True)
}
pairs = spark.createDataFrame([(r, c, v) for (r, c), v in sorted(cells.items())], "row long, col int, value float")
negatives = spark.createDataFrame([], "row long, col int")
matrix = SparkMatrix(pairs, negatives, None, (n_users, n_items), len(cells), [str(i) for i in range(n_items)])
np.save(out, fit_als(matrix, {"algorithm": "als", "n_components": 8, "iterations": 10}).item_factors)
spark.stop()
