"""Shared fixtures: a real Postgres for the whole session, emptied before each test that uses it.

The database is ``TEST_DATABASE_URL`` when set (it is emptied, so point it at a throwaway database);
otherwise an embedded Postgres (pgserver) in a temporary folder, deleted at the end of the session.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Powertools and AWS settings for every test, before any function module is imported.
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "1")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "DummiTest")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "dummi-tests")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

from dummi.config import get_settings  # noqa: E402
from dummi.db.connection import Database, get_database  # noqa: E402
from dummi.db.migrations import migrate  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EVENTS = Path(__file__).resolve().parent / "events"
TABLES = "interactions, model_versions, training_runs, content, users, app_state"


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


@pytest.fixture(scope="session")
def migrated(database_url: str) -> str:
    migrate(Database(database_url))
    return database_url


@pytest.fixture
def db(migrated: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    """The process-wide Database (what the routers and handlers use), pointed at the test database and
    emptied before the test."""
    monkeypatch.setenv("DATABASE_URL", migrated)
    monkeypatch.setenv("DUMMI_DB_POOL_SIZE", "4")
    get_settings.cache_clear()
    get_database.cache_clear()
    database = get_database()
    with database.transaction() as conn:
        conn.run(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
    yield database
    database.close()
    get_settings.cache_clear()
    get_database.cache_clear()


@pytest.fixture
def client(db: Database):
    from fastapi.testclient import TestClient

    from dummi.api.app import create_full_app

    with TestClient(create_full_app(), raise_server_exceptions=False) as test_client:
        yield test_client


def load_event(name: str, **changes: Any) -> dict[str, Any]:
    """An API Gateway HTTP API v2 event from tests/events/, with top-level fields replaced."""
    event = json.loads((EVENTS / f"{name}.json").read_text())
    event.update(changes)
    return event


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
