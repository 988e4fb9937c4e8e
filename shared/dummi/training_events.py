"""The training function's non-HTTP entry points: the schedule, its own asynchronous runs, and the SQS
messages that ask for embeddings (the EmbeddingFunction, same image)."""

from __future__ import annotations

import json
import logging
from typing import Any

from dummi.artifacts.store import get_artifact_store
from dummi.db.connection import get_database
from dummi.progress import LogProgress
from dummi.services.embedding_queue import process
from dummi.services.training_dispatch import RUN_EVENT_KEY
from dummi.training.params import TrainingParams
from dummi.training.runs import TrainingAlreadyRunningError, execute_run, run_now

logger = logging.getLogger(__name__)


class TrainingRunFailedError(Exception):
    """Raised so the scheduler's retry policy and dead-letter queue see a failed scheduled run."""


def is_scheduled_event(event: dict[str, Any]) -> bool:
    return event.get("detail-type") == "Scheduled Event"


def handle_event(event: dict[str, Any], context: Any) -> dict[str, Any]:
    db, store = get_database(), get_artifact_store()
    if RUN_EVENT_KEY in event:
        run = execute_run(db, store, str(event[RUN_EVENT_KEY]), progress=LogProgress())
        return {"run_id": event[RUN_EVENT_KEY], "state": run.state if run else "skipped"}
    if is_scheduled_event(event):
        detail = event.get("detail") or {}
        params = TrainingParams.configured(
            retrain_cf=bool(detail.get("retrain_cf", True)),
            regenerate_embeddings=bool(detail.get("regenerate_embeddings", False)),
        )
        try:
            run = run_now(db, store, "schedule", params, progress=LogProgress())
        except TrainingAlreadyRunningError as exc:
            logger.info("scheduled training skipped: %s", exc.message)
            return {"state": "already_running", "detail": exc.message}
        if run is None:
            return {"state": "skipped"}
        if run.state != "succeeded":
            raise TrainingRunFailedError(f"scheduled run {run.run_id} failed: {run.error}")
        return {"run_id": run.run_id, "state": run.state, "model_version": run.model_version}
    raise ValueError(f"unrecognised event: keys {sorted(event)[:10]}")


def handle_embedding_message(body: str) -> None:
    """One SQS message: {"kind": "content" | "user", "keys": [...]}."""
    message = json.loads(body)
    kind = message["kind"]
    if kind not in ("content", "user"):
        raise ValueError(f"unknown embedding kind {kind!r}")
    process(kind, [str(k) for k in message["keys"]])
