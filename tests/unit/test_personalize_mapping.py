"""The Personalize surface's pure parts: the event-type table, the ARN map, Personalize's properties as Dummi's
fields, event ids, and errors as botocore's own parsers read them (no network, no database)."""

from __future__ import annotations

import json

import pytest
from botocore.parsers import create_parser

from dummi.api.personalize.errors import error_response, throttled
from dummi.api.sigv4 import SignatureError, SignatureErrorKind
from dummi.errors import ConflictError, ForbiddenError, InvalidRequestError, NotFoundError, UnavailableError
from dummi.services.personalize.arns import ArnMap, Target
from dummi.services.personalize.event_types import EventTypeTable
from dummi.services.personalize.events import dummi_event_id, dummi_session_id, item_fields, split_values, user_fields


def test_event_types_map_ignoring_case_and_the_table_is_configurable():
    table = EventTypeTable.parse("")
    assert (table.map("Watch").kind, table.map("Watch").event_type) == ("interaction", "view_time")
    assert (table.map("rating").kind, table.map("rating").event_type) == ("feedback", "positive")
    with pytest.raises(InvalidRequestError, match="'teleport'.*mapped are add_to_cart, click"):
        table.map("teleport")
    # a product's own event type is taken by its name, before the table; a table entry may name a custom type,
    # which must be defined when the event arrives
    assert table.map("Purchase", {"purchase", "click"}).event_type == "purchase"
    assert table.map("Purchase", {"click", "like"}).event_type == "like"
    custom = EventTypeTable.parse("buy=purchase")
    assert custom.candidates("BUY") == ("buy", "purchase")
    assert custom.map("buy", {"purchase"}).event_type == "purchase"
    with pytest.raises(InvalidRequestError, match="'purchase', which is not defined"):
        custom.map("buy", {"click"})
    changed = EventTypeTable.parse("stream=view_time, Basket=like, rating=")
    assert changed.map("basket").event_type == "like" and changed.map("STREAM").event_type == "view_time"
    with pytest.raises(InvalidRequestError):
        changed.map("rating")
    assert set(changed.names_for("like")) >= {"like", "purchase", "basket"}
    for bad in ("watch", "watch=Tele port", "=click"):
        with pytest.raises(ValueError, match="DUMMI_PERSONALIZE_EVENT_TYPES"):
            EventTypeTable.parse(bad)


def test_an_arn_names_a_surface_and_a_mapped_one_a_variant():
    arns = ArnMap.parse("home-feed=home,arn:aws:personalize:us-east-1:1:campaign/b=home:ranker:wide")
    assert arns.target("arn:aws:personalize:us-east-1:1:campaign/home-feed") == Target("home")
    assert arns.target("arn:aws:personalize:us-east-1:1:campaign/b") == Target("home", "ranker", "wide")
    assert arns.target("arn:aws:personalize:us-east-1:1:recommender/email-digest") == Target("email-digest")
    assert arns.target("arn:aws:personalize:us-east-1:1:campaign/has space") == Target("personalize")
    assert arns.target(None) == Target("personalize")
    surfaced = arns.target("arn:aws:personalize:us-east-1:1:campaign/b", {"surface": "tv"})
    assert surfaced == Target("tv", "ranker", "wide")  # the context names the surface, never the variant
    for bad in ("x=home:ranker", "x=", "x=bad surface"):
        with pytest.raises(ValueError, match="DUMMI_PERSONALIZE_ARNS"):
            ArnMap.parse(bad)


def test_item_properties_become_dummis_fields_and_stay_filterable():
    fields = item_fields(
        "m1",
        {"title": "Alien", "categoryL1": "film", "genres": "Horror|SciFi", "tags": "space| classic|", "year": 1979},
    )
    assert fields == {
        "content_id": "m1",
        "title": "Alien",
        "category": "film",
        "tags": ["space", "classic"],
        "description": "",
        "properties": {"title": "Alien", "categoryL1": "film", "genres": "Horror|SciFi", "year": 1979},
    }
    bare = item_fields("m2", {"genres": "Drama|War", "description": "x" * 300})
    assert (bare["title"], bare["category"], bare["description"]) == ("m2", "Drama", "x" * 300)
    assert "description" not in bare["properties"]  # too long for a property: kept in its field only
    assert item_fields("m3", {})["category"] == "uncategorized"


def test_user_properties_give_interests_and_skill_level():
    assert user_fields({"interests": "cooking|baking", "age": 30}) == {"interests": ["cooking", "baking"]}
    assert user_fields({"skillLevel": "Expert"})["skill_level"] == "expert"
    with pytest.raises(InvalidRequestError, match="skillLevel"):
        user_fields({"skillLevel": "wizard"})
    assert split_values(["a", " ", "b"]) == ["a", "b"] and split_values(None) == []


def test_event_ids_that_are_not_dummis_are_hashed_stably():
    assert dummi_event_id("e-1") == "e-1" and dummi_event_id(None) is None
    long = "x" * 200
    assert dummi_event_id(long) == dummi_event_id(long) != dummi_event_id(long + "y")
    assert dummi_event_id("with space").startswith("pz-") and len(dummi_event_id(long)) == 43


def test_session_ids_are_dummis_own_when_they_are_ids_else_hashed_stably():
    assert dummi_session_id("visit-1") == "visit-1" and dummi_session_id("a" * 128) == "a" * 128
    for other in ("a" * 129, "visit 1", "cookie/42"):
        hashed = dummi_session_id(other)
        assert hashed.startswith("pz-") and len(hashed) == 43 and hashed == dummi_session_id(other)
    assert dummi_session_id("visit 1") != dummi_session_id("visit 2")


def _parsed(response, protocol: str) -> dict:
    """What botocore makes of an answer: the error code and message it raises with."""
    raw = {"status_code": response.status_code, "headers": dict(response.headers), "body": response.body}
    shape = None
    return create_parser(protocol).parse(raw, shape)["Error"]


@pytest.mark.parametrize(
    ("error", "code", "status"),
    [
        (InvalidRequestError("bad"), "InvalidInputException", 400),
        (NotFoundError("filter", "arn:x"), "ResourceNotFoundException", 404),
        (ConflictError("taken"), "ResourceAlreadyExistsException", 400),
        (ForbiddenError("no scope"), "AccessDeniedException", 403),
        (SignatureError(SignatureErrorKind.EXPIRED, "Signature expired"), "InvalidSignatureException", 403),
        (SignatureError(SignatureErrorKind.UNKNOWN_KEY, "invalid"), "UnrecognizedClientException", 403),
        (UnavailableError("down"), "ServiceUnavailableException", 503),
        (RuntimeError("boom"), "InternalFailure", 500),
    ],
)
def test_errors_parse_as_botocore_reads_each_protocol(error, code, status):
    for protocol, json_protocol in (("rest-json", False), ("json", True)):
        response = error_response(error, json_protocol=json_protocol, conflict="ResourceAlreadyExistsException",
                                  missing="ResourceNotFoundException")  # fmt: skip
        assert _parsed(response, protocol)["Code"] == code
        expected = 400 if json_protocol and status in (400, 404) else status
        assert response.status_code == expected
        assert json.loads(response.body)["__type"] == code


def test_a_throttle_is_a_429_botocore_reads_as_limit_exceeded():
    response = throttled()
    assert response.status_code == 429 and response.headers["Retry-After"] == "1"
    assert _parsed(response, "rest-json")["Code"] == "LimitExceededException"
