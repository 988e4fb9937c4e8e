"""The training pipeline end to end on the sample data: real Postgres, real ONNX embeddings, real FAISS and
NMF, both artifact stores (file, and S3 through moto's server), and the loader serving uses."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest

from dummi.artifacts.loader import ModelCache
from dummi.artifacts.publish import read_pointer
from dummi.artifacts.store import FileStore, S3Store
from dummi.ml.embeddings import get_embedder
from dummi.ml.model_bundle import parse_bundle
from dummi.services.sample_data import load_sample_data
from dummi.training.params import TrainingParams
from dummi.training.runs import (
    TrainingAlreadyRunningError,
    execute_run,
    latest_runs,
    request_run,
    run_now,
)
from tests.conftest import write_tastes

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample_data.json"


@pytest.fixture
def sample(db):
    load_sample_data(db, SAMPLE)
    return json.loads(SAMPLE.read_text())


@pytest.fixture(params=["file", "s3"])
def store(request, tmp_path):
    if request.param == "file":
        return FileStore(tmp_path / "artifacts")
    bucket = request.getfixturevalue("s3_bucket")
    return S3Store(bucket, "dummi")


def _stored_vectors(db) -> dict[str, bytes | None]:
    rows = db.read(lambda c: c.run("SELECT content_id, embedding FROM content"))
    return {r[0]: r[1] for r in rows}


def test_training_publishes_a_loadable_model(db, sample, store):
    run = run_now(db, store, "test", TrainingParams())
    assert run.state == "succeeded", run.error
    assert run.counts["items"] == len(sample["content"])
    assert run.counts["content_embedded"] == len(sample["content"])
    assert run.counts["interactions"] == len(sample["interactions"]) + len(sample["feedback"])
    assert run.counts["cf_users"] == len(sample["users"])
    assert {"embed", "index", "cf", "publish", "total"} <= set(run.timings)

    pointer = read_pointer(store)
    assert pointer["version"] == run.model_version
    assert all(v is not None for v in _stored_vectors(db).values()), "embeddings stored in Postgres"

    loaded = ModelCache(store, parse_bundle, check_interval=0).get()
    bundle = loaded.model
    assert loaded.version == run.model_version and bundle.size == len(sample["content"])
    assert bundle.cf is not None and bundle.cf.item_factors.shape == (bundle.size, len(sample["users"]))
    assert loaded.manifest["model"]["cf"]["algorithm"] == "nmf"
    # the index finds an item from its own text
    query = get_embedder().encode(["Recommender Systems 101. machine-learning. recommender-systems"])
    _, positions = bundle.index.search(query, 1)
    assert bundle.item_ids[positions[0][0]] == "ml-105"
    # popularity counts likes (a quarter for clicks and views, minus a quarter for skips)
    weights = {"like": 1.0, "positive": 1.0, "click": 0.25, "view_time": 0.25, "skip": -0.25, "negative": -0.25}
    expected: dict[str, float] = {}
    for e in sample["interactions"]:
        expected[e["content_id"]] = expected.get(e["content_id"], 0.0) + weights[e["interaction_type"]]
    for e in sample["feedback"]:
        expected[e["content_id"]] = expected.get(e["content_id"], 0.0) + weights[e["feedback_type"]]
    best = max(expected.values())
    assert bundle.item_ids[int(np.argmax(bundle.popularity))] in {c for c, v in expected.items() if v == best}
    runs = db.read(lambda c: c.run("SELECT version, artifacts_uri FROM model_versions"))
    assert runs == [[run.model_version, store.uri]]


def test_retraining_embeds_only_changed_text(db, sample, store):
    run_now(db, store, "test", TrainingParams())
    db.read(lambda c: c.run("UPDATE content SET title = 'Changed', text_hash = NULL WHERE content_id = 'py-201'"))
    second = run_now(db, store, "test", TrainingParams())
    assert second.counts["content_embedded"] == 1
    third = run_now(db, store, "test", TrainingParams(regenerate_embeddings=True))
    assert third.counts["content_examined"] == len(sample["content"]) and third.counts["content_embedded"] == 0


def test_a_failed_run_is_recorded_and_leaves_the_pointer(db, sample, store, monkeypatch):
    good = run_now(db, store, "test", TrainingParams())

    def explode(self, matrix):
        raise RuntimeError("factorization blew up")

    monkeypatch.setattr("dummi.ml.cf.nmf.NMFAlgorithm.fit", explode)
    failed = run_now(db, store, "test", TrainingParams())
    assert failed.state == "failed"
    assert "factorization blew up" in failed.error
    assert read_pointer(store)["version"] == good.model_version
    assert "embed" in failed.timings and failed.finished_at is not None


def test_retrain_cf_false_keeps_the_published_factors(db, sample, store):
    first = run_now(db, store, "test", TrainingParams())
    second = run_now(db, store, "test", TrainingParams(retrain_cf=False))
    cache = ModelCache(store, parse_bundle, check_interval=0)
    bundle = cache.get().model
    assert second.model_version != first.model_version
    assert bundle.cf.params["reused_from"] == first.model_version


def test_the_serving_index_is_read_back_only_for_the_same_vectors_and_an_intact_file(db, sample, tmp_path):
    """A retrain on unchanged vectors reads the serving model's index back instead of building one; a file
    that does not match its manifest's checksum, or other vectors, are built anew."""
    from types import SimpleNamespace

    from dummi.artifacts.publish import MODELS
    from dummi.ml.model_bundle import INDEX_FILE
    from dummi.training.serving_model import serving_model
    from dummi.training.stages.index import reusable_index
    from dummi.training.stages.read import read_catalog

    store = FileStore(tmp_path / "artifacts")
    first = run_now(db, store, "test", TrainingParams())
    catalog = read_catalog(db)
    ctx = SimpleNamespace(serving=serving_model(store), store=store, catalog=catalog)
    reused = reusable_index(ctx, catalog.vectors_digest())
    assert reused is not None and list(reused.ids) == catalog.ids
    assert reused.search(catalog.vectors[3], 1)[1][0][0] == 3  # it finds an item by its own vector
    assert reusable_index(ctx, "another digest") is None

    path = tmp_path / "artifacts" / MODELS / first.model_version / INDEX_FILE
    path.write_bytes(path.read_bytes()[:-1] + b"\0")
    assert reusable_index(ctx, catalog.vectors_digest()) is None


def test_concurrent_triggers_start_one_run(db, sample, tmp_path):
    results, errors = [], []
    barrier = threading.Barrier(4)

    def trigger():
        barrier.wait()
        try:
            results.append(request_run(db, "test", TrainingParams()))
        except TrainingAlreadyRunningError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=trigger) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 1 and len(errors) == 3
    assert all(e.run is None or e.run.run_id == results[0].run_id for e in errors)

    store = FileStore(tmp_path / "a")
    done = execute_run(db, store, results[0].run_id)
    assert done.state == "succeeded"
    assert execute_run(db, store, results[0].run_id) is None, "a duplicate delivery does nothing"
    assert request_run(db, "test", TrainingParams()).state == "queued", "finished runs do not block"


def test_a_stale_run_does_not_block_forever(db, sample):
    stuck = request_run(db, "test", TrainingParams())
    db.read(lambda c: c.run("UPDATE training_runs SET updated_at = now() - interval '1 hour'"))
    fresh = request_run(db, "test", TrainingParams())
    states = {r.run_id: r for r in latest_runs(db)}
    assert states[stuck.run_id].state == "failed" and "abandoned" in states[stuck.run_id].error
    assert states[fresh.run_id].state == "queued"


def test_a_run_keeps_the_serving_model_when_the_new_one_scores_worse(db, tmp_path, monkeypatch):
    from dummi.services.import_service import import_directory

    import_directory(db, write_tastes(tmp_path / "data"))
    store = FileStore(tmp_path / "artifacts")
    first = run_now(db, store, "test", TrainingParams())
    assert first.state == "succeeded", first.error
    assert first.decision["action"] == "published" and first.decision["reason"] == "no model was serving"

    # same data, chosen again (not reused: the gate compares two choices), same choice: not worse
    again = run_now(db, store, "test", TrainingParams(full_choice=True))
    assert again.decision["action"] == "published", again.decision
    assert again.decision["new_ndcg"] == pytest.approx(again.decision["serving_ndcg"], abs=1e-9)
    assert read_pointer(store)["version"] == again.model_version != first.model_version

    from dummi.ml.publish_gate import decide

    def halved(**facts):  # from now on the new model scores half as well on the holdout
        return decide(**{**facts, "new_score": facts["new_score"] / 2})

    monkeypatch.setattr("dummi.ml.publish_gate.decide", halved)
    kept = run_now(db, store, "test", TrainingParams(full_choice=True))
    assert kept.state == "succeeded" and kept.decision["action"] == "kept", kept.decision
    assert kept.model_version == again.model_version == read_pointer(store)["version"]  # the pointer stayed
    assert kept.decision["serving_version"] == again.model_version and kept.decision["serving_ndcg"] > 0
    assert "cf" not in kept.timings  # nothing was fitted or published after the decision

    forced = run_now(db, store, "test", TrainingParams(force=True, full_choice=True))
    assert forced.decision["action"] == "published" and forced.decision["reason"] == "forced"
    assert read_pointer(store)["version"] == forced.model_version
