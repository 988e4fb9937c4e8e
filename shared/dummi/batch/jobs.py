"""Batch recommendation jobs: an input file of lines under the artifact store, answered in chunks.

A job moves through steps, each a small message a worker handles on its own (a thread in this process
locally, the BatchFunction on an SQS queue in AWS; ``dummi.batch.dispatch``):

1. ``split``: the input is cut into chunks of ``chunk_size`` lines under ``batch-jobs/<id>/in/``, and one
   ``chunk`` step is sent for each.
2. ``chunk``: the chunk's lines are answered (``dummi.batch.lines``) into ``batch-jobs/<id>/out/`` and the
   chunk is recorded in ``batch_job_chunks``. A chunk already recorded is not answered again, so a message
   delivered twice, or a resume, duplicates nothing.
3. the worker that records the last chunk assembles the output (the chunks in order, one line per input line)
   and the job succeeds; the chunk files are then deleted.

A job that stopped half-way (a worker died, a chunk failed past its retries) is resumed by
:meth:`BatchJobs.resume`: it sends the steps that have not happened, and nothing else.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from dummi.artifacts.store import ArtifactNotFoundError, ArtifactStore
from dummi.batch.options import BatchOptions
from dummi.db.batch_repository import BatchJob, BatchRepository
from dummi.db.connection import Database
from dummi.errors import ConflictError, InvalidRequestError, NotFoundError, UnavailableError

if TYPE_CHECKING:  # the answering needs numpy and faiss; the routes that only start and read jobs do not
    from dummi.services.recommendation_service import RecommendationEngine

logger = logging.getLogger(__name__)

DEFAULT_CHUNK_SIZE = 1000
MAX_CHUNK_SIZE = 50_000
# An 'assembling' job untouched this long lost its worker: a resume assembles it again.
ASSEMBLY_STALE_SECONDS = 900.0
JOBS_PREFIX = "batch-jobs/"
# Keys a job may read or write: relative path segments that do not start with a dot (no "..", no "/x", no
# "x//y"); the output not inside the store's own folders. Stated as JSON Schema in the API's request body.
KEY_PATTERN = r"^[A-Za-z0-9_=-][A-Za-z0-9._=-]*(/[A-Za-z0-9_=-][A-Za-z0-9._=-]*)*$"
# the published models (dummi.artifacts.publish), training's staging files (dummi.training.spark), the jobs' own
RESERVED_PREFIXES = ("models/", "staging/", JOBS_PREFIX)


class Dispatcher(Protocol):
    def send(self, messages: list[dict[str, Any]]) -> None: ...


def _part(job_id: str, side: str, chunk: int) -> str:
    return f"{JOBS_PREFIX}{job_id}/{side}/{chunk:06d}.jsonl"


def key_problem(key: str, *, output: bool = False) -> str | None:
    """Why ``key`` may not be a job's input (or output), or None."""
    if len(key) > 512 or not re.match(KEY_PATTERN, key):
        return f"a key under the artifact store (segments of letters, digits, . _ - =; no '..'), not {key!r}"
    if output and is_reserved(key):
        return f"{key!r} is inside the store's own folders ({', '.join(RESERVED_PREFIXES)}) or one of them"
    return None


def is_reserved(key: str) -> bool:
    """``key`` is one of the store's own folders or inside one (``models`` itself too: a file written there
    would stand where the folder must be)."""
    return (key + "/").startswith(RESERVED_PREFIXES)


class BatchJobs:
    def __init__(
        self,
        db: Database,
        store: ArtifactStore,
        engine: Callable[[], RecommendationEngine],
        dispatcher: Dispatcher,
    ) -> None:
        self.db, self.store, self._engine, self.dispatcher = db, store, engine, dispatcher

    # -- what the API and the CLI call -------------------------------------------------------------------------
    def submit(
        self, input_key: str, output_key: str, options: BatchOptions, chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> BatchJob:
        for field, key in (("input", input_key), ("output", output_key)):
            problem = key_problem(key, output=field == "output")
            if problem is not None:
                raise InvalidRequestError(f"{field}: {problem}", field=field)
        if input_key == output_key:
            raise InvalidRequestError("output: must differ from input", field="output")
        if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
            raise InvalidRequestError(f"chunk_size: 1 to {MAX_CHUNK_SIZE}", field="chunk_size")
        if not self.store.exists(input_key):
            raise NotFoundError("input", input_key, field="input")
        job_id = str(uuid.uuid4())
        with self.db.transaction() as conn:
            BatchRepository(conn).create(job_id, input_key, output_key, options.model_dump(mode="json"), chunk_size)
        self._send(job_id, [{"job_id": job_id, "step": "split"}])
        return self.get(job_id)

    def _send(self, job_id: str, messages: list[dict[str, Any]]) -> None:
        try:
            self.dispatcher.send(messages)
        except Exception as exc:
            logger.exception("could not send the steps of batch job %s", job_id)
            self.fail(job_id, f"could not queue its steps: {exc}")
            raise UnavailableError("could not queue the batch job's steps; resume it shortly") from exc

    def get(self, job_id: str) -> BatchJob:
        job = self.db.read(lambda conn: BatchRepository(conn).get(job_id))
        if job is None:
            raise NotFoundError("batch job", job_id, field="job_id")
        return job

    def list(self, limit: int = 20) -> list[BatchJob]:
        return self.db.read(lambda conn: BatchRepository(conn).list(limit))

    def resume(self, job_id: str) -> BatchJob:
        """Send the steps a stopped job lacks: the split, the chunks not recorded, or the assembly."""
        job = self.get(job_id)
        if job.state == "succeeded":
            raise ConflictError(f"batch job {job_id} has succeeded: nothing to resume", field="job_id")
        with self.db.transaction() as conn:
            BatchRepository(conn).restart(job_id)
        if job.chunks_total is None:
            self._send(job_id, [{"job_id": job_id, "step": "split"}])
        else:
            done = self.db.read(lambda conn: BatchRepository(conn).done_chunks(job_id))
            missing = [i for i in range(job.chunks_total) if i not in done]
            steps = [{"job_id": job_id, "step": "chunk", "chunk": i} for i in missing]
            self._send(job_id, steps or [{"job_id": job_id, "step": "assemble", "force": True}])
        return self.get(job_id)

    # -- what a worker does with one message -------------------------------------------------------------------
    def handle(self, message: dict[str, Any]) -> None:
        step, job_id = message.get("step"), message.get("job_id")
        if step == "split":
            self.split(job_id)
        elif step == "chunk":
            self.run_chunk(job_id, int(message["chunk"]))
        elif step == "assemble":
            self.assemble(job_id, force=bool(message.get("force")))
        else:
            raise ValueError(f"unknown batch step {message!r}")

    def fail(self, job_id: str, error: str) -> None:
        with self.db.transaction() as conn:
            BatchRepository(conn).finish(job_id, "failed", error[:2000])

    def split(self, job_id: str) -> None:
        job = self.get(job_id)
        if job.state not in ("queued", "running"):
            return
        if job.chunks_total is not None:  # split before: a redelivered message
            return
        try:
            text = self.store.get(job.input_key).decode("utf-8")
        except ArtifactNotFoundError:
            return self.fail(job_id, f"input {job.input_key!r} not found")
        except UnicodeDecodeError as exc:
            return self.fail(job_id, f"input is not UTF-8 text (byte {exc.start})")
        lines = [line for line in text.splitlines() if line.strip()]
        size = job.chunk_size
        chunks = [lines[i : i + size] for i in range(0, len(lines), size)]
        for i, chunk in enumerate(chunks):
            self.store.put(_part(job_id, "in", i), ("\n".join(chunk) + "\n").encode("utf-8"))
        with self.db.transaction() as conn:
            BatchRepository(conn).split(job_id, len(chunks), len(lines))
        logger.info("batch job %s: %d lines in %d chunks", job_id, len(lines), len(chunks))
        if not chunks:
            self.assemble(job_id)
            return
        self._send(job_id, [{"job_id": job_id, "step": "chunk", "chunk": i} for i in range(len(chunks))])

    def run_chunk(self, job_id: str, chunk: int) -> None:
        job = self.get(job_id)
        if job.state != "running":
            return
        if chunk in self.db.read(lambda conn: BatchRepository(conn).done_chunks(job_id)):
            self.assemble(job_id)  # answered before (a redelivery): only make sure the job can end
            return

        # numpy and FAISS (answering a line ranks): the routes that only start and read jobs ship neither
        from dummi.batch.lines import answer_lines

        started = time.perf_counter()
        texts = self.store.get(_part(job_id, "in", chunk)).decode("utf-8").splitlines()
        options = BatchOptions.model_validate(job.options)
        out, errors, versions = answer_lines(self._engine(), self.db, texts, options)
        self.store.put(_part(job_id, "out", chunk), ("\n".join(out) + "\n").encode("utf-8"))
        seconds = time.perf_counter() - started
        with self.db.transaction() as conn:
            BatchRepository(conn).finish_chunk(job_id, chunk, len(out), errors, sorted(versions), seconds)
        self.assemble(job_id)

    def assemble(self, job_id: str, *, force: bool = False) -> None:
        """Write the output when every chunk is recorded (one worker does: the one that claims it)."""
        stale = 0.0 if force else ASSEMBLY_STALE_SECONDS
        with self.db.transaction() as conn:
            claimed = BatchRepository(conn).claim_assembly(job_id, stale)
        if not claimed:
            return
        job = self.get(job_id)
        parts = [_part(job_id, "out", i) for i in range(job.chunks_total or 0)]
        self.store.put(job.output_key, b"".join(self.store.get(key) for key in parts))
        with self.db.transaction() as conn:
            BatchRepository(conn).finish(job_id, "succeeded")
        self.store.delete(parts + [_part(job_id, "in", i) for i in range(job.chunks_total or 0)])
        logger.info("batch job %s: %d lines written to %s", job_id, job.lines_total, job.output_key)
