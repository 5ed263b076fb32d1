"""Stream records in the shape Lambda passes them to the function, and what the poller keeps of
them while they wait: records read, the batches made of them and the shards they came from."""

from __future__ import annotations

import base64
import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from local_runtime.assembly import ACCOUNT, REGION


def _json_safe(value: Any) -> Any:
    """boto3 decodes B/BS attributes to bytes; Lambda delivers them base64-encoded."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | set | tuple):
        return [_json_safe(item) for item in value]
    return value


def aws_stream_arn(local_arn: str) -> str:
    """A stream's ARN as AWS writes it, in the runtime's region and account (the stacks are
    environment-agnostic): DynamoDB Local's own says ``ddblocal`` and ``000000000000``. The
    ``table/<name>/stream/<label>`` part, its label a creation time like ``2026-12-07T21:13:40.123``,
    is DynamoDB Local's as it is."""
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:{local_arn.split(':', 5)[5]}"


def lambda_record(raw: Mapping[str, Any], stream_arn: str) -> dict[str, Any]:
    """A stream record as GetRecords returns it (``stream_arn`` as DynamoDB Local names the stream), in
    the shape Lambda passes to the function."""
    dynamodb = _json_safe(dict(raw["dynamodb"]))
    created = raw["dynamodb"].get("ApproximateCreationDateTime")
    # Epoch seconds as a JSON number, rounded down to the second as DynamoDB Streams rounds it.
    if isinstance(created, datetime):
        dynamodb["ApproximateCreationDateTime"] = float(math.floor(created.timestamp()))
    elif created is not None:
        dynamodb["ApproximateCreationDateTime"] = float(math.floor(float(created)))
    record: dict[str, Any] = {
        "eventID": raw["eventID"],
        "eventName": raw["eventName"],
        "eventVersion": raw.get("eventVersion", "1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": REGION,
        "dynamodb": dynamodb,
        "eventSourceARN": aws_stream_arn(stream_arn),
    }
    if "userIdentity" in raw:  # TTL deletions
        record["userIdentity"] = _json_safe(dict(raw["userIdentity"]))
    return record


def arrival(created: float, read_wall: float) -> float:
    """When a record was written, for MaximumRecordAgeInSeconds. DynamoDB Local truncates
    ApproximateCreationDateTime to the minute; a record read now was written no later than now,
    so a whole-minute value is taken as late as both bounds allow rather than up to 59 s early."""
    if created % 60 == 0:
        return min(created + 59.999, read_wall)
    return created


@dataclass
class Record:
    event: dict[str, Any]
    sequence: str
    matched: bool
    size: int
    read_at: float  # monotonic, for the batching window
    arrival: float  # epoch seconds, for MaximumRecordAgeInSeconds

    @property
    def created(self) -> float:
        return float(self.event["dynamodb"].get("ApproximateCreationDateTime", self.arrival))


@dataclass
class Batch:
    records: list[Record]
    checkpoint: str  # the sequence number to checkpoint once this batch is done (covers filtered ones)
    retries: int = 0
    invokes: int = 0
    next_attempt: float = 0.0
    last_request_id: str | None = None
    last_function_error: bool = False


@dataclass
class Shard:
    shard_id: str
    parent_id: str | None
    closed: bool
    found_later: bool  # appeared after the mapping started: read from its beginning
    iterator: str | None = None
    trimmed: bool = False  # the checkpoint fell out of the stream's retention
    exhausted: bool = False  # read to the end of a closed shard
    last_read: str | None = None
    buffer: list[Record] = field(default_factory=list)
    pending: deque[Batch] = field(default_factory=deque)

    @property
    def done(self) -> bool:
        return self.exhausted and not self.buffer and not self.pending


def span(records: list[Record]) -> dict[str, str]:
    return {"first": records[0].sequence, "last": records[-1].sequence}
