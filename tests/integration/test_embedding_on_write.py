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
