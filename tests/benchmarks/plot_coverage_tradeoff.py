"""How training's choice buys coverage only where it costs no accuracy, drawn from a real training run's own
trials: the ml-100k split's training data is imported into a fresh embedded Postgres, trained with the
real pipeline, and the warm users' holdout NDCG@10 and coverage of every ``popularity_penalty`` tried on
top of the chosen recipe are plotted, with the band the choice accepts (within one paired standard error
of the best recipe found, bootstrapped over the holdout users) and the value it took: the most coverage
inside the band. The test split is not read.

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


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else ML100K
    metrics, chosen = trials(folder)
    step = next(d for d in metrics["decisions"] if d["step"].startswith("popularity_penalty="))
    floor = step["reference_ndcg"] - step["noise"]
    from dummi.ml.choice.steps import SEARCH

    newcomers_only = {key for key, _, group in SEARCH if group == "cold"}  # warm lists do not read them
    ignored = {"popularity_penalty", "diversity", "newcomer_diversity", "calibration", *newcomers_only}
    recipe = [
        t
        for t in metrics["trials"]
        if t["group"] == "warm" and all(chosen.get(k) == v for k, v in t["settings"].items() if k not in ignored)
    ]
    cf = next(t["cf"] for t in recipe if t["settings"]["popularity_penalty"] == chosen["popularity_penalty"])
    points = sorted({(t["settings"]["popularity_penalty"], t["ndcg"], t["coverage"]) for t in recipe if t["cf"] == cf})
    print(f"best recipe found: warm holdout NDCG@10 {step['reference_ndcg']:.4f}, paired noise {step['noise']:.4f}")
    for penalty, ndcg, coverage in points:
        inside = "within the noise" if ndcg >= floor else "below it"
        print(f"popularity_penalty {penalty:4.2f}: warm NDCG@10 {ndcg:.4f}, coverage {coverage:.3f} ({inside})")
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot([p[2] for p in points], [p[1] for p in points], "o-", color="tab:blue")
    for penalty, ndcg, coverage in points:
        mark = " (chosen)" if penalty == chosen["popularity_penalty"] else ""
        ax.annotate(f"penalty {penalty:g}{mark}", (coverage, ndcg), textcoords="offset points", xytext=(6, 6))
    ax.axhspan(floor, step["reference_ndcg"] + step["noise"], color="tab:green", alpha=0.12)
    ax.axhline(floor, color="tab:green", linestyle="--", linewidth=1)
    ax.text(ax.get_xlim()[0], floor, " one standard error below the best: accepted above", color="tab:green", va="top")
    ax.set_xlabel("catalog coverage of the holdout's top-10 lists")
    ax.set_ylabel("warm users' holdout NDCG@10")
    ax.set_title(f"Coverage where it is free: {folder.name}, training data only")
    save_figure(fig, OUT)


if __name__ == "__main__":
    main()
