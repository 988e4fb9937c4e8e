"""One settings object for every entry point (Lambda functions, local server, CLI, tests).

The environment holds names and locations only; the database password comes from Secrets Manager when
``DATABASE_SECRET_ARN`` is set (AWS), from ``DATABASE_URL`` when that is set, and otherwise the project
starts its own embedded Postgres under ``DUMMI_DATA_DIR``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    database_url: str | None = Field(default=None, description="postgresql://user:pass@host:port/db")
    database_secret_arn: str | None = Field(
        default=None, description="Secrets Manager secret with host, port, username, password, dbname"
    )
    database_read_url: str | None = Field(
        default=None,
        description="a read replica: read-only routes and serving's catalog reads go there while it answers "
        "(writes, auth and a user's own events stay on the primary)",
    )
    database_read_secret_arn: str | None = Field(
        default=None, description="Secrets Manager secret of the read replica (as DATABASE_SECRET_ARN)"
    )
    database_secret_max_age: int = Field(default=300, ge=0, description="seconds the secret is cached")
    dummi_data_dir: Path = Field(default=Path(".dummi"), description="local data folder (embedded Postgres, artifacts)")
    dummi_db_pool_size: int = Field(default=1, ge=1, le=64, description="connections per process; 1 in Lambda")
    dummi_db_connect_timeout: float = Field(default=5.0, gt=0, description="seconds to open a connection")
    dummi_db_statement_timeout_ms: int = Field(default=15_000, ge=0, description="server-side statement timeout")

    dummi_model_dir: Path | None = Field(
        default=None, description="exported ONNX model folder; default <data dir>/model (/opt/model in Lambda)"
    )
    dummi_embedding_backend: str = Field(default="onnx", description="onnx | sentence-transformers")
    dummi_embedding_threads: int | None = Field(default=None, ge=1, description="ONNX Runtime threads; all cores")

    dummi_embedding_mode: str = Field(
        default="off", description="after a write: background | sqs | inline | off (training embeds pending rows)"
    )
    dummi_embedding_queue_url: str | None = Field(default=None, description="SQS queue for sqs mode")
    dummi_result_cache_url: str | None = Field(
        default=None,
        description="redis:// or rediss:// URL of a Redis/Valkey server caching ranked answers (off when unset; "
        "`dummi run --result-cache` starts a local redis-server)",
    )
    dummi_result_cache_ttl_seconds: int = Field(default=300, ge=1, le=86_400, description="a cached answer's life")
    dummi_batch_queue_url: str | None = Field(
        default=None, description="SQS queue of batch jobs' steps (AWS); unset: a worker thread in this process"
    )

    artifacts_uri_setting: str | None = Field(
        default=None,
        validation_alias="ARTIFACTS_URI",
        description="s3://bucket/prefix or file:///path; default file://<data dir>/artifacts",
    )
    dummi_model_check_seconds: float = Field(default=60.0, ge=0, description="how often serving re-checks the pointer")
    dummi_model_retention: int = Field(default=5, ge=1, description="model versions kept in the store")
    dummi_training_dispatch: str = Field(
        default="thread",
        description="how POST /training/train runs a run: thread (local) | stepfunctions (the training state "
        "machine) | lambda (async invoke of the training function)",
    )
    dummi_training_state_machine_arn: str | None = Field(default=None, description="for stepfunctions dispatch")
    dummi_training_function_name: str | None = Field(
        default=None,
        description="function to invoke for lambda dispatch; default this function (AWS_LAMBDA_FUNCTION_NAME)",
    )
    dummi_cf_algorithm: str = Field(
        default="auto", description="auto (chosen on a holdout) or one of nmf, als, ease, itemknn, ease+itemknn"
    )
    dummi_cf_factors: int = Field(default=50, ge=1, le=1000, description="latent factors")
    # -- where training runs (dummi.training.planner) and the Spark engine (dummi.training.spark)
    dummi_training_max_seconds: float | None = Field(
        default=None, gt=0, description="the in-process path's time budget (the template: 720 of Lambda's 900 s)"
    )
    dummi_training_max_memory_mb: float | None = Field(
        default=None, gt=0, description="the in-process path's memory budget; default 80% of this machine's"
    )
    dummi_spark_master: str | None = Field(default=None, description="Spark master; default local[<cores>]")
    dummi_spark_driver_memory: str = Field(default="4g", description="driver memory of a local Spark session")
    dummi_spark_events: Literal["auto", "jdbc", "export"] = Field(
        default="auto",
        description="how Spark reads events: jdbc (partitioned reads; needs the PostgreSQL JDBC jar), export "
        "(a Parquet export under the artifact store), auto (jdbc when the jar is found)",
    )
    dummi_jdbc_jar: str | None = Field(
        default=None, description="the PostgreSQL JDBC driver jar; default Debian's /usr/share/java/postgresql.jar"
    )
    dummi_emr_application_id: str | None = Field(default=None, description="EMR Serverless application (AWS)")

    dummi_auth: Literal["on", "off"] = Field(
        default="off", description="on: every route but /health and /docs needs an X-API-Key with the right scope"
    )
    dummi_auth_cache_seconds: float = Field(
        default=30.0, ge=0, description="how long a checked key is trusted in-process (also how long a revoke takes)"
    )
    dummi_personalize_event_types: str = Field(
        default="",
        description="Personalize eventType -> Dummi type pairs added to the defaults: watch=view_time,buy=like "
        "(docs/personalize.md)",
    )
    dummi_personalize_arns: str = Field(
        default="",
        description="campaign / recommender ARN (or its last name) -> surface[:experiment:variant] pairs, "
        "comma-separated: home=home,campaign-b=home:ranker:b (docs/personalize.md)",
    )
    dummi_cors_origins: str = Field(default="", description="comma-separated origins allowed by CORS; empty = none")
    dummi_max_body_bytes: int = Field(default=1_048_576, ge=1024, description="larger request bodies get a 413")
    dummi_max_in_flight: int = Field(
        default=0,
        ge=0,
        description="requests one process handles or queues at once; more are answered 503 with Retry-After at "
        "once (0: no bound; `dummi run` sets 2 x its handler threads; a Lambda container serves one at a time)",
    )

    dummi_attribution_window_minutes: float = Field(
        default=30.0,
        ge=0,
        description="an interaction without recommendation_id is attributed to the latest answer "
        "that listed its item to the same user within this many minutes",
    )
    dummi_impression_retention_days: float = Field(
        default=90.0, gt=0, description="impressions older than this are deleted by the metrics job"
    )
    dummi_session_idle_days: float = Field(
        default=30.0,
        gt=0,
        description="an anonymous session with no event for this many days expires: the metrics job deletes "
        "its events (those a signed-in user took over stay the user's)",
    )
    dummi_page_token_secret: str | None = Field(
        default=None,
        min_length=32,
        description="the key page tokens are signed with (HMAC-SHA256); unset: one made once and kept in Postgres",
    )
    dummi_metrics_interval_seconds: float = Field(
        default=3600.0, ge=0, description="make run: how often the online metrics are computed (0: never)"
    )

    @property
    def auth_enabled(self) -> bool:
        return self.dummi_auth == "on"

    @property
    def cors_origins(self) -> list[str]:
        return [origin.strip() for origin in self.dummi_cors_origins.split(",") if origin.strip()]

    @property
    def artifacts_uri(self) -> str:
        return self.artifacts_uri_setting or (self.data_dir / "artifacts").as_uri()

    @property
    def data_dir(self) -> Path:
        return self.dummi_data_dir.expanduser().resolve()

    @property
    def model_dir(self) -> Path:
        return (self.dummi_model_dir or self.data_dir / "model").expanduser().resolve()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
