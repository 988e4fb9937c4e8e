"""POST /training/train and GET /training/status on the local app (background thread), and the training
function's scheduled-event and SQS entry points with tests/events/ fixtures."""

from __future__ import annotations

import json
from pathlib import Path

from dummi.artifacts.publish import read_pointer
from dummi.artifacts.store import get_artifact_store
from dummi.services.sample_data import load_sample_data
from tests.conftest import load_event, load_function_module, wait_for_run

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample_data.json"


def _training_module():
    return load_function_module("functions/training")


def test_train_then_status_shows_a_succeeded_run(client, db):
    load_sample_data(db, SAMPLE)
    response = client.post("/training/train", json={"retrain_cf": True, "regenerate_embeddings": True})
    assert response.status_code == 202
    run_id = response.json()["run_id"]
    assert response.json()["state"] == "queued"

    run = wait_for_run(client)
    assert run["run_id"] == run_id and run["state"] == "succeeded", run["error"]
    assert run["model_version"] and run["counts"]["items"] == 38 and run["timings"]["total"] > 0
    assert run["started_at"] and run["finished_at"]
    assert read_pointer(get_artifact_store())["version"] == run["model_version"]


def test_a_second_trigger_while_one_is_queued_is_409(client, db, monkeypatch):
    monkeypatch.setattr("dummi.services.training_dispatch.ThreadDispatcher.dispatch", lambda self, run_id: None)
    first = client.post("/training/train", json={})
    second = client.post("/training/train")
    assert first.status_code == 202 and second.status_code == 409
    assert second.json()["code"] == "training_already_running"
    assert first.json()["run_id"] in second.json()["detail"]


def test_status_says_where_a_run_ran_why_and_its_stages_in_order(client, db):
    load_sample_data(db, SAMPLE)
    assert client.post("/training/train", json={"engine": "local"}).status_code == 202
    run = wait_for_run(client)
    assert run["state"] == "succeeded" and run["engine"] == "local"
    assert run["plan"]["reason"] == "the run asked for the local engine" and run["plan"]["counts"]["items"] == 38
    names = [s["name"] for s in run["stages"]]
    assert names == ["embed", "read", "matrix", "index", "choose", "cf", "item_item", "publish"]
    assert all(s["engine"] == "local" and s["seconds"] >= 0 for s in run["stages"])


def test_the_spark_engine_where_there_is_none_is_a_422_naming_the_engine(client, db, monkeypatch):
    monkeypatch.setattr("dummi.training.planner.importlib.util.find_spec", lambda name: None)
    response = client.post("/training/train", json={"engine": "spark"})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "engine"]
    assert "pyspark is not installed" in response.json()["detail"][0]["msg"]
    assert client.get("/training/status").json()["runs"] == []  # nothing was queued


def test_train_rejects_unknown_fields(client):
    response = client.post("/training/train", json={"retrain": True})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "retrain"]


def test_scheduled_event_runs_training(db, lambda_context):
    load_sample_data(db, SAMPLE)
    result = _training_module().handler(load_event("training_schedule"), lambda_context)
    assert result["state"] == "succeeded"
    assert read_pointer(get_artifact_store())["version"] == result["model_version"]


def test_http_trigger_in_lambda_mode_invokes_the_function_asynchronously(db, lambda_context, monkeypatch):
    invoked = []

    class FakeLambda:
        def invoke(self, **kwargs):
            invoked.append(kwargs)
            return {"StatusCode": 202}

    monkeypatch.setenv("DUMMI_TRAINING_DISPATCH", "lambda")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "dummi-training")
    from dummi.config import get_settings
    from dummi.services.training_dispatch import get_training_dispatcher

    get_settings.cache_clear()
    get_training_dispatcher.cache_clear()
    monkeypatch.setattr("dummi.aws.get_client", lambda service, endpoint_url=None: FakeLambda())
    event = load_event(
        "users_create",
        routeKey="POST /training/train",
        rawPath="/training/train",
        body=json.dumps({"retrain_cf": True}),
    )
    event["requestContext"] = {
        **event["requestContext"],
        "http": {**event["requestContext"]["http"], "path": "/training/train"},
    }
    response = _training_module().handler(event, lambda_context)
    assert response["statusCode"] == 202
    run_id = json.loads(response["body"])["run_id"]
    assert invoked[0]["FunctionName"] == "dummi-training" and invoked[0]["InvocationType"] == "Event"
    assert json.loads(invoked[0]["Payload"]) == {"dummi_training_run": run_id}
    # ... and that asynchronous invocation runs the queued run
    result = _training_module().handler({"dummi_training_run": run_id}, lambda_context)
    assert result == {"run_id": run_id, "state": "succeeded"}


def test_sqs_embedding_messages_embed_the_named_rows(db, client, lambda_context):
    client.post("/content/", json={"content_id": "tut1", "title": "ML for Beginners", "category": "machine-learning"})
    assert db.read(lambda c: c.run("SELECT embedding FROM content WHERE content_id = 'tut1'"))[0][0] is None
    event = load_event("embedding_sqs")
    bad = dict(event["Records"][0], messageId="bad-one", body="not json")
    event["Records"] = [event["Records"][0], bad]
    result = _training_module().embedding_handler(event, lambda_context)
    assert result == {"batchItemFailures": [{"itemIdentifier": "bad-one"}]}
    assert len(db.read(lambda c: c.run("SELECT embedding FROM content WHERE content_id = 'tut1'"))[0][0]) == 1536
