"""The weighted users x items matrix collaborative filtering learns from (``dummi.ml.interactions``)."""

from __future__ import annotations

from dummi.ml.interactions import DEFAULT_EVENT_TYPES, EventTypes, build_matrix
from dummi.training.context import RunContext


def event_types(ctx: RunContext) -> EventTypes:
    """The run's event types (the built-in ones when a caller set none)."""
    return ctx.event_types if ctx.event_types is not None else DEFAULT_EVENT_TYPES


class BuildMatrix:
    name = "matrix"
    engine = "local"

    def run(self, ctx: RunContext) -> None:
        ctx.matrix = build_matrix(ctx.events, ctx.catalog.ids, event_types(ctx))
        ctx.report.counts.update(cf_users=ctx.matrix.shape[0], cf_nonzeros=int(ctx.matrix.matrix.nnz))
