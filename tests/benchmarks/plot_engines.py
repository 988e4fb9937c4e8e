"""Training time and peak memory against the events, in process and on Spark (local[2]), from a
``bench_engines.py`` run's ``results.json``, with the training Lambda's budget (720 s, 8,192 MB) the planner
holds the in-process path to and the cost model's prediction of the in-process path beside the measurements.

    .venv/bin/python tests/benchmarks/bench_engines.py --keep DIR
    .venv/bin/pip install -e '.[bench]' && .venv/bin/python tests/benchmarks/plot_engines.py DIR/results.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from _common import ROOT, save_figure

OUT = ROOT / "docs" / "training_engines.png"
LAMBDA_SECONDS, LAMBDA_MB = 720, 8192


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dummi.training.planner import COST_MODEL

    results = [r for r in json.loads(Path(sys.argv[1]).read_text()) if not r.get("with_choice")]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for engine, label, colour in (("local", "in process", "tab:blue"), ("spark", "Spark local[2]", "tab:orange")):
        runs = sorted((r for r in results if r["engine"] == engine), key=lambda r: r["counts"]["interactions"])
        events = [r["counts"]["interactions"] for r in runs]
        left.plot(events, [r["seconds"] for r in runs], "o-", color=colour, label=label)
        memory = "peak RSS" if engine == "local" else "driver's Python peak RSS (JVM heap capped at 4 GB)"
        right.plot(events, [r["peak_mb"] for r in runs], "o-", color=colour, label=f"{label}: {memory}")
        if engine == "local":
            predicted = [
                COST_MODEL.predict(
                    {**r["counts"], "events": r["counts"]["interactions"], "items": r["items"]}, choice=False
                )
                for r in runs
            ]
            left.plot(events, [p["seconds"] for p in predicted], "x", color=colour, label="the planner's prediction")
            right.plot(events, [p["memory_mb"] for p in predicted], "x", color=colour, label="the planner's prediction")
    left.axhline(LAMBDA_SECONDS, color="grey", ls="--", lw=1)
    left.text(1.2e5, LAMBDA_SECONDS * 1.1, "training Lambda: 720 s of 15 min", color="grey", fontsize=8)
    right.axhline(LAMBDA_MB, color="grey", ls="--", lw=1)
    right.text(1.2e5, LAMBDA_MB * 1.1, "training Lambda: 8,192 MB of 10 GB", color="grey", fontsize=8)
    for axis, ylabel in ((left, "training time, seconds"), (right, "peak memory, MB")):
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("events (10 per user; 10K, 50K, 100K items)")
        axis.set_ylabel(ylabel)
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=7, loc="lower right")
    fig.suptitle("Training, ALS pinned, on 2 cores: where the in-process path stops fitting (bench_engines.py)")
    save_figure(fig, OUT)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
