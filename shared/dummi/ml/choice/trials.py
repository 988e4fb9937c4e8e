"""Trials: the recommender's lists for every held-out user of a cut at once (training only: numpy + SciPy).

A trial is one recipe (a CF configuration and ranking settings) scored on every scored user of a cut. It
runs the recommender's own relevance (``dummi.ml.relevance``: serving's formulas, called on users x items
arrays instead of one user's array) and its list rules (candidate pools, the newcomers' interest quota), so
its NDCG@10 is what serving would score; ``tests/unit/test_trials.py`` holds the two to the same lists.

Cheap because every part is computed once and reused by every trial that shares it: a user's profile per
(recency half-life, event weighting); CF scores per (CF model, profile); next-item and content scores per
profile; a warm user's candidate pool and its standardised sides per (those, next-item weight) as compact
users x candidates arrays; so a trial that changes only the blend, a penalty or a newcomer weight costs a
few array operations over the pools, and users go through the models as sparse matrix products.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dummi.ml.cf import CFModel, CooccurrenceModel, ItemItemModel, standardize_rows
from dummi.ml.choice.arrays import K, Memo, ndcg, pad, rows_where, top_rows, top_with_matches
from dummi.ml.interests import label
from dummi.ml.ranking.items import INTEREST_MATCH_COSINE
from dummi.ml.ranking.mmr import diversify, pool_size
from dummi.ml.ranking.profile import LIKE_WEIGHT
from dummi.ml.ranking.rerankers import quota_in_place
from dummi.ml.ranking.scorers import MAX_SKIPPED
from dummi.ml.ranking.settings import DEFAULT_SETTINGS
from dummi.ml.ranking.types import UserState
from dummi.ml.relevance import (
    newcomer_relevance,
    skip_closeness,
    skip_push,
    standardised,
    standardised_masked,
    warm_blend,
)

# Dense users x items arrays are made for this many cells at a time (users in chunks), ~160 MB of float64.
CHUNK_CELLS = 20_000_000


@dataclass
class TrialItems:
    """What trials read of the catalog and the models fitted on a cut's kept events (model items only)."""

    vectors: np.ndarray  # (n, d) float32, unit rows
    categories: list[str]
    popularity: np.ndarray  # (n,) in [0, 1]
    labels: Callable[[str], np.ndarray]  # label -> positions (``ModelBundle.label_positions``)
    sequence: ItemItemModel | None
    cooccurrence: CooccurrenceModel | None
    cf: Callable[[dict[str, Any]], CFModel]  # configuration -> fitted model (each fitted once)

    @property
    def size(self) -> int:
        return len(self.popularity)


@dataclass
class TrialResult:
    lists: np.ndarray  # (users, n) positions, best first (-1 where a list is shorter)
    ndcg: np.ndarray  # (users,) NDCG@10 of each list
    coverage: float  # distinct listed items / catalog size
    users: list[str] = field(default_factory=list)


class Trials:
    """The scored users of one cut (those with held-out likes), ready to be ranked by any recipe."""

    def __init__(
        self, items: TrialItems, states: dict[str, UserState], relevant: dict[str, set[str]], position
    ) -> None:
        self.items = items
        self.position = position
        self.users = sorted(u for u in relevant if u in states)
        self.relevant = [
            np.array(sorted(position[c] for c in relevant[u] if c in position), np.int64) for u in self.users
        ]
        self._rows(states)
        self.memo = Memo()

    # -- the users, once ---------------------------------------------------------------------------
    def _rows(self, states: dict[str, UserState]) -> None:
        """Each user's profile as serving builds it (``HybridRecommender._profile``), as flat arrays."""
        # SciPy: training only; the serving layer ships numpy and FAISS, not SciPy
        from scipy import sparse

        n = self.items.size
        rows, items, totals, sessions = [], [], [], []
        seen_rows, seen_items = [], []
        self.skipped: list[np.ndarray] = []
        distinct, interests, vectors = [], [], []
        for r, user in enumerate(self.users):
            state = states[user]
            total: dict[str, float] = {}
            order: list[str] = []
            latest = {}
            weight = state.event_types.weight
            for e in state.events:  # newest first
                if e.content_id not in total:
                    order.append(e.content_id)
                    total[e.content_id] = 0.0
                    latest[e.content_id] = e.at
                total[e.content_id] += weight(e.kind, e.event_type, e.duration_seconds)
            session, previous, skipped = -1, None, []
            for cid in order:
                pos = self.position.get(cid)
                if pos is None:
                    continue
                seen_rows.append(r)
                seen_items.append(pos)
                if total[cid] > 0:
                    if latest[cid] != previous:
                        session, previous = session + 1, latest[cid]
                    rows.append(r)
                    items.append(pos)
                    totals.append(total[cid])
                    sessions.append(session)
                elif total[cid] < 0:
                    skipped.append(pos)
            for cid in state.seen - set(order):  # seen without an event in the window
                if cid in self.position:
                    seen_rows.append(r)
                    seen_items.append(self.position[cid])
            self.skipped.append(np.array(skipped, np.int64))
            distinct.append(len({e.content_id for e in state.events}))
            interests.append(list(state.interests))
            vectors.append(state.interests_vector)
        self.p_rows, self.p_items = np.array(rows, np.int64), np.array(items, np.int64)
        self.p_totals, self.p_sessions = np.array(totals, np.float64), np.array(sessions, np.float64)
        u = len(self.users)
        ones = np.ones(len(seen_rows), np.float32)
        self.engaged = sparse.csr_matrix((ones, (seen_rows, seen_items)), shape=(u, n))
        self.engaged.sum_duplicates()
        self.engaged.data[:] = 1.0
        self.n_engaged = np.diff(self.engaged.indptr)
        self.n_positive = np.bincount(self.p_rows, minlength=u)
        # the items each user engaged with positively: what the newcomers' co-likes start from
        self.positive = sparse.csr_matrix((np.ones(len(rows), np.float32), (self.p_rows, self.p_items)), shape=(u, n))
        self.distinct = np.array(distinct)
        self.interests = interests
        self.interest_vectors = vectors

    def cold_rows(self, settings: dict[str, Any]) -> np.ndarray:
        """Users the recommender ranks as newcomers: fewer than ``cold_threshold`` distinct items, or none
        with a positive total."""
        return (self.distinct < int(settings["cold_threshold"])) | (self.n_positive == 0)

    def _profiles(self, half_life: float, power: float):
        """(users x items CSR of profile weights, of next-item recency weights) as serving weighs them."""

        def make():
            # SciPy: training only; the serving layer ships numpy and FAISS, not SciPy
            from scipy import sparse

            recency = 0.5 ** (self.p_sessions / half_life) if half_life > 0 else np.ones(len(self.p_sessions))
            weights = recency * (np.minimum(self.p_totals, LIKE_WEIGHT) / LIKE_WEIGHT) ** power if power else recency
            shape = (len(self.users), self.items.size)
            return sparse.csr_matrix((weights.astype(np.float32), (self.p_rows, self.p_items)), shape=shape)

        return self.memo.get(("profile", half_life, power), make)

    def _next_profile(self, half_life: float):
        def make():
            # SciPy: training only; the serving layer ships numpy and FAISS, not SciPy
            from scipy import sparse

            recency = 0.5 ** (self.p_sessions / half_life) if half_life > 0 else np.ones(len(self.p_sessions))
            shape = (len(self.users), self.items.size)
            return sparse.csr_matrix((recency.astype(np.float32), (self.p_rows, self.p_items)), shape=shape)

        return self.memo.get(("next_profile", half_life), make)

    def _chunks(self, rows: np.ndarray) -> list[np.ndarray]:
        step = max(1, CHUNK_CELLS // max(self.items.size, 1))
        return [rows[i : i + step] for i in range(0, len(rows), step)]

    def _cf(self, config: dict[str, Any], half_life: float, power: float, rows: np.ndarray) -> np.ndarray:
        key = ("cf", repr(sorted(config.items())), half_life, power, rows.tobytes())
        return self.memo.get(key, lambda: self.items.cf(config).scores_batch(self._profiles(half_life, power)[rows]))

    def _next(self, half_life: float, rows: np.ndarray) -> np.ndarray | None:
        if self.items.sequence is None:
            return None
        key = ("next", half_life, rows.tobytes())
        return self.memo.get(key, lambda: self.items.sequence.scores_batch(self._next_profile(half_life)[rows]))

    def _content(self, half_life: float, power: float, rows: np.ndarray) -> np.ndarray:
        """Cosine of every item to each user's profile vector (the weighted mean of its items' vectors)."""

        def make():
            profile = np.asarray(self._profiles(half_life, power)[rows] @ self.items.vectors, np.float32)
            norms = np.linalg.norm(profile, axis=1, keepdims=True)
            profile = np.where(norms > 1e-9, profile / np.maximum(norms, 1e-9), 0.0).astype(np.float32)
            return profile @ self.items.vectors.T

        return self.memo.get(("content", half_life, power, rows.tobytes()), make)

    # -- warm users ----------------------------------------------------------------------------------
    def _warm_pool(self, config: dict[str, Any], s: dict[str, Any], rows: np.ndarray):
        """(candidate positions, valid, z of the CF side, z of content, z of log-popularity): each warm
        user's pool (the best ``candidates`` of the CF side and of content, less what it has seen) as
        users x candidates arrays."""
        hl, power = float(s["recency_half_life"]), float(s["event_weighting"])
        seq_w, seq_hl, m = float(s["sequence_weight"]), float(s["sequence_half_life"]), int(s["candidates"])
        key = ("pool", repr(sorted(config.items())), hl, power, seq_w, seq_hl if seq_w > 0 else 0, m, rows.tobytes())

        def make():
            parts = [self._warm_pool_chunk(config, hl, power, seq_w, seq_hl, m, chunk) for chunk in self._chunks(rows)]
            width = max((p[0].shape[1] for p in parts), default=0)
            return tuple(
                np.concatenate([pad(p[k], width, fill) for p in parts]) if parts else np.empty((0, 0))
                for k, fill in ((0, -1), (1, False), (2, 0.0), (3, 0.0), (4, 0.0))
            )

        return (key, *self.memo.get(key, make))

    def _warm_pool_chunk(self, config, hl, power, seq_w, seq_hl, m, rows):
        n = self.items.size
        cf_all = self._cf(config, hl, power, rows)
        following = self._next(seq_hl, rows) if seq_w > 0 else None
        if following is not None:
            cf_all = standardize_rows(cf_all) + seq_w * standardize_rows(following)
        content = self._content(hl, power, rows)
        k_cf, k_content = min(m, n - 1), min(m, n)
        in_pool = np.zeros(cf_all.shape, bool)
        if k_cf > 0:
            np.put_along_axis(in_pool, np.argpartition(-cf_all, k_cf, axis=1)[:, :k_cf], True, axis=1)
        else:
            in_pool[:] = True
        if 0 < k_content < n:
            np.put_along_axis(in_pool, np.argpartition(-content, k_content - 1, axis=1)[:, :k_content], True, axis=1)
        else:
            in_pool[:, :k_content] = True
        in_pool[self.engaged[rows].nonzero()] = False
        width = int(in_pool.sum(axis=1).max()) if len(rows) else 0
        order = np.argsort(~in_pool, axis=1, kind="stable")[:, :width]  # each row's pool, in position order
        valid = np.take_along_axis(in_pool, order, axis=1)
        idx = np.where(valid, order, -1)
        z_cf = standardised_masked(np.take_along_axis(cf_all, order, axis=1), valid)
        z_content = standardised_masked(np.take_along_axis(content, order, axis=1).astype(np.float64), valid)
        log_pop = np.log(self.items.popularity.astype(np.float64) + 1e-3)[order]
        return idx, valid, z_cf, z_content, standardised_masked(log_pop, valid)

    def warm_relevance(self, config: dict[str, Any], s: dict[str, Any], rows: np.ndarray):
        """(pool positions, valid, relevance) of the warm users ``rows``: serving's ``_warm_scores``."""
        key, idx, valid, z_cf, z_content, z_pop = self._warm_pool(config, s, rows)
        relevance = warm_blend(z_cf, z_content, z_pop, float(s["cf_share"]), float(s["popularity_penalty"]))
        if float(s["skip_penalty"]) > 0:
            closeness = self._skip_closeness(key, idx, valid, rows, float(s["skip_similarity"]))
            relevance = skip_push(relevance, closeness, valid, float(s["skip_penalty"]))
        return idx, valid, np.where(valid, relevance, -np.inf)

    def _skip_closeness(self, pool_key, idx, valid, rows, threshold: float) -> np.ndarray:
        def make():
            out = np.zeros(idx.shape)
            for k, r in enumerate(rows):
                skipped = self.skipped[r][:MAX_SKIPPED]
                if len(skipped):
                    pool = idx[k][valid[k]]
                    out[k, : len(pool)] = skip_closeness(
                        self.items.vectors[pool], self.items.vectors[skipped], threshold
                    )
            return out

        return self.memo.get(("skip", pool_key, threshold), make)

    # -- newcomers -----------------------------------------------------------------------------------
    def _shares(self) -> np.ndarray:
        shares = self.items.popularity.astype(np.float64) + 1e-4
        return shares / shares.sum()

    def cold_features(
        self, config: dict[str, Any] | None, s: dict[str, Any], rows: np.ndarray
    ) -> dict[str, np.ndarray]:
        """The newcomer features (``dummi.ml.relevance.NEWCOMER_FEATURES``) of the users ``rows``, raw (not
        standardised), users x items; a user without what a feature needs has a row of zeros."""
        hl, power = float(s["recency_half_life"]), float(s["event_weighting"])
        config = s.get("newcomer_cf") or config  # the newcomers' own CF model, where training ships one
        key = ("cold", repr(sorted((config or {}).items())), hl, power, float(s["prior_strength"]))
        key += (float(s["sequence_half_life"]), rows.tobytes())
        return self.memo.get(key, lambda: self._cold_features(config, s, rows, hl, power))

    def _cold_features(self, config, s, rows, hl, power) -> dict[str, np.ndarray]:
        n = self.items.size
        shares = self._shares()
        has_positive = self.n_positive[rows] > 0
        out: dict[str, np.ndarray] = {"popularity": np.tile(np.log(shares), (len(rows), 1))}
        cooc = self.items.cooccurrence
        colike = np.zeros((len(rows), n))
        if cooc is not None:
            colike = cooc.lift_batch(self.positive[rows], shares, float(s["prior_strength"]))
        # the co-occurrence model's score: popularity (once per item the user engaged with positively) lifted
        # by those items' co-likes
        out["colike"] = rows_where(has_positive, self.n_positive[rows][:, None] * out["popularity"] + colike)
        if config:
            model = self.items.cf(config)
            profiles = self._profiles(hl, power)[rows]
            out["cf"] = rows_where(has_positive, model.scores_batch(profiles))
            if model.kind == "blend":
                out["cf_first"] = rows_where(has_positive, model.first.scores_batch(profiles))
                out["cf_second"] = rows_where(has_positive, model.second.scores_batch(profiles))
        following = self._next(float(s["sequence_half_life"]), rows)
        if following is not None:
            out["next"] = rows_where(has_positive, following)
        content = self._content(hl, power, rows).astype(np.float64)
        out["profile"] = rows_where(has_positive, content)
        interest = np.zeros((len(rows), n))
        for k, r in enumerate(rows):
            vector = self.interest_vectors[r]
            if vector is not None:
                interest[k] = self.items.vectors @ np.asarray(vector, np.float32)
        out["interest"] = interest
        out["_has_positive"] = has_positive
        out["_has_interest_vector"] = np.array([self.interest_vectors[r] is not None for r in rows])
        return out

    def cold_relevance(self, config, s: dict[str, Any], rows: np.ndarray) -> np.ndarray:
        """Users ``rows`` x items: serving's ``_cold_scores``."""
        f = self.cold_features(config, s, rows)
        learned = s.get("newcomer_weights")
        if learned:
            return newcomer_relevance(f, learned, f["popularity"].shape)
        base = np.where(f["_has_positive"][:, None], f["colike"], f["popularity"])
        interest = np.where(f["_has_interest_vector"][:, None], standardised(f["interest"]), 0.0)
        own = standardised(f["profile"])
        scores = base + float(s["interest_boost"]) * interest + float(s["profile_boost"]) * own
        if "next" in f and float(s["sequence_boost"]) > 0:
            scores = scores + float(s["sequence_boost"]) * standardised(f["next"])
        return scores

    def matched(self, rows: np.ndarray, s: dict[str, Any]) -> np.ndarray:
        """Users ``rows`` x items: which items match a stated interest (``HybridRecommender._matches``)."""
        out = np.zeros((len(rows), self.items.size), bool)
        for k, r in enumerate(rows):
            for interest in self.interests[r]:
                out[k, self.items.labels(label(interest))] = True
            vector = self.interest_vectors[r]
            if self.interests[r] and vector is not None:
                out[k] |= (self.items.vectors @ np.asarray(vector, np.float32)) >= INTEREST_MATCH_COSINE
        return out

    # -- lists and their scores ---------------------------------------------------------------------
    def run(self, config: dict[str, Any] | None, settings: dict[str, Any], *, n: int = K) -> TrialResult:
        """Every scored user's top ``n`` under the recipe (default request, no re-rank), and its NDCG@10."""
        s = {**DEFAULT_SETTINGS, **settings}
        cold = self.cold_rows(s) | (config is None)
        lists = np.full((len(self.users), n), -1, np.int64)
        warm_rows = np.flatnonzero(~cold)
        if len(warm_rows):
            idx, valid, relevance = self.warm_relevance(config, s, warm_rows)
            lists[warm_rows] = top_rows(relevance, idx, n)
        cold_rows = np.flatnonzero(cold)
        if len(cold_rows):
            lists[cold_rows] = self.cold_lists(config, s, cold_rows, n)
        return self.score(lists)

    def cold_lists(self, config, s: dict[str, Any], rows: np.ndarray, n: int) -> np.ndarray:
        order_by, matched, has_interests = self._cold_order(config, s, rows)
        return top_with_matches(order_by, matched, has_interests, n)

    def _cold_order(self, config, s: dict[str, Any], rows: np.ndarray, relevance: np.ndarray | None = None):
        """(what newcomers' lists are ordered by: relevance + the interest lift, seen items -inf; the
        matches; which users stated interests)."""
        relevance = self.cold_relevance(config, s, rows) if relevance is None else relevance
        has_interests = np.array([bool(self.interests[r]) for r in rows])
        matched = np.where(has_interests[:, None], self.matched(rows, s), False)
        order_by = relevance + float(s["match_boost"]) * matched
        order_by[self.engaged[rows].nonzero()] = -np.inf
        return order_by, matched, has_interests

    def run_diversified(self, config, settings: dict[str, Any], diversity: float, *, n: int = K) -> TrialResult:
        """``run`` with the diversity re-rank at ``diversity`` (``HybridRecommender._rank``: the best
        max(4n, 50) re-ranked by ``dummi.ml.ranking.mmr.diversify``; newcomers keep their quota)."""

        s = {**DEFAULT_SETTINGS, **settings}
        size = pool_size(n)
        cold = self.cold_rows(s) | (config is None)
        lists = np.full((len(self.users), n), -1, np.int64)
        vectors, categories = self.items.vectors, self.items.categories
        warm_rows = np.flatnonzero(~cold)
        if len(warm_rows):
            idx, valid, relevance = self.warm_relevance(config, s, warm_rows)
            pools = top_rows(relevance, idx, size)
            for k, r in enumerate(warm_rows):
                pool = pools[k][pools[k] >= 0]
                ranked = relevance[k][np.searchsorted(idx[k][valid[k]], pool)]
                order = diversify(
                    ranked, vectors[pool], n, diversity=diversity, categories=[categories[p] for p in pool]
                )
                lists[r, : len(order)] = pool[order]
        cold_rows = np.flatnonzero(cold)
        if len(cold_rows):
            order_by, matched, has_interests = self._cold_order(config, s, cold_rows)
            pools = top_with_matches(order_by, matched, has_interests, size)
            for k, r in enumerate(cold_rows):
                pool = pools[k][pools[k] >= 0]
                order = diversify(
                    order_by[k][pool], vectors[pool], n, diversity=diversity, categories=[categories[p] for p in pool]
                )
                top = pool[order]
                if has_interests[k]:
                    top = quota_in_place(top, pool, order_by[k], matched[k], n)
                lists[r, : len(top)] = top
        return self.score(lists)

    def calibration_rows(
        self, config, settings: dict[str, Any], depth: int
    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per mode (warm, cold): each user's best ``depth`` items' relevance standardised as ``score``
        standardises it, and whether each is among the user's held-out likes (what the calibration is
        fitted on: ``HybridRecommender.standardised_relevance``)."""
        s = {**DEFAULT_SETTINGS, **settings}
        cold = self.cold_rows(s) | (config is None)
        out: dict[str, tuple[list, list]] = {"warm": ([], []), "cold": ([], [])}
        warm_rows = np.flatnonzero(~cold)
        if len(warm_rows):
            idx, valid, relevance = self.warm_relevance(config, s, warm_rows)
            top = top_rows(relevance, idx, depth)
            for k, r in enumerate(warm_rows):
                row = relevance[k][valid[k]]
                listed = top[k][top[k] >= 0]
                values = relevance[k][np.searchsorted(idx[k][valid[k]], listed)]
                self._calibration_row(out["warm"], r, listed, values, row)
        cold_rows = np.flatnonzero(cold)
        if len(cold_rows):
            relevance = self.cold_relevance(config, s, cold_rows)
            order_by, matched, has_interests = self._cold_order(config, s, cold_rows, relevance)
            top = top_with_matches(order_by, matched, has_interests, depth)
            for k, r in enumerate(cold_rows):
                listed = top[k][top[k] >= 0]
                self._calibration_row(out["cold"], r, listed, relevance[k][listed], relevance[k])
        return {
            mode: (np.concatenate(z) if z else np.empty(0), np.concatenate(y) if y else np.empty(0, bool))
            for mode, (z, y) in out.items()
        }

    def _calibration_row(self, out, r, listed, values, every) -> None:
        order = np.argsort(-values, kind="stable")
        spread = float(every.std())
        z = (values[order] - float(every.mean())) / (spread if spread > 1e-9 else 1.0)
        out[0].append(z)
        out[1].append(np.isin(listed[order], self.relevant[r]))

    def score(self, lists: np.ndarray) -> TrialResult:
        per_user = np.array([ndcg(lists[k], self.relevant[k]) for k in range(len(self.users))])
        listed = lists[:, :K].ravel()
        coverage = len(np.unique(listed[listed >= 0])) / max(self.items.size, 1)
        return TrialResult(lists, per_user, coverage, self.users)
