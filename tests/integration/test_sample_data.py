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


# the sample's users whose likes all sit in one category
ONE_CATEGORY_FANS = ("sofia", "emma", "noah", "priya")
DIVERSITY_STEPS = (0.0, 0.25, 0.5, 0.75, 1.0)


def test_diversity_spreads_a_one_category_fans_list_over_more_categories(db, client):
    import numpy as np

    from dummi.artifacts.store import get_artifact_store
    from dummi.ml.embeddings import from_bytes
    from dummi.ml.metrics import intra_list_diversity
    from dummi.training.params import TrainingParams
    from dummi.training.runs import run_now

    load_sample_data(db, SAMPLE)
    data = json.loads(SAMPLE.read_text())
    category = {c["content_id"]: c["category"] for c in data["content"]}
    for user in ONE_CATEGORY_FANS:
        likes = {
            category[e["content_id"]]
            for e in data["interactions"]
            if e["user_id"] == user and e["interaction_type"] == "like"
        }
        assert len(likes) == 1, (user, likes)
    assert run_now(db, get_artifact_store(), "test", TrainingParams()).state == "succeeded"
    vectors = {r[0]: from_bytes(r[1]) for r in db.read(lambda c: c.run("SELECT content_id, embedding FROM content"))}

    spread, ild = {}, {}
    for user in ONE_CATEGORY_FANS:
        for d in DIVERSITY_STEPS:
            body = {"user_id": user, "n_recommendations": 10, "diversity": d, "explore_slots": 0}
            listed = [r["content_id"] for r in client.post("/recommendations/", json=body).json()["recommendations"]]
            assert len(listed) == 10
            spread[user, d] = len({category[c] for c in listed})
            ild[user, d] = round(intra_list_diversity(np.stack([vectors[c] for c in listed])), 4)
    # more categories at 1 than at 0 wherever the ranked list leaves room (noah's already spans all six)
    room = [u for u in ONE_CATEGORY_FANS if spread[u, 0.0] < len(set(category.values()))]
    assert len(room) >= 3, spread
    assert all(spread[u, 1.0] > spread[u, 0.0] for u in room), spread
    for user in ONE_CATEGORY_FANS:  # and more variety with every step of the knob
        values = [ild[user, d] for d in DIVERSITY_STEPS]
        assert values == sorted(values), f"{ild}"
