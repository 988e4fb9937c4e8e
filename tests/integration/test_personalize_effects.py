"""What a team moving from Personalize relies on, through boto3's own clients: events sent with PutEvents
change the very next GetRecommendations, PutUsers interests lead a newcomer's list, and related items lean to
the kind of the item asked about."""

from __future__ import annotations

import json
import time

import pytest

from tests.integration.personalize_clients import http_server, lambda_clients, make_clients

DATASET = "arn:aws:personalize:us-east-1:123456789012:dataset/shop/ITEMS"
CAMPAIGN = "arn:aws:personalize:us-east-1:123456789012:campaign/home"
TITLES = {
    "soups": ["Tomato soup", "Chicken noodle soup", "Lentil soup", "Miso soup", "Pumpkin soup", "Onion soup"],
    "rockets": ["Rocket engines", "Orbital rocket launch", "Rocket fuel chemistry", "Model rocketry",
                "Reusable rocket boosters", "Rocket staging"],
    "violins": ["Violin bowing", "Violin tuning", "Baroque violin sonatas", "Violin vibrato",
                "Choosing a violin", "Violin scales"],
}  # fmt: skip


def _kind(item_id: str) -> str:
    return item_id.rsplit("-", 1)[0]


@pytest.fixture(params=["http", "lambda"])
def shop(request, db, monkeypatch):
    monkeypatch.setenv("DUMMI_MODEL_CHECK_SECONDS", "0")
    monkeypatch.setenv("DUMMI_EMBEDDING_MODE", "inline")
    from tests.conftest import _clear_caches

    _clear_caches()

    def stock(clients):
        items = [
            {"itemId": f"{kind}-{i}", "properties": json.dumps({"title": title, "category": kind})}
            for kind, titles in TITLES.items()
            for i, title in enumerate(titles)
        ]
        for start in range(0, len(items), 10):  # PutItems takes ten at a time
            clients["personalize-events"].put_items(datasetArn=DATASET, items=items[start : start + 10])
        return clients

    if request.param == "lambda":
        yield stock(lambda_clients())
        return
    with http_server() as base:
        yield stock(make_clients(base))


def _listed(runtime, **params) -> list[str]:
    return [i["itemId"] for i in runtime.get_recommendations(campaignArn=CAMPAIGN, **params)["itemList"]]


def test_put_events_change_the_next_recommendations(shop):
    events, runtime = shop["personalize-events"], shop["personalize-runtime"]
    before = {user: _listed(runtime, userId=user, numResults=3) for user in ("rita", "sam")}
    assert before["rita"] == before["sam"]  # two strangers: the same list
    for user, kind in (("rita", "rockets"), ("sam", "soups")):
        liked = [f"{kind}-{i}" for i in range(3)]
        events.put_events(
            trackingId="t",
            userId=user,
            sessionId=f"s-{user}",
            eventList=[{"eventType": "like", "itemId": i, "sentAt": time.time()} for i in liked],
        )
        after = _listed(runtime, userId=user, numResults=3)
        assert not set(liked) & set(after)  # what the user engaged with is not offered again
        assert {_kind(i) for i in after} == {kind}, (user, before[user], after)  # the rest of that kind, at once


def test_put_users_interests_lead_a_newcomers_list(shop):
    events, runtime = shop["personalize-events"], shop["personalize-runtime"]
    events.put_users(datasetArn=DATASET, users=[{"userId": "vic", "properties": '{"interests": "violins"}'}])
    top = _listed(runtime, userId="vic", numResults=6)
    assert [_kind(i) for i in top] == ["violins"] * 6
    events.put_users(datasetArn=DATASET, users=[{"userId": "vic", "properties": '{"interests": "soups"}'}])
    assert {_kind(i) for i in _listed(runtime, userId="vic", numResults=6)} == {"soups"}  # a changed interest


def test_related_items_lean_to_the_items_kind(shop):
    runtime = shop["personalize-runtime"]
    for kind in TITLES:
        related = _listed(runtime, itemId=f"{kind}-0", numResults=5)
        assert f"{kind}-0" not in related
        assert sum(_kind(i) == kind for i in related) >= 4, (kind, related)
