"""A user's export and erasure (GDPR articles 15, 17 and 20) through the real app on the real Postgres: one
document with everything stored, one transaction that leaves nothing behind, models that forget."""

from __future__ import annotations

import json
import threading

import pytest

from dummi.artifacts.publish import MANIFEST, MODELS, published_versions, read_pointer
from dummi.artifacts.store import get_artifact_store
from dummi.services import online_metrics_service
from dummi.training.params import TrainingParams
from dummi.training.runs import run_now
from tests.integration.test_online_loop import _experiment, _interact, _recommend, shop  # noqa: F401 - fixture


def _rows_naming(db, user_id: str) -> dict[str, int]:
    counts = {}
    for table in ("users", "interactions", "impressions"):
        counts[table] = db.read(
            lambda conn, t=table: conn.run(f"SELECT count(*) FROM {t} WHERE user_id = :u", u=user_id)
        )[0][0]
    return counts


def _history(shop, user):  # noqa: F811
    for _i in range(6):
        answer = _recommend(shop, user)
        item = answer["recommendations"][0]["content_id"]
        _interact(shop, user, item, recommendation_id=answer["recommendation_id"], interaction_type="like")
    feedback = {"user_id": user, "content_id": "c0", "feedback_type": "positive", "event_id": f"{user}-fb"}
    assert shop.post("/recommendations/feedback", json=feedback).status_code == 201


def test_export_holds_everything_stored_about_the_user(shop, db):  # noqa: F811
    _experiment(shop, traffic_percent=100)
    _history(shop, "ann")
    response = shop.get("/users/ann/export")
    assert response.status_code == 200, response.text
    doc = response.json()
    assert doc["profile"]["user_id"] == "ann" and doc["profile"]["interests"] == ["gardening"]
    stored = _rows_naming(db, "ann")
    assert len(doc["events"]) == stored["interactions"] == 7
    assert {e["kind"] for e in doc["events"]} == {"interaction", "feedback"}
    assert len(doc["impressions"]) == stored["impressions"] == 6
    attributed = {e["recommendation_id"] for e in doc["events"] if e["recommendation_id"]}
    assert attributed <= {i["recommendation_id"] for i in doc["impressions"]} and len(attributed) == 6
    assert [a["experiment"] for a in doc["assignments"]] == ["ranking"]
    assert doc["assignments"][0]["variant"] in {"control", "content-only"}
    json.dumps(doc)  # one JSON document
    assert shop.get("/users/nobody/export").status_code == 404


def test_delete_removes_every_row_in_one_go_and_the_id_starts_empty(shop, db):  # noqa: F811
    _history(shop, "ann")
    _history(shop, "bob")
    online_metrics_service.run(db)
    metrics_before = db.read(lambda c: c.run("SELECT * FROM online_metrics ORDER BY 1, 2, 3, 4, 5, 6"))
    assert metrics_before
    assert shop.delete("/users/ann").status_code == 204
    assert _rows_naming(db, "ann") == {"users": 0, "interactions": 0, "impressions": 0}
    assert _rows_naming(db, "bob")["interactions"] == 7  # nobody else's
    # aggregated metrics keep their counts (and never held a user id)
    assert db.read(lambda c: c.run("SELECT * FROM online_metrics ORDER BY 1, 2, 3, 4, 5, 6")) == metrics_before
    for response in (
        shop.get("/users/ann"),
        shop.get("/users/ann/export"),
        shop.get("/users/ann/suggested-interests"),
        shop.put("/users/ann", json={"skill_level": "expert"}),
        shop.post("/recommendations/", json={"user_id": "ann"}),
        shop.post("/recommendations/interact", json={"user_id": "ann", "content_id": "c1", "interaction_type": "like"}),
        shop.delete("/users/ann"),
    ):
        assert response.status_code == 404, response.text
    # the same id again starts empty: no history, and answers know nothing of the old likes
    assert shop.post("/users/", json={"user_id": "ann"}).status_code == 201
    assert shop.get("/users/ann").json()["history"] == []
    answer = _recommend(shop, "ann", n_recommendations=10)
    assert answer["needs_interests"] is True
    assert {r["method"] for r in answer["recommendations"]} <= {"popular", "explore"}


def test_a_user_deleted_while_their_events_are_written_leaves_no_orphan(shop, db):  # noqa: F811
    _history(shop, "ann")
    statuses: list[int] = []
    lock, go, stop = threading.Lock(), threading.Event(), threading.Event()

    def write(kind: str) -> None:
        go.wait()
        n = 0
        while not stop.is_set():
            n += 1
            if kind == "interact":
                body = {"user_id": "ann", "content_id": f"c{n % 8}", "interaction_type": "click"}
                response = shop.post("/recommendations/interact", json=body)
            elif kind == "feedback":
                body = {"user_id": "ann", "content_id": f"c{n % 8}", "feedback_type": "negative"}
                response = shop.post("/recommendations/feedback", json=body)
            else:
                response = shop.post("/recommendations/", json={"user_id": "ann", "n_recommendations": 3})
            with lock:
                statuses.append(response.status_code)

    threads = [threading.Thread(target=write, args=(k,)) for k in ("interact", "feedback", "recommend", "interact")]
    for t in threads:
        t.start()
    go.set()
    while len(statuses) < 20:
        threading.Event().wait(0.01)
    assert shop.delete("/users/ann").status_code == 204
    after = len(statuses)
    while len(statuses) < after + 20:
        threading.Event().wait(0.01)
    stop.set()
    for t in threads:
        t.join()
    assert set(statuses) <= {200, 201, 404}, sorted(set(statuses))
    assert 404 in statuses and (200 in statuses or 201 in statuses)
    assert _rows_naming(db, "ann") == {"users": 0, "interactions": 0, "impressions": 0}


def test_the_next_training_forgets_the_user_and_prunes_every_older_version(shop, db, monkeypatch):  # noqa: F811
    monkeypatch.setenv("DUMMI_MODEL_RETENTION", "5")
    _history(shop, "ann")
    _history(shop, "bob")
    store = get_artifact_store()
    first = run_now(db, store, "test", TrainingParams())
    second = run_now(db, store, "test", TrainingParams(force=True))
    assert first.state == second.state == "succeeded"
    assert len(published_versions(store)) == 2
    assert shop.delete("/users/ann").status_code == 204
    # nothing changed in the data but the deletion: the gate would keep the serving model, and may not
    third = run_now(db, store, "test", TrainingParams())
    assert third.state == "succeeded", third.error
    assert third.decision["action"] == "published" and "deleted" in third.decision["reason"]
    assert published_versions(store) == [third.model_version] == [read_pointer(store)["version"]]
    manifest = json.loads(store.get(f"{MODELS}/{third.model_version}/{MANIFEST}"))
    assert third.counts["versions_pruned"] == 2 and manifest["events_as_of"]
    # a run with no deletion since keeps the versions it finds
    fourth = run_now(db, store, "test", TrainingParams(force=True))
    assert published_versions(store) == sorted([third.model_version, fourth.model_version])


@pytest.mark.parametrize("route", ["delete", "export"])
def test_erasure_and_export_need_an_admin_key(db, client, monkeypatch, route):
    from dummi.services import api_keys
    from tests.conftest import _clear_caches

    monkeypatch.setenv("DUMMI_AUTH", "on")
    _clear_caches()
    api_keys.get_key_cache.cache_clear()
    keys = {s: api_keys.create_key(db, [s], s).key for s in ("read", "write", "admin")}
    assert client.post("/users/", json={"user_id": "ann"}, headers={"X-API-Key": keys["write"]}).status_code == 201
    call = client.delete if route == "delete" else client.get
    path = "/users/ann" if route == "delete" else "/users/ann/export"
    for scope in ("read", "write"):
        response = call(path, headers={"X-API-Key": keys[scope]})
        assert response.status_code == 403 and response.json()["code"] == "forbidden"
    assert call(path, headers={"X-API-Key": keys["admin"]}).status_code in (200, 204)
    api_keys.get_key_cache.cache_clear()
