"""Where a batch job's steps run: an SQS queue in AWS (``DUMMI_BATCH_QUEUE_URL``; the BatchFunction takes
them, several chunks at once), a worker thread in the local server, or the calling process (the CLI)."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import queue
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from functools import lru_cache
from typing import Any

from dummi import aws
from dummi.artifacts.store import get_artifact_store
from dummi.batch.jobs import BatchJobs
from dummi.config import get_settings
from dummi.db.connection import get_database

logger = logging.getLogger(__name__)

Message = dict[str, Any]


class SqsDispatcher:
    def __init__(self, queue_url: str) -> None:
        self.queue_url = queue_url

    def send(self, messages: list[Message]) -> None:
        sqs = aws.get_client("sqs")
        for start in range(0, len(messages), 10):
            batch = messages[start : start + 10]
            entries = [{"Id": str(i), "MessageBody": json.dumps(m)} for i, m in enumerate(batch)]
            failed = sqs.send_message_batch(QueueUrl=self.queue_url, Entries=entries).get("Failed", [])
            if failed:  # the steps already sent stay sent; a resume sends the rest
                raise RuntimeError(f"SQS refused {len(failed)} batch steps: {failed[0].get('Message')}")


class ThreadDispatcher:
    """One worker thread takes the steps in order; a step that fails marks its job failed (a resume goes on
    from the chunks it lacks)."""

    def __init__(self) -> None:
        self._queue: queue.Queue[Message] = queue.Queue()
        self.jobs: BatchJobs | None = None
        self._thread = threading.Thread(target=self._run, name="dummi-batch", daemon=True)
        self._thread.start()

    def send(self, messages: list[Message]) -> None:
        for m in messages:
            self._queue.put(m)

    def join(self, timeout: float = 60.0) -> bool:
        """Wait until every step sent so far has run (tests)."""
        done = threading.Event()
        self._queue.put({"step": "__barrier__", "event": done})
        return done.wait(timeout)

    def _run(self) -> None:
        while True:
            message = self._queue.get()
            if message.get("step") == "__barrier__":
                message["event"].set()
                continue
            run_step(self.jobs, message)


class InlineDispatcher:
    """Steps run in the calling process when it drains them (``dummi batch-recommend``)."""

    def __init__(self) -> None:
        self.pending: deque[Message] = deque()

    def send(self, messages: list[Message]) -> None:
        self.pending.extend(messages)

    def drain(
        self,
        jobs: BatchJobs,
        after_step: Callable[[Message], None] = lambda m: None,
        *,
        workers: int = 1,
        worker_init: Callable[[], BatchJobs] | None = None,
    ) -> None:
        """Run the pending steps here; with ``workers`` > 1, the chunks in that many processes (each loads
        the model once: ``worker_init`` builds its jobs), the split and the assembly here."""
        while self.pending:
            chunks = [m for m in self.pending if m.get("step") == "chunk"]
            if workers > 1 and worker_init is not None and len(chunks) > 1:
                self.pending = deque(m for m in self.pending if m.get("step") != "chunk")
                _in_processes(chunks, workers, worker_init, after_step)
                continue
            message = self.pending.popleft()
            jobs.handle(message)
            after_step(message)


_worker_jobs: BatchJobs | None = None


def _start_worker(init: Callable[[], BatchJobs]) -> None:
    global _worker_jobs
    _worker_jobs = init()


def _worker_step(message: Message) -> Message:
    assert _worker_jobs is not None
    _worker_jobs.handle(message)
    return message


def _in_processes(
    chunks: list[Message], workers: int, init: Callable[[], BatchJobs], after_step: Callable[[Message], None]
) -> None:
    """The chunk steps over a pool of fresh processes (spawned: no connection or thread of this one is
    inherited); the first failure stops the rest and is raised (finished chunks stay finished)."""
    # one core per worker: with each process's math on every core, two workers on two cores answered 209
    # users/s against 644 on one thread each (100K items)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")  # read by the spawned processes as they start
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker, initargs=(init,)) as pool:
        futures = {pool.submit(_worker_step, m) for m in chunks}
        while futures:
            done, futures = wait(futures, return_when=FIRST_EXCEPTION)
            for future in done:
                if future.exception() is not None:
                    for f in futures:
                        f.cancel()
                    raise future.exception()
                after_step(future.result())


def run_step(jobs: BatchJobs | None, message: Message) -> None:
    """One step, with its failure recorded on the job (the local worker thread has no queue to retry)."""
    try:
        assert jobs is not None, "the dispatcher was not given its jobs"
        jobs.handle(message)
    except Exception as exc:
        logger.exception("batch step %s failed", message)
        where = message.get("step", "?") + (f" {message['chunk']}" if "chunk" in message else "")
        try:
            if jobs is not None and message.get("job_id"):
                jobs.fail(message["job_id"], f"{where}: {type(exc).__name__}: {exc}")
        except Exception:
            logger.exception("could not record the failure of batch job %s", message.get("job_id"))


def handle_sqs_body(body: str) -> None:
    """The BatchFunction's SQS record handler: an exception leaves the record to SQS's retries and DLQ."""
    get_batch_jobs().handle(json.loads(body))


@lru_cache(maxsize=1)
def get_batch_jobs() -> BatchJobs:
    # numpy and FAISS (the engine answers the lines): the routes that start and read jobs run without them
    from dummi.services.recommendation_service import get_engine

    url = get_settings().dummi_batch_queue_url
    dispatcher = SqsDispatcher(url) if url else ThreadDispatcher()
    jobs = BatchJobs(get_database(), get_artifact_store(), get_engine, dispatcher)
    if isinstance(dispatcher, ThreadDispatcher):
        dispatcher.jobs = jobs
    return jobs
