"""Training killed with SIGKILL at every stage boundary and in the middle of its upload: the serving model stays
in place and intact each time, the next run gets going (the dead run does not block it for 20 minutes), and it
cleans up what the killed ones half-wrote. Each kill is a real process (tests/integration/train_and_die.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from dummi.artifacts.loader import load_version
from dummi.artifacts.publish import MANIFEST, MODELS, published_versions, read_pointer
from dummi.artifacts.store import FileStore
from dummi.services.import_service import import_directory
from dummi.training.params import TrainingParams
from dummi.training.runs import run_now
from tests.conftest import ROOT, write_tastes

STAGES = ["embed", "read", "matrix", "index", "choose", "cf", "item_item", "publish"]
# in the order run: every stage boundary, then the upload cut at each step of a publish
KILLS = [f"before:{stage}" for stage in STAGES] + ["put:2", "inside-put:3", "manifest", "pointer", "finish"]


def _kill_at(point: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "tests.integration.train_and_die", point],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == -signal.SIGKILL, f"{point}: exit {done.returncode}\n{done.stdout}\n{done.stderr[-3000:]}"
    return done.stderr


def _serving(store: FileStore) -> str:
    """The pointer's version, loaded and verified as serving loads it (every checksum)."""
    pointer = read_pointer(store)
    load_version(store, pointer["version"], pointer["manifest_sha256"])
    return pointer["version"]


def test_training_killed_at_every_stage_and_mid_upload_leaves_the_serving_model_and_the_next_run_succeeds(
    db, tmp_path: Path
):
    # Given a tiny catalog and a model serving
    import_directory(db, write_tastes(tmp_path / "tastes", users=30, per_topic=8))
    store = FileStore(tmp_path / "artifacts")
    first = run_now(db, store, "test", TrainingParams.configured(force=True))
    assert first.state == "succeeded"
    serving = _serving(store)
    env = {**os.environ, "ARTIFACTS_URI": store.uri, "DATABASE_URL": db.url(), "DUMMI_DB_POOL_SIZE": "2"}

    for point in KILLS:
        # When a run is killed there
        _kill_at(point, env)
        # Then the serving model is the one before, whole (once the pointer moved: the new one, whole)
        if point in ("pointer", "finish"):
            assert _serving(store) != serving, point
            serving = _serving(store)
        else:
            assert _serving(store) == serving, f"{point}: the serving model changed"
        active = db.read(lambda conn: conn.run("SELECT state FROM training_runs WHERE state IN ('queued', 'running')"))
        assert active == [["running"]], f"{point}: the killed run is not left running: {active}"
        if point == "inside-put:3":
            assert list((tmp_path / "artifacts" / MODELS).rglob(".*")), "no half-written file was left to clean"

    # And the next run starts at once and succeeds, and has cleaned up after the killed ones
    final = run_now(db, store, "test", TrainingParams.configured(force=True))
    assert final is not None and final.state == "succeeded", final
    assert read_pointer(store)["version"] == final.model_version == _serving(store)
    runs = db.read(lambda conn: conn.run("SELECT state, error FROM training_runs ORDER BY created_at"))
    assert [state for state, _ in runs] == ["succeeded"] + ["failed"] * len(KILLS) + ["succeeded"]
    assert all(error.startswith("abandoned: the process executing it stopped") for _, error in runs[1:-1])
    versions = published_versions(store)
    assert not list((tmp_path / "artifacts").rglob(".*")), "half-written files left behind"
    recorded = {row[0] for row in db.read(lambda conn: conn.run("SELECT version FROM model_versions"))}
    for version in versions:  # every version kept is whole and recorded: nothing half-published remains
        manifest = json.loads(store.get(f"{MODELS}/{version}/{MANIFEST}"))
        load_version(store, version)
        assert version in recorded, f"{version} (run {manifest['run_id']}) is not a recorded model"
    # the models the killed runs left: only those whose pointer was written (pointer, finish) survive
    assert len(versions) == 4, versions  # the first, pointer's, finish's, the final
    assert serving in versions and first.model_version in versions


@pytest.mark.parametrize("point", ["put:2", "manifest"])
def test_a_run_killed_mid_upload_to_s3_leaves_the_serving_model(db, tmp_path, s3_bucket, point):
    """The same promise on the S3 store (moto's server over HTTP, the boto3 code that runs in AWS)."""
    from dummi.artifacts.store import S3Store

    import_directory(db, write_tastes(tmp_path / "tastes", users=30, per_topic=8))
    store = S3Store(s3_bucket, "dummi")
    assert run_now(db, store, "test", TrainingParams.configured(force=True)).state == "succeeded"
    serving = _serving(store)
    env = {**os.environ, "ARTIFACTS_URI": store.uri, "DATABASE_URL": db.url(), "DUMMI_DB_POOL_SIZE": "2"}
    _kill_at(point, env)
    assert _serving(store) == serving
    assert len(published_versions(store)) == 2  # the serving one and the killed run's, unpublished
    final = run_now(db, store, "test", TrainingParams.configured(force=True))
    assert final.state == "succeeded" and _serving(store) == final.model_version
    assert published_versions(store) == sorted([serving, final.model_version])
