"""Publish only what is not worse: a run scores its new model and the serving model's recipe on the same
holdout users, and publishes the new one unless its all-users NDCG@10 is lower by more than ``NOISE_UNITS``
standard errors of the difference (paired, bootstrapped over those users: ``dummi.ml.choice.noise.Noise``), unless
the run forces it or the catalog moved on too far for the serving model.

Why the serving model's *recipe* (its CF configuration and ranking settings, refitted on the holdout's
training part) and not the serving artifact itself: that artifact was fitted on events that are now in
the holdout's held-out part, so it would be scored on what it memorized and always look better.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# A new model is kept back only when it is worse beyond this many standard errors of the paired difference:
# about 2.3% of runs of an equally good model would be kept back by chance (one-sided normal tail at 2).
NOISE_UNITS = 2.0
# When this share of today's items is unknown to the serving model (they get content similarity but no
# CF, no popularity), the new model is published whatever the holdout says.
NEW_ITEMS_SHARE = 0.10


@dataclass(frozen=True)
class Serving:
    version: str
    recipe: tuple[dict[str, Any], dict[str, Any]] | None  # (CF configuration, ranking settings); None: unknown
    item_ids: frozenset[str]
    algorithms: frozenset[str] = frozenset()  # CF algorithms it carries (the chosen one and alternatives)
    events_as_of: str | None = None  # when its training read the events (ISO; None: before this was kept)
    manifest: dict[str, Any] | None = field(default=None, compare=False, repr=False)  # as published


def algorithms(model_facts: dict[str, Any]) -> frozenset[str]:
    """The CF algorithms a published model carries: the chosen one and the alternatives for experiments."""
    names = {a["algorithm"] for a in model_facts.get("alternatives", [])}
    if model_facts.get("cf"):
        names.add(model_facts["cf"]["algorithm"])
    return frozenset(names)


def recipe(model_facts: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The (CF configuration, ranking settings) a published model was built with, from its manifest's
    ``model`` facts; None when it had no CF model or an algorithm this code does not know."""
    cf = model_facts.get("cf")
    if not cf:
        return None
    params = cf.get("params", {})
    name = cf["algorithm"]
    if name == "ease":
        config = {"algorithm": "ease", "l2": float(params["l2"])}
    elif name == "itemknn":
        config = {"algorithm": "itemknn"}
    elif name == "ease+itemknn":
        config = {"algorithm": name, "l2": float(params["first"]["params"]["l2"]), "weight": float(params["weight"])}
    elif name == "nmf":
        config = {"algorithm": "nmf", "n_components": int(params["n_components"])}
    elif name == "als":
        config = {"algorithm": "als", **{k: params[k] for k in ("n_components", "alpha", "reg", "iterations")}}
    else:
        return None
    return config, dict(model_facts.get("settings", {}))


def decide(
    *,
    force: bool,
    serving: Serving | None,
    item_ids: list[str],
    new_score: float | None,
    serving_score: float | None,
    noise: float | None = None,
    wanted_algorithms: frozenset[str] = frozenset(),
    erased_since_serving: bool = False,
    reused_choice: str | None = None,
) -> dict[str, Any]:
    """{"action": "published" | "kept", "reason", "new_ndcg", "serving_ndcg", "noise", "serving_version",
    ...}; ``noise``: the standard error of new - serving on the holdout users; ``reused_choice``: why the run
    refitted the serving model's recipe instead of choosing (``dummi.training.stages.choose``)."""
    out: dict[str, Any] = {
        "new_ndcg": new_score,
        "serving_ndcg": serving_score,
        "noise": noise,
        "serving_version": serving.version if serving else None,
    }
    if serving is None:
        return {**out, "action": "published", "reason": "no model was serving"}
    if force:
        return {**out, "action": "published", "reason": "forced"}
    if erased_since_serving:
        reason = "a user was deleted after the serving model read its events: it is replaced and pruned"
        return {**out, "action": "published", "reason": reason}
    missing = sorted(wanted_algorithms - serving.algorithms)
    if missing:
        reason = f"a running experiment needs {', '.join(missing)}, which the serving model lacks"
        return {**out, "action": "published", "reason": reason}
    unknown = sum(1 for cid in item_ids if cid not in serving.item_ids)
    share = unknown / len(item_ids) if item_ids else 0.0
    out["new_items_share"] = round(share, 4)
    if share >= NEW_ITEMS_SHARE:
        reason = f"{share:.0%} of the items are new to the serving model (published from {NEW_ITEMS_SHARE:.0%})"
        return {**out, "action": "published", "reason": reason}
    if reused_choice is not None:
        # the same recipe on newer events: nothing to compare it with but itself
        return {**out, "action": "published", "reason": f"the serving model's recipe on newer events ({reused_choice})"}
    if new_score is None or serving_score is None or noise is None:
        return {**out, "action": "published", "reason": "no holdout score to compare"}
    if new_score >= serving_score - NOISE_UNITS * noise:
        return {**out, "action": "published", "reason": "not worse than the serving model beyond the holdout's noise"}
    reason = (
        f"holdout NDCG@10 {new_score:.4f} is below the serving model's {serving_score:.4f} by more than "
        f"{NOISE_UNITS:g} standard errors of the difference ({noise:.4f})"
    )
    return {**out, "action": "kept", "reason": reason}
