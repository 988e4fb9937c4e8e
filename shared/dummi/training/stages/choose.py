"""Choose the recipe (CF configuration and ranking settings) on the holdout, or reuse the serving model's
while the data has moved little since that choice was made; then decide whether the new model may replace
the serving one (``dummi.ml.publish_gate``). A run that keeps the serving model ends here.

Why a choice may be reused: it is the run's dearest part (on a 10K-item catalog ~70 s of a ~90 s retrain,
one EASE inverse per l2 and ~70 trials of the real recommender), and the settings it picks move only with
the data's shape. A full choice is made again when the events, users or items have changed by
``REUSE_MAX_CHANGE`` or more since the choice the serving model carries, when that choice is
``REUSE_MAX_AGE_DAYS`` old, on the first run, on demand (``full_choice``) and whenever the algorithm is
pinned. How much a reused choice costs on ml-100k: ``tests/benchmarks/choice_reuse.py`` (README, Training).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from dummi.db.experiments_repository import ExperimentsRepository
from dummi.db.users_repository import UsersRepository
from dummi.ml import publish_gate
from dummi.ml.embeddings import from_bytes
from dummi.training.choice import cf_candidates, choose_recipe
from dummi.training.context import RunContext

logger = logging.getLogger(__name__)

REUSE_MAX_CHANGE = 0.10
REUSE_MAX_AGE_DAYS = 7.0
_COUNTED = ("interactions", "cf_users", "items")


def explicit_cf_config(params) -> dict[str, Any] | None:
    """The configuration of a pinned algorithm (``DUMMI_CF_ALGORITHM``); None for auto."""
    if params.cf_algorithm == "auto":
        return None
    if params.cf_algorithm in ("nmf", "als"):
        return {"algorithm": params.cf_algorithm, "n_components": params.cf_factors}
    return {"algorithm": params.cf_algorithm}


def choice_counts(ctx: RunContext) -> dict[str, int]:
    """What a choice was made on (each engine's read and matrix stages count them)."""
    return {key: int(ctx.report.counts.get(key, 0)) for key in _COUNTED}


def reusable_choice(ctx: RunContext, now: datetime | None = None) -> tuple[dict[str, Any] | None, str]:
    """(the serving model's choice record, why it may be reused) or (None, why a full choice is made)."""
    now = now or datetime.now(UTC)
    serving = ctx.serving
    if ctx.params.full_choice:
        return None, "a full choice was asked for"
    if serving is None or serving.recipe is None or not serving.manifest:
        return None, "no serving model with a recipe"
    made = (serving.manifest.get("metrics") or {}).get("choice")
    if not made or "made_at" not in made:
        return None, "the serving model carries no choice record"
    age_days = (now - datetime.fromisoformat(made["made_at"])).total_seconds() / 86400
    if age_days >= REUSE_MAX_AGE_DAYS:
        return None, f"the serving model's choice is {age_days:.1f} days old (chosen again from {REUSE_MAX_AGE_DAYS:g})"
    counts = choice_counts(ctx)
    changes = {k: abs(counts[k] - made["counts"].get(k, 0)) / max(made["counts"].get(k, 0), 1) for k in _COUNTED}
    for key, change in changes.items():
        if change >= REUSE_MAX_CHANGE:
            why = f"{key} changed by {change:.0%} since the serving model's choice"
            return None, f"{why} (chosen again from {REUSE_MAX_CHANGE:.0%})"
    return made, (
        f"choice of {made['made_at'][:19]}Z reused: the data moved {max(changes.values()):.1%} since (reused below "
        f"{REUSE_MAX_CHANGE:.0%} and {REUSE_MAX_AGE_DAYS:g} days)"
    )


class Choose:
    name = "choose"
    engine = "local"

    def __init__(self, choose=None) -> None:
        # how the full choice runs: on the run's own events (in process), or on a sample (the Spark engine)
        self._choose = choose or full_choice

    def run(self, ctx: RunContext) -> None:
        params = ctx.params
        ctx.cf_config = explicit_cf_config(params)
        reused = None
        if params.retrain_cf and params.cf_algorithm == "auto":
            record, why = reusable_choice(ctx)
            if record is not None:
                ctx.progress.start("reusing the serving model's choice")
                ctx.cf_config, ctx.settings = ctx.serving.recipe
                ctx.settings = dict(ctx.settings)
                ctx.metrics["choice"] = {**record, "reused": why}
                reused = why
                ctx.progress.finish(why)
            else:
                ctx.progress.start("choosing on the holdout")
                logger.info("full choice: %s", why)
                choice = self._choose(ctx)
                if choice is not None:
                    ctx.cf_config, ctx.settings = choice.cf_config, choice.settings
                    ctx.metrics.update(choice.metrics)
                    ctx.metrics["choice"] = {
                        "made_at": datetime.now(UTC).isoformat(),
                        "why": why,
                        "counts": choice_counts(ctx),
                    }
                    winner = (ctx.cf_config or {}).get("algorithm")
                    ctx.progress.finish(f"{winner}, holdout NDCG@10 {ctx.metrics['holdout']['all']['ndcg']:.4f}")
                else:
                    ctx.cf_config = {"algorithm": "nmf", "n_components": params.cf_factors}
                    ctx.progress.finish("too little data to hold out; using NMF and default settings")

        serving = ctx.serving
        wanted = (
            experiment_algorithms(ctx.db, ctx.catalog.size, params.cf_factors) if params.retrain_cf else frozenset()
        )
        ctx.report.decision = publish_gate.decide(
            force=params.force,
            serving=serving,
            item_ids=ctx.catalog.ids,
            new_score=ctx.metrics.get("holdout", {}).get("all", {}).get("ndcg"),
            serving_score=ctx.metrics.get("serving_holdout", {}).get("all", {}).get("ndcg"),
            noise=ctx.metrics.get("serving_holdout", {}).get("paired_se"),
            wanted_algorithms=wanted,
            erased_since_serving=serving is not None
            and ctx.users_deleted_at is not None
            and (serving.events_as_of is None or datetime.fromisoformat(serving.events_as_of) < ctx.users_deleted_at),
            reused_choice=reused,
        )
        ctx.wanted_algorithms = wanted
        if ctx.report.decision["action"] == "kept":
            ctx.progress.start("keeping the serving model")
            ctx.progress.finish(ctx.report.decision["reason"])
            ctx.version = serving.version
            ctx.finished = True


def full_choice(ctx: RunContext):
    """The choice on every event the run read (in process)."""
    raw = ctx.db.read(lambda conn: UsersRepository(conn).interest_vectors())
    interests = {u: (names, from_bytes(v) if v is not None else None) for u, (names, v) in raw.items()}
    c = ctx.catalog
    baseline = ctx.serving.recipe if ctx.serving is not None else None
    return choose_recipe(
        ctx.events,
        (c.ids, c.titles, c.categories, c.tags, ctx.index, c.vectors),
        interests,
        ctx.embedder(),
        factors=ctx.params.cf_factors,
        baseline=baseline,
    )


def experiment_algorithms(db, n_items: int, factors: int) -> frozenset[str]:
    """CF algorithms that experiments not yet ended name, among those this catalog's size allows (the
    item-item ones stop at EASE_MAX_ITEMS): training publishes each beside the chosen one. An experiment
    naming one the catalog does not allow stays without users (serving puts nobody in it)."""
    live = db.read(lambda conn: ExperimentsRepository(conn).live())
    named = {v.overrides["algorithm"] for e in live for v in e.variants if "algorithm" in v.overrides}
    allowed = {c["algorithm"] for c in cf_candidates(n_items, factors)}
    for name in sorted(named - allowed):
        logger.warning(
            "an experiment names %s, which is not fitted on %d items; its experiment gets no users", name, n_items
        )
    return frozenset(named & allowed)
