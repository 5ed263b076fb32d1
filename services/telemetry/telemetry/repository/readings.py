"""Readings: one item per (device, 2-minute bucket) holding every metric's readings in compact form
(telemetry.domain.codec); items of the old layout, one per (device, metric, minute), are still read.
Also the stream's view of a bucket."""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)
from botocore.exceptions import ClientError

from commons.dynamodb import decode_cursor, encode_cursor, is_condition_failure
from commons.errors import BadRequest, Unprocessable
from telemetry.domain import codec
from telemetry.domain.readings import (
    MINUTE_MS,
    BucketChange,
    Contents,
    Reading,
    bucket_of,
    minute_of,
    unpack,
)
from telemetry.repository.table import (
    BUCKET_SK,
    MAX_CONDITION_ATTEMPTS,
    TYPE_READINGS,
    ContentionError,
    Item,
    TelemetryTable,
    bucket_sk,
    data_attributes,
    device_pk,
    expires_at,
    item_key,
    num,
    text,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

# DynamoDB's item limit is 400 KB; the keys and bookkeeping take about 100 bytes of it.
MAX_ENCODED_BYTES = 400 * 1024 - 1024


class Stored(NamedTuple):
    accepted: int
    duplicates: int


class BucketFull(Unprocessable):
    """A bucket reached DynamoDB's 400 KB item limit: about 50,000 readings of 17 significant digits in
    2 minutes of one device (a sustained 400 Hz), several times that for sensor-like values. Buckets
    written before it in the same request stay written; a retry counts those readings as duplicates."""


class ReadingsRepository(TelemetryTable):
    def store_readings(self, device_id: str, buckets: Mapping[int, Contents], retention_days: int) -> Stored:
        """Store each bucket's readings that are not stored yet: one conditional write per touched bucket,
        which rewrites the bucket with them added, on condition that it still holds what was read (its
        reading count, which only grows). Readings already stored count as duplicates and are not
        written. A lost race (someone stored readings in between) takes the bucket from the failed
        write's old image and tries again with what is still new."""
        pk = device_pk(device_id)
        keys = {start: item_key(pk, bucket_sk(start)) for start in buckets}
        present = {item["sk"]["S"]: item for item in self._batch_get(list(keys.values()), consistent=False)}
        accepted = duplicates = 0
        for start, readings in buckets.items():
            current = present.get(bucket_sk(start))
            written = self._add_readings(keys[start], start, readings, current, retention_days)
            accepted += written
            duplicates += len(readings) - written
        return Stored(accepted, duplicates)

    def _add_readings(
        self,
        key: dict[str, AttributeValueTypeDef],
        start: int,
        readings: Contents,
        current: Item | None,
        retention_days: int,
    ) -> int:
        for _ in range(MAX_CONDITION_ATTEMPTS):
            stored = contents_of(current) if current else {}
            pending = {reading: value for reading, value in readings.items() if reading not in stored}
            if not pending:
                return 0
            encoded = codec.encode({**stored, **pending}, start)
            if len(encoded) > MAX_ENCODED_BYTES:
                raise _full(key)
            values: dict[str, AttributeValueTypeDef] = {
                ":type": text(TYPE_READINGS),
                ":expires": num(expires_at(start, retention_days)),
                ":format": num(codec.FORMAT),
                ":count": num(len(stored) + len(pending)),
                ":readings": {"B": encoded},
            }
            if current:
                values[":seen"] = current["c"]
            try:
                self.db.update_item(
                    TableName=self.table_name,
                    Key=key,
                    UpdateExpression="SET #type = :type, expiresAt = :expires, v = :format, c = :count, r = :readings",
                    # The count names the version read: readings are only ever added, so it grows with
                    # every write, and a write on top of a version it did not read fails.
                    ConditionExpression="c = :seen" if current else "attribute_not_exists(pk)",
                    ExpressionAttributeNames={"#type": "type"},
                    ExpressionAttributeValues=values,
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                return len(pending)
            except ClientError as error:
                if _is_item_too_large(error):
                    raise _full(key) from None
                if not is_condition_failure(error):
                    raise
                current = self._current(error, key)
        raise ContentionError(f"{key['sk']['S']} kept changing under us; retry")

    def migrate_old_buckets(self, retention_days: int) -> tuple[int, int]:
        """The one-off migration to format 1 (decision 31): every item of the old layout (a minute of one
        metric) is added to its device's bucket, as ingest adds readings (what is there already counts
        as stored), then deleted. Run once after the deploy; a rerun finds nothing left. Returns how
        many old items were converted and how many readings they held."""
        items = readings = 0
        pages = self.db.get_paginator("scan").paginate(
            TableName=self.table_name,
            FilterExpression="#type = :readings AND attribute_not_exists(v)",
            ExpressionAttributeNames={"#type": "type"},
            ExpressionAttributeValues={":readings": text(TYPE_READINGS)},
        )
        for page in pages:
            for item in page.get("Items", []):
                contents = contents_of(item)
                if contents:
                    start = bucket_of(min(ts for ts, _ in contents))
                    key = item_key(item["pk"]["S"], bucket_sk(start))
                    current = self.db.get_item(TableName=self.table_name, Key=key, ConsistentRead=True)
                    self._add_readings(key, start, contents, current.get("Item"), retention_days)
                self.db.delete_item(TableName=self.table_name, Key=item_key(item["pk"]["S"], item["sk"]["S"]))
                items, readings = items + 1, readings + len(contents)
        return items, readings

    def readings_page(
        self,
        device_id: str,
        *,
        metric: str | None,
        start: int,
        end: int,
        limit: int,
        next_token: str | None,
    ) -> tuple[list[Reading], str | None]:
        """Readings with start <= ts <= end (of one metric, or all), ascending by (ts, metric).

        The cursor names the last reading returned, as ``R#<minute>#<metric>`` plus its offset in the
        minute (``o``): the same token the old layout gave, so a token survives the change of layout."""
        pk = device_pk(device_id)
        after: tuple[int, str] | None = None
        if next_token:
            cursor = decode_cursor(next_token, {"pk": "S", "sk": "S", "o": "N"}, fixed={"pk": pk})
            assert cursor is not None
            match = BUCKET_SK.fullmatch(cursor["sk"]["S"])
            offset = cursor["o"]["N"]
            if match is None or match.group(2) is None or int(offset) >= MINUTE_MS:
                raise BadRequest("nextToken does not belong to this listing")
            after = (int(match.group(1)) + int(offset), match.group(2))
            start = max(start, minute_of(after[0]))
        if start > end:
            return [], None
        found: list[Reading] = []
        for contents in self._buckets(pk, start, end):
            found.extend(
                reading
                for reading in unpack(contents)
                if start <= reading.ts <= end
                and (metric is None or reading.metric == metric)
                and (after is None or (reading.ts, reading.metric) > after)
            )
            if len(found) > limit:
                break
        if len(found) <= limit:
            return found, None
        last = found[limit - 1]
        minute = minute_of(last.ts)
        token = encode_cursor(
            {"pk": text(pk), "sk": text(f"R#{minute:013d}#{last.metric}"), "o": num(last.ts - minute)}
        )
        return found[:limit], token

    def _buckets(self, pk: str, start: int, end: int) -> Iterator[Contents]:
        """The readings of each bucket overlapping [start, end], bucket by bucket in time order. Items
        of the old layout (a minute of one metric, sorting inside the bucket they fall in) are merged into
        their bucket; a reading found twice (while the migration runs) is listed once."""
        merged: Contents = {}
        current: int | None = None
        items = self._query(
            pk, bucket_sk(bucket_of(start)), f"R#{minute_of(end) + 1:013d}", page=4, growing=True
        )
        for item in items:
            match = BUCKET_SK.fullmatch(item["sk"]["S"])
            if match is None:
                continue
            first = bucket_of(int(match.group(1)))
            if first != current:
                if merged:
                    yield merged
                merged, current = {}, first
            merged.update(contents_of(item))
        if merged:
            yield merged


def contents_of(image: Mapping[str, Any]) -> Contents:
    """A bucket item's readings, from DynamoDB JSON (a client's answer or a stream record's image): a
    format-1 item or one of the old layout. ValueError/KeyError for an item that is neither."""
    match = BUCKET_SK.fullmatch(image["sk"]["S"])
    if match is None:
        raise ValueError(f"Not a readings bucket key: {image['sk']['S']!r}")
    start, metric = int(match.group(1)), match.group(2)
    if metric is not None:
        if start % MINUTE_MS:
            raise ValueError(f"Bucket {image['sk']['S']!r} does not start on a minute")
        offsets = data_attributes(image)
        if any(not 0 <= offset < MINUTE_MS for offset in offsets):
            raise ValueError(f"Bucket {image['sk']['S']!r} has an offset outside its minute")
        return {(start + offset, metric): value for offset, value in offsets.items()}
    if image.get("v") != {"N": str(codec.FORMAT)}:
        raise ValueError(f"Bucket {image['sk']['S']!r} is in an unknown format: {image.get('v')}")
    if start != bucket_of(start):
        raise ValueError(f"Bucket {image['sk']['S']!r} does not start a bucket")
    encoded = image["r"]["B"]
    # Lambda delivers a stream record's binary attributes base64-encoded; boto3 answers bytes.
    return codec.decode(encoded if isinstance(encoded, bytes) else base64.b64decode(encoded), start)


def bucket_change(record: DynamoDBRecord) -> BucketChange | None:
    """Decode a stream record. None for anything that is not a write to a readings bucket (other item
    types, TTL removals); ValueError/KeyError/TypeError for a record that claims to be a bucket but
    cannot be one (a poison record)."""
    change = record.dynamodb
    if (
        record.event_name not in (DynamoDBRecordEventName.INSERT, DynamoDBRecordEventName.MODIFY)
        or not change
    ):
        return None
    # The images are read as DynamoDB JSON, and the type first: other items are skipped undecoded.
    new_image = change.get("NewImage") or {}
    if new_image.get("type") != {"S": TYPE_READINGS}:
        return None
    pk = new_image["pk"]["S"]
    if not pk.startswith("DEVICE#"):
        raise ValueError(f"Not a readings bucket key: {pk!r}")
    match = BUCKET_SK.fullmatch(new_image["sk"]["S"])
    if match is None:
        raise ValueError(f"Not a readings bucket key: {new_image['sk']['S']!r}")
    old_image = change.get("OldImage")
    old = contents_of(old_image) if old_image else {}
    return BucketChange(pk.removeprefix("DEVICE#"), int(match.group(1)), contents_of(new_image), old)


def _full(key: Mapping[str, AttributeValueTypeDef]) -> BucketFull:
    return BucketFull(
        f"Too many readings in 2 minutes of one device ({key['sk']['S']}): a bucket holds what fits in "
        "DynamoDB's 400 KB, about 50,000 readings of 17 significant digits"
    )


def _is_item_too_large(error: ClientError) -> bool:
    details = error.response.get("Error", {})
    return details.get("Code") == "ValidationException" and "size" in str(details.get("Message", "")).lower()
