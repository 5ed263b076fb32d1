"""Buckets of the layout before format 1 (one item per metric and minute, an attribute per reading): read
correctly beside format-1 buckets, processed when the stream still holds them, and converted by the
one-off migration without changing a reading or the device's state; a minute that got readings in both
layouts (the deploy's minute) is rolled up whole once the migration has put them in one bucket."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from commons.dynamodb import serialize
from telemetry.domain.readings import BUCKET_MS, HOUR_MS, MINUTE_MS
from telemetry.repository.readings import ReadingsRepository
from tests.aws import dynamodb_client
from tests.integration.telemetry.driver import Telemetry, expected_aggregates
from tests.unit.telemetry.support import now_ms

DEVICE = "old-layout-1"


def put_old_bucket(table: str, metric: str, minute: int, readings: dict[int, float]) -> None:
    """An item as the code before format 1 wrote it."""
    item: dict[str, Any] = {
        "pk": f"DEVICE#{DEVICE}",
        "sk": f"R#{minute:013d}#{metric}",
        "type": "READINGS",
        "expiresAt": (minute + MINUTE_MS) // 1000 + 7 * 86_400,
        **{str(ts - minute): Decimal(repr(value)) for ts, value in readings.items()},
    }
    dynamodb_client().put_item(TableName=table, Item=serialize(item))


def listing(system: Telemetry, start: int, end: int, limit: int) -> list[tuple[int, str, float]]:
    found, token = [], None
    while True:
        page = system.admin(
            "GET", f"/devices/{DEVICE}/telemetry", limit=limit, nextToken=token, **{"from": start, "to": end}
        )
        found += [(item["ts"], item["metric"], item["value"]) for item in page["items"]]
        token = page["nextToken"]
        if token is None:
            return found


def test_old_buckets_are_listed_processed_and_migrated_without_changing_anything(handlers, stream):
    system = Telemetry(handlers, stream)
    system.register(DEVICE)
    start = now_ms() - HOUR_MS
    start -= start % BUCKET_MS
    # Minutes 0 and 1 of a bucket in the old layout (two metrics), a new reading in minute 1 beside them.
    old = {
        ("temp", start): {start: 20.5, start + 1000: 21.0},
        ("hum", start): {start + 500: 40.0},
        ("temp", start + MINUTE_MS): {start + MINUTE_MS + 2000: 22.5},
    }
    for (metric, minute), readings in old.items():
        put_old_bucket(system.table, metric, minute, readings)
    posted = [{"metric": "temp", "ts": start + MINUTE_MS + 3000, "value": 23}]
    assert system.post(DEVICE, posted) == {"accepted": 1, "duplicates": 0}
    system.process()  # old items reach the processor too (records of the deploy's moment)

    everything = [
        (ts, metric, value) for (metric, _), readings in old.items() for ts, value in readings.items()
    ]
    expected = sorted([*everything, (posted[0]["ts"], "temp", 23)])
    end = start + BUCKET_MS
    assert listing(system, start, end, 1000) == expected
    assert listing(system, start, end, 1) == expected  # a cursor inside the old items and across layouts
    device = system.device(DEVICE)
    repository = ReadingsRepository(system.table, dynamodb_client())
    assert repository.migrate_old_buckets(retention_days=7) == (3, 4)
    assert repository.migrate_old_buckets(retention_days=7) == (0, 0)
    system.process()
    items = dynamodb_client().scan(TableName=system.table)["Items"]
    assert sorted(i["sk"]["S"] for i in items if i["type"]["S"] == "READINGS") == [f"R#{start:013d}"]
    assert listing(system, start, end, 1000) == expected
    # A minute with readings in both layouts is rolled up whole once they share a bucket.
    as_posted = [{"metric": m, "ts": ts, "value": v} for ts, m, v in expected]
    for metric in ("temp", "hum"):
        aggregates = system.aggregates(DEVICE, metric, "minute", start, end)
        assert aggregates == expected_aggregates(as_posted, metric, MINUTE_MS)
    assert system.device(DEVICE) == device
    # A repost of a reading first stored in the old layout is a duplicate.
    assert system.post(DEVICE, [{"metric": "hum", "ts": start + 500, "value": 1}]) == {
        "accepted": 0,
        "duplicates": 1,
    }
