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

from dummi.config import get_settings
from dummi.db.connection import Database
from dummi.db.training_repository import TrainingRepository
from dummi.training.params import TrainingParams

# Item-item models (EASE, item-kNN) are candidates up to this many items (dummi.ml.cf).
ITEM_ITEM_MAX_ITEMS = 10_000


@dataclass(frozen=True)
class CostModel:
    """Seconds and megabytes of the in-process path as sums of parts, each linear in what drives it.

    Fitted on this machine (2 cores) to ``tests/benchmarks/bench_engines.py`` (it prints each part's rate and
    the model's prediction beside each run; README, Training at scale): at 10M events, 100K items and 1M users
    the in-process path took 799 s (reading, matrix and item-item 213 s, ALS 552 s, HNSW 28 s) and 13.4 GB;
    at 1M events 62 s and 1.7 GB. The choice's part is from the same script's --choice runs (81 s on 10K
    items and 0.1M events, 173 s on 50K items and 1M events) and bench_training.py.
    """

    base_seconds: float = 3.0
    seconds_per_event: float = 21.3e-6  # reading (COPY), the matrix, popularity, co-likes, next-item
    seconds_per_text_char: float = 1.0 / 22_000  # the ONNX embedder, ~4,900 tokens/s of ~4.5 characters
    seconds_per_indexed_item: float = 2.8e-4  # HNSW build above the exact-search size
    seconds_per_event_factor: float = 1.1e-6  # the factorization (ALS, 15 iterations): per event and factor
    choice_trials_seconds: float = 60.0  # the choice's ~70 trials of the real recommender (users scored capped)
    choice_ease_seconds: float = 22.0  # its EASE inverses at 10K items (four, ~5.5 s each), cubic in the items
    choice_fit_multiple: float = 3.6  # beyond 10K items: its NMF and ALS fits on the holdout, in ALS fits
    base_mb: float = 440.0
    mb_per_event: float = 1.3e-3  # Python event objects, per-pair dictionaries, the matrix and its copies
    mb_per_item: float = 0.012  # vectors (held twice), the index, the per-item arrays
    mb_per_square_item: float = 16e-6  # the choice's float32 items x items matrices: Gram, inverse, top-k

    def predict(self, counts: dict[str, int], factors: int = 50, *, choice: bool = True) -> dict[str, Any]:
        """``choice``: whether the run will choose on the holdout (an unpinned algorithm, no reuse)."""
        events, items = counts["events"], counts["items"]
        item_item = items <= ITEM_ITEM_MAX_ITEMS
        cf = self.seconds_per_event_factor * events * factors
        parts = {
            "events": self.seconds_per_event * events,
            "embed": self.seconds_per_text_char * counts.get("text_chars", 0),
            "index": self.seconds_per_indexed_item * items if items > 5_000 else 0.0,
            "cf": cf,
            "choice": 0.0,
        }
        memory = self.base_mb + self.mb_per_event * events + self.mb_per_item * items
        if choice:
            extra = self.choice_ease_seconds * (items / 10_000) ** 3 if item_item else self.choice_fit_multiple * cf
            parts["choice"] = self.choice_trials_seconds + extra
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
    # a pinned algorithm is never chosen; an unpinned one may reuse the serving model's choice, which the
    # planner cannot know before the run reads the data: it plans for a full choice
    prediction = model.predict(counts, params.cf_factors, choice=params.cf_algorithm == "auto")
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
    counts = db.read(lambda conn: TrainingRepository(conn).input_counts())
    return choose_engine(params, counts, limits(), spark_available())
