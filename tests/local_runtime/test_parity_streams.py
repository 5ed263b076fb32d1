"""The stream poller against the records and on-failure messages Lambda itself produced
(tests/fixtures/aws/, SOURCES.md there): DynamoDB Local's real stream, the real FunctionRuntime."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local_runtime.assembly import FunctionSpec, MappingSpec
from local_runtime.dynamodb_local import DynamoDBLocal
from local_runtime.functions import FunctionRuntime
from local_runtime.stream_stores import CheckpointStore, OnFailureStore
from local_runtime.streams import StreamPoller
from tests.captures import capture, json_type, shape_differences

FIXTURES = (Path(__file__).parent / "fixture_functions").resolve()
QUEUE = "parity-dead-letters"
STREAM_ARN = re.compile(
    r"arn:aws:dynamodb:us-east-1:123456789012:table/(?P<table>[\w.-]+)/stream/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}"
)


def _records(path: Path) -> list[dict[str, Any]]:
    lines = path.read_text().splitlines() if path.exists() else []
    return [record for line in lines for record in json.loads(line)["records"]]


@pytest.fixture
def run(dynamodb_local: DynamoDBLocal, tmp_path: Path) -> Iterator[Any]:
    """``run(handler, view, writes, **mapping)``: a table with a stream, its writes, then the mapping
    polled until it has nothing left; returns (table, records delivered, on-failure messages)."""
    made: list[tuple[StreamPoller, FunctionRuntime]] = []

    def go(handler: str, view: Any, writes: list[dict[str, Any]], key: str = "pk", **mapping: Any):
        client = dynamodb_local.client()
        table = f"parity-{uuid.uuid4().hex[:8]}"
        client.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": view},
        )
        for write in writes:
            if "Key" in write:
                client.delete_item(TableName=table, **write)
            else:
                client.put_item(TableName=table, **write)
        log = tmp_path / f"{table}.jsonl"
        spec = FunctionSpec(
            "parity", "Consumer", "parity-Consumer", f"stream_consumers.{handler}", FIXTURES, (),
            {"FIXTURE_LOG": str(log)}, 128, 5.0,
        )  # fmt: skip
        runtime = FunctionRuntime(spec, {}, log=lambda *_: None)
        failures = OnFailureStore(tmp_path / "dead-letters")
        settings = {
            "batch_size": 10, "batching_window_s": 0.0, "starting_position": "TRIM_HORIZON", "filters": (),
            "maximum_retry_attempts": 0, "maximum_record_age_s": -1, "bisect_on_error": False,
            "report_batch_item_failures": False, **mapping,
        }  # fmt: skip
        poller = StreamPoller(
            MappingSpec(
                "parity", "Mapping", "parity/Consumer", "parity/Table", **settings, on_failure_queue="q"
            ),
            runtime,
            table_name=table,
            streams_client=dynamodb_local.streams_client(),
            dynamodb_client=client,
            checkpoints=CheckpointStore(tmp_path / "checkpoints.json"),
            failures=failures,
            queue_name=QUEUE,
            retry_backoff_s=0.0,
            log=lambda _: None,
        )
        made.append((poller, runtime))
        for _ in range(100):  # a pass that reads nothing with nothing pending: done
            if not poller.poll_once() and not poller.backlog():
                break
        else:
            pytest.fail("the mapping still had work after 100 passes")
        return table, _records(log), failures.read(QUEUE)

    yield go
    for poller, runtime in made:
        poller.stop(timeout_s=5)
        runtime.shutdown()


def _item(pk: str, key: str = "pk", **attributes: Any) -> dict[str, Any]:
    return {"Item": {key: {"S": pk}, **attributes}}


def test_a_new_image_record_has_the_recorded_keys_and_types(run):
    (recorded,) = capture("localstack-dynamodb-stream-event.json")["event_logs"][0]["Records"]
    # The recorded table's key and item, written the same way
    written = _item("hello world", key="my_partition_key", binary_key={"B": b"foobar"})
    table, (record,), _ = run("record", "NEW_IMAGE", [written], key="my_partition_key")
    assert shape_differences(record, recorded) == []
    assert list(record) == list(recorded)  # the order Lambda writes them in, as recorded
    assert record["dynamodb"]["NewImage"] == recorded["dynamodb"]["NewImage"]
    assert record["dynamodb"]["SizeBytes"] == recorded["dynamodb"]["SizeBytes"]
    assert (record["eventVersion"], record["eventSource"]) == (
        recorded["eventVersion"],
        recorded["eventSource"],
    )
    arn = STREAM_ARN.fullmatch(record["eventSourceARN"])
    assert arn is not None
    assert arn["table"] == table


def test_new_and_old_image_records_have_the_keys_of_aws_samples_per_event_name(run):
    samples = capture("sam-cli-dynamodb-DynamoDBUpdate.json")["Records"]
    writes = [
        _item("101", Message={"S": "New item!"}),
        _item("101", Message={"S": "changed"}),
        {"Key": {"pk": {"S": "101"}}},
    ]
    _, records, _ = run("record", "NEW_AND_OLD_IMAGES", writes)
    assert (
        [r["eventName"] for r in records]
        == [s["eventName"] for s in samples]
        == ["INSERT", "MODIFY", "REMOVE"]
    )
    for record, sample in zip(records, samples, strict=True):
        assert set(record) == set(sample)
        assert set(record["dynamodb"]) == set(sample["dynamodb"])
        assert shape_differences(record["dynamodb"]["Keys"], {"pk": {"S": "<key>"}}) == []


def test_approximate_creation_date_time_is_whole_epoch_seconds_as_in_aws_samples(run):
    _, (record,), _ = run("record", "NEW_IMAGE", [_item("k")])
    created = record["dynamodb"]["ApproximateCreationDateTime"]
    for sample in ("aws-lambda-go-dynamodb-event.json", "powertools-dynamoStreamEvent.json"):
        recorded = capture(sample)["Records"][0]["dynamodb"]["ApproximateCreationDateTime"]
        assert json_type(created) == json_type(recorded) == "number"
        assert len(str(int(created))) == len(str(int(recorded))) == 10  # seconds, not milliseconds
    assert created == int(created)  # rounded down to the second, as DynamoDB Streams does
    # The ARN pattern the other tests hold ours to is the one of AWS's sample.
    assert STREAM_ARN.fullmatch(capture("aws-lambda-go-dynamodb-event.json")["Records"][0]["eventSourceARN"])


@pytest.mark.parametrize(
    ("handler", "mapping", "recording"),
    [
        ("fail_on_poison", {}, "test_dynamodb_event_source_mapping_with_on_failure_destination_config"),
        ("report_failures", {"report_batch_item_failures": True}, "test_dynamodb_report_batch_item_failures"),
    ],
    ids=["function error", "reported item failure"],
)
def test_an_on_failure_message_has_the_recorded_shape(run, handler, mapping, recording):
    recorded = capture("localstack-dynamodb-on-failure.json")[recording]["destination_queue_messages"]
    recorded_body = recorded["Messages"][0]["Body"]
    poisoned = _item("k", poison={"BOOL": True}, fail_times={"N": "9"})
    table, _, (message,) = run(handler, "NEW_IMAGE", [poisoned], **mapping)
    assert shape_differences(message, recorded_body) == []
    assert list(message) == list(recorded_body)
    assert list(message["DDBStreamBatchInfo"]) == list(recorded_body["DDBStreamBatchInfo"])
    assert message["responseContext"] == recorded_body["responseContext"]  # "Unhandled", or null
    assert message["requestContext"]["condition"] == recorded_body["requestContext"]["condition"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", message["timestamp"])
    info = message["DDBStreamBatchInfo"]
    for key in ("approximateArrivalOfFirstRecord", "approximateArrivalOfLastRecord"):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", info[key])
    arn = STREAM_ARN.fullmatch(info["streamArn"])
    assert arn is not None
    assert arn["table"] == table
