"""Event types with weights (issue 34) on a real Postgres: the admin routes through the meta function's handler,
an unknown type refused by the interactions function's, a custom type's weight in training's matrix and in the
very next answer, and a used type that cannot be deleted."""

from __future__ import annotations

import copy
import json

import pytest

from dummi.artifacts.store import get_artifact_store
from dummi.training.params import TrainingParams
from dummi.training.runs import run_now
from tests.conftest import load_event, load_function_module


def _http(function: str, method: str, path: str, lambda_context, body: dict | None = None) -> tuple[int, dict]:
    """One request through a function's real handler, as an API Gateway HTTP API v2 event."""
    event = copy.deepcopy(load_event("meta_health"))
    path, _, query = path.partition("?")
    event.update(routeKey=f"{method} {path}", rawPath=path, rawQueryString=query)
    event["requestContext"]["http"].update(method=method, path=path)
    if body is not None:
        event["headers"]["content-type"] = "application/json"
        event["body"] = json.dumps(body)
    response = load_function_module(f"functions/{function}").handler(event, lambda_context)
    return response["statusCode"], json.loads(response["body"])


def _interact(lambda_context, user_id: str, content_id: str, interaction_type: str) -> tuple[int, dict]:
    body = {"user_id": user_id, "content_id": content_id, "interaction_type": interaction_type}
    return _http("interactions", "POST", "/recommendations/interact", lambda_context, body)


@pytest.fixture
def shop(client, db, monkeypatch):
    """Two topics of six items; six fans who like python items; a shopper who liked two python items."""
    monkeypatch.setenv("DUMMI_EMBEDDING_MODE", "inline")
    monkeypatch.setenv("DUMMI_MODEL_CHECK_SECONDS", "0")  # the serving caches re-read at every request
    from tests.conftest import _clear_caches

    _clear_caches()
    titles = {
        "python": ["Python lists", "Python decorators", "Python testing", "Python typing", "Python async", "Pip"],
        "cooking": ["Sourdough bread", "Fresh pasta", "Roast vegetables", "Pizza dough", "Chicken stew", "Curry"],
    }
    for topic, names in titles.items():
        for i, title in enumerate(names):
            item = {"content_id": f"{topic}-{i}", "title": title, "category": topic, "tags": [topic]}
            assert client.post("/content/", json=item).status_code == 201
    for u in range(6):
        client.post("/users/", json={"user_id": f"fan-{u}", "interests": ["python"], "skill_level": "beginner"})
        for k in range(4):
            item = {"user_id": f"fan-{u}", "content_id": f"python-{(u + k) % 6}", "interaction_type": "like"}
            assert client.post("/recommendations/interact", json=item).status_code == 201
    client.post("/users/", json={"user_id": "shopper", "interests": [], "skill_level": "beginner"})
    for item in ("python-0", "python-1"):
        like = {"user_id": "shopper", "content_id": item, "interaction_type": "like"}
        assert client.post("/recommendations/interact", json=like).status_code == 201


def test_event_types_through_the_meta_and_interactions_handlers(shop, lambda_context):
    status, listed = _http("meta", "GET", "/event-types", lambda_context)
    assert status == 200
    assert [(t["name"], t["weight"], t["builtin"]) for t in listed] == [
        ("click", 2.0, True),
        ("like", 5.0, True),
        ("skip", -1.0, True),
        ("view_time", 1.0, True),
    ]

    # an unknown type is refused, naming the field
    status, body = _interact(lambda_context, "shopper", "cooking-0", "purchase")
    assert status == 422 and body["detail"][0]["loc"] == ["body", "interaction_type"]
    assert "purchase" in body["detail"][0]["msg"]

    status, made = _http("meta", "PUT", "/event-types/purchase", lambda_context, {"weight": 8, "description": "paid"})
    assert status == 201 and (made["name"], made["weight"], made["builtin"]) == ("purchase", 8.0, False)
    status, again = _http("meta", "PUT", "/event-types/purchase", lambda_context, {"weight": 6.5})
    assert status == 200 and (again["weight"], again["description"]) == (6.5, "paid")
    assert [t["name"] for t in _http("meta", "GET", "/event-types", lambda_context)[1]][-1] == "purchase"

    status, event = _interact(lambda_context, "shopper", "cooking-0", "purchase")
    assert status == 201 and event["interaction_type"] == "purchase"

    # a used type, a built-in one and an unknown one cannot be deleted; an unused one can
    status, body = _http("meta", "DELETE", "/event-types/purchase", lambda_context)
    assert (status, body["field"]) == (409, "name") and "used" in body["detail"]
    status, body = _http("meta", "DELETE", "/event-types/like", lambda_context)
    assert (status, body["field"]) == (409, "name")
    assert _http("meta", "DELETE", "/event-types/nothing_here", lambda_context)[0] == 404
    assert _http("meta", "PUT", "/event-types/share", lambda_context, {"weight": 1})[0] == 201
    status, gone = _http("meta", "DELETE", "/event-types/share", lambda_context)
    assert status == 200 and gone["name"] == "share"
    assert _interact(lambda_context, "shopper", "cooking-1", "share")[0] == 422

    # names are checked: feedback's own, upper case, too long; a weight out of bounds
    status, body = _http("meta", "PUT", "/event-types/positive", lambda_context, {"weight": 1})
    assert status == 422 and body["detail"][0]["loc"][-1] == "name"
    assert _http("meta", "PUT", "/event-types/Share", lambda_context, {"weight": 1})[0] == 422
    assert _http("meta", "PUT", "/event-types/" + "x" * 41, lambda_context, {"weight": 1})[0] == 422
    assert _http("meta", "PUT", "/event-types/huge", lambda_context, {"weight": 1000})[0] == 422


def test_a_built_in_weight_can_be_tuned_and_put_back(shop, client):
    assert client.put("/event-types/click", json={"weight": 3}).json()["weight"] == 3.0
    listed = {t["name"]: t for t in client.get("/event-types").json()}
    assert listed["click"]["weight"] == 3.0 and listed["click"]["builtin"]
    assert client.put("/event-types/click", json={"weight": 2}).status_code == 200


def _ids(answer: dict) -> list[str]:
    return [r["content_id"] for r in answer["recommendations"]]


def test_a_custom_types_weight_changes_the_matrix_and_the_next_answer(shop, client, db):
    assert client.put("/event-types/purchase", json={"weight": 8}).status_code == 201
    for item in ("cooking-0", "cooking-1", "cooking-2", "cooking-3"):  # the shopper: 6 items, no newcomer
        event = {"user_id": "shopper", "content_id": item, "interaction_type": "purchase"}
        assert client.post("/recommendations/interact", json=event).status_code == 201

    # training: with a positive weight the shopper's four purchases are cells of the matrix
    run = run_now(db, get_artifact_store(), "test", TrainingParams())
    assert run.state == "succeeded", run.error
    base = run.counts["cf_nonzeros"]
    assert base == 6 * 4 + 2 + 4

    def answer() -> list[str]:
        # the content side alone: how the events fold into the profile, not how a 7-user CF model blends in
        body = {"user_id": "shopper", "n_recommendations": 4, "explore_slots": 0, "diversity": 0.0, "cf_weight": 0.0}
        response = client.post("/recommendations/", json=body)
        assert response.status_code == 200, response.text
        return _ids(response.json())

    # serving: the purchases pull the other cooking items (4 and 5) up among the six the shopper has not seen
    liked = answer()
    assert {"cooking-4", "cooking-5"} & set(liked), liked

    # the same events weighed as a negative type act like skips: the very next answer turns away from cooking
    assert client.put("/event-types/purchase", json={"weight": -2}).status_code == 200
    turned = answer()
    assert not [i for i in turned if i.startswith("cooking-")], turned

    # and the next run's matrix leaves them out (a negative total is no cell)
    run = run_now(db, get_artifact_store(), "test", TrainingParams())
    assert run.state == "succeeded", run.error
    assert run.counts["cf_nonzeros"] == base - 4


def test_import_refuses_an_unknown_type_by_line_and_field(shop, db, tmp_path):
    from dummi.errors import InvalidRequestError
    from dummi.services.import_service import import_directory

    lines = [
        {"user_id": "shopper", "content_id": "cooking-3", "interaction_type": "click"},
        {"user_id": "shopper", "content_id": "cooking-4", "interaction_type": "add_to_cart"},
    ]
    (tmp_path / "interactions.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    with pytest.raises(InvalidRequestError) as refused:
        import_directory(db, tmp_path)
    assert refused.value.field == "interaction_type" and "interactions.jsonl:2" in refused.value.message
    skipped = import_directory(db, tmp_path, on_error="skip")
    assert skipped.events == 1 and [(r.line, r.field) for r in skipped.rejects] == [(2, "interaction_type")]
