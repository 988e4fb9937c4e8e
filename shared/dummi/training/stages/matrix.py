"""The weighted users x items matrix collaborative filtering learns from (``dummi.ml.interactions``)."""

from __future__ import annotations

from dummi.ml.interactions import build_matrix
from dummi.training.context import RunContext


class BuildMatrix:
    name = "matrix"
    engine = "local"

    def run(self, ctx: RunContext) -> None:
        ctx.matrix = build_matrix(ctx.events, ctx.catalog.ids)
        ctx.report.counts.update(cf_users=ctx.matrix.shape[0], cf_nonzeros=int(ctx.matrix.matrix.nnz))
