"""What the functions rely on from Powertools, checked on the functions' own handlers and helpers: log lines
carry the request's correlation id, metrics land as EMF documents with our namespace and dimension, and a
failed record is reported in batchItemFailures (the invocation failing when it is the batch's first)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from commons.dynamodb import serialize
from commons.observability import MetricUnit, logger, metrics
from commons.streams import FirstRecordFailed, process_stream, stream_processor
from tests.events import lambda_context, rest_event, stream_record


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """What the shared Logger writes. Its handler holds the stdout of the Logger's creation, so it is
    pointed here for the test."""
    output = io.StringIO()
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    previous = handler.setStream(output)
    yield output
    handler.setStream(previous)


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@metrics.log_metrics
def api_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    logger.info("Handled")
    metrics.add_metric(name="Things", unit=MetricUnit.Count, value=2)
    return {"statusCode": 200}


def test_log_lines_carry_the_request_id_as_correlation_id_and_the_lambda_context(log_lines):
    context = lambda_context()
    api_handler(rest_event("GET", "/x", request_id="req-123"), context)
    (line,) = [line for line in json_lines(log_lines.getvalue()) if line.get("message") == "Handled"]
    assert line["correlation_id"] == "req-123"
    assert line["function_request_id"] == context.aws_request_id
    assert line["service"] == "tests"
    assert line["cold_start"] in (True, False)


def test_metrics_land_in_one_emf_document_with_our_namespace_and_service_dimension(capsys, log_lines):
    api_handler(rest_event("GET", "/x"), lambda_context())
    (document,) = [line for line in json_lines(capsys.readouterr().out) if "_aws" in line]
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "Tests"
    assert directive["Dimensions"] == [["service"]]
    assert directive["Metrics"] == [{"Name": "Things", "Unit": "Count"}]
    assert document["service"] == "tests"
    assert document["Things"] == [2.0]


def records(*sequences: str) -> dict[str, Any]:
    key = serialize({"pk": "a"})
    return {"Records": [stream_record("INSERT", key, key, sequence_number=s) for s in sequences]}


def fail_on(*bad: str):
    seen: list[str] = []

    def record_handler(record: DynamoDBRecord) -> None:
        assert record.dynamodb is not None
        sequence = str(record.dynamodb.sequence_number)
        seen.append(sequence)
        if sequence in bad:
            raise ValueError(f"poison {sequence}")

    return record_handler, seen


def test_a_failed_record_is_reported_and_the_others_are_processed(log_lines):
    handler, seen = fail_on("2")
    response = process_stream(records("1", "2", "3"), handler, stream_processor(), lambda_context())
    assert response == {"batchItemFailures": [{"itemIdentifier": "2"}]}
    assert seen == ["1", "2", "3"]
    (warning,) = json_lines(log_lines.getvalue())
    assert "ValueError: poison 2" in warning["exception"]  # logged with its traceback


def test_the_first_record_failing_fails_the_invocation_so_lambda_bisects():
    handler, seen = fail_on("1")
    with pytest.raises(FirstRecordFailed, match="first of 3 records"):
        process_stream(records("1", "2", "3"), handler, stream_processor(), lambda_context())
    assert seen == ["1", "2", "3"]


def test_an_all_failed_batch_raises_as_powertools_does():
    handler, _ = fail_on("1", "2")
    with pytest.raises(BatchProcessingError):
        process_stream(records("1", "2"), handler, stream_processor(), lambda_context())


def test_a_clean_batch_reports_nothing():
    handler, _ = fail_on()
    assert process_stream(records("1", "2"), handler, stream_processor(), lambda_context()) == {
        "batchItemFailures": []
    }
