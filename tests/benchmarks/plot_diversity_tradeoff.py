"""The diversity re-rank's trade-off on a split: `dummi evaluate`'s pipeline (import, the real training run,
the real recommender for every user) once, then every user's top 10 at diversity 0, 0.1, 0.2, 0.3 and 0.5,
scored against test.jsonl: NDCG@10, intra-list diversity, category spread, coverage and novelty. Beside it,
the curve the training run drew on its own holdout for warm users (training data only), from which it
picked their default: the largest diversity within the holdout's noise of the best and at most 1% below no
re-rank, 0 with fewer than 300 holdout users (``dummi.ml.choice``). Draws docs/diversity_tradeoff.png.

    .venv/bin/pip install -e '.[bench]' && .venv/bin/python tests/benchmarks/plot_diversity_tradeoff.py [split]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from _common import ML100K, ROOT, save_figure

OUT = ROOT / "docs" / "diversity_tradeoff.png"
GRID = (0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0)


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dummi.ml.recommender import RankRequest
    from dummi.services.evaluation_service import K, evaluate_directory

    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else ML100K
    with tempfile.TemporaryDirectory() as tmp:
        result = evaluate_directory(
            folder,
            Path(tmp) / "recs.jsonl",
            variants={f"{d:g}": RankRequest(n=K, diversity=d, explore_slots=0) for d in GRID},
            log=lambda line: print(line, flush=True),
        )
    chosen = result.training.get("settings", {}).get("diversity", 0.0)
    holdout = result.training.get("diversity_curve", {}).get("warm", [])
    base = result.variants["0"]
    print(f"test split ({folder.name}); the training run chose diversity {chosen:g} on its holdout")
    heads = ("diversity", "NDCG@10", "vs 0", "ILD", "vs 0", "spread", "coverage", "vs 0", "novelty")
    print(" ".join(f"{h:>{w}}" for h, w in zip(heads, (9, 8, 7, 6, 7, 6, 8, 7, 7), strict=True)))
    rows = []
    for d in GRID:
        m = result.variants[f"{d:g}"]
        lists = m["lists"]
        row = (
            d,
            m["all"]["ndcg"],
            lists["intra_list_diversity"],
            lists["category_spread"],
            m["all"]["coverage"],
            lists["novelty"],
        )
        rows.append(row)
        print(
            f"{d:>9g} {row[1]:>8.4f} {row[1] / base['all']['ndcg'] - 1:>+7.1%} {row[2]:>6.3f} "
            f"{row[2] / base['lists']['intra_list_diversity'] - 1:>+7.1%} {row[3]:>6.3f} {row[4]:>8.3f} "
            f"{row[4] / base['all']['coverage'] - 1:>+7.1%} {row[5]:>7.2f}"
        )
    for p in holdout:
        print(
            f"holdout: diversity {p['diversity']:g}: NDCG@10 {p['ndcg']:.4f}, coverage {p['coverage']:.3f}, "
            f"ILD {p['intra_list_diversity']:.3f}, spread {p['category_spread']:.3f}, novelty {p['novelty']:.2f}"
        )

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    ax = axes[0]
    ax.plot([r[2] for r in rows], [r[1] for r in rows], "o-", color="tab:blue", label="test split")
    for d, ndcg, ild, *_ in rows:
        mark = " (default)" if d == chosen else ""
        ax.annotate(f"{d:g}{mark}", (ild, ndcg), textcoords="offset points", xytext=(5, 5))
    ax.axhline(base["all"]["ndcg"] * 0.99, color="grey", linestyle="--", linewidth=1)
    ax.text(rows[0][2], base["all"]["ndcg"] * 0.99, " NDCG -1%", color="grey", va="bottom")
    ax.set_xlabel("intra-list diversity (1 - mean pairwise cosine)")
    ax.set_ylabel("NDCG@10, all users")
    ax.set_title("accuracy against variety (test split)")
    ax.legend(loc="lower left")
    ax = axes[1]
    ax.plot(GRID, [r[4] / rows[0][4] - 1 for r in rows], "o-", label="coverage (test)")
    ax.plot(GRID, [r[2] / rows[0][2] - 1 for r in rows], "s-", label="intra-list diversity (test)")
    ax.plot(GRID, [r[1] / rows[0][1] - 1 for r in rows], "^-", label="NDCG@10 (test)")
    if holdout:
        h0 = holdout[0]["ndcg"]
        ax.plot(
            [p["diversity"] for p in holdout],
            [p["ndcg"] / h0 - 1 for p in holdout],
            "^:",
            color="grey",
            label="NDCG@10 (training holdout, warm users)",
        )
    ax.axvline(chosen, color="grey", linewidth=1)
    ax.axhline(0, color="black", linewidth=0.5)
    ax.set_xlabel("diversity (vertical line: the default training chose)")
    ax.set_ylabel("change against diversity 0")
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:+.0%}"))
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(f"{folder.name}")
    save_figure(fig, OUT)


if __name__ == "__main__":
    main()
