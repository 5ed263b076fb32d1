"""Read DynamoDB Local's real stream and hand the records to the processor in Lambda's shape."""

from __future__ import annotations

from datetime import datetime
from typing import Any

# The processor's event source mapping filter (infrastructure contract).
READINGS_FILTER = {"dynamodb": {"NewImage": {"type": {"S": ["READINGS"]}}}}


class StreamReader:
    """Every record written since the last read, in stream order, across all shards.

    DynamoDB Local's records lack ``eventSourceARN`` (Lambda adds the stream's ARN) and boto3 parses
    ``ApproximateCreationDateTime`` into a datetime (Lambda sends epoch seconds): both are put right."""

    PAGE = 1000

    def __init__(self, streams_client: Any, stream_arn: str) -> None:
        self.client = streams_client
        self.arn = stream_arn
        self.iterators: dict[str, str | None] = {}

    def read(self) -> list[dict[str, Any]]:
        if not self.iterators or None in self.iterators.values():
            self._discover_shards()
        records: list[dict[str, Any]] = []
        for shard_id, start in self.iterators.items():
            iterator = start
            while iterator:
                response = self.client.get_records(ShardIterator=iterator, Limit=self.PAGE)
                records.extend(response["Records"])
                iterator = response.get("NextShardIterator")
                if len(response["Records"]) < self.PAGE:  # DynamoDB Local returns everything it has
                    break
            self.iterators[shard_id] = iterator
        return [self._lambda_shape(record) for record in records]

    def _discover_shards(self) -> None:
        """Shards are listed once, and again only when one has closed (a closed shard ends its iterator)."""
        for shard in self.client.describe_stream(StreamArn=self.arn)["StreamDescription"]["Shards"]:
            if shard["ShardId"] not in self.iterators:
                self.iterators[shard["ShardId"]] = self.client.get_shard_iterator(
                    StreamArn=self.arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]

    def _lambda_shape(self, record: dict[str, Any]) -> dict[str, Any]:
        shaped = {**record, "eventSourceARN": self.arn, "dynamodb": dict(record["dynamodb"])}
        created = shaped["dynamodb"].get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            shaped["dynamodb"]["ApproximateCreationDateTime"] = int(created.timestamp())
        return shaped


def matches_filter(record: dict[str, Any]) -> bool:
    """What the event source mapping lets through: NewImage.type == "READINGS"."""
    new_image = record.get("dynamodb", {}).get("NewImage") or {}
    return new_image.get("type") == {"S": "READINGS"}


def event(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Records": records}
