"""Newcomers the seed's way, over HTTP on a real Postgres with real embeddings and a real training run: stated
interests lead the list (even niche ones, even once a model ranks popular items first), a new item that
matches is among the first, the fallback says so, `needs_interests` asks, and `suggested-interests` answers
from the catalog before any training and from engagement after it."""

from __future__ import annotations

import math

import pytest

from dummi.artifacts.store import get_artifact_store
from dummi.training.params import TrainingParams
from dummi.training.runs import run_now

CATALOG = {
    # popular: every regular likes most of these
    "databases": [
        ("Indexing Postgres tables for fast lookups", ["sql", "performance"]),
        ("Designing relational schemas", ["sql", "modeling"]),
        ("Transactions and isolation levels explained", ["sql"]),
        ("Query plans: reading EXPLAIN output", ["sql", "performance"]),
        ("Replication and failover for databases", ["operations"]),
        ("Partitioning very large tables", ["sql", "performance"]),
    ],
    "data-science": [
        ("Exploratory data analysis with pandas", ["python", "analysis"]),
        ("Statistics every analyst needs", ["statistics"]),
        ("Plotting data clearly", ["visualization"]),
        ("Cleaning messy datasets", ["python", "analysis"]),
        ("A/B test analysis from scratch", ["statistics"]),
        ("Feature engineering for tabular data", ["python"]),
    ],
    # niche: few items, little engagement
    "cooking": [
        ("Baking sourdough bread at home", ["baking", "bread"]),
        ("Quick weeknight pasta recipes", ["recipes"]),
        ("Baking chocolate chip cookies", ["baking", "dessert"]),
        ("Slow cooker chicken stew", ["recipes"]),
        ("Knife skills for home cooks", ["technique"]),
    ],
}
COOKING = {f"cooking-{i}" for i in range(len(CATALOG["cooking"]))}


def _post(client, path, body, status=201):
    response = client.post(path, json=body)
    assert response.status_code == status, response.text
    return response.json()


@pytest.fixture
def shop(client, db, monkeypatch):
    monkeypatch.setenv("DUMMI_EMBEDDING_MODE", "inline")
    monkeypatch.setenv("DUMMI_MODEL_CHECK_SECONDS", "0")
    from tests.conftest import _clear_caches

    _clear_caches()
    for category, items in CATALOG.items():
        for i, (title, tags) in enumerate(items):
            body = {"content_id": f"{category}-{i}", "title": title, "category": category, "tags": tags}
            _post(client, "/content/", body)
    return client


def _train(db):
    run = run_now(db, get_artifact_store(), "test", TrainingParams())
    assert run.state == "succeeded", run.error
    return run


def _engage(client):
    """Twelve regulars like the databases and data-science items; one of them also liked a cooking item."""
    for u in range(12):
        user = f"regular-{u}"
        _post(client, "/users/", {"user_id": user, "interests": ["databases"], "skill_level": "advanced"})
        for category in ("databases", "data-science"):
            for i in range(len(CATALOG[category])):
                if (u + i) % 4:
                    body = {"user_id": user, "content_id": f"{category}-{i}", "interaction_type": "like"}
                    _post(client, "/recommendations/interact", body)
    _post(
        client,
        "/recommendations/interact",
        {"user_id": "regular-0", "content_id": "cooking-1", "interaction_type": "click"},
    )


def recommend(client, user_id, n=10):
    response = client.post("/recommendations/", json={"user_id": user_id, "n_recommendations": n})
    assert response.status_code == 200, response.text
    return response.json()


def test_niche_interests_lead_a_newcomers_list_once_a_model_prefers_popular_items(shop, db):
    _engage(shop)
    run = _train(db)
    _post(shop, "/users/", {"user_id": "cook", "interests": ["cooking", "baking"], "skill_level": "beginner"})
    _post(shop, "/users/", {"user_id": "anyone", "interests": [], "skill_level": "beginner"})
    popular_first = recommend(shop, "anyone")["recommendations"]
    assert popular_first[0]["content_id"].split("-")[0] in {"databases", "data"}  # the model ranks by engagement

    answer = recommend(shop, "cook")
    assert answer["model_version"] == run.model_version and answer["needs_interests"] is False
    recs = answer["recommendations"]
    top = [r["content_id"] for r in recs[: len(COOKING)]]
    assert set(top) == COOKING  # fewer matches than n: every one of them, first
    assert all(r["method"] == "interest" for r in recs[: len(COOKING)])
    reasons = {r["content_id"]: r["reason"] for r in recs}
    assert reasons["cooking-0"] == "matches your interest cooking"
    assert all(not r["reason"].startswith("matches") for r in recs[len(COOKING) :])

    # at least ceil(0.7 n) of the top n match when at least n items match
    three = recommend(shop, "cook", n=3)["recommendations"]
    assert sum(r["content_id"] in COOKING for r in three) >= math.ceil(0.7 * 3)


def test_a_new_item_matching_a_niche_interest_is_recommended_at_once(shop, db):
    _engage(shop)
    _train(db)
    _post(shop, "/users/", {"user_id": "potter", "interests": ["pottery"], "skill_level": "beginner"})
    before = recommend(shop, "potter")["recommendations"]
    assert before[0]["method"] == "popular"
    assert before[0]["reason"].startswith("nothing matches your interests (pottery) yet; popular in ")

    new = {"content_id": "pottery-0", "title": "Throwing your first bowl on the wheel", "category": "pottery"}
    _post(shop, "/content/", new)  # embedded inline: no retraining, no wait
    after = recommend(shop, "potter")["recommendations"]
    assert after[0]["content_id"] == "pottery-0"
    assert (after[0]["method"], after[0]["reason"]) == ("interest", "matches your interest pottery")

    # a new cooking item joins the first matches of a cook, ahead of older, unengaged cooking items
    _post(shop, "/users/", {"user_id": "cook", "interests": ["cooking"], "skill_level": "beginner"})
    body = {"content_id": "cooking-new", "title": "Braising short ribs", "category": "cooking", "tags": ["recipes"]}
    _post(shop, "/content/", body)
    ranked = [r["content_id"] for r in recommend(shop, "cook")["recommendations"]]
    assert ranked.index("cooking-new") < 3
    assert set(ranked[: len(COOKING) + 1]) == COOKING | {"cooking-new"}


def test_needs_interests_asks_only_newcomers_without_interests(shop, db):
    _post(shop, "/users/", {"user_id": "blank", "interests": [], "skill_level": "beginner"})
    _post(shop, "/users/", {"user_id": "stated", "interests": ["cooking"], "skill_level": "beginner"})
    assert recommend(shop, "blank")["needs_interests"] is True
    assert recommend(shop, "stated")["needs_interests"] is False
    for i in range(5):
        _post(
            shop,
            "/recommendations/interact",
            {"user_id": "blank", "content_id": f"databases-{i}", "interaction_type": "click"},
        )
    assert recommend(shop, "blank")["needs_interests"] is False  # five items: not a newcomer any more


def test_suggested_interests_from_the_catalog_then_from_engagement(shop, db):
    _post(shop, "/users/", {"user_id": "new", "interests": ["Data-Science"], "skill_level": "beginner"})
    before = shop.get("/users/new/suggested-interests?n=4")
    assert before.status_code == 200, before.text
    body = before.json()
    assert body["user_id"] == "new" and body["source"] == "catalog"
    names = [s["interest"] for s in body["suggestions"]]
    assert len(names) == 4 and "data-science" not in names  # what the user has is not suggested
    assert names[0] in {"databases", "sql"} and body["suggestions"][0]["items"] >= 4
    assert names[1] == "cooking"  # varied: the second covers other items than the first (sql would not)
    assert names[2] == "sql"  # all covered: a second round over the rest
    assert body["suggestions"][0]["share"] == pytest.approx(6 / 17) and body["suggestions"][0]["items"] == 6

    _engage(shop)
    _train(db)
    after = shop.get("/users/new/suggested-interests").json()
    assert after["source"] == "engagement" and len(after["suggestions"]) == 5
    assert after["suggestions"][0]["interest"] == "databases"  # most of the engagement is there
    assert "data-science" not in [s["interest"] for s in after["suggestions"]]

    assert shop.get("/users/nobody/suggested-interests").status_code == 404
    bad = shop.get("/users/new/suggested-interests?n=0")
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "n"]
