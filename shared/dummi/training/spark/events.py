"""The events as a Spark DataFrame, read one of two ways:

* ``jdbc``: partitioned reads straight from Postgres (ranges of ``interaction_id``, one query per partition,
  in parallel on the executors), with the PostgreSQL JDBC driver shipped with the job. Needs the database
  reachable over TCP from every executor (EMR Serverless in the database's VPC).
* ``export``: the driver streams the table out with COPY (as in-process training reads it) into Parquet
  files under the artifact store's ``staging/<run>/events/``, which the executors read; they never talk to
  the database. Works anywhere the artifact store does (an embedded Postgres on a Unix socket included);
  costs one pass through the driver (~3-4 s per million events here).

Columns either way: interaction_id, user_id, content_id, kind, event_type, duration_seconds, at_us (the time
in microseconds since the epoch, exact) and at (the same as a timestamp).
"""

from __future__ import annotations

import io
import logging
from typing import Any

from dummi.config import get_settings
from dummi.db.interactions_repository import EVENTS_QUERY, InteractionsRepository
from dummi.db.urls import parse_database_url
from dummi.training.spark.session import jdbc_jar

logger = logging.getLogger(__name__)

EXPORT_CHUNK_BYTES = 64 * 2**20  # CSV bytes per Parquet file
STAGING = "staging"
# the columns of EVENTS_QUERY with their Spark SQL types (the export's Parquet schema is derived from them)
_COLUMNS = (
    ("interaction_id", "bigint"),
    ("user_id", "string"),
    ("content_id", "string"),
    ("kind", "string"),
    ("event_type", "string"),
    ("duration_seconds", "double"),
    ("at_us", "bigint"),
)


def how_to_read(database_url: str) -> str:
    """``DUMMI_SPARK_EVENTS``, or for auto: jdbc when the driver jar is there and the database is on TCP."""
    setting = get_settings().dummi_spark_events
    if setting != "auto":
        return setting
    on_tcp = parse_database_url(database_url).unix_sock is None
    return "jdbc" if on_tcp and jdbc_jar() is not None else "export"


def read_events(spark, db, store, run_id: str, *, how: str, partitions: int | None = None):
    """(the events DataFrame, what to delete afterwards: staging keys of an export)."""
    if how == "jdbc":
        return read_jdbc(spark, db, partitions=partitions), []
    if how == "export":
        keys = export_parquet(db, store, f"{STAGING}/{run_id}/events")
        if not keys:
            return _empty(spark), []
        return _with_time(spark.read.parquet(*[f"{store.uri}/{k}" for k in keys])), keys
    raise ValueError(f"unknown way to read events {how!r}: jdbc or export")


def read_jdbc(spark, db, *, partitions: int | None = None):
    lo, hi = db.read(lambda conn: InteractionsRepository(conn).id_range())
    params = parse_database_url(db.url())
    if params.unix_sock:
        raise ValueError("JDBC needs the database on TCP; this one is on a Unix socket (use the export)")
    url = f"jdbc:postgresql://{params.host}:{params.port}/{params.database}"
    if params.ssl_mode in ("require", "verify-ca", "verify-full"):
        url += f"?sslmode={params.ssl_mode}"
    n = partitions or max(2, spark.sparkContext.defaultParallelism)
    frame = (
        spark.read.format("jdbc")
        .option("url", url)
        .option("driver", "org.postgresql.Driver")
        .option("dbtable", f"({EVENTS_QUERY}) AS events")
        .option("user", params.user)
        .option("password", params.password or "")
        .option("partitionColumn", "interaction_id")
        .option("lowerBound", str(lo))
        .option("upperBound", str(hi + 1))
        .option("numPartitions", str(n))
        .option("fetchsize", "10000")
        .load()
    )
    return _with_time(frame)


class _ParquetSink:
    """A COPY stream cut into Parquet files of about EXPORT_CHUNK_BYTES of CSV each, stored as they fill."""

    def __init__(self, store: Any, prefix: str) -> None:
        self.store, self.prefix = store, prefix
        self.buffer = bytearray()
        self.keys: list[str] = []

    def write(self, data: bytes) -> int:
        self.buffer += data
        if len(self.buffer) >= EXPORT_CHUNK_BYTES:
            cut = self.buffer.rfind(b"\n") + 1
            self._flush(bytes(self.buffer[:cut]))
            del self.buffer[:cut]
        return len(data)

    def close(self) -> None:
        if self.buffer:
            self._flush(bytes(self.buffer))
            self.buffer.clear()

    def _flush(self, csv_bytes: bytes) -> None:
        # pyarrow: the spark extra, only on the Spark engine
        import pyarrow as pa
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        arrow = {"bigint": pa.int64(), "string": pa.string(), "double": pa.float64()}
        schema = pa.schema([(name, arrow[kind]) for name, kind in _COLUMNS])
        table = pacsv.read_csv(
            io.BytesIO(csv_bytes),
            read_options=pacsv.ReadOptions(column_names=[name for name, _ in _COLUMNS]),
            convert_options=pacsv.ConvertOptions(column_types=schema, strings_can_be_null=False),
        )
        out = io.BytesIO()
        pq.write_table(table, out)
        key = f"{self.prefix}/part-{len(self.keys):05d}.parquet"
        self.store.put(key, out.getvalue())
        self.keys.append(key)


def export_parquet(db, store, prefix: str) -> list[str]:
    """Every event, through COPY, as Parquet files under ``prefix`` in the artifact store; their keys."""
    sink = _ParquetSink(store, prefix)
    try:
        db.read(lambda conn: InteractionsRepository(conn).export_events(sink))
        sink.close()
    except BaseException:
        store.delete(sink.keys)  # nothing half-exported is left under staging/
        raise
    logger.info("exported events to %d Parquet files under %s/%s", len(sink.keys), store.uri, prefix)
    return sink.keys


def _with_time(frame):
    # pyspark: the spark extra, only on the Spark engine
    from pyspark.sql import functions as F

    return frame.withColumn("at", F.timestamp_micros("at_us"))


def _empty(spark):
    return _with_time(spark.createDataFrame([], ", ".join(f"{name} {kind}" for name, kind in _COLUMNS)))
