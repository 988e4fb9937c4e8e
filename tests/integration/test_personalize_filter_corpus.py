"""The filter expressions of Personalize's documentation (the parser's corpus, tests/unit/test_filter_expressions.py)
made with CreateFilter and applied by GetPersonalizedRanking and related items, through boto3's own clients, over
the same catalog and events; the malformed ones, and those for user segments and actions, refused by CreateFilter
with the position."""

from __future__ import annotations

import json
import time

import pytest

from tests.integration.personalize_clients import http_server, make_clients
from tests.unit.test_filter_expressions import ALL, CORPUS, DOCUMENTED_BUT_MALFORMED, INTERACTED, ITEMS, NOT_ITEMS

DATASET = "arn:aws:personalize:us-east-1:123456789012:dataset/corpus/ITEMS"
GROUP = "arn:aws:personalize:us-east-1:123456789012:dataset-group/corpus"
CAMPAIGN = "arn:aws:personalize:us-east-1:123456789012:campaign/corpus"
USER = "corpus-user"


def _properties(category: str, tags: list[str], properties: dict) -> str:
    flat = {k: "|".join(v) if isinstance(v, list) else v for k, v in properties.items()}
    return json.dumps({"title": f"item {category}", "category": category, "tags": "|".join(tags), **flat})


@pytest.fixture
def corpus(db, monkeypatch):
    monkeypatch.setenv("DUMMI_MODEL_CHECK_SECONDS", "0")
    monkeypatch.setenv("DUMMI_EMBEDDING_MODE", "inline")
    monkeypatch.setenv("DUMMI_PERSONALIZE_EVENT_TYPES", "stream=view_time,purchased=like")  # the corpus's types
    from tests.conftest import _clear_caches

    _clear_caches()
    with http_server() as base:
        clients = make_clients(base)
        clients["personalize-events"].put_items(
            datasetArn=DATASET,
            items=[{"itemId": f"i{p}", "properties": _properties(*ITEMS[p])} for p in ALL],
        )
        clients["personalize-events"].put_events(
            trackingId="t",
            userId=USER,
            sessionId="s",
            eventList=[
                {"eventType": event_type, "itemId": f"i{p}", "sentAt": time.time()}
                for event_type, positions in INTERACTED.items()
                for p in positions
            ],
        )
        yield clients


def test_the_documented_expressions_filter_what_boto3_gets(corpus):
    control, runtime = corpus["personalize"], corpus["personalize-runtime"]
    wrong = []
    for n, case in enumerate(CORPUS):
        expression, values, kwargs, expected = case.values
        arn = control.create_filter(name=f"doc-{n}", datasetGroupArn=GROUP, filterExpression=expression)["filterArn"]
        if "user" in kwargs or "CurrentUser" in expression:
            # Dummi keeps no user attribute but interests: an IF on one never holds, the expression is not applied
            expected = ALL
        use = {"filterArn": arn, "filterValues": values or {}}
        if "current" in kwargs:  # CurrentItem: related items of that item (never the item itself)
            item = kwargs["current"]
            answer = runtime.get_recommendations(campaignArn=CAMPAIGN, itemId=f"i{item}", userId=USER, **use)
            got, expected = answer["itemList"], [p for p in expected if p != item]
        else:
            inputs = [f"i{p}" for p in ALL]
            got = runtime.get_personalized_ranking(campaignArn=CAMPAIGN, userId=USER, inputList=inputs, **use)[
                "personalizedRanking"
            ]
        positions = sorted(int(i["itemId"][1:]) for i in got)
        if positions != sorted(expected):
            wrong.append((case.id, positions, expected))
    assert not wrong, wrong
    assert len(control.list_filters(datasetGroupArn=GROUP)["Filters"]) == len(CORPUS)


def test_malformed_and_non_item_expressions_are_refused_with_the_position(corpus):
    control = corpus["personalize"]
    for n, (expression, _source, position, expected) in enumerate(DOCUMENTED_BUT_MALFORMED):
        with pytest.raises(control.exceptions.InvalidInputException) as refused:
            control.create_filter(name=f"bad-{n}", datasetGroupArn=GROUP, filterExpression=expression)
        message = refused.value.response["Error"]["Message"]
        assert f"at position {position}: expected {expected}" in message
    for n, (expression, _source) in enumerate(NOT_ITEMS):
        with pytest.raises(control.exceptions.InvalidInputException, match="position"):
            control.create_filter(name=f"segment-{n}", datasetGroupArn=GROUP, filterExpression=expression)
    assert control.list_filters(datasetGroupArn=GROUP)["Filters"] == []
