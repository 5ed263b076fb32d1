"""Read a table's stream from DynamoDB Local and deliver the records to a handler in the
shape Lambda's event source mapping gives them: batches of ``{"Records": [...]}``, each
record with its ``eventSourceARN`` (DynamoDB Local leaves it out) and the creation time as
epoch seconds, after applying the mapping's filter criteria."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tests.events import lambda_context

if TYPE_CHECKING:
    from mypy_boto3_dynamodbstreams import DynamoDBStreamsClient

# The payment processor's filter, as the orders stack declares it.
ORDERS_ONLY = {"dynamodb": {"NewImage": {"type": {"S": ["ORDER"]}}}}


def matches(pattern: Mapping[str, Any], value: Any) -> bool:
    """Lambda event filtering for the equality patterns we use: every key in ``pattern`` must be
    present; a list leaf lists the accepted values."""
    if not isinstance(value, Mapping):
        return False
    for key, expected in pattern.items():
        if key not in value:
            return False
        if isinstance(expected, Mapping):
            if not matches(expected, value[key]):
                return False
        elif value[key] not in expected:
            return False
    return True


class StreamReader:
    """Reads every shard of one table's stream, remembering how far it got in each, so each
    call returns only records it has not returned before."""

    def __init__(self, streams: DynamoDBStreamsClient, stream_arn: str) -> None:
        self.streams = streams
        self.stream_arn = stream_arn
        self.positions: dict[str, str] = {}  # shard id -> last sequence number read

    def read(self) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        for shard_id in self._shards():
            last = self.positions.get(shard_id)
            position: dict[str, str] = (
                {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": last}
                if last
                else {"ShardIteratorType": "TRIM_HORIZON"}
            )
            iterator = self.streams.get_shard_iterator(
                StreamArn=self.stream_arn,
                ShardId=shard_id,
                **position,
            ).get("ShardIterator")
            while iterator:
                page = self.streams.get_records(ShardIterator=iterator, Limit=1000)
                if not page["Records"]:
                    break
                for record in page["Records"]:
                    records.append(self._lambda_shape(record))
                    self.positions[shard_id] = record["dynamodb"]["SequenceNumber"]
                iterator = page.get("NextShardIterator")
        return records

    def _shards(self) -> list[str]:
        shards: list[str] = []
        kwargs: dict[str, Any] = {"StreamArn": self.stream_arn}
        while True:
            description = self.streams.describe_stream(**kwargs)["StreamDescription"]
            shards += [shard["ShardId"] for shard in description.get("Shards", [])]
            last = description.get("LastEvaluatedShardId")
            if not last:
                return shards
            kwargs["ExclusiveStartShardId"] = last

    def _lambda_shape(self, record: Any) -> dict[str, Any]:
        shaped = dict(record)
        shaped["eventSourceARN"] = self.stream_arn
        dynamodb = dict(record["dynamodb"])
        created = dynamodb.get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            dynamodb["ApproximateCreationDateTime"] = int(created.timestamp())
        shaped["dynamodb"] = dynamodb
        return shaped


LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


def deliver(
    handler: LambdaHandler,
    records: Sequence[dict[str, Any]],
    *,
    batch_size: int = 50,
    filter_pattern: Mapping[str, Any] | None = None,
) -> list[str]:
    """Invoke ``handler`` with the records in batches; returns the failed sequence numbers."""
    selected = [r for r in records if filter_pattern is None or matches(filter_pattern, r)]
    failed: list[str] = []
    for start in range(0, len(selected), batch_size):
        response = handler({"Records": list(selected[start : start + batch_size])}, lambda_context())
        failed += [failure["itemIdentifier"] for failure in response.get("batchItemFailures", [])]
    return failed
