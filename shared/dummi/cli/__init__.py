"""The ``dummi`` command line: one module per group of commands, each with its subcommands' parsers and handlers.

- ``local``: run, migrate, load-sample, db-url (the laptop path and its database)
- ``training``: train, evaluate, spark-upload, export-model
- ``data``: import, batch-recommend, backup, restore
- ``operations``: openapi, keys, metrics, evaluate-policy

The parser is built for every command, so these modules import at their top only what is light: the standard
library, pydantic and the few pure modules of dummi. Each handler imports the rest of what it runs when it
runs (the database, the API, numpy), for two reasons: the training image's build stage runs
``python -m dummi.cli export-model`` with numpy, onnx, safetensors and pydantic-settings alone, and ``dummi
run`` sets the math libraries' thread counts before numpy loads (they read them once).
``tests/unit/test_cli.py`` checks that the parser loads none of them.
"""

from __future__ import annotations

import argparse

from dummi.cli import data, local, operations, training

# the order of `dummi --help`
COMMANDS = (
    local.add_run,
    local.add_migrate,
    local.add_load_sample,
    training.add_train,
    data.add_import,
    data.add_batch_recommend,
    training.add_evaluate,
    training.add_spark_upload,
    training.add_export_model,
    operations.add_openapi,
    operations.add_keys,
    operations.add_metrics,
    operations.add_evaluate_policy,
    data.add_backup,
    data.add_restore,
    local.add_db_url,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dummi", description="Dummi recommendation engine")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)
