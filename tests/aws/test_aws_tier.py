"""Publish to S3 and load back, the schedule as the template declares it, and the database secret through
Powertools Parameters: against moto's server (make test) or LocalStack (make test-localstack)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import boto3
import pytest

from dummi.artifacts.loader import ModelCache
from dummi.artifacts.publish import read_pointer
from dummi.artifacts.store import S3Store
from dummi.ml.model_bundle import parse_bundle
from dummi.services.sample_data import load_sample_data
from dummi.training.params import TrainingParams
from dummi.training.runs import run_now
from tests.conftest import read_template

ROOT = Path(__file__).resolve().parents[2]


class CountingStore(S3Store):
    """Counts full downloads, so a test can see that an unchanged pointer costs no download."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.downloads = 0

    def _get(self, key, etag):
        found = super()._get(key, etag)
        if found is not None:
            self.downloads += 1
        return found


def test_a_trained_model_is_published_to_s3_and_loaded_back(db, aws):
    load_sample_data(db, ROOT / "data" / "sample_data.json")
    prefix = f"dummi-{uuid.uuid4().hex[:8]}"
    run = run_now(db, S3Store(aws["bucket"], prefix), "test", TrainingParams())
    assert run.state == "succeeded", run.error

    store = CountingStore(aws["bucket"], prefix)
    cache = ModelCache(store, parse_bundle, check_interval=0)
    loaded = cache.get()
    assert loaded.version == run.model_version == read_pointer(store)["version"]
    assert loaded.model.size == 38 and loaded.model.cf is not None
    downloads = store.downloads
    assert cache.get().version == run.model_version
    assert store.downloads == downloads, "an unchanged pointer is answered 304, nothing downloaded"

    s3 = boto3.client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=aws["bucket"], Prefix=prefix)["Contents"]]
    assert f"{prefix}/models/latest.json" in keys and f"{prefix}/models/{run.model_version}/manifest.json" in keys


def test_the_schedule_declared_in_the_template_can_be_created_as_declared(aws):
    template = read_template()
    expression = template["Parameters"]["TrainingSchedule"]["Default"]
    nightly = template["Resources"]["TrainingFunction"]["Properties"]["Events"]["Nightly"]
    assert nightly["Type"] == "ScheduleV2"
    props = nightly["Properties"]
    sqs = boto3.client("sqs")
    dlq = sqs.get_queue_attributes(
        QueueUrl=sqs.create_queue(QueueName=f"dummi-dlq-{uuid.uuid4().hex[:8]}")["QueueUrl"],
        AttributeNames=["QueueArn"],
    )["Attributes"]["QueueArn"]
    scheduler = boto3.client("scheduler")
    name = f"dummi-nightly-{uuid.uuid4().hex[:8]}"
    scheduler.create_schedule(
        Name=name,
        ScheduleExpression=expression,
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": "arn:aws:lambda:us-east-1:000000000000:function:dummi-training",
            "RoleArn": "arn:aws:iam::000000000000:role/dummi-scheduler",
            "Input": props["Input"],
            "RetryPolicy": props["RetryPolicy"],
            "DeadLetterConfig": {"Arn": dlq},
        },
    )
    found = scheduler.get_schedule(Name=name)
    assert found["ScheduleExpression"] == "cron(0 3 * * ? *)" == expression
    assert found["Target"]["RetryPolicy"]["MaximumRetryAttempts"] == props["RetryPolicy"]["MaximumRetryAttempts"]
    event = json.loads(found["Target"]["Input"])
    assert event["detail-type"] == "Scheduled Event"  # what the training handler recognises


def test_the_database_secret_is_read_through_powertools_parameters(aws, monkeypatch):
    from aws_lambda_powertools.utilities import parameters

    from dummi.config import get_settings
    from dummi.db.connection import get_database

    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("DATABASE_SECRET_ARN", aws["secret_arn"])
    parameters.clear_caches()
    get_settings.cache_clear()
    get_database.cache_clear()
    try:
        db = get_database()
        db.ping()  # connected with credentials from the secret
        assert db.read(lambda conn: conn.run("SELECT current_database()"))[0][0] == "dummi_test"
    finally:
        db.close()
        parameters.clear_caches()
        get_settings.cache_clear()
        get_database.cache_clear()


@pytest.mark.parametrize("missing", ["arn:aws:secretsmanager:us-east-1:000000000000:secret:nope-abcdef"])
def test_a_missing_secret_is_a_clear_error(aws, monkeypatch, missing):
    from aws_lambda_powertools.utilities import parameters
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    from dummi.config import Settings
    from dummi.db.urls import resolve_database_url

    parameters.clear_caches()
    with pytest.raises(GetParameterError):
        resolve_database_url(Settings(database_url=None, database_secret_arn=missing))


def test_the_sam_translated_schedule_deploys_with_the_templates_expression(aws):
    """Deploy the schedule, its role and its dead-letter queue exactly as SAM translates template.yaml,
    through CloudFormation on LocalStack, and read the schedule back."""
    import os
    import subprocess
    import time

    if not os.environ.get("DUMMI_TEST_AWS_ENDPOINT"):
        pytest.skip("moto's CloudFormation does not implement AWS::Scheduler::Schedule; make test-localstack runs this")
    sam_python = ROOT / ".venv" / "tools" / "bin" / "python"
    if not sam_python.exists():
        pytest.skip("the SAM CLI's environment (.venv/tools) is not installed")
    out = subprocess.run(
        [str(sam_python), str(ROOT / "tests" / "aws" / "sam_translate.py"), "TrainingFunctionNightly"],
        capture_output=True,
        text=True,
        check=True,
    )
    translated = json.loads(out.stdout)
    resources = translated["Resources"]
    assert {r["Type"] for r in resources.values()} == {"AWS::Scheduler::Schedule", "AWS::IAM::Role", "AWS::SQS::Queue"}
    function_arn = "arn:aws:lambda:us-east-1:000000000000:function:dummi-training"
    body = json.dumps(resources).replace(
        json.dumps({"Fn::GetAtt": ["TrainingFunction", "Arn"]}), json.dumps(function_arn)
    )
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {"TrainingSchedule": translated["Parameters"]["TrainingSchedule"]},
        "Resources": json.loads(body),
    }
    cfn = boto3.client("cloudformation")
    stack = f"dummi-schedule-{uuid.uuid4().hex[:8]}"
    cfn.create_stack(StackName=stack, TemplateBody=json.dumps(template), Capabilities=["CAPABILITY_IAM"])
    deadline = time.monotonic() + 60
    status = "CREATE_IN_PROGRESS"
    while status.endswith("IN_PROGRESS") and time.monotonic() < deadline:
        time.sleep(0.5)
        status = cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
    assert status == "CREATE_COMPLETE", cfn.describe_stack_events(StackName=stack)["StackEvents"][:3]
    physical = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cfn.describe_stack_resources(StackName=stack)["StackResources"]
    }
    name = physical["TrainingFunctionNightly"].split("/")[-1]
    schedule = boto3.client("scheduler").get_schedule(Name=name)
    expected = read_template()["Parameters"]["TrainingSchedule"]["Default"]
    assert schedule["ScheduleExpression"] == expected
    assert schedule["Target"]["Arn"] == function_arn
    assert schedule["Target"]["RetryPolicy"]["MaximumRetryAttempts"] == 2
    assert schedule["Target"]["DeadLetterConfig"]["Arn"].endswith(
        physical["TrainingFunctionNightlyQueue"].split("/")[-1]
    )
    cfn.delete_stack(StackName=stack)


def test_recommendations_keep_answering_from_the_cached_model_when_s3_is_unreachable(db, aws, monkeypatch):
    from fastapi.testclient import TestClient

    from dummi.api.app import create_full_app
    from dummi.aws import reset_clients
    from dummi.services.recommendation_service import get_engine
    from tests.conftest import _clear_caches

    load_sample_data(db, ROOT / "data" / "sample_data.json")
    prefix = f"dummi-{uuid.uuid4().hex[:8]}"
    run = run_now(db, S3Store(aws["bucket"], prefix), "test", TrainingParams())
    assert run.state == "succeeded", run.error
    monkeypatch.setenv("ARTIFACTS_URI", f"s3://{aws['bucket']}/{prefix}")
    monkeypatch.setenv("DUMMI_MODEL_CHECK_SECONDS", "0")  # every request re-checks the pointer
    _clear_caches()
    user = load_sample_users()[0]
    with TestClient(create_full_app(), raise_server_exceptions=False) as client:
        ranked = {"user_id": user, "explore_slots": 0}  # the model's own ranking (exploration draws at random)
        before = client.post("/recommendations/", json=ranked)
        assert before.status_code == 200 and before.json()["model_version"] == run.model_version

        monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
        reset_clients()
        during = client.post("/recommendations/", json=ranked)
        assert during.status_code == 200 and during.json()["model_version"] == run.model_version
        assert [r["content_id"] for r in during.json()["recommendations"]] == [
            r["content_id"] for r in before.json()["recommendations"]
        ]
        assert get_engine()._models.last_error, "the failed check is recorded"
        # the database is what decides what the user has seen: without it, no answer
        monkeypatch.setenv("DATABASE_URL", "postgresql://nobody:x@127.0.0.1:1/none")
        from dummi.config import get_settings
        from dummi.db.connection import get_database

        get_settings.cache_clear()
        get_database.cache_clear()
        down = client.post("/recommendations/", json={"user_id": user})
        assert down.status_code == 503 and down.headers["Retry-After"]


def load_sample_users() -> list[str]:
    return [u["user_id"] for u in json.loads((ROOT / "data" / "sample_data.json").read_text())["users"]]
