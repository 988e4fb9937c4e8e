"""The ``dummi`` command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

DEFAULT_SAMPLE = Path("data/sample_data.json")


def _cmd_run(args: argparse.Namespace) -> int:
    from dummi.local_server import serve

    serve(args.host, args.port, None if args.no_sample else args.sample_data)
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


def _cmd_openapi(args: argparse.Namespace) -> int:
    from dummi.api.app import create_full_app

    spec = json.dumps(create_full_app().openapi(), indent=2, sort_keys=True) + "\n"
    if args.out == "-":
        sys.stdout.write(spec)
    else:
        Path(args.out).write_text(spec, encoding="utf-8")
        print(f"wrote {args.out}")
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
    run.set_defaults(func=_cmd_run)

    mig = sub.add_parser("migrate", help="apply database migrations")
    mig.set_defaults(func=_cmd_migrate)

    sample = sub.add_parser("load-sample", help="apply migrations and load the sample data (once)")
    sample.add_argument("--file", type=Path, default=DEFAULT_SAMPLE)
    sample.set_defaults(func=_cmd_load_sample)

    spec = sub.add_parser("openapi", help="export the OpenAPI spec")
    spec.add_argument("--out", default="-", help="file to write, or - for stdout")
    spec.set_defaults(func=_cmd_openapi)

    url = sub.add_parser("db-url", help="print the database URL in use (starts the embedded server if needed)")
    url.set_defaults(func=_cmd_db_url)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
