"""Structured logs and CloudWatch metrics for every function, with the standard library only.

The log lines and metric documents are those of Powertools' Logger and Metrics (same keys, the
CloudWatch embedded metric format, within its limits of 100 metrics per document and 100 values per
metric), and read Powertools' variables (POWERTOOLS_SERVICE_NAME, POWERTOOLS_LOG_LEVEL,
POWERTOOLS_METRICS_NAMESPACE, POWERTOOLS_METRICS_DISABLED) with its precedence: a log level set in
Lambda's logging configuration (AWS_LAMBDA_LOG_LEVEL) wins. The CDK stacks set them per function.
Not reproduced: Powertools' ``stack_trace`` object on exception lines (``exception`` holds the text).
They are written here instead of imported because Powertools' package costs about 25 ms of
cold start before a function does anything, and its Tracer (the X-Ray SDK) about 50-100 ms more:
functions rely on Lambda's active tracing for their segment and record no SDK subsegments.
Measurements: docs/performance.md; the decision: docs/decisions.md.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]
# Embedded metric format: at most 100 metrics per document and 100 values per metric.
MAX_METRICS = 100
MAX_VALUES = 100
# Lambda's application log levels that Python's logging does not name.
LAMBDA_LOG_LEVELS = {"TRACE": "DEBUG", "WARN": "WARNING", "FATAL": "CRITICAL"}


class MetricUnit(StrEnum):
    Count = "Count"
    Milliseconds = "Milliseconds"
    Seconds = "Seconds"
    Bytes = "Bytes"
    Percent = "Percent"
    NoUnit = "None"


class _JsonFormatter(logging.Formatter):
    def __init__(self, owner: Logger) -> None:
        super().__init__()
        self.owner = owner

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        moment = time.gmtime(record.created)
        return time.strftime("%Y-%m-%d %H:%M:%S", moment) + f",{int(record.msecs):03d}+0000"

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "level": record.levelname,
            "location": f"{record.funcName}:{record.lineno}",
            "message": record.getMessage(),
            "timestamp": self.formatTime(record),
            "service": self.owner.service,
            **self.owner.get_current_keys(),
            **getattr(record, "extra_keys", {}),
        }
        if record.exc_info and record.exc_info[0] is not None:
            line["exception"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
            line["exception_name"] = record.exc_info[0].__name__
        trace = os.environ.get("_X_AMZN_TRACE_ID", "")
        if trace:
            line["xray_trace_id"] = trace.split(";")[0].removeprefix("Root=")
        return json.dumps(line, default=str, separators=(",", ":"))


class Logger:
    """JSON lines on stdout: level, location, message, timestamp, service, the Lambda context keys
    set by :func:`instrument`, and any ``extra`` keys of the call."""

    def __init__(self, service: str | None = None) -> None:
        self.service = service or os.environ.get("POWERTOOLS_SERVICE_NAME", "service_undefined")
        self._keys: dict[str, Any] = {}
        self._logger = logging.getLogger(f"commons.{self.service}")
        self._logger.propagate = False
        # As Powertools: the level set on the function (Lambda's log configuration) wins over its own.
        level = (
            os.environ.get("AWS_LAMBDA_LOG_LEVEL") or os.environ.get("POWERTOOLS_LOG_LEVEL") or "INFO"
        ).upper()
        self._logger.setLevel(LAMBDA_LOG_LEVELS.get(level, level))
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(_JsonFormatter(self))
        self._logger.handlers = [handler]

    def append_keys(self, **keys: Any) -> None:
        self._keys.update(keys)

    def remove_keys(self, names: list[str]) -> None:
        for name in names:
            self._keys.pop(name, None)

    def get_current_keys(self) -> dict[str, Any]:
        return dict(self._keys)

    def _log(self, level: int, message: str, extra: Mapping[str, Any] | None, exc_info: bool = False) -> None:
        if self._logger.isEnabledFor(level):
            self._logger.log(
                level, message, exc_info=exc_info, extra={"extra_keys": dict(extra or {})}, stacklevel=3
            )

    def debug(self, message: str, *, extra: Mapping[str, Any] | None = None) -> None:
        self._log(logging.DEBUG, message, extra)

    def info(self, message: str, *, extra: Mapping[str, Any] | None = None) -> None:
        self._log(logging.INFO, message, extra)

    def warning(self, message: str, *, extra: Mapping[str, Any] | None = None) -> None:
        self._log(logging.WARNING, message, extra)

    def error(self, message: str, *, extra: Mapping[str, Any] | None = None) -> None:
        self._log(logging.ERROR, message, extra)

    def exception(self, message: str, *, extra: Mapping[str, Any] | None = None) -> None:
        self._log(logging.ERROR, message, extra, exc_info=True)


class Metrics:
    """Counters flushed once per invoke as one CloudWatch embedded metric format document,
    dimension ``service``, namespace POWERTOOLS_METRICS_NAMESPACE."""

    def __init__(self, namespace: str | None = None, service: str | None = None) -> None:
        self.namespace = namespace or os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "")
        self.service = service or os.environ.get("POWERTOOLS_SERVICE_NAME", "service_undefined")
        self._values: dict[str, list[float]] = {}
        self._units: dict[str, str] = {}

    def add_metric(self, *, name: str, unit: MetricUnit | str, value: float) -> None:
        self._values.setdefault(name, []).append(float(value))
        self._units[name] = str(unit)

    def flush(self) -> None:
        """Print what was added as documents within EMF's limits (CloudWatch drops a document beyond
        them); nothing with POWERTOOLS_METRICS_DISABLED set, as Powertools."""
        remaining, self._values = self._values, {}
        if os.environ.get("POWERTOOLS_METRICS_DISABLED", "").lower() in ("1", "true"):
            remaining = {}
        while remaining:
            values = {name: found[:MAX_VALUES] for name, found in remaining.items()}
            remaining = {
                name: found[MAX_VALUES:] for name, found in remaining.items() if len(found) > MAX_VALUES
            }
            names = list(values)
            for start in range(0, len(names), MAX_METRICS):
                self._print({name: values[name] for name in names[start : start + MAX_METRICS]})
        self._units.clear()

    def _print(self, values: Mapping[str, list[float]]) -> None:
        document = {
            "_aws": {
                "Timestamp": int(time.time() * 1000),
                "CloudWatchMetrics": [
                    {
                        "Namespace": self.namespace,
                        "Dimensions": [["service"]],
                        "Metrics": [{"Name": name, "Unit": self._units[name]} for name in values],
                    }
                ],
            },
            "service": self.service,
            **{name: found if len(found) > 1 else found[0] for name, found in values.items()},
        }
        print(json.dumps(document, separators=(",", ":")), flush=True)


logger = Logger()
metrics = Metrics()
_cold_start = True


def instrument(handler: LambdaHandler, *, api: bool = False) -> LambdaHandler:
    """Wrap a handler: the Lambda context's keys on every log line (and, for API handlers, API
    Gateway's request id as ``correlation_id``, so one id ties the access log, the function's lines
    and the client's error body), and the metrics flushed at the end of each invoke."""

    @functools.wraps(handler)
    def wrapped(event: dict[str, Any], context: Any) -> dict[str, Any]:
        global _cold_start  # noqa: PLW0603 - one flag per execution environment
        logger.append_keys(
            cold_start=_cold_start,
            function_name=context.function_name,
            function_memory_size=context.memory_limit_in_mb,  # as given: Lambda's runtime passes a string
            function_arn=context.invoked_function_arn,
            function_request_id=context.aws_request_id,
        )
        _cold_start = False
        if api:
            request = event.get("requestContext") if isinstance(event, dict) else None
            request_id = (request or {}).get("requestId")
            if request_id:
                logger.append_keys(correlation_id=request_id)
            else:  # never the previous request's id
                logger.remove_keys(["correlation_id"])
        try:
            return handler(event, context)
        finally:
            metrics.flush()

    return wrapped
