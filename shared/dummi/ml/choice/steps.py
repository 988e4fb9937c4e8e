"""The choice's named steps, in the order ``dummi.ml.choice.choose`` runs them. Each takes the cuts, the
record of trials and decisions, and the recipe so far, and returns the recipe it leaves.

1. ``search``: the CF candidate with the best warm NDCG@10 on the search cut, then one warm setting at a
   time, each the best value of its grid (every held-out user of the cut scored: no sample).
2. ``simplify``: each simplification (a blend's member alone, a component off) and a popularity penalty
   that covers more of the catalog are taken only when they cost nothing on the search cut *and* on the
   confirmation cut (``dummi.ml.choice.noise.costs_nothing``), against the searched recipe as a fixed
   reference (losses cannot add up step by step).
3. ``guard``: the recipe against each plain CF candidate on the confirmation cut, which the search never
   scored: the best plain candidate is published where it scores at least as well.
4. ``newcomers``: the newcomers' weights learned on one fold of simulated newcomers and tried on the other,
   both ways; published only where they beat the best single source (popularity, co-likes, the CF fold-in)
   on each fold they were not learned on, else that source is; then the interest lift.
5. ``diversity``: each segment's default diversity, the largest that costs at most 1% and stays within the
   noise of the best.
6. ``calibrate``: ``score``'s sigmoid per mode, fitted on the recipe's lists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dummi.ml.choice.newcomers import features_present, learn_weights
from dummi.ml.choice.noise import Noise, Trial, comparison, costs_nothing, within_noise
from dummi.ml.choice.trials import Trials
from dummi.ml.recommender import DEFAULT_SETTINGS

PENALTY_GRID = (0.0, 0.25, 0.5, 1.0)
# The warm search, in order: (setting, grid).
SEARCH: tuple[tuple[str, tuple[float, ...]], ...] = (
    ("event_weighting", (0.0, 1.0)),
    ("recency_half_life", (0.0, 5.0, 10.0, 20.0)),
    ("sequence_weight", (0.0, 0.25, 0.5, 1.0)),
    ("sequence_half_life", (1.0, 2.5, 5.0)),
    # never 1: content similarity is what ranks items newer than the model (no CF signal yet) by closeness to
    # the user, which no holdout sees (it has no such items); so it is not a simplification either
    ("cf_share", (0.5, 0.65, 0.8, 0.9)),
    ("popularity_penalty", PENALTY_GRID),
    ("skip_penalty", (0.0, 0.5, 1.0)),
)
# Components a recipe can do without, simplest first: (name, the setting, its "off" value).
WARM_OFF = (
    ("no event weights", "event_weighting", 0.0),
    ("no next-item signal", "sequence_weight", 0.0),
    ("no recency", "recency_half_life", 0.0),
    ("no skip push-down", "skip_penalty", 0.0),
)
# A plain CF candidate: the algorithm's scores of the user's items as they are, nothing else, beside content
# similarity at its least share (the search's most CF), which is what ranks items newer than the model.
PLAIN_SETTINGS: dict[str, float] = {
    "event_weighting": 0.0,
    "recency_half_life": 0.0,
    "sequence_weight": 0.0,
    "cf_share": 0.9,
    "popularity_penalty": 0.0,
    "skip_penalty": 0.0,
    "diversity": 0.0,
}
PLAIN_ALGORITHMS = ("ease", "itemknn", "nmf", "als")
GUARD_PLAIN = 2  # plain candidates the guard tries on the confirmation cut: the best on the search cut
MATCH_BOOST_GRID = (0.0, 1.0, 3.0, 1000.0)
DIVERSITY_GRID = (0.0, 0.1, 0.2, 0.3, 0.5)
DIVERSITY_NDCG_LOSS = 0.01
# Below this many users in a group its default diversity stays 0: "at most 1% below no re-rank" is read off
# one point estimate per diversity, and one standard error of a group's NDCG@10 is several percent of it
# below this size, so a re-rank that costs 3% would pass for free too often.
MIN_DIVERSITY_USERS = 300
CALIBRATION_DEPTH = 100
MIN_CALIBRATION_POSITIVES = 30
NEWCOMER_SOURCES: dict[str, dict[str, Any]] = {
    # each single source as newcomer settings: popularity alone, co-likes with their popularity prior (the hand
    # formula with its boosts off), the CF model folded in from the newcomer's items
    "popularity": {"newcomer_weights": {"popularity": 1.0}},
    "co-likes": {"newcomer_weights": None, "interest_boost": 0.0, "profile_boost": 0.0, "sequence_boost": 0.0},
    "cf": {"newcomer_weights": {"cf": 1.0}},
}


@dataclass
class Cuts:
    search: Trials  # the search cut's held-out users
    confirm: Trials  # the confirmation cut's
    newcomers: list[Trials]  # one per fold of simulated newcomers
    candidates: list[dict[str, Any]]  # the CF configurations this catalog allows


@dataclass
class Record:
    """Every trial scored (once per recipe, cut and group) and every decision, for the manifest."""

    cuts: Cuts
    trials: list[Trial] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    _seen: dict[str, Trial] = field(default_factory=dict)
    _noise: dict[str, Noise] = field(default_factory=dict)

    def trial(self, cut: str, cf: dict[str, Any] | None, settings: dict[str, Any], diversity: float = 0.0) -> Trial:
        key = repr((cut, cf and sorted(cf.items()), sorted(settings.items(), key=lambda kv: kv[0]), diversity))
        if key not in self._seen:
            results = [
                t.run_diversified(cf, settings, diversity) if diversity > 0 else t.run(cf, settings)
                for t in self.trials_of(cut)
            ]
            per_user = np.concatenate([r.ndcg for r in results])
            coverage = float(np.mean([r.coverage for r in results]))
            group = "cold" if cut == "newcomers" else "warm"
            ndcg = float(per_user.mean()) if per_user.size else 0.0
            found = Trial(cf, dict(settings), group, ndcg, coverage, per_user, cut)
            self._seen[key] = found
            self.trials.append(found)
        return self._seen[key]

    def trials_of(self, cut: str) -> list[Trials]:
        return {"search": [self.cuts.search], "confirm": [self.cuts.confirm], "newcomers": self.cuts.newcomers}[cut]

    def noise(self, cut: str) -> Noise:
        if cut not in self._noise:
            self._noise[cut] = Noise(sum(len(t.users) for t in self.trials_of(cut)))
        return self._noise[cut]


def label(config: dict[str, Any] | None) -> str:
    if not config:
        return "none"
    return " ".join([config["algorithm"], *(f"{k}={v:g}" for k, v in sorted(config.items()) if k != "algorithm")])


def search(record: Record) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """Step 1: (the CF configuration, the warm settings, how far each CF candidate was from the one taken)."""
    settings = dict(DEFAULT_SETTINGS)
    candidates = record.cuts.candidates
    at_defaults = [(c, record.trial("search", c, settings)) for c in candidates]
    best_cf, leader = max(at_defaults, key=lambda ct: ct[1].ndcg)
    noise = record.noise("search")
    runners_up = [
        {"cf": label(c), "ndcg": round(t.ndcg, 5), "noise": round(noise.between(t.per_user, leader.per_user), 5)}
        for c, t in at_defaults
    ]
    for key, grid in SEARCH:
        if key == "sequence_half_life" and settings["sequence_weight"] <= 0:
            continue
        settings[key] = max(grid, key=lambda v: record.trial("search", best_cf, {**settings, key: v}).ndcg)
    return best_cf, settings, runners_up


def simplifications(cf: dict[str, Any], candidates: list[dict[str, Any]]) -> list[tuple[str, Callable]]:
    """(name, recipe -> simpler recipe or None), in the order tried (each on top of those taken before it)."""
    steps: list[tuple[str, Callable]] = []
    if cf and "+" in cf["algorithm"]:
        for member in candidates:
            if member["algorithm"] in cf["algorithm"].split("+") and "+" not in member["algorithm"]:
                steps.append(
                    (f"cf={label(member)}", lambda c, s, m=member: (m, s) if c and "+" in c["algorithm"] else None)
                )
    for name, key, off in WARM_OFF:
        steps.append((name, lambda c, s, k=key, o=off: (c, {**s, k: o}) if s.get(k) != o else None))
    return steps


def _on_both_cuts(record: Record, reference: tuple, candidate: tuple) -> tuple[bool, dict[str, Any]]:
    """Whether ``candidate`` costs nothing against ``reference`` on the search and the confirmation cut."""
    compared = {}
    for cut in ("search", "confirm"):
        compared[cut] = comparison(record.trial(cut, *reference), record.trial(cut, *candidate), record.noise(cut))
    return all(costs_nothing(c) for c in compared.values()), compared


def simplify(record: Record, cf: dict[str, Any], settings: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Step 2: the simplifications and the wider popularity penalty that cost nothing on both cuts."""
    reference = (cf, dict(settings))
    for name, simpler in simplifications(cf, record.cuts.candidates):
        found = simpler(cf, settings)
        if found is None:
            continue
        accepted, compared = _on_both_cuts(record, reference, found)
        record.decisions.append({"step": name, "group": "warm", "accepted": accepted, **compared})
        if accepted:
            cf, settings = found
    # the popularity penalty that covers the most of the catalog among those that cost nothing (each tried is
    # recorded; ``accepted`` marks the one taken)
    tried = []
    for value in PENALTY_GRID:
        if value == settings["popularity_penalty"]:
            continue
        candidate = (cf, {**settings, "popularity_penalty": value})
        free, compared = _on_both_cuts(record, reference, candidate)
        coverage = record.trial("search", *candidate).coverage
        tried.append(
            {
                "step": f"popularity_penalty={value:g}",
                "group": "warm",
                "accepted": False,
                "rule": "coverage",
                "costs_nothing": free,
                "coverage": round(coverage, 4),
                "reference_coverage": round(record.trial("search", *reference).coverage, 4),
                **compared,
            }
        )
    takers = [d for d in tried if d["costs_nothing"] and d["coverage"] > record.trial("search", cf, settings).coverage]
    if takers:
        taken = max(takers, key=lambda d: d["coverage"])
        taken["accepted"] = True
        settings = {**settings, "popularity_penalty": float(taken["step"].split("=")[1])}
    record.decisions.extend(tried)
    return cf, settings


def guard(record: Record, cf: dict[str, Any], settings: dict[str, Any]) -> tuple[dict, dict, dict[str, Any]]:
    """Step 3: the recipe against the plain candidates on the confirmation cut (the search never scored it):
    the GUARD_PLAIN best of them on the search cut (fitting every candidate again on the confirmation cut
    would cost the most of a large catalog's choice), the best of those published where it scores at least
    as well as the recipe."""
    recipe = record.trial("confirm", cf, settings)
    plain_settings = {**settings, **PLAIN_SETTINGS}
    plain = [c for c in record.cuts.candidates if c["algorithm"] in PLAIN_ALGORITHMS]
    on_search = {label(c): record.trial("search", c, plain_settings).ndcg for c in plain}
    shortlist = sorted(plain, key=lambda c: -on_search[label(c)])[:GUARD_PLAIN]
    confirmed = {label(c): (c, record.trial("confirm", c, plain_settings)) for c in shortlist}
    out: dict[str, Any] = {
        "cut": "confirmation",
        "users": int(recipe.per_user.size),
        "recipe": round(recipe.ndcg, 5),
        "plain": {name: round(t.ndcg, 5) for name, (_, t) in confirmed.items()},
        "plain_on_search": {name: round(v, 5) for name, v in on_search.items()},
        "published": "recipe",
    }
    if not confirmed:
        out["reason"] = "no plain candidate on this catalog"
        return cf, settings, out
    name, (config, best) = max(confirmed.items(), key=lambda kv: kv[1][1].ndcg)
    out["noise"] = round(record.noise("confirm").between(recipe.per_user, best.per_user), 5)
    is_plain = config == cf and all(settings.get(k) == v for k, v in PLAIN_SETTINGS.items())
    if best.ndcg >= recipe.ndcg and not is_plain:
        out.update(published=name)
        out["reason"] = (
            f"plain {name} scores {best.ndcg:.4f} on the confirmation cut's {recipe.per_user.size} users, the "
            f"recipe {recipe.ndcg:.4f}: the plain candidate is published"
        )
        return config, plain_settings, out
    out["reason"] = (
        f"the recipe scores {recipe.ndcg:.4f} on the confirmation cut, the best plain ({name}) {best.ndcg:.4f}"
    )
    return cf, settings, out


def newcomers(record: Record, cf: dict[str, Any] | None, settings: dict[str, Any]) -> tuple[dict, dict[str, Any]]:
    """Step 4: the newcomers' weights, learned on each fold and tried on the other, published where they beat
    every single source on each fold they were not learned on; then the interest lift.

    The features come from the recipe's CF model, or from an EASE + item-kNN blend shipped for newcomers
    alone (``newcomer_cf``) where the two members' fold-ins predict a newcomer's likes better than one model
    does; the blend is fitted per fold like every other model."""
    folds = record.cuts.newcomers
    out: dict[str, Any] = {"folds": [len(f.users) for f in folds]}
    if len(folds) < 2 or min(len(f.users) for f in folds) == 0:
        out["reason"] = "too few simulated newcomers: the newcomers keep the hand-set formula"
        return settings, out
    options = [cf, *newcomer_cf_options(cf, record.cuts.candidates)]
    tried = [_learned_out_of_fold(folds, cf, {**settings, "newcomer_cf": option}) for option in options]
    out["tried"] = [
        {"cf": label(option), "out_of_fold": per_fold} for option, (per_fold, _) in zip(options, tried, strict=False)
    ]
    winners = [(option, per_fold) for option, (per_fold, wins) in zip(options, tried, strict=True) if wins]
    if winners:
        option, per_fold = max(winners, key=lambda w: np.mean([f["learned"] for f in w[1]]))
        if option != cf:
            settings = {**settings, "newcomer_cf": option}
        weights = learn_weights_pooled(folds, cf, settings, features_present(option, folds[0]))
        settings = {**settings, "newcomer_weights": weights}
        out.update(published="learned", cf=label(option), weights=weights)
    else:
        per_fold = tried[0][0]
        best = max(_sources(cf), key=lambda s: np.mean([f[s] for f in per_fold]))
        settings = {**settings, **_sources(cf)[best]}
        out.update(published=best, reason="the learned weights did not beat every single source on each fold")
    boost = max(MATCH_BOOST_GRID, key=lambda b: record.trial("newcomers", cf, {**settings, "match_boost": b}).ndcg)
    settings = {**settings, "match_boost": boost}
    if settings.get("newcomer_weights") is None:
        settings.pop("newcomer_weights", None)
    return settings, out


def newcomer_cf_options(cf: dict[str, Any] | None, candidates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Besides the recipe's CF model: an EASE + item-kNN blend, where the catalog allows one and the recipe's
    model is not that blend already (at the recipe's EASE strength, so that each fold fits one EASE)."""
    blends = [c for c in candidates if c["algorithm"] == "ease+itemknn"]
    if not blends or (cf and cf["algorithm"] == "ease+itemknn"):
        return []
    option = dict(min(blends, key=lambda c: c.get("weight", 1.0)))
    if cf and cf["algorithm"] == "ease":
        option["l2"] = cf["l2"]
    return [option]


def _learned_out_of_fold(folds: list[Trials], cf, settings) -> tuple[list[dict[str, float]], bool]:
    """Each fold's NDCG@10 under the weights learned on the other fold(s), beside every single source's;
    and whether the learned weights beat every single source on every fold. The features come from
    ``settings["newcomer_cf"]`` (or ``cf``)."""
    names = features_present(settings.get("newcomer_cf") or cf, folds[0])
    learned = [learn_weights(fold, cf, settings, names) for fold in folds]
    per_fold: list[dict[str, float]] = []
    for k, fold in enumerate(folds):
        others = [w for j, w in enumerate(learned) if j != k]
        weights = {n: float(np.mean([w[n] for w in others])) for n in names}
        figures = {"learned": float(fold.run(cf, {**settings, "newcomer_weights": weights}).ndcg.mean())}
        for source, overrides in _sources(cf).items():
            figures[source] = float(fold.run(cf, {**settings, **overrides}).ndcg.mean())
        per_fold.append({k: round(v, 5) for k, v in figures.items()})
    wins = all(f["learned"] > max(v for s, v in f.items() if s != "learned") for f in per_fold)
    return per_fold, wins


def _sources(cf) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in NEWCOMER_SOURCES.items() if k != "cf" or cf}


def learn_weights_pooled(folds: list[Trials], cf, settings, names) -> dict[str, float]:
    """The weights learned on every fold's newcomers together (what is published)."""
    per = [learn_weights(fold, cf, settings, names) for fold in folds]
    sizes = np.array([len(f.users) for f in folds], np.float64)
    return {n: round(float(np.average([w[n] for w in per], weights=sizes)), 4) for n in names}


def diversity(record: Record, cf, settings: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list]]:
    """Step 5: each segment's default diversity and its curve (NDCG@10 and coverage at each value)."""
    curves: dict[str, list] = {}
    for cut, key in (("search", "diversity"), ("newcomers", "newcomer_diversity")):
        users = sum(len(t.users) for t in record.trials_of(cut))
        if not users:
            continue
        options = [(d, record.trial(cut, cf, {**settings, key: 0.0}, diversity=d)) for d in DIVERSITY_GRID]
        curves["warm" if cut == "search" else "cold"] = [
            {"diversity": d, "ndcg": round(t.ndcg, 5), "coverage": round(t.coverage, 4)} for d, t in options
        ]
        value = 0.0
        if users >= MIN_DIVERSITY_USERS:
            best = max(options, key=lambda o: o[1].ndcg)[1]
            floor = (1 - DIVERSITY_NDCG_LOSS) * options[0][1].ndcg
            noise = record.noise(cut)
            fine = [d for d, t in options if t.ndcg >= floor and within_noise(comparison(best, t, noise))]
            value = max(fine, default=0.0)
        settings = {**settings, key: value}
    return settings, curves


def calibrate(record: Record, cf, settings: dict[str, Any]) -> dict[str, list[float]]:
    """Step 6: ``score``'s calibration per mode: sigmoid(a z + b) fitted to whether each of a user's best
    CALIBRATION_DEPTH items (z: its standardised relevance) is among its held-out likes; a mode with fewer
    than MIN_CALIBRATION_POSITIVES such likes, or a fit whose slope is not positive, keeps the default."""
    rows: dict[str, tuple[list, list]] = {"warm": ([], []), "cold": ([], [])}
    for trials in (record.cuts.search, *record.cuts.newcomers):
        for mode, (z, y) in trials.calibration_rows(cf, settings, CALIBRATION_DEPTH).items():
            rows[mode][0].append(z)
            rows[mode][1].append(y)
    out = {}
    for mode, (zs, labels) in rows.items():
        z = np.concatenate(zs) if zs else np.empty(0)
        y = np.concatenate(labels).astype(np.float64) if labels else np.empty(0)
        if y.sum() < MIN_CALIBRATION_POSITIVES:
            continue
        a, b = logistic(z, y)
        if a > 0:
            out[mode] = [round(a, 5), round(b, 5)]
    return out


def logistic(x: np.ndarray, y: np.ndarray, iterations: int = 30) -> tuple[float, float]:
    """(a, b) maximising the likelihood of y ~ Bernoulli(sigmoid(a x + b)), by Newton's method."""
    w = np.array([1.0, float(np.log(max(y.mean(), 1e-6) / max(1 - y.mean(), 1e-6)))])
    design = np.column_stack([x, np.ones_like(x)])
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(design @ w, -30, 30)))
        gradient = design.T @ (p - y)
        hessian = (design * (p * (1 - p))[:, None]).T @ design + 1e-9 * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return float(w[0]), float(w[1])
