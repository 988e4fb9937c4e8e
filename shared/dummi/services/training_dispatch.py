"""How an HTTP trigger gets its queued run executed: in a background thread of the local server; in AWS by
starting the training state machine (it plans the run and executes it in the training function or on EMR
Serverless), or, without one, by invoking the training function asynchronously. The HTTP call returns 202 at
once either way."""

from __future__ import annotations

import json
import logging
import os
import threading
from functools import lru_cache
from typing import Protocol

from dummi import aws
from dummi.artifacts.store import get_artifact_store
from dummi.config import get_settings
from dummi.db.connection import get_database
from dummi.progress import LogProgress
from dummi.training.runs import execute_run

logger = logging.getLogger(__name__)

RUN_EVENT_KEY = "dummi_training_run"


class TrainingDispatcher(Protocol):
    def dispatch(self, run_id: str) -> None: ...


class ThreadDispatcher:
    """Local: run in a daemon thread of this process (the local server)."""

    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []

    def dispatch(self, run_id: str) -> None:
        thread = threading.Thread(target=self._run, args=(run_id,), name=f"training-{run_id[:8]}", daemon=True)
        self.threads.append(thread)
        thread.start()

    @staticmethod
    def _run(run_id: str) -> None:
        try:
            execute_run(get_database(), get_artifact_store(), run_id, progress=LogProgress())
        except Exception:  # execute_run records failures itself; this is a last resort
            logger.exception("training run %s crashed", run_id)


class LambdaDispatcher:
    """AWS: invoke the training function asynchronously with {"dummi_training_run": run_id}."""

    def __init__(self, function_name: str) -> None:
        self.function_name = function_name

    def dispatch(self, run_id: str) -> None:
        aws.get_client("lambda").invoke(
            FunctionName=self.function_name,
            InvocationType="Event",
            Payload=json.dumps({RUN_EVENT_KEY: run_id}).encode(),
        )


class StepFunctionsDispatcher:
    """AWS: start the training state machine with {"run_id": run_id} (the execution is named after the run,
    so a retried dispatch cannot start a second one)."""

    def __init__(self, state_machine_arn: str) -> None:
        self.state_machine_arn = state_machine_arn

    def dispatch(self, run_id: str) -> None:
        aws.get_client("stepfunctions").start_execution(
            stateMachineArn=self.state_machine_arn, name=f"run-{run_id}", input=json.dumps({"run_id": run_id})
        )


@lru_cache(maxsize=1)
def get_training_dispatcher() -> TrainingDispatcher:
    settings = get_settings()
    if settings.dummi_training_dispatch == "stepfunctions":
        if not settings.dummi_training_state_machine_arn:
            raise RuntimeError("stepfunctions dispatch needs DUMMI_TRAINING_STATE_MACHINE_ARN")
        return StepFunctionsDispatcher(settings.dummi_training_state_machine_arn)
    if settings.dummi_training_dispatch == "lambda":
        name = settings.dummi_training_function_name or os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        if not name:
            raise RuntimeError("lambda dispatch needs DUMMI_TRAINING_FUNCTION_NAME or AWS_LAMBDA_FUNCTION_NAME")
        return LambdaDispatcher(name)
    return ThreadDispatcher()
