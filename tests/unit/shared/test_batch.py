from typing import Any

import pytest

from commons.batch import BatchProcessingError, dynamodb_stream_handler
from commons.dynamodb import deserialize, serialize
from commons.observability import LambdaHandler
from tests.events import lambda_context, stream_record


def handler_and_records(keys: list[str]) -> tuple[LambdaHandler, list[dict[str, Any]], list[str]]:
    """A stream handler that fails on the record keyed "poison", one record per key, and what it handled."""
    handled: list[str] = []

    def record_handler(record):
        key = deserialize(record["dynamodb"]["Keys"])["pk"]
        if key == "poison":
            raise ValueError("cannot handle this one")
        handled.append(key)

    records = [
        stream_record(
            "INSERT", serialize({"pk": pk}), new_image=serialize({"pk": pk}), sequence_number=str(n)
        )
        for n, pk in enumerate(keys, start=1)
    ]
    return dynamodb_stream_handler(record_handler), records, handled


def test_a_poison_record_is_reported_alone_and_the_others_are_handled():
    handler, records, handled = handler_and_records(["a", "poison", "b"])
    result = handler({"Records": records}, lambda_context())
    assert result == {"batchItemFailures": [{"itemIdentifier": "2"}]}
    assert handled == ["a", "b"]


def test_when_the_first_record_fails_the_invocation_fails_so_the_mapping_bisects():
    handler, records, handled = handler_and_records(["poison", "a", "b"])
    with pytest.raises(BatchProcessingError, match="first of 3 records"):
        handler({"Records": records}, lambda_context())
    assert handled == ["a", "b"]  # handled all the same: a retry of the batch changes nothing for them
    assert handler({"Records": records[1:]}, lambda_context()) == {"batchItemFailures": []}
