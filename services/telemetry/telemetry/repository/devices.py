"""Devices: registration, the token hash the authorizer checks, and the state the stream keeps current."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from commons.dynamodb import condition_raises, decode_cursor, encode_cursor, is_condition_failure
from commons.errors import Conflict, NotFound
from telemetry.domain.devices import DeviceRecord, DeviceState, Latest, advance, split_state, within_capacity
from telemetry.repository.table import (
    DEVICE_SK,
    FLEET_INDEX,
    FLEET_PARTITION,
    MAX_CONDITION_ATTEMPTS,
    TYPE_DEVICE,
    ContentionError,
    TelemetryTable,
    device_pk,
    item_key,
    num,
    text,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

# Each metric of a device-state write adds about 67 characters to its condition (DynamoDB caps it at 4 KB).
METRICS_PER_STATE_WRITE = 40
# A device item tracks the latest reading of at most this many metrics (about 100 bytes each, so a device
# posting endless new metric names cannot push its item past DynamoDB's 400 KB and wedge its own state).
MAX_LATEST_METRICS = 1000


class DevicesRepository(TelemetryTable):
    def create_device(self, device_id: str, name: str | None, token_hash: str, created_at: int) -> None:
        item: dict[str, AttributeValueTypeDef] = {
            **item_key(device_pk(device_id), DEVICE_SK),
            "type": text(TYPE_DEVICE),
            "deviceId": text(device_id),
            "createdAt": num(created_at),
            "tokenHash": text(token_hash),
            "latest": {"M": {}},
            "gsi1pk": text(FLEET_PARTITION),
            "gsi1sk": text(device_id),
        }
        if name is not None:
            item["name"] = text(name)
        # The token hash is new with every registration, so it also names this request: when botocore
        # resends the PutItem because the answer to a committed one was lost, the resend finds its own
        # item and succeeds, instead of a 409 that would leave the id taken and its token unknown.
        with condition_raises(Conflict(f"Device {device_id} already exists")):
            self.db.put_item(
                TableName=self.table_name,
                Item=item,
                ConditionExpression="attribute_not_exists(pk) OR tokenHash = :tokenHash",
                ExpressionAttributeValues={":tokenHash": text(token_hash)},
            )

    def get_device(self, device_id: str) -> DeviceRecord | None:
        item = self.db.get_item(TableName=self.table_name, Key=item_key(device_pk(device_id), DEVICE_SK)).get(
            "Item"
        )
        return _device_record(item) if item else None

    def list_devices(self, limit: int, next_token: str | None) -> tuple[list[DeviceRecord], str | None]:
        """One page of devices, ascending by id: their keys from the fleet index, then the items in one batch
        (the index holds keys only, so the state every reading batch updates is not copied into it)."""
        start = decode_cursor(
            next_token,
            {"pk": "S", "sk": "S", "gsi1pk": "S", "gsi1sk": "S"},
            fixed={"gsi1pk": FLEET_PARTITION},
        )
        query: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": FLEET_INDEX,
            "KeyConditionExpression": "gsi1pk = :fleet",
            "ExpressionAttributeValues": {":fleet": text(FLEET_PARTITION)},
            "Limit": limit,
        }
        if start:
            query["ExclusiveStartKey"] = start
        page = self.db.query(**query)
        keys = [item_key(entry["pk"]["S"], DEVICE_SK) for entry in page.get("Items", [])]
        found = {item["pk"]["S"]: item for item in self._batch_get(keys, consistent=False)}
        # A device deleted between the query and the batch read is simply not listed.
        devices = [_device_record(found[key["pk"]["S"]]) for key in keys if key["pk"]["S"] in found]
        return devices, encode_cursor(page.get("LastEvaluatedKey"))

    def replace_token(self, device_id: str, token_hash: str) -> None:
        """The device's token is now this one (the old one stops working); 404 when there is no such device."""
        with condition_raises(NotFound(f"No device {device_id}")):
            self.db.update_item(
                TableName=self.table_name,
                Key=item_key(device_pk(device_id), DEVICE_SK),
                UpdateExpression="SET tokenHash = :tokenHash",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":tokenHash": text(token_hash)},
            )

    def device_exists(self, device_id: str) -> bool:
        response = self.db.get_item(
            TableName=self.table_name,
            Key=item_key(device_pk(device_id), DEVICE_SK),
            ProjectionExpression="pk",
        )
        return "Item" in response

    def require_device(self, device_id: str) -> None:
        if not self.device_exists(device_id):
            raise NotFound(f"No device {device_id}")

    def token_hash(self, device_id: str) -> str | None:
        item = self.db.get_item(
            TableName=self.table_name,
            Key=item_key(device_pk(device_id), DEVICE_SK),
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
            values: dict[str, AttributeValueTypeDef] = {":room": num(MAX_LATEST_METRICS - new_metrics)}
            sets, conditions = [], ["attribute_exists(pk)", "size(latest) <= :room"]
            if pending.last_seen is not None:
                sets.append("lastSeen = :seen")
                conditions.append("(attribute_not_exists(lastSeen) OR lastSeen < :seen)")
                values[":seen"] = num(pending.last_seen)
            for index, (metric, entry) in enumerate(sorted(pending.latest.items())):
                names[f"#m{index}"] = metric
                values[f":l{index}"] = {"M": {"value": num(entry.value), "ts": num(entry.ts)}}
                values[f":t{index}"] = num(entry.ts)
                sets.append(f"latest.#m{index} = :l{index}")
                conditions.append(
                    f"(attribute_not_exists(latest.#m{index}) OR latest.#m{index}.#ts < :t{index})"
                )
            try:
                self.db.update_item(
                    TableName=self.table_name,
                    Key=item_key(device_pk(device_id), DEVICE_SK),
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
                current = self._current(error, item_key(device_pk(device_id), DEVICE_SK))
                if current is None:
                    return DeviceState()
                stored = _device_state(current)
                pending = within_capacity(stored, advance(stored, pending), MAX_LATEST_METRICS)
                new_metrics = sum(1 for metric in pending.latest if metric not in stored.latest)
        raise ContentionError(f"Device {device_id} state kept changing under us")


def _device_state(item: Mapping[str, Any]) -> DeviceState:
    latest = {
        metric: Latest(int(entry["M"]["ts"]["N"]), Decimal(entry["M"]["value"]["N"]))
        for metric, entry in item.get("latest", {}).get("M", {}).items()
    }
    last_seen = int(item["lastSeen"]["N"]) if "lastSeen" in item else None
    return DeviceState(last_seen, latest)


def _device_record(item: Mapping[str, Any]) -> DeviceRecord:
    return DeviceRecord(
        device_id=item["deviceId"]["S"],
        name=item["name"]["S"] if "name" in item else None,
        created_at=int(item["createdAt"]["N"]),
        state=_device_state(item),
    )
