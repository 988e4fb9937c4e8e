"""The result cache against a real redis-server that the project starts (dummi.local_cache): hits for the
same request, never a stale answer (a new event, a new model, other fields, a take-down), and a cache that
stops never fails or slows a request beyond a small bound."""

from __future__ import annotations

import time

import pytest

from dummi.artifacts.store import get_artifact_store
from dummi.local_cache import LocalCacheServer, server_binary
from dummi.services.import_service import import_directory
from dummi.services.recommendation_service import get_engine
from dummi.training.params import TrainingParams
from dummi.training.runs import run_now
from tests.conftest import _clear_caches, write_tastes

pytestmark = pytest.mark.skipif(server_binary() is None, reason="no redis-server or valkey-server: make cache-setup")


@pytest.fixture
def cached(db, client, tmp_path, monkeypatch):
    server = LocalCacheServer(tmp_path / "cache").start()
    monkeypatch.setenv("DUMMI_RESULT_CACHE_URL", server.url)
    monkeypatch.setenv("DUMMI_MODEL_CHECK_SECONDS", "0")
    _clear_caches()
    import_directory(db, write_tastes(tmp_path / "tastes", users=30))
    assert run_now(db, get_artifact_store(), "test", TrainingParams()).state == "succeeded"
    yield client, server
    server.stop()


def _ask(client, **fields):
    body = {"user_id": "u0", "explore_slots": 0} | fields
    response = client.post("/recommendations/", json=body)
    assert response.status_code == 200, response.text
    return [(r["content_id"], r["score"], r["method"]) for r in response.json()["recommendations"]]


def test_the_same_request_is_a_hit_and_answers_the_same(cached):
    client, _ = cached
    first = _ask(client)
    cache = get_engine().cache
    assert (cache.hits, cache.misses) == (0, 1)
    assert _ask(client) == first and cache.hits == 1
    assert _ask(client, n_recommendations=5) == first[:5] or cache.misses == 2, "other fields: another key"
    assert cache.misses == 2


def test_a_new_event_a_new_model_or_a_take_down_is_never_served_stale(cached, db):
    client, _ = cached
    cache = get_engine().cache
    first = _ask(client)
    top = first[0][0]
    assert client.post(
        "/recommendations/interact", json={"user_id": "u0", "content_id": top, "interaction_type": "like"}
    ).status_code in (200, 201)
    after_like = _ask(client)
    assert top not in [c for c, _, _ in after_like] and cache.hits == 0, "a new event is a new key"

    second = after_like[1][0]
    _ask(client)
    hits = cache.hits
    assert client.patch(f"/content/{second}", json={"hidden": True}).status_code == 200
    deadline = time.monotonic() + 5
    while second in [c for c, _, _ in _ask(client)]:
        assert time.monotonic() < deadline, "a hidden item stays in cached answers past 5 s"
        time.sleep(0.1)
    assert cache.hits == hits and cache.rejected >= 1, "the cached answer holding the hidden item is not served"

    run = run_now(db, get_artifact_store(), "test", TrainingParams(force=True))
    assert run.state == "succeeded"
    misses = cache.misses
    answer = client.post("/recommendations/", json={"user_id": "u0", "explore_slots": 0}).json()
    assert answer["model_version"] == run.model_version and cache.misses == misses + 1, "a new model: a new key"


def test_a_cache_that_hangs_or_stops_never_fails_or_slows_a_request(cached, monkeypatch):
    import os
    import signal

    from dummi.services import result_cache

    client, server = cached
    _ask(client)
    cache = get_engine().cache

    def timed(n):
        times = []
        for _ in range(n):
            started = time.perf_counter()
            _ask(client)
            times.append(time.perf_counter() - started)
        return times

    os.kill(server.process.pid, signal.SIGSTOP)  # hung: connections open, nothing answers
    try:
        hung = timed(20)
    finally:
        os.kill(server.process.pid, signal.SIGCONT)
    assert cache.errors == 1, "after one failure the cache is skipped for a while, not tried on every request"
    assert max(hung) < 0.5, hung
    monkeypatch.setattr(cache, "_down_until", 0.0)  # the retry period is over
    server.stop()
    stopped = timed(20)
    assert cache.errors == 2 and max(stopped) < 0.5, stopped
    assert result_cache.TIMEOUT_SECONDS <= 0.05
