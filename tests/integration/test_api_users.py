"""Users over HTTP (the local app with every router) against the real Postgres."""

ALICE = {"user_id": "alice", "interests": ["machine-learning", "python"], "skill_level": "intermediate"}


def test_create_user_as_in_the_seed_returns_201_with_created_at(client):
    response = client.post("/users/", json=ALICE)
    assert response.status_code == 201
    body = response.json()
    assert {k: body[k] for k in ALICE} == ALICE
    assert body["history"] == [] and body["created_at"]


def test_create_user_without_trailing_slash_is_the_same_route(client):
    assert client.post("/users", json=ALICE).status_code == 201
    assert client.get("/users/alice").json()["interests"] == ALICE["interests"]


def test_duplicate_user_is_409_naming_the_field(client):
    client.post("/users/", json=ALICE)
    response = client.post("/users/", json={**ALICE, "skill_level": "expert"})
    assert response.status_code == 409
    assert response.json() == {
        "detail": "user 'alice' already exists with other fields",
        "code": "conflict",
        "field": "user_id",
    }
    assert client.get("/users/alice").json()["skill_level"] == "intermediate"


def test_creating_the_same_user_again_is_a_safe_retry(client):
    first = client.post("/users/", json=ALICE)
    retry = client.post("/users/", json=ALICE)
    assert (first.status_code, retry.status_code) == (201, 200)
    assert retry.json()["created_at"] == first.json()["created_at"]
    assert client.get("/users/alice").json()["interests"] == ALICE["interests"]


def test_unknown_user_is_404(client):
    response = client.get("/users/nobody")
    assert response.status_code == 404
    assert response.json()["field"] == "user_id"


def test_put_updates_only_the_given_fields(client):
    client.post("/users/", json=ALICE)
    response = client.put("/users/alice", json={"interests": ["machine-learning", "python", "data-science"]})
    assert response.status_code == 200
    body = response.json()
    assert body["interests"] == ["machine-learning", "python", "data-science"]
    assert body["skill_level"] == "intermediate"
    assert body["updated_at"] >= body["created_at"]
    assert client.put("/users/alice", json={"skill_level": "advanced"}).json()["interests"][-1] == "data-science"


def test_put_errors(client):
    client.post("/users/", json=ALICE)
    assert client.put("/users/nobody", json={"skill_level": "advanced"}).status_code == 404
    empty = client.put("/users/alice", json={})
    assert empty.status_code == 422
    bad = client.put("/users/alice", json={"interests": None, "skill_level": "guru"})
    assert bad.status_code == 422
    assert ["body", "skill_level"] in [e["loc"] for e in bad.json()["detail"]]


def test_malformed_and_wrong_bodies_are_4xx_naming_the_field(client):
    broken = client.post("/users/", content=b'{"user_id": "alice"', headers={"content-type": "application/json"})
    assert broken.status_code == 422
    assert broken.json()["detail"][0]["type"] == "json_invalid"
    not_an_object = client.post("/users/", json=["alice"])
    assert not_an_object.status_code == 422
    too_many = client.post("/users/", json={**ALICE, "interests": [f"i{n}" for n in range(51)]})
    assert too_many.status_code == 422
    assert too_many.json()["detail"][0]["loc"] == ["body", "interests"]
    bad_id = client.post("/users/", json={**ALICE, "user_id": "a b"})
    assert bad_id.json()["detail"][0]["loc"] == ["body", "user_id"]
    assert client.get("/users/alice").status_code == 404, "nothing was written by the failed requests"


def test_history_lists_content_newest_first_without_repeats(client):
    client.post("/users/", json=ALICE)
    for cid in ("c1", "c2", "c3"):
        client.post("/content/", json={"content_id": cid, "title": cid, "category": "ml"})
    for cid, kind in (("c1", "click"), ("c2", "click"), ("c1", "like"), ("c3", "skip")):
        assert (
            client.post(
                "/recommendations/interact", json={"user_id": "alice", "content_id": cid, "interaction_type": kind}
            ).status_code
            == 201
        )
    assert client.get("/users/alice").json()["history"] == ["c3", "c1", "c2"]
    assert client.get("/users/alice?history_limit=2").json()["history"] == ["c3", "c1"]
    assert client.get("/users/alice?history_limit=5000").status_code == 422


def test_unknown_routes_and_methods_answer_in_the_same_error_shape(client):
    missing = client.get("/no/such/route")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Not Found", "code": "route_not_found", "field": None}
    wrong_method = client.patch("/users/alice")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["code"] == "method_not_allowed"
    assert "GET" in wrong_method.headers["allow"]
