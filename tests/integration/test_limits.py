"""Bounded requests: oversized bodies are a 413 read no further; unknown fields are a 422 everywhere."""

from __future__ import annotations

import json

import pytest


@pytest.fixture
def small_limit(db, monkeypatch):
    monkeypatch.setenv("DUMMI_MAX_BODY_BYTES", "2048")
    from tests.conftest import _clear_caches

    _clear_caches()


def test_a_body_over_the_limit_is_a_413_with_a_json_error(small_limit, client, db):
    body = {"content_id": "big", "title": "t", "category": "c", "description": "x" * 3000}
    response = client.post("/content/", json=body)
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert db.read(lambda conn: conn.run("SELECT count(*) FROM content"))[0][0] == 0
    assert client.post("/content/", json={**body, "description": "x" * 100}).status_code == 201


def test_a_chunked_body_is_cut_off_at_the_limit(small_limit, client, db):
    payload = json.dumps({"content_id": "big", "title": "t", "category": "c", "description": "x" * 3000}).encode()

    def chunks():
        for start in range(0, len(payload), 500):
            yield payload[start : start + 500]

    response = client.post("/content/", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and response.json()["code"] == "payload_too_large"
    assert db.read(lambda conn: conn.run("SELECT count(*) FROM content"))[0][0] == 0


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/users/", {"user_id": "u", "skill_level": "beginner", "role": "admin"}),
        ("PUT", "/users/u", {"interests": ["x"], "role": "admin"}),
        ("POST", "/content/", {"content_id": "c", "title": "t", "category": "c", "price": 1}),
        ("POST", "/recommendations/interact", {"user_id": "u", "content_id": "c", "interaction_type": "click", "x": 1}),
        ("POST", "/recommendations/", {"user_id": "u", "limit": 5}),
        ("POST", "/training/train", {"retrain_cf": True, "epochs": 3}),
    ],
)
def test_unknown_fields_are_a_422_naming_the_field(client, method, path, body):
    response = client.request(method, path, json=body)
    assert response.status_code == 422
    extra = next(
        iter(
            set(body)
            - {
                "user_id",
                "skill_level",
                "interests",
                "content_id",
                "title",
                "category",
                "interaction_type",
                "retrain_cf",
            }
        )
    )
    assert response.json()["detail"][0]["loc"] == ["body", extra]


def test_unknown_or_repeated_query_parameters_are_a_422(client):
    misspelt = client.get("/content/category/python?limt=5")
    assert misspelt.status_code == 422 and misspelt.json()["detail"][0]["loc"] == ["query", "limt"]
    repeated = client.get("/content/category/python?limit=5&limit=50")
    assert repeated.status_code == 422 and repeated.json()["detail"][0]["loc"] == ["query", "limit"]
    assert client.get("/content/category/python?limit=5&offset=0").status_code == 200


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/training/train", {"retrain_cf": 0}, "retrain_cf"),
        ("/recommendations/", {"user_id": "u", "n_recommendations": "5"}, "n_recommendations"),
        ("/recommendations/", {"user_id": "u", "use_cf": "yes"}, "use_cf"),
        ("/recommendations/", {"user_id": "u", "cf_weight": "0.5"}, "cf_weight"),
        ("/recommendations/", {"user_id": "u", "n_recommendations": True}, "n_recommendations"),
        ("/recommendations/interact", {"user_id": "u", "content_id": "c", "interaction_type": "view_time",
                                       "duration_seconds": "30"}, "duration_seconds"),
    ],
)  # fmt: skip
def test_numbers_and_booleans_are_not_guessed_from_other_types(client, path, body, field):
    response = client.post(path, json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", field]


def test_a_whole_float_is_a_fine_count_and_blank_labels_are_refused(client):
    client.post("/users/", json={"user_id": "u"})
    assert client.post("/recommendations/", json={"user_id": "u", "n_recommendations": 3.0}).status_code == 200
    assert client.post("/recommendations/", json={"user_id": "u", "n_recommendations": 3.5}).status_code == 422
    blank = client.put("/users/u", json={"interests": ["python", "  "]})
    assert blank.status_code == 422 and blank.json()["detail"][0]["loc"] == ["body", "interests", 1]
    assert client.put("/users/u", json={"interests": None}).status_code == 422
    assert client.put("/users/u", json={}).status_code == 422


@pytest.mark.parametrize(
    ("method", "path", "raw", "loc"),
    [
        ("PUT", "/event-types/purchase", '{"weight": NaN}', ["body", "weight"]),
        ("PUT", "/event-types/purchase", '{"weight": Infinity}', ["body", "weight"]),
        ("POST", "/recommendations/", '{"user_id": "u", "diversity": -Infinity}', ["body", "diversity"]),
        ("POST", "/recommendations/", '{"user_id": "u", "promotion": {"name": "p", "share": NaN, "filters": []}}',
         ["body", "promotion", "share"]),
        ("POST", "/recommendations/interact", '{"user_id": "u", "content_id": "c", "interaction_type": "view_time",'
         ' "duration_seconds": NaN}', ["body", "duration_seconds"]),
        ("POST", "/content/", '{"content_id": "c2", "title": "t\\ud800", "category": "c"}', ["body", "title"]),
        ("POST", "/content/", '{"content_id": "c2", "title": "t", "category": "c", "properties": {"k": ["v\\u0000"]}}',
         ["body", "properties", "k", 0]),
        ("POST", "/users/", '{"user_id": "u2", "interests": ["ok", "\\udfff"]}', ["body", "interests", 1]),
        ("POST", "/recommendations/", '{"user_id": "u", "category": "a\\u0000"}', ["body", "category"]),
    ],
)  # fmt: skip
def test_text_json_cannot_hold_or_postgres_cannot_store_is_a_422_naming_the_field(client, db, method, path, raw, loc):
    """NaN and Infinity (Python's json reads them), a NUL and a lone surrogate were 500s: the 422 could not be
    written (NaN is not JSON) or Postgres refused the text. Nothing is stored."""
    client.post("/users/", json={"user_id": "u"})
    client.post("/content/", json={"content_id": "c", "title": "t", "category": "c"})
    before = db.read(lambda conn: conn.run("SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM content)"))
    response = client.request(method, path, content=raw.encode(), headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == loc
    after = db.read(lambda conn: conn.run("SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM content)"))
    assert after == before


def test_escaped_text_that_is_whole_unicode_is_stored_as_sent(client):
    raw = '{"content_id": "cafe", "title": "caf\\u00e9 \\ud83d\\ude00", "category": "c", "properties": {"k": "NaN"}}'
    made = client.post("/content/", content=raw.encode(), headers={"Content-Type": "application/json"})
    assert made.status_code == 201, made.text
    item = client.get("/content/cafe").json()
    assert item["title"] == "café \U0001f600" and item["properties"] == {"k": "NaN"}


@pytest.mark.parametrize(
    "url",
    ["/users/a%00b", "/content/py%00", "/content/category/py%00thon", "/users/%FF",
     "/recommendations/popular?category=%FF", "/recommendations/popular?category=a%00",
     "/recommendations/trending?n=5&%00=1"],
)  # fmt: skip
def test_a_nul_or_a_byte_not_utf8_in_the_url_escaped_or_not_is_the_malformed_400(client, url):
    response = client.get(url)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "malformed_request"


@pytest.mark.parametrize(
    ("value", "loc"),
    [("NaN", ["query", "filters"]), ("1e999", ["query", "filters"]),
     ('["a\\u0000"]', ["query", "filters", 0, "value", 0]), ('["\\ud800"]', ["query", "filters", 0, "value", 0])],
)  # fmt: skip
def test_unstorable_text_in_the_filters_query_is_a_422(client, value, loc):
    filters = '[{"field": "category", "op": "in", "value": ' + value + "}]"
    for path in ("/recommendations/popular", "/recommendations/trending"):
        response = client.get(path, params={"filters": filters})
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["loc"] == loc


def test_a_number_too_large_for_a_float_is_a_422_and_only_routes_with_a_body_judge_one(client):
    response = client.post("/recommendations/", content=b'{"user_id": "u", "cf_weight": 1e999}')
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "cf_weight"]
    # no route here, a route without this method, a route that takes no body: the app's own answers
    assert client.post("/nowhere", content=b'{"a": NaN}').status_code == 404
    assert client.post("/health", content=b'{"a": NaN}').status_code == 405
    assert client.request("DELETE", "/users/nobody", content=b'{"a": NaN}').status_code == 404
    # Personalize's routes read their own bodies: too large a number is their InvalidInputException
    raw = b'{"campaignArn": "arn:aws:personalize:us-east-1:1:campaign/c", "userId": "u", "numResults": 1e999}'
    refused = client.post("/personalize/recommendations", content=raw)
    assert refused.status_code == 400 and refused.headers["x-amzn-ErrorType"] == "InvalidInputException"


def test_a_client_gone_before_its_body_arrived_runs_nothing(db):
    """A POST whose client disconnects before its body is read: no route runs on a body it never sent (a
    training run queued with defaults, say)."""
    import asyncio

    from dummi.api.app import create_full_app

    sent = []

    async def receive():
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/training/train", "raw_path": b"/training/train",
             "query_string": b"", "headers": [(b"content-type", b"application/json"), (b"content-length", b"40")],
             "http_version": "1.1", "scheme": "http", "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1),
             "root_path": ""}  # fmt: skip
    asyncio.run(create_full_app()(scope, receive, send))
    assert [m["status"] for m in sent if m["type"] == "http.response.start"] == [400]  # to no one: FastAPI's own
    assert db.read(lambda conn: conn.run("SELECT count(*) FROM training_runs"))[0][0] == 0


def test_past_capacity_requests_are_shed_at_once_with_retry_after():
    """LoadShedding on a real ASGI app: two requests held in handlers fill it, the third hears 503 with
    Retry-After at once (no queueing), /health still answers, and once one finishes requests are served."""
    import threading
    import time

    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from dummi.api.limits import LoadShedding

    release, entered = threading.Event(), threading.Semaphore(0)
    app = FastAPI()

    @app.get("/slow")
    def slow():
        entered.release()
        release.wait(10)
        return {"ok": True}

    @app.get("/health")
    def health():
        return {"ok": True}

    app.add_middleware(LoadShedding, max_in_flight=2)
    with TestClient(app) as client:
        held = [threading.Thread(target=client.get, args=("/slow",)) for _ in range(2)]
        for thread in held:
            thread.start()
        assert entered.acquire(timeout=5) and entered.acquire(timeout=5)
        started = time.perf_counter()
        response = client.get("/slow")
        assert response.status_code == 503 and response.headers["retry-after"] == "1"
        assert response.json()["code"] == "overloaded" and time.perf_counter() - started < 0.5
        assert client.get("/health").status_code == 200
        release.set()
        for thread in held:
            thread.join(5)
        assert client.get("/slow").status_code == 200
