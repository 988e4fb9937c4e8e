"""``dummi import | batch-recommend | backup | restore``: data in and out in bulk."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from pydantic import ValidationError

from dummi.artifacts.store import get_artifact_store
from dummi.errors import DummiError, InvalidRequestError
from dummi.progress import BarProgress

Subparsers = argparse._SubParsersAction


SKIPPED_SHOWN = 5  # events skipped for an unknown id, named on stderr (the rejects file holds the first 1,000)


def add_import(sub: Subparsers) -> None:
    imp = sub.add_parser(
        "import",
        help="bulk load content.jsonl, users.jsonl, interactions.jsonl (else train.jsonl: events and feedback) and"
        " deletions.jsonl",
    )
    imp.add_argument("--data", type=Path, required=True, help="folder with the .jsonl files")
    imp.add_argument("--embed", action="store_true", help="embed the imported text now (else at the next train)")
    imp.add_argument(
        "--on-conflict",
        choices=["skip", "update"],
        default="skip",
        help="items and users that exist: keep them as they are (skip) or take the fields each line gives (update)",
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


def _cmd_import(args: argparse.Namespace) -> int:
    # the database and the API's schemas when the command runs (see the package docstring)
    from dummi.db.connection import get_database
    from dummi.db.migrations import migrate
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
    if args.on_error == "skip":  # the bad lines, then the events skipped for an unknown id: every line not written
        rejects = args.rejects or Path("dummi-import-rejects.jsonl")
        with rejects.open("w", encoding="utf-8") as out:
            out.writelines(r.as_json() + "\n" for r in [*result.rejects, *result.skipped])
        by_file: dict[str, int] = {}
        for r in result.rejects:
            by_file[r.file] = by_file.get(r.file, 0) + 1
        counts = ", ".join(f"{n} in {f}" for f, n in by_file.items()) or "none"
        skipped = f" and the first {len(result.skipped)} events skipped for an unknown id" if result.skipped else ""
        print(f"rejected {len(result.rejects)} lines ({counts}); written to {rejects}{skipped}")
    for r in result.skipped[:SKIPPED_SHOWN]:
        print(f"skipped {r.file}:{r.line}: {r.field}: {r.message}", file=sys.stderr)
    if result.skipped_events > SKIPPED_SHOWN:
        print(f"skipped {result.skipped_events - SKIPPED_SHOWN} more events naming unknown ids", file=sys.stderr)
    print(
        f"imported {result.users} users, {result.content} content items, {result.events} interactions"
        f" ({result.skipped_events} naming unknown users or content skipped); updated {result.users_updated}"
        f" users and {result.content_updated} items; deleted {result.content_deleted} items and"
        f" {result.users_deleted} users; from {', '.join(result.files)} in {time.perf_counter() - started:.1f}s"
    )
    if args.embed:
        from dummi.local_server import embed_pending  # the embedding model only with --embed

        embed_pending()
    return 0


def add_batch_recommend(sub: Subparsers) -> None:
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


def _cmd_batch_recommend(args: argparse.Namespace) -> int:
    # the database, the API's schemas and the serving engine when the command runs (see the package docstring)
    from dummi.batch.files import batch_file
    from dummi.batch.options import BatchOptions
    from dummi.db.connection import get_database
    from dummi.db.migrations import migrate
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


def add_backup(sub: Subparsers) -> None:
    back = sub.add_parser(
        "backup", help="write the database and the serving model into one archive (a consistent snapshot)"
    )
    back.add_argument("--out", type=Path, required=True, help="the archive to write (a new file; .tar)")
    back.add_argument(
        "--all-versions", action="store_true", help="every model version in the store, not only the serving one"
    )
    back.set_defaults(func=_cmd_backup)


def _cmd_backup(args: argparse.Namespace) -> int:
    # the database when the command runs (see the package docstring)
    from dummi.db.connection import get_database
    from dummi.db.dump import DumpToolError
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


def add_restore(sub: Subparsers) -> None:
    rest = sub.add_parser(
        "restore", help="bring an archive of `dummi backup` back into an empty database and artifact store"
    )
    rest.add_argument("--from", dest="source", type=Path, required=True, help="the archive `dummi backup` wrote")
    rest.add_argument(
        "--force", action="store_true", help="replace a target that holds data (a safety backup of it comes first)"
    )
    rest.add_argument("--no-safety-backup", action="store_true", help="with --force: do not back the target up first")
    rest.set_defaults(func=_cmd_restore)


def _cmd_restore(args: argparse.Namespace) -> int:
    # the database when the command runs (see the package docstring)
    from dummi.db.connection import get_database
    from dummi.db.dump import DumpToolError
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
