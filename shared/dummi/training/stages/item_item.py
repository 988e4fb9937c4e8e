"""The item-to-item signals beside CF: popularity, co-likes (the newcomers' model) and what comes next."""

from __future__ import annotations

from dummi.ml.cf import fit_cooccurrence
from dummi.ml.interactions import engagement_matrices, popularity
from dummi.ml.sequence import fit_transitions
from dummi.training.context import RunContext


class FitItemItem:
    name = "item_item"
    engine = "local"

    def run(self, ctx: RunContext) -> None:
        ids = ctx.catalog.ids
        ctx.popularity = popularity(ctx.events, ids)
        if ctx.events:
            prior = float(ctx.settings.get("prior_strength", 50.0))
            ctx.cooccurrence = fit_cooccurrence(*engagement_matrices(ctx.events, ids), prior_strength=prior)
            if ctx.cf is not None:
                ctx.sequence = fit_transitions(ctx.events, ids)
