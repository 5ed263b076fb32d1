import pytest

from commons.batch import BatchProcessingError, dynamodb_stream_handler
from commons.dynamodb import deserialize, serialize
from tests.events import lambda_context, stream_record


def test_a_poison_record_is_reported_alone_and_the_others_are_handled():
    handled: list[str] = []

    def record_handler(record):
        key = deserialize(record["dynamodb"]["Keys"])["pk"]
        if key == "poison":
            raise ValueError("cannot handle this one")
        handled.append(key)

    handler = dynamodb_stream_handler(record_handler)
    records = [
        stream_record(
            "INSERT", serialize({"pk": pk}), new_image=serialize({"pk": pk}), sequence_number=str(n)
        )
        for n, pk in enumerate(["a", "poison", "b"], start=1)
    ]
    result = handler({"Records": records}, lambda_context())
    assert result == {"batchItemFailures": [{"itemIdentifier": "2"}]}
    assert handled == ["a", "b"]


def test_when_the_first_record_fails_the_invocation_fails_so_the_mapping_bisects():
    handled: list[str] = []

    def record_handler(record):
        key = deserialize(record["dynamodb"]["Keys"])["pk"]
        if key == "poison":
            raise ValueError("cannot handle this one")
        handled.append(key)

    handler = dynamodb_stream_handler(record_handler)
    records = [
        stream_record(
            "INSERT", serialize({"pk": pk}), new_image=serialize({"pk": pk}), sequence_number=str(n)
        )
        for n, pk in enumerate(["poison", "a", "b"], start=1)
    ]
    with pytest.raises(BatchProcessingError, match="first of 3 records"):
        handler({"Records": records}, lambda_context())
    assert handled == ["a", "b"]  # handled all the same: a retry of the batch changes nothing for them
    assert handler({"Records": records[1:]}, lambda_context()) == {"batchItemFailures": []}
