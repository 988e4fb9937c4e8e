"""The Spark engine of training on real pyspark (local[2]) over the embedded Postgres: a whole run that the real
loader serves, and each Spark stage against its in-process twin on the same events."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from dummi.artifacts.loader import ModelCache
from dummi.artifacts.publish import MANIFEST, MODELS, read_pointer
from dummi.artifacts.store import FileStore
from dummi.ml.model_bundle import parse_bundle
from dummi.training.params import TrainingParams
from dummi.training.runs import run_now
from tests.conftest import ROOT, write_tastes

pytest.importorskip("pyspark", reason="the Spark engine needs pip install 'dummi[spark]'")
if shutil.which("java") is None:
    pytest.skip("the Spark engine needs Java 17+ (make spark-setup)", allow_module_level=True)

STAGES = ["embed", "read", "matrix", "index", "choose", "cf", "item_item", "publish"]


@pytest.fixture(scope="module")
def spark():
    from dummi.training.spark.session import start_session

    session = start_session("local[2]")
    yield session
    session.stop()


@pytest.fixture
def embedded(db, monkeypatch):
    """Embedding for real (the ONNX model the session exported), as training does."""
    monkeypatch.setenv("DUMMI_EMBEDDING_MODE", "off")
    return db


def _varied_events(db, users: int = 40) -> list[dict]:
    """Every kind of event the weights treat differently: likes, clicks, views with and without a duration
    (fractional weights), skips, all three feedback types, repeats of a pair, and a user whose only pair is
    negative; each event a second apart (no ties in time)."""
    from dummi.services.import_service import import_directory

    folder = write_tastes(Path(tempfile.mkdtemp()) / "varied", users=users)
    rng = np.random.default_rng(7)
    kinds = ["like", "click", "view_time", "skip", "positive", "negative", "neutral"]
    start = datetime(2026, 2, 1, tzinfo=UTC)
    lines = [json.loads(line) for line in (folder / "train.jsonl").read_text().splitlines()]
    items = [json.loads(line)["content_id"] for line in (folder / "content.jsonl").read_text().splitlines()]
    for n in range(600):
        kind = kinds[rng.integers(len(kinds))]
        event = {
            "user_id": f"u{rng.integers(users)}",
            "content_id": items[rng.integers(len(items))],
            "timestamp": (start + timedelta(seconds=n)).isoformat(),
        }
        if kind in ("positive", "negative", "neutral"):
            event["feedback_type"] = kind
        else:
            event["interaction_type"] = kind
            if kind == "view_time" and n % 3:
                event["duration_seconds"] = float(rng.uniform(1, 500))
        lines.append(event)
    lines.append({"user_id": "u0", "content_id": items[-1], "interaction_type": "skip", "timestamp": start.isoformat()})
    (folder / "train.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    import_directory(db, folder)
    return lines


def _in_process_and_spark(db, spark, tmp_path):
    """The events in process, the catalog's ids (in index order, one item held back: events on items the
    model does not know are left out by both engines) and the events as a Spark DataFrame."""
    from dummi.db.interactions_repository import InteractionsRepository
    from dummi.training.spark.events import read_events

    events = db.read(lambda conn: InteractionsRepository(conn).all_events())
    ids = sorted({e.content_id for e in events})[1:]
    frame, _ = read_events(spark, db, FileStore(tmp_path / "artifacts"), "test", how="export")
    return events, ids, frame


def test_the_spark_matrix_is_the_in_process_matrix(db, spark, tmp_path):
    # Given every kind of event, read once in process and once through the Parquet export
    from dummi.ml.interactions import build_matrix
    from dummi.training.spark.matrix import build_matrix as spark_matrix

    _varied_events(db)
    events, ids, frame = _in_process_and_spark(db, spark, tmp_path)
    # When both engines build the matrix
    local = build_matrix(events, ids)
    remote = spark_matrix(spark, frame, ids).collect()
    # Then it is the same matrix: users in the same order, the same weights bit for bit, the same negatives
    assert list(remote.user_ids) == list(local.user_ids)
    assert remote.shape == local.shape and remote.nnz == local.nnz > 0
    assert (remote.matrix != local.matrix).nnz == 0
    assert remote.matrix.dtype == local.matrix.dtype == np.float32
    assert remote.negatives == local.negatives and local.negatives
    assert not np.all(np.mod(local.matrix.data, 1) == 0), "fractional (view time) weights are in the test"


def test_popularity_co_likes_and_next_items_match_the_in_process_fits(db, spark, tmp_path):
    from dummi.ml.cf import fit_cooccurrence
    from dummi.ml.interactions import engagement_matrices, popularity
    from dummi.ml.sequence import fit_transitions
    from dummi.training.spark import item_item

    _varied_events(db)
    events, ids, frame = _in_process_and_spark(db, spark, tmp_path)
    # popularity: the same figures (quarters add up exactly in any order)
    assert np.array_equal(item_item.popularity(spark, frame, ids), popularity(events, ids))

    def dense(model, n):
        out = np.zeros((n, n), np.float32)
        for i in range(n):
            lo, hi = model.indptr[i], model.indptr[i + 1]
            out[i, model.indices[lo:hi]] = model.counts[lo:hi] if hasattr(model, "counts") else model.data[lo:hi]
        return out

    # co-likes: the same counts (no row is cut here: fewer than 200 co-liked items each)
    local_co = fit_cooccurrence(*engagement_matrices(events, ids))
    remote_co = item_item.cooccurrence(spark, frame, ids)
    assert np.array_equal(dense(remote_co, len(ids)), dense(local_co, len(ids)))
    # next items: the same shares (no two events of a user share a time, so the order is the same)
    local_next = fit_transitions(events, ids)
    remote_next = item_item.transitions(spark, frame, ids)
    np.testing.assert_allclose(dense(remote_next, len(ids)), dense(local_next, len(ids)), rtol=1e-6, atol=1e-7)
    assert remote_next.params == local_next.params


def test_custom_event_types_weigh_the_same_on_both_engines(db, spark, tmp_path):
    # Given a product's own types (a like-strength one, a click-strength one, a negative one) beside the built-ins
    from dummi.ml.cf import fit_cooccurrence
    from dummi.ml.interactions import build_matrix, engagement_matrices, popularity
    from dummi.services.event_types_service import event_types, put_type
    from dummi.services.import_service import import_directory
    from dummi.training.spark import item_item
    from dummi.training.spark.matrix import build_matrix as spark_matrix

    lines = _varied_events(db)
    for name, weight in (("purchase", 8.0), ("add_to_cart", 3.0), ("return", -4.0)):
        put_type(db, name, weight)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    kinds = ["purchase", "add_to_cart", "return"]
    extra = [
        {**line, "interaction_type": kinds[n % 3], "timestamp": (start + timedelta(seconds=n)).isoformat()}
        for n, line in enumerate(e for e in lines[-300:] if "interaction_type" in e)
    ]
    for event in extra:
        event.pop("duration_seconds", None)
    folder = tmp_path / "custom"
    folder.mkdir()
    (folder / "interactions.jsonl").write_text("".join(json.dumps(line) + "\n" for line in extra))
    import_directory(db, folder)
    types = event_types(db)
    events, ids, frame = _in_process_and_spark(db, spark, tmp_path)
    # When both engines weigh them: the same matrix, popularity and co-likes
    local = build_matrix(events, ids, types)
    remote = spark_matrix(spark, frame, ids, types).collect()
    assert (remote.matrix != local.matrix).nnz == 0 and remote.negatives == local.negatives
    assert local.nnz != build_matrix(events, ids).nnz  # the custom types did change the matrix
    assert np.array_equal(item_item.popularity(spark, frame, ids, types), popularity(events, ids, types=types))
    local_co = fit_cooccurrence(*engagement_matrices(events, ids, types=types))
    remote_co = item_item.cooccurrence(spark, frame, ids, types=types)
    assert np.array_equal(remote_co.counts, local_co.counts) and np.array_equal(remote_co.indices, local_co.indices)


def test_a_spark_run_publishes_what_the_real_loader_serves(embedded, spark, tmp_path):
    from dummi.services.import_service import import_directory
    from dummi.services.recommendation_service import RecommendationEngine

    # Given a small catalog with tastes, nothing embedded yet
    db = embedded
    import_directory(db, write_tastes(tmp_path / "data"))
    store = FileStore(tmp_path / "artifacts")
    # When a run is asked for on Spark
    run = run_now(db, store, "test", TrainingParams(engine="spark"), spark=spark)
    # Then every stage ran and is reported in order, with where it ran
    assert run.state == "succeeded", run.error
    assert run.engine == "spark" and run.plan["reason"] == "the run asked for the spark engine"
    assert [s["name"] for s in run.stages] == STAGES
    where = {s["name"]: s["engine"] for s in run.stages}
    assert where["embed"] == where["matrix"] == where["item_item"] == "spark" and where["choose"] == "driver"
    assert run.counts["content_embedded"] == 36 and run.counts["interactions"] == 480
    version = read_pointer(store)["version"]
    manifest = json.loads(store.get(f"{MODELS}/{version}/{MANIFEST}"))
    assert manifest["engine"] == "spark" and [s["name"] for s in manifest["stages"]] == STAGES[:-1]
    assert manifest["metrics"]["spark"]["events_read_by"] == "export"
    assert not store.list("staging/"), "the Parquet export is deleted after the run"
    # and the recommendations function's loader serves it: a user of one topic is offered that topic
    from dummi.ml.recommender import RankRequest

    engine = RecommendationEngine(db, ModelCache(store, parse_bundle, check_interval=3600))
    served = engine.recommend(db, "u0", RankRequest(n=5, explore_slots=0))
    assert served.model_version == version
    top = [r.content_id for r in served.recommendations]
    assert len(top) == 5 and all(cid.startswith("soups-") for cid in top[:3]), top


def test_als_on_one_core_and_on_two_publishes_identical_factors(tmp_path):
    """Each master in its own process (a JVM hosts one Spark context at a time)."""
    script = ROOT / "tests" / "integration" / "spark_als_factors.py"
    outputs = []
    for master in ("local[1]", "local[2]"):
        out = tmp_path / f"{master[6]}.npy"
        subprocess.run([sys.executable, str(script), master, str(out)], check=True, capture_output=True, cwd=ROOT)
        outputs.append(np.load(out))
    assert outputs[0].shape == (120, 8) and outputs[0].any()
    assert np.array_equal(outputs[0], outputs[1])


def test_partitioned_jdbc_reads_give_the_events_the_export_gives(tcp_postgres, spark, tmp_path, monkeypatch):
    """Spark reading Postgres itself over TCP, in ranges of interaction_id, one query per partition."""
    from dummi.db.connection import Database
    from dummi.db.migrations import migrate
    from dummi.training.spark.events import how_to_read, read_events
    from dummi.training.spark.session import jdbc_jar

    if jdbc_jar() is None:
        pytest.skip(
            "no PostgreSQL JDBC driver: apt-get install libpostgresql-jdbc-java (make spark-setup) or DUMMI_JDBC_JAR"
        )
    db = Database(tcp_postgres, pool_size=2)
    try:
        migrate(db)
        with db.transaction() as conn:
            conn.run("TRUNCATE interactions, content, users RESTART IDENTITY CASCADE")
        _varied_events(db)
        assert how_to_read(db.url()) == "jdbc"  # auto: the jar is here and the database is on TCP
        by_jdbc, staged = read_events(spark, db, FileStore(tmp_path / "a"), "r1", how="jdbc", partitions=3)
        assert staged == [] and by_jdbc.rdd.getNumPartitions() == 3
        by_export, _ = read_events(spark, db, FileStore(tmp_path / "b"), "r1", how="export")
        columns = ["interaction_id", "user_id", "content_id", "kind", "event_type", "duration_seconds", "at_us"]
        jdbc_rows = sorted(tuple(r) for r in by_jdbc.select(*columns).collect())
        assert jdbc_rows == sorted(tuple(r) for r in by_export.select(*columns).collect())
        from dummi.db.interactions_repository import InteractionsRepository

        assert len(jdbc_rows) == db.read(lambda conn: InteractionsRepository(conn).count()) > 900
    finally:
        db.close()


def test_an_ivf_pq_index_built_in_shards_serves_through_the_model_files(spark, tmp_path):
    """Above IVF_MIN_ITEMS the Spark engine encodes shards of the vectors on the executors and merges them:
    every item is in the merged index, it round-trips through the published files with its nprobe and
    vectors, and every item's own vector finds the item first (re-scored exactly: the codes only pick the
    candidates). Recall@10 against exact search is bench_ivf.py's to measure, on realistic vectors."""

    from dummi.ml.model_bundle import ModelBundle, bundle_files
    from dummi.training.spark import index as spark_index

    rng = np.random.default_rng(3)
    centres = rng.standard_normal((30, 384)).astype(np.float32)
    x = centres[rng.integers(0, 30, 3000)] + 0.3 * rng.standard_normal((3000, 384)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    ids = [f"i{i}" for i in range(len(x))]
    store = FileStore(tmp_path / "artifacts")
    params = {"nlist": 16, "m": 48, "bits": 8, "nprobe": 4}
    original = spark_index.SHARD_VECTORS
    spark_index.SHARD_VECTORS = 700  # five shards, five encoded copies to merge
    try:
        built = spark_index.build_ivfpq(spark, store, "staging/t/index", ids, x, params=params)
    finally:
        spark_index.SHARD_VECTORS = original
    assert built.kind == "ivfpq" and built.size == 3000 and not store.list("staging/")
    bundle = ModelBundle(np.array(ids, dtype=object), ids, ["c"] * 3000, built, np.zeros(3000, np.float32), None)
    files, facts = bundle_files(bundle)
    assert facts["index"] == "ivfpq" and facts["index_params"] == params and "vectors.npy" in files
    served = parse_bundle({"model": facts}, files).index
    assert served.index.nprobe == 4 and np.array_equal(served.stored_vectors(), x)
    served.index.nprobe = 16  # every list: this checks the shards' encoding and the merge, not the probing
    firsts = [served.search(x[i], 10)[1][0][0] for i in range(0, 3000, 7)]
    assert np.mean(np.array(firsts) == np.arange(0, 3000, 7)) > 0.95
