"""DynamoDB Streams → Lambda event source mappings against DynamoDB Local's real stream, with the
fixture functions run by the real FunctionRuntime (isolated worker processes, enforced timeouts)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser.models.dynamodb import (
    DynamoDBStreamLambdaOnFailureDestinationModel,
)
from botocore.exceptions import ClientError

from local_runtime.assembly import FunctionSpec, MappingSpec
from local_runtime.dynamodb_local import DynamoDBLocal
from local_runtime.functions import FunctionRuntime, Invocation
from local_runtime.stream_stores import CheckpointStore, OnFailureStore
from local_runtime.streams import StreamPoller

FIXTURES = (Path(__file__).parent / "fixture_functions").resolve()
QUEUE = "test-StreamDeadLetters"
ORDERS_FILTER = json.dumps({"dynamodb": {"NewImage": {"type": {"S": ["ORDER"]}}}})

MAPPING = MappingSpec(
    stack="test",
    logical_id="ConsumerStream",
    function="test/Consumer",
    table="test/Table",
    batch_size=10,
    batching_window_s=0.0,
    starting_position="TRIM_HORIZON",
    filters=(),
    maximum_retry_attempts=2,
    maximum_record_age_s=-1,
    bisect_on_error=False,
    report_batch_item_failures=False,
    on_failure_queue="test/StreamDeadLetters",
)


@dataclass
class Mapped:
    """A table with a stream, a consumer function and the poller between them."""

    db: DynamoDBLocal
    table: str
    poller: StreamPoller
    runtime: FunctionRuntime
    fixture_log: Path
    checkpoints: CheckpointStore
    failures: OnFailureStore
    lines: list[dict[str, Any]] = field(default_factory=list)

    @property
    def stream_arn(self) -> str:
        return str(self.db.client().describe_table(TableName=self.table)["Table"]["LatestStreamArn"])

    @property
    def lambda_stream_arn(self) -> str:
        """The stream's ARN as Lambda names it: the runtime's region and account, DynamoDB Local's label."""
        label = self.stream_arn.rsplit("/", 1)[1]
        return f"arn:aws:dynamodb:us-east-1:123456789012:table/{self.table}/stream/{label}"

    def put(self, pk: str, **attributes: dict[str, Any]) -> None:
        self.db.client().put_item(TableName=self.table, Item={"pk": {"S": pk}, **attributes})

    def deliveries(self) -> list[list[dict[str, Any]]]:
        if not self.fixture_log.exists():
            return []
        return [json.loads(line)["records"] for line in self.fixture_log.read_text().splitlines()]

    def keys(self, batch: list[dict[str, Any]]) -> list[str]:
        return [r["dynamodb"]["Keys"]["pk"]["S"] for r in batch]

    def sequences(self) -> dict[str, str]:
        """pk -> sequence number of its (first) stream record, read straight from the stream."""
        streams = self.db.streams_client()
        shard = streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"][0][
            "ShardId"
        ]
        iterator = streams.get_shard_iterator(
            StreamArn=self.stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
        )
        found: dict[str, str] = {}
        for raw in streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]:
            found.setdefault(raw["dynamodb"]["Keys"]["pk"]["S"], raw["dynamodb"]["SequenceNumber"])
        return found

    def dead_letters(self) -> list[dict[str, Any]]:
        return self.failures.read(QUEUE)

    def drain(self, timeout_s: float = 15.0) -> int:
        """Poll until a pass makes no progress and nothing waits for a retry or a window."""
        deadline = time.monotonic() + timeout_s
        total = 0
        while True:
            progressed = self.poller.poll_once()
            total += progressed
            if not progressed and not self.poller.backlog():
                return total
            assert time.monotonic() < deadline, f"stream not drained in {timeout_s}s"
            if not progressed:
                time.sleep(0.02)


@pytest.fixture
def mapped(dynamodb_local: DynamoDBLocal, tmp_path: Path) -> Iterator[Callable[..., Mapped]]:
    made: list[Mapped] = []

    def make(
        handler: str = "record",
        *,
        timeout_s: float = 3.0,
        table: str | None = None,
        checkpoints: CheckpointStore | None = None,
        retry_backoff_s: float = 0.0,
        poll_interval_s: float = 0.25,
        **mapping: Any,
    ) -> Mapped:
        client = dynamodb_local.client()
        if table is None:
            table = f"esm-{uuid.uuid4().hex[:10]}"
            client.create_table(
                TableName=table,
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
                StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
            )
        fixture_log = tmp_path / f"deliveries-{len(made)}.jsonl"
        spec = FunctionSpec(
            stack="test",
            logical_id="Consumer",
            name="test-Consumer",
            handler=f"stream_consumers.{handler}",
            code_dir=FIXTURES,
            layer_paths=(),
            environment={"FIXTURE_LOG": str(fixture_log)},
            memory_mb=128,
            timeout_s=timeout_s,
        )
        runtime = FunctionRuntime(spec, {}, log=lambda _name, _line: None)
        lines: list[dict[str, Any]] = []
        checkpoints = checkpoints or CheckpointStore(tmp_path / "checkpoints.json")
        failures = OnFailureStore(tmp_path / "dead-letters")
        poller = StreamPoller(
            replace(MAPPING, **mapping),
            runtime,
            table_name=table,
            streams_client=dynamodb_local.streams_client(),
            dynamodb_client=client,
            checkpoints=checkpoints,
            failures=failures,
            queue_name=QUEUE,
            poll_interval_s=poll_interval_s,
            retry_backoff_s=retry_backoff_s,
            log=lambda line: lines.append(json.loads(line)),
        )
        made.append(Mapped(dynamodb_local, table, poller, runtime, fixture_log, checkpoints, failures, lines))
        return made[-1]

    yield make
    for m in made:
        m.poller.stop(timeout_s=5)
        m.runtime.shutdown()


def assert_aws_failure_record(message: dict[str, Any], m: Mapped) -> None:
    """The body Lambda sends to an SQS on-failure destination for a DynamoDB stream batch."""
    DynamoDBStreamLambdaOnFailureDestinationModel.model_validate(message)  # Powertools' model of it
    assert list(message) == [
        "requestContext",
        "responseContext",
        "version",
        "timestamp",
        "DDBStreamBatchInfo",
    ]
    assert list(message["requestContext"]) == [
        "requestId",
        "functionArn",
        "condition",
        "approximateInvokeCount",
    ]
    assert message["requestContext"]["functionArn"] == m.runtime.spec.arn
    assert message["responseContext"]["statusCode"] == 200
    assert message["responseContext"]["executedVersion"] == "$LATEST"
    assert message["version"] == "1.0"
    assert message["timestamp"].endswith("Z")
    info = message["DDBStreamBatchInfo"]
    assert list(info) == [
        "shardId",
        "startSequenceNumber",
        "endSequenceNumber",
        "approximateArrivalOfFirstRecord",
        "approximateArrivalOfLastRecord",
        "batchSize",
        "streamArn",
    ]
    assert info["streamArn"] == m.lambda_stream_arn
    assert info["shardId"].startswith("shardId-")


# -- shape, batching, order ---------------------------------------------------------------------


def test_records_reach_the_function_in_lambdas_shape(mapped: Callable[..., Mapped]) -> None:
    m = mapped()
    m.put("k1", blob={"B": b"\x00\x01\x02"}, n={"N": "7"})
    m.db.client().update_item(
        TableName=m.table,
        Key={"pk": {"S": "k1"}},
        UpdateExpression="SET n = :n",
        ExpressionAttributeValues={":n": {"N": "8"}},
    )
    m.db.client().delete_item(TableName=m.table, Key={"pk": {"S": "k1"}})
    assert m.drain() == 3

    (batch,) = m.deliveries()
    assert [r["eventName"] for r in batch] == ["INSERT", "MODIFY", "REMOVE"]
    for r in batch:
        assert list(r) == [
            "eventID",
            "eventName",
            "eventVersion",
            "eventSource",
            "awsRegion",
            "dynamodb",
            "eventSourceARN",
        ]
        assert r["eventSource"] == "aws:dynamodb"
        assert r["awsRegion"] == "us-east-1"
        assert r["eventVersion"] == "1.1"
        assert r["eventSourceARN"] == m.lambda_stream_arn  # DynamoDB Local leaves it out; Lambda adds it
        assert isinstance(r["eventID"], str)
        assert r["eventID"]
        ddb = r["dynamodb"]
        assert isinstance(ddb["ApproximateCreationDateTime"], float)  # epoch seconds, not a datetime
        assert abs(ddb["ApproximateCreationDateTime"] - time.time()) < 120
        assert ddb["Keys"] == {"pk": {"S": "k1"}}
        assert isinstance(ddb["SizeBytes"], int)
        assert ddb["StreamViewType"] == "NEW_AND_OLD_IMAGES"
        assert ddb["SequenceNumber"].isdigit()
    insert, modify, remove = (r["dynamodb"] for r in batch)
    assert list(insert) == [
        "ApproximateCreationDateTime",
        "Keys",
        "NewImage",
        "SequenceNumber",
        "SizeBytes",
        "StreamViewType",
    ]
    assert insert["NewImage"] == {
        "pk": {"S": "k1"},
        "blob": {"B": "AAEC"},
        "n": {"N": "7"},
    }  # binary as base64
    assert modify["OldImage"]["n"] == {"N": "7"}
    assert modify["NewImage"]["n"] == {"N": "8"}
    assert "NewImage" not in remove
    assert remove["OldImage"]["pk"] == {"S": "k1"}

    (outcome,) = [line for line in m.lines if line["outcome"] == "success"]
    assert outcome["type"] == "esm.batch"
    assert outcome["mapping"] == "test/ConsumerStream"
    assert outcome["shard"].startswith("shardId-")
    assert outcome["batchSize"] == 3


def test_batch_size_and_per_shard_order_across_batches(mapped: Callable[..., Mapped]) -> None:
    m = mapped(batch_size=4)
    written = [f"k{i:02d}" for i in range(10)]
    for pk in written:
        m.put(pk)
    assert m.drain() == 10

    batches = m.deliveries()
    assert [len(b) for b in batches] == [4, 4, 2]
    delivered = [r for b in batches for r in b]
    assert m.keys(delivered) == written
    sequences = [int(r["dynamodb"]["SequenceNumber"]) for r in delivered]
    assert sequences == sorted(sequences)
    assert len(set(sequences)) == 10
    assert m.runtime.invocations == 3


def test_batching_window_waits_to_fill_a_batch(mapped: Callable[..., Mapped]) -> None:
    m = mapped(batch_size=5, batching_window_s=0.6)
    m.put("a")
    m.put("b")
    first_read = time.monotonic()
    assert m.poller.poll_once() == 0
    m.put("c")
    assert m.poller.poll_once() == 0
    assert m.deliveries() == []  # still inside the window, batch not full
    time.sleep(max(0.0, 0.65 - (time.monotonic() - first_read)))
    assert m.poller.poll_once() == 3
    assert [m.keys(b) for b in m.deliveries()] == [["a", "b", "c"]]

    for pk in "defghij":  # a full batch does not wait for the window
        m.put(pk)
    assert m.poller.poll_once() == 5
    assert [m.keys(b) for b in m.deliveries()][1] == ["d", "e", "f", "g", "h"]


def test_latest_starting_position_skips_what_was_there(mapped: Callable[..., Mapped]) -> None:
    m = mapped(starting_position="LATEST")
    m.put("before-1")
    m.put("before-2")
    assert m.poller.poll_once() == 0  # positions the shard iterator at the tip
    m.put("after")
    assert m.drain() == 1
    assert [m.keys(b) for b in m.deliveries()] == [["after"]]


# -- filtering ----------------------------------------------------------------------------------


def test_filter_criteria_drop_non_matching_records_without_invoking(mapped: Callable[..., Mapped]) -> None:
    m = mapped(filters=(ORDERS_FILTER,))
    m.put("p1", type={"S": "PAYMENT"})
    m.put("p2", type={"S": "PAYMENT"})
    assert m.drain() == 2  # got past them ...
    assert m.runtime.invocations == 0  # ... without invoking anything
    assert m.deliveries() == []
    sequences = m.sequences()
    assert m.checkpoints.shards("test/ConsumerStream").popitem()[1] == sequences["p2"]

    m.put("o1", type={"S": "ORDER"})
    m.put("p3", type={"S": "PAYMENT"})
    m.put("o2", type={"S": "ORDER"})
    m.db.client().delete_item(TableName=m.table, Key={"pk": {"S": "o1"}})  # REMOVE: no NewImage
    assert m.drain() == 4
    assert [m.keys(b) for b in m.deliveries()] == [["o1", "o2"]]
    assert all(r["eventName"] == "INSERT" for r in m.deliveries()[0])
    assert m.runtime.invocations == 1
    assert m.poller.stats["filtered"] == 4


# -- failures -----------------------------------------------------------------------------------


def test_partial_batch_failure_retries_from_the_lowest_failed_record(mapped: Callable[..., Mapped]) -> None:
    m = mapped(
        "report_failures", report_batch_item_failures=True, maximum_retry_attempts=3, retry_backoff_s=0.3
    )
    for i in range(6):
        m.put(f"r{i}", **({"fail_times": {"N": "1"}} if i in (2, 4) else {}))
    sequences = m.sequences()

    assert m.poller.poll_once() == 2  # r0 and r1 succeeded; r2..r5 wait for the retry
    assert (
        m.checkpoints.get("test/ConsumerStream", m.checkpoints.shards("test/ConsumerStream").popitem()[0])
        == sequences["r1"]
    )
    assert m.poller.backlog() == 4
    m.drain()

    first, second = m.deliveries()
    assert m.keys(first) == ["r0", "r1", "r2", "r3", "r4", "r5"]
    assert m.keys(second) == [
        "r2",
        "r3",
        "r4",
        "r5",
    ]  # from the lowest failed (r2), not r4; r0, r1 never again
    assert second[0]["dynamodb"]["SequenceNumber"] == sequences["r2"]
    assert m.dead_letters() == []
    assert m.checkpoints.shards("test/ConsumerStream").popitem()[1] == sequences["r5"]
    assert [line["outcome"] for line in m.lines] == ["partial", "retry-scheduled", "success"]


def test_an_identifier_not_in_the_batch_fails_the_whole_batch(mapped: Callable[..., Mapped]) -> None:
    m = mapped("bad_identifier_first", report_batch_item_failures=True)
    for pk in ("a", "b", "c"):
        m.put(pk)
    m.drain()
    assert [m.keys(b) for b in m.deliveries()] == [["a", "b", "c"], ["a", "b", "c"]]
    assert m.dead_letters() == []


def test_bisect_isolates_a_poison_record_in_the_failure_store(mapped: Callable[..., Mapped]) -> None:
    m = mapped("fail_on_poison", batch_size=8, bisect_on_error=True, maximum_retry_attempts=1)
    for i in range(8):
        m.put(f"r{i}", **({"poison": {"S": "yes"}} if i == 5 else {}))
    sequences = m.sequences()
    m.drain()

    batches = [m.keys(b) for b in m.deliveries()]
    assert batches == [
        ["r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7"],  # fails
        ["r0", "r1", "r2", "r3"],  # ok
        ["r4", "r5", "r6", "r7"],  # fails
        ["r4", "r5"],  # fails
        ["r4"],  # ok
        ["r5"],  # fails
        ["r5"],  # the one retry fails: to the failure store
        ["r6", "r7"],  # ok: the shard went on
    ]
    succeeded = {pk for batch in batches if "r5" not in batch for pk in batch}
    assert succeeded == {f"r{i}" for i in range(8)} - {"r5"}

    (message,) = m.dead_letters()
    assert_aws_failure_record(message, m)
    assert message["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert message["requestContext"]["approximateInvokeCount"] == 5
    assert message["responseContext"]["functionError"] == "Unhandled"
    info = message["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == sequences["r5"]
    assert m.checkpoints.shards("test/ConsumerStream").popitem()[1] == sequences["r7"]

    m.put("later")
    m.drain()
    assert m.keys(m.deliveries()[-1]) == ["later"]


def test_exhausted_retries_without_bisect_send_the_whole_batch_and_move_on(
    mapped: Callable[..., Mapped],
) -> None:
    m = mapped("fail_on_poison", batch_size=3, maximum_retry_attempts=2)
    for pk in ("r0", "r1", "bad", "r3", "r4"):
        m.put(pk, **({"poison": {"S": "yes"}} if pk == "bad" else {}))
    sequences = m.sequences()
    assert m.drain() == 5

    assert [m.keys(b) for b in m.deliveries()] == [["r0", "r1", "bad"]] * 3 + [["r3", "r4"]]
    (message,) = m.dead_letters()
    assert_aws_failure_record(message, m)
    assert message["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert message["requestContext"]["approximateInvokeCount"] == 3  # the invoke and two retries
    info = message["DDBStreamBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (
        sequences["r0"],
        sequences["bad"],
        3,
    )
    # The store is durable: a new instance over the same directory reads the same message.
    assert OnFailureStore(m.failures.directory).read_all() == {QUEUE: [message]}


def test_partial_failures_exhausted_send_only_the_failed_rest(mapped: Callable[..., Mapped]) -> None:
    m = mapped("report_failures", batch_size=3, report_batch_item_failures=True, maximum_retry_attempts=1)
    for i in range(3):
        m.put(f"r{i}", **({"fail_times": {"N": "9"}} if i == 1 else {}))
    sequences = m.sequences()
    m.drain()
    assert [m.keys(b) for b in m.deliveries()] == [["r0", "r1", "r2"], ["r1", "r2"]]
    (message,) = m.dead_letters()
    assert_aws_failure_record(message, m)
    assert message["responseContext"]["functionError"] is None  # the function itself did not fail
    assert message["requestContext"]["approximateInvokeCount"] == 2
    info = message["DDBStreamBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (
        sequences["r1"],
        sequences["r2"],
        2,
    )


def test_a_function_timeout_fails_the_batch(mapped: Callable[..., Mapped]) -> None:
    m = mapped("sleep_on_flag", timeout_s=0.5, batch_size=1, maximum_retry_attempts=0)
    m.put("slow", sleep={"N": "3"})
    m.put("fast")
    started = time.monotonic()
    m.drain()
    assert time.monotonic() - started < 3  # killed at the function's timeout, not after its sleep
    assert [m.keys(b) for b in m.deliveries()] == [["slow"], ["fast"]]
    (message,) = m.dead_letters()
    assert_aws_failure_record(message, m)
    assert message["responseContext"]["functionError"] == "Unhandled"
    assert message["requestContext"]["approximateInvokeCount"] == 1
    assert any(line.get("error") == "Sandbox.Timedout" for line in m.lines)


def test_records_older_than_the_maximum_age_go_to_the_failure_store(mapped: Callable[..., Mapped]) -> None:
    m = mapped("fail_on_poison", maximum_retry_attempts=-1, maximum_record_age_s=1, retry_backoff_s=0.2)
    m.put("bad", poison={"S": "yes"})
    m.drain()
    (message,) = m.dead_letters()
    assert_aws_failure_record(message, m)
    assert message["requestContext"]["condition"] == "MaximumRecordAgeExceeded"
    assert message["requestContext"]["approximateInvokeCount"] >= 2  # retried until it was too old
    m.put("good")
    m.drain()
    assert m.keys(m.deliveries()[-1]) == ["good"]


# -- restarts and the thread --------------------------------------------------------------------


def test_a_restarted_poller_resumes_after_its_checkpoint(
    mapped: Callable[..., Mapped], tmp_path: Path
) -> None:
    first = mapped()
    for i in range(4):
        first.put(f"k{i}")
    first.drain()
    first.runtime.shutdown()
    assert [first.keys(b) for b in first.deliveries()] == [["k0", "k1", "k2", "k3"]]

    saved = json.loads((tmp_path / "checkpoints.json").read_text())
    assert list(saved) == ["test/ConsumerStream"]
    assert list(saved["test/ConsumerStream"].values()) == [first.sequences()["k3"]]
    assert not list(tmp_path.glob(".checkpoints.json*"))  # no temporary file left behind

    again = mapped(table=first.table, checkpoints=CheckpointStore(tmp_path / "checkpoints.json"))
    assert again.drain() == 0
    again.put("k4")
    again.put("k5")
    again.drain()
    assert [again.keys(b) for b in again.deliveries()] == [["k4", "k5"]]

    # Without the checkpoint, TRIM_HORIZON would have delivered everything again.
    fresh = mapped(table=first.table, checkpoints=CheckpointStore(tmp_path / "elsewhere.json"))
    fresh.drain()
    assert [fresh.keys(b) for b in fresh.deliveries()] == [["k0", "k1", "k2", "k3", "k4", "k5"]]


def test_the_polling_thread_delivers_and_stops_promptly(mapped: Callable[..., Mapped]) -> None:
    m = mapped(poll_interval_s=0.05)
    m.poller.start()
    assert m.poller.running
    for pk in ("a", "b", "c"):
        m.put(pk)
    deadline = time.monotonic() + 5
    while sum(len(b) for b in m.deliveries()) < 3:
        assert time.monotonic() < deadline, "the thread delivered nothing"
        time.sleep(0.05)
    delivered = len(m.deliveries())
    started = time.monotonic()
    assert m.poller.stop()
    assert time.monotonic() - started < 1.0
    assert not m.poller.running
    m.put("d")  # stopped: nothing polls until it is driven again
    time.sleep(0.2)
    assert len(m.deliveries()) == delivered
    assert m.drain() == 1
    assert [r for b in m.deliveries() for r in m.keys(b)] == ["a", "b", "c", "d"]


# -- shards (a scripted stream: DynamoDB Local keeps one shard per stream) ----------------------


ARN = "arn:aws:dynamodb:ddblocal:000000000000:table/scripted/stream/2026-01-01T00:00:00.000"


class ScriptedStreams:
    """DescribeStream/GetShardIterator/GetRecords over shards the test lays out."""

    def __init__(self) -> None:
        self.shards: dict[str, dict[str, Any]] = {}
        self.sequence = 0

    def add_shard(self, shard_id: str, parent: str | None = None) -> None:
        self.shards[shard_id] = {"parent": parent, "records": [], "closed": False}

    def write(self, shard_id: str, pk: str) -> None:
        self.sequence += 1
        self.shards[shard_id]["records"].append(
            {
                "eventID": uuid.uuid4().hex,
                "eventName": "INSERT",
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": "ddblocal",
                "dynamodb": {
                    "ApproximateCreationDateTime": datetime.now(UTC),
                    "Keys": {"pk": {"S": pk}},
                    "NewImage": {"pk": {"S": pk}},
                    "SequenceNumber": f"{self.sequence:021d}",
                    "SizeBytes": 10,
                    "StreamViewType": "NEW_AND_OLD_IMAGES",
                },
            }
        )

    def describe_stream(self, StreamArn: str, **_: Any) -> dict[str, Any]:
        shards = []
        for shard_id, shard in self.shards.items():
            numbers = [r["dynamodb"]["SequenceNumber"] for r in shard["records"]] or ["0"]
            described: dict[str, Any] = {
                "ShardId": shard_id,
                "SequenceNumberRange": {"StartingSequenceNumber": numbers[0]},
            }
            if shard["closed"]:
                described["SequenceNumberRange"]["EndingSequenceNumber"] = numbers[-1]
            if shard["parent"]:
                described["ParentShardId"] = shard["parent"]
            shards.append(described)
        return {"StreamDescription": {"StreamArn": StreamArn, "StreamStatus": "ENABLED", "Shards": shards}}

    def get_shard_iterator(
        self, StreamArn: str, ShardId: str, ShardIteratorType: str, SequenceNumber: str = ""
    ) -> dict[str, str]:
        records = self.shards[ShardId]["records"]
        position = {
            "TRIM_HORIZON": 0,
            "LATEST": len(records),
            "AFTER_SEQUENCE_NUMBER": sum(
                1 for r in records if int(r["dynamodb"]["SequenceNumber"]) <= int(SequenceNumber or 0)
            ),
        }[ShardIteratorType]
        return {"ShardIterator": f"{ShardId}|{position}"}

    def get_records(self, ShardIterator: str, Limit: int) -> dict[str, Any]:
        shard_id, position = ShardIterator.split("|")
        shard = self.shards[shard_id]
        records = shard["records"][int(position) : int(position) + Limit]
        end = int(position) + len(records)
        done = shard["closed"] and end >= len(shard["records"])
        return {"Records": records, **({} if done else {"NextShardIterator": f"{shard_id}|{end}"})}


class ScriptedTable:
    def describe_table(self, TableName: str) -> dict[str, Any]:
        return {"Table": {"LatestStreamArn": ARN, "StreamSpecification": {"StreamEnabled": True}}}


class RecordingFunction:
    """Stands in for a FunctionRuntime; fails any batch holding a key in ``failing``."""

    def __init__(self, failing: set[str] | None = None) -> None:
        self.spec = FunctionSpec("test", "Consumer", "test-Consumer", "x.y", Path(), (), {})
        self.failing = failing or set()
        self.batches: list[list[str]] = []
        self.metrics = None  # publishes nothing

    def invoke(self, event: dict[str, Any], *, timeout_s: float | None = None) -> Invocation:
        keys = [r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"]]
        self.batches.append(keys)
        error = {"errorType": "RuntimeError", "errorMessage": "no"} if self.failing & set(keys) else None
        return Invocation(str(uuid.uuid4()), error=error)


def scripted_poller(
    streams: ScriptedStreams, function: RecordingFunction, tmp_path: Path, **mapping: Any
) -> StreamPoller:
    return StreamPoller(
        replace(MAPPING, **mapping),
        function,
        table_name="scripted",
        streams_client=streams,
        dynamodb_client=ScriptedTable(),
        checkpoints=CheckpointStore(tmp_path / "checkpoints.json"),
        failures=OnFailureStore(tmp_path / "dead-letters"),
        queue_name=QUEUE,
        log=lambda _line: None,
    )


def test_a_child_shard_is_read_after_its_parent_and_from_its_beginning(tmp_path: Path) -> None:
    streams = ScriptedStreams()
    streams.add_shard("shard-parent")
    streams.add_shard("shard-child", parent="shard-parent")
    streams.write("shard-child", "c1")  # already in the child while the parent is unfinished
    streams.write("shard-parent", "p1")
    function = RecordingFunction()
    poller = scripted_poller(streams, function, tmp_path)
    poller.poll_once()
    assert function.batches == [["p1"]]  # the child waits for its parent
    streams.write("shard-parent", "p2")
    streams.shards["shard-parent"]["closed"] = True
    poller.poll_once()
    poller.poll_once()
    assert function.batches == [["p1"], ["p2"], ["c1"]]

    streams.shards["shard-child"]["closed"] = True  # the child splits later: its child appears
    streams.add_shard("shard-grandchild", parent="shard-child")
    streams.write("shard-grandchild", "g1")
    poller.poll_once()
    poller.poll_once()
    assert function.batches[-1] == ["g1"]


def test_latest_skips_closed_shards_but_reads_new_ones_from_the_start(tmp_path: Path) -> None:
    streams = ScriptedStreams()
    streams.add_shard("shard-old")
    streams.write("shard-old", "old")
    streams.shards["shard-old"]["closed"] = True
    streams.add_shard("shard-open", parent="shard-old")
    streams.write("shard-open", "before-start")
    function = RecordingFunction()
    poller = scripted_poller(streams, function, tmp_path, starting_position="LATEST")
    poller.poll_once()
    assert function.batches == []
    streams.write("shard-open", "after-start")
    streams.shards["shard-open"]["closed"] = True
    streams.add_shard("shard-new", parent="shard-open")
    streams.write("shard-new", "new-1")  # written before the poller saw the shard: still delivered
    for _ in range(3):
        poller.poll_once()
    assert function.batches == [["after-start"], ["new-1"]]


def test_a_failing_shard_does_not_hold_up_the_others(tmp_path: Path) -> None:
    streams = ScriptedStreams()
    streams.add_shard("shard-a")
    streams.add_shard("shard-b")
    streams.write("shard-a", "poison")
    streams.write("shard-b", "b1")
    function = RecordingFunction(failing={"poison"})
    poller = scripted_poller(streams, function, tmp_path, maximum_retry_attempts=-1)
    poller.retry_backoff_s = 60.0  # shard-a waits a long time before its retry
    poller.poll_once()
    streams.write("shard-b", "b2")
    poller.poll_once()
    assert function.batches == [["poison"], ["b1"], ["b2"]]
    assert poller.backlog() == 1


class TrimmingStreams(ScriptedStreams):
    """GetShardIterator refuses a position the stream has trimmed away, as DynamoDB Streams does after 24 hours."""

    def __init__(self, trimmed_below: dict[str, int]) -> None:
        super().__init__()
        self.trimmed_below = trimmed_below

    def get_shard_iterator(
        self, StreamArn: str, ShardId: str, ShardIteratorType: str, SequenceNumber: str = ""
    ) -> dict[str, str]:
        if ShardIteratorType == "AFTER_SEQUENCE_NUMBER" and int(SequenceNumber) < self.trimmed_below.get(
            ShardId, 0
        ):
            error = {"Error": {"Code": "TrimmedDataAccessException", "Message": "trimmed"}}
            raise ClientError(error, "GetShardIterator")
        return super().get_shard_iterator(StreamArn, ShardId, ShardIteratorType, SequenceNumber)

    def get_records(self, ShardIterator: str, Limit: int) -> dict[str, Any]:
        if ShardIterator.startswith("shard-broken"):
            raise RuntimeError("this shard cannot be read")
        return super().get_records(ShardIterator, Limit)


def test_a_checkpoint_the_stream_no_longer_holds_resumes_at_the_trim_horizon(tmp_path: Path) -> None:
    streams = TrimmingStreams(trimmed_below={"shard-a": 1})
    streams.add_shard("shard-a")
    streams.add_shard("shard-broken")
    streams.add_shard("shard-b")
    streams.write("shard-a", "a1")
    streams.write("shard-broken", "x1")
    streams.write("shard-b", "b1")
    CheckpointStore(tmp_path / "checkpoints.json").set(f"test/{MAPPING.logical_id}", "shard-a", "0")
    function = RecordingFunction()
    poller = scripted_poller(streams, function, tmp_path)
    for _ in range(3):
        poller.poll_once()
    assert sorted(function.batches) == [["a1"], ["b1"]]  # and the unreadable shard held up neither
