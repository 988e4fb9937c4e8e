"""Each function's real Lambda handler with API Gateway HTTP API v2 events from tests/events/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import load_event, load_function_module

ROOT = Path(__file__).resolve().parents[2]


def _handler(function: str):
    return load_function_module(f"functions/{function}").handler


def _call(function: str, event_name: str, lambda_context, **changes) -> tuple[int, dict]:
    response = _handler(function)(load_event(event_name, **changes), lambda_context)
    return response["statusCode"], json.loads(response["body"])


@pytest.fixture
def seeded(db, lambda_context):
    assert _call("users", "users_create", lambda_context)[0] == 201
    assert _call("content", "content_create", lambda_context)[0] == 201


def test_the_seeds_flow_through_the_handlers(db, lambda_context):
    status, user = _call("users", "users_create", lambda_context)
    assert status == 201 and user["user_id"] == "alice"
    status, item = _call("content", "content_create", lambda_context)
    assert status == 201 and item["content_id"] == "tut1"
    status, event = _call("interactions", "interactions_feedback", lambda_context)
    assert status == 201 and event["feedback_type"] == "positive"
    status, event = _call("interactions", "interactions_interact", lambda_context)
    assert status == 201 and event["duration_seconds"] == 120
    status, user = _call("users", "users_get", lambda_context)
    assert status == 200 and user["history"] == ["tut1"]
    status, user = _call("users", "users_update", lambda_context)
    assert status == 200 and user["interests"][-1] == "data-science"
    status, item = _call("content", "content_get", lambda_context)
    assert status == 200 and item["title"] == "ML for Beginners"
    status, page = _call("content", "content_category", lambda_context)
    assert status == 200 and [i["content_id"] for i in page["items"]] == ["tut1"]
    status, health = _call("meta", "meta_health", lambda_context)
    assert status == 200 and health["database"] == "ok"


def test_handler_errors_keep_their_status_and_field(seeded, lambda_context):
    status, user = _call("users", "users_create", lambda_context)
    assert (status, user["user_id"]) == (200, "alice")  # the same create again is a safe retry
    changed = json.loads(load_event("users_create")["body"]) | {"skill_level": "expert"}
    status, body = _call("users", "users_create", lambda_context, body=json.dumps(changed))
    assert (status, body["field"]) == (409, "user_id")
    status, body = _call(
        "interactions",
        "interactions_interact",
        lambda_context,
        body=json.dumps({"user_id": "alice", "content_id": "ghost", "interaction_type": "click"}),
    )
    assert (status, body["field"]) == (404, "content_id")
    status, body = _call("users", "users_create", lambda_context, body='{"user_id": ')
    assert status == 422 and body["detail"][0]["type"] == "json_invalid"


MALFORMED = {"detail": "malformed HTTP request: the server cannot parse it", "code": "malformed_request", "field": None}


def test_an_event_that_cannot_be_a_request_is_the_400_dummi_run_gives(db, lambda_context):
    """What uvicorn refuses before any route (a NUL in the URL or a header) and what Mangum cannot turn into
    a request (a body that is not base64, a lone surrogate) answer the 400 every operation documents, as
    JSON; not a crashed invocation (a 500 from API Gateway)."""
    bad = [
        {"rawQueryString": "category=a\x00b"},
        {"rawPath": "/content/category/a\x00b"},
        {"headers": {"x-api-key": "a\x00b"}},
        {"rawQueryString": "category=\udcff"},
    ]
    for changes in bad:
        response = _handler("content")(load_event("content_category", **changes), lambda_context)
        assert response["statusCode"] == 400, changes
        assert response["headers"]["content-type"] == "application/json"
        assert json.loads(response["body"]) == MALFORMED
    status, body = _call("users", "users_create", lambda_context, body="!!!not base64", isBase64Encoded=True)
    assert (status, body) == (400, MALFORMED)
    # sent percent-encoded, the same: a NUL or a byte that is not UTF-8, once decoded, in the query or the path
    # (API Gateway hands the path over decoded); never a value a route or Postgres must make sense of
    for changes in ({"rawQueryString": "limit=%00"}, {"rawQueryString": "category=%FF"}):
        assert _call("content", "content_category", lambda_context, **changes) == (400, MALFORMED), changes
    for raw, decoded in (("py%00thon", "py\x00thon"), ("py%FFthon", "py\ufffdthon")):
        event = load_event("content_category", rawPath=f"/content/category/{raw}")
        event["requestContext"]["http"]["path"] = f"/content/category/{decoded}"
        assert json.loads(_handler("content")(event, lambda_context)["body"]) == MALFORMED, raw


def test_handler_accepts_a_base64_body_as_api_gateway_may_send(db, lambda_context):
    import base64

    raw = json.dumps({"user_id": "b64user", "interests": [], "skill_level": "beginner"}).encode()
    status, body = _call(
        "users", "users_create", lambda_context, body=base64.b64encode(raw).decode(), isBase64Encoded=True
    )
    assert status == 201 and body["user_id"] == "b64user"


def test_handler_logs_and_metrics(db, lambda_context, capsys, service_log):
    _call("users", "users_get", lambda_context)  # 404: alice does not exist yet
    _call("meta", "meta_health", lambda_context)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    served = [json.loads(line) for line in service_log.getvalue().splitlines()]
    served = [line for line in served if line.get("message") == "request served"]
    assert [(s["status"], s["correlation_id"]) for s in served] == [
        (404, "users_get-request-id"),
        (200, "meta_health-request-id"),
    ]
    assert served[0]["path"] == "/users/alice" and served[0]["function_request_id"] == lambda_context.aws_request_id
    metrics = [line for line in lines if "_aws" in line]
    assert metrics, "Powertools Metrics flushed an EMF blob"
    assert any("Requests" in m for m in metrics)
    assert any("ClientErrors" in m for m in metrics)


def test_docs_are_served_by_the_meta_function(lambda_context, db):
    event = load_event("meta_health", rawPath="/openapi.json", routeKey="GET /openapi.json")
    event["requestContext"] = {
        **event["requestContext"],
        "http": {**event["requestContext"]["http"], "path": "/openapi.json"},
    }
    response = _handler("meta")(event, lambda_context)
    assert response["statusCode"] == 200
    assert "/recommendations/interact" in json.loads(response["body"])["paths"]


def test_the_lifecycle_through_the_handlers(seeded, lambda_context):
    assert _call("interactions", "interactions_feedback", lambda_context)[0] == 201
    status, item = _call("content", "content_update", lambda_context)
    assert status == 200 and item["hidden"] is True and item["properties"] == {"lang": "en", "in_stock": True}
    status, page = _call("content", "content_category", lambda_context)
    assert status == 200 and page["items"] == []  # hidden: out of the category page
    status, doc = _call("users", "users_export", lambda_context)
    assert status == 200 and doc["profile"]["user_id"] == "alice" and len(doc["events"]) == 1
    response = _handler("content")(load_event("content_delete"), lambda_context)
    assert response["statusCode"] == 204
    assert _call("content", "content_get", lambda_context)[0] == 404
    response = _handler("users")(load_event("users_delete"), lambda_context)
    assert response["statusCode"] == 204
    assert _call("users", "users_get", lambda_context)[0] == 404
    assert _call("users", "users_export", lambda_context)[0] == 404
