"""The content service on a fake repository: what it asks the embedder for (a new item, changed text, an item
still waiting for its vector; never a retry or an unchanged item), and refusals."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from dummi.db.records import ContentRecord
from dummi.errors import NotFoundError
from dummi.services.content_service import create_content, delete_content, get_content, update_content
from tests.unit.service_fakes import RecordingQueue, fake_work

TEXT_FIELDS = ("title", "description", "tags", "category")


class FakeContent:
    def __init__(self) -> None:
        self.items: dict[str, ContentRecord] = {}
        self.unembedded: set[str] = set()  # text changed since the last vector was stored

    def insert(self, content_id, title, category, tags, description, **state):
        if content_id in self.items:
            return self.items[content_id], False
        now = datetime.now(UTC)
        item = ContentRecord(content_id, title, category, tags, description, now, now, **state)
        self.items[content_id] = item
        self.unembedded.add(content_id)
        return item, True

    def require(self, content_id):
        if content_id not in self.items:
            raise NotFoundError("content", content_id, field="content_id")
        return self.items[content_id]

    def update(self, content_id, changes):
        before = self.require(content_id)
        after = replace(before, **changes)
        if after == before:
            return before, False
        if any(getattr(after, f) != getattr(before, f) for f in TEXT_FIELDS):
            self.unembedded.add(content_id)
        self.items[content_id] = after
        return after, True

    def needs_embedding(self, content_id):
        return content_id in self.unembedded

    def delete(self, content_id):
        return self.items.pop(content_id, None) is not None


@pytest.fixture
def catalog():
    content = FakeContent()
    work, db = fake_work(content=content)
    return work, db, content, RecordingQueue()


def test_a_new_item_is_queued_for_embedding_and_a_retry_is_not(catalog):
    work, db, _, queue = catalog
    item, created = create_content(work, queue, "tut1", "ML for Beginners", "ml", ["python"], "intro", hidden=True)
    assert created and item.hidden and queue.queued == [("content", ["tut1"])]
    again, created = create_content(work, queue, "tut1", "ML for Beginners", "ml", ["python"], "intro", hidden=True)
    assert not created and again == item and queue.queued == [("content", ["tut1"])]
    assert db.commits == 2


def test_changed_text_is_queued_again_and_a_change_of_nothing_is_not(catalog):
    work, _, content, queue = catalog
    create_content(work, queue, "c1", "Old title", "ml", [], "")
    content.unembedded.clear()  # the embedder stored its vector
    queue.queued.clear()

    assert update_content(work, queue, "c1", {"hidden": True}).hidden
    assert queue.queued == []  # a take-down changes no text: nothing to embed
    update_content(work, queue, "c1", {"title": "New title"})
    assert queue.queued == [("content", ["c1"])]
    update_content(work, queue, "c1", {"title": "New title"})
    assert queue.queued == [("content", ["c1"])]  # the same change twice writes nothing the second time


def test_an_item_still_waiting_for_its_vector_is_queued_again_on_any_change(catalog):
    work, _, _, queue = catalog
    create_content(work, queue, "c1", "Title", "ml", [], "")  # queued; the embedder has not run yet
    update_content(work, queue, "c1", {"properties": {"lang": "de"}})
    assert queue.queued == [("content", ["c1"]), ("content", ["c1"])]


def test_deleting_or_changing_an_unknown_item_is_refused(catalog):
    work, db, _, queue = catalog
    with pytest.raises(NotFoundError):
        delete_content(work, "nope")
    with pytest.raises(NotFoundError):
        update_content(work, queue, "nope", {"title": "x"})
    with pytest.raises(NotFoundError):
        get_content(work, "nope")
    assert queue.queued == [] and db.rollbacks == 2
