"""The users service on fake repositories: what is queued for embedding, which interests are suggested, and
what an export holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dummi.db.records import UserRecord
from dummi.errors import NotFoundError
from dummi.experiments.assignment import Experiment, Variant, in_traffic, variant_of
from dummi.ml.interests import SuggestedInterest
from dummi.services.users_service import (
    create_user,
    delete_user,
    export_user,
    get_user,
    suggested_interests,
    update_user,
)
from tests.unit.service_fakes import RecordingQueue, fake_work


class FakeUsers:
    def __init__(self) -> None:
        self.users: dict[str, UserRecord] = {}
        self.histories: dict[str, list[str]] = {}

    def insert(self, user_id, interests, skill_level):
        if user_id in self.users:
            return self.users[user_id], False
        now = datetime.now(UTC)
        self.users[user_id] = UserRecord(user_id, interests, skill_level, now, now)
        return self.users[user_id], True

    def require(self, user_id):
        if user_id not in self.users:
            raise NotFoundError("user", user_id, field="user_id")
        return self.users[user_id]

    def history(self, user_id, limit):
        return self.histories.get(user_id, [])[:limit]

    def update(self, user_id, *, interests, skill_level):
        before = self.require(user_id)
        after = UserRecord(
            user_id,
            before.interests if interests is None else interests,
            skill_level or before.skill_level,
            before.created_at,
            datetime.now(UTC),
        )
        self.users[user_id] = after
        return after

    def delete(self, user_id):
        return self.users.pop(user_id, None) is not None

    def export(self, user_id):
        user = self.users.get(user_id)
        return None if user is None else {"user_id": user_id, "interests": user.interests, "interactions": []}


class FakeInterests:
    def __init__(self, stored=None, source=None, labels=()) -> None:
        self._stored, self._source, self.labels = stored or [], source, list(labels)

    def stored(self):
        return self._stored, self._source

    def catalog_labels(self):
        return self.labels


class FakeImpressions:
    def for_user(self, user_id):
        return [{"recommendation_id": "r1", "item_ids": ["a"]}]


class FakeExperiments:
    def __init__(self, *experiments: Experiment) -> None:
        self.experiments = list(experiments)

    def all(self):
        return self.experiments


@pytest.fixture
def people():
    users = FakeUsers()
    work, _ = fake_work(users=users, interests=FakeInterests(), impressions=FakeImpressions())
    return work, users, RecordingQueue()


def test_a_new_user_with_interests_is_queued_and_a_retry_finds_the_stored_user(people):
    work, users, queue = people
    created = create_user(work, queue, "alice", ["python"], "beginner", history_limit=5)
    assert created.created and created.history == [] and queue.queued == [("user", ["alice"])]
    users.histories["alice"] = ["c3", "c2", "c1"]
    again = create_user(work, queue, "alice", ["python"], "beginner", history_limit=2)
    assert not again.created and again.history == ["c3", "c2"] and queue.queued == [("user", ["alice"])]


def test_a_user_without_interests_has_nothing_to_embed(people):
    work, _, queue = people
    create_user(work, queue, "bob", [], "beginner", history_limit=5)
    assert queue.queued == []


def test_only_changed_interests_are_embedded_again(people):
    work, _, queue = people
    create_user(work, queue, "alice", ["python"], "beginner", history_limit=5)
    update_user(work, queue, "alice", interests=None, skill_level="advanced", history_limit=5)
    update_user(work, queue, "alice", interests=["python"], skill_level=None, history_limit=5)
    assert queue.queued == [("user", ["alice"])]
    updated = update_user(work, queue, "alice", interests=["python", "sql"], skill_level=None, history_limit=5)
    assert updated.user.interests == ["python", "sql"] and updated.user.skill_level == "advanced"
    assert queue.queued == [("user", ["alice"]), ("user", ["alice"])]


def test_unknown_users_are_refused(people):
    work, _, queue = people
    for call in (
        lambda: get_user(work, "nobody", history_limit=5),
        lambda: update_user(work, queue, "nobody", interests=["x"], skill_level=None, history_limit=5),
        lambda: delete_user(work, "nobody"),
        lambda: export_user(work, "nobody"),
        lambda: suggested_interests(work, "nobody", 3),
    ):
        with pytest.raises(NotFoundError):
            call()
    assert queue.queued == []


def test_suggestions_leave_out_the_users_own_interests_whatever_their_spelling(people):
    work, users, queue = people
    create_user(work, queue, "alice", ["Machine Learning"], "beginner", history_limit=5)
    stored = [SuggestedInterest(i, 3, 0.2) for i in ("machine-learning", "python", "sql", "rust")]
    work, _ = fake_work(users=users, interests=FakeInterests(stored, "engagement"))
    found = suggested_interests(work, "alice", 2)
    assert found.source == "engagement" and [s.interest for s in found.suggestions] == ["python", "sql"]


def test_before_any_training_suggestions_come_from_the_catalogs_labels(people):
    work, users, queue = people
    create_user(work, queue, "alice", ["python"], "beginner", history_limit=5)
    labels = [("ml", ["python"]), ("ml", ["numpy"]), ("web", ["css"]), ("ml", [])]
    work, _ = fake_work(users=users, interests=FakeInterests(labels=labels))
    found = suggested_interests(work, "alice", 5)
    names = [s.interest for s in found.suggestions]
    assert found.source == "catalog" and names[0] == "ml" and "python" not in names and "web" in names


def test_an_export_holds_the_profile_the_answers_and_the_experiments_the_user_is_in(people):
    work, users, queue = people
    create_user(work, queue, "alice", ["python"], "beginner", history_limit=5)
    started = datetime.now(UTC) - timedelta(days=1)
    everyone = Experiment("all", "salt1", (Variant("a", 1.0), Variant("b", 1.0)), 100.0, started)
    nobody = Experiment("none", "salt2", (Variant("a", 1.0),), 0.0, started)
    assert in_traffic(everyone, "alice") and not in_traffic(nobody, "alice")
    work, _ = fake_work(users=users, impressions=FakeImpressions(), experiments=FakeExperiments(everyone, nobody))

    document = export_user(work, "alice")
    assert document["user_id"] == "alice" and document["impressions"][0]["recommendation_id"] == "r1"
    expected = {"experiment": "all", "variant": variant_of(everyone, "alice").name, "status": "running"}
    assert document["assignments"] == [expected]
    assert datetime.fromisoformat(document["exported_at"]) <= datetime.now(UTC)
