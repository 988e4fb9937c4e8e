"""Shared fixtures: a real Postgres for the whole session, emptied before each test that uses it.

The database is ``TEST_DATABASE_URL`` when set (it is emptied, so point it at a throwaway database);
otherwise an embedded Postgres (pgserver) in a temporary folder, deleted at the end of the session.
"""

from __future__ import annotations

import importlib.util
import io
import json
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

# Powertools and AWS settings for every test, before any function module is imported.
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "1")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "DummiTest")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "dummi-tests")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("DUMMI_EMBEDDING_MODE", "off")  # tests that want embedding-on-write ask for it

from dummi.config import get_settings  # noqa: E402
from dummi.db.connection import Database, get_database  # noqa: E402
from dummi.db.migrations import migrate  # noqa: E402
from tests.postgres_server import PostgresServer  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EVENTS = Path(__file__).resolve().parent / "events"
TABLES = (
    "interactions, model_versions, training_runs, content, users, app_state, api_keys, interest_suggestions,"
    " impressions, experiments, online_metrics, item_stats, content_deletions, batch_jobs, item_daily_metrics,"
    " item_hourly_engagement, item_hourly_engagement_state, item_hourly_engagement_stale, personalize_filters,"
    " sigv4_keys,"
    " promotion_daily_metrics"
)
# the event types as migration 0011 made them: the built-in four at their default weights
RESET_EVENT_TYPES = (
    "DELETE FROM event_types WHERE NOT builtin;"
    " UPDATE event_types t SET weight = d.weight FROM (VALUES ('like', 5.0), ('click', 2.0), ('view_time', 1.0),"
    " ('skip', -1.0)) AS d(name, weight) WHERE t.name = d.name"
)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
        return
    from dummi.db.embedded import start_embedded_postgres, stop_embedded_postgres

    data_dir = tmp_path_factory.mktemp("dummi-data")
    yield start_embedded_postgres(data_dir, database="dummi_test")
    stop_embedded_postgres(data_dir)


@pytest.fixture(scope="session", autouse=True)
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ONNX model, exported once per session from the weights package (as `make model` does)."""
    if os.environ.get("DUMMI_MODEL_DIR"):
        return Path(os.environ["DUMMI_MODEL_DIR"])
    from dummi.ml.onnx_export import export_model

    folder = tmp_path_factory.mktemp("onnx-model")
    export_model(folder)
    os.environ["DUMMI_MODEL_DIR"] = str(folder)
    get_settings.cache_clear()
    return folder


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """moto's S3 (and friends) over real HTTP on loopback: the same boto3 code that runs in AWS."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_bucket(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh bucket on the moto server; boto3 clients made in this test talk to it."""
    import uuid

    from dummi.aws import get_client, reset_clients

    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    reset_clients()
    bucket = f"dummi-test-{uuid.uuid4().hex[:12]}"
    get_client("s3").create_bucket(Bucket=bucket)
    yield bucket
    reset_clients()


@pytest.fixture(scope="session")
def migrated(database_url: str) -> str:
    migrate(Database(database_url))
    return database_url


@pytest.fixture
def db(migrated: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Database]:
    """The process-wide Database (what the routers and handlers use), pointed at the test database and
    emptied before the test."""
    monkeypatch.setenv("DATABASE_URL", migrated)
    monkeypatch.setenv("DUMMI_DB_POOL_SIZE", "4")
    monkeypatch.setenv("DUMMI_DATA_DIR", str(tmp_path))  # the default file:// artifact store lives here
    _clear_caches()
    database = get_database()
    with database.transaction() as conn:
        conn.run(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
        conn.run(RESET_EVENT_TYPES)
    yield database
    _finish_background_work()
    database.close()
    _clear_caches()


def _finish_background_work() -> None:
    """Wait for the training runs and batch steps a test started in this process's worker threads (POST
    /training/train, POST /batch-jobs, as the fuzz test sends): a run still executing holds the execute lock,
    and the next test's training would find "another run is executing"."""
    from dummi.batch.dispatch import ThreadDispatcher as BatchThreads
    from dummi.batch.dispatch import get_batch_jobs
    from dummi.services.training_dispatch import ThreadDispatcher, get_training_dispatcher

    if get_training_dispatcher.cache_info().currsize:
        dispatcher = get_training_dispatcher()
        for thread in dispatcher.threads if isinstance(dispatcher, ThreadDispatcher) else ():
            thread.join(120)
    if get_batch_jobs.cache_info().currsize:
        steps = get_batch_jobs().dispatcher
        if isinstance(steps, BatchThreads):
            steps.join(120)


def _clear_caches() -> None:
    from dummi.batch.dispatch import get_batch_jobs
    from dummi.db.replica import get_read_database
    from dummi.services.embedding_queue import get_embedding_queue
    from dummi.services.recommendation_service import get_engine
    from dummi.services.result_cache import get_result_cache
    from dummi.services.training_dispatch import get_training_dispatcher
    from dummi.services.trending_service import get_trending_cache

    get_trending_cache().clear()
    get_settings.cache_clear()
    get_database.cache_clear()
    get_embedding_queue.cache_clear()
    get_training_dispatcher.cache_clear()
    get_engine.cache_clear()
    get_batch_jobs.cache_clear()
    get_read_database.cache_clear()
    get_result_cache.cache_clear()
    _clear_personalize_caches()


def _clear_personalize_caches() -> None:
    """What the Personalize surface keeps per process: its tables from the settings, checked secrets, filters."""
    from dummi.services.personalize import arns, credentials, event_types, filters

    arns.get_arn_map.cache_clear()
    event_types.get_event_types.cache_clear()
    credentials.get_secret_cache.cache_clear()
    filters.forget_programs()


def wait_for_run(client, timeout: float = 60) -> dict:
    """The newest training run once none is queued or running (a test's client, GET /training/status)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get("/training/status").json()
        if status["active"] is None and status["runs"]:
            return status["runs"][0]
        time.sleep(0.2)
    pytest.fail("training did not finish")


@pytest.fixture
def client(db: Database):
    from fastapi.testclient import TestClient

    from dummi.api.app import create_full_app

    with TestClient(create_full_app(), raise_server_exceptions=False) as test_client:
        yield test_client


class _CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation short tags (!Ref, !Sub, !GetAtt ...) as plain values."""


_CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def read_template() -> dict[str, Any]:
    """template.yaml as data (intrinsic functions read as None)."""
    return yaml.load((ROOT / "template.yaml").read_text(), Loader=_CfnLoader)


def load_function_module(folder: str) -> ModuleType:
    """A function's app.py (``functions/<folder>/app.py``), imported once per session like a Lambda container."""
    name = f"_function_{Path(folder).name}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / folder / "app.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def load_event(name: str, **changes: Any) -> dict[str, Any]:
    """An API Gateway HTTP API v2 event from tests/events/, with top-level fields replaced."""
    event = json.loads((EVENTS / f"{name}.json").read_text())
    event.update(changes)
    return event


@pytest.fixture
def service_log() -> Iterator[io.StringIO]:
    """What the Powertools service logger writes (its handler keeps the stdout it found at import, so
    load a function module before asking for this)."""
    handler = logging.getLogger(os.environ["POWERTOOLS_SERVICE_NAME"]).handlers[0]
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    yield buffer
    handler.setStream(previous)


class FakeLambdaContext:
    function_name = "dummi-test"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:dummi-test"
    aws_request_id = "3f1c8d8e-0000-4000-8000-000000000000"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 29_000


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


def write_tastes(folder: Path, users: int = 60, per_topic: int = 12) -> Path:
    """Users who each like items of one of three topics, in time order: enough held-out likes for the
    holdout (and so the publish gate) to run."""
    topics = ("soups", "rockets", "violins")
    content = [
        {"content_id": f"{t}-{i}", "title": f"{t} number {i}", "category": t, "tags": [], "description": ""}
        for t in topics
        for i in range(per_topic)
    ]
    events = []
    for u in range(users):
        topic = topics[u % 3]
        for k in range(8):
            item = f"{topic}-{(u + 5 * k) % per_topic}"  # 5 and 12 coprime: eight distinct items
            at = f"2026-01-01T00:{u % 60:02d}:{k:02d}+00:00"
            events.append({"user_id": f"u{u}", "content_id": item, "interaction_type": "like", "timestamp": at})
    folder.mkdir(parents=True, exist_ok=True)
    rows = {
        "content": content,
        "users": [{"user_id": f"u{u}", "interests": [], "skill_level": "beginner"} for u in range(users)],
        "train": events,
    }
    for name, lines in rows.items():
        (folder / f"{name}.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    return folder


@pytest.fixture(scope="session")
def tcp_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = PostgresServer(tmp_path_factory.mktemp("tcp-postgres")).init().start()
    try:
        yield server.url
    finally:
        server.stop()
