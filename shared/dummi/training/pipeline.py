"""The training pipeline: the stages in order, per engine, and the one call that runs them.

    embed changed text -> read the catalog and events -> build the matrix -> index -> choose (and the
    publish gate) -> fit CF -> item-item (popularity, co-likes, next-item) -> publish

In process every stage is this package's own (``dummi.training.stages``); on Spark the heavy ones are the
Spark engine's (``dummi.training.spark``), and both end in the same ``Publish``, so serving and its loader
see one artifact format whichever engine made it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from dummi.artifacts.store import ArtifactStore
from dummi.db.connection import Database
from dummi.progress import Progress
from dummi.training.context import RunContext
from dummi.training.params import TrainingParams
from dummi.training.report import RunReport
from dummi.training.spark.pipeline import spark_stages
from dummi.training.stage import Stage, run_stages
from dummi.training.stages.cf import FitCF
from dummi.training.stages.choose import Choose
from dummi.training.stages.embed import EmbedChangedText
from dummi.training.stages.index import BuildIndex
from dummi.training.stages.item_item import FitItemItem
from dummi.training.stages.matrix import BuildMatrix
from dummi.training.stages.publish import Publish
from dummi.training.stages.read import ReadCatalogAndEvents

logger = logging.getLogger(__name__)


def local_stages() -> list[Stage]:
    return [
        EmbedChangedText(),
        ReadCatalogAndEvents(),
        BuildMatrix(),
        BuildIndex(),
        Choose(),
        FitCF(),
        FitItemItem(),
        Publish(),
    ]


def train_and_publish(
    db: Database,
    store: ArtifactStore,
    params: TrainingParams,
    *,
    run_id: str | None,
    report: RunReport,
    progress: Progress,
    checkpoint: Callable[[], None] = lambda: None,
    embedder_factory: Callable[[], Any] | None = None,
    retention: int | None = None,
    engine: str = "local",
    spark: Any = None,
) -> str:
    """Run every stage of ``engine`` and return the version serving afterwards (the new one, or the serving
    one when the publish gate kept it)."""
    if engine == "spark":
        stages = spark_stages()
    elif engine == "local":
        stages = local_stages()
    else:
        raise ValueError(f"unknown engine {engine!r}")
    report.engine = engine
    ctx = RunContext(
        db=db,
        store=store,
        params=params,
        report=report,
        progress=progress,
        run_id=run_id,
        checkpoint=checkpoint,
        embedder_factory=embedder_factory,
        retention=retention,
        spark=spark,
    )
    try:
        run_stages(stages, ctx)
    finally:
        for undo in reversed(ctx.cleanup):
            try:
                undo()
            except Exception:  # noqa: BLE001 - what is left behind is named in the log; the run's outcome stands
                logger.exception("cleaning up after the run failed")
    report.timings["total"] = round(time.perf_counter() - ctx.started, 3)
    return ctx.version
