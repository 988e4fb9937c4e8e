"""The reference models of ../shared/EVALUATION.md, run side by side with Dummi on the same split and
scored by the same metric code. Dev-only: `pip install implicit lightfm-next` for those two (they are
skipped, with a note, when missing).

    .venv/bin/python tests/benchmarks/bench_reference.py [split folder] [--json OUT]

``--json OUT`` also writes every model's figures and Dummi's choice (CF, settings, holdout noise, guard).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import ML100K
from scipy import sparse

WEIGHTS = {"like": 5.0, "click": 2.0, "view_time": 1.0, "skip": -1.0}
K = 10


def load_split(folder: Path):
    read = lambda name: [json.loads(line) for line in (folder / name).open() if line.strip()]  # noqa: E731
    content, users, train, test = read("content.jsonl"), read("users.jsonl"), read("train.jsonl"), read("test.jsonl")
    items = [c["content_id"] for c in content]
    uids = [u["user_id"] for u in users]
    ipos, upos = {c: i for i, c in enumerate(items)}, {u: i for i, u in enumerate(uids)}
    totals: dict[tuple[int, int], float] = {}
    for e in train:
        key = (upos[e["user_id"]], ipos[e["content_id"]])
        totals[key] = totals.get(key, 0.0) + WEIGHTS[e["interaction_type"]]
    rows, cols, vals = zip(*[(u, i, max(v, 0.0)) for (u, i), v in totals.items()], strict=True)
    weighted = sparse.csr_matrix((vals, (rows, cols)), shape=(len(uids), len(items)), dtype=np.float32)
    weighted.eliminate_zeros()
    seen = [set() for _ in uids]
    for u, i in totals:
        seen[u].add(i)
    relevant: dict[str, set[str]] = {}
    for e in test:
        if e["interaction_type"] == "like":
            relevant.setdefault(e["user_id"], set()).add(e["content_id"])
    cold = set((folder / "cold_users.txt").read_text().split())
    genres = sorted({t for c in content for t in c.get("tags", [])})
    gpos = {g: j for j, g in enumerate(genres)}
    features = sparse.lil_matrix((len(items), len(items) + len(genres)), dtype=np.float32)
    for i, c in enumerate(content):
        features[i, i] = 1.0
        for t in c.get("tags", []):
            features[i, len(items) + gpos[t]] = 1.0
    return items, uids, weighted, seen, relevant, cold, features.tocsr()


def top_k(scores: np.ndarray, seen: list[set[int]], items: list[str]) -> dict[int, list[str]]:
    out = {}
    for u in range(scores.shape[0]):
        s = np.asarray(scores[u], dtype=np.float64).copy()
        s[list(seen[u])] = -np.inf
        best = np.argpartition(-s, K)[:K]
        out[u] = [items[i] for i in best[np.argsort(-s[best])]]
    return out


def slim(binary, alpha: float = 0.1, l1_ratio: float = 0.01) -> np.ndarray:
    """SLIM-ElasticNet (Ning & Karypis, 2011) with EVALUATION.md's settings: each item's column regressed on
    every other item's (non-negative weights, no intercept); the item's own column is zeroed in place for
    its fit instead of copying the matrix."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import ElasticNet

    warnings.filterwarnings("ignore", category=ConvergenceWarning)  # 100 sweeps per item, as SLIM's own code
    x = sparse.csc_matrix(binary, dtype=np.float64)
    targets = x.toarray()
    weights = np.zeros((x.shape[1], x.shape[1]), np.float32)
    model = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, positive=True, fit_intercept=False, max_iter=100, tol=1e-4)
    for j in range(x.shape[1]):
        start, end = x.indptr[j], x.indptr[j + 1]
        kept = x.data[start:end].copy()
        x.data[start:end] = 0.0
        model.fit(x, targets[:, j])
        x.data[start:end] = kept
        weights[:, j] = model.coef_
    return weights


def main() -> None:
    from dummi.ml.metrics import summarize

    args = sys.argv[1:]
    out = Path(args.pop(args.index("--json") + 1)) if "--json" in args else None
    args = [a for a in args if a != "--json"]
    folder = Path(args[0]) if args else ML100K
    items, uids, weighted, seen, relevant, cold, features = load_split(folder)
    binary = weighted.copy()
    binary.data[:] = 1.0
    results: dict[str, dict] = {}

    def record(name, scores_or_lists, started):
        lists = scores_or_lists if isinstance(scores_or_lists, dict) else top_k(scores_or_lists, seen, items)
        recs = {uids[u]: lists[u] for u in range(len(uids))}
        results[name] = summarize(recs, relevant, cold, len(items), K)
        results[name]["seconds"] = time.perf_counter() - started
        m = results[name]
        print(
            f"  {name:<34} all {m['all']['ndcg']:.4f} warm {m['warm']['ndcg']:.4f} cold {m['cold']['ndcg']:.4f} "
            f"coverage {m['all']['coverage']:.3f} ({m['seconds']:.1f}s)",
            flush=True,
        )

    print(f"reference models on {folder}:")
    t = time.perf_counter()
    record("popularity (sum of positive weights)", np.tile(np.asarray(weighted.sum(0)).ravel(), (len(uids), 1)), t)
    t = time.perf_counter()
    norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(0)).ravel()) + 1e-9
    sim = (weighted.T @ weighted).toarray() / np.outer(norms, norms)
    np.fill_diagonal(sim, 0)
    record("item-kNN (cosine, weighted)", weighted @ sim, t)
    t = time.perf_counter()
    gram = (binary.T @ binary).toarray().astype(np.float64)
    gram[np.diag_indices_from(gram)] += 250.0
    p = np.linalg.inv(gram)
    b = -p / np.diag(p)
    np.fill_diagonal(b, 0)
    ease_scores = binary @ b
    record("EASE (lambda 250)", ease_scores, t)
    popular = np.asarray(weighted.sum(0)).ravel()
    segment = np.array([popular if uids[u] in cold else ease_scores[u] for u in range(len(uids))])
    record("segment-aware: EASE warm, popularity cold", segment, t)
    t = time.perf_counter()
    slim_scores = binary @ slim(binary)
    record("SLIM-ElasticNet (alpha 0.1, l1 0.01)", slim_scores, t)
    segment = np.array([popular if uids[u] in cold else slim_scores[u] for u in range(len(uids))])
    record("segment-aware: SLIM warm, popularity cold", segment, t)
    t = time.perf_counter()
    from sklearn.decomposition import NMF

    nmf = NMF(n_components=50, init="nndsvda", max_iter=200, random_state=0)
    w = nmf.fit_transform(weighted)
    record("sklearn NMF, 50 components", w @ nmf.components_, t)
    try:
        import implicit

        for name, model in (
            ("implicit ALS (64 factors)", implicit.als.AlternatingLeastSquares(factors=64, random_state=0)),
            ("implicit BPR (64 factors)", implicit.bpr.BayesianPersonalizedRanking(factors=64, random_state=0)),
        ):
            t = time.perf_counter()
            model.fit(weighted, show_progress=False)
            ids, _ = model.recommend(np.arange(len(uids)), weighted, N=K, filter_already_liked_items=True)
            lists = {u: [items[i] for i in ids[u] if i >= 0 and i not in seen[u]][:K] for u in range(len(uids))}
            record(name, lists, t)
    except ImportError:
        print("  (implicit not installed: pip install implicit)")
    try:
        from lightfm import LightFM

        for name, feats in (("LightFM WARP (64)", None), ("LightFM WARP + genre features", features)):
            t = time.perf_counter()
            model = LightFM(no_components=64, loss="warp", random_state=0)
            model.fit(binary.tocoo(), item_features=feats, epochs=30, num_threads=2)
            scores = np.vstack(
                [model.predict(u, np.arange(len(items)), item_features=feats, num_threads=2) for u in range(len(uids))]
            )
            record(name, scores, t)
    except ImportError:
        print("  (lightfm not installed: pip install lightfm-next)")

    from dummi.services.evaluation_service import evaluate_directory

    t = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        dummi = evaluate_directory(folder, Path(tmp) / "recs.jsonl")
    results["Dummi (dummi evaluate)"] = {**dummi.metrics, "seconds": time.perf_counter() - t}
    m = dummi.metrics
    print(
        f"  {'Dummi (dummi evaluate)':<34} all {m['all']['ndcg']:.4f} warm {m['warm']['ndcg']:.4f} "
        f"cold {m['cold']['ndcg']:.4f} coverage {m['all']['coverage']:.3f}"
    )
    references = {k: v for k, v in results.items() if not k.startswith("Dummi")}
    print("Dummi against the best reference in each column (NDCG@10):")
    for group in ("all", "warm", "cold"):
        best_name = max(references, key=lambda k: references[k][group]["ndcg"])
        best = references[best_name][group]["ndcg"]
        ours = m[group]["ndcg"]
        print(f"  {group:<5} {ours:.4f} vs {best:.4f} ({best_name}): {100 * (ours / best - 1):+.1f}%")
    if out is not None:
        out.write_text(json.dumps({"split": str(folder), "models": results, "dummi_training": dummi.training}))


if __name__ == "__main__":
    main()
