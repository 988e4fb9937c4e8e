"""Counters for what operators alarm on (e.g. impression write failures).

In Lambda they are CloudWatch metrics in the EMF the handler flushes after each invocation (Powertools
Metrics instances share one metric set per process); elsewhere (make run, the CLI) they are log lines.
"""

from __future__ import annotations

import logging
import os

logger = logging.getLogger("dummi.telemetry")

DEFAULT_NAMESPACE = "Dummi"


def metrics_namespace() -> str:
    """The CloudWatch namespace every metric of this deployment goes to (the template sets it)."""
    return os.environ.get("POWERTOOLS_METRICS_NAMESPACE", DEFAULT_NAMESPACE)


def in_lambda() -> bool:
    return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))


def count(name: str, value: float = 1.0) -> None:
    """Add ``value`` to the counter ``name`` (dimensionless: the function's service dimension only)."""
    if in_lambda():
        # Powertools: only in Lambda (EMF, Parameters); elsewhere nothing imports it
        from aws_lambda_powertools import Metrics
        from aws_lambda_powertools.metrics import MetricUnit

        Metrics(namespace=metrics_namespace()).add_metric(name=name, unit=MetricUnit.Count, value=value)
    else:
        logger.warning("%s +%s", name, value)
