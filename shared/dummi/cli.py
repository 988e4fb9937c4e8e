"""The ``dummi`` command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

DEFAULT_SAMPLE = Path("data/sample_data.json")


# The server runs many requests at once on a thread pool: each request's math (NumPy's BLAS, FAISS's
# OpenMP) stays on one core. Multi-threaded math inside concurrent requests oversubscribes the cores
# and spin-waits: measured here at 10K items, ~24 ms of CPU per request against ~4 ms. Set before
# NumPy or FAISS load (their thread pools read these once).
SERVER_MATH_THREADS = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _cmd_run(args: argparse.Namespace) -> int:
    for name, value in SERVER_MATH_THREADS.items():
        os.environ.setdefault(name, value)
    from dummi.local_server import serve

    serve(
        args.host,
        args.port,
        None if args.no_sample else args.sample_data,
        workers=args.workers,
        access_log=not args.no_access_log,
        result_cache=args.result_cache,
    )
    return 0


def _cmd_migrate(args: argparse.Namespace) -> int:
    from dummi.db.connection import get_database
    from dummi.db.migrations import migrate

    applied = migrate(get_database())
    print("applied: " + (", ".join(applied) if applied else "nothing (up to date)"))
    return 0


def _cmd_load_sample(args: argparse.Namespace) -> int:
    from dummi.local_server import prepare

    prepare(args.file)
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    import logging

    from dummi.artifacts.store import get_artifact_store
    from dummi.db.connection import get_database
    from dummi.db.migrations import migrate
    from dummi.progress import BarProgress
    from dummi.training.params import TrainingParams
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


def _cmd_import(args: argparse.Namespace) -> int:
    import time

    from dummi.db.connection import get_database
    from dummi.db.migrations import migrate
    from dummi.errors import InvalidRequestError
    from dummi.services.import_service import import_directory

    if args.rejects is not None and args.on_error != "skip":
        print("dummi import: --rejects needs --on-error skip", file=sys.stderr)
        return 2
    db = get_database()
    migrate(db)
    started = time.perf_counter()
    try:
        result = import_directory(
            db,
            args.data,
            progress=lambda what, n: print(f"  {what}: {n}", file=sys.stderr, flush=True),
            on_conflict=args.on_conflict,
            on_error=args.on_error,
        )
    except InvalidRequestError as exc:
        print(f"dummi import: {exc.message} (nothing was written)", file=sys.stderr)
        return 2
    if args.on_error == "skip":
        rejects = args.rejects or Path("dummi-import-rejects.jsonl")
        with rejects.open("w", encoding="utf-8") as out:
            out.writelines(r.as_json() + "\n" for r in result.rejects)
        by_file: dict[str, int] = {}
        for r in result.rejects:
            by_file[r.file] = by_file.get(r.file, 0) + 1
        counts = ", ".join(f"{n} in {f}" for f, n in by_file.items()) or "none"
        print(f"rejected {len(result.rejects)} lines ({counts}); written to {rejects}")
    print(
        f"imported {result.users} users, {result.content} content items, {result.events} interactions"
        f" ({result.skipped_events} naming unknown users or content skipped); updated {result.users_updated}"
        f" users and {result.content_updated} items; deleted {result.content_deleted} items and"
        f" {result.users_deleted} users; from {', '.join(result.files)} in {time.perf_counter() - started:.1f}s"
    )
    if args.embed:
        from dummi.local_server import embed_pending

        embed_pending()
    return 0


def _cmd_batch_recommend(args: argparse.Namespace) -> int:
    import time

    from pydantic import ValidationError

    from dummi.batch.files import batch_file
    from dummi.batch.options import BatchOptions
    from dummi.db.connection import get_database
    from dummi.db.migrations import migrate
    from dummi.errors import DummiError
    from dummi.progress import BarProgress
    from dummi.services.recommendation_service import get_engine

    try:
        options = BatchOptions.model_validate(
            {
                "num_results": args.num_results,
                "use_cf": not args.no_cf,
                "use_embeddings": not args.no_embeddings,
                "cf_weight": args.cf_weight,
                "category": args.category,
                "filters": json.loads(args.filters) if args.filters else [],
                "diversity": args.diversity,
                "max_per_category": args.max_per_category,
            }
        )
    except (ValidationError, json.JSONDecodeError) as exc:
        detail = exc.errors()[0] if isinstance(exc, ValidationError) else {"loc": ("filters",), "msg": str(exc)}
        print(f"dummi batch-recommend: {'.'.join(map(str, detail['loc']))}: {detail['msg']}", file=sys.stderr)
        return 2
    if not args.input.is_file():
        print(f"dummi batch-recommend: input: no file {args.input}", file=sys.stderr)
        return 2
    if not 1 <= args.workers <= 64:
        print("dummi batch-recommend: workers: 1 to 64", file=sys.stderr)
        return 2
    db = get_database()
    migrate(db)
    started = time.perf_counter()
    try:
        job, resumed = batch_file(
            db,
            get_engine,
            args.input,
            args.output,
            options,
            chunk_size=args.chunk_size,
            progress=BarProgress(),
            workers=args.workers,
        )
    except DummiError as exc:
        print(f"dummi batch-recommend: {exc.message}", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - started
    print(
        f"wrote {job.lines_done} lines to {args.output} ({job.errors} error lines) in {seconds:.1f}s"
        f" ({job.lines_done / max(seconds, 1e-9):.0f} lines/s); model {', '.join(job.model_versions) or 'none'}"
        + ("; resumed: earlier chunks kept" if resumed else "")
    )
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    import logging

    from dummi.progress import BarProgress
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


def _cmd_spark_upload(args: argparse.Namespace) -> int:
    """Upload the Spark job's files (make spark-env) to the prefix the template's SparkArtifactsPrefix names."""
    from dummi.artifacts.store import store_from_uri

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


def _cmd_export_model(args: argparse.Namespace) -> int:
    from dummi.config import get_settings
    from dummi.ml.onnx_export import export_model

    out = Path(args.out) if args.out else get_settings().model_dir
    print(f"wrote {export_model(out)}")
    return 0


def _cmd_openapi(args: argparse.Namespace) -> int:
    from dummi.api.app import create_full_app

    spec = json.dumps(create_full_app().openapi(), indent=2, sort_keys=True) + "\n"
    if args.out == "-":
        sys.stdout.write(spec)
    else:
        Path(args.out).write_text(spec, encoding="utf-8")
        print(f"wrote {args.out}")
    return 0


def _cmd_keys(args: argparse.Namespace) -> int:
    from dummi.db.connection import get_database
    from dummi.db.migrations import migrate
    from dummi.errors import DummiError
    from dummi.services import api_keys

    db = get_database()
    migrate(db)
    try:
        if args.keys_command == "create":
            new = api_keys.create_key(db, args.scope, args.name)
            print(
                f"created key {new.record.key_id} ({', '.join(new.record.scopes)}); it is shown only now:",
                file=sys.stderr,
            )
            print(new.key)
        elif args.keys_command == "revoke":
            record = api_keys.revoke_key(db, args.key_id)
            print(f"revoked {record.key_id} at {record.revoked_at.isoformat()}")
        else:
            for record in api_keys.list_keys(db, include_revoked=args.all):
                revoked = f"  revoked {record.revoked_at.isoformat()}" if record.revoked_at else ""
                print(
                    f"{record.key_id}  {','.join(record.scopes):<16} {record.created_at.isoformat()}"
                    f"  {record.name}{revoked}"
                )
    except DummiError as exc:
        print(f"dummi keys {args.keys_command}: {exc.message}", file=sys.stderr)
        return 2
    return 0


def _cmd_metrics(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime, timedelta

    from dummi.db.connection import get_database
    from dummi.db.migrations import migrate
    from dummi.progress import BarProgress
    from dummi.services import online_metrics_service

    db = get_database()
    migrate(db)
    done = online_metrics_service.run(db, progress=BarProgress())
    print(json.dumps(done))
    today = datetime.now(UTC).date()
    groups = args.group_by.split(",")
    for row in online_metrics_service.query(db, today - timedelta(days=args.days - 1), today, groups):
        print(json.dumps(row))
    return 0


def _cmd_evaluate_policy(args: argparse.Namespace) -> int:
    from dummi.db.connection import get_database
    from dummi.db.migrations import migrate
    from dummi.services.policy_evaluation import evaluate_policy

    db = get_database()
    migrate(db)
    result = evaluate_policy(db, args.policy, prior_strength=args.prior_strength, days=args.days)
    print(json.dumps(result))
    if result["estimate"] is None:
        why = (
            "no exploration decisions logged in that period"
            if not result["decisions"]
            else "the policy would have made none of the logged choices: the log cannot tell"
        )
        print(f"dummi evaluate-policy: {why}", file=sys.stderr)
        return 1
    print(
        f"{args.policy}: estimated CTR of the exploration slots {result['estimate']:.4f} against "
        f"{result['logged_ctr']:.4f} logged, from {result['decisions']} decisions "
        f"({result['effective_decisions']:.0f} effective)",
        file=sys.stderr,
    )
    return 0


def _cmd_backup(args: argparse.Namespace) -> int:
    from dummi.artifacts.store import get_artifact_store
    from dummi.db.connection import get_database
    from dummi.db.dump import DumpToolError
    from dummi.errors import DummiError
    from dummi.progress import BarProgress
    from dummi.services.backup_service import backup

    store = get_artifact_store()
    print(f"backing up the database and {store.uri} into {args.out}", file=sys.stderr)
    try:
        done = backup(get_database(), store, args.out, all_versions=args.all_versions, progress=BarProgress())
    except DummiError as exc:
        print(
            f"dummi backup: {exc.field + ': ' if exc.field else ''}{exc.message} (nothing was written)", file=sys.stderr
        )
        return 2
    except DumpToolError as exc:
        print(f"dummi backup: {exc} (nothing was written)", file=sys.stderr)
        return 1
    print(
        f"wrote {done.path} ({done.bytes / 2**20:.1f} MB) in {done.seconds:.1f}s: {sum(done.rows.values())} rows in"
        f" {len(done.rows)} tables; model {', '.join(done.versions) or 'none'}"
        + (f" (serving {done.serving})" if len(done.versions) > 1 else "")
    )
    return 0


def _cmd_restore(args: argparse.Namespace) -> int:
    from dummi.artifacts.store import get_artifact_store
    from dummi.db.connection import get_database
    from dummi.db.dump import DumpToolError
    from dummi.errors import DummiError
    from dummi.progress import BarProgress
    from dummi.services.backup_service import restore

    store = get_artifact_store()
    print(f"restoring {args.source} into the database and {store.uri}", file=sys.stderr)
    safety_dir = None if args.no_safety_backup else args.source.resolve().parent
    try:
        done = restore(
            get_database(), store, args.source, force=args.force, safety_dir=safety_dir, progress=BarProgress()
        )
    except DummiError as exc:
        print(
            f"dummi restore: {exc.field + ': ' if exc.field else ''}{exc.message} (nothing was changed)",
            file=sys.stderr,
        )
        return 2
    except DumpToolError as exc:
        print(f"dummi restore: {'; '.join([str(exc), *getattr(exc, '__notes__', [])])}", file=sys.stderr)
        return 1
    if done.safety_backup is not None:
        print(f"what the target held before is in {done.safety_backup}", file=sys.stderr)
    print(
        f"restored {sum(done.rows.values())} rows in {len(done.rows)} tables and model"
        f" {', '.join(done.versions) or 'none'} in {done.seconds:.1f}s; migrations applied:"
        f" {', '.join(done.migrations_applied) or 'none (the archive is current)'}"
    )
    return 0


def _cmd_db_url(args: argparse.Namespace) -> int:
    from dummi.config import get_settings
    from dummi.db.urls import resolve_database_url

    print(resolve_database_url(get_settings()))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dummi", description="Dummi recommendation engine")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="serve every route locally (embedded Postgres unless DATABASE_URL is set)")
    run.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    run.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    run.add_argument("--sample-data", type=Path, default=DEFAULT_SAMPLE, help="loaded once into a new database")
    run.add_argument("--no-sample", action="store_true", help="do not load the sample data")
    run.add_argument(
        "--workers", type=int, default=int(os.environ.get("DUMMI_WORKERS", "1")), help="server processes (uvicorn)"
    )
    run.add_argument("--no-access-log", action="store_true", help="do not log every request")
    run.add_argument(
        "--result-cache",
        action="store_true",
        help="cache ranked answers in a redis-server this command starts and stops (or DUMMI_RESULT_CACHE_URL)",
    )
    run.set_defaults(func=_cmd_run)

    mig = sub.add_parser("migrate", help="apply database migrations")
    mig.set_defaults(func=_cmd_migrate)

    sample = sub.add_parser("load-sample", help="apply migrations and load the sample data (once)")
    sample.add_argument("--file", type=Path, default=DEFAULT_SAMPLE)
    sample.set_defaults(func=_cmd_load_sample)

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

    imp = sub.add_parser("import", help="bulk load content.jsonl, users.jsonl and train.jsonl / interactions.jsonl")
    imp.add_argument("--data", type=Path, required=True, help="folder with the .jsonl files")
    imp.add_argument("--embed", action="store_true", help="embed the imported text now (else at the next train)")
    imp.add_argument(
        "--on-conflict",
        choices=["skip", "update"],
        default="skip",
        help="items and users that exist: keep them as they are (skip) or take the file's fields (update)",
    )
    imp.add_argument(
        "--on-error",
        choices=["stop", "skip"],
        default="stop",
        help="a bad line: stop and write nothing (stop), or import every good line and write the bad ones with "
        "their file, line, field and message to --rejects (skip)",
    )
    imp.add_argument(
        "--rejects", type=Path, help="with --on-error skip: the file for the bad lines (dummi-import-rejects.jsonl)"
    )
    imp.set_defaults(func=_cmd_import)

    batch = sub.add_parser(
        "batch-recommend",
        help='answer a file of {"userId": ...} / {"itemId": ...} lines (AWS Personalize\'s batch format)',
    )
    batch.add_argument("--input", type=Path, required=True, help="one JSON object a line")
    batch.add_argument("--output", type=Path, required=True, help="one answer a line, in the input's order")
    batch.add_argument("--num-results", type=int, default=10, help="items a line (1-100)")
    batch.add_argument("--cf-weight", type=float, default=0.5, help="as in POST /recommendations/")
    batch.add_argument("--diversity", type=float, help="as in POST /recommendations/ (default: the model's)")
    batch.add_argument("--category", help="only items of this category")
    batch.add_argument("--filters", help='business rules as JSON: [{"field": ..., "op": ..., "value": ...}]')
    batch.add_argument("--max-per-category", type=int, help="at most this many items of one category")
    batch.add_argument("--no-cf", action="store_true", help="no collaborative filtering")
    batch.add_argument("--no-embeddings", action="store_true", help="no content similarity")
    batch.add_argument("--chunk-size", type=int, default=1000, help="lines a chunk (the unit of resume)")
    batch.add_argument(
        "--workers", type=int, default=1, help="processes answering chunks (one core each; each loads the model)"
    )
    batch.set_defaults(func=_cmd_batch_recommend)

    ev = sub.add_parser("evaluate", help="import, train and recommend on a split; print the offline metrics")
    ev.add_argument("--data", type=Path, required=True, help="folder with content, users, train, test (.jsonl)")
    ev.add_argument("--recommendations-out", type=Path, required=True, help="file for the top-10 lists")
    ev.add_argument("--database-url", help="an empty Postgres to use (default: a temporary embedded one)")
    ev.add_argument("--json", action="store_true", help="also print the metrics as one JSON line")
    ev.add_argument("--engine", choices=["auto", "local", "spark"], default="auto", help="where training runs")
    ev.set_defaults(func=_cmd_evaluate)

    upload = sub.add_parser("spark-upload", help="upload the Spark job's files (make spark-env) to an s3:// prefix")
    upload.add_argument("--from", dest="source", type=Path, required=True, help="the folder make spark-env wrote")
    upload.add_argument("--to", required=True, help="s3://bucket/prefix (the template's SparkArtifactsPrefix)")
    upload.set_defaults(func=_cmd_spark_upload)

    export = sub.add_parser("export-model", help="export all-MiniLM-L6-v2 to ONNX (build step; no torch needed)")
    export.add_argument("--out", help="folder to write (default: DUMMI_MODEL_DIR or <data dir>/model)")
    export.set_defaults(func=_cmd_export_model)

    spec = sub.add_parser("openapi", help="export the OpenAPI spec")
    spec.add_argument("--out", default="-", help="file to write, or - for stdout")
    spec.set_defaults(func=_cmd_openapi)

    keys = sub.add_parser("keys", help="API keys (needed when DUMMI_AUTH=on): create, list, revoke")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="make a key and print it once (only its hash is stored)")
    create.add_argument(
        "--scope", action="append", required=True, help="read, write or admin (repeat or comma-separate)"
    )
    create.add_argument("--name", default="", help="what the key is for")
    listing = keys_sub.add_parser("list", help="key ids, scopes and names (never the keys)")
    listing.add_argument("--all", action="store_true", help="include revoked keys")
    revoke = keys_sub.add_parser("revoke", help="revoke a key by its id (the part after dk_)")
    revoke.add_argument("key_id")
    keys.set_defaults(func=_cmd_keys)

    metrics = sub.add_parser(
        "metrics", help="compute the online metrics now (the hourly job), then print the last days' figures"
    )
    metrics.add_argument("--days", type=int, default=7, help="days to print (default 7)")
    metrics.add_argument("--group-by", default="day,surface,experiment,variant", help="dimensions to print by")
    metrics.set_defaults(func=_cmd_metrics)

    policy = sub.add_parser(
        "evaluate-policy",
        help="estimate another exploration policy's slot CTR from the logged decisions (self-normalised IPS)",
    )
    policy.add_argument("--policy", choices=["thompson", "greedy", "uniform"], required=True)
    policy.add_argument("--prior-strength", type=float, default=10.0, help="thompson/greedy: pseudo-impressions")
    policy.add_argument("--days", type=float, default=30.0, help="decisions of the last DAYS days")
    policy.set_defaults(func=_cmd_evaluate_policy)

    back = sub.add_parser(
        "backup", help="write the database and the serving model into one archive (a consistent snapshot)"
    )
    back.add_argument("--out", type=Path, required=True, help="the archive to write (a new file; .tar)")
    back.add_argument(
        "--all-versions", action="store_true", help="every model version in the store, not only the serving one"
    )
    back.set_defaults(func=_cmd_backup)

    rest = sub.add_parser(
        "restore", help="bring an archive of `dummi backup` back into an empty database and artifact store"
    )
    rest.add_argument("--from", dest="source", type=Path, required=True, help="the archive `dummi backup` wrote")
    rest.add_argument(
        "--force", action="store_true", help="replace a target that holds data (a safety backup of it comes first)"
    )
    rest.add_argument("--no-safety-backup", action="store_true", help="with --force: do not back the target up first")
    rest.set_defaults(func=_cmd_restore)

    url = sub.add_parser("db-url", help="print the database URL in use (starts the embedded server if needed)")
    url.set_defaults(func=_cmd_db_url)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
