"""The Spark session the Spark engine runs on: ``local[N]`` on a laptop and in the tests (the same code and
settings), the one ``spark-submit`` made on EMR Serverless (``dummi.training.spark.job``)."""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from pathlib import Path

from dummi.config import get_settings

logger = logging.getLogger(__name__)

DEBIAN_JDBC_JAR = Path("/usr/share/java/postgresql.jar")


def jdbc_jar() -> Path | None:
    """The PostgreSQL JDBC driver jar: ``DUMMI_JDBC_JAR``, else Debian's (package libpostgresql-jdbc-java)."""
    configured = get_settings().dummi_jdbc_jar
    path = Path(configured) if configured else DEBIAN_JDBC_JAR
    return path if path.is_file() else None


def local_master() -> str:
    return get_settings().dummi_spark_master or f"local[{os.cpu_count() or 1}]"


def start_session(master: str | None = None, *, app_name: str = "dummi-training"):
    """A session on ``master`` (default ``DUMMI_SPARK_MASTER`` or local[<cores>]) with what the engine needs:
    Arrow for pandas UDFs, a checkpoint folder for ALS, the JDBC driver when there is one, few shuffle
    partitions on a laptop (the default 200 would make thousands of tiny tasks on small data), no UI."""
    # pyspark: the spark extra, only on the Spark engine
    from pyspark.sql import SparkSession

    master = master or local_master()
    if master.startswith("local"):
        # the executors' Python workers run this interpreter (its packages), not whatever python3 is on PATH
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", get_settings().dummi_spark_driver_memory)
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.session.timeZone", "UTC")
    )
    if master.startswith("local"):
        cores = _local_cores(master)
        builder = builder.config("spark.sql.shuffle.partitions", str(max(2, 2 * cores))).config(
            "spark.default.parallelism", str(max(2, 2 * cores))
        )
    jar = jdbc_jar()
    if jar is not None:
        builder = builder.config("spark.jars", str(jar))
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("WARN")
    prepare(session)
    logger.info("spark session on %s (JDBC driver: %s)", master, jar or "none")
    return session


def prepare(session, checkpoint_dir: str | None = None) -> None:
    """What the engine needs of any session, also one spark-submit made: a checkpoint folder (ALS cuts its
    lineage there; on a cluster it must be shared storage, the job gives one under the artifact store)."""
    if checkpoint_dir is not None:
        session.sparkContext.setCheckpointDir(checkpoint_dir)
    elif session.sparkContext.getCheckpointDir() is None:
        session.sparkContext.setCheckpointDir(tempfile.mkdtemp(prefix="dummi-spark-checkpoints-"))


def _local_cores(master: str) -> int:
    inside = master[master.find("[") + 1 : master.find("]")] if "[" in master else "1"
    return (os.cpu_count() or 1) if inside == "*" else int(inside.split(",")[0])
