"""Training time: the whole pipeline (real Postgres, real embeddings) on the sample data, on the ml-100k
split and on a synthetic long-tail catalog (10K items with long texts, ~70K events: ``splits.synthetic``),
per step, then (the catalog) the scheduled retrain that follows on the same data, its text already embedded:
once as scheduled (the last choice reused) and once with a full choice; then how the CF fit grows with the
matrix, to say where one Lambda (15 min) stops fitting.

    .venv/bin/python tests/benchmarks/bench_training.py [--skip-scaling] [--only-catalog [N_ITEMS]]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import ML100K, ROOT

SCALING = [(10_000, 2_000, 100_000), (50_000, 5_000, 500_000), (100_000, 10_000, 1_000_000)]


def pipeline(label: str, load, retrain: bool = False) -> None:
    from dummi.artifacts.store import FileStore
    from dummi.db.connection import Database
    from dummi.db.embedded import start_embedded_postgres, stop_embedded_postgres
    from dummi.db.migrations import migrate
    from dummi.training.params import TrainingParams
    from dummi.training.runs import run_now

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        db = Database(start_embedded_postgres(data_dir), pool_size=2, statement_timeout_ms=600_000)
        try:
            migrate(db)
            started = time.perf_counter()
            load(db)
            loaded = time.perf_counter() - started
            run = run_now(db, FileStore(data_dir / "artifacts"), "bench", TrainingParams())
            steps = ", ".join(f"{k} {v:.2f}s" for k, v in run.timings.items() if k != "total")
            print(f"{label}: load {loaded:.1f}s, train {run.timings['total']:.1f}s ({steps}); counts {run.counts}")
            for how, full in (("scheduled retrain (choice reused)", False), ("retrain with a full choice", True)):
                if not retrain:
                    break
                run = run_now(db, FileStore(data_dir / "artifacts"), "bench", TrainingParams(full_choice=full))
                stages = ", ".join(f"{s['name']} {s['seconds']:.2f}s" for s in run.stages)
                print(f"  {how}: {run.timings['total']:.1f}s ({stages})", flush=True)
        finally:
            db.close()
            stop_embedded_postgres(data_dir)


def synthetic(n_users: int, n_items: int, nnz: int, seed: int = 0):
    """A user x item matrix with Zipf-like item popularity and weights as the seed's events give."""
    from scipy import sparse

    rng = np.random.default_rng(seed)
    item_p = 1.0 / np.arange(1, n_items + 1) ** 0.8
    item_p /= item_p.sum()
    rows = rng.integers(0, n_users, nnz)
    cols = rng.choice(n_items, size=nnz, p=item_p)
    vals = rng.choice(np.array([5.0, 2.0, 1.0, 7.0], np.float32), size=nnz)
    m = sparse.csr_matrix((vals, (rows, cols)), shape=(n_users, n_items), dtype=np.float32)
    m.data = np.minimum(m.data, 10.0)
    return m


def catalog(n_items: int) -> None:
    """The whole pipeline on a synthetic catalog of ``n_items`` (events: 7 per item, as ml-latest-small)."""
    from splits import synthetic

    from dummi.services.import_service import import_directory

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "catalog"
        synthetic(folder, n_items, max(610, n_items // 16), 7 * n_items)
        pipeline(f"synthetic {n_items} items", lambda db: import_directory(db, folder), retrain=True)


def main() -> None:
    from dummi.services.import_service import import_directory
    from dummi.services.sample_data import load_sample_data

    if "--only-catalog" in sys.argv:
        rest = sys.argv[sys.argv.index("--only-catalog") + 1 :]
        catalog(int(rest[0]) if rest and rest[0].isdigit() else 10_000)
        return
    pipeline("sample data", lambda db: load_sample_data(db, ROOT / "data" / "sample_data.json"))
    if ML100K.exists():
        pipeline("ml-100k split", lambda db: import_directory(db, ML100K))
    catalog(10_000)
    if "--skip-scaling" in sys.argv:
        return

    from dummi.ml.cf import make_algorithm

    print("NMF, 50 factors, up to 200 iterations (scikit-learn, coordinate descent):")
    previous = None
    for n_users, n_items, nnz in SCALING:
        m = synthetic(n_users, n_items, nnz)
        started = time.perf_counter()
        model = make_algorithm("nmf", n_components=50).fit(m)
        took = time.perf_counter() - started
        per = took / m.nnz * 1e6
        growth = f", x{took / previous[0]:.1f} time for x{m.nnz / previous[1]:.1f} values" if previous else ""
        print(
            f"  {n_users:>7} users x {n_items:>6} items, {m.nnz:>9} values: {took:6.1f}s "
            f"({model.params['iterations_run']} iterations, {per:.1f} us/value){growth}"
        )
        previous = (took, m.nnz)


if __name__ == "__main__":
    main()
