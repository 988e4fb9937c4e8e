"""The result cache against a real redis-server that the project starts (dummi.local_cache): hits for the
same request, never a stale answer (a new event, a new model, other fields, a take-down), and a cache that
stops never fails or slows a request beyond a small bound; a killed server is started again, one that keeps
dying is given up on."""

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


def _wait_for(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"not within {seconds:.0f} s"
        time.sleep(0.05)


def test_a_killed_cache_server_is_started_again_and_used_once_back(cached, monkeypatch):
    import os
    import signal

    client, server = cached
    cache = get_engine().cache
    first = _ask(client)
    killed = server.process.pid
    os.kill(killed, signal.SIGKILL)
    _wait_for(lambda: server.restarts == 1)  # the watch starts it again, on the same socket
    assert server.process.pid != killed and server.process.poll() is None
    assert _ask(client) == first  # answered whatever the cache did meanwhile
    monkeypatch.setattr(cache, "_down_until", 0.0)  # past any step-aside period
    _ask(client)  # the new, empty server is filled again
    hits = cache.hits
    assert _ask(client) == first and cache.hits == hits + 1


def test_a_cache_server_that_keeps_dying_is_given_up_on_with_a_log_line(tmp_path, caplog):
    import os
    import signal

    server = LocalCacheServer(tmp_path / "cache", interval=0.05, max_tries=1).start()
    try:
        os.kill(server.process.pid, signal.SIGKILL)
        _wait_for(lambda: server.restarts == 1)
        again = server.process.pid
        os.kill(again, signal.SIGKILL)
        _wait_for(lambda: "given up on" in caplog.text)
        time.sleep(0.3)  # several ticks of the watch: nothing more is started
        assert server.restarts == 1 and server.process.pid == again
    finally:
        server.stop()


def test_health_says_the_cache_is_down_and_the_service_still_answers(cached):
    client, server = cached
    assert client.get("/health").json() | {"version": None} == {
        "status": "ok",
        "database": "ok",
        "cache": "ok",
        "version": None,
        "auth": False,
        "reason": None,
    }
    first = _ask(client)
    server.stop()  # down for good, as after the watch gave up on it
    health = client.get("/health")
    assert health.status_code == 200, "a load balancer keeps a server that answers every request"
    body = health.json()
    assert (body["status"], body["database"], body["cache"]) == ("degraded", "ok", "unavailable")
    assert "result cache" in body["reason"]
    assert get_engine().cache.errors == 0, "a health probe's ping trips no step-aside of the answers"
    assert _ask(client) == first  # computed, as without a cache


def test_health_names_no_cache_where_none_is_configured(client):
    assert client.get("/health").json()["cache"] is None
