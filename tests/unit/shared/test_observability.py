"""What commons.observability actually writes: the lines are captured and parsed, so a formatter
that stops writing JSON, a dropped key or a flush that emits nothing fails here.

Log lines are Powertools' Logger lines (one JSON object per line on stdout); metrics are
CloudWatch embedded metric format (EMF) documents, one per invoke, also on stdout."""

from __future__ import annotations

import inspect
import json
import logging
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from commons import observability
from commons.observability import Logger, Metrics, MetricUnit, instrument, logger, metrics
from tests.events import lambda_context, rest_event

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3}\+0000$")
BASE_KEYS = {"level", "location", "message", "timestamp", "service"}
CONTEXT_KEYS = {"cold_start", "function_name", "function_memory_size", "function_arn", "function_request_id"}

Lines = Callable[[], list[dict[str, Any]]]


class _CurrentStdout:
    """The module's handler holds the sys.stdout of import time; this writes to whatever sys.stdout
    is now (capsys's), so log lines and metric documents land in one stream, in order."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@pytest.fixture
def lines(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Lines]:
    """Reads what was written since the last call, every line parsed as one JSON object."""
    # Only the module's own handler: pytest adds its capture handlers (StreamHandler subclasses) too.
    handlers = [h for h in logger._logger.handlers if type(h) is logging.StreamHandler]
    assert len(handlers) == 1, logger._logger.handlers
    previous_streams = [h.setStream(_CurrentStdout()) for h in handlers]
    previous_keys = logger.get_current_keys()
    logger.remove_keys(list(previous_keys))
    monkeypatch.setattr(observability, "_cold_start", True)
    monkeypatch.delenv("_X_AMZN_TRACE_ID", raising=False)
    metrics.flush()  # whatever other tests added outside an invoke
    capsys.readouterr()

    def read() -> list[dict[str, Any]]:
        captured = capsys.readouterr()
        assert captured.err == ""
        parsed = []
        for text in captured.out.splitlines():
            value = json.loads(text)
            assert isinstance(value, dict), text
            parsed.append(value)
        return parsed

    yield read

    for handler, stream in zip(handlers, previous_streams, strict=True):
        handler.setStream(stream)
    logger.remove_keys(list(logger.get_current_keys()))
    logger.append_keys(**previous_keys)


def _logs(parsed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in parsed if "_aws" not in line]


def _emf(parsed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in parsed if "_aws" in line]


def _values(value: Any) -> list[float]:
    """A target member is a number or an array of numbers; either way, its values."""
    values = value if isinstance(value, list) else [value]
    assert values
    assert all(isinstance(v, int | float) and not isinstance(v, bool) for v in values), value
    assert len(values) <= 100, "EMF allows at most 100 values per metric"
    return [float(v) for v in values]


def _check_emf(document: dict[str, Any]) -> tuple[str, dict[str, str], dict[str, list[float]]]:
    """Validates one EMF document; returns its namespace, metric units and metric values."""
    meta = document["_aws"]
    assert set(meta) == {"Timestamp", "CloudWatchMetrics"}
    timestamp = meta["Timestamp"]
    assert isinstance(timestamp, int)
    assert abs(timestamp - time.time() * 1000) < 60_000, "Timestamp is milliseconds since the epoch"
    directives = meta["CloudWatchMetrics"]
    assert isinstance(directives, list)
    assert len(directives) == 1
    directive = directives[0]
    assert set(directive) == {"Namespace", "Dimensions", "Metrics"}
    namespace = directive["Namespace"]
    assert isinstance(namespace, str)
    assert namespace
    assert directive["Dimensions"] == [["service"]]
    assert isinstance(document["service"], str)
    definitions = directive["Metrics"]
    assert 1 <= len(definitions) <= 100
    units: dict[str, str] = {}
    for definition in definitions:
        assert set(definition) == {"Name", "Unit"}
        assert definition["Name"] not in units
        units[definition["Name"]] = definition["Unit"]
    values = {name: _values(document[name]) for name in units}
    assert set(document) == {"_aws", "service", *units}
    return namespace, units, values


def _check_timestamp(line: dict[str, Any]) -> None:
    assert TIMESTAMP.match(line["timestamp"]), line["timestamp"]
    written = datetime.strptime(line["timestamp"], "%Y-%m-%d %H:%M:%S,%f%z")
    assert abs((datetime.now(UTC) - written).total_seconds()) < 60


# Log lines


def test_a_log_line_is_one_json_object_with_powertools_keys(lines: Lines):
    line_number = inspect.currentframe().f_lineno + 1
    logger.info("order placed", extra={"order_id": "o-1", "amount": Decimal("12.50")})

    [line] = lines()
    assert set(line) == BASE_KEYS | {"order_id", "amount"}
    assert line["level"] == "INFO"
    assert line["message"] == "order placed"
    assert line["location"] == f"test_a_log_line_is_one_json_object_with_powertools_keys:{line_number}"
    assert line["service"] == os.environ["POWERTOOLS_SERVICE_NAME"]
    assert line["order_id"] == "o-1"
    assert line["amount"] == "12.50"  # not JSON-serializable: written as its str, not an error
    _check_timestamp(line)


@pytest.mark.parametrize(
    ("method", "level"),
    [("info", "INFO"), ("warning", "WARNING"), ("error", "ERROR"), ("exception", "ERROR")],
)
def test_each_method_writes_its_level(lines: Lines, method: str, level: str):
    getattr(logger, method)("a message")

    [line] = lines()
    assert line["level"] == level
    assert line["message"] == "a message"


def test_appended_keys_are_on_every_line_until_removed(lines: Lines):
    logger.append_keys(tenant="t-1")
    logger.info("first")
    logger.remove_keys(["tenant"])
    logger.info("second")

    first, second = lines()
    assert first["tenant"] == "t-1"
    assert "tenant" not in second


def test_logger_exception_writes_the_traceback_and_exception_name(lines: Lines):
    class PaymentDeclinedError(Exception):
        pass

    try:
        raise PaymentDeclinedError("card expired")
    except PaymentDeclinedError:
        logger.exception("payment failed", extra={"order_id": "o-9"})

    [line] = lines()
    assert line["level"] == "ERROR"
    assert line["message"] == "payment failed"
    assert line["order_id"] == "o-9"
    assert line["exception_name"] == "PaymentDeclinedError"
    assert line["exception"].startswith("Traceback (most recent call last):")
    assert 'raise PaymentDeclinedError("card expired")' in line["exception"]
    assert line["exception"].endswith("PaymentDeclinedError: card expired")


def test_exception_keys_only_when_there_is_an_exception(lines: Lines):
    logger.exception("no exception being handled")
    logger.error("plain error")

    for line in lines():
        assert set(line) == BASE_KEYS
        assert line["level"] == "ERROR"


def test_xray_trace_id_comes_from_the_lambda_trace_header(lines: Lines, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(
        "_X_AMZN_TRACE_ID", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f;Sampled=1"
    )
    logger.info("traced")

    [line] = lines()
    assert line["xray_trace_id"] == "1-5759e988-bd862e3fe1be46a994272793"


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({"POWERTOOLS_LOG_LEVEL": "WARNING"}, ["warning", "error", "exception"]),
        ({"POWERTOOLS_LOG_LEVEL": "debug"}, ["debug", "info", "warning", "error", "exception"]),
        # Lambda's log level (advanced logging controls) wins, as in Powertools; its names are Lambda's.
        (
            {"POWERTOOLS_LOG_LEVEL": "ERROR", "AWS_LAMBDA_LOG_LEVEL": "DEBUG"},
            ["debug", "info", "warning", "error", "exception"],
        ),
        ({"AWS_LAMBDA_LOG_LEVEL": "ERROR"}, ["error", "exception"]),
        ({"AWS_LAMBDA_LOG_LEVEL": "TRACE"}, ["debug", "info", "warning", "error", "exception"]),
        ({"AWS_LAMBDA_LOG_LEVEL": "WARN"}, ["warning", "error", "exception"]),
        ({}, ["info", "warning", "error", "exception"]),
    ],
)
def test_log_level_comes_from_lambda_then_from_powertools(
    lines: Lines, monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], expected: list[str]
):
    monkeypatch.delenv("POWERTOOLS_LOG_LEVEL", raising=False)
    monkeypatch.delenv("AWS_LAMBDA_LOG_LEVEL", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    service = f"observability-test-{uuid.uuid4().hex}"  # its own logging.Logger: the module's is untouched
    fresh = Logger(service=service)

    for method in ("debug", "info", "warning", "error", "exception"):
        getattr(fresh, method)(method)

    written = lines()
    assert [line["message"] for line in written] == expected
    assert all(line["service"] == service for line in written)


# Lambda context and correlation id


def test_instrument_puts_the_lambda_context_on_every_line_and_cold_start_only_first(lines: Lines):
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        logger.info("handling")
        return {"ok": True}

    wrapped = instrument(handler)
    first_context, second_context = lambda_context(), lambda_context()
    assert wrapped({}, first_context) == {"ok": True}
    assert wrapped({}, second_context) == {"ok": True}

    first, second = lines()
    for line, context in ((first, first_context), (second, second_context)):
        assert set(line) == BASE_KEYS | CONTEXT_KEYS
        assert line["message"] == "handling"
        assert line["location"].startswith("handler:")
        assert line["function_name"] == context.function_name
        assert line["function_arn"] == context.invoked_function_arn
        assert line["function_request_id"] == context.aws_request_id
        # As Powertools: the context's value as given (a string in Lambda's Python runtime).
        assert line["function_memory_size"] == context.memory_limit_in_mb == "256"
    assert first["cold_start"] is True
    assert second["cold_start"] is False
    assert first["function_request_id"] != second["function_request_id"]


def test_api_handlers_log_api_gateways_request_id_as_correlation_id(lines: Lines):
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        logger.info("api call")
        return {"statusCode": 200, "body": "{}"}

    wrapped = instrument(handler, api=True)
    wrapped(rest_event("GET", "/orders", request_id="req-abc"), lambda_context())
    wrapped(rest_event("GET", "/orders", request_id="req-def"), lambda_context())
    wrapped({}, lambda_context())  # no requestContext: no id, and not the previous request's

    first, second, third = lines()
    assert first["correlation_id"] == "req-abc"
    assert second["correlation_id"] == "req-def"
    assert "correlation_id" not in third


def test_non_api_handlers_have_no_correlation_id(lines: Lines):
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        logger.info("record batch")
        return {}

    instrument(handler)(rest_event("GET", "/x", request_id="req-ignored"), lambda_context())

    [line] = lines()
    assert "correlation_id" not in line


# Metrics


def test_a_metric_added_during_an_invoke_is_one_emf_document_at_its_end(lines: Lines):
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        metrics.add_metric(name="OrdersCreated", unit=MetricUnit.Count, value=1)
        logger.info("after the metric")
        return {}

    instrument(handler)({}, lambda_context())

    written = lines()
    assert len(written) == 2
    assert "_aws" not in written[0]
    assert written[0]["message"] == "after the metric"
    [document] = _emf(written)
    assert document is written[1]  # flushed at the end of the invoke, after the handler's lines
    namespace, units, values = _check_emf(document)
    assert namespace == os.environ["POWERTOOLS_METRICS_NAMESPACE"]
    assert document["service"] == os.environ["POWERTOOLS_SERVICE_NAME"]
    assert units == {"OrdersCreated": "Count"}
    assert values == {"OrdersCreated": [1.0]}


def test_one_document_holds_every_metric_and_value_of_the_invoke(lines: Lines):
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        metrics.add_metric(name="PaymentsCaptured", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="PaymentsCaptured", unit=MetricUnit.Count, value=2)
        metrics.add_metric(name="Latency", unit=MetricUnit.Milliseconds, value=12.5)
        metrics.add_metric(name="Ratio", unit=MetricUnit.NoUnit, value=0)
        return {}

    instrument(handler)({}, lambda_context())

    [document] = lines()
    _, units, values = _check_emf(document)
    assert units == {"PaymentsCaptured": "Count", "Latency": "Milliseconds", "Ratio": "None"}
    assert values == {"PaymentsCaptured": [1.0, 2.0], "Latency": [12.5], "Ratio": [0.0]}


def test_no_metric_no_document(lines: Lines):
    """Powertools only warns when an invoke added no metric; it writes no empty document."""

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        logger.info("nothing to count")
        return {}

    instrument(handler)({}, lambda_context())

    written = lines()
    assert _emf(written) == []
    assert [line["message"] for line in written] == ["nothing to count"]


def test_metrics_are_not_written_twice(lines: Lines):
    calls = iter([True, False])

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if next(calls):
            metrics.add_metric(name="Refunds", unit=MetricUnit.Count, value=1)
        return {}

    wrapped = instrument(handler)
    wrapped({}, lambda_context())
    [document] = lines()
    assert _check_emf(document)[2] == {"Refunds": [1.0]}

    wrapped({}, lambda_context())
    assert lines() == []


def test_metrics_are_flushed_when_the_handler_raises(lines: Lines):
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        metrics.add_metric(name="RecordsFailed", unit=MetricUnit.Count, value=3)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        instrument(handler)({}, lambda_context())

    [document] = lines()
    _, units, values = _check_emf(document)
    assert units == {"RecordsFailed": "Count"}
    assert values == {"RecordsFailed": [3.0]}


def test_more_than_100_metrics_are_split_into_valid_documents(lines: Lines):
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        for index in range(150):
            metrics.add_metric(name=f"Metric{index}", unit=MetricUnit.Count, value=index)
        return {}

    instrument(handler)({}, lambda_context())

    documents = lines()
    assert len(documents) == 2
    seen: dict[str, list[float]] = {}
    for document in documents:
        seen.update(_check_emf(document)[2])  # each at most 100 metric definitions
    assert seen == {f"Metric{index}": [float(index)] for index in range(150)}


# The environment of a fresh execution environment


def test_a_cold_process_reads_the_powertools_variables_and_writes_to_stdout():
    """The module-level logger and metrics read their variables at import, as in Lambda."""
    package_root = Path(observability.__file__).resolve().parents[1]
    script = """
import types
from commons.observability import MetricUnit, instrument, logger, metrics

logger.debug("hidden debug")
logger.info("hidden info")
logger.warning("shown warning")

def handler(event, context):
    logger.error("shown error")
    metrics.add_metric(name="ChildMetric", unit=MetricUnit.Count, value=7)
    return {}

context = types.SimpleNamespace(
    function_name="child-fn", memory_limit_in_mb="128", aws_request_id="req-child",
    invoked_function_arn="arn:aws:lambda:eu-west-1:123456789012:function:child-fn",
)
instrument(handler)({}, context)
"""
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("POWERTOOLS_", "AWS_LAMBDA_LOG", "_X_AMZN", "PYTHON"))
    }
    environment.update(
        PYTHONPATH=str(package_root),
        POWERTOOLS_SERVICE_NAME="child-service",
        POWERTOOLS_LOG_LEVEL="WARNING",
        POWERTOOLS_METRICS_NAMESPACE="ChildNamespace",
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    warning, error, document = (json.loads(text) for text in result.stdout.splitlines())
    assert warning["message"] == "shown warning"
    assert warning["level"] == "WARNING"
    assert warning["service"] == "child-service"
    assert error["message"] == "shown error"
    assert error["cold_start"] is True
    assert error["function_name"] == "child-fn"
    assert error["function_request_id"] == "req-child"
    namespace, units, values = _check_emf(document)
    assert namespace == "ChildNamespace"
    assert document["service"] == "child-service"
    assert units == {"ChildMetric": "Count"}
    assert values == {"ChildMetric": [7.0]}


def test_a_metric_with_more_than_100_values_is_split_across_documents(lines: Lines):
    metrics = Metrics(namespace="Test", service="svc")
    for value in range(150):
        metrics.add_metric(name="Seen", unit=MetricUnit.Count, value=value)
    metrics.add_metric(name="Other", unit=MetricUnit.Count, value=1)
    metrics.flush()
    first, second = lines()
    assert (first["Seen"], first["Other"]) == ([float(v) for v in range(100)], 1.0)
    assert second["Seen"] == [float(v) for v in range(100, 150)]
    assert [m["Name"] for m in second["_aws"]["CloudWatchMetrics"][0]["Metrics"]] == ["Seen"]


def test_metrics_disabled_prints_nothing(lines: Lines, monkeypatch):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    metrics = Metrics(namespace="Test", service="svc")
    metrics.add_metric(name="Seen", unit=MetricUnit.Count, value=1)
    metrics.flush()
    assert lines() == []
