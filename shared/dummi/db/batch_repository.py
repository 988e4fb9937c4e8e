"""All SQL about batch recommendation jobs (``dummi.batch``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dummi.db.connection import Connection

_COLUMNS = (
    "job_id, state, input_key, output_key, options, chunk_size, chunks_total, lines_total, error, created_at,"
    " started_at, finished_at, updated_at"
)
_PROGRESS = (
    "(SELECT count(*) FROM batch_job_chunks c WHERE c.job_id = j.job_id),"
    " (SELECT COALESCE(sum(errors), 0) FROM batch_job_chunks c WHERE c.job_id = j.job_id),"
    " (SELECT COALESCE(sum(lines), 0) FROM batch_job_chunks c WHERE c.job_id = j.job_id),"
    " (SELECT COALESCE(array_agg(DISTINCT v ORDER BY v), '{}') FROM batch_job_chunks c, unnest(c.model_versions) v"
    "  WHERE c.job_id = j.job_id)"
)


@dataclass(frozen=True)
class BatchJob:
    job_id: str
    state: str  # queued | running | assembling | succeeded | failed
    input_key: str
    output_key: str
    options: dict[str, Any]
    chunk_size: int
    chunks_total: int | None  # None until the input is split
    lines_total: int | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime
    chunks_done: int = 0
    errors: int = 0  # lines answered with an error line
    lines_done: int = 0
    model_versions: tuple[str, ...] = ()


def _job(row: list[Any]) -> BatchJob:
    (*fields, chunks_done, errors, lines_done, versions) = row
    return BatchJob(
        *fields[:4],
        json.loads(fields[4]) if isinstance(fields[4], str) else fields[4],
        *fields[5:],
        chunks_done=int(chunks_done),
        errors=int(errors),
        lines_done=int(lines_done),
        model_versions=tuple(versions or ()),
    )


class BatchRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def create(self, job_id: str, input_key: str, output_key: str, options: dict[str, Any], chunk_size: int) -> None:
        self.conn.run(
            "INSERT INTO batch_jobs (job_id, input_key, output_key, options, chunk_size)"
            " VALUES (:job_id, :input_key, :output_key, CAST(:options AS jsonb), :chunk_size)",
            job_id=job_id,
            input_key=input_key,
            output_key=output_key,
            options=json.dumps(options),
            chunk_size=chunk_size,
        )

    def get(self, job_id: str) -> BatchJob | None:
        rows = self.conn.run(f"SELECT {_COLUMNS}, {_PROGRESS} FROM batch_jobs j WHERE job_id = :job_id", job_id=job_id)
        return _job(rows[0]) if rows else None

    def list(self, limit: int, before: datetime | None = None) -> list[BatchJob]:
        rows = self.conn.run(
            f"SELECT {_COLUMNS}, {_PROGRESS} FROM batch_jobs j"
            " WHERE CAST(:before AS timestamptz) IS NULL OR created_at < CAST(:before AS timestamptz)"
            " ORDER BY created_at DESC LIMIT :limit",
            before=before.isoformat() if before else None,
            limit=limit,
        )
        return [_job(r) for r in rows]

    def split(self, job_id: str, chunks: int, lines: int) -> None:
        self.conn.run(
            "UPDATE batch_jobs SET chunks_total = :chunks, lines_total = :lines, state = 'running', error = NULL,"
            " started_at = COALESCE(started_at, now()), updated_at = now() WHERE job_id = :job_id",
            job_id=job_id,
            chunks=chunks,
            lines=lines,
        )

    def restart(self, job_id: str) -> None:
        """A failed or stopped job is running again (its finished chunks stay finished)."""
        self.conn.run(
            "UPDATE batch_jobs SET state = CASE WHEN chunks_total IS NULL THEN 'queued' ELSE 'running' END,"
            " error = NULL, finished_at = NULL, updated_at = now() WHERE job_id = :job_id AND state <> 'succeeded'",
            job_id=job_id,
        )

    def done_chunks(self, job_id: str) -> set[int]:
        return {int(r[0]) for r in self.conn.run("SELECT chunk FROM batch_job_chunks WHERE job_id = :j", j=job_id)}

    def finish_chunk(
        self, job_id: str, chunk: int, lines: int, errors: int, model_versions: list[str], seconds: float
    ) -> bool:
        """Record a chunk as answered; True when this call recorded it (False: another worker had)."""
        self.conn.run(
            "INSERT INTO batch_job_chunks (job_id, chunk, lines, errors, model_versions, seconds)"
            " VALUES (:job_id, :chunk, :lines, :errors, :versions, :seconds) ON CONFLICT DO NOTHING",
            job_id=job_id,
            chunk=chunk,
            lines=lines,
            errors=errors,
            versions=model_versions,
            seconds=seconds,
        )
        recorded = self.conn.row_count == 1
        self.conn.run("UPDATE batch_jobs SET updated_at = now() WHERE job_id = :job_id", job_id=job_id)
        return recorded

    def claim_assembly(self, job_id: str, stale_seconds: float) -> bool:
        """True for the one caller that moves a job whose chunks are all finished to 'assembling'; an
        'assembling' left unchanged for ``stale_seconds`` (its worker died) is claimed again."""
        rows = self.conn.run(
            "UPDATE batch_jobs j SET state = 'assembling', updated_at = now()"
            " WHERE job_id = :job_id AND state IN ('running', 'assembling') AND chunks_total IS NOT NULL"
            " AND (SELECT count(*) FROM batch_job_chunks c WHERE c.job_id = j.job_id) = j.chunks_total"
            " AND (state = 'running' OR updated_at < now() - make_interval(secs => :stale))"
            " RETURNING job_id",
            job_id=job_id,
            stale=stale_seconds,
        )
        return bool(rows)

    def finish(self, job_id: str, state: str, error: str | None = None) -> None:
        self.conn.run(
            "UPDATE batch_jobs SET state = :state, error = :error, finished_at = now(), updated_at = now()"
            " WHERE job_id = :job_id",
            job_id=job_id,
            state=state,
            error=error,
        )
