"""The AWS integration tier: real HTTP to an AWS endpoint through the same boto3 code that runs in AWS.

`make test` runs it against moto's server on loopback; `make test-localstack` runs it against LocalStack in
host mode (DUMMI_TEST_AWS_ENDPOINT=http://127.0.0.1:4566). Resources are created as the LocalStack ready-hook
creates them (localstack/resources.py).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _resources_module():
    spec = importlib.util.spec_from_file_location("dummi_localstack_resources", ROOT / "localstack" / "resources.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def aws_endpoint(request) -> str:
    endpoint = os.environ.get("DUMMI_TEST_AWS_ENDPOINT")
    return endpoint or request.getfixturevalue("moto_server")


@pytest.fixture
def aws(aws_endpoint, migrated, monkeypatch):
    """Endpoint, bucket and database secret (pointing at the test Postgres), with boto3 aimed at them."""
    from dummi.aws import reset_clients

    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    reset_clients()
    created = _resources_module().create(aws_endpoint, migrated)
    yield {"endpoint": aws_endpoint, **created}
    reset_clients()
