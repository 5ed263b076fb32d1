"""Readings: one item per (device, metric, minute), one attribute per reading; and the stream's view of them."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)
from botocore.exceptions import ClientError

from commons.dynamodb import decode_cursor, encode_cursor
from commons.errors import BadRequest, Unprocessable
from telemetry.domain.readings import MINUTE_MS, BucketChange, BucketKey, Reading, minute_of
from telemetry.repository.table import (
    BUCKET_SK,
    TYPE_READINGS,
    Entry,
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

# DynamoDB caps each expression at 4 KB: ``attribute_not_exists(#a123) AND `` is 32 characters.
OFFSETS_PER_UPDATE = 100


class Stored(NamedTuple):
    accepted: int
    duplicates: int


class BucketFull(Unprocessable):
    """A (metric, minute) bucket reached DynamoDB's 400 KB item limit (about 25,000 readings, i.e. a
    sustained 400+ Hz on one metric). Buckets written before it in the same request stay written; a
    retry counts those readings as duplicates."""


class ReadingsRepository(TelemetryTable):
    def store_readings(
        self, device_id: str, buckets: Mapping[BucketKey, Mapping[int, Decimal]], retention_days: int
    ) -> Stored:
        """Store each bucket's readings that are not stored yet, with one UpdateItem per bucket whose
        condition requires every new reading attribute to be absent. Readings already stored count as
        duplicates and are not written. A lost race (someone stored some of them in between) re-reads
        the conflicting readings from the failed write's old image and retries without them."""
        pk = device_pk(device_id)
        keys = {bucket: item_key(pk, bucket_sk(bucket)) for bucket in buckets}
        present = {item["sk"]["S"]: item for item in self._batch_get(list(keys.values()), consistent=False)}
        accepted = duplicates = 0
        for bucket, readings in buckets.items():
            stored = present.get(bucket_sk(bucket), {})
            pending = {offset: value for offset, value in readings.items() if str(offset) not in stored}
            duplicates += len(readings) - len(pending)
            offsets = sorted(pending)
            for start in range(0, len(offsets), OFFSETS_PER_UPDATE):
                chunk = {offset: pending[offset] for offset in offsets[start : start + OFFSETS_PER_UPDATE]}
                written = self._add_readings(keys[bucket], chunk, expires_at(bucket.minute, retention_days))
                accepted += written
                duplicates += len(chunk) - written
        return Stored(accepted, duplicates)

    def _add_readings(
        self, key: dict[str, AttributeValueTypeDef], readings: Mapping[int, Decimal], expires: int
    ) -> int:
        def not_yet_stored(current: Item, pending: dict[int, Decimal]) -> dict[int, Decimal]:
            # Readings someone else stored meanwhile are duplicates: the caller counts the difference.
            return {offset: value for offset, value in pending.items() if str(offset) not in current}

        try:
            return self._write_entries(
                key,
                {"type": text(TYPE_READINGS), "expiresAt": num(expires)},
                dict(readings),
                lambda value: Entry(num(value), "attribute_not_exists({name})"),
                not_yet_stored,
            )
        except ClientError as error:
            if _is_item_too_large(error):
                raise BucketFull(
                    f"Too many readings in one minute of one metric ({key['sk']['S']}): a bucket holds about 25,000"
                ) from None
            raise

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

        Buckets hold a minute of one metric and sort by minute, so the readings of one minute are merged
        across its buckets before they are emitted. The cursor names the last reading returned: its
        bucket's key plus its offset inside the bucket (``o``), so a page may end inside a packed item."""
        pk = device_pk(device_id)
        after: tuple[int, str] | None = None
        if next_token:
            cursor = decode_cursor(next_token, {"pk": "S", "sk": "S", "o": "N"}, fixed={"pk": pk})
            assert cursor is not None
            match = BUCKET_SK.fullmatch(cursor["sk"]["S"])
            offset = cursor["o"]["N"]
            if match is None or int(offset) >= MINUTE_MS:
                raise BadRequest("nextToken does not belong to this listing")
            after = (int(match.group(1)) + int(offset), match.group(2))
            start = max(start, minute_of(after[0]))
        if start > end:
            return [], None
        found: list[Reading] = []
        minute_buckets: list[Item] = []
        current_minute: int | None = None

        def flush() -> None:
            readings = []
            for item in minute_buckets:
                match = BUCKET_SK.fullmatch(item["sk"]["S"])
                assert match is not None
                minute, name = int(match.group(1)), match.group(2)
                if metric is not None and name != metric:
                    continue
                for offset, value in data_attributes(item).items():
                    ts = minute + offset
                    if start <= ts <= end and (after is None or (ts, name) > after):
                        readings.append(Reading(ts, name, value))
            readings.sort()
            found.extend(readings)

        for item in self._query(pk, f"R#{minute_of(start):013d}", f"R#{minute_of(end) + 1:013d}", page=200):
            match = BUCKET_SK.fullmatch(item["sk"]["S"])
            if match is None:
                continue
            minute = int(match.group(1))
            if minute != current_minute:
                flush()
                minute_buckets, current_minute = [], minute
                if len(found) > limit:
                    break
            minute_buckets.append(item)
        else:
            flush()
        if len(found) <= limit:
            return found, None
        last = found[limit - 1]
        minute = minute_of(last.ts)
        token = encode_cursor(
            {
                "pk": text(pk),
                "sk": text(bucket_sk(BucketKey(last.metric, minute))),
                "o": num(last.ts - minute),
            }
        )
        return found[:limit], token


def bucket_change(record: DynamoDBRecord) -> BucketChange | None:
    """Decode a stream record (images deserialized by Powertools: numbers as Decimal). None for anything
    that is not a write to a readings bucket (other item types, TTL removals); ValueError/KeyError/TypeError
    for a record that claims to be a bucket but cannot be one (a poison record)."""
    change = record.dynamodb
    if (
        record.event_name not in (DynamoDBRecordEventName.INSERT, DynamoDBRecordEventName.MODIFY)
        or not change
    ):
        return None
    # The type is read before the image is decoded: other items are skipped without decoding them.
    if (change.get("NewImage") or {}).get("type") != {"S": TYPE_READINGS}:
        return None
    new_image = change.new_image
    pk, sk = new_image["pk"], new_image["sk"]
    match = BUCKET_SK.fullmatch(sk)
    if not pk.startswith("DEVICE#") or match is None:
        raise ValueError(f"Not a readings bucket key: {pk!r} {sk!r}")
    minute = int(match.group(1))
    if minute % MINUTE_MS:
        raise ValueError(f"Bucket {sk!r} does not start on a minute")
    new, old = _readings_of(new_image), _readings_of(change.old_image)
    if any(not 0 <= offset < MINUTE_MS for offset in new):
        raise ValueError(f"Bucket {sk!r} has an offset outside its minute")
    return BucketChange(pk.removeprefix("DEVICE#"), BucketKey(match.group(2), minute), new, old)


def _readings_of(image: Mapping[str, Any]) -> dict[int, Decimal]:
    readings = {int(name): value for name, value in image.items() if name.isdigit()}
    if not all(isinstance(value, Decimal) for value in readings.values()):
        raise TypeError("A reading's value is not a number")
    return readings


def _is_item_too_large(error: ClientError) -> bool:
    details = error.response.get("Error", {})
    return details.get("Code") == "ValidationException" and "size" in str(details.get("Message", "")).lower()
