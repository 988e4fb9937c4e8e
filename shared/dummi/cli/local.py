"""``dummi run | migrate | load-sample | db-url``: the laptop path and its database."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from dummi.config import get_settings

DEFAULT_SAMPLE = Path("data/sample_data.json")

# The server runs many requests at once on a thread pool: each request's math (NumPy's BLAS, FAISS's
# OpenMP) stays on one core. Multi-threaded math inside concurrent requests oversubscribes the cores
# and spin-waits: measured here at 10K items, ~24 ms of CPU per request against ~4 ms. Set before
# NumPy or FAISS load (their thread pools read these once).
SERVER_MATH_THREADS = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

Subparsers = argparse._SubParsersAction


def add_run(sub: Subparsers) -> None:
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


def _cmd_run(args: argparse.Namespace) -> int:
    for name, value in SERVER_MATH_THREADS.items():
        os.environ.setdefault(name, value)
    from dummi.local_server import serve  # after the thread settings: it loads numpy (see the package docstring)

    serve(
        args.host,
        args.port,
        None if args.no_sample else args.sample_data,
        workers=args.workers,
        access_log=not args.no_access_log,
        result_cache=args.result_cache,
    )
    return 0


def add_migrate(sub: Subparsers) -> None:
    mig = sub.add_parser("migrate", help="apply database migrations")
    mig.set_defaults(func=_cmd_migrate)


def _cmd_migrate(args: argparse.Namespace) -> int:
    # the database when the command runs (see the package docstring)
    from dummi.db.connection import get_database
    from dummi.db.migrations import migrate

    applied = migrate(get_database())
    print("applied: " + (", ".join(applied) if applied else "nothing (up to date)"))
    return 0


def add_load_sample(sub: Subparsers) -> None:
    sample = sub.add_parser("load-sample", help="apply migrations and load the sample data (once)")
    sample.add_argument("--file", type=Path, default=DEFAULT_SAMPLE)
    sample.set_defaults(func=_cmd_load_sample)


def _cmd_load_sample(args: argparse.Namespace) -> int:
    from dummi.local_server import prepare  # the server stack when the command runs (see the package docstring)

    prepare(args.file)
    return 0


def add_db_url(sub: Subparsers) -> None:
    url = sub.add_parser("db-url", help="print the database URL in use (starts the embedded server if needed)")
    url.set_defaults(func=_cmd_db_url)


def _cmd_db_url(args: argparse.Namespace) -> int:
    from dummi.db.urls import resolve_database_url  # pg8000 when the command runs (see the package docstring)

    print(resolve_database_url(get_settings()))
    return 0
