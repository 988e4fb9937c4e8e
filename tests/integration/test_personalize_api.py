"""Every Personalize operation Dummi serves, called by boto3's own clients (unmodified, endpoint_url only),
over real HTTP and through the PersonalizeFunction's Lambda handler; each error caught as
``client.exceptions.X`` (or, where the service models none, as the ClientError code botocore reads)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError

from tests.integration.personalize_clients import http_server, lambda_clients, make_clients

GROUP = "arn:aws:personalize:eu-west-1:123456789012:dataset-group/shop"
DATASET = "arn:aws:personalize:eu-west-1:123456789012:dataset/shop/ITEMS"
CAMPAIGN = "arn:aws:personalize:eu-west-1:123456789012:campaign/home-feed"


@pytest.fixture(params=["http", "lambda"])
def aws(request, db, monkeypatch):
    monkeypatch.setenv("DUMMI_MODEL_CHECK_SECONDS", "0")  # new items are served at once
    monkeypatch.setenv("DUMMI_EMBEDDING_MODE", "inline")  # and embedded as they are put
    from tests.conftest import _clear_caches

    _clear_caches()
    if request.param == "lambda":
        yield Clients(lambda_clients(), lambda_clients)
        return
    with http_server() as base:
        yield Clients(make_clients(base), lambda **kw: make_clients(base, **kw))


class Clients(dict):
    """The three clients by service name; ``again(**options)`` makes another three on the same road."""

    def __init__(self, clients, again):
        super().__init__(clients)
        self.again = again


def _items(events, ids_and_props):
    events.put_items(
        datasetArn=DATASET,
        items=[{"itemId": i, "properties": json.dumps(p)} for i, p in ids_and_props],
    )


def _content(db, content_id):
    from dummi.db.content_repository import ContentRepository

    return db.read(lambda conn: ContentRepository(conn).get(content_id))


def test_put_items_and_users_upsert_dummis_records(aws, db):
    events = aws["personalize-events"]
    _items(
        events, [("m1", {"title": "Alien", "genres": "Horror|SciFi", "tags": "space|classic", "numberOfRatings": 12})]
    )
    item = _content(db, "m1")
    assert (item.title, item.category, item.tags) == ("Alien", "Horror", ["space", "classic"])
    assert item.properties == {"title": "Alien", "genres": "Horror|SciFi", "numberOfRatings": 12}
    # a second put replaces the record, as Personalize's does
    _items(events, [("m1", {"title": "Aliens", "category": "action"})])
    item = _content(db, "m1")
    assert (item.title, item.category, item.tags, item.properties) == ("Aliens", "action", [], {"title": "Aliens"})

    events.put_users(datasetArn=DATASET, users=[{"userId": "ann", "properties": json.dumps({"interests": "a|b"})}])
    events.put_users(datasetArn=DATASET, users=[{"userId": "ann", "properties": '{"interests": "c"}'}])
    from dummi.db.users_repository import UsersRepository

    assert db.read(lambda conn: UsersRepository(conn).get("ann")).interests == ["c"]


def test_put_events_store_mapped_events_once_at_their_sent_time(aws, db):
    events = aws["personalize-events"]
    _items(events, [("m1", {"category": "a"}), ("m2", {"category": "a"})])
    sent = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    event = {"eventType": "Watch", "eventValue": 42.5, "itemId": "m1", "sentAt": sent, "eventId": "e-1"}
    events.put_events(trackingId="t", userId="newbie", sessionId="s-1", eventList=[event])
    events.put_events(trackingId="t", userId="newbie", sessionId="s-1", eventList=[event])  # a retry
    events.put_events(
        trackingId="t", sessionId="anon-7", eventList=[{"eventType": "click", "itemId": "m2", "sentAt": time.time()}]
    )
    rows = db.read(
        lambda conn: conn.run(
            "SELECT i.user_id, i.content_id, i.event_type, i.duration_seconds, i.created_at, p.session_id,"
            " p.event_type FROM interactions i JOIN personalize_events p USING (interaction_id) ORDER BY 1"
        )
    )
    assert [r[:4] + [r[5], r[6]] for r in rows] == [
        ["newbie", "m1", "view_time", 42.5, "s-1", "Watch"],
        [None, "m2", "click", None, "anon-7", "click"],  # the session's anonymous event
    ]
    assert rows[0][4] == sent

    with pytest.raises(events.exceptions.InvalidInputException, match="already recorded with other fields"):
        events.put_events(trackingId="t", userId="newbie", sessionId="s-1", eventList=[{**event, "itemId": "m2"}])
    with pytest.raises(events.exceptions.InvalidInputException, match="eventType 'teleport'"):
        events.put_events(
            trackingId="t", userId="newbie", sessionId="s", eventList=[{**event, "eventType": "teleport"}]
        )
    # a product's own event type (PUT /event-types) is stored under its name, with its weight
    from dummi.services import event_types_service

    event_types_service.put_type(db, "purchase", 8.0)
    events.put_events(
        trackingId="t",
        userId="newbie",
        sessionId="s-1",
        eventList=[{**event, "eventType": "Purchase", "eventId": "e-3"}],
    )
    assert db.read(lambda conn: conn.run("SELECT event_type FROM interactions WHERE event_id = 'e-3'")) == [
        ["purchase"]
    ]
    with pytest.raises(events.exceptions.InvalidInputException, match="content 'ghost' not found"):
        events.put_events(
            trackingId="t", userId="newbie", sessionId="s", eventList=[{**event, "itemId": "ghost", "eventId": "e-2"}]
        )
    # a view longer than Dummi's own routes take, and a time far ahead (a clock or a unit wrong): refused, not stored
    before = db.read(lambda conn: conn.run("SELECT count(*) FROM interactions"))
    with pytest.raises(events.exceptions.InvalidInputException, match="eventValue"):
        events.put_events(trackingId="t", userId="newbie", sessionId="s", eventList=[{**event, "eventValue": 1e30}])
    with pytest.raises(events.exceptions.InvalidInputException, match=r"eventList\.1\.sentAt .* ahead"):
        late = {**event, "eventId": "e-4", "sentAt": datetime(2999, 1, 1, tzinfo=UTC)}
        events.put_events(trackingId="t", userId="newbie", sessionId="s", eventList=[{**event, "eventId": "e-5"}, late])
    assert db.read(lambda conn: conn.run("SELECT count(*) FROM interactions")) == before


def test_get_recommendations_for_users_newcomers_and_related_items(aws, db):
    events, runtime = aws["personalize-events"], aws["personalize-runtime"]
    _items(events, [(f"m{i}", {"category": "a" if i < 3 else "b", "price": str(i)}) for i in range(6)])
    events.put_users(datasetArn=DATASET, users=[{"userId": "ann", "properties": '{"interests": "b"}'}])

    answer = runtime.get_recommendations(campaignArn=CAMPAIGN, userId="ann", numResults=4)
    listed = [i["itemId"] for i in answer["itemList"]]
    assert len(listed) == 4 and set(listed[:3]) == {"m3", "m4", "m5"}  # her interest first
    assert all(0 <= i["score"] <= 1 for i in answer["itemList"]) and answer["recommendationId"]
    surface = db.read(
        lambda conn: conn.run(
            "SELECT surface FROM impressions WHERE recommendation_id = CAST(:id AS uuid)",
            id=answer["recommendationId"],
        )
    )
    assert surface == [["home-feed"]]  # the campaign's name is the surface

    stranger = runtime.get_recommendations(recommenderArn=CAMPAIGN, userId="stranger", context={"device": "tv"})
    assert len(stranger["itemList"]) == 6  # a newcomer's list, not an error; numResults defaults to 25
    kept = db.read(
        lambda conn: conn.run(
            "SELECT context FROM impression_contexts WHERE recommendation_id = CAST(:id AS uuid)",
            id=stranger["recommendationId"],
        )
    )
    assert kept == [[{"device": "tv"}]]

    described = runtime.get_recommendations(
        campaignArn=CAMPAIGN, userId="ann", numResults=2, metadataColumns={"ITEMS": ["TITLE", "CATEGORY", "PRICE"]}
    )["itemList"]
    assert [set(i["metadata"]) for i in described] == [{"TITLE", "CATEGORY", "PRICE"}] * 2
    first = described[0]
    assert first["metadata"]["CATEGORY"] == "b" and first["metadata"]["PRICE"] == first["itemId"][1:]

    related = runtime.get_recommendations(campaignArn=CAMPAIGN, itemId="m0", numResults=5)
    assert "m0" not in [i["itemId"] for i in related["itemList"]] and len(related["itemList"]) == 5

    with pytest.raises(runtime.exceptions.ResourceNotFoundException):
        runtime.get_recommendations(campaignArn=CAMPAIGN, itemId="ghost")
    with pytest.raises(runtime.exceptions.InvalidInputException, match="userId"):
        runtime.get_recommendations(campaignArn=CAMPAIGN)


def test_personalized_ranking_lists_every_input_once_unknown_items_last(aws, db):
    events, runtime = aws["personalize-events"], aws["personalize-runtime"]
    _items(events, [(f"m{i}", {"category": "a" if i < 3 else "b"}) for i in range(6)])
    events.put_users(datasetArn=DATASET, users=[{"userId": "ann", "properties": '{"interests": "b"}'}])
    events.put_events(
        trackingId="t", userId="ann", sessionId="s", eventList=[{"eventType": "like", "itemId": "m4", "sentAt": 1e9}]
    )
    inputs = ["m0", "ghost", "m3", "m4", "m1", "m0"]
    ranking = runtime.get_personalized_ranking(campaignArn=CAMPAIGN, userId="ann", inputList=inputs)
    listed = [i["itemId"] for i in ranking["personalizedRanking"]]
    assert sorted(listed) == sorted(set(inputs)) and listed[-1] == "ghost"
    assert listed[0] == "m3"  # of her interest, not yet seen
    assert ranking["personalizedRanking"][-1]["score"] == 0.0

    from dummi.services import content_service
    from dummi.services.embedding_queue import get_embedding_queue

    content_service.update_content(db, get_embedding_queue(), "m3", {"hidden": True})  # taken down: as if not held
    time.sleep(0.05)  # the next catalog read (DUMMI_MODEL_CHECK_SECONDS 0) sees it
    ranking = runtime.get_personalized_ranking(campaignArn=CAMPAIGN, userId="ann", inputList=inputs)
    assert [i["itemId"] for i in ranking["personalizedRanking"]][-2:] == ["ghost", "m3"]


def test_filter_operations_and_their_errors(aws):
    control, runtime = aws["personalize"], aws["personalize-runtime"]
    arns = [
        control.create_filter(
            name=f"f{i}", datasetGroupArn=GROUP, filterExpression='EXCLUDE ItemID WHERE Items.CATEGORY IN ("a")'
        )["filterArn"]
        for i in range(3)
    ]
    assert arns[0] == "arn:aws:personalize:eu-west-1:123456789012:filter/f0"
    described = control.describe_filter(filterArn=arns[1])["filter"]
    assert (described["name"], described["status"], described["datasetGroupArn"]) == ("f1", "ACTIVE", GROUP)
    assert described["filterExpression"] == 'EXCLUDE ItemID WHERE Items.CATEGORY IN ("a")'

    first = control.list_filters(datasetGroupArn=GROUP, maxResults=2)
    second = control.list_filters(datasetGroupArn=GROUP, maxResults=2, nextToken=first["nextToken"])
    assert [f["name"] for f in first["Filters"] + second["Filters"]] == ["f0", "f1", "f2"]
    assert "nextToken" not in second and control.list_filters(datasetGroupArn="other")["Filters"] == []
    with pytest.raises(control.exceptions.InvalidNextTokenException):
        control.list_filters(nextToken="!!")

    with pytest.raises(control.exceptions.ResourceAlreadyExistsException):
        control.create_filter(name="f0", datasetGroupArn=GROUP, filterExpression="EXCLUDE ItemID WHERE Items.X IN (1)")
    with pytest.raises(control.exceptions.InvalidInputException, match="position 32: expected IN, NOT IN"):
        control.create_filter(name="bad", datasetGroupArn=GROUP, filterExpression="INCLUDE ItemID WHERE Items.GENRE")

    control.delete_filter(filterArn=arns[0])
    with pytest.raises(control.exceptions.ResourceNotFoundException):
        control.describe_filter(filterArn=arns[0])
    with pytest.raises(control.exceptions.ResourceNotFoundException):
        control.delete_filter(filterArn=arns[0])
    with pytest.raises(runtime.exceptions.ResourceNotFoundException):
        runtime.get_recommendations(campaignArn=CAMPAIGN, userId="u", filterArn=arns[0])
    with pytest.raises(ClientError) as refused:
        control.describe_dataset_group(datasetGroupArn=GROUP)  # not among the operations Dummi serves
    assert refused.value.response["Error"]["Code"] == "UnknownOperationException"


def test_a_filter_shapes_the_list_and_its_values_are_checked(aws):
    events, runtime, control = aws["personalize-events"], aws["personalize-runtime"], aws["personalize"]
    _items(events, [(f"m{i}", {"category": "a" if i % 2 else "b", "price": i}) for i in range(8)])
    arn = control.create_filter(
        name="cheap-in",
        datasetGroupArn=GROUP,
        filterExpression="INCLUDE ItemID WHERE Items.CATEGORY IN ($CAT) AND Items.PRICE < $MAX",
    )["filterArn"]
    answer = runtime.get_recommendations(
        campaignArn=CAMPAIGN, userId="u", filterArn=arn, filterValues={"CAT": '"a"', "MAX": "6"}
    )
    assert sorted(i["itemId"] for i in answer["itemList"]) == ["m1", "m3", "m5"]
    with pytest.raises(runtime.exceptions.InvalidInputException, match=r"\$MAX"):
        runtime.get_recommendations(campaignArn=CAMPAIGN, userId="u", filterArn=arn, filterValues={"CAT": '"a"'})
    ranking = runtime.get_personalized_ranking(
        campaignArn=CAMPAIGN,
        userId="u",
        inputList=["m1", "m2", "m7"],
        filterArn=arn,
        filterValues={"CAT": '"a"', "MAX": "6"},
    )
    assert [i["itemId"] for i in ranking["personalizedRanking"]] == ["m1"]  # filtered out: left out


def _session_rows(db):
    return db.read(
        lambda conn: conn.run(
            "SELECT i.content_id, i.user_id, i.session_id, p.session_id FROM interactions i"
            " JOIN personalize_events p USING (interaction_id) ORDER BY i.interaction_id"
        )
    )


def test_put_events_without_a_user_are_the_sessions_and_join_the_user_once(aws, db):
    events, runtime = aws["personalize-events"], aws["personalize-runtime"]
    _items(events, [(f"m{i}", {"category": "a"}) for i in range(6)])

    def put(items, user=None, session="visit-1", prefix="e"):
        listed = [{"eventType": "click", "itemId": i, "sentAt": time.time(), "eventId": f"{prefix}-{i}"} for i in items]
        events.put_events(trackingId="t", sessionId=session, eventList=listed, **({"userId": user} if user else {}))

    put(["m0", "m1"])  # a visitor, not signed in
    put(["m5"], session="visit-2")  # another visitor
    assert _session_rows(db) == [
        ["m0", None, "visit-1", "visit-1"],
        ["m1", None, "visit-1", "visit-1"],
        ["m5", None, "visit-2", "visit-2"],
    ]
    assert db.read(lambda conn: conn.run("SELECT count(*) FROM users"))[0][0] == 0  # no made-up user

    put(["m2"], user="zoe")  # signs in: the session's two events join her, then hers
    put(["m3"], user="zoe", prefix="f")  # again: nothing left to join, nothing twice
    put(["m0", "m1"])  # the visitor's first call sent again (a retry): the stored events, not a conflict
    assert _session_rows(db) == [
        ["m0", "zoe", "visit-1", "visit-1"],
        ["m1", "zoe", "visit-1", "visit-1"],
        ["m5", None, "visit-2", "visit-2"],
        ["m2", "zoe", "visit-1", "visit-1"],
        ["m3", "zoe", "visit-1", "visit-1"],
    ]
    # her list never offers what the session engaged with before she signed in
    listed = [i["itemId"] for i in runtime.get_recommendations(campaignArn=CAMPAIGN, userId="zoe")["itemList"]]
    assert sorted(listed) == ["m4", "m5"]  # m5: the other visitor's, not hers

    long_session = "visit 3/" + "s" * 200  # Personalize allows 256 characters of anything, Dummi an id
    put(["m4"], session=long_session, prefix="g")
    stored = db.read(lambda conn: conn.run("SELECT session_id FROM interactions WHERE event_id = 'g-m4'"))[0][0]
    assert stored.startswith("pz-") and len(stored) <= 128
    put(["m5"], user="yan", session=long_session, prefix="h")
    assert db.read(lambda conn: conn.run("SELECT user_id FROM interactions WHERE event_id = 'g-m4'")) == [["yan"]]


def test_a_promotion_holds_its_share_with_items_its_filter_lets_through(aws, db):
    events, runtime, control = aws["personalize-events"], aws["personalize-runtime"], aws["personalize"]
    for first in range(0, 24, 10):  # ten items a call, as Personalize takes them
        _items(
            events,
            [(f"m{i}", {"category": "sale" if i % 3 == 0 else "main"}) for i in range(first, min(24, first + 10))],
        )
    events.put_users(datasetArn=DATASET, users=[{"userId": "ann", "properties": '{"interests": "main"}'}])
    arn = control.create_filter(
        name="on-sale", datasetGroupArn=GROUP, filterExpression="INCLUDE ItemID WHERE Items.CATEGORY IN ($CAT)"
    )["filterArn"]
    sale = {f"m{i}" for i in range(0, 24, 3)}
    promotion = {"name": "spring-sale", "percentPromotedItems": 50, "filterArn": arn, "filterValues": {"CAT": '"sale"'}}

    plain = [
        i["itemId"] for i in runtime.get_recommendations(campaignArn=CAMPAIGN, userId="ann", numResults=7)["itemList"]
    ]
    answer = runtime.get_recommendations(campaignArn=CAMPAIGN, userId="ann", numResults=7, promotions=[promotion])
    listed = answer["itemList"]
    promoted = [i for i in listed if "promotionName" in i]
    assert len(listed) == 7 == len({i["itemId"] for i in listed})  # none repeated
    assert len(promoted) == 4  # ceil(0.5 x 7)
    assert all(i["promotionName"] == "spring-sale" and i["itemId"] in sale for i in promoted)
    assert [i["itemId"] for i in listed if "promotionName" not in i] == plain[:3]  # the personal list, in order
    logged = db.read(
        lambda conn: conn.run(
            "SELECT promotion, promoted FROM impressions WHERE recommendation_id = CAST(:id AS uuid)",
            id=answer["recommendationId"],
        )
    )
    assert logged == [["spring-sale", [k + 1 for k, i in enumerate(listed) if "promotionName" in i]]]

    stranger = runtime.get_recommendations(
        campaignArn=CAMPAIGN, userId="stranger", numResults=4, promotions=[promotion]
    )
    assert [i["itemId"] in sale for i in stranger["itemList"] if "promotionName" in i] == [True, True]  # a newcomer's

    # no slot when no item passes the filter
    few = {**promotion, "filterValues": {"CAT": '"nothing"'}}
    alone = runtime.get_recommendations(campaignArn=CAMPAIGN, userId="ann", numResults=7, promotions=[few])
    assert len(alone["itemList"]) == 7 and not any("promotionName" in i for i in alone["itemList"])

    with pytest.raises(runtime.exceptions.InvalidInputException, match="promotions"):
        runtime.get_recommendations(campaignArn=CAMPAIGN, itemId="m1", promotions=[promotion])
    with pytest.raises(runtime.exceptions.InvalidInputException, match="percentPromotedItems"):
        aws.again(validate=False)["personalize-runtime"].get_recommendations(
            campaignArn=CAMPAIGN, userId="ann", promotions=[{**promotion, "percentPromotedItems": 0}]
        )
    with pytest.raises(ClientError):  # one promotion per request, as Personalize allows
        aws.again(validate=False)["personalize-runtime"].get_recommendations(
            campaignArn=CAMPAIGN, userId="ann", promotions=[promotion, {**promotion, "name": "other"}]
        )


def test_bodies_that_do_not_fit_the_shape_are_invalid_input(aws, db):
    # botocore checks shapes itself; with its checks off, what reaches Dummi is still refused in AWS's shape
    unchecked = aws.again(validate=False)
    runtime, events, control = (
        unchecked["personalize-runtime"],
        unchecked["personalize-events"],
        unchecked["personalize"],
    )
    with pytest.raises(runtime.exceptions.InvalidInputException, match="numResults"):
        runtime.get_recommendations(campaignArn=CAMPAIGN, userId="u", numResults=501)
    with pytest.raises(runtime.exceptions.InvalidInputException, match="userId"):
        runtime.get_recommendations(campaignArn=CAMPAIGN, userId="no spaces/slashes")
    with pytest.raises(events.exceptions.InvalidInputException, match="properties"):
        events.put_items(datasetArn=DATASET, items=[{"itemId": "x", "properties": "{not json"}])
    with pytest.raises(events.exceptions.InvalidInputException, match="items.0"):
        events.put_items(datasetArn=DATASET, items=[{"itemId": "x", "properties": json.dumps({"nested": {"a": 1}})}])
    with pytest.raises(events.exceptions.InvalidInputException, match="eventList"):
        events.put_events(trackingId="t", sessionId="s", eventList=[])
    with pytest.raises(control.exceptions.InvalidInputException, match="name"):
        control.create_filter(name="no spaces", datasetGroupArn=GROUP, filterExpression="x")
    # text Postgres cannot store, inside the properties' JSON text: named, not a 500 (InternalFailure)
    for value in (r"a\u0000", r"\ud800"):
        text = '{"director": "' + value + '"}'  # escaped in the JSON text, as a client's json.dumps writes it
        with pytest.raises(events.exceptions.InvalidInputException, match=r"items\.0\.properties\.director"):
            events.put_items(datasetArn=DATASET, items=[{"itemId": "x", "properties": text}])
    assert _content(db, "x") is None  # nothing half-written


def test_load_shedding_answers_a_throttle_botocore_retries(db, monkeypatch):
    monkeypatch.setenv("DUMMI_MAX_IN_FLIGHT", "1")
    from dummi.api import limits
    from tests.conftest import _clear_caches

    _clear_caches()
    monkeypatch.setattr(limits.LoadShedding, "__init__", _always_full)
    with http_server() as base:
        runtime = make_clients(base, retries=2)["personalize-runtime"]
        with pytest.raises(ClientError) as shed:
            runtime.get_recommendations(campaignArn=CAMPAIGN, userId="u")
    error = shed.value.response
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == ("LimitExceededException", 429)
    assert error["ResponseMetadata"]["RetryAttempts"] == 1  # botocore took it for a throttle and retried


def _always_full(self, app, max_in_flight, retry_after_seconds=1):
    self.app, self.max_in_flight, self.retry_after, self.in_flight, self.shed = app, 0, "0", 0, 0


def test_two_campaigns_mapped_onto_two_variants_are_compared_in_one_experiment(db, monkeypatch, client):
    monkeypatch.setenv("DUMMI_PERSONALIZE_ARNS", "campaign-a=home:ranking:control,campaign-b=home:ranking:content-only")
    from tests.conftest import _clear_caches

    _clear_caches()
    body = {
        "name": "ranking",
        "variants": [{"name": "control"}, {"name": "content-only", "overrides": {"cf_weight": 0.0}}],
    }
    assert client.post("/experiments", json=body).status_code == 201
    runtime = lambda_clients()["personalize-runtime"]
    served = {}
    for campaign in ("campaign-a", "campaign-b"):
        arn = f"arn:aws:personalize:eu-west-1:123456789012:campaign/{campaign}"
        for user in ("u1", "u2", "u3"):  # whatever variant each user's own assignment would be
            answer = runtime.get_recommendations(campaignArn=arn, userId=user)
            row = db.read(
                lambda conn, rid=answer["recommendationId"]: conn.run(
                    "SELECT surface, experiment, variant FROM impressions WHERE recommendation_id = CAST(:id AS uuid)",
                    id=rid,
                )
            )
            served.setdefault(campaign, set()).add(tuple(row[0]))
    assert served == {
        "campaign-a": {("home", "ranking", "control")},
        "campaign-b": {("home", "ranking", "content-only")},
    }
