"""Recording interactions and feedback on fake repositories: unknown users and items are refused, and an
event is tied to the answer it came from (or refused when it names an answer it cannot have come from)
before anything is stored."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from dummi.db.impressions_repository import Attribution, Impression
from dummi.db.records import InteractionRecord
from dummi.errors import ConflictError, InvalidRequestError, NotFoundError
from dummi.services.impressions_service import new_recommendation_id
from dummi.services.interactions_service import record_feedback, record_interaction
from tests.unit.service_fakes import FakeEventTypes, fake_work


class FakeInteractions:
    def __init__(self, users: set[str], content: set[str]) -> None:
        self.users, self.content = users, content
        self.stored: list[InteractionRecord] = []

    def add(
        self,
        user_id,
        content_id,
        *,
        kind,
        event_type,
        duration_seconds=None,
        event_id=None,
        attribution=None,
        session_id=None,
    ):
        if user_id not in self.users:
            raise NotFoundError("user", user_id, field="user_id")
        if content_id not in self.content:
            raise NotFoundError("content", content_id, field="content_id")
        record = InteractionRecord(
            len(self.stored) + 1,
            user_id,
            content_id,
            kind,
            event_type,
            duration_seconds,
            datetime.now(UTC),
            event_id,
            attribution.recommendation_id if attribution else None,
            attribution.position if attribution else None,
            attribution.how if attribution else None,
        )
        self.stored.append(record)
        return record


class FakeImpressions:
    def __init__(self, *answers: Impression, latest: Attribution | None = None) -> None:
        self.answers = {a.recommendation_id: a for a in answers}
        self.latest = latest
        self.windows: list = []

    def get(self, recommendation_id: str) -> Impression | None:
        return self.answers.get(recommendation_id)

    def latest_listing(self, user_id, content_id, window, session_id=None):
        self.windows.append(window)
        return self.latest


def _answer(user_id: str | None, items: list[str]) -> Impression:
    return Impression(
        new_recommendation_id(), user_id, "api", "/recommendations/", "v1", None, None, None, items, [], []
    )


ANONYMOUS = _answer(None, ["c"])  # /popular and /similar answer nobody in particular


@pytest.fixture
def shop():
    interactions = FakeInteractions({"alice", "bob"}, {"a", "b", "c"})
    answer = _answer("alice", ["a", "b", "c"])
    work, db = fake_work(
        interactions=interactions, impressions=FakeImpressions(answer, ANONYMOUS), event_types=FakeEventTypes(share=1.0)
    )
    return work, db, interactions, answer


def test_an_interaction_with_an_unknown_item_is_refused_and_nothing_is_stored(shop):
    work, db, interactions, _ = shop
    with pytest.raises(NotFoundError) as raised:
        record_interaction(work, "alice", "nope", "click", None)
    assert raised.value.field == "content_id"
    assert interactions.stored == [] and db.rollbacks == 1 and db.commits == 0


def test_feedback_from_an_unknown_user_is_refused(shop):
    work, _, interactions, _ = shop
    with pytest.raises(NotFoundError) as raised:
        record_feedback(work, "mallory", "a", "positive")
    assert raised.value.field == "user_id" and interactions.stored == []


def test_an_event_naming_its_answer_is_attributed_to_the_items_position(shop):
    work, db, interactions, answer = shop
    stored = record_interaction(work, "alice", "b", "click", 3.5, recommendation_id=answer.recommendation_id)
    assert (stored.recommendation_id, stored.position, stored.attribution) == (answer.recommendation_id, 2, "explicit")
    assert (stored.kind, stored.event_type, stored.duration_seconds) == ("interaction", "click", 3.5)
    assert interactions.stored == [stored] and db.commits == 1


def test_an_answer_to_nobody_may_be_named_by_any_user(shop):
    work, _, _, _ = shop
    stored = record_feedback(work, "bob", "c", "positive", recommendation_id=ANONYMOUS.recommendation_id)
    assert (stored.kind, stored.position) == ("feedback", 1)


def test_naming_another_users_answer_is_refused_before_anything_is_stored(shop):
    work, db, interactions, answer = shop
    with pytest.raises(ConflictError, match="another user"):
        record_interaction(work, "bob", "a", "click", None, recommendation_id=answer.recommendation_id)
    assert interactions.stored == [] and db.rollbacks == 1


def test_naming_an_answer_that_did_not_list_the_item_is_refused(shop):
    work, _, interactions, answer = shop
    interactions.content.add("d")
    with pytest.raises(ConflictError, match="did not list"):
        record_interaction(work, "alice", "d", "click", None, recommendation_id=answer.recommendation_id)
    assert interactions.stored == []


def test_an_unknown_answer_id_is_refused_unless_its_answer_has_aged_out(shop):
    work, _, interactions, _ = shop
    with pytest.raises(NotFoundError) as raised:
        record_interaction(work, "alice", "a", "click", None, recommendation_id=new_recommendation_id())
    assert raised.value.field == "recommendation_id" and interactions.stored == []

    long_ago = new_recommendation_id(now=time.time() - 10 * 365 * 86400)  # past any retention period
    stored = record_interaction(work, "alice", "a", "click", None, recommendation_id=long_ago)
    assert stored.recommendation_id is None and stored.attribution is None


def test_without_an_id_the_latest_answer_listing_the_item_is_used():
    listing = Attribution(new_recommendation_id(), 4, "window")
    impressions = FakeImpressions(latest=listing)
    work, _ = fake_work(
        interactions=FakeInteractions({"alice"}, {"a"}), impressions=impressions, event_types=FakeEventTypes()
    )
    stored = record_interaction(work, "alice", "a", "click", None)
    assert (stored.recommendation_id, stored.position, stored.attribution) == (listing.recommendation_id, 4, "window")
    assert impressions.windows and impressions.windows[0].total_seconds() > 0


def test_an_interaction_of_a_type_no_one_defined_is_refused_naming_the_field(shop):
    work, db, interactions, _ = shop
    with pytest.raises(InvalidRequestError) as raised:
        record_interaction(work, "alice", "a", "purchase", None)
    assert raised.value.field == "interaction_type" and "purchase" in raised.value.message
    assert interactions.stored == [] and db.rollbacks == 1
    stored = record_interaction(work, "alice", "a", "share", None)  # a type the product defined
    assert stored.event_type == "share" and interactions.stored == [stored]
