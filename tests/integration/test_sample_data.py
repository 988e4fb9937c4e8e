import json
from pathlib import Path

from dummi.services.sample_data import load_sample_data

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample_data.json"
SEED_IDS = {"alice", "bob", "tut1", "tut2"}


def test_sample_data_is_realistic_and_leaves_the_seed_ids_free():
    data = json.loads(SAMPLE.read_text())
    assert len(data["content"]) >= 24
    assert len({c["category"] for c in data["content"]}) >= 4
    assert len(data["users"]) >= 5 and len(data["interactions"]) >= 50
    ids = {u["user_id"] for u in data["users"]} | {c["content_id"] for c in data["content"]}
    assert not ids & SEED_IDS


def test_sample_data_loads_once_through_the_api_schemas(db, client):
    first = load_sample_data(db, SAMPLE)
    data = json.loads(SAMPLE.read_text())
    assert first.loaded
    assert (first.users, first.content) == (len(data["users"]), len(data["content"]))
    assert first.events == len(data["interactions"]) + len(data["feedback"])
    assert load_sample_data(db, SAMPLE).loaded is False

    user = data["users"][0]
    body = client.get(f"/users/{user['user_id']}").json()
    assert body["history"], "sample users come with history"
    events = [e for e in data["interactions"] + data["feedback"] if e["user_id"] == user["user_id"]]
    newest = max(events, key=lambda e: e["timestamp"])
    assert body["history"][0] == newest["content_id"]
    # the seed's own examples still work on top of the sample
    assert (
        client.post("/users/", json={"user_id": "alice", "interests": [], "skill_level": "beginner"}).status_code == 201
    )
