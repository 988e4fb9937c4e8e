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
