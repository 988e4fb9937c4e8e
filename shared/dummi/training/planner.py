"""Which engine a run should use: the in-process path while it fits the machine it would run on (in AWS the
training Lambda: 15 minutes, 10 GB), the Spark engine beyond.

The planner reads what the run will face (events, items, users, text to embed: ``input_counts``), predicts
the in-process path's time and peak memory from a cost model fitted to the benchmarks
(``tests/benchmarks/bench_engines.py`` prints the measurements and the fit), and chooses. A run's trigger can
pin either engine; the plan records the prediction and the reason either way, so ``/training/status`` says
why a run ran where it did.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from typing import Any

from dummi.db.connection import Database
from dummi.training.params import TrainingParams

# Item-item models (EASE, item-kNN) are candidates up to this many items (dummi.ml.collaborative).
ITEM_ITEM_MAX_ITEMS = 10_000


@dataclass(frozen=True)
class CostModel:
    """Seconds and megabytes of the in-process path as sums of parts, each linear in what drives it.

    Fitted on this machine (2 cores) by ``tests/benchmarks/bench_engines.py`` (least squares over its runs;
    the script prints these figures again): see the README's Training at scale for the runs and residuals.
    """

    base_seconds: float = 3.0
    seconds_per_event: float = 9.0e-6  # reading (COPY), the matrix, popularity, co-likes, next-item
    seconds_per_text_char: float = 1.0 / 22_000  # the ONNX embedder, ~4,900 tokens/s of ~4.5 characters
    seconds_per_indexed_item: float = 1.5e-4  # HNSW build above the exact-search size
    choice_seconds_small: float = 40.0  # the choice's trials at any catalog size (the users scored are capped)
    choice_seconds_per_cubic_item: float = 4.0 * 5.5 / 1e12  # EASE inverses: 4 of them, ~5.5 s at 10K items
    seconds_per_factor_value: float = 1.2e-6  # NMF / ALS: per stored value and factor (50), all iterations
    base_mb: float = 450.0
    mb_per_event: float = 0.00045  # Python event objects and the per-pair dictionaries
    mb_per_item: float = 0.012  # vectors (held twice), the index, the per-item arrays
    mb_per_square_item: float = 4 * 4 / 1e6  # float32 items x items: Gram, inverse, two top-k copies

    def predict(self, counts: dict[str, int], factors: int = 50) -> dict[str, Any]:
        events, items = counts["events"], counts["items"]
        item_item = items <= ITEM_ITEM_MAX_ITEMS
        parts = {
            "events": self.seconds_per_event * events,
            "embed": self.seconds_per_text_char * counts.get("text_chars", 0),
            "index": self.seconds_per_indexed_item * items if items > 5_000 else 0.0,
            "choice": self.choice_seconds_small + (self.choice_seconds_per_cubic_item * items**3 if item_item else 0.0),
            "cf": self.seconds_per_factor_value * events * factors,
        }
        memory = self.base_mb + self.mb_per_event * events + self.mb_per_item * items
        if item_item:
            memory += self.mb_per_square_item * items**2
        return {
            "seconds": round(self.base_seconds + sum(parts.values()), 1),
            "memory_mb": round(memory),
            "parts": {k: round(v, 1) for k, v in parts.items()},
        }


COST_MODEL = CostModel()


def limits() -> dict[str, float | None]:
    """What the in-process path may use where it would run: the training Lambda's share of 15 minutes and
    its memory in AWS (the template sets both), this machine's memory elsewhere (time unbounded)."""
    from dummi.config import get_settings

    settings = get_settings()
    memory = settings.dummi_training_max_memory_mb
    if memory is None:
        try:
            memory = 0.8 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20
        except (ValueError, OSError, AttributeError):  # pragma: no cover - platforms without sysconf
            memory = None
    return {"seconds": settings.dummi_training_max_seconds, "memory_mb": memory}


def spark_available() -> tuple[bool, str]:
    """(whether the Spark engine can run here, where): an EMR Serverless application in AWS, pyspark on a
    laptop."""
    from dummi.config import get_settings

    if get_settings().dummi_emr_application_id:
        return True, "EMR Serverless"
    if importlib.util.find_spec("pyspark") is not None:
        return True, "pyspark (local)"
    return False, "pyspark is not installed (pip install 'dummi[spark]')"


def choose_engine(
    params: TrainingParams,
    counts: dict[str, int],
    bounds: dict[str, float | None],
    spark: tuple[bool, str],
    model: CostModel = COST_MODEL,
) -> dict[str, Any]:
    """The plan: {engine, reason, prediction, counts, limits}. Pure: every input is an argument."""
    prediction = model.predict(counts, params.cf_factors)
    plan: dict[str, Any] = {"counts": counts, "prediction": prediction, "limits": bounds, "requested": params.engine}
    if params.engine in ("local", "spark"):
        return {**plan, "engine": params.engine, "reason": f"the run asked for the {params.engine} engine"}
    over = []
    if bounds.get("seconds") is not None and prediction["seconds"] > bounds["seconds"]:
        over.append(f"{prediction['seconds']:.0f} s predicted in process, {bounds['seconds']:.0f} s allowed")
    if bounds.get("memory_mb") is not None and prediction["memory_mb"] > bounds["memory_mb"]:
        over.append(f"{prediction['memory_mb']:.0f} MB predicted in process, {bounds['memory_mb']:.0f} MB allowed")
    if not over:
        reason = f"fits in process: {prediction['seconds']:.0f} s and {prediction['memory_mb']:.0f} MB predicted"
        return {**plan, "engine": "local", "reason": reason}
    available, where = spark
    if not available:
        return {**plan, "engine": "local", "reason": "; ".join(over) + f", but no Spark engine here: {where}"}
    return {**plan, "engine": "spark", "reason": "; ".join(over) + f": Spark ({where})"}


def plan(db: Database, params: TrainingParams) -> dict[str, Any]:
    """The plan for a run with ``params`` against what the database holds now."""
    from dummi.db.training_repository import TrainingRepository

    counts = db.read(lambda conn: TrainingRepository(conn).input_counts())
    return choose_engine(params, counts, limits(), spark_available())
