"""Fit the chosen CF model on every event (and the algorithms live experiments name beside it), or, with
``retrain_cf`` off, keep the published one re-aligned to today's items."""

from __future__ import annotations

from typing import Any

import numpy as np

from dummi.artifacts.loader import load_version
from dummi.artifacts.publish import read_pointer
from dummi.ml.cf import BlendModel, FactorModel, Fitter, ItemItemModel
from dummi.ml.model_bundle import parse_bundle
from dummi.training.choice import cf_candidates
from dummi.training.context import RunContext


def fit(config: dict[str, Any], matrix: Any):
    """``matrix``: an ``InteractionMatrix``."""
    return Fitter(matrix.matrix).fit(config)


def alternative_config(name: str, n_items: int, factors: int, metrics: dict[str, Any]) -> dict[str, Any]:
    """The configuration of ``name`` that scored best on this run's holdout, else its first candidate."""
    trials = [t for t in metrics.get("trials", []) if (t.get("cf") or {}).get("algorithm") == name]
    if trials:
        return max(trials, key=lambda t: t.get("ndcg", 0.0))["cf"]
    for config in cf_candidates(n_items, factors):
        if config["algorithm"] == name:
            return config
    return {"algorithm": name, "n_components": factors} if name == "nmf" else {"algorithm": name}


class FitCF:
    name = "cf"
    engine = "local"

    def __init__(self, fitter=fit) -> None:
        self._fit = fitter  # (config, ctx.matrix) -> model; the Spark engine hands in its own

    def run(self, ctx: RunContext) -> None:
        matrix = ctx.matrix
        fit_one = self._fit
        # in process: one Fitter for the run, so that the chosen model, the newcomers' blend and the experiments'
        # share EASE's Gram and members
        if fit_one is fit:
            shared = Fitter(matrix.matrix)
            fit_one = lambda config, _: shared.fit(config)  # noqa: E731
        if ctx.params.retrain_cf and matrix.nnz > 0 and ctx.cf_config is not None:
            ctx.progress.start(f"fitting {ctx.cf_config['algorithm']}")
            ctx.cf = fit_one(ctx.cf_config, matrix)
            ctx.progress.finish(f"{matrix.shape[0]} users x {matrix.shape[1]} items, {matrix.nnz} values")
        elif not ctx.params.retrain_cf:
            ctx.cf, ctx.settings, ctx.newcomer_cf = previous_cf(ctx.store, ctx.catalog.ids)
        newcomer = ctx.settings.get("newcomer_cf")
        if ctx.params.retrain_cf and newcomer and matrix.nnz > 0 and ctx.cf is not None:
            ctx.progress.start(f"fitting {newcomer['algorithm']} for newcomers")
            ctx.newcomer_cf = fit_one(newcomer, matrix)
            ctx.progress.finish(str(newcomer))
        if ctx.cf is not None:
            for name in sorted(ctx.wanted_algorithms - {ctx.cf.algorithm}):
                config = alternative_config(name, ctx.catalog.size, ctx.params.cf_factors, ctx.metrics)
                ctx.progress.start(f"fitting {name} for a running experiment")
                ctx.alternatives[name] = fit_one(config, matrix)
                ctx.progress.finish(str(config))


def previous_cf(store, ids: list[str]):
    """retrain_cf=false: keep the published CF model, its ranking settings and the newcomers' CF model,
    re-aligned to today's items."""
    pointer = read_pointer(store)
    if pointer is None:
        return None, {}, None
    manifest, files = load_version(store, pointer["version"], pointer.get("manifest_sha256"))
    previous = parse_bundle(manifest, files)
    if previous.cf is None:
        return None, previous.settings, None
    version = pointer["version"]
    newcomer = realign(previous.newcomer_cf, previous.position, ids, version) if previous.newcomer_cf else None
    return realign(previous.cf, previous.position, ids, version), previous.settings, newcomer


def realign(cf, old_position: dict[str, int], ids: list[str], version: str):
    """A published CF model on today's item positions; items it never saw get no CF signal."""
    if isinstance(cf, BlendModel):  # each member on its own
        first, second = realign(cf.first, old_position, ids, version), realign(cf.second, old_position, ids, version)
        return BlendModel(cf.algorithm, first, second, cf.weight, {**cf.params, "reused_from": version})

    new_of_old = np.full(len(old_position), -1, np.int64)
    for j, cid in enumerate(ids):
        old = old_position.get(cid)
        if old is not None:
            new_of_old[old] = j
    params = {**cf.params, "reused_from": version}
    if isinstance(cf, FactorModel):
        k = cf.item_factors.shape[1]
        factors, projection = np.zeros((len(ids), k), np.float32), np.zeros((len(ids), k), np.float32)
        present = new_of_old >= 0
        factors[new_of_old[present]] = cf.item_factors[present]
        projection[new_of_old[present]] = cf.projection[present]
        return FactorModel(cf.algorithm, factors, projection, params)
    assert isinstance(cf, ItemItemModel)
    rows: list[list[tuple[int, float]]] = [[] for _ in ids]
    for old in range(cf.n_items):
        new = new_of_old[old]
        if new < 0:
            continue
        lo, hi = cf.indptr[old], cf.indptr[old + 1]
        for j, w in zip(new_of_old[cf.indices[lo:hi]], cf.data[lo:hi], strict=True):
            if j >= 0:
                rows[new].append((int(j), float(w)))
    indptr = np.cumsum([0] + [len(r) for r in rows]).astype(np.int64)
    indices = np.array([j for r in rows for j, _ in r], np.int32)
    data = np.array([w for r in rows for _, w in r], np.float32)
    return ItemItemModel(cf.algorithm, indptr, indices, data, params)
