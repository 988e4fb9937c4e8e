"""``dummi batch-recommend --input users.jsonl --output recs.jsonl``: a batch job on local files, run in this
process through the same steps as a job in AWS. Its chunks live in ``<output>.parts/`` until the output is
written; run the same command again after a stop and it goes on from the chunks it lacks."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from dummi.artifacts.store import FileStore
from dummi.batch.dispatch import InlineDispatcher
from dummi.batch.jobs import BatchJobs
from dummi.batch.options import BatchOptions
from dummi.db.batch_repository import BatchJob
from dummi.db.connection import Database, get_database
from dummi.errors import NotFoundError
from dummi.progress import NullProgress, Progress
from dummi.services.recommendation_service import get_engine

if TYPE_CHECKING:
    from dummi.services.recommendation_service import RecommendationEngine

INPUT_KEY, OUTPUT_KEY, STATE_FILE = "input.jsonl", "output.jsonl", ".job.json"


def work_dir(output: Path) -> Path:
    return output.with_name(output.name + ".parts")


def batch_file(
    db: Database,
    engine: Callable[[], RecommendationEngine],
    input_path: Path,
    output_path: Path,
    options: BatchOptions,
    *,
    chunk_size: int,
    progress: Progress | None = None,
    workers: int = 1,
) -> tuple[BatchJob, bool]:
    """(the finished job, whether it resumed an earlier run's chunks). The output is written whole (renamed
    into place) only once every chunk is answered. ``workers`` > 1 answers chunks in that many processes."""
    progress = progress or NullProgress()
    data = Path(input_path).read_bytes()
    work = work_dir(Path(output_path))
    store = FileStore(work)
    dispatcher = InlineDispatcher()
    jobs = BatchJobs(db, store, engine, dispatcher)
    identity = {
        "input_sha256": hashlib.sha256(data).hexdigest(),
        "options": options.model_dump(mode="json"),
        "chunk_size": chunk_size,
    }
    job = _earlier(jobs, work / STATE_FILE, identity)
    resumed = job is not None
    if job is None:
        shutil.rmtree(work, ignore_errors=True)  # another input's or options' leftovers
        store.put(INPUT_KEY, data)
        job = jobs.submit(INPUT_KEY, OUTPUT_KEY, options, chunk_size)
        (work / STATE_FILE).write_text(json.dumps({**identity, "job_id": job.job_id}))
    elif job.state != "succeeded":
        job = jobs.resume(job.job_id)

    def advance(message: dict) -> None:
        if message["step"] == "split":
            total = jobs.get(job.job_id)
            progress.start("answering chunks", total.chunks_total)
            progress.advance(total.chunks_done)
        elif message["step"] == "chunk":
            progress.advance()

    if resumed and job.chunks_total is not None:
        progress.start("answering chunks", job.chunks_total)
        progress.advance(job.chunks_done)
    init = functools.partial(_worker_jobs, str(work), db.url())
    dispatcher.drain(jobs, advance, workers=workers, worker_init=init)
    job = jobs.get(job.job_id)
    progress.finish(f"{job.lines_done} lines, {job.errors} error lines")
    if job.state != "succeeded":
        raise RuntimeError(f"batch job {job.job_id} ended {job.state}: {job.error}")
    os.replace(work / OUTPUT_KEY, output_path)
    shutil.rmtree(work, ignore_errors=True)
    return job, resumed


def _worker_jobs(work: str, database_url: str) -> BatchJobs:
    """A worker process's jobs: the same database and chunk folder, its own engine (the model loaded once)."""
    os.environ["DATABASE_URL"] = database_url

    return BatchJobs(get_database(), FileStore(Path(work)), get_engine, InlineDispatcher())


def _earlier(jobs: BatchJobs, state_file: Path, identity: dict) -> BatchJob | None:
    """The job an earlier run of the same command left unfinished, if this is the same input and options."""
    try:
        state = json.loads(state_file.read_text())
    except (OSError, ValueError):
        return None
    if {k: state.get(k) for k in identity} != identity:
        return None
    try:
        job = jobs.get(state["job_id"])
    except NotFoundError:
        return None
    if job.state == "succeeded" and not (state_file.parent / OUTPUT_KEY).exists():
        return None
    return job
