"""Choosing the model on a time-based holdout of the training data (never the evaluation's test split).

The holdout mirrors how the product is judged: for most users their last 20% of interactions (by time)
are held out; a share of users with enough history is turned into simulated newcomers that keep only
their first 3 interactions. Candidate CF algorithms and ranking settings are scored with the real
``HybridRecommender`` on those users, and the best by NDCG@10 wins (warm users for CF and blending, the
simulated newcomers for the cold-start settings).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from dummi.db.records import Event
from dummi.ml.metrics import list_figures, summarize, users_per_item
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
# Catalog coverage below this counts against a choice (``objective``): the share of the catalog that
# appears in some top-10 list of the holdout's users.
COVERAGE_TARGET = 0.15
# The diversity re-rank's default: the largest of DIVERSITY_GRID whose holdout NDCG@10 (all users) stays
# within DIVERSITY_NDCG_LOSS of no re-rank: diversity is bought with at most this much accuracy.
DIVERSITY_GRID = (0.0, 0.1, 0.2, 0.3, 0.5)
DIVERSITY_NDCG_LOSS = 0.03
# Below this many holdout users a 3% difference in NDCG is within the noise: the default stays 0.
MIN_DIVERSITY_USERS = 300


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
) -> dict[str, dict[str, float]]:
    request = request or RankRequest()
    recs = {u: recommender.ranked_ids(states[u], request) for u in users}
    result = summarize(recs, holdout.relevant, holdout.cold_users, recommender.size)
    half = {u: recs[u] for u in users[: len(users) // 2]}
    result["all"]["coverage_half"] = summarize(half, {}, (), recommender.size)["all"]["coverage"]
    return result


def diversity_curve(
    recommender: HybridRecommender, states: dict[str, UserState], holdout: Holdout, users: list[str]
) -> list[dict[str, float]]:
    """NDCG@10, coverage, intra-list diversity, category spread and novelty of the holdout users' lists at
    each diversity of DIVERSITY_GRID."""
    per_item, users_total = users_per_item((e.user_id, e.content_id) for e in holdout.fit_events)
    curve = []
    for d in DIVERSITY_GRID:
        recs = {u: recommender.ranked_ids(states[u], RankRequest(diversity=d)) for u in users}
        result = summarize(recs, holdout.relevant, holdout.cold_users, recommender.size)
        figures = list_figures(
            recs.values(), recommender.position, recommender.vectors, recommender.categories, per_item, users_total
        )
        curve.append(
            {
                "diversity": d,
                "ndcg": round(result["all"]["ndcg"], 5),
                "coverage": round(result["all"]["coverage"], 4),
                **{k: round(v, 4) for k, v in figures.items()},
            }
        )
    return curve


def pick_diversity(curve: list[dict[str, float]]) -> float:
    """The largest diversity whose NDCG@10 is at least (1 - DIVERSITY_NDCG_LOSS) of no re-rank's."""
    base = next(p["ndcg"] for p in curve if p["diversity"] == 0.0)
    return max(p["diversity"] for p in curve if p["ndcg"] >= (1 - DIVERSITY_NDCG_LOSS) * base)


def projected_coverage(coverage: float, coverage_half: float, scale: float) -> float:
    """Coverage of ``scale`` times as many users' lists as those that gave ``coverage``, from how it grew
    from half of them (``coverage_half``): coverage ~ users^g, with g (0..1) read off that doubling. A
    sample of the users covers less of the catalog than all of them would."""
    if scale <= 1 or coverage <= 0 or coverage_half <= 0:
        return coverage
    growth = min(1.0, max(0.0, float(np.log2(coverage / coverage_half))))
    return min(1.0, coverage * scale**growth)


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


def objective(result: dict[str, dict[str, float]], group: str, scale: float = 1.0) -> float:
    """What the choice maximises: NDCG@10; for warm users scaled down when catalog coverage falls below
    ``COVERAGE_TARGET`` (a list of the same few hundred popular items for everyone is not personal, and
    on a long-tail catalog it is what the best NDCG alone tends to pick). When the trial scored a sample of
    the warm users (``scale``: how many times more there are), coverage is projected to all of them. The
    newcomers' lists are few and alike by design (popular items within their interests): their coverage
    says nothing."""
    if group != "warm":
        return result[group]["ndcg"]
    every = result["all"]
    coverage = projected_coverage(every.get("coverage", 0.0), every.get("coverage_half", 0.0), scale)
    return result[group]["ndcg"] * min(1.0, coverage / COVERAGE_TARGET)


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
    """Pick the CF configuration, then the warm ranking settings, then the cold-start ones, each by
    ``objective`` on the holdout. ``baseline`` (the serving model's configuration and settings) is scored
    on the same users, for the publish gate."""
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    scored = [u for u in holdout.relevant if u in states]
    warm = [u for u in scored if u not in holdout.cold_users]
    cold = [u for u in scored if u in holdout.cold_users]
    most = max(MIN_EVAL_USERS, min(MAX_EVAL_USERS, EVAL_WORK // max(n_items, 1)))
    scale = max(1.0, len(warm) / most)
    if len(warm) > most:
        warm = list(rng.choice(warm, most, replace=False))
    if len(cold) > most:
        cold = list(rng.choice(cold, most, replace=False))
    trials: list[dict[str, Any]] = []
    seen: dict[str, float] = {}

    def score(cf_config, settings, users, group) -> float:
        key = repr((cf_config and sorted(cf_config.items()), sorted(settings.items()), group))
        if key not in seen:  # a coordinate's grid holds the value it starts from: scored once
            result = evaluate(build(cf_config, settings), states, holdout, users)
            seen[key] = objective(result, group, scale)
            trials.append(
                {
                    "cf": cf_config,
                    "settings": dict(settings),
                    "group": group,
                    "ndcg": round(result[group]["ndcg"], 5),
                    "coverage": round(result["all"]["coverage"], 4),
                }
            )
        return seen[key]

    settings = dict(DEFAULT_SETTINGS)
    best_cf, best = None, -1.0
    for config in cf_candidates:
        value = score(config, settings, warm, "warm")
        if value > best:
            best_cf, best = config, value

    def tune(key: str, grid: list[float], users: list[str], group: str) -> None:
        """One coordinate of the search: keep the value that scores best, the others fixed."""
        best_value, best_setting = -1.0, settings[key]
        for value in grid:
            v = score(best_cf, {**settings, key: value}, users, group)
            if v > best_value:
                best_value, best_setting = v, value
        settings[key] = best_setting

    tune("recency_half_life", [5.0, 10.0, 20.0, 0.0], warm, "warm")
    tune("sequence_weight", [0.0, 0.25, 0.5, 1.0], warm, "warm")
    if settings["sequence_weight"] > 0:
        tune("sequence_half_life", [1.0, 2.5, 5.0], warm, "warm")
    tune("cf_share", [0.5, 0.65, 0.8, 0.9, 1.0], warm, "warm")
    tune("popularity_penalty", [0.0, 0.25, 0.5, 1.0], warm, "warm")
    if cold:
        tune("prior_strength", [10.0, 50.0, 200.0, 1000.0], cold, "cold")
        tune("sequence_boost", [0.0, 0.1, 0.25, 0.5], cold, "cold")
        tune("interest_boost", [0.0, 0.1, 0.25, 0.5], cold, "cold")
        tune("profile_boost", [0.0, 0.1, 0.25, 0.5], cold, "cold")
        tune("match_boost", [0.0, 1.0, 3.0, 1000.0], cold, "cold")
    curve = diversity_curve(build(best_cf, settings), states, holdout, warm + cold)
    settings["diversity"] = pick_diversity(curve) if len(warm) + len(cold) >= MIN_DIVERSITY_USERS else 0.0
    final = evaluate(build(best_cf, settings), states, holdout, warm + cold)
    rounded = lambda result: {g: {k: round(v, 5) for k, v in m.items()} for g, m in result.items()}  # noqa: E731
    metrics = {
        "holdout": rounded(final),
        "holdout_users": {"warm": len(warm), "cold": len(cold)},
        "diversity_curve": curve,
        "trials": trials,
        "tuning_seconds": round(time.perf_counter() - started, 2),
    }
    if baseline is not None:
        config, serving_settings = baseline
        # at this run's diversity: the gate compares models, not how much accuracy each spends on variety
        serving_settings = {**DEFAULT_SETTINGS, **serving_settings, "diversity": settings["diversity"]}
        result = evaluate(build(config, serving_settings), states, holdout, warm + cold)
        metrics["serving_holdout"] = rounded(result)
    return Choice(best_cf, settings, metrics)
