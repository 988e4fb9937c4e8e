"""``dummi train | evaluate | spark-upload | export-model``: model versions, offline evaluation, build steps."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from dummi.artifacts.store import get_artifact_store, store_from_uri
from dummi.config import get_settings
from dummi.progress import BarProgress
from dummi.training.params import TrainingParams

Subparsers = argparse._SubParsersAction


def add_train(sub: Subparsers) -> None:
    train = sub.add_parser("train", help="embed changed content, build the index and CF model, publish a version")
    train.add_argument("--no-cf", action="store_true", help="keep the published CF model instead of refitting")
    train.add_argument(
        "--regenerate-embeddings", action="store_true", help="hash-check every item's text, not only pending ones"
    )
    train.add_argument(
        "--force", action="store_true", help="publish even if the holdout scores it worse than the serving model"
    )
    train.add_argument(
        "--engine",
        choices=["auto", "local", "spark"],
        default="auto",
        help="where the stages run: auto (the planner chooses), local (this process), spark (local[N] here)",
    )
    train.add_argument(
        "--full-choice", action="store_true", help="choose on the holdout even if the last choice could be reused"
    )
    train.set_defaults(func=_cmd_train)


def _cmd_train(args: argparse.Namespace) -> int:
    # the database and the training pipeline when the command runs (see the package docstring)
    from dummi.db.connection import get_database
    from dummi.db.migrations import migrate
    from dummi.training.runs import TrainingAlreadyRunningError, run_now

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    db = get_database()
    migrate(db)
    params = TrainingParams.configured(
        retrain_cf=not args.no_cf,
        regenerate_embeddings=args.regenerate_embeddings,
        force=args.force,
        engine=args.engine,
        full_choice=args.full_choice,
    )
    store = get_artifact_store()
    print(f"training into {store.uri}", file=sys.stderr)
    try:
        run = run_now(db, store, "cli", params, progress=BarProgress())
    except TrainingAlreadyRunningError as exc:
        print(f"dummi train: {exc.message}", file=sys.stderr)
        return 1
    if run is None:
        print("dummi train: another process is executing a run", file=sys.stderr)
        return 1
    print(
        json.dumps(
            {
                "run_id": run.run_id,
                "state": run.state,
                "model_version": run.model_version,
                "engine": run.engine,
                "plan": (run.plan or {}).get("reason"),
                "stages": run.stages,
                "counts": run.counts,
                "timings": run.timings,
                "decision": run.decision,
                "error": run.error,
            },
            indent=2,
        )
    )
    return 0 if run.state == "succeeded" else 1


def add_evaluate(sub: Subparsers) -> None:
    ev = sub.add_parser("evaluate", help="import, train and recommend on a split; print the offline metrics")
    ev.add_argument("--data", type=Path, required=True, help="folder with content, users, train, test (.jsonl)")
    ev.add_argument("--recommendations-out", type=Path, required=True, help="file for the top-10 lists")
    ev.add_argument("--database-url", help="an empty Postgres to use (default: a temporary embedded one)")
    ev.add_argument("--json", action="store_true", help="also print the metrics as one JSON line")
    ev.add_argument("--engine", choices=["auto", "local", "spark"], default="auto", help="where training runs")
    ev.set_defaults(func=_cmd_evaluate)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    # the database, numpy and the pipeline when the command runs (see the package docstring)
    from dummi.services.evaluation_service import evaluate_directory, format_metrics

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    result = evaluate_directory(
        args.data,
        args.recommendations_out,
        database_url=args.database_url,
        progress=BarProgress(),
        log=lambda line: print(line, file=sys.stderr, flush=True),
        engine=args.engine,
    )
    print(format_metrics(result.metrics))
    print(f"model {result.model_version}; " + ", ".join(f"{k} {v:.1f}s" for k, v in result.timings.items()))
    if args.json:
        print(
            json.dumps(
                {
                    "metrics": result.metrics,
                    "model_version": result.model_version,
                    "timings": result.timings,
                    "training": result.training,
                }
            )
        )
    return 0


def add_spark_upload(sub: Subparsers) -> None:
    upload = sub.add_parser("spark-upload", help="upload the Spark job's files (make spark-env) to an s3:// prefix")
    upload.add_argument("--from", dest="source", type=Path, required=True, help="the folder make spark-env wrote")
    upload.add_argument("--to", required=True, help="s3://bucket/prefix (the template's SparkArtifactsPrefix)")
    upload.set_defaults(func=_cmd_spark_upload)


def _cmd_spark_upload(args: argparse.Namespace) -> int:
    """Upload the Spark job's files (make spark-env) to the prefix the template's SparkArtifactsPrefix names."""
    store = store_from_uri(args.to)
    for name in ("environment.tar.gz", "job.py", "postgresql.jar"):
        path = args.source / name
        if not path.exists():
            if name == "postgresql.jar":
                print("no postgresql.jar: jobs read events through a Parquet export", file=sys.stderr)
                continue
            print(f"{path} is missing: run make spark-env", file=sys.stderr)
            return 1
        store.put(name, path.read_bytes())
        print(f"uploaded {store.uri}/{name} ({path.stat().st_size / 2**20:.1f} MB)", file=sys.stderr)
    return 0


def add_export_model(sub: Subparsers) -> None:
    export = sub.add_parser("export-model", help="export all-MiniLM-L6-v2 to ONNX (build step; no torch needed)")
    export.add_argument("--out", help="folder to write (default: DUMMI_MODEL_DIR or <data dir>/model)")
    export.set_defaults(func=_cmd_export_model)


def _cmd_export_model(args: argparse.Namespace) -> int:
    from dummi.ml.onnx_export import export_model  # numpy when the command runs (see the package docstring)

    out = Path(args.out) if args.out else get_settings().model_dir
    print(f"wrote {export_model(out)}")
    return 0
