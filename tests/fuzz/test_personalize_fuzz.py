"""The Personalize routes under generated bodies (they follow botocore's models, not the OpenAPI spec, so
schemathesis does not reach them): for each operation, valid bodies with one field replaced by any JSON value,
fields dropped, any JSON document and any bytes, on a real Postgres holding a little data. No answer may be a
5xx, and every refusal must be in the shape botocore parses (``x-amzn-ErrorType`` and ``__type``)."""

from __future__ import annotations

import json
import os
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.conftest import CASES, STATUSES

EXAMPLES = int(os.environ.get("DUMMI_FUZZ_EXAMPLES", "30"))
ARN = "arn:aws:personalize:us-east-1:123456789012:campaign/home"
FILTER = "arn:aws:personalize:us-east-1:123456789012:filter/f"
# operation -> (path, X-Amz-Target or None, a valid body)
OPERATIONS = {
    "GetRecommendations": (
        "/personalize/recommendations",
        None,
        {"campaignArn": ARN, "userId": "alice", "numResults": 5, "filterArn": FILTER, "filterValues": {"C": '"a"'}},
    ),
    "GetRelatedItems": (
        "/personalize/recommendations",
        None,
        {"campaignArn": ARN, "itemId": "tut1", "numResults": 3, "metadataColumns": {"ITEMS": ["TITLE", "X_Y"]}},
    ),
    "GetPersonalizedRanking": (
        "/personalize/personalize-ranking",
        None,
        {"campaignArn": ARN, "userId": "alice", "inputList": ["tut1", "x"], "context": {"surface": "home"}},
    ),
    "PutEvents": (
        "/personalize/events",
        None,
        {
            "trackingId": "t",
            "userId": "alice",
            "sessionId": "s",
            "eventList": [{"eventType": "click", "itemId": "tut1", "sentAt": 1.7e9, "eventValue": 3.0}],
        },
    ),
    "PutItems": (
        "/personalize/items",
        None,
        {
            "datasetArn": ARN,
            "items": [{"itemId": "i2", "properties": '{"title": "t", "category": "c", "tags": "a|b"}'}],
        },
    ),
    "PutUsers": ("/personalize/users", None, {"datasetArn": ARN, "users": [{"userId": "u2", "properties": "{}"}]}),
    "CreateFilter": (
        "/personalize",
        "AmazonPersonalize.CreateFilter",
        {"name": "g", "datasetGroupArn": ARN, "filterExpression": 'EXCLUDE ItemID WHERE Items.CATEGORY IN ("x")'},
    ),
    "DescribeFilter": ("/personalize", "AmazonPersonalize.DescribeFilter", {"filterArn": FILTER}),
    "ListFilters": ("/personalize", "AmazonPersonalize.ListFilters", {"maxResults": 2}),
    "DeleteFilter": ("/personalize", "AmazonPersonalize.DeleteFilter", {"filterArn": FILTER + "x"}),
}

# what JSON parsers read but nothing downstream holds (written as NaN, \u0000, \ud800), also inside the
# properties' JSON text (test_hostile_text.py has the same for Dummi's own routes)
hostile = st.sampled_from(["a\x00b", "\ud800", "x\udfff", json.dumps({"k": "a\x00"}), json.dumps({"k": "\ud800"})])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30) | hostile,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


@st.composite
def bodies(draw, valid: dict) -> bytes:
    kind = draw(st.sampled_from(["replace", "drop", "nested", "document", "bytes"]))
    body = json.loads(json.dumps(valid))
    if kind == "replace":
        body[draw(st.sampled_from(sorted(body)))] = draw(json_values)
    elif kind == "drop":
        body.pop(draw(st.sampled_from(sorted(body))))
    elif kind == "nested":  # inside the first list of records (events, items, users, inputList)
        lists = [k for k, v in body.items() if isinstance(v, list) and v]
        if lists and isinstance(body[lists[0]][0], dict):
            record = body[lists[0]][0]
            record[draw(st.sampled_from(sorted(record)))] = draw(json_values)
    elif kind == "document":
        return json.dumps(draw(json_values)).encode()
    else:
        return draw(st.binary(max_size=60))
    return json.dumps(body).encode()


@pytest.fixture
def seeded(client, db, monkeypatch):
    monkeypatch.setenv("DUMMI_MODEL_CHECK_SECONDS", "0")
    from tests.conftest import _clear_caches

    _clear_caches()
    client.post("/users/", json={"user_id": "alice", "interests": ["python"], "skill_level": "beginner"})
    client.post("/content/", json={"content_id": "tut1", "title": "Python basics", "category": "python"})
    headers = {"X-Amz-Target": "AmazonPersonalize.CreateFilter"}
    body = {"name": "f", "datasetGroupArn": ARN, "filterExpression": "INCLUDE ItemID WHERE Items.CATEGORY IN ($C)"}
    assert client.post("/personalize", json=body, headers=headers).status_code == 200
    return client


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_no_5xx_and_every_refusal_in_aws_shape(operation, seeded):
    path, target, valid = OPERATIONS[operation]

    @settings(deadline=None, suppress_health_check=list(HealthCheck), max_examples=EXAMPLES)
    @given(body=bodies(valid), target_header=st.sampled_from([target, target, "AmazonPersonalize.Nope", ""]))
    def run(body: bytes, target_header: str | None) -> None:
        headers = {"Content-Type": "application/x-amz-json-1.1" if target else "application/json"}
        if target and target_header:
            headers["X-Amz-Target"] = target_header
        started = time.monotonic()
        response = seeded.post(path, content=body, headers=headers)
        assert response.status_code < 500, (operation, body, response.text)
        assert time.monotonic() - started < 10
        if response.status_code >= 400:
            assert response.headers["x-amzn-ErrorType"] == response.json()["__type"], response.text
        CASES[("in process", f"personalize {operation}")] += 1
        STATUSES[response.status_code] += 1

    run()
