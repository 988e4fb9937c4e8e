"""Training as a list of named stages with one small interface (Spark ML's ``Pipeline(stages=[...])``,
gorse's master tasks): each stage reads what earlier stages left in the run's context and leaves its own
outputs there; the runner times each one, reports it by name (``/training/status``, the manifest) and
records progress after it. An engine is a list of stage implementations: in this process, or on Spark."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from dummi.training.context import RunContext

logger = logging.getLogger(__name__)


class Stage(Protocol):
    name: str  # what the run reports (embed, read, matrix, index, choose, cf, item_item, publish)

    def run(self, ctx: RunContext) -> None: ...


def run_stages(stages: list[Stage], ctx: RunContext) -> None:
    """Run ``stages`` in order until one marks the run finished (``ctx.finished``: the serving model was
    kept); each is timed and reported by name, with the engine it ran on."""
    for stage in stages:
        if ctx.finished:
            break
        started = time.perf_counter()
        try:
            stage.run(ctx)
        finally:
            seconds = round(time.perf_counter() - started, 3)
            ctx.report.stage_done(stage.name, seconds, getattr(stage, "engine", "local"))
        logger.info("stage %s: %.2f s", stage.name, seconds)
        ctx.checkpoint()
