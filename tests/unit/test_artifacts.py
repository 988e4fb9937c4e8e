"""Publishing and loading model versions, on the file store (the S3 store runs the same checks in
tests/integration/test_artifacts_s3.py over moto's server)."""

import json

import pytest

from dummi.artifacts.loader import ModelCache
from dummi.artifacts.publish import (
    POINTER,
    collect_garbage,
    discard_unfinished,
    publish,
    published_versions,
    read_pointer,
)
from dummi.artifacts.store import ArtifactNotFoundError, FileStore, store_from_uri


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def parse(manifest, files):
    return {name: data.decode() for name, data in files.items()}


def test_store_from_uri(tmp_path):
    assert isinstance(store_from_uri(tmp_path.as_uri()), FileStore)
    s3 = store_from_uri("s3://bucket/some/prefix/")
    assert (s3.bucket, s3.prefix) == ("bucket", "some/prefix")
    with pytest.raises(ValueError):
        store_from_uri("ftp://x")


def test_file_store_basics(tmp_path):
    store = FileStore(tmp_path)
    store.put("models/v1/a.bin", b"abc")
    assert store.get("models/v1/a.bin") == b"abc"
    data, etag = store.get_if_changed("models/v1/a.bin", None)
    assert data == b"abc"
    assert store.get_if_changed("models/v1/a.bin", etag) is None
    store.put("models/v1/a.bin", b"abcd")
    assert store.get_if_changed("models/v1/a.bin", etag) is not None
    assert store.list("models/") == ["models/v1/a.bin"]
    store.delete(["models/v1/a.bin"])
    assert store.list("models/") == []
    with pytest.raises(ArtifactNotFoundError):
        store.get("models/v1/a.bin")
    with pytest.raises(ValueError):
        store.put("../escape", b"x")


def test_publish_writes_files_manifest_then_pointer(tmp_path):
    store = FileStore(tmp_path)
    manifest = publish(store, "v1", {"a.bin": b"A", "b.bin": b"BB"}, {"counts": {"items": 2}})
    assert manifest["files"]["b.bin"]["bytes"] == 2
    assert read_pointer(store)["version"] == "v1"
    stored = json.loads(store.get("models/v1/manifest.json"))
    assert stored["counts"] == {"items": 2} and stored["version"] == "v1"


def test_discard_unfinished_deletes_only_what_no_finished_run_published(tmp_path):
    store = FileStore(tmp_path)
    publish(store, "v1", {"a.bin": b"A"}, {"run_id": "run-ok"})
    publish(store, "v2", {"a.bin": b"A"}, {"run_id": "run-dead-after-pointer"})  # the pointer: kept, whatever
    publish(store, "v0", {"a.bin": b"A"}, {"run_id": "run-failed-but-recorded"})  # in keep
    store.put("models/v3/a.bin", b"A")  # killed before its manifest
    store.put("models/v4/a.bin", b"A")  # killed after its manifest, before the pointer
    store.put("models/v4/manifest.json", json.dumps({"run_id": "run-killed"}).encode())
    store.put("models/v5/manifest.json", json.dumps({}).encode())  # no run named (published outside a run)
    (tmp_path / "models" / "v6").mkdir()
    (tmp_path / "models" / "v6" / ".a.bin.x1y2").write_bytes(b"half")  # a put killed before its rename
    store.put(POINTER, json.dumps({"version": "v2"}).encode())
    asked = []

    def failed(run_ids):
        asked.append(run_ids)
        return {"run-killed", "run-failed-but-recorded", "run-dead-after-pointer"}

    assert discard_unfinished(store, keep={"v0"}, failed_runs=failed) == ["v3", "v4"]
    assert published_versions(store) == ["v0", "v1", "v2", "v5"]
    assert asked == [["run-killed", "run-ok"]]
    assert not (tmp_path / "models" / "v6").exists()


def test_a_publish_that_fails_midway_leaves_the_pointer(tmp_path):
    store = FileStore(tmp_path)
    publish(store, "v1", {"a.bin": b"A"}, {})

    class Failing(FileStore):
        def put(self, key, data):
            if key.endswith("b.bin"):
                raise OSError("disk full")
            super().put(key, data)

    with pytest.raises(OSError):
        publish(Failing(tmp_path), "v2", {"a.bin": b"A2", "b.bin": b"B2"}, {})
    assert read_pointer(store)["version"] == "v1"


def test_retention_deletes_old_versions_but_never_the_published_one(tmp_path):
    store = FileStore(tmp_path)
    for v in ("v1", "v2", "v3", "v4"):
        publish(store, v, {"a.bin": v.encode()}, {}, retention=2)
    assert published_versions(store) == ["v3", "v4"]
    store.put(POINTER, json.dumps({"version": "v3"}).encode())  # pointer rolled back by hand
    assert collect_garbage(store, retention=1) == []
    assert published_versions(store) == ["v3", "v4"]


def test_loader_loads_once_then_rechecks_at_most_every_interval(tmp_path):
    store, clock = FileStore(tmp_path), Clock()
    cache = ModelCache(store, parse, check_interval=60, clock=clock)
    assert cache.get() is None  # nothing published yet
    publish(store, "v1", {"a.bin": b"one"}, {})
    clock.now = 2
    assert cache.get() is None  # checked moments ago
    clock.now = 6  # with nothing loaded the pointer is looked at again after a few seconds, not a minute
    assert cache.get().model == {"a.bin": "one"}
    publish(store, "v2", {"a.bin": b"two"}, {})
    clock.now = 60
    assert cache.get().version == "v1"  # within the interval: no check
    clock.now = 67
    assert cache.get().version == "v2"


def test_loader_rejects_a_corrupted_file_and_keeps_the_last_good_model(tmp_path):
    store, clock = FileStore(tmp_path), Clock()
    cache = ModelCache(store, parse, check_interval=10, clock=clock)
    publish(store, "v1", {"a.bin": b"good"}, {})
    assert cache.get().version == "v1"
    publish(store, "v2", {"a.bin": b"newer"}, {})
    store.put("models/v2/a.bin", b"tampered")  # bit rot, a partial upload, an attacker
    clock.now = 11
    loaded = cache.get()
    assert loaded.version == "v1" and loaded.model == {"a.bin": "good"}
    assert "corrupted" in cache.last_error
    store.put("models/v2/a.bin", b"newer")  # repaired
    clock.now = 22
    assert cache.get().version == "v2" and cache.last_error is None


def test_loader_keeps_serving_when_the_store_is_unreachable(tmp_path):
    store, clock = FileStore(tmp_path), Clock()
    publish(store, "v1", {"a.bin": b"good"}, {})
    cache = ModelCache(store, parse, check_interval=1, clock=clock)
    assert cache.get().version == "v1"

    def broken(*args, **kwargs):
        raise ConnectionError("S3 is down")

    store.get_if_changed = broken
    clock.now = 5
    assert cache.get().version == "v1"
    assert "ConnectionError" in cache.last_error
