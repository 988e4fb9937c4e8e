"""The training state machine's own steps (PlannerFunction) on the real Postgres: plan queues or takes a
run and records the planner's choice on it; verify passes a succeeded run only; fail frees a run whose
executor stopped. The state machine itself runs on LocalStack (tests/aws)."""

from __future__ import annotations

import pytest

from dummi.artifacts.store import FileStore
from dummi.training.orchestration import RunNotSucceededError, fail_step, plan_step, verify_step
from dummi.training.params import TrainingParams
from dummi.training.runs import execute_run, get_run, request_run


def test_the_schedule_s_plan_queues_a_run_and_records_where_it_will_run(db):
    planned = plan_step(db, {"retrain_cf": True, "regenerate_embeddings": False, "engine": "auto"})
    assert planned["skip"] is False and planned["engine"] == "local"
    run = get_run(db, planned["run_id"])
    assert run.state == "queued" and run.trigger == "schedule" and run.engine == "local"
    assert run.plan["reason"].startswith("fits in process") and run.plan["prediction"]["seconds"] > 0
    assert run.plan["counts"]["events"] == 0
    # a second trigger while it is queued is skipped, naming the run
    again = plan_step(db, {})
    assert again["skip"] is True and planned["run_id"] in again["reason"]


def test_an_api_run_keeps_the_engine_it_asked_for(db):
    run = request_run(db, "api", TrainingParams(engine="spark"))
    planned = plan_step(db, {"run_id": run.run_id})
    assert planned == {
        "run_id": run.run_id,
        "engine": "spark",
        "skip": False,
        "reason": "the run asked for the spark engine",
    }
    assert get_run(db, run.run_id).engine == "spark"


def test_verify_passes_only_a_run_that_succeeded(db, tmp_path):
    from dummi.services.sample_data import load_sample_data
    from tests.conftest import ROOT

    load_sample_data(db, ROOT / "data" / "sample_data.json")
    run = request_run(db, "api", TrainingParams(engine="local"))
    with pytest.raises(RunNotSucceededError, match="is queued"):
        verify_step(db, {"run_id": run.run_id})
    done = execute_run(db, FileStore(tmp_path / "artifacts"), run.run_id)
    assert done.state == "succeeded" and done.engine == "local"
    assert verify_step(db, {"run_id": run.run_id})["model_version"] == done.model_version


def test_fail_frees_a_run_whose_executor_stopped_and_leaves_a_finished_one_alone(db):
    run = request_run(db, "api", TrainingParams())
    failed = fail_step(db, {"run_id": run.run_id, "error": {"Error": "States.Timeout", "Cause": "job run timed out"}})
    assert failed["state"] == "failed"
    stored = get_run(db, run.run_id)
    assert stored.state == "failed" and "States.Timeout" in stored.error
    assert request_run(db, "api", TrainingParams()).state == "queued"  # the next run is not blocked
    assert fail_step(db, {"run_id": run.run_id, "error": "again"})["state"] == "failed"  # unchanged
    assert "States.Timeout" in get_run(db, run.run_id).error
