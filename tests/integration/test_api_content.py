"""Content over HTTP against the real Postgres."""

TUT1 = {
    "content_id": "tut1",
    "title": "ML for Beginners",
    "category": "machine-learning",
    "tags": ["tutorial", "beginner", "python"],
}


def test_create_content_as_in_the_seed(client):
    response = client.post("/content/", json=TUT1)
    assert response.status_code == 201
    body = response.json()
    assert {k: body[k] for k in TUT1} == TUT1
    assert body["description"] == ""
    assert client.get("/content/tut1").json() == body


def test_duplicate_and_unknown_content(client):
    created = client.post("/content/", json=TUT1)
    retry = client.post("/content/", json=TUT1)
    assert (created.status_code, retry.status_code) == (201, 200)
    assert retry.json() == created.json()  # the stored item, not a second one
    changed = client.post("/content/", json={**TUT1, "title": "Another title"})
    assert changed.status_code == 409 and changed.json()["field"] == "content_id"
    assert client.get("/content/tut1").json()["title"] == TUT1["title"]
    assert client.get("/content/nope").status_code == 404


def test_content_bounds_are_422_with_the_field(client):
    too_long = client.post("/content/", json={**TUT1, "description": "x" * 5001})
    assert too_long.status_code == 422
    assert too_long.json()["detail"][0]["loc"] == ["body", "description"]
    missing = client.post("/content/", json={"content_id": "c"})
    assert {tuple(e["loc"]) for e in missing.json()["detail"]} == {("body", "title"), ("body", "category")}
    assert client.get("/content/tut1").status_code == 404


def test_category_listing_is_paginated_in_a_stable_order(client):
    ids = [f"item-{n:02d}" for n in range(25)]
    for cid in reversed(ids):
        client.post("/content/", json={"content_id": cid, "title": cid, "category": "python"})
    client.post("/content/", json={"content_id": "other", "title": "o", "category": "devops"})

    pages = [client.get(f"/content/category/python?limit=10&offset={o}").json() for o in (0, 10, 20)]
    assert [p["total"] for p in pages] == [25, 25, 25]
    assert [i["content_id"] for p in pages for i in p["items"]] == ids
    assert pages[0]["limit"] == 10 and pages[2]["offset"] == 20

    beyond = client.get("/content/category/python?offset=100").json()
    assert beyond["items"] == [] and beyond["total"] == 25
    assert client.get("/content/category/unknown").json()["total"] == 0
    assert client.get("/content/category/python?limit=0").status_code == 422
    assert client.get("/content/category/python?limit=101").status_code == 422
    assert client.get("/content/category/python?offset=-1").status_code == 422
