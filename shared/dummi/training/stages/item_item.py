"""The item-to-item signals beside CF: popularity, co-likes (the newcomers' model) and what comes next."""

from __future__ import annotations

from dummi.ml.cf import fit_cooccurrence
from dummi.ml.interactions import engagement_matrices, popularity
from dummi.ml.sequence import fit_transitions
from dummi.training.context import RunContext
from dummi.training.stages.matrix import event_types


class FitItemItem:
    name = "item_item"
    engine = "local"

    def run(self, ctx: RunContext) -> None:
        ids, types = ctx.catalog.ids, event_types(ctx)
        ctx.popularity = popularity(ctx.events, ids, types=types)
        if ctx.events:
            prior = float(ctx.settings.get("prior_strength", 50.0))
            engaged = engagement_matrices(ctx.events, ids, types=types)
            ctx.cooccurrence = fit_cooccurrence(*engaged, prior_strength=prior)
            if ctx.cf is not None:
                ctx.sequence = fit_transitions(ctx.events, ids, types=types)
