"""How training's choice buys coverage only where it costs nothing, drawn from a real training run's own
trials: the ml-100k split's training data is imported into a fresh embedded Postgres, trained with the
real pipeline, and the search cut's NDCG@10 and coverage of every ``popularity_penalty`` tried on top of
the searched recipe are plotted, each with the one-sided 95% upper bound of its loss on the search cut, the
line the choice accepts (a loss bound within 1% of the recipe's NDCG@10, on the search cut and on the
confirmation cut alike) and the value it took: the most coverage among those that cost nothing. The test
split is not read.

    .venv/bin/pip install -e '.[bench]' && .venv/bin/python tests/benchmarks/plot_coverage_tradeoff.py [split]
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from _common import ML100K, ROOT, save_figure

OUT = ROOT / "docs" / "coverage_tradeoff.png"


def trials(folder: Path) -> tuple[list[dict], dict]:
    from dummi.artifacts.store import FileStore
    from dummi.db.connection import Database
    from dummi.db.embedded import start_embedded_postgres, stop_embedded_postgres
    from dummi.db.migrations import migrate
    from dummi.services.import_service import import_directory
    from dummi.training.params import TrainingParams
    from dummi.training.runs import run_now

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        db = Database(start_embedded_postgres(data), pool_size=2, statement_timeout_ms=600_000)
        try:
            migrate(db)
            import_directory(db, folder)
            run = run_now(db, FileStore(data / "artifacts"), "bench", TrainingParams())
            metrics = db.read(
                lambda c: c.run("SELECT metrics FROM model_versions WHERE version = :v", v=run.model_version)
            )[0][0]
            manifest = json.loads((data / "artifacts" / "models" / run.model_version / "manifest.json").read_text())
        finally:
            db.close()
            stop_embedded_postgres(data)
    return metrics, manifest["model"]["settings"]


def chosen_searched(tried: list[dict], chosen: dict) -> float:
    """The searched recipe's penalty: the published one unless a wider one was taken (then the one not tried)."""
    if not any(d["accepted"] for d in tried):
        return chosen["popularity_penalty"]
    values = {float(d["step"].split("=")[1]) for d in tried}
    return next(v for v in (0.0, 0.25, 0.5, 1.0) if v not in values)


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else ML100K
    metrics, chosen = trials(folder)
    tried = [d for d in metrics["decisions"] if d.get("rule") == "coverage"]
    reference = tried[0]["search"]["reference_ndcg"]
    from dummi.ml.choice.noise import SIMPLIFY_MARGIN

    floor = reference * (1 - SIMPLIFY_MARGIN)
    print(f"searched recipe: search cut NDCG@10 {reference:.4f}; a penalty is free when its loss bound <= {floor:.4f}")
    points = []
    for d in tried:
        penalty = float(d["step"].split("=")[1])
        ndcg, bound = d["search"]["ndcg"], reference - d["search"]["upper_loss"]
        points.append((penalty, ndcg, d["coverage"], bound, d["costs_nothing"], d["accepted"]))
        verdict = "taken" if d["accepted"] else ("free" if d["costs_nothing"] else "costs accuracy")
        print(
            f"popularity_penalty {penalty:4.2f}: NDCG@10 {ndcg:.4f} (bound {bound:.4f}), coverage "
            f"{d['coverage']:.3f}: {verdict}"
        )
    points.sort(key=lambda p: p[2])
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for penalty, ndcg, coverage, bound, free, taken in points:
        colour = "tab:green" if free else "tab:red"
        ax.errorbar([coverage], [ndcg], yerr=[[ndcg - bound], [0]], fmt="o", color=colour, capsize=3)
        mark = " (taken)" if taken else ""
        ax.annotate(f"penalty {penalty:g}{mark}", (coverage, ndcg), textcoords="offset points", xytext=(6, -12))
    ax.plot([tried[0]["reference_coverage"]], [reference], "s", color="tab:blue")
    ax.annotate(
        f"searched: penalty {chosen_searched(tried, chosen):g}",
        (tried[0]["reference_coverage"], reference),
        textcoords="offset points",
        xytext=(6, -12),
    )
    ax.axhline(reference, color="tab:blue", linewidth=1)
    ax.text(
        ax.get_xlim()[0],
        reference,
        " the searched recipe",
        color="tab:blue",
        va="bottom",
    )
    ax.axhline(floor, color="tab:green", linestyle="--", linewidth=1)
    ax.text(
        ax.get_xlim()[1],
        floor,
        "1% below it: a bound under the line costs accuracy ",
        color="tab:green",
        va="top",
        ha="right",
    )
    ax.set_xlabel("catalog coverage of the search cut's top-10 lists")
    ax.set_ylabel("search cut NDCG@10 (bar: to the 95% bound of the loss)")
    ax.set_title(f"Coverage where it is free: {folder.name}, training data only")
    save_figure(fig, OUT)


if __name__ == "__main__":
    main()
