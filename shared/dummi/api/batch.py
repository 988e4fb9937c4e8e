"""/batch-jobs: batch recommendations for a file of users or items under the artifact store (admin)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field, ValidationInfo, field_validator

from dummi.api.auth import ADMIN
from dummi.api.errors import error_responses
from dummi.batch.dispatch import get_batch_jobs
from dummi.batch.jobs import DEFAULT_CHUNK_SIZE, KEY_PATTERN, MAX_CHUNK_SIZE, BatchJobs, key_problem
from dummi.batch.options import BatchOptions
from dummi.db.batch_repository import BatchJob
from dummi.domain.inputs import StrictModel, bounded_whole

router = APIRouter(prefix="/batch-jobs", tags=["batch"], dependencies=[ADMIN], responses=error_responses(401, 403))


async def _jobs() -> BatchJobs:
    return get_batch_jobs()


JobsDep = Annotated[BatchJobs, Depends(_jobs)]
StoreKey = Annotated[
    str,
    Field(
        min_length=1,
        max_length=512,
        pattern=KEY_PATTERN,
        description="a key under the artifact store (ARTIFACTS_URI): s3://bucket/prefix/<key> in AWS, "
        "<data dir>/artifacts/<key> locally",
    ),
]
JobId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[0-9a-f-]+$")]


class BatchJobRequest(StrictModel):
    input: StoreKey = Field(description='one JSON object a line: {"userId": ...} or {"itemId": ...}')
    output: StoreKey = Field(
        description="where the answers go, one line for every input line, in its order; not the input (else a 422)"
    )
    options: BatchOptions = BatchOptions()
    chunk_size: bounded_whole(1, MAX_CHUNK_SIZE, "lines a chunk: the unit of parallel work and of resume") = (
        DEFAULT_CHUNK_SIZE
    )

    @field_validator("output")
    @classmethod
    def _output_elsewhere(cls, output: str, info: ValidationInfo) -> str:
        """Rules JSON Schema cannot say: not the input itself, not inside the store's own folders."""
        if output == info.data.get("input"):
            raise ValueError("must differ from input")
        problem = key_problem(output, output=True)
        if problem is not None:
            raise ValueError(problem)
        return output


class BatchJobPublic(BaseModel):
    job_id: str
    state: str = Field(description="queued | running | assembling | succeeded | failed")
    input: str
    output: str
    options: dict[str, Any]
    chunk_size: int
    chunks_total: int | None = Field(description="null until the input is split")
    chunks_done: int
    lines_total: int | None
    lines_done: int
    error_lines: int = Field(description="lines answered with an error line (an unknown user, a bad line)")
    progress: float = Field(ge=0.0, le=1.0, description="chunks done / chunks")
    model_versions: list[str] = Field(description="the models that answered (one, unless a training published mid-job)")
    error: str | None = Field(description="why the job failed (resume it: POST /batch-jobs/{job_id}/resume)")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class BatchJobList(BaseModel):
    jobs: list[BatchJobPublic]


def _public(job: BatchJob) -> BatchJobPublic:
    total = job.chunks_total
    return BatchJobPublic(
        job_id=job.job_id,
        state=job.state,
        input=job.input_key,
        output=job.output_key,
        options=job.options,
        chunk_size=job.chunk_size,
        chunks_total=total,
        chunks_done=job.chunks_done,
        lines_total=job.lines_total,
        lines_done=job.lines_done,
        error_lines=job.errors,
        progress=1.0 if job.state == "succeeded" else (job.chunks_done / total if total else 0.0),
        model_versions=list(job.model_versions),
        error=job.error,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


@router.post("", status_code=202, responses=error_responses(400, 404, 413, 503))
def create(body: BatchJobRequest, jobs: JobsDep) -> BatchJobPublic:
    """Start a batch job: the input is answered in chunks in the background; follow it with GET."""
    return _public(jobs.submit(body.input, body.output, body.options, body.chunk_size))


@router.get("", responses=error_responses(503))
def latest(jobs: JobsDep, limit: Annotated[int, Query(ge=1, le=100)] = 20) -> BatchJobList:
    """The latest jobs, newest first."""
    return BatchJobList(jobs=[_public(j) for j in jobs.list(limit)])


@router.get("/{job_id}", responses=error_responses(404, 503))
def get(job_id: JobId, jobs: JobsDep) -> BatchJobPublic:
    """A job's state and progress."""
    return _public(jobs.get(job_id))


@router.post("/{job_id}/resume", status_code=202, responses=error_responses(404, 409, 503))
def resume(job_id: JobId, jobs: JobsDep) -> BatchJobPublic:
    """Go on with a job that stopped: only the steps it lacks run again (finished chunks are kept)."""
    return _public(jobs.resume(job_id))
