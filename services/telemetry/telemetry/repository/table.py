"""The telemetry table's layout, and what every item type's repository shares. Item layout (one table, ``pk``/``sk``):

=======================  ==================================  ===========  =========================================
pk                       sk                                  type         attributes
=======================  ==================================  ===========  =========================================
``DEVICE#<id>``          ``DEVICE``                          DEVICE       deviceId, name?, createdAt, tokenHash,
                                                                          lastSeen?, latest {metric: {value, ts}},
                                                                          gsi1pk ``FLEET``, gsi1sk ``<id>``
``DEVICE#<id>``          ``RULES``                           RULES        rules [{metric, op, threshold}]
``DEVICE#<id>``          ``R#<bucket start:013d>``           READINGS     expiresAt, v (format: 1), c (readings), r (every
                                                                          reading of the 2 minutes, all metrics, in the
                                                                          compact form of telemetry.domain.codec)
``DEVICE#<id>``          ``R#<minute:013d>#<metric>``        READINGS     the layout before format 1 (read, never written;
                                                                          ``telemetry.migrate`` converts it): expiresAt, one
                                                                          attribute per reading, named by its ms offset
``DEVICE#<id>``          ``H#<metric>#<hour:013d>``          ROLLUP       one attribute per minute of the hour
                                                                          ("0".."59"): [count, min, max, sum]
``DEVICE#<id>``          ``A#<ts:013d>#<metric>``            ALERT        metric, ts, value, rule
=======================  ==================================  ===========  =========================================

Only device items carry gsi1pk/gsi1sk, so the ``fleet`` index (keys only) lists the devices and nothing else.
In rollups (and old-layout buckets), attributes whose names are all digits are data; the rest are bookkeeping.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from botocore.exceptions import ClientError

from commons.dynamodb import batch_get, is_condition_failure
from commons.errors import DomainError
from telemetry.domain.readings import BUCKET_MS, METRIC_PATTERN

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

Item = dict[str, Any]

DEVICE_SK = "DEVICE"
FLEET_INDEX = "fleet"
FLEET_PARTITION = "FLEET"
RULES_SK = "RULES"
TYPE_DEVICE = "DEVICE"
TYPE_RULES = "RULES"
TYPE_READINGS = "READINGS"
TYPE_ROLLUP = "ROLLUP"
TYPE_ALERT = "ALERT"
MAX_CONDITION_ATTEMPTS = 6
# A bucket's sort key; the metric only in the old layout (one item per metric and minute).
BUCKET_SK = re.compile(r"R#(\d{13})(?:#(" + METRIC_PATTERN.pattern + "))?")
HOUR_SK = re.compile(r"H#(" + METRIC_PATTERN.pattern + r")#(\d{13})")


def device_pk(device_id: str) -> str:
    return f"DEVICE#{device_id}"


def bucket_sk(start: int) -> str:
    return f"R#{start:013d}"


def hour_sk(metric: str, hour: int) -> str:
    return f"H#{metric}#{hour:013d}"


def alert_sk(ts: int, metric: str) -> str:
    return f"A#{ts:013d}#{metric}"


def expires_at(start: int, retention_days: int) -> int:
    """Epoch seconds at which TTL may remove a bucket: the retention period after the bucket ends."""
    return (start + BUCKET_MS) // 1000 + retention_days * 86_400


def text(value: str) -> AttributeValueTypeDef:
    return {"S": value}


def num(value: int | Decimal) -> AttributeValueTypeDef:
    return {"N": str(value)}


def item_key(pk: str, sk: str) -> dict[str, AttributeValueTypeDef]:
    return {"pk": text(pk), "sk": text(sk)}


def data_attributes(image: Mapping[str, Any]) -> dict[int, Decimal]:
    """The digit-named attributes of a raw (DynamoDB JSON) image: {offset or minute index: number}."""
    return {int(name): Decimal(value["N"]) for name, value in image.items() if name.isdigit()}


class Entry(NamedTuple):
    """One numbered attribute of an item, written only if ``guard`` (a condition on ``{name}``, with
    ``{guard}`` bound to ``guard_value``) holds."""

    value: AttributeValueTypeDef
    guard: str
    guard_value: AttributeValueTypeDef | None = None


_V = TypeVar("_V")


class ContentionError(DomainError):
    """A conditional write kept losing races: the caller's retry (the client's after this 503, or the
    stream's) finishes it; what was written stays written and counts as duplicates then."""

    status = 503


class TelemetryTable:
    """What every item type's repository does the same way: paged queries, batched reads, and
    conditional writes of numbered attributes that retry without what another writer stored first."""

    def __init__(self, table_name: str, dynamodb: DynamoDBClient) -> None:
        self.table_name = table_name
        self.db = dynamodb

    def _write_entries(
        self,
        key: dict[str, AttributeValueTypeDef],
        fixed: Mapping[str, AttributeValueTypeDef],
        pending: dict[int, _V],
        entry: Callable[[_V], Entry],
        still_pending: Callable[[Item, dict[int, _V]], dict[int, _V]],
        prefix: str = "",
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
                names[f"#e{index}"], values[f":e{index}"] = f"{prefix}{number_}", written.value
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

    def _query(
        self,
        pk: str,
        lower: str,
        upper: str,
        *,
        page: int | None = None,
        exclusive_start: Mapping[str, Any] | None = None,
        growing: bool = False,
    ) -> Iterator[Item]:
        """Every item of ``pk`` with lower <= sk <= upper, ascending, fetched page by page as consumed;
        ``growing`` doubles the page each time (a reader that does not know how many items it needs reads
        few at first, as a read is billed by the bytes it reads)."""
        options: dict[str, Any] = {"Limit": page} if page else {}
        if exclusive_start:
            options["ExclusiveStartKey"] = exclusive_start
        while True:
            response = self.db.query(
                TableName=self.table_name,
                KeyConditionExpression="pk = :pk AND sk BETWEEN :lower AND :upper",
                ExpressionAttributeValues={":pk": text(pk), ":lower": text(lower), ":upper": text(upper)},
                **options,
            )
            yield from response.get("Items", [])
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            options["ExclusiveStartKey"] = last
            if growing and page:
                options["Limit"] = min(options["Limit"] * 2, 1000)

    def _batch_get(self, keys: Sequence[Mapping[str, Any]], *, consistent: bool) -> list[Item]:
        return batch_get(self.db, self.table_name, keys, consistent=consistent)

    def _current(self, error: ClientError, key: Mapping[str, Any]) -> Item | None:
        """The item as it was when a conditional write failed (ReturnValuesOnConditionCheckFailure),
        read again strongly consistently where the response did not carry it."""
        response: Mapping[str, Any] = error.response
        if "Item" in response:
            return dict(response["Item"])
        return self.db.get_item(TableName=self.table_name, Key=dict(key), ConsistentRead=True).get("Item")
