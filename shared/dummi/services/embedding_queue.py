"""How a write asks for its text to be embedded "right after", without waiting for a retrain.

``DUMMI_EMBEDDING_MODE`` chooses:

* ``background`` (the local server): an in-process worker thread embeds the ids it is handed, in batches.
* ``sqs`` (AWS): a message to ``DUMMI_EMBEDDING_QUEUE_URL``; the EmbeddingFunction consumes it.
* ``inline``: embed before the request returns (CLI imports, tests that want it synchronous).
* ``off``: leave the row pending; the next training run embeds it.

A failed enqueue never fails the write: the row stays pending (hash cleared) and training picks it up.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from functools import lru_cache
from typing import Literal, Protocol

from dummi import aws
from dummi.config import get_settings
from dummi.db.connection import get_database

logger = logging.getLogger(__name__)

Kind = Literal["content", "user"]


class EmbeddingQueue(Protocol):
    def enqueue(self, kind: Kind, keys: list[str]) -> None: ...


def process(kind: Kind, keys: list[str]) -> None:
    """Embed the given rows now (what every mode ends up running)."""
    # numpy and ONNX Runtime: the write functions only enqueue and ship neither; the embedding worker has them
    from dummi.ml.embeddings import get_embedder
    from dummi.training.embedding import embed_content, embed_user_interests

    if kind == "content":
        embed_content(get_database(), get_embedder(), content_ids=keys)
    else:
        embed_user_interests(get_database(), get_embedder(), user_ids=keys)


class OffQueue:
    def enqueue(self, kind: Kind, keys: list[str]) -> None:
        return None


class InlineQueue:
    def enqueue(self, kind: Kind, keys: list[str]) -> None:
        try:
            process(kind, keys)
        except Exception:  # the write succeeded; training will embed the row
            logger.exception("embedding %s %s failed; left pending", kind, keys)


class BackgroundQueue:
    """One daemon worker; bursts of writes are embedded together."""

    def __init__(self, max_batch: int = 256) -> None:
        self._queue: queue.Queue[tuple[Kind, str]] = queue.Queue()
        self._max_batch = max_batch
        self._thread = threading.Thread(target=self._run, name="dummi-embedder", daemon=True)
        self._thread.start()

    def enqueue(self, kind: Kind, keys: list[str]) -> None:
        for key in keys:
            self._queue.put((kind, key))

    def join(self, timeout: float = 30.0) -> bool:
        """Wait until everything enqueued so far is processed (tests, shutdown)."""
        done = threading.Event()
        self._queue.put(("__barrier__", done))  # type: ignore[arg-type]
        return done.wait(timeout)

    def _run(self) -> None:
        while True:
            items = [self._queue.get()]
            while len(items) < self._max_batch:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            barriers = [key for kind, key in items if kind == "__barrier__"]
            for kind in ("content", "user"):
                keys = sorted({key for k, key in items if k == kind})
                if keys:
                    try:
                        process(kind, keys)  # type: ignore[arg-type]
                    except Exception:
                        logger.exception("background embedding of %d %s rows failed; left pending", len(keys), kind)
            for barrier in barriers:
                barrier.set()  # type: ignore[attr-defined]


class SqsQueue:
    def __init__(self, queue_url: str) -> None:
        self._url = queue_url

    def enqueue(self, kind: Kind, keys: list[str]) -> None:
        try:
            aws.get_client("sqs").send_message(QueueUrl=self._url, MessageBody=json.dumps({"kind": kind, "keys": keys}))
        except Exception:
            logger.exception("could not queue %s %s for embedding; left pending for training", kind, keys)


@lru_cache(maxsize=1)
def get_embedding_queue() -> EmbeddingQueue:
    settings = get_settings()
    mode = settings.dummi_embedding_mode
    if mode == "background":
        return BackgroundQueue()
    if mode == "inline":
        return InlineQueue()
    if mode == "sqs":
        if not settings.dummi_embedding_queue_url:
            raise RuntimeError("DUMMI_EMBEDDING_MODE=sqs needs DUMMI_EMBEDDING_QUEUE_URL")
        return SqsQueue(settings.dummi_embedding_queue_url)
    return OffQueue()
