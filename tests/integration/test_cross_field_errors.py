"""A rule across fields, broken, is a 422 located at the field a client would change (``loc`` ends in it), as
a single field's own check is; a rule about the whole body ("give at least one field") stays at ["body"].
Experiments' own rules (variant names, ends_at) are checked with the rest of their schema in test_online_loop."""

from __future__ import annotations

import pytest

PAST = "2020-01-01T00:00:00Z"
LATER = "2020-01-02T00:00:00Z"


@pytest.mark.parametrize(
    ("method", "path", "body", "loc"),
    [
        ("post", "/recommendations/", {"n_recommendations": 5}, ["body", "user_id"]),
        ("post", "/recommendations/interact", {"content_id": "c", "interaction_type": "like"}, ["body", "user_id"]),
        ("post", "/recommendations/feedback", {"content_id": "c", "feedback_type": "positive"}, ["body", "user_id"]),
        (
            "post",
            "/content/",
            {"content_id": "c", "title": "T", "category": "x", "available_from": LATER, "available_until": PAST},
            ["body", "available_until"],
        ),
        ("patch", "/content/c", {"title": None}, ["body", "title"]),
        ("patch", "/content/c", {}, ["body"]),
    ],
    ids=lambda v: v if isinstance(v, str) and v.startswith("/") else None,
)
def test_a_broken_rule_across_fields_names_the_field(client, method, path, body, loc):
    response = getattr(client, method)(path, json=body)
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    assert [e["loc"] for e in errors] == [loc], errors
    assert errors[0]["msg"]  # a sentence saying what to change
