"""Anonymous sessions, pages without repeats and promotions over HTTP and through the recommendations
function's handler, on a real Postgres with real embeddings and a trained model (the three-topic catalog
of test_recommendations): a session's list follows its clicks and joins the user who signs in, once; five
pages repeat nothing and a foreign token is refused; a promotion holds its share with matching items, and its
figures reach the overview."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from dummi.artifacts.store import get_artifact_store
from dummi.db.impressions_repository import ImpressionsRepository
from dummi.db.interactions_repository import InteractionsRepository
from dummi.services import online_metrics_service, sessions_service
from dummi.training.params import TrainingParams
from dummi.training.runs import run_now
from tests.integration.test_recommendations import catalog  # noqa: F401 - the fixture

ALL = {f"{topic}-{i}" for topic in ("python", "cooking", "gardening") for i in range(10)}


def _post(client, status=200, **body):
    response = client.post("/recommendations/", json=body)
    assert response.status_code == status, response.text
    return response.json()


def _ids(answer) -> list[str]:
    return [r["content_id"] for r in answer["recommendations"]]


def _events(db, where: str, **params) -> list[tuple]:
    sql = f"SELECT user_id, session_id, content_id FROM interactions WHERE {where}"
    return [tuple(r) for r in db.read(lambda conn: conn.run(sql, **params))]


def _trained(db, user: str) -> list[str]:
    """The items of ``user``'s events in the training set, as both engines read it."""
    events = db.read(lambda conn: InteractionsRepository(conn).all_events())
    exported = io.BytesIO()
    db.read(lambda conn: InteractionsRepository(conn).export_events(exported))
    spark_rows = [r for r in csv.reader(io.StringIO(exported.getvalue().decode())) if r[1] == user]
    items = [e.content_id for e in events if e.user_id == user]
    assert sorted(items) == sorted(r[2] for r in spark_rows)
    return items


def _click(client, content_id, **who):
    response = client.post(
        "/recommendations/interact", json={"content_id": content_id, "interaction_type": "click", **who}
    )
    assert response.status_code == 201, response.text
    return response.json()


# -- sessions ---------------------------------------------------------------------------------------------
def test_a_session_without_events_gets_the_newcomers_list(client, catalog):  # noqa: F811
    assert client.post("/users/", json={"user_id": "nobody"}).status_code == 201
    newcomer = _post(client, user_id="nobody", n_recommendations=6, explore_slots=0)
    session = _post(client, session_id="fresh-visit", n_recommendations=6, explore_slots=0)
    assert _ids(session) == _ids(newcomer) and len(_ids(session)) == 6
    assert session["user_id"] is None and session["session_id"] == "fresh-visit"
    assert session["needs_interests"] is False  # a session has no interests to set
    logged = db_impression(client, session["recommendation_id"])
    assert (logged.user_id, logged.session_id, logged.page) == (None, "fresh-visit", 1)


def db_impression(client, recommendation_id):
    from dummi.db.connection import get_database

    return get_database().read(lambda conn: ImpressionsRepository(conn).get(recommendation_id))


def test_a_sessions_list_follows_its_clicks_and_joins_the_user_who_signs_in_once(client, db, catalog):  # noqa: F811
    clicked = ["cooking-1", "cooking-4", "cooking-7"]
    first = _post(client, session_id="visit-1", n_recommendations=5, explore_slots=0)
    for item in clicked:
        event = _click(client, item, session_id="visit-1", recommendation_id=None)
        assert event["user_id"] is None and event["session_id"] == "visit-1"
    answer = _post(client, session_id="visit-1", n_recommendations=5, explore_slots=0)
    ids = _ids(answer)
    assert len(ids) == 5 and not set(ids) & set(clicked)  # never the session's seen items
    assert all(i.startswith("cooking-") for i in ids[:4]), ids  # what resembles and follows its clicks
    assert ids != _ids(first)
    # a click on a listed item is attributed to the session's answer (the window finds it)
    event = _click(client, ids[0], session_id="visit-1")
    assert event["recommendation_id"] == answer["recommendation_id"] and event["position"] == 1
    clicked.append(ids[0])

    # anonymous events: not the user's yet, and trained on as the session's own
    assert client.post("/users/", json={"user_id": "alice"}).status_code == 201
    assert _events(db, "user_id = 'alice'") == []
    assert sorted(_trained(db, "~session:visit-1")) == sorted(clicked)
    signed_in = _post(client, user_id="alice", session_id="visit-1", n_recommendations=5, explore_slots=0)
    mine = _events(db, "user_id = 'alice'")
    assert sorted(c for _, _, c in mine) == sorted(clicked) and {s for _, s, _ in mine} == {"visit-1"}
    assert not set(_ids(signed_in)) & set(clicked)  # the session's history is the user's now
    assert _ids(signed_in)[0].startswith("cooking-")
    # once: a second request, and an event naming both, move nothing twice
    _post(client, user_id="alice", session_id="visit-1", n_recommendations=5)
    _click(client, "python-0", user_id="alice", session_id="visit-1")
    assert len(_events(db, "user_id = 'alice'")) == len(clicked) + 1
    assert _events(db, "user_id IS NULL") == []
    assert _trained(db, "~session:visit-1") == [] and len(_trained(db, "alice")) == len(clicked) + 1
    # the session alone has no anonymous events left: the newcomer's list again
    again = _post(client, session_id="visit-1", n_recommendations=5, explore_slots=0)
    assert _ids(again) == _ids(_post(client, session_id="other-visit", n_recommendations=5, explore_slots=0))


def test_training_learns_from_anonymous_sessions(client, db, catalog):  # noqa: F811
    # every item is liked by about six fans; 25 anonymous visitors like one more item
    for s in range(25):
        body = {"content_id": "python-9", "interaction_type": "like", "session_id": f"anonymous-{s}"}
        assert client.post("/recommendations/interact", json=body).status_code == 201
    assert client.get("/recommendations/popular?n=1").json()["recommendations"][0]["content_id"] != "python-9"
    run = run_now(db, get_artifact_store(), "test", TrainingParams())
    assert run.state == "succeeded", run.error
    assert client.get("/recommendations/popular?n=1").json()["recommendations"][0]["content_id"] == "python-9"


def test_an_event_naming_user_and_session_merges_the_session_first(client, db, catalog):  # noqa: F811
    _click(client, "gardening-2", session_id="visit-2")
    _click(client, "gardening-3", user_id="gardening-fan-0", session_id="visit-2")
    events = _events(db, "session_id = 'visit-2' ORDER BY interaction_id")
    assert events == [("gardening-fan-0", "visit-2", "gardening-2"), ("gardening-fan-0", "visit-2", "gardening-3")]


def test_a_request_or_event_must_name_a_user_or_a_session(client, catalog):  # noqa: F811
    response = client.post("/recommendations/", json={"n_recommendations": 3})
    assert response.status_code == 422 and "session_id" in response.text
    response = client.post("/recommendations/interact", json={"content_id": "python-0", "interaction_type": "click"})
    assert response.status_code == 422 and "session_id" in response.text
    response = client.post("/recommendations/feedback", json={"content_id": "python-0", "feedback_type": "positive"})
    assert response.status_code == 422
    response = client.post(
        "/recommendations/feedback",
        json={"session_id": "visit-3", "content_id": "python-0", "feedback_type": "positive"},
    )
    assert response.status_code == 201 and response.json()["user_id"] is None
    response = client.post(
        "/recommendations/interact", json={"session_id": "v", "content_id": "nope", "interaction_type": "click"}
    )
    assert response.status_code == 404 and "content_id" in response.text


def test_idle_sessions_expire_and_the_events_a_user_took_over_stay(client, db, catalog):  # noqa: F811
    _click(client, "python-1", session_id="old")
    _click(client, "python-2", session_id="old-merged")
    _click(client, "python-3", user_id="python-fan-1", session_id="old-merged")
    _click(client, "python-4", session_id="recent")
    with db.transaction() as conn:
        conn.run("UPDATE interactions SET created_at = now() - interval '31 days' WHERE session_id LIKE 'old%'")
    deleted = sessions_service.delete_expired(db, timedelta(days=30))
    assert deleted == 1
    assert _events(db, "session_id IS NOT NULL ORDER BY interaction_id") == [
        ("python-fan-1", "old-merged", "python-2"),
        ("python-fan-1", "old-merged", "python-3"),
        (None, "recent", "python-4"),
    ]
    assert online_metrics_service.run(db)["session_events_deleted"] == 0


# -- pages --------------------------------------------------------------------------------------------------
def test_five_pages_without_repeats_then_the_catalog_runs_out(client, db, catalog):  # noqa: F811
    user, n = "python-fan-0", 4
    seen = {f"python-{k}" for k in range(6)}
    pages, token, lineage = [], None, None
    for page in range(1, 7):
        answer = _post(client, user_id=user, n_recommendations=n, page_token=token)
        assert answer["page"] == page and len(_ids(answer)) == n
        logged = db_impression(client, answer["recommendation_id"])
        lineage = lineage or answer["recommendation_id"]
        assert (logged.lineage, logged.page, logged.user_id) == (lineage, page, user)
        pages.append(_ids(answer))
        token = answer["next_page_token"]
        assert token
    shown = [i for p in pages for i in p]
    assert len(shown) == len(set(shown)) == 24 and set(shown) == ALL - seen
    # the plain first page is the first page of the same ranking
    assert pages[0] == _ids(_post(client, user_id=user, n_recommendations=n, explore_slots=0, preview=True))
    last = _post(client, user_id=user, n_recommendations=n, page_token=token)
    assert last["recommendations"] == [] and last["next_page_token"] is None and last["page"] == 7
    # attribution still works per page
    event = _click(client, pages[2][1], user_id=user, recommendation_id=None)
    assert event["position"] == 2 and db_impression(client, event["recommendation_id"]).page == 3


def test_a_foreign_bad_or_expired_token_is_refused_naming_page_token(client, catalog, monkeypatch):  # noqa: F811
    answer = _post(client, user_id="python-fan-0", n_recommendations=3)
    token = answer["next_page_token"]
    for body in (
        {"user_id": "cooking-fan-0", "page_token": token},  # another user
        {"session_id": "python-fan-0", "page_token": token},  # a session of the same name is not the user
        {"user_id": "python-fan-0", "page_token": token[:-2] + ("AA" if token[-2:] != "AA" else "BB")},
        {"user_id": "python-fan-0", "page_token": "not-a-token"},
    ):
        response = client.post("/recommendations/", json={"n_recommendations": 3, **body})
        assert response.status_code == 422 and "page_token" in response.text, (body, response.text)
    import dummi.services.page_tokens as page_tokens

    real = page_tokens.time.time
    monkeypatch.setattr(page_tokens.time, "time", lambda: real() + page_tokens.PAGE_TOKEN_TTL_SECONDS + 5)
    response = client.post("/recommendations/", json={"user_id": "python-fan-0", "page_token": token})
    assert response.status_code == 422 and "expired" in response.text
    monkeypatch.undo()
    # a preview is not logged: no next page
    assert _post(client, user_id="python-fan-0", n_recommendations=3, preview=True)["next_page_token"] is None


def test_a_session_pages_and_keeps_its_pages_after_signing_in(client, db, catalog):  # noqa: F811
    first = _post(client, session_id="pager", n_recommendations=5)
    second = _post(client, session_id="pager", n_recommendations=5, page_token=first["next_page_token"])
    assert client.post("/users/", json={"user_id": "pat"}).status_code == 201
    third = _post(client, user_id="pat", session_id="pager", n_recommendations=5, page_token=second["next_page_token"])
    shown = _ids(first) + _ids(second) + _ids(third)
    assert len(shown) == len(set(shown)) == 15 and third["page"] == 3
    assert db_impression(client, third["recommendation_id"]).lineage == first["recommendation_id"]


# -- promotions ------------------------------------------------------------------------------------------------
SPRING = {"name": "spring-garden", "share": 0.3, "filters": [{"field": "category", "op": "in", "value": ["garden"]}]}


def test_a_promotion_holds_its_share_with_matching_items_none_repeated(client, db, catalog):  # noqa: F811
    user = "python-fan-0"
    plain = _post(client, user_id=user, n_recommendations=10, explore_slots=0, preview=True)
    answer = _post(client, user_id=user, n_recommendations=10, explore_slots=0, promotion=SPRING)
    items = answer["recommendations"]
    promoted = [(k + 1, r) for k, r in enumerate(items) if r["promoted"]]
    assert [p for p, _ in promoted] == [2, 5, 8]
    assert all(r["promotion"] == "spring-garden" and r["category"] == "garden" for _, r in promoted)
    assert all(r["promotion"] is None for r in items if not r["promoted"])
    ids = _ids(answer)
    assert len(ids) == len(set(ids)) == 10 and not set(ids) & {f"python-{k}" for k in range(6)}
    personal = [r["content_id"] for r in items if not r["promoted"]]
    assert personal == [i for i in _ids(plain) if i not in {r["content_id"] for _, r in promoted}][:7]
    logged = db_impression(client, answer["recommendation_id"])
    assert (logged.promotion, logged.promoted) == ("spring-garden", [2, 5, 8])

    # with pages: the next page holds its share again, repeating nothing
    following = _post(
        client, user_id=user, n_recommendations=10, promotion=SPRING, page_token=answer["next_page_token"]
    )
    assert sum(r["promoted"] for r in following["recommendations"]) == 3
    assert not set(_ids(following)) & set(ids) and len(set(_ids(following))) == len(_ids(following))

    # the whole share (1.0) is every slot, and a promotion nothing matches leaves the personal list
    everything = _post(client, user_id=user, n_recommendations=4, promotion={**SPRING, "share": 1.0})
    assert all(r["promoted"] and r["category"] == "garden" for r in everything["recommendations"])
    nothing = {"name": "void", "share": 0.5, "filters": [{"field": "tags", "op": "in", "value": ["no-such-tag"]}]}
    none = _post(client, user_id=user, n_recommendations=5, explore_slots=0, promotion=nothing, preview=True)
    assert _ids(none) == _ids(plain)[:5] and not any(r["promoted"] for r in none["recommendations"])
    for bad in ({**SPRING, "share": 1.5}, {"share": 0.2}, {**SPRING, "filters": [{"field": "x", "op": "in"}]}):
        response = client.post("/recommendations/", json={"user_id": user, "promotion": bad})
        assert response.status_code == 422 and "promotion" in response.text


def test_promoted_clicks_are_counted_by_promotion_and_shown_on_the_overview(client, db, catalog):  # noqa: F811
    user = "cooking-fan-0"
    answer = _post(client, user_id=user, n_recommendations=10, explore_slots=0, promotion=SPRING)
    _post(client, user_id=user, n_recommendations=5, explore_slots=0, promotion={**SPRING, "name": "other"})
    promoted = [r["content_id"] for r in answer["recommendations"] if r["promoted"]]
    personal = [r["content_id"] for r in answer["recommendations"] if not r["promoted"]]
    _click(client, promoted[0], user_id=user, recommendation_id=answer["recommendation_id"])
    _click(client, personal[0], user_id=user, recommendation_id=answer["recommendation_id"])
    done = online_metrics_service.compute(db, now=datetime.now(UTC))
    assert done["promotion_rows"] == 2
    overview = client.get("/overview").json()
    by_name = {p["name"]: p for p in overview["promotions"]}
    assert by_name["spring-garden"] == {
        "name": "spring-garden",
        "impressions": 3,
        "clicks": 1,
        "ctr": pytest.approx(1 / 3),
    }
    assert by_name["other"]["impressions"] == 2 and by_name["other"]["clicks"] == 0
    assert [p["name"] for p in overview["promotions"]] == ["spring-garden", "other"]  # most shown first


def test_the_recommendations_function_handler_answers_sessions_pages_and_promotions(client, catalog, lambda_context):  # noqa: F811
    from tests.conftest import load_event, load_function_module

    handler = load_function_module("functions/recommendations").handler

    def call(body):
        event = load_event("recommendations_recommend")
        event["body"] = json.dumps(body)
        event["isBase64Encoded"] = False
        response = handler(event, lambda_context)
        return response["statusCode"], json.loads(response["body"])

    _click(client, "gardening-5", session_id="lambda-visit")
    status, first = call({"session_id": "lambda-visit", "n_recommendations": 4, "promotion": SPRING})
    assert status == 200 and sum(r["promoted"] for r in first["recommendations"]) == 2
    assert "gardening-5" not in _ids(first)
    status, second = call(
        {"session_id": "lambda-visit", "n_recommendations": 4, "page_token": first["next_page_token"]}
    )
    assert status == 200 and second["page"] == 2 and not set(_ids(second)) & set(_ids(first))
    status, refused = call({"session_id": "another-visit", "page_token": first["next_page_token"]})
    assert status == 422 and "page_token" in json.dumps(refused)
