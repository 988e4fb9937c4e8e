"""Choosing the recipe (CF configuration and ranking settings) on cuts of the training data, never on the
evaluation's test split.

The cuts (``holdout``): a search cut (each user's last 20% held out), a confirmation cut one step back in
time (labels the search never scores), and folds of simulated newcomers (every user with 10+ events, its
first 3 kept). Every held-out user of a cut is scored, through trials that run serving's relevance on all
of them at once (``trials``). The steps (``steps``): search, simplify, guard, newcomers, diversity,
calibrate. Every decision is recorded with the number of users behind it and its noise (``noise``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from dummi.ml.choice import steps
from dummi.ml.choice.noise import Noise
from dummi.ml.choice.steps import Cuts, Record
from dummi.ml.recommender import DEFAULT_SETTINGS

MIN_USERS_TO_TUNE = 30


@dataclass
class Choice:
    cf_config: dict[str, Any] | None
    settings: dict[str, Any]
    metrics: dict[str, Any]


def choose(cuts: Cuts, *, baseline: tuple[dict[str, Any], dict[str, Any]] | None = None) -> Choice:
    """Run the steps in order (``dummi.ml.choice.steps``) and record what each decided. ``baseline`` (the
    serving model's configuration and settings) is scored on the same users, for the publish gate."""
    started = time.perf_counter()
    record = Record(cuts)
    timings: dict[str, float] = {}

    def timed(name, step, *args):
        t = time.perf_counter()
        out = step(record, *args)
        timings[name] = round(time.perf_counter() - t, 2)
        return out

    cf, settings, runners_up = timed("search", steps.search)
    cf, settings = timed("simplify", steps.simplify, cf, settings)
    cf, settings, guard = timed("guard", steps.guard, cf, settings)
    settings, newcomers = timed("newcomers", steps.newcomers, cf, settings)
    settings, curves = timed("diversity", steps.diversity, cf, settings)
    settings["calibration"] = timed("calibrate", steps.calibrate, cf, settings)

    final = _holdout(record, cf, settings)
    metrics: dict[str, Any] = {
        "holdout": final["figures"],
        "holdout_users": {group: len(per_user) for group, per_user in final["per_user"].items()},
        "noise": {
            group: {"ndcg_se": round(Noise(len(v)).of(v), 5), "users": len(v)}
            for group, v in final["per_user"].items()
            if len(v)
        },
        "confirmation": _figures(record.trial("confirm", cf, settings)),
        "cf_candidates": runners_up,
        "decisions": record.decisions,
        "guard": guard,
        "newcomers": newcomers,
        "diversity_curve": curves,
        "trials": [t.record() for t in record.trials],
        "step_seconds": timings,
        "tuning_seconds": round(time.perf_counter() - started, 2),
    }
    if baseline is not None:
        metrics["serving_holdout"] = _serving(record, baseline, settings, final)
    return Choice(cf, settings, metrics)


def _figures(trial) -> dict[str, float]:
    return {"ndcg": round(trial.ndcg, 5), "coverage": round(trial.coverage, 4), "users": int(trial.per_user.size)}


def _holdout(record: Record, cf, settings) -> dict[str, Any]:
    """The recipe on the search cut's users (warm) and the simulated newcomers (cold), each at its default
    diversity, as serving answers them."""
    warm = record.trial("search", cf, settings, diversity=float(settings.get("diversity", 0.0)))
    cold = record.trial("newcomers", cf, settings, diversity=float(settings.get("newcomer_diversity", 0.0)))
    both = np.concatenate([warm.per_user, cold.per_user])
    figures = {
        "all": {"ndcg": round(float(both.mean()), 5) if both.size else 0.0, "coverage": round(warm.coverage, 4)},
        "warm": {"ndcg": round(warm.ndcg, 5), "users": int(warm.per_user.size)},
        "cold": {"ndcg": round(cold.ndcg, 5), "users": int(cold.per_user.size)},
    }
    figures["all"]["users"] = int(both.size)
    return {"figures": figures, "per_user": {"warm": warm.per_user, "cold": cold.per_user}, "all": both}


def _serving(record: Record, baseline, settings, final) -> dict[str, Any]:
    """The serving model's recipe, refitted on the same cuts, at this run's diversities (the gate compares
    models, not how much accuracy each spends on variety), on the same users."""
    config, serving_settings = baseline
    serving_settings = {
        **DEFAULT_SETTINGS,
        **serving_settings,
        "diversity": settings["diversity"],
        "newcomer_diversity": settings["newcomer_diversity"],
    }
    serving_settings.pop("calibration", None)
    other = _holdout(record, config, serving_settings)
    out = {k: dict(v) for k, v in other["figures"].items()}
    out["paired_se"] = round(Noise(len(final["all"])).between(final["all"], other["all"]), 5)
    return out
