"""Newcomers against implicit BPR and popularity, on the simulated newcomers of the *training* data only.

The choice (``dummi.training.choice.choose_recipe``, what a training run does) cuts the split's
``train.jsonl`` into two folds of simulated newcomers (every user with 10+ events keeps its first 3) and
scores its newcomer ranker on each fold with weights learned on the *other* fold. This puts implicit's BPR
(64 factors, its defaults, as ../shared/EVALUATION.md runs it) and popularity on the same users: fitted on
the same fold's kept events, scored on the same later likes. Needs ``pip install implicit``.

    .venv/bin/python tests/benchmarks/newcomers_vs_bpr.py [split folder ...]   # default: the ml-100k split
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

import numpy as np
from _common import ML100K

WEIGHTS = {"like": 5.0, "click": 2.0, "view_time": 1.0, "skip": -1.0}


def load(folder: Path):
    from dummi.domain.events import Event
    from dummi.ml.embeddings import get_embedder
    from dummi.ml.text import content_text

    content = [json.loads(line) for line in (folder / "content.jsonl").open() if line.strip()]
    train = [json.loads(line) for line in (folder / "train.jsonl").open() if line.strip()]
    events = [
        Event(
            r["user_id"],
            r["content_id"],
            "interaction",
            r["interaction_type"],
            r.get("duration_seconds"),
            datetime.fromisoformat(r["timestamp"]),
        )
        for r in train
    ]
    texts = [content_text(c["title"], c["category"], c.get("tags", []), c.get("description", "")) for c in content]
    vectors = get_embedder().encode(texts)
    return content, events, vectors


def bpr_and_popularity(fold, ids: list[str]) -> tuple[float, float]:
    """Mean NDCG@10 of implicit BPR and of popularity (sum of positive weights) on the fold's newcomers."""
    import implicit
    from scipy import sparse

    from dummi.ml.metrics import user_metrics

    users = sorted({e.user_id for e in fold.fit_events})
    row, column = {u: i for i, u in enumerate(users)}, {c: j for j, c in enumerate(ids)}
    totals: dict[tuple[int, int], float] = {}
    for e in fold.fit_events:
        key = (row[e.user_id], column[e.content_id])
        totals[key] = totals.get(key, 0.0) + WEIGHTS[e.event_type]
    seen: dict[int, set[int]] = {}
    for u, i in totals:
        seen.setdefault(u, set()).add(i)
    r, c, v = zip(*[(u, i, max(w, 0.0)) for (u, i), w in totals.items()], strict=True)
    matrix = sparse.csr_matrix((v, (r, c)), shape=(len(users), len(ids)), dtype=np.float32)
    matrix.eliminate_zeros()
    model = implicit.bpr.BayesianPersonalizedRanking(factors=64, random_state=0)
    model.fit(matrix, show_progress=False)
    popular = np.asarray(matrix.sum(axis=0)).ravel()
    scored = list(fold.relevant)
    bpr, pop = [], []
    for user in scored:
        u = row[user]
        for scores, out in ((model.item_factors @ model.user_factors[u], bpr), (popular.astype(np.float64), pop)):
            s = np.asarray(scores, np.float64).copy()
            s[list(seen.get(u, ()))] = -np.inf
            top = np.argsort(-s, kind="stable")[:10]
            out.append(user_metrics([ids[i] for i in top], fold.relevant[user])["ndcg"])
    return float(np.mean(bpr)), float(np.mean(pop))


def main() -> None:
    from dummi.ml.choice.holdout import newcomer_folds
    from dummi.ml.embeddings import get_embedder
    from dummi.ml.vector_index import build_index
    from dummi.training.choice import choose_recipe

    folders = [Path(a) for a in sys.argv[1:]] or [ML100K]
    for folder in folders:
        content, events, vectors = load(folder)
        ids = [c["content_id"] for c in content]
        catalog = (ids, [c["title"] for c in content], [c["category"] for c in content])
        catalog += ([c.get("tags", []) for c in content], build_index(ids, vectors), vectors)
        choice = choose_recipe(events, catalog, {}, get_embedder(), factors=50)
        newcomers = choice.metrics["newcomers"]
        chosen = next(t for t in newcomers["tried"] if t["cf"] == newcomers.get("cf", t["cf"]))
        folds = newcomer_folds(events)
        print(
            f"{folder.name}: simulated newcomers of train.jsonl, {newcomers['folds']} per fold; Dummi published "
            f"{newcomers['published']} ({newcomers.get('cf', 'the recipe CF')})"
        )
        print(
            f"  {'fold':<5} {'users':>6} {'Dummi (learned, out of fold)':>29} {'co-likes':>9} {'BPR':>7} "
            f"{'popularity':>11}  Dummi / best of BPR, popularity"
        )
        ratios = []
        for k, (fold, figures) in enumerate(zip(folds, chosen["out_of_fold"], strict=True)):
            bpr, pop = bpr_and_popularity(fold, ids)
            ours = figures["learned"] if newcomers["published"] == "learned" else figures[newcomers["published"]]
            ratios.append(ours / max(bpr, pop))
            print(
                f"  {k:<5} {len(fold.relevant):>6} {ours:>29.4f} {figures['co-likes']:>9.4f} {bpr:>7.4f} "
                f"{pop:>11.4f}  {ratios[-1]:.3f}x"
            )


if __name__ == "__main__":
    main()
