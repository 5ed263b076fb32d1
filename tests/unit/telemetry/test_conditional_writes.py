"""The repository's conditional writes when DynamoDB keeps refusing them: bounded retries, clear errors."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import ClientError

from telemetry.domain.readings import bucket_of
from telemetry.domain.rollups import Stats
from telemetry.repository.readings import BucketFull, ReadingsRepository
from telemetry.repository.rollups import RollupsRepository
from telemetry.repository.table import MAX_CONDITION_ATTEMPTS, ContentionError


class RefusingClient:
    """A DynamoDB client whose every UpdateItem fails with ``code``; the failed write's old image is empty."""

    def __init__(self, code: str, message: str) -> None:
        self.error = {"Error": {"Code": code, "Message": message}, "Item": {}}
        self.updates: list[dict[str, Any]] = []

    def update_item(self, **request: Any) -> None:
        self.updates.append(request)
        raise ClientError(self.error, "UpdateItem")

    def batch_get_item(self, **request: Any) -> dict[str, Any]:
        return {"Responses": {table: [] for table in request["RequestItems"]}}


def rollups(client: RefusingClient) -> RollupsRepository:
    return RollupsRepository("telemetry", client)


def readings(client: RefusingClient) -> ReadingsRepository:
    return ReadingsRepository("telemetry", client)


def test_a_rollup_that_keeps_changing_gives_up_after_a_bounded_number_of_attempts():
    client = RefusingClient("ConditionalCheckFailedException", "The conditional request failed")
    stats = {0: Stats(count=2, min=Decimal(1), max=Decimal(2), sum=Decimal(3))}
    with pytest.raises(ContentionError, match="kept changing"):
        rollups(client).save_minute_stats(
            "d-1", "temp", 1_800_000_000_000 - 1_800_000_000_000 % 3_600_000, stats
        )
    assert len(client.updates) == MAX_CONDITION_ATTEMPTS
    (update,) = {request["ConditionExpression"] for request in client.updates}
    assert update == "(attribute_not_exists(#e0) OR #e0 < :g0)"


def test_a_full_bucket_is_a_422_naming_it_not_a_retry():
    client = RefusingClient("ValidationException", "Item size has exceeded the maximum allowed size")
    bucket = bucket_of(1_800_000_000_000)
    with pytest.raises(BucketFull, match="a bucket holds what fits in DynamoDB's 400 KB") as full:
        readings(client).store_readings("d-1", {bucket: {(bucket, "temp"): Decimal(1)}}, retention_days=7)
    assert full.value.status == 422
    assert len(client.updates) == 1
