"""Wrap a FastAPI app as an instrumented Lambda handler: Mangum + Powertools Logger, Tracer and Metrics.

Every function's ``app.py`` calls ``make_handler(app)`` once at import time (cold start); nothing here
opens a connection or reads a secret: those happen lazily on the first request that needs them.
"""

from __future__ import annotations

import binascii
import json
import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from fastapi import FastAPI
from mangum import Mangum

from dummi.api.errors import MALFORMED_REQUEST
from dummi.telemetry import metrics_namespace

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
EventRoute = Callable[[dict[str, Any], Any], Any]


def is_http_event(event: dict[str, Any]) -> bool:
    return isinstance(event.get("requestContext"), dict) and "http" in event["requestContext"]


def is_malformed_request(event: dict[str, Any]) -> bool:
    """An event with what `dummi run`'s HTTP server refuses before any route sees it: a NUL in the path, the
    query or a header (API Gateway should not pass one on; if it does, the answer is the same)."""
    headers = event.get("headers") or {}
    texts = [event.get("rawPath"), event.get("rawQueryString"), *headers.keys(), *headers.values()]
    return any("\x00" in text for text in texts if isinstance(text, str))


MALFORMED_RESPONSE: dict[str, Any] = {
    "statusCode": 400,
    "headers": {"content-type": "application/json"},
    "body": json.dumps(MALFORMED_REQUEST),
    "isBase64Encoded": False,
}


def make_handler(app: FastAPI, *, other_events: EventRoute | None = None) -> Handler:
    """``other_events`` handles what is not an API Gateway HTTP event (schedules, async invocations)."""
    logger = Logger()
    tracer = Tracer()
    metrics = Metrics(namespace=metrics_namespace())
    # The domain library logs through stdlib loggers named dummi.*: give them the JSON format and the
    # correlation id of the service logger.
    copy_config_to_registered_loggers(source_logger=logger, include={"dummi"})
    # lifespan="off": Mangum would otherwise run startup/shutdown on every invocation.
    asgi = Mangum(app, lifespan="off")

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if other_events is not None and not is_http_event(event):
            metrics.add_metric(name="Events", unit=MetricUnit.Count, value=1)
            return other_events(event, context)
        started = time.perf_counter()
        response = _serve(event, context)
        status = int(response.get("statusCode", 500))
        http = event.get("requestContext", {}).get("http", {})
        logger.info(
            "request served",
            extra={
                "method": http.get("method"),
                "path": event.get("rawPath"),
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            },
        )
        metrics.add_metric(name="Requests", unit=MetricUnit.Count, value=1)
        if status >= 500:
            metrics.add_metric(name="ServerErrors", unit=MetricUnit.Count, value=1)
        elif status >= 400:
            metrics.add_metric(name="ClientErrors", unit=MetricUnit.Count, value=1)
        return response

    def _serve(event: dict[str, Any], context: Any) -> dict[str, Any]:
        """The app's answer, or the same 400 as `dummi run` gives to a request that cannot be parsed. Mangum
        answers an error in the app itself (a 500); what escapes it is an event it could not turn into a
        request (a body that is not base64, a lone surrogate in a string)."""
        if is_malformed_request(event):
            return dict(MALFORMED_RESPONSE)
        try:
            return asgi(event, context)
        except (UnicodeError, binascii.Error):
            logger.warning("malformed request event", exc_info=True)
            return dict(MALFORMED_RESPONSE)

    handler = tracer.capture_lambda_handler(handler)
    handler = logger.inject_lambda_context(
        handler, correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True
    )
    return metrics.log_metrics(handler, capture_cold_start_metric=True)
