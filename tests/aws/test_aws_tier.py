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
    nightly = template["Resources"]["TrainingStateMachine"]["Properties"]["Events"]["Nightly"]
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
            "Arn": "arn:aws:states:us-east-1:000000000000:stateMachine:dummi-training",
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
    assert event == {"retrain_cf": True, "regenerate_embeddings": False, "engine": "auto"}  # the plan step's input


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
        [str(sam_python), str(ROOT / "tests" / "aws" / "sam_translate.py"), "TrainingStateMachineNightly"],
        capture_output=True,
        text=True,
        check=True,
    )
    translated = json.loads(out.stdout)
    resources = translated["Resources"]
    assert {r["Type"] for r in resources.values()} == {"AWS::Scheduler::Schedule", "AWS::IAM::Role", "AWS::SQS::Queue"}
    machine_arn = "arn:aws:states:us-east-1:000000000000:stateMachine:dummi-training"
    body = json.dumps(resources).replace(json.dumps({"Ref": "TrainingStateMachine"}), json.dumps(machine_arn))
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
    name = physical["TrainingStateMachineNightly"].split("/")[-1]
    schedule = boto3.client("scheduler").get_schedule(Name=name)
    expected = read_template()["Parameters"]["TrainingSchedule"]["Default"]
    assert schedule["ScheduleExpression"] == expected
    assert schedule["Target"]["Arn"] == machine_arn
    assert schedule["Target"]["RetryPolicy"]["MaximumRetryAttempts"] == 2
    assert schedule["Target"]["DeadLetterConfig"]["Arn"].endswith(
        physical["TrainingStateMachineNightlyQueue"].split("/")[-1]
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
        assert get_engine().models.last_error, "the failed check is recorded"
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


def _training_state_machine(sfn) -> str:
    """The training state machine exactly as SAM translates template.yaml, created under the name the mock
    configuration knows, with fixed ARNs for what it invokes; its ARN."""
    import subprocess

    sam_python = ROOT / ".venv" / "tools" / "bin" / "python"
    if not sam_python.exists():
        pytest.skip("the SAM CLI's environment (.venv/tools) is not installed")
    out = subprocess.run(
        [str(sam_python), str(ROOT / "tests" / "aws" / "sam_translate.py"), "TrainingStateMachine"],
        capture_output=True,
        text=True,
        check=True,
    )
    props = json.loads(out.stdout)["Resources"]["TrainingStateMachine"]["Properties"]
    joined = props["DefinitionString"]["Fn::Join"]
    definition = joined[0].join(joined[1])
    for name in props["DefinitionSubstitutions"]:
        definition = definition.replace("${" + name + "}", f"placeholder-{name}")
    definition = definition.replace(
        "placeholder-PlannerFunctionArn", "arn:aws:lambda:us-east-1:000000000000:function:planner"
    )
    definition = definition.replace(
        "placeholder-TrainingFunctionArn", "arn:aws:lambda:us-east-1:000000000000:function:training"
    )
    # LocalStack runs no .sync integration with EMR Serverless, mocked or not ("Unsupported sync callback
    # procedure"): the branch is driven through the request-response form; the wait is AWS's to exercise
    assert definition.count("arn:aws:states:::emr-serverless:startJobRun.sync") == 1
    definition = definition.replace("emr-serverless:startJobRun.sync", "emr-serverless:startJobRun")
    states = json.loads(definition)["States"]  # valid JSON after the substitutions
    assert set(states) >= {"Plan", "Route", "TrainInProcess", "TrainOnSpark", "Verify", "MarkFailed", "Failed"}
    created = sfn.create_state_machine(
        name="dummi-training-under-test",
        definition=definition,
        roleArn="arn:aws:iam::000000000000:role/dummi-training-state-machine",
    )
    return created["stateMachineArn"]


def test_the_training_state_machine_routes_each_plan_and_fails_a_failed_job(aws):
    """On LocalStack's Step Functions with its tasks mocked (tests/aws/sfn_mock_config.json): the planner's
    engine picks the branch, a failed job run marks the run failed and fails the execution, a skipped plan
    ends it. What only AWS exercises: the real EMR Serverless job (.sync), IAM, the VPC path to Postgres."""
    import os
    import time

    if not os.environ.get("DUMMI_TEST_AWS_ENDPOINT"):
        pytest.skip("moto does not run state machines; make test-localstack runs this")
    sfn = boto3.client("stepfunctions")
    machine = _training_state_machine(sfn)

    def run(case: str) -> tuple[str, list[str], dict]:
        execution = sfn.start_execution(stateMachineArn=f"{machine}#{case}", input=json.dumps({"run_id": None}))
        arn = execution["executionArn"]
        deadline = time.monotonic() + 30
        while (found := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
            assert time.monotonic() < deadline, f"{case} did not finish"
            time.sleep(0.2)
        history = sfn.get_execution_history(executionArn=arn)["events"]
        entered = [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]
        return found["status"], entered, found

    status, states, found = run("OnSpark")
    assert status == "SUCCEEDED" and states == ["Plan", "Route", "TrainOnSpark", "Verify"], (states, found)
    assert json.loads(found["output"])["outcome"] == {"state": "succeeded", "model_version": "v1"}
    status, states, _ = run("InProcess")
    assert status == "SUCCEEDED" and states == ["Plan", "Route", "TrainInProcess", "Verify"], states
    status, states, _ = run("SparkJobFails")
    assert status == "FAILED" and states == ["Plan", "Route", "TrainOnSpark", "MarkFailed", "Failed"], states
    status, states, _ = run("AlreadyRunning")
    assert status == "SUCCEEDED" and states == ["Plan", "Route", "Skipped"], states


def test_post_training_train_starts_the_state_machine_once_per_run(aws):
    """The dispatcher POST /training/train uses in AWS, through the same boto3 code: one execution named
    after the run, with the run as its input; a retried dispatch cannot start a second one."""
    from dummi.services.training_dispatch import StepFunctionsDispatcher

    sfn = boto3.client("stepfunctions")
    machine = sfn.create_state_machine(
        name=f"dummi-dispatch-{uuid.uuid4().hex[:8]}",
        definition=json.dumps({"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 30, "End": True}}}),
        roleArn="arn:aws:iam::000000000000:role/dummi-training-state-machine",
    )["stateMachineArn"]
    run_id = str(uuid.uuid4())
    dispatcher = StepFunctionsDispatcher(machine)
    dispatcher.dispatch(run_id)
    executions = sfn.list_executions(stateMachineArn=machine)["executions"]
    assert [e["name"] for e in executions] == [f"run-{run_id}"]
    assert json.loads(sfn.describe_execution(executionArn=executions[0]["executionArn"])["input"]) == {"run_id": run_id}
    dispatcher.dispatch(run_id)  # the same name and input while it runs: AWS answers the same execution
    assert len(sfn.list_executions(stateMachineArn=machine)["executions"]) == 1


def test_a_batch_job_runs_through_sqs_and_s3_and_resumes_without_duplicates(db, aws, monkeypatch, lambda_context):
    """The BatchFunction as in AWS: POST /batch-jobs through its handler, the steps on an SQS queue, chunks
    and output in S3. Steps are delivered as an event source mapping would (a failed one stays on the queue);
    the job is stopped half-way, a chunk is delivered twice, and a resume sends only what is missing."""
    from tests.conftest import _clear_caches, load_event, load_function_module

    load_sample_data(db, ROOT / "data" / "sample_data.json")
    prefix = f"dummi-{uuid.uuid4().hex[:8]}"
    run = run_now(db, S3Store(aws["bucket"], prefix), "test", TrainingParams())
    sqs = boto3.client("sqs")
    queue = sqs.create_queue(QueueName=f"dummi-batch-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    monkeypatch.setenv("ARTIFACTS_URI", f"s3://{aws['bucket']}/{prefix}")
    monkeypatch.setenv("DUMMI_BATCH_QUEUE_URL", queue)
    monkeypatch.setenv("DUMMI_AUTH", "off")
    _clear_caches()
    users = load_sample_users()
    lines = [{"userId": u} for u in users] + [{"userId": "nobody"}]
    S3Store(aws["bucket"], prefix).put("campaigns/in.jsonl", "".join(json.dumps(x) + "\n" for x in lines).encode())
    module = load_function_module("functions/batch")

    def http(method, path, body=None):
        event = load_event("recommendations_recommend", rawPath=path, body=json.dumps(body) if body else None)
        event["requestContext"]["http"].update(method=method, path=path)
        event["routeKey"] = event["requestContext"]["routeKey"] = f"{method} {path}"
        response = module.handler(event, lambda_context)
        return response["statusCode"], json.loads(response["body"])

    def deliver(limit):
        """Receive up to ``limit`` steps one by one, hand each to the handler, delete the ones it did."""
        handled = 0
        while handled < limit:
            got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=1, WaitTimeSeconds=0).get("Messages", [])
            if not got:
                return handled
            m = got[0]
            record = {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:batch",
                "awsRegion": "us-east-1",
                "md5OfBody": "",
            }
            result = module.handler({"Records": [record]}, lambda_context)
            assert result == {"batchItemFailures": []}, result
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
            handled += 1
        return handled

    status, job = http(
        "POST", "/batch-jobs", {"input": "campaigns/in.jsonl", "output": "out/recs.jsonl", "chunk_size": 2}
    )
    assert status == 202, job
    assert deliver(3) == 3  # the split, then two chunks; then the workers "stop"
    status, job = http("GET", f"/batch-jobs/{job['job_id']}")
    assert (job["state"], job["chunks_done"], job["chunks_total"]) == ("running", 2, (len(lines) + 1) // 2)
    while lost := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
        for m in lost:  # the queued steps are lost
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
    status, resumed = http("POST", f"/batch-jobs/{job['job_id']}/resume")
    assert status == 202
    sent = int(
        sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"][
            "ApproximateNumberOfMessages"
        ]
    )
    assert sent == job["chunks_total"] - 2, "only the chunks not answered are sent again"
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"job_id": job["job_id"], "step": "chunk", "chunk": 0}))
    deliver(100)
    status, job = http("GET", f"/batch-jobs/{job['job_id']}")
    assert job["state"] == "succeeded" and job["lines_done"] == len(lines) and job["error_lines"] == 1
    assert job["model_versions"] == [run.model_version]
    out = S3Store(aws["bucket"], prefix).get("out/recs.jsonl").decode().splitlines()
    assert [json.loads(x)["input"] for x in out] == lines, "every line once, in order"
    assert not S3Store(aws["bucket"], prefix).list("batch-jobs/")
