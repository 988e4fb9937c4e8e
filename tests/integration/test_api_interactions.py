"""Interactions and feedback over HTTP against the real Postgres."""

import pytest


@pytest.fixture
def alice_and_tut1(client):
    client.post("/users/", json={"user_id": "alice", "interests": ["ml"], "skill_level": "intermediate"})
    client.post("/content/", json={"content_id": "tut1", "title": "ML for Beginners", "category": "ml"})


def test_feedback_as_in_the_seed_is_stored_with_a_server_timestamp(client, alice_and_tut1):
    response = client.post(
        "/recommendations/feedback", json={"user_id": "alice", "content_id": "tut1", "feedback_type": "positive"}
    )
    assert response.status_code == 201
    body = response.json()
    assert body["feedback_type"] == "positive" and body["timestamp"] and body["interaction_id"] > 0
    assert client.get("/users/alice").json()["history"] == ["tut1"]


@pytest.mark.parametrize("kind", ["click", "like", "skip", "view_time"])
def test_every_interaction_type_is_recorded(client, alice_and_tut1, kind):
    payload = {"user_id": "alice", "content_id": "tut1", "interaction_type": kind, "duration_seconds": 120}
    response = client.post("/recommendations/interact", json=payload)
    assert response.status_code == 201
    assert response.json()["interaction_type"] == kind
    assert response.json()["duration_seconds"] == 120


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"user_id": "ghost", "content_id": "tut1"}, "user_id"),
        ({"user_id": "alice", "content_id": "ghost"}, "content_id"),
        ({"user_id": "ghost", "content_id": "ghost"}, "user_id"),
    ],
)
def test_unknown_user_or_content_is_404_naming_it(client, alice_and_tut1, payload, field):
    for path, extra in (
        ("/recommendations/interact", {"interaction_type": "click"}),
        ("/recommendations/feedback", {"feedback_type": "negative"}),
    ):
        response = client.post(path, json={**payload, **extra})
        assert response.status_code == 404
        assert response.json()["field"] == field
    assert client.get("/users/alice").json()["history"] == []


def test_bad_interaction_values_are_422(client, alice_and_tut1):
    base = {"user_id": "alice", "content_id": "tut1"}
    negative = client.post(
        "/recommendations/interact", json={**base, "interaction_type": "view_time", "duration_seconds": -5}
    )
    assert negative.status_code == 422
    assert negative.json()["detail"][0]["loc"] == ["body", "duration_seconds"]
    assert client.post("/recommendations/interact", json={**base, "interaction_type": "share"}).status_code == 422
    assert client.post("/recommendations/feedback", json={**base, "feedback_type": "meh"}).status_code == 422
    assert client.get("/users/alice").json()["history"] == []


def _count(db) -> int:
    return db.read(lambda conn: conn.run("SELECT count(*) FROM interactions"))[0][0]


@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("/recommendations/interact", {"interaction_type": "view_time", "duration_seconds": 42.5}),
        ("/recommendations/feedback", {"feedback_type": "negative"}),
    ],
)
def test_an_event_sent_twice_with_its_event_id_is_stored_once(client, alice_and_tut1, db, path, payload):
    event = {"user_id": "alice", "content_id": "tut1", "event_id": "evt-7f3a", **payload}
    first = client.post(path, json=event)
    retry = client.post(path, json=event)
    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json() == first.json() and first.json()["event_id"] == "evt-7f3a"
    assert _count(db) == 1

    changed = client.post(path, json={**event, "content_id": "tut1", "user_id": "alice", **_other(payload)})
    assert changed.status_code == 409 and changed.json()["field"] == "event_id"
    # without an event_id every post is a new event
    client.post(path, json={k: v for k, v in event.items() if k != "event_id"})
    client.post(path, json={k: v for k, v in event.items() if k != "event_id"})
    assert _count(db) == 3


def _other(payload: dict) -> dict:
    if "feedback_type" in payload:
        return {"feedback_type": "positive"}
    return {"duration_seconds": payload["duration_seconds"] + 1}


def test_concurrent_retries_of_one_event_store_it_once(client, alice_and_tut1, db):
    from concurrent.futures import ThreadPoolExecutor

    event = {"user_id": "alice", "content_id": "tut1", "interaction_type": "like", "event_id": "once"}
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda _: client.post("/recommendations/interact", json=event), range(12)))
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["interaction_id"] for a in answers}) == 1
    assert _count(db) == 1


def test_an_event_id_is_checked_like_any_id(client, alice_and_tut1):
    event = {"user_id": "alice", "content_id": "tut1", "interaction_type": "click"}
    bad = client.post("/recommendations/interact", json={**event, "event_id": "has space"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "event_id"]
    too_long = client.post("/recommendations/interact", json={**event, "event_id": "e" * 129})
    assert too_long.status_code == 422
