"""Batch recommendations: `dummi batch-recommend` and /batch-jobs, the same steps as the BatchFunction in AWS."""

from __future__ import annotations

import json
import time

import pytest

from dummi.artifacts.store import get_artifact_store
from dummi.batch import jobs as batch_jobs
from dummi.cli import main
from dummi.services.import_service import import_directory
from dummi.training.params import TrainingParams
from dummi.training.runs import run_now
from tests.conftest import _clear_caches, write_tastes


@pytest.fixture
def trained(db, tmp_path, monkeypatch):
    monkeypatch.setenv("DUMMI_MODEL_CHECK_SECONDS", "0")
    _clear_caches()
    import_directory(db, write_tastes(tmp_path / "data", users=30))
    run = run_now(db, get_artifact_store(), "test", TrainingParams())
    assert run.state == "succeeded", run.error
    return run


def _input(path, lines):
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


LINES = [
    {"userId": "u1"},
    {"userId": "nobody"},
    "{not json",
    {"itemId": "soups-3"},
    {"userId": "u2", "itemId": "soups-1"},
    {"userId": "u4"},
    {"userId": "u5", "numResults": 3},
    {"itemId": "no-such-item"},
    {"userId": "u7"},
]


def test_cli_answers_every_line_in_order_as_the_api_does(trained, client, tmp_path, capsys):
    source, out = _input(tmp_path / "users.jsonl", LINES), tmp_path / "recs.jsonl"
    assert main(["batch-recommend", "--input", str(source), "--output", str(out), "--chunk-size", "2"]) == 0
    assert "wrote 9 lines" in capsys.readouterr().out
    got = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(got) == len(LINES)
    assert [g["input"] for g in got] == LINES, "one output line for every input line, in order"
    errors = {i: g["error"] for i, g in enumerate(got) if g["error"]}
    assert sorted(errors) == [1, 2, 4, 6, 7]
    assert errors[1].startswith("userId: user 'nobody' not found")
    assert errors[2].startswith("not JSON") and errors[4] == "give one of userId, itemId"
    assert errors[6].startswith("numResults: not a field") and errors[7].startswith("itemId: content")
    version = trained.model_version
    for i in (0, 5, 8):  # the same items, scores and methods as POST /recommendations/ with exploration off
        user = LINES[i]["userId"]
        online = client.post("/recommendations/", json={"user_id": user, "explore_slots": 0}).json()
        output = got[i]["output"]
        assert output["recommendedItems"] == [r["content_id"] for r in online["recommendations"]]
        assert output["scores"] == [r["score"] for r in online["recommendations"]]
        assert output["methods"] == [r["method"] for r in online["recommendations"]]
        assert output["modelVersion"] == online["model_version"] == version
        assert len(output["recommendedItems"]) == 10
    similar = client.get("/content/soups-3/similar").json()["recommendations"]
    assert got[3]["output"]["recommendedItems"] == [r["content_id"] for r in similar]
    assert not out.with_name("recs.jsonl.parts").exists(), "the chunks are removed once the output is written"


def test_the_jobs_category_holds_for_related_items_too(trained, tmp_path):
    source, out = _input(tmp_path / "items.jsonl", [{"itemId": "soups-3"}, {"userId": "u1"}]), tmp_path / "r.jsonl"
    args = ["batch-recommend", "--input", str(source), "--output", str(out), "--category", "rockets"]
    assert main(args) == 0
    related, personal = (json.loads(line)["output"]["recommendedItems"] for line in out.read_text().splitlines())
    assert related and all(cid.startswith("rockets-") for cid in related), related  # a soup's kin, but rockets
    assert personal and all(cid.startswith("rockets-") for cid in personal)


def test_a_job_that_stops_half_way_resumes_without_redoing_finished_chunks(trained, tmp_path, monkeypatch, capsys):
    source, out = _input(tmp_path / "users.jsonl", [{"userId": f"u{i}"} for i in range(10)]), tmp_path / "r.jsonl"
    answered: list[str] = []
    real = batch_jobs.BatchJobs.run_chunk

    def crash_on_the_third(self, job_id, chunk):
        if chunk == 2 and not answered.count("crashed"):
            answered.append("crashed")
            raise RuntimeError("the machine went away")
        answered.append(f"chunk {chunk}")
        return real(self, job_id, chunk)

    monkeypatch.setattr(batch_jobs.BatchJobs, "run_chunk", crash_on_the_third)
    args = ["batch-recommend", "--input", str(source), "--output", str(out), "--chunk-size", "3"]
    with pytest.raises(RuntimeError, match="went away"):
        main(args)
    assert not out.exists(), "no half-written output"
    assert answered == ["chunk 0", "chunk 1", "crashed"]
    assert main(args) == 0
    assert answered[3:] == ["chunk 2", "chunk 3"], "chunks 0 and 1 are not answered again"
    assert "resumed" in capsys.readouterr().out
    got = [json.loads(line) for line in out.read_text().splitlines()]
    assert [g["input"]["userId"] for g in got] == [f"u{i}" for i in range(10)], "nothing duplicated or lost"
    # a changed input is a new job, not a resume of the old one's chunks
    _input(source, [{"userId": "u1"}])
    assert main(args) == 0 and len(out.read_text().splitlines()) == 1


def test_the_api_runs_a_job_in_the_background_and_reports_progress(trained, client, db):
    store = get_artifact_store()
    store.put("campaigns/in.jsonl", "".join(json.dumps({"userId": f"u{i}"}) + "\n" for i in range(25)).encode())
    body = {"input": "campaigns/in.jsonl", "output": "campaigns/out.jsonl", "chunk_size": 10}
    started = client.post("/batch-jobs", json=body | {"options": {"num_results": 5, "diversity": 0}})
    assert started.status_code == 202, started.text
    job_id = started.json()["job_id"]
    deadline = time.monotonic() + 60
    while (job := client.get(f"/batch-jobs/{job_id}").json())["state"] != "succeeded":
        assert job["state"] in ("queued", "running", "assembling"), job
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert (job["chunks_total"], job["chunks_done"], job["lines_done"], job["error_lines"]) == (3, 3, 25, 0)
    assert job["model_versions"] == [trained.model_version] and job["progress"] == 1.0
    lines = store.get("campaigns/out.jsonl").decode().splitlines()
    assert len(lines) == 25 and all(len(json.loads(x)["output"]["recommendedItems"]) == 5 for x in lines)
    # the chunk files go right after the job is recorded as done (kept until then: a crash in between leaves
    # garbage, never a done job without its parts), so the answer may come a moment before they are gone
    deadline = time.monotonic() + 10
    while store.list("batch-jobs/") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not store.list("batch-jobs/"), "the chunk files are removed"
    assert client.get("/batch-jobs").json()["jobs"][0]["job_id"] == job_id
    assert client.post(f"/batch-jobs/{job_id}/resume").status_code == 409


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"input": "missing.jsonl", "output": "o.jsonl"}, "input"),
        ({"input": "../etc/passwd", "output": "o.jsonl"}, "input"),
        ({"input": "in.jsonl", "output": "models/LATEST"}, "output"),
        ({"input": "in.jsonl", "output": "staging"}, "output"),  # a file where training's folder must be
        ({"input": "in.jsonl", "output": "batch-jobs"}, "output"),
        ({"input": "in.jsonl", "output": "in.jsonl"}, "output"),
        ({"input": "in.jsonl", "output": "o.jsonl", "options": {"num_results": 0}}, "num_results"),
    ],
)
def test_a_bad_job_is_refused_with_the_field_at_fault(client, body, field):
    get_artifact_store().put("in.jsonl", b'{"userId": "u1"}\n')
    response = client.post("/batch-jobs", json=body)
    assert response.status_code in (400, 404, 422), response.text
    assert field in response.text


def test_worker_processes_answer_the_same_lines_as_one_process(trained, tmp_path):
    source = _input(tmp_path / "users.jsonl", [{"userId": f"u{i}"} for i in range(12)] + [{"userId": "nobody"}])
    outputs = []
    for workers in ("1", "2"):
        out = tmp_path / f"recs-{workers}.jsonl"
        args = ["batch-recommend", "--input", str(source), "--output", str(out), "--chunk-size", "3"]
        assert main([*args, "--workers", workers]) == 0
        outputs.append([json.loads(line) for line in out.read_text().splitlines()])
    assert outputs[0] == outputs[1] and len(outputs[1]) == 13
