"""New or changed text is embedded right after the write (background worker, as `make run` does)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from dummi.ml.embeddings import from_bytes, get_embedder
from dummi.ml.text import content_text, interests_text


@pytest.fixture
def background(monkeypatch, db):
    monkeypatch.setenv("DUMMI_EMBEDDING_MODE", "background")
    from dummi.config import get_settings
    from dummi.services.embedding_queue import get_embedding_queue

    get_settings.cache_clear()
    get_embedding_queue.cache_clear()
    return get_embedding_queue()


def _wait_for(db, sql, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = db.read(lambda c: c.run(sql))
        if rows and rows[0][0] is not None:
            return rows[0][0]
        time.sleep(0.05)
    pytest.fail(f"not embedded within {timeout}s")


def test_new_content_is_embedded_within_seconds(client, db, background):
    started = time.monotonic()
    body = {
        "content_id": "tut1",
        "title": "ML for Beginners",
        "category": "machine-learning",
        "tags": ["tutorial", "beginner", "python"],
    }
    assert client.post("/content/", json=body).status_code == 201
    blob = _wait_for(db, "SELECT embedding FROM content WHERE content_id = 'tut1'")
    assert time.monotonic() - started < 10
    expected = get_embedder().encode([content_text(body["title"], body["category"], body["tags"], "")])[0]
    assert float(from_bytes(blob) @ expected) > 0.9999


def test_changed_interests_are_embedded_again(client, db, background):
    client.post("/users/", json={"user_id": "alice", "interests": ["python"], "skill_level": "beginner"})
    first = _wait_for(db, "SELECT interests_embedding FROM users WHERE user_id = 'alice'")
    client.put("/users/alice", json={"interests": ["cooking", "gardening"]})
    assert background.join(20)
    second = db.read(lambda c: c.run("SELECT interests_embedding FROM users WHERE user_id = 'alice'"))[0][0]
    assert second != first
    expected = get_embedder().encode([interests_text(["cooking", "gardening"])])[0]
    assert float(from_bytes(second) @ expected) > 0.9999
    assert np.isfinite(from_bytes(second)).all()


def test_a_patch_of_text_racing_its_own_re_embedding_ends_on_the_newest_text(client, db, background, monkeypatch):
    """The embedder reads the first change's text; a second change lands while it embeds. The stale vector is
    not stored (the row moved on), and the second change's own job stores the newest text's vector."""
    from dummi.db.content_repository import ContentRepository

    body = {"content_id": "tut1", "title": "Python basics", "category": "python"}
    assert client.post("/content/", json=body).status_code == 201
    _wait_for(db, "SELECT embedding FROM content WHERE content_id = 'tut1'")
    original = ContentRepository.embedding_sources
    raced = []

    def read_then_patch_again(self, *args, **kwargs):
        sources = original(self, *args, **kwargs)
        if not raced and any(s.key == "tut1" for s in sources):
            raced.append(True)
            assert client.patch("/content/tut1", json={"title": "Sourdough bread at home"}).status_code == 200
        return sources

    monkeypatch.setattr(ContentRepository, "embedding_sources", read_then_patch_again)
    assert client.patch("/content/tut1", json={"title": "Gardening for beginners"}).status_code == 200
    final = content_text("Sourdough bread at home", "python", [], "")
    expected = get_embedder().encode([final])[0]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        blob, stored_hash = db.read(
            lambda c: c.run("SELECT embedding, text_hash FROM content WHERE content_id = 'tut1'")
        )[0]
        if stored_hash is not None and float(from_bytes(blob) @ expected) > 0.9999:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the newest text was not embedded")
    assert raced
    from dummi.ml.text import text_hash

    assert stored_hash == text_hash(final)
