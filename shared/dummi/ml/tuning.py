"""Choosing the model on a time-based holdout of the training data (never the evaluation's test split).

The holdout mirrors how the product is judged (``../shared/EVALUATION.md``): for most users their last 20% of
interactions (by time) are held out; a share of users with enough history is turned into simulated newcomers
that keep only their first 3 interactions. Candidate CF algorithms and ranking settings are scored with the
real ``HybridRecommender`` on those users: warm users for CF and blending, the simulated newcomers for the
cold-start settings.

Accuracy first, in two steps. The search: the CF candidate with the best warm holdout NDCG@10, then one
setting at a time (``SEARCH``), each taking the value with the best NDCG@10 of its group. Then the
one-standard-error rule of model selection (Hastie, Tibshirani & Friedman, *Elements of Statistical
Learning*, 7.10), against the best recipe found as a fixed reference: each simplification (a blend's plain
member, a component turned off: ``WARM_OFF``, ``COLD_OFF``; content similarity is not one of them, as
it is what ranks items newer than the model) is taken when the recipe stays within one
standard error of that reference, and, within the same noise, the popularity penalty that covers the most of
the catalog. The reference does not move, so accepted losses cannot add up step by step (a per-coordinate
rule cost ~2% of NDCG@10 on three resamples of ml-100k by compounding). The noise of a comparison is the
standard error of the mean per-user difference, from bootstrap resamples of the group's held-out users that
every comparison shares (paired). Coverage is never a multiplier of the objective: on a long-tail catalog
that buys exposure with misses. Each segment's default diversity is the largest that costs at most 1%.

The published recipe must then score at least as well as each plain CF candidate alone (no event weights,
recency, next-item signal, content, penalty or re-rank); where one scores better, that plain candidate is
published, with the reason (``metrics["guard"]``). Last, ``score``'s calibration is fitted on the chosen
recipe's holdout lists.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dummi.db.records import Event
from dummi.ml.metrics import list_figures, summarize, user_metrics, users_per_item
from dummi.ml.recommender import DEFAULT_SETTINGS, HybridRecommender, RankRequest, UserEvent, UserState

logger = logging.getLogger(__name__)

HOLDOUT_SHARE = 0.2
COLD_SHARE = 0.15
COLD_KEEP = 3
MIN_EVENTS_FOR_COLD = 10
MIN_EVENTS_FOR_HOLDOUT = 5
MAX_EVAL_USERS = 2000
# A trial costs about (users x items): past EVAL_WORK a sample of the users is scored (never fewer than
# MIN_EVAL_USERS), so that the choice on a 10K-item catalog takes a minute, not five.
EVAL_WORK = 3_000_000
MIN_EVAL_USERS = 300
MIN_USERS_TO_TUNE = 30
# Bootstrap resamples of the held-out users behind every "within noise": 200 put the standard error itself
# within ~5% (its relative error is about 1 / sqrt(2 x rounds)).
NOISE_ROUNDS = 200
# The diversity re-rank's default per segment: the largest of DIVERSITY_GRID whose holdout NDCG@10 is within
# the noise of the best and at most DIVERSITY_NDCG_LOSS below no re-rank (the bound: variety costs
# at most 1% of accuracy; 0 where nothing is that cheap).
DIVERSITY_GRID = (0.0, 0.1, 0.2, 0.3, 0.5)
DIVERSITY_NDCG_LOSS = 0.01
# Below this many users in a group its default diversity stays 0: "at most 1% below no re-rank" is read off
# one point estimate per diversity, and one standard error of a group's holdout NDCG@10 is several percent of
# it well above this size (ml-100k's holdout: 0.0083 of 0.210, 4%, for 661 warm users; 0.021 of 0.33, 6%, for
# 118 simulated newcomers; its random halves: 7-8% for ~340 warm users; the synthetic 10K-item catalog: 11%
# for 300 warm users), so below it a re-rank that costs 3% would pass for free too often.
MIN_DIVERSITY_USERS = 300
# Each holdout user's best CALIBRATION_DEPTH items by relevance are what ``score``'s calibration is fitted on:
# the items lists (and their re-ranks, which draw from the best max(4n, 50)) are made of.
CALIBRATION_DEPTH = 100
# Below this many held-out likes in a mode the calibration keeps its default (two parameters, fitted on
# fewer positives, would move with every run).
MIN_CALIBRATION_POSITIVES = 30
# A plain CF candidate: the algorithm's scores of the user's items as they are, nothing else.
PLAIN_SETTINGS: dict[str, float] = {
    "event_weighting": 0.0,
    "recency_half_life": 0.0,
    "sequence_weight": 0.0,
    "cf_share": 1.0,
    "popularity_penalty": 0.0,
    "skip_penalty": 0.0,
    "diversity": 0.0,
}
PLAIN_ALGORITHMS = ("ease", "itemknn", "nmf")


@dataclass
class Holdout:
    fit_events: list[Event]
    relevant: dict[str, set[str]]  # held-out likes per user
    cold_users: set[str]


def split_holdout(events: list[Event], *, seed: int = 0) -> Holdout:
    rng = np.random.default_rng(seed)
    by_user: dict[str, list[Event]] = {}
    for e in events:
        by_user.setdefault(e.user_id, []).append(e)
    fit: list[Event] = []
    relevant: dict[str, set[str]] = {}
    cold: set[str] = set()
    for user in sorted(by_user):
        # Ties in time are broken at random: the order a system happened to store simultaneous events in
        # must not look like information (it made recency look far stronger than it is).
        shuffled = [by_user[user][i] for i in rng.permutation(len(by_user[user]))]
        evs = sorted(shuffled, key=lambda e: e.at)
        if len(evs) >= MIN_EVENTS_FOR_COLD and rng.random() < COLD_SHARE:
            kept, held = evs[:COLD_KEEP], evs[COLD_KEEP:]
            cold.add(user)
        elif len(evs) >= MIN_EVENTS_FOR_HOLDOUT:
            n = max(1, round(len(evs) * HOLDOUT_SHARE))
            kept, held = evs[:-n], evs[-n:]
        else:
            kept, held = evs, []
        fit.extend(kept)
        likes = {e.content_id for e in held if e.event_type in ("like", "positive")}
        if likes:
            relevant[user] = likes
    return Holdout(fit, relevant, cold)


def user_states(
    events: list[Event], interests: dict[str, tuple[list[str], np.ndarray | None]], users: set[str] | None = None
) -> dict[str, UserState]:
    """What serving would read for each user, built from ``events``."""
    by_user: dict[str, list[Event]] = {}
    for e in events:
        if users is None or e.user_id in users:
            by_user.setdefault(e.user_id, []).append(e)
    states = {}
    for user in users if users is not None else by_user:
        evs = sorted(by_user.get(user, []), key=lambda e: e.at, reverse=True)
        names, vector = interests.get(user, ([], None))
        states[user] = UserState(
            user_id=user,
            interests=names,
            interests_vector=vector,
            events=[UserEvent(e.content_id, e.kind, e.event_type, e.duration_seconds, e.at) for e in evs],
            seen={e.content_id for e in evs},
        )
    return states


def evaluate(
    recommender: HybridRecommender,
    states: dict[str, UserState],
    holdout: Holdout,
    users: list[str],
    *,
    request: RankRequest | None = None,
) -> tuple[dict[str, dict[str, float]], np.ndarray, dict[str, list[str]]]:
    """(the metrics of ``summarize``, each user's NDCG@10 in ``users``' order, the lists)."""
    request = request or RankRequest()
    recs = {u: recommender.ranked_ids(states[u], request) for u in users}
    per_user = np.array([user_metrics(recs[u], holdout.relevant[u])["ndcg"] for u in users])
    return summarize(recs, holdout.relevant, holdout.cold_users, recommender.size), per_user, recs


class Noise:
    """Bootstrap resamples of one group's users, the same for every comparison within the group (paired)."""

    def __init__(self, n_users: int, rounds: int = NOISE_ROUNDS, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.resamples = rng.integers(0, max(n_users, 1), (rounds, n_users))

    def of(self, per_user: np.ndarray) -> float:
        """Standard error of the mean of ``per_user`` (one setting's NDCG@10 on the holdout)."""
        return float(per_user[self.resamples].mean(axis=1).std()) if per_user.size else 0.0

    def between(self, a: np.ndarray, b: np.ndarray) -> float:
        """Standard error of mean(a) - mean(b) on the same users."""
        return self.of(a - b)


@dataclass
class Trial:
    cf: dict[str, Any] | None
    settings: dict[str, Any]
    group: str
    ndcg: float
    coverage: float
    per_user: np.ndarray = field(repr=False)

    def record(self) -> dict[str, Any]:
        return {
            "cf": self.cf,
            "settings": dict(self.settings),
            "group": self.group,
            "ndcg": round(self.ndcg, 5),
            "coverage": round(self.coverage, 4),
        }


def within_noise(options: list[tuple[Any, Trial]], reference: Trial, noise: Noise) -> list[tuple[Any, Trial]]:
    """The options whose NDCG@10 is at most one paired standard error below the reference's."""
    return [(v, t) for v, t in options if t.ndcg >= reference.ndcg - noise.between(t.per_user, reference.per_user)]


@dataclass
class Choice:
    cf_config: dict[str, Any] | None
    settings: dict[str, Any]
    metrics: dict[str, Any]


class MemoScores:
    """A CF (or next-item) model that remembers its scores per (items, weights): the trials of one choice ask
    a model the same question for the same user again whenever only other settings changed. Everything
    else is the model's own."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self._memo: dict[tuple[bytes, bytes], np.ndarray] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)

    def scores(self, items: np.ndarray, weights: np.ndarray) -> np.ndarray:
        key = (np.asarray(items, np.int64).tobytes(), np.asarray(weights, np.float32).tobytes())
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = self.model.scores(items, weights)
        return found


class MemoIndex:
    """A vector index that remembers its answers per (query, k): a user's content profile changes only with
    the settings that weigh its events (recency, event weights), so most trials search the same queries
    again. Everything else is the index's own."""

    def __init__(self, index: Any) -> None:
        self.index = index
        self._memo: dict[tuple[bytes, int], tuple[np.ndarray, np.ndarray]] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.index, name)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        key = (np.ascontiguousarray(queries, np.float32).tobytes(), k)
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = self.index.search(queries, k)
        return found


def _label(config: dict[str, Any] | None) -> str:
    if not config:
        return "none"
    return " ".join([config["algorithm"], *(f"{k}={v:g}" for k, v in sorted(config.items()) if k != "algorithm")])


def choose(
    holdout: Holdout,
    states: dict[str, UserState],
    cf_candidates: list[dict[str, Any]],
    build: Callable[[dict[str, Any] | None, dict[str, Any]], HybridRecommender],
    *,
    seed: int = 0,
    baseline: tuple[dict[str, Any], dict[str, Any]] | None = None,
    n_items: int = 0,
) -> Choice:
    """Pick the CF configuration, then the warm ranking settings, then the cold-start ones, then each
    segment's default diversity, each within the holdout's noise (see the module's docstring); check the
    result against the plain candidates; fit ``score``'s calibration. ``baseline`` (the serving model's
    configuration and settings) is scored on the same users, for the publish gate."""
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    scored = [u for u in holdout.relevant if u in states]
    warm = [u for u in scored if u not in holdout.cold_users]
    cold = [u for u in scored if u in holdout.cold_users]
    most = max(MIN_EVAL_USERS, min(MAX_EVAL_USERS, EVAL_WORK // max(n_items, 1)))
    if len(warm) > most:
        warm = list(rng.choice(warm, most, replace=False))
    if len(cold) > most:
        cold = list(rng.choice(cold, most, replace=False))
    users = {"warm": warm, "cold": cold}
    noise = {group: Noise(len(members), seed=seed) for group, members in users.items()}
    trials: list[Trial] = []
    seen: dict[str, Trial] = {}
    decisions: list[dict[str, Any]] = []

    def trial(cf_config, settings, group) -> Trial:
        key = repr((cf_config and sorted(cf_config.items()), sorted(settings.items()), group))
        if key not in seen:  # a coordinate's grid holds the value it starts from: scored once
            result, per_user, _ = evaluate(build(cf_config, settings), states, holdout, users[group])
            ndcg, coverage = result[group]["ndcg"], result["all"]["coverage"]
            seen[key] = Trial(cf_config, dict(settings), group, ndcg, coverage, per_user)
            trials.append(seen[key])
        return seen[key]

    # 1. the search: the CF configuration at the default settings, then one setting at a time, each the best
    settings = dict(DEFAULT_SETTINGS)
    best_cf = max(cf_candidates, key=lambda c: trial(c, settings, "warm").ndcg)
    leader = trial(best_cf, settings, "warm")
    # how far each candidate was from the one taken, in the holdout's noise (near ties move between runs)
    at_defaults = [(c, trial(c, settings, "warm")) for c in cf_candidates]  # scored above: cached
    runners_up = [
        {
            "cf": _label(c),
            "ndcg": round(t.ndcg, 5),
            "noise": round(noise["warm"].between(t.per_user, leader.per_user), 5),
        }
        for c, t in at_defaults
    ]
    for key, grid, group in SEARCH:
        if group == "cold" and not cold:
            continue
        if key == "sequence_half_life" and settings["sequence_weight"] <= 0:
            continue
        settings[key] = max(grid, key=lambda v: trial(best_cf, {**settings, key: v}, group).ndcg)

    # 2. the one-standard-error rule: every simplification that keeps the recipe within the noise of the best
    # found (the reference stays that best, so the losses cannot add up), then, within the same noise, the
    # popularity penalty that covers the most of the catalog
    for group in ("warm", "cold"):
        if not users[group]:
            continue
        reference = trial(best_cf, settings, group)
        for name, simpler in _simplifications(group, best_cf, settings, cf_candidates):
            found = simpler(best_cf, settings)
            if found is None:
                continue
            config, changed = found
            candidate = trial(config, changed, group)
            se = noise[group].between(candidate.per_user, reference.per_user)
            accepted = candidate.ndcg >= reference.ndcg - se
            decisions.append(_decision(name, group, reference, candidate, se, accepted))
            if accepted:
                best_cf, settings = config, changed
        if group == "warm":
            options = [(v, trial(best_cf, {**settings, "popularity_penalty": v}, "warm")) for v in PENALTY_GRID]
            kept = within_noise(options, reference, noise["warm"])
            if kept:
                value, chosen = max(kept, key=lambda o: (o[1].coverage, o[1].ndcg))
                se = noise["warm"].between(chosen.per_user, reference.per_user)
                decisions.append(
                    {
                        **_decision(f"popularity_penalty={value:g}", "warm", reference, chosen, se, True),
                        "rule": "the most coverage within the noise",
                    }
                )
                settings["popularity_penalty"] = value

    curves = {}
    for group, key in (("warm", "diversity"), ("cold", "newcomer_diversity")):
        if users[group]:
            recommender = build(best_cf, settings)
            curves[group], settings[key] = _diversity(recommender, states, holdout, users[group], group, noise[group])

    guard = _guard(best_cf, settings, cf_candidates, lambda c, s: trial(c, s, "warm"))
    if guard["published"] != "recipe":
        best_cf = guard["cf"]
        settings.update(PLAIN_SETTINGS)
    guard.pop("cf")

    recipe = build(best_cf, settings)
    final, final_per_user, _ = evaluate(recipe, states, holdout, warm + cold)
    settings["calibration"] = fit_calibration(recipe, states, holdout, warm + cold)
    rounded = lambda result: {g: {k: round(v, 5) for k, v in m.items()} for g, m in result.items()}  # noqa: E731
    per_group = {"warm": final_per_user[: len(warm)], "cold": final_per_user[len(warm) :]}
    metrics: dict[str, Any] = {
        "holdout": rounded(final),
        "holdout_users": {"warm": len(warm), "cold": len(cold)},
        # the standard error of the published recipe's holdout NDCG@10 per group (bootstrap over its users)
        "noise": {
            group: {"ndcg_se": round(noise[group].of(per_group[group]), 5), "users": len(users[group])}
            for group in users
            if users[group]
        },
        "cf_candidates": runners_up,
        "decisions": decisions,
        "guard": guard,
        "diversity_curve": curves,
        "trials": [t.record() for t in trials],
        "tuning_seconds": round(time.perf_counter() - started, 2),
    }
    if baseline is not None:
        config, serving_settings = baseline
        # at this run's diversities: the gate compares models, not how much accuracy each spends on variety
        serving_settings = {
            **DEFAULT_SETTINGS,
            **serving_settings,
            "diversity": settings["diversity"],
            "newcomer_diversity": settings["newcomer_diversity"],
        }
        result, serving_per_user, _ = evaluate(build(config, serving_settings), states, holdout, warm + cold)
        metrics["serving_holdout"] = rounded(result)
        paired = Noise(len(warm) + len(cold), seed=seed).between(final_per_user, serving_per_user)
        metrics["serving_holdout"]["paired_se"] = round(paired, 5)
    return Choice(best_cf, settings, metrics)


PENALTY_GRID = (0.0, 0.25, 0.5, 1.0)
# The search, in order: (setting, grid, the group it is scored on).
SEARCH: tuple[tuple[str, tuple[float, ...], str], ...] = (
    ("event_weighting", (0.0, 1.0), "warm"),
    ("recency_half_life", (0.0, 5.0, 10.0, 20.0), "warm"),
    ("sequence_weight", (0.0, 0.25, 0.5, 1.0), "warm"),
    ("sequence_half_life", (1.0, 2.5, 5.0), "warm"),
    # never 1: content similarity is what ranks items newer than the model (no CF signal yet) by closeness to
    # the user, which no holdout sees (it has no such items); so it is not a simplification either
    ("cf_share", (0.5, 0.65, 0.8, 0.9), "warm"),
    ("popularity_penalty", PENALTY_GRID, "warm"),
    ("skip_penalty", (0.0, 0.5, 1.0), "warm"),
    ("prior_strength", (10.0, 50.0, 200.0, 1000.0), "cold"),
    ("sequence_boost", (0.0, 0.1, 0.25, 0.5), "cold"),
    ("interest_boost", (0.0, 0.1, 0.25, 0.5), "cold"),
    ("profile_boost", (0.0, 0.1, 0.25, 0.5), "cold"),
    ("match_boost", (0.0, 1.0, 3.0, 1000.0), "cold"),
)
# Components a recipe can do without, simplest first: (name, the setting, its "off" value).
WARM_OFF = (
    ("no event weights", "event_weighting", 0.0),
    ("no next-item signal", "sequence_weight", 0.0),
    ("no recency", "recency_half_life", 0.0),
    ("no skip push-down", "skip_penalty", 0.0),
)
COLD_OFF = (
    ("no next-item boost", "sequence_boost", 0.0),
    ("no interest closeness", "interest_boost", 0.0),
    ("no profile similarity", "profile_boost", 0.0),
)


def _simplifications(group: str, cf, settings, cf_candidates) -> list[tuple[str, Callable]]:
    """(name, recipe -> simpler recipe or None) for each simplification of a group's recipe, in the order
    they are tried (each on top of those accepted before it)."""
    steps: list[tuple[str, Callable]] = []
    if group == "warm" and cf and "+" in cf["algorithm"]:
        for member in cf_candidates:
            if member["algorithm"] in cf["algorithm"].split("+") and "+" not in member["algorithm"]:
                steps.append(
                    (f"cf={_label(member)}", lambda c, s, m=member: (m, s) if c and "+" in c["algorithm"] else None)
                )
    for name, key, off in WARM_OFF if group == "warm" else COLD_OFF:
        steps.append((name, lambda c, s, k=key, o=off: (c, {**s, k: o}) if s.get(k) != o else None))
    return steps


def _decision(name: str, group: str, reference: Trial, candidate: Trial, se: float, accepted: bool) -> dict[str, Any]:
    return {
        "step": name,
        "group": group,
        "reference_ndcg": round(reference.ndcg, 5),
        "ndcg": round(candidate.ndcg, 5),
        "noise": round(se, 5),
        "accepted": accepted,
    }


def _diversity(
    recommender: HybridRecommender,
    states: dict[str, UserState],
    holdout: Holdout,
    users: list[str],
    group: str,
    noise: Noise,
) -> tuple[list[dict[str, float]], float]:
    """The group's holdout curve over DIVERSITY_GRID (NDCG@10, coverage, intra-list diversity, category
    spread, novelty) and its default: the largest diversity within the noise of the best and at most
    DIVERSITY_NDCG_LOSS below no re-rank."""
    per_item, users_total = users_per_item((e.user_id, e.content_id) for e in holdout.fit_events)
    curve, options = [], []
    for d in DIVERSITY_GRID:
        result, per_user, recs = evaluate(recommender, states, holdout, users, request=RankRequest(diversity=d))
        figures = list_figures(
            recs.values(), recommender.position, recommender.vectors, recommender.categories, per_item, users_total
        )
        curve.append(
            {
                "diversity": d,
                "ndcg": round(result[group]["ndcg"], 5),
                "coverage": round(result["all"]["coverage"], 4),
                **{k: round(v, 4) for k, v in figures.items()},
            }
        )
        ndcg, coverage = result[group]["ndcg"], result["all"]["coverage"]
        options.append((d, Trial(None, {"diversity": d}, group, ndcg, coverage, per_user)))
    if len(users) < MIN_DIVERSITY_USERS:
        return curve, 0.0
    best = max(options, key=lambda o: o[1].ndcg)[1]
    floor = (1 - DIVERSITY_NDCG_LOSS) * options[0][1].ndcg
    return curve, max((d for d, t in within_noise(options, best, noise) if t.ndcg >= floor), default=0.0)


def _guard(best_cf, settings, cf_candidates, warm_trial) -> dict[str, Any]:
    """The recipe (with its default diversity) against each plain candidate alone on the warm holdout
    users: the best plain one wins when it scores at least as well."""
    recipe = warm_trial(best_cf, settings)
    plain_settings = {**settings, **PLAIN_SETTINGS}
    plain = {_label(c): (c, warm_trial(c, plain_settings)) for c in cf_candidates if c["algorithm"] in PLAIN_ALGORITHMS}
    out: dict[str, Any] = {
        "recipe": round(recipe.ndcg, 5),
        "plain": {name: round(t.ndcg, 5) for name, (_, t) in plain.items()},
        "published": "recipe",
        "cf": best_cf,
    }
    if not plain:
        out["reason"] = "no plain candidate on this catalog"
        return out
    name, (config, best) = max(plain.items(), key=lambda kv: kv[1][1].ndcg)
    if best is recipe:
        out["reason"] = f"the recipe is plain {name}"
    elif best.ndcg >= recipe.ndcg:
        out.update(published=name, cf=config)
        out["reason"] = (
            f"plain {name} scores {best.ndcg:.4f} on the warm holdout users, the recipe {recipe.ndcg:.4f}: "
            "the plain candidate is published"
        )
    else:
        out["reason"] = f"the recipe scores {recipe.ndcg:.4f}, the best plain candidate ({name}) {best.ndcg:.4f}"
    return out


def fit_calibration(
    recommender: HybridRecommender, states: dict[str, UserState], holdout: Holdout, users: list[str]
) -> dict[str, list[float]]:
    """``score``'s calibration per mode: sigmoid(a z + b) fitted by logistic regression to whether each of a
    holdout user's best CALIBRATION_DEPTH items (z: its standardised relevance) is among the held-out likes.
    A mode with fewer than MIN_CALIBRATION_POSITIVES such likes, or a fit whose slope is not positive, keeps
    the default."""
    rows: dict[str, tuple[list[np.ndarray], list[np.ndarray]]] = {"warm": ([], []), "cold": ([], [])}
    for u in users:
        mode, positions, z = recommender.standardised_relevance(states[u], CALIBRATION_DEPTH)
        rows[mode][0].append(z)
        rows[mode][1].append(np.isin(recommender.ids[positions], list(holdout.relevant[u])))
    out = {}
    for mode, (zs, labels) in rows.items():
        if not zs:
            continue
        z, y = np.concatenate(zs), np.concatenate(labels).astype(np.float64)
        if y.sum() < MIN_CALIBRATION_POSITIVES:
            continue
        a, b = _logistic(z, y)
        if a > 0:
            out[mode] = [round(a, 5), round(b, 5)]
    return out


def _logistic(x: np.ndarray, y: np.ndarray, iterations: int = 30) -> tuple[float, float]:
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
