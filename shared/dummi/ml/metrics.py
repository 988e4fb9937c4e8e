"""Top-K metrics as docs/evaluation.md defines them (k = 10): binary relevance, NDCG with the ideal
DCG over min(|relevant|, k), recall, precision, MAP (AP / min(|relevant|, k)), hit rate, and catalog
coverage. Used by `dummi evaluate` and by training's holdout selection alike."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np


def user_metrics(recommended: Sequence[str], relevant: set[str], k: int = 10) -> dict[str, float]:
    top = list(recommended[:k])
    hits = [1.0 if item in relevant else 0.0 for item in top]
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = float(np.dot(hits, discounts[: len(hits)]))
    ideal = float(discounts[: min(len(relevant), k)].sum())
    precisions = np.cumsum(hits) / np.arange(1, len(hits) + 1) if hits else np.array([])
    ap = float((precisions * np.array(hits)).sum() / min(len(relevant), k)) if hits else 0.0
    n_hits = sum(hits)
    return {
        "ndcg": dcg / ideal if ideal else 0.0,
        "recall": n_hits / len(relevant),
        "precision": n_hits / k,
        "map": ap,
        "hit_rate": 1.0 if n_hits else 0.0,
    }


def summarize(
    recommendations: Mapping[str, Sequence[str]],
    relevant: Mapping[str, set[str]],
    cold_users: Iterable[str],
    catalog_size: int,
    k: int = 10,
) -> dict[str, dict[str, float]]:
    """Metrics for all / warm / cold users (users without relevant items are not scored), and coverage."""
    cold = set(cold_users)
    groups: dict[str, list[dict[str, float]]] = {"all": [], "warm": [], "cold": []}
    covered: set[str] = set()
    for user, items in recommendations.items():
        covered.update(items[:k])
        rel = relevant.get(user)
        if not rel:
            continue
        m = user_metrics(items, rel, k)
        groups["all"].append(m)
        groups["cold" if user in cold else "warm"].append(m)
    out: dict[str, dict[str, float]] = {}
    for name, rows in groups.items():
        out[name] = {
            key: float(np.mean([r[key] for r in rows])) if rows else 0.0
            for key in ("ndcg", "recall", "precision", "map", "hit_rate")
        }
        out[name]["users"] = float(len(rows))
    out["all"]["coverage"] = len(covered) / catalog_size if catalog_size else 0.0
    return out


# -- list metrics: what a shown list is like, beyond accuracy (offline evaluation and online metrics) ------
def intra_list_diversity(vectors: np.ndarray) -> float | None:
    """1 - the mean pairwise cosine of a list's item embeddings (rows L2-normalized); None below two items."""
    n = len(vectors)
    if n < 2:
        return None
    gram = np.asarray(vectors, np.float64) @ np.asarray(vectors, np.float64).T
    mean_pairwise = (gram.sum() - np.trace(gram)) / (n * (n - 1))
    return float(1.0 - mean_pairwise)


def category_spread(categories: Sequence[str]) -> float | None:
    """Distinct categories / items of a list: 1 when every item is of another category; None when empty."""
    return len(set(categories)) / len(categories) if categories else None


def self_information(popularity: float, users: int) -> float:
    """Novelty of one shown item: -log2 of its popularity (the share of users who interacted with it), the
    share floored at 1 / (users + 1) so that an item nobody touched is finite (and the most novel)."""
    floor = 1.0 / (users + 1) if users > 0 else 1.0
    return float(-np.log2(max(popularity, floor)))


def list_figures(
    lists: Iterable[Sequence[str]],
    position: Mapping[str, int],
    vectors: Any,
    categories: Sequence[str],
    users_per_item: Mapping[str, int],
    users_total: int,
) -> dict[str, float]:
    """Mean intra-list diversity, category spread and novelty of ``lists`` (offline; the online job adds
    the same per-list figures up per day). ``position``, ``vectors`` (rows by position) and ``categories``
    are the catalog's, e.g. a recommender's own."""
    ild, spread, novelty = [], [], []
    for items in lists:
        known = [position[c] for c in items if c in position]
        d = intra_list_diversity(vectors[known]) if len(known) >= 2 else None
        if d is not None:
            ild.append(d)
        s = category_spread([categories[p] for p in known])
        if s is not None:
            spread.append(s)
        novelty.extend(self_information(users_per_item.get(c, 0) / max(users_total, 1), users_total) for c in items)
    mean = lambda xs: float(np.mean(xs)) if xs else 0.0  # noqa: E731
    return {"intra_list_diversity": mean(ild), "category_spread": mean(spread), "novelty": mean(novelty)}


def users_per_item(pairs: Iterable[tuple[str, str]]) -> tuple[dict[str, int], int]:
    """(item -> distinct users, distinct users) from (user, item) pairs."""
    seen: dict[str, set[str]] = {}
    users: set[str] = set()
    for user, item in pairs:
        seen.setdefault(item, set()).add(user)
        users.add(user)
    return {item: len(u) for item, u in seen.items()}, len(users)
