"""The trade-off training's choice makes between NDCG@10 and catalog coverage, drawn from a real training
run's own trials: the ml-100k split's training data is imported into a fresh embedded Postgres, trained
with the real pipeline, and the warm users' holdout NDCG@10 and coverage of every value of
``popularity_penalty`` the choice tried are plotted, with the objective it maximises
(``ndcg x min(1, coverage / 0.15)``) and the value it took. The test split is not read.

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
    from dummi.services.training_service import TrainingParams, run_now

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
    return metrics["trials"], manifest["model"]["settings"]


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dummi.ml.tuning import COVERAGE_TARGET

    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else ML100K
    runs, chosen = trials(folder)
    warm = [t for t in runs if t["group"] == "warm"]
    fixed = ("recency_half_life", "sequence_weight", "sequence_half_life", "cf_share")  # chosen before it
    points = sorted(
        {
            (t["settings"]["popularity_penalty"], t["ndcg"], t["coverage"])
            for t in warm
            if t["cf"] == warm[-1]["cf"] and all(t["settings"][k] == chosen[k] for k in fixed)
        }
    )
    for penalty, ndcg, coverage in points:
        print(f"popularity_penalty {penalty:4.2f}: warm NDCG@10 {ndcg:.4f}, coverage {coverage:.3f}")
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot([p[2] for p in points], [p[1] for p in points], "o-", color="tab:blue")
    for penalty, ndcg, coverage in points:
        mark = " (chosen)" if penalty == chosen["popularity_penalty"] else ""
        ax.annotate(f"penalty {penalty:g}{mark}", (coverage, ndcg), textcoords="offset points", xytext=(6, 6))
    ax.axvline(COVERAGE_TARGET, color="grey", linestyle="--", linewidth=1)
    ax.text(COVERAGE_TARGET, ax.get_ylim()[0], " coverage target", color="grey", va="bottom")
    ax.set_xlabel("catalog coverage of the holdout's top-10 lists")
    ax.set_ylabel("warm users' holdout NDCG@10")
    ax.set_title(f"Pushing popular items down: {folder.name}, training data only")
    save_figure(fig, OUT)


if __name__ == "__main__":
    main()
