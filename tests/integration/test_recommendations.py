"""The seed's success criteria, on a small catalog with known structure: three topics, users who each
like one topic. Real Postgres, real embeddings, real training, the real recommender over HTTP."""

from __future__ import annotations

import pytest

from dummi.artifacts.store import get_artifact_store
from dummi.training.params import TrainingParams
from dummi.training.runs import run_now

TOPICS = {
    "python": (
        "programming",
        [
            "Python list comprehensions explained",
            "Writing fast Python with NumPy arrays",
            "Python decorators and closures",
            "Async Python with asyncio tasks",
            "Testing Python code with pytest fixtures",
            "Python type hints and mypy",
            "Packaging a Python library with pyproject",
            "Python generators for streaming data",
            "Profiling slow Python programs",
            "Python dataclasses in practice",
        ],
    ),
    "cooking": (
        "food",
        [
            "Baking sourdough bread at home",
            "Quick weeknight pasta recipes",
            "How to roast vegetables perfectly",
            "Homemade pizza dough and toppings",
            "Slow cooker chicken stew recipe",
            "Making fresh pasta by hand",
            "Simple vegetarian curry recipe",
            "Knife skills for home cooks",
            "Baking chocolate chip cookies",
            "Grilling steak to the right doneness",
        ],
    ),
    "gardening": (
        "garden",
        [
            "Growing tomatoes in containers",
            "Composting kitchen scraps for the garden",
            "Pruning roses in early spring",
            "Planting a vegetable garden bed",
            "Watering houseplants the right way",
            "Growing herbs on a windowsill",
            "Protecting garden plants from frost",
            "Choosing flowers that attract bees",
            "Starting seeds indoors under lights",
            "Mulching garden beds to save water",
        ],
    ),
}


def _items(topic: str) -> list[str]:
    return [f"{topic}-{i}" for i in range(10)]


@pytest.fixture
def catalog(client, db, monkeypatch):
    monkeypatch.setenv("DUMMI_EMBEDDING_MODE", "inline")
    monkeypatch.setenv("DUMMI_MODEL_CHECK_SECONDS", "0")
    from tests.conftest import _clear_caches

    _clear_caches()
    for topic, (category, titles) in TOPICS.items():
        for i, title in enumerate(titles):
            assert (
                client.post(
                    "/content/",
                    json={"content_id": f"{topic}-{i}", "title": title, "category": category, "tags": [topic]},
                ).status_code
                == 201
            )
    # ten users per topic; each likes six of its topic's items (a rotating window, so items overlap)
    for topic in TOPICS:
        for u in range(10):
            user = f"{topic}-fan-{u}"
            client.post("/users/", json={"user_id": user, "interests": [topic], "skill_level": "intermediate"})
            for k in range(6):
                item = f"{topic}-{(u + k) % 10}"
                client.post(
                    "/recommendations/interact", json={"user_id": user, "content_id": item, "interaction_type": "like"}
                )
    run = run_now(db, get_artifact_store(), "test", TrainingParams())
    assert run.state == "succeeded", run.error
    return run


def recommend(client, user_id, **options):
    response = client.post("/recommendations/", json={"user_id": user_id, **options})
    assert response.status_code == 200, response.text
    return response.json()


def ids(answer) -> list[str]:
    return [r["content_id"] for r in answer["recommendations"]]


def test_response_shape_and_model_version(client, catalog):
    answer = recommend(client, "python-fan-0", n_recommendations=3)
    assert answer["user_id"] == "python-fan-0" and answer["model_version"] == catalog.model_version
    assert answer["timestamp"] and len(answer["recommendations"]) == 3
    first = answer["recommendations"][0]
    assert set(first) == {"content_id", "title", "category", "score", "method", "reason", "promoted", "promotion"}
    assert first["promoted"] is False and first["promotion"] is None  # no promotion asked for
    assert answer["page"] == 1 and answer["next_page_token"] and answer["session_id"] is None
    assert first["method"] in {"hybrid", "cf", "embedding", "interest", "popular"} and first["reason"]


def test_recommendations_change_per_user_and_follow_taste(client, catalog):
    python_fan = ids(recommend(client, "python-fan-0", n_recommendations=4))
    cook = ids(recommend(client, "cooking-fan-0", n_recommendations=4))
    assert python_fan != cook
    assert all(i.startswith("python-") for i in python_fan)
    assert all(i.startswith("cooking-") for i in cook)


def test_similar_users_receive_similar_content(client, catalog):
    a = set(ids(recommend(client, "gardening-fan-1", n_recommendations=4)))
    b = set(ids(recommend(client, "gardening-fan-2", n_recommendations=4)))
    c = set(ids(recommend(client, "python-fan-1", n_recommendations=4)))
    assert len(a & b) >= 2 and not a & c


def test_seen_items_never_return(client, catalog):
    seen = set(client.get("/users/python-fan-3").json()["history"])
    everything = ids(recommend(client, "python-fan-3", n_recommendations=100))
    assert seen and not seen & set(everything)
    assert len(everything) == 30 - len(seen)


def test_a_like_moves_similar_items_up_and_a_skip_moves_them_down(client, catalog):
    # a python fan starts liking cooking: cooking items rise in the very next answer, without retraining (the
    # ranking's own order: an exploration slot would draw a young item at random)
    before = ids(recommend(client, "python-fan-4", n_recommendations=10, explore_slots=0))
    for item in ("cooking-0", "cooking-1", "cooking-5"):
        client.post(
            "/recommendations/interact",
            json={"user_id": "python-fan-4", "content_id": item, "interaction_type": "like"},
        )
    after = ids(recommend(client, "python-fan-4", n_recommendations=10, explore_slots=0))
    cooking_before = sum(i.startswith("cooking-") for i in before)
    cooking_after = sum(i.startswith("cooking-") for i in after)
    assert cooking_after > cooking_before

    # a skip counts against the skipped item's close neighbours: two users with cooking-fan-0's likes
    # (cooking-0..5) act on cooking-6 ("vegetarian curry"), one with a skip, the other with a click (either
    # takes it out of the list); its neighbours cooking-7 and cooking-8 score lower for the skipper
    # (cooking-9, "grilling steak", is not one of them)
    skipped, neighbours = "cooking-6", {"cooking-7", "cooking-8"}
    scores = lambda answer: {r["content_id"]: r["score"] for r in answer["recommendations"]}  # noqa: E731
    for user, action in (("skipper", "skip"), ("clicker", "click")):
        client.post("/users/", json={"user_id": user, "interests": ["cooking"], "skill_level": "intermediate"})
        for item in [f"cooking-{k}" for k in range(6)] + [skipped]:
            event = {"user_id": user, "content_id": item, "interaction_type": action if item == skipped else "like"}
            assert client.post("/recommendations/interact", json=event).status_code == 201
    skipper = scores(recommend(client, "skipper", n_recommendations=20, explore_slots=0))
    clicker = scores(recommend(client, "clicker", n_recommendations=20, explore_slots=0))
    assert skipped not in skipper and skipped not in clicker
    assert neighbours <= set(skipper) & set(clicker), (skipper, clicker)  # listed by both: comparable
    assert all(skipper[i] < clicker[i] for i in neighbours), (skipper, clicker)


def test_cold_start_users_get_interest_matched_items(client, catalog):
    client.post(
        "/users/", json={"user_id": "newcomer", "interests": ["gardening", "plants"], "skill_level": "beginner"}
    )
    answer = recommend(client, "newcomer", n_recommendations=5)
    assert sum(i.startswith("gardening-") for i in ids(answer)) >= 4
    assert any(r["method"] == "interest" and "gardening" in r["reason"] for r in answer["recommendations"])


def test_new_content_is_recommendable_before_retraining(client, catalog):
    client.post(
        "/content/",
        json={
            "content_id": "python-new",
            "title": "Python context managers and with",
            "category": "programming",
            "tags": ["python"],
        },
    )
    everything = ids(recommend(client, "python-fan-0", n_recommendations=100))
    assert "python-new" in everything
    python_part = [i for i in everything if i.startswith("python-")]
    assert everything.index("python-new") < len(python_part) + 2


def test_many_new_items_compete_by_closeness_not_by_age(client, catalog):
    """Past a fifth of the candidate pool, the new items that join it are those closest to the user's
    profile: the one Python item, written first, outranks a hundred newer cooking ones."""
    from tests.conftest import _clear_caches

    _clear_caches()  # a new engine reads every new item on its first request
    new = {"content_id": "python-new", "title": "Python context managers and with", "category": "programming"}
    assert client.post("/content/", json=new).status_code == 201
    for i in range(110):
        item = {"content_id": f"cooking-new-{i}", "title": f"Weeknight recipe number {i}", "category": "food"}
        assert client.post("/content/", json=item).status_code == 201
    answer = ids(recommend(client, "python-fan-0", n_recommendations=20))
    assert "python-new" in answer
    assert sum(i.startswith("cooking-new-") for i in answer) < 20


def test_use_cf_use_embeddings_and_cf_weight_change_the_ranking(client, catalog):
    ranked = {"n_recommendations": 10, "explore_slots": 0}  # the ranking alone (exploration draws at random)
    both = recommend(client, "python-fan-5", **ranked)
    cf_only = recommend(client, "python-fan-5", **ranked, use_embeddings=False)
    content_only = recommend(client, "python-fan-5", **ranked, use_cf=False)
    assert {r["method"] for r in both["recommendations"]} == {"hybrid"}
    assert {r["method"] for r in cf_only["recommendations"]} == {"cf"}
    assert {r["method"] for r in content_only["recommendations"]} == {"embedding"}
    full_cf = recommend(client, "python-fan-5", **ranked, cf_weight=1.0)
    assert ids(full_cf) == ids(cf_only)
    full_content = recommend(client, "python-fan-5", **ranked, cf_weight=0.0)
    assert ids(full_content) == ids(content_only)
    assert ids(cf_only) != ids(content_only)


def test_filters_and_errors(client, catalog):
    only = recommend(client, "python-fan-0", category="food", n_recommendations=5)
    assert ids(only) and all(i.startswith("cooking-") for i in ids(only))
    skip = ids(recommend(client, "python-fan-0", n_recommendations=3))
    again = ids(recommend(client, "python-fan-0", n_recommendations=3, exclude=skip[:2]))
    assert not set(skip[:2]) & set(again)
    assert client.post("/recommendations/", json={"user_id": "nobody"}).status_code == 404
    for bad in (
        {"n_recommendations": 0},
        {"n_recommendations": 101},
        {"cf_weight": 1.5},
        {"use_cf": "maybe"},
        {"exclude": ["a b"]},
    ):
        response = client.post("/recommendations/", json={"user_id": "python-fan-0", **bad})
        assert response.status_code == 422, bad
        assert response.json()["detail"][0]["loc"][1] == next(iter(bad))


def test_popular_and_similar(client, catalog):
    popular = client.get("/recommendations/popular?n=3").json()
    assert len(popular["recommendations"]) == 3 and popular["recommendations"][0]["method"] == "popular"
    in_food = client.get("/recommendations/popular?category=food&n=20").json()["recommendations"]
    assert len(in_food) == 10 and all(r["category"] == "food" for r in in_food)
    assert in_food[0]["reason"] == "popular in food"
    similar = client.get("/content/gardening-0/similar?n=3").json()["recommendations"]
    assert len(similar) == 3 and "gardening-0" not in [r["content_id"] for r in similar]
    assert all(r["content_id"].startswith("gardening-") for r in similar)
    assert client.get("/content/nope/similar").status_code == 404


def test_recommendations_before_any_training_use_embeddings(client, db, monkeypatch):
    monkeypatch.setenv("DUMMI_EMBEDDING_MODE", "inline")
    from tests.conftest import _clear_caches

    _clear_caches()
    for i, title in enumerate(TOPICS["gardening"][1][:3] + TOPICS["python"][1][:3]):
        client.post("/content/", json={"content_id": f"c{i}", "title": title, "category": "x"})
    client.post("/users/", json={"user_id": "early", "interests": ["gardening"]})
    answer = recommend(client, "early", n_recommendations=3)
    assert answer["model_version"] is None
    assert set(ids(answer)) == {"c0", "c1", "c2"}


def test_the_recommendations_function_handler(client, catalog, lambda_context):
    import json

    from tests.conftest import load_event, load_function_module

    event = load_event("recommendations_recommend")
    response = load_function_module("functions/recommendations").handler(event, lambda_context)
    assert response["statusCode"] == 200, response["body"]
    body = json.loads(response["body"])
    assert body["model_version"] == catalog.model_version
    assert len(body["recommendations"]) == 5
    assert all(r["content_id"].startswith("python-") for r in body["recommendations"][:3])
