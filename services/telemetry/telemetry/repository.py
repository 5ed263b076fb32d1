"""The only code that talks to the telemetry table. Item layout (one table, ``pk``/``sk``):

=======================  ==================================  ===========  =========================================
pk                       sk                                  type         attributes
=======================  ==================================  ===========  =========================================
``DEVICE#<id>``          ``DEVICE``                          DEVICE       deviceId, name?, createdAt, tokenHash,
                                                                          lastSeen?, latest {metric: {value, ts}}
``DEVICE#<id>``          ``RULES``                           RULES        rules [{metric, op, threshold}]
``DEVICE#<id>``          ``R#<minute:013d>#<metric>``        READINGS     expiresAt; one attribute per reading, named
                                                                          by its ms offset in the minute ("0".."59999")
``DEVICE#<id>``          ``H#<metric>#<hour:013d>``          ROLLUP       one attribute per minute of the hour
                                                                          ("0".."59"): [count, min, max, sum]
``DEVICE#<id>``          ``A#<ts:013d>#<metric>``            ALERT        metric, ts, value, rule
=======================  ==================================  ===========  =========================================

Attributes whose names are all digits are data (readings, minute statistics); the rest are bookkeeping.
Readings are top-level attributes rather than a map so one UpdateItem can create or extend a bucket
(a nested ``SET r.#o`` fails when the map does not exist yet) and each costs no map overhead.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)
from botocore.exceptions import ClientError

from commons.dynamodb import (
    condition_raises,
    decode_cursor,
    encode_cursor,
    is_condition_failure,
    put_if_absent,
)
from commons.errors import BadRequest, Conflict, DomainError, NotFound, Unprocessable
from telemetry.domain.devices import DeviceState, Latest, advance, split_state, within_capacity
from telemetry.domain.readings import (
    METRIC_PATTERN,
    MINUTE_MS,
    BucketChange,
    BucketKey,
    Reading,
    hour_of,
    minute_of,
)
from telemetry.domain.rollups import Stats, newer
from telemetry.domain.rules import OPS, Alert, Rule

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

Item = dict[str, Any]

DEVICE_SK = "DEVICE"
RULES_SK = "RULES"
TYPE_DEVICE = "DEVICE"
TYPE_RULES = "RULES"
TYPE_READINGS = "READINGS"
TYPE_ROLLUP = "ROLLUP"
TYPE_ALERT = "ALERT"

# DynamoDB caps each expression at 4 KB: ``attribute_not_exists(#a123) AND `` is 32 characters.
OFFSETS_PER_UPDATE = 100
# ...and each metric of a device-state write adds about 67 characters to its condition.
METRICS_PER_STATE_WRITE = 40
# A device item tracks the latest reading of at most this many metrics (about 100 bytes each, so a device
# posting endless new metric names cannot push its item past DynamoDB's 400 KB and wedge its own state).
MAX_LATEST_METRICS = 1000
MAX_CONDITION_ATTEMPTS = 6
BATCH_GET_LIMIT = 100
BUCKET_SK = re.compile(r"R#(\d{13})#(" + METRIC_PATTERN.pattern + ")")
HOUR_SK = re.compile(r"H#(" + METRIC_PATTERN.pattern + r")#(\d{13})")


def device_pk(device_id: str) -> str:
    return f"DEVICE#{device_id}"


def bucket_sk(key: BucketKey) -> str:
    return f"R#{key.minute:013d}#{key.metric}"


def hour_sk(metric: str, hour: int) -> str:
    return f"H#{metric}#{hour:013d}"


def alert_sk(ts: int, metric: str) -> str:
    return f"A#{ts:013d}#{metric}"


def expires_at(minute: int, retention_days: int) -> int:
    """Epoch seconds at which TTL may remove a bucket: the retention period after the minute ends."""
    return (minute + MINUTE_MS) // 1000 + retention_days * 86_400


def _s(value: str) -> AttributeValueTypeDef:
    return {"S": value}


MAX_EXACT_INTEGER = 2**53  # a double holds every integer up to this one exactly; beyond it, only some


def _n(value: int | Decimal) -> AttributeValueTypeDef:
    return {"N": str(value)}


def _key(pk: str, sk: str) -> dict[str, AttributeValueTypeDef]:
    return {"pk": _s(pk), "sk": _s(sk)}


def number(value: Decimal | int) -> int | float:
    """A stored number as the admin API answers it: a double (docs/telemetry.md), written as an integer
    when it is one that a double holds exactly, so ``21`` reads ``21`` and not ``21.0``."""
    double = float(value)
    return int(double) if double.is_integer() and abs(double) <= MAX_EXACT_INTEGER else double


def data_attributes(image: Mapping[str, Any]) -> dict[int, Decimal]:
    """The digit-named attributes of a raw (DynamoDB JSON) image: {offset or minute index: number}."""
    return {int(name): Decimal(value["N"]) for name, value in image.items() if name.isdigit()}


# ---------------------------------------------------------------------------------------- stream records


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


# ---------------------------------------------------------------------------------------- the repository


class DeviceRecord(NamedTuple):
    device_id: str
    name: str | None
    created_at: int
    state: DeviceState


class Stored(NamedTuple):
    accepted: int
    duplicates: int


class _Entry(NamedTuple):
    """One numbered attribute of an item, written only if ``guard`` (a condition on ``{name}``, with
    ``{guard}`` bound to ``guard_value``) holds."""

    value: AttributeValueTypeDef
    guard: str
    guard_value: AttributeValueTypeDef | None = None


_V = TypeVar("_V")


class ContentionError(DomainError):
    """A conditional write kept losing races, or DynamoDB kept deferring reads: the caller's retry (the
    client's after this 503, or the stream's) finishes it; what was written stays written and counts as
    duplicates then."""

    status = 503


class BucketFull(Unprocessable):
    """A (metric, minute) bucket reached DynamoDB's 400 KB item limit (about 25,000 readings, i.e. a
    sustained 400+ Hz on one metric). Buckets written before it in the same request stay written; a
    retry counts those readings as duplicates."""


class TelemetryRepository:
    def __init__(self, table_name: str, dynamodb: DynamoDBClient) -> None:
        self.table_name = table_name
        self.db = dynamodb

    # ------------------------------------------------------------------------------------------ devices

    def create_device(self, device_id: str, name: str | None, token_hash: str, created_at: int) -> None:
        item: dict[str, AttributeValueTypeDef] = {
            **_key(device_pk(device_id), DEVICE_SK),
            "type": _s(TYPE_DEVICE),
            "deviceId": _s(device_id),
            "createdAt": _n(created_at),
            "tokenHash": _s(token_hash),
            "latest": {"M": {}},
        }
        if name is not None:
            item["name"] = _s(name)
        # The token hash is new with every registration, so it also names this request: when botocore
        # resends the PutItem because the answer to a committed one was lost, the resend finds its own
        # item and succeeds, instead of a 409 that would leave the id taken and its token unknown.
        with condition_raises(Conflict(f"Device {device_id} already exists")):
            self.db.put_item(
                TableName=self.table_name,
                Item=item,
                ConditionExpression="attribute_not_exists(pk) OR tokenHash = :tokenHash",
                ExpressionAttributeValues={":tokenHash": _s(token_hash)},
            )

    def get_device(self, device_id: str) -> DeviceRecord | None:
        item = self.db.get_item(TableName=self.table_name, Key=_key(device_pk(device_id), DEVICE_SK)).get(
            "Item"
        )
        if not item:
            return None
        return DeviceRecord(
            device_id=item["deviceId"]["S"],
            name=item["name"]["S"] if "name" in item else None,
            created_at=int(item["createdAt"]["N"]),
            state=_device_state(item),
        )

    def device_exists(self, device_id: str) -> bool:
        response = self.db.get_item(
            TableName=self.table_name, Key=_key(device_pk(device_id), DEVICE_SK), ProjectionExpression="pk"
        )
        return "Item" in response

    def require_device(self, device_id: str) -> None:
        if not self.device_exists(device_id):
            raise NotFound(f"No device {device_id}")

    def token_hash(self, device_id: str) -> str | None:
        item = self.db.get_item(
            TableName=self.table_name,
            Key=_key(device_pk(device_id), DEVICE_SK),
            ProjectionExpression="tokenHash",
        ).get("Item")
        return item["tokenHash"]["S"] if item and "tokenHash" in item else None

    def advance_device_state(self, device_id: str, candidate: DeviceState) -> DeviceState:
        """Move lastSeen and latest[metric] forward to ``candidate`` where it is newer; never backwards.
        Conditional on every value it replaces, so concurrent or late writers cannot regress it.
        Returns what was written (empty when the stored state was already as new, or the device is gone).

        A batch may name hundreds of metrics: they are written in parts that keep each condition within
        DynamoDB's expression limit, each part as safe as the whole."""
        written = [
            self._advance_device_state(device_id, part)
            for part in split_state(candidate, METRICS_PER_STATE_WRITE)
        ]
        return DeviceState(
            written[0].last_seen, {metric: entry for part in written for metric, entry in part.latest.items()}
        )

    def _advance_device_state(self, device_id: str, candidate: DeviceState) -> DeviceState:
        pending = candidate
        new_metrics = len(pending.latest)  # until the stored state is known, every metric may be new
        for _ in range(MAX_CONDITION_ATTEMPTS):
            if pending.empty:
                return pending
            names: dict[str, str] = {"#ts": "ts"}
            values: dict[str, AttributeValueTypeDef] = {":room": _n(MAX_LATEST_METRICS - new_metrics)}
            sets, conditions = [], ["attribute_exists(pk)", "size(latest) <= :room"]
            if pending.last_seen is not None:
                sets.append("lastSeen = :seen")
                conditions.append("(attribute_not_exists(lastSeen) OR lastSeen < :seen)")
                values[":seen"] = _n(pending.last_seen)
            for index, (metric, entry) in enumerate(sorted(pending.latest.items())):
                names[f"#m{index}"] = metric
                values[f":l{index}"] = {"M": {"value": _n(entry.value), "ts": _n(entry.ts)}}
                values[f":t{index}"] = _n(entry.ts)
                sets.append(f"latest.#m{index} = :l{index}")
                conditions.append(
                    f"(attribute_not_exists(latest.#m{index}) OR latest.#m{index}.#ts < :t{index})"
                )
            try:
                self.db.update_item(
                    TableName=self.table_name,
                    Key=_key(device_pk(device_id), DEVICE_SK),
                    UpdateExpression="SET " + ", ".join(sets),
                    ConditionExpression=" AND ".join(conditions),
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                return pending
            except ClientError as error:
                if not is_condition_failure(error):
                    raise
                current = self._current(error, _key(device_pk(device_id), DEVICE_SK))
                if current is None:
                    return DeviceState()
                stored = _device_state(current)
                pending = within_capacity(stored, advance(stored, pending), MAX_LATEST_METRICS)
                new_metrics = sum(1 for metric in pending.latest if metric not in stored.latest)
        raise ContentionError(f"Device {device_id} state kept changing under us")

    # -------------------------------------------------------------------------------------------- rules

    def put_rules(self, device_id: str, rules: Sequence[Rule]) -> None:
        self.require_device(device_id)
        self.db.put_item(
            TableName=self.table_name,
            Item={
                **_key(device_pk(device_id), RULES_SK),
                "type": _s(TYPE_RULES),
                "rules": {"L": [{"M": _rule_attribute(rule)} for rule in rules]},
            },
        )

    def rules_for(self, device_ids: Sequence[str]) -> dict[str, list[Rule]]:
        keys = [_key(device_pk(device_id), RULES_SK) for device_id in dict.fromkeys(device_ids)]
        rules: dict[str, list[Rule]] = {device_id: [] for device_id in device_ids}
        for item in self._batch_get(keys, consistent=True):
            device_id = item["pk"]["S"].removeprefix("DEVICE#")
            rules[device_id] = [_rule_of(entry["M"]) for entry in item.get("rules", {}).get("L", [])]
        return rules

    # ----------------------------------------------------------------------------------------- readings

    def store_readings(
        self, device_id: str, buckets: Mapping[BucketKey, Mapping[int, Decimal]], retention_days: int
    ) -> Stored:
        """Store each bucket's readings that are not stored yet, with one UpdateItem per bucket whose
        condition requires every new reading attribute to be absent. Readings already stored count as
        duplicates and are not written. A lost race (someone stored some of them in between) re-reads
        the conflicting readings from the failed write's old image and retries without them."""
        pk = device_pk(device_id)
        keys = {bucket: _key(pk, bucket_sk(bucket)) for bucket in buckets}
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
                {"type": _s(TYPE_READINGS), "expiresAt": _n(expires)},
                dict(readings),
                lambda value: _Entry(_n(value), "attribute_not_exists({name})"),
                not_yet_stored,
            )
        except ClientError as error:
            if _is_item_too_large(error):
                raise BucketFull(
                    f"Too many readings in one minute of one metric ({key['sk']['S']}): a bucket holds about 25,000"
                ) from None
            raise

    def _write_entries(
        self,
        key: dict[str, AttributeValueTypeDef],
        fixed: Mapping[str, AttributeValueTypeDef],
        pending: dict[int, _V],
        entry: Callable[[_V], _Entry],
        still_pending: Callable[[Item, dict[int, _V]], dict[int, _V]],
    ) -> int:
        """Write numbered attributes (and the fixed ones) in one UpdateItem, each only if its guard holds.
        When another writer got in first, keep what ``still_pending`` says is still to write and try
        again. Returns how many entries the successful write carried."""
        for _ in range(MAX_CONDITION_ATTEMPTS):
            if not pending:
                return 0
            names, values, sets, conditions = {}, {}, [], []
            for index, (name, value) in enumerate(fixed.items()):
                names[f"#f{index}"], values[f":f{index}"] = name, value
                sets.append(f"#f{index} = :f{index}")
            for index, (number_, item) in enumerate(sorted(pending.items())):
                written = entry(item)
                names[f"#e{index}"], values[f":e{index}"] = str(number_), written.value
                sets.append(f"#e{index} = :e{index}")
                if written.guard_value is not None:
                    values[f":g{index}"] = written.guard_value
                conditions.append(written.guard.format(name=f"#e{index}", guard=f":g{index}"))
            try:
                self.db.update_item(
                    TableName=self.table_name,
                    Key=key,
                    UpdateExpression="SET " + ", ".join(sets),
                    ConditionExpression=" AND ".join(conditions),
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                return len(pending)
            except ClientError as error:
                if not is_condition_failure(error):
                    raise
                pending = still_pending(self._current(error, key) or {}, pending)
        raise ContentionError(f"{key['sk']['S']} kept changing under us; retry")

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
            {"pk": _s(pk), "sk": _s(bucket_sk(BucketKey(last.metric, minute))), "o": _n(last.ts - minute)}
        )
        return found[:limit], token

    # ------------------------------------------------------------------------------------------ rollups

    def minute_stats(self, device_id: str, metric: str, start: int, end: int) -> dict[int, Stats]:
        """Per-minute statistics of ``metric`` for every hour overlapping [start, end]: minute start -> stats."""
        minutes: dict[int, Stats] = {}
        lower, upper = hour_sk(metric, hour_of(start)), hour_sk(metric, hour_of(end))
        for item in self._query(device_pk(device_id), lower, upper):
            match = HOUR_SK.fullmatch(item["sk"]["S"])
            if match is None:
                continue
            hour = int(match.group(2))
            for index, entry in _minute_entries(item).items():
                minutes[hour + index * MINUTE_MS] = entry
        return minutes

    def save_minute_stats(self, device_id: str, metric: str, hour: int, minutes: Mapping[int, Stats]) -> int:
        """Write minute entries (minute index in the hour -> stats) into the hour's rollup item, each only
        if it is newer than the stored one (more readings). One UpdateItem for all of them; returns how
        many entries were written. Redelivering the same versions writes nothing new."""
        key = _key(device_pk(device_id), hour_sk(metric, hour))
        return self._write_entries(
            key,
            {"type": _s(TYPE_ROLLUP)},
            dict(minutes),
            lambda stats: _Entry(
                {"L": [_n(stats.count), _n(stats.min), _n(stats.max), _n(stats.sum)]},
                "(attribute_not_exists({name}) OR {name}[0] < {guard})",  # newer means more readings
                _n(stats.count),
            ),
            lambda current, pending: newer(_minute_entries(current), pending),
        )

    # ------------------------------------------------------------------------------------------- alerts

    def put_alerts(self, device_id: str, alerts: Sequence[Alert]) -> int:
        """One item per alerting reading, created only if absent: never two alerts for one reading."""
        created = 0
        for alert in alerts:
            item = {
                **_key(device_pk(device_id), alert_sk(alert.ts, alert.metric)),
                "type": _s(TYPE_ALERT),
                "metric": _s(alert.metric),
                "ts": _n(alert.ts),
                "value": _n(alert.value),
                "rule": {"M": _rule_attribute(alert.rule)},
            }
            created += int(put_if_absent(self.db, self.table_name, item))
        return created

    def alerts_page(
        self, device_id: str, *, start: int, end: int, limit: int, next_token: str | None
    ) -> tuple[list[Alert], str | None]:
        pk = device_pk(device_id)
        # '$' sorts right after '#': every alert at ``end``, none after (and still 13 digits at MAX_TS).
        lower, upper = f"A#{start:013d}", f"A#{end:013d}$"
        exclusive_start = decode_cursor(next_token, {"pk": "S", "sk": "S"}, fixed={"pk": pk})
        if exclusive_start is not None and not lower <= exclusive_start["sk"]["S"] <= upper:
            raise BadRequest("nextToken does not belong to this listing")
        items: list[Item] = []
        for item in self._query(pk, lower, upper, page=limit + 1, exclusive_start=exclusive_start):
            items.append(item)
            if len(items) > limit:
                break
        alerts = [_alert_of(item) for item in items[:limit]]
        token = encode_cursor(_key(pk, items[limit - 1]["sk"]["S"])) if len(items) > limit else None
        return alerts, token

    # ---------------------------------------------------------------------------------------- internals

    def _query(
        self,
        pk: str,
        lower: str,
        upper: str,
        *,
        page: int | None = None,
        exclusive_start: Mapping[str, Any] | None = None,
    ) -> Iterator[Item]:
        """Every item of ``pk`` with lower <= sk <= upper, ascending, fetched page by page as consumed."""
        options: dict[str, Any] = {"Limit": page} if page else {}
        if exclusive_start:
            options["ExclusiveStartKey"] = exclusive_start
        while True:
            response = self.db.query(
                TableName=self.table_name,
                KeyConditionExpression="pk = :pk AND sk BETWEEN :lower AND :upper",
                ExpressionAttributeValues={":pk": _s(pk), ":lower": _s(lower), ":upper": _s(upper)},
                **options,
            )
            yield from response.get("Items", [])
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            options["ExclusiveStartKey"] = last

    def _batch_get(self, keys: Sequence[Mapping[str, Any]], *, consistent: bool) -> list[Item]:
        """BatchGetItem in chunks of 100, retrying UnprocessedKeys with backoff and full jitter."""
        items: list[Item] = []
        for begin in range(0, len(keys), BATCH_GET_LIMIT):
            request: dict[str, Any] = {
                self.table_name: {
                    "Keys": list(keys[begin : begin + BATCH_GET_LIMIT]),
                    "ConsistentRead": consistent,
                }
            }
            for attempt in range(10):
                response = self.db.batch_get_item(RequestItems=request)
                items.extend(response.get("Responses", {}).get(self.table_name, []))
                request = {table: part for table, part in response.get("UnprocessedKeys", {}).items() if part}
                if not request:
                    break
                time.sleep(random.uniform(0, min(1.0, 0.02 * 2**attempt)))
            else:
                raise ContentionError("DynamoDB kept deferring reads; retry")
        return items

    def _current(self, error: ClientError, key: Mapping[str, Any]) -> Item | None:
        """The item as it was when a conditional write failed (ReturnValuesOnConditionCheckFailure),
        read again strongly consistently where the response did not carry it."""
        response: Mapping[str, Any] = error.response
        if "Item" in response:
            return dict(response["Item"])
        return self.db.get_item(TableName=self.table_name, Key=dict(key), ConsistentRead=True).get("Item")


def _is_item_too_large(error: ClientError) -> bool:
    details = error.response.get("Error", {})
    return details.get("Code") == "ValidationException" and "size" in str(details.get("Message", "")).lower()


def _device_state(item: Mapping[str, Any]) -> DeviceState:
    latest = {
        metric: Latest(int(entry["M"]["ts"]["N"]), Decimal(entry["M"]["value"]["N"]))
        for metric, entry in item.get("latest", {}).get("M", {}).items()
    }
    last_seen = int(item["lastSeen"]["N"]) if "lastSeen" in item else None
    return DeviceState(last_seen, latest)


def _minute_entries(item: Mapping[str, Any]) -> dict[int, Stats]:
    entries = {}
    for name, value in item.items():
        if name.isdigit():
            count, low, high, total = (entry["N"] for entry in value["L"])
            entries[int(name)] = Stats(int(count), Decimal(low), Decimal(high), Decimal(total))
    return entries


def _rule_attribute(rule: Rule) -> dict[str, AttributeValueTypeDef]:
    return {"metric": _s(rule.metric), "op": _s(rule.op), "threshold": _n(rule.threshold)}


def _rule_of(attribute: Mapping[str, Any]) -> Rule:
    op = attribute["op"]["S"]
    if op not in OPS:
        raise ValueError(f"Stored rule has an unknown op {op!r}")
    return Rule(attribute["metric"]["S"], op, Decimal(attribute["threshold"]["N"]))


def _alert_of(item: Mapping[str, Any]) -> Alert:
    return Alert(
        metric=item["metric"]["S"],
        ts=int(item["ts"]["N"]),
        value=Decimal(item["value"]["N"]),
        rule=_rule_of(item["rule"]["M"]),
    )
