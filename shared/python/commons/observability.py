"""Powertools Logger, Tracer and Metrics, configured from the function's environment.

Powertools reads its own variables (POWERTOOLS_SERVICE_NAME, POWERTOOLS_LOG_LEVEL,
POWERTOOLS_METRICS_NAMESPACE, POWERTOOLS_TRACE_DISABLED), which the CDK stacks set
per function; nothing here is hard-coded per service.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = Tracer()
metrics = Metrics()

LambdaHandler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def instrument(handler: LambdaHandler, *, api: bool = False) -> LambdaHandler:
    """Wrap a handler with structured logging, tracing and metrics flushing.

    For API handlers the correlation id is API Gateway's request id, so one id
    ties the access log, the function's log lines and the client's error body.
    """
    correlation_path = correlation_paths.API_GATEWAY_REST if api else None
    wrapped = metrics.log_metrics(tracer.capture_lambda_handler(handler))
    return logger.inject_lambda_context(wrapped, correlation_id_path=correlation_path, log_event=False)
