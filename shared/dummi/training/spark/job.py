"""The Spark job's entry point: ``spark-submit job.py --run-id RUN`` on EMR Serverless (the state machine
passes the run its planner queued), or ``python -m dummi.training.spark.job --run-id RUN`` anywhere pyspark
is installed (a local[N] session).

It reads the same settings as the training Lambda (``DATABASE_SECRET_ARN`` or ``DATABASE_URL``,
``ARTIFACTS_URI``, ``DUMMI_*``), executes the run with the Spark engine on the session spark-submit made, and
publishes through the same ``publish()``; the run's row says how it went. The exit status is 0 only when the
run succeeded (the state machine's job task fails otherwise)."""

from __future__ import annotations

import argparse
import logging
import sys

from dummi.artifacts.store import get_artifact_store
from dummi.db.connection import get_database
from dummi.progress import LogProgress
from dummi.training.runs import execute_run
from dummi.training.spark.session import prepare, start_session


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dummi-spark-job", description=__doc__)
    parser.add_argument("--run-id", required=True, help="the queued training run to execute")
    parser.add_argument("--master", help="a Spark master for a session made here (default: spark-submit's)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("py4j", "pyspark"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    store = get_artifact_store()
    if args.master:
        spark = start_session(args.master)
    else:
        # pyspark: the spark extra, only on the Spark engine
        from pyspark.sql import SparkSession

        spark = SparkSession.builder.appName("dummi-training").getOrCreate()
        # ALS checkpoints must be on storage every executor sees: beside the artifacts
        shared = store.uri.startswith("s3://")
        prepare(spark, f"{store.uri}/staging/{args.run_id}/checkpoints" if shared else None)
    try:
        run = execute_run(get_database(), store, args.run_id, progress=LogProgress(), engine="spark", spark=spark)
    finally:
        spark.stop()
        leftovers = store.list(f"staging/{args.run_id}/")  # ALS checkpoints on shared storage
        if leftovers:
            store.delete(leftovers)
    if run is None:
        print(f"run {args.run_id} was not executed here (not queued, or another run is executing)", file=sys.stderr)
        return 2
    print(f"run {run.run_id}: {run.state} {run.model_version or ''} {run.error or ''}".strip())
    return 0 if run.state == "succeeded" else 1


if __name__ == "__main__":
    sys.exit(main())
