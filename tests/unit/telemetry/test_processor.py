"""The stream processor on hand-built records (moto): poison records fail alone, other items are ignored,
writes are coalesced."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from commons.dynamodb import serialize
from telemetry.domain.devices import DeviceState, Latest
from telemetry.domain.rollups import Stats
from telemetry.handlers import api, processor
from telemetry.repository import devices as devices_module
from tests.aws import dynamodb_client
from tests.events import lambda_context, stream_record
from tests.unit.telemetry.support import admin_event, body

MINUTE = 1_800_000_000_000 - 1_800_000_000_000 % 3_600_000


def bucket_record(device_id, metric, minute, new, old=None, sequence="1", event="MODIFY"):
    keys = {"pk": f"DEVICE#{device_id}", "sk": f"R#{minute:013d}#{metric}"}

    def image(values):
        return serialize(
            {**keys, "type": "READINGS", "expiresAt": 1, **{str(o): v for o, v in values.items()}}
        )

    return stream_record(
        event,
        keys=serialize(keys),
        new_image=image(new),
        old_image=None if old is None else image(old),
        sequence_number=sequence,
    )


def run(*records):
    return processor.handler({"Records": list(records)}, lambda_context())


def register(device_id="d-1"):
    api.handler(admin_event("POST", "/devices", body={"deviceId": device_id}), lambda_context())


def rollup(table, device_id, metric, hour):
    key = serialize({"pk": f"DEVICE#{device_id}", "sk": f"H#{metric}#{hour:013d}"})
    return dynamodb_client().get_item(TableName=table, Key=key).get("Item")


def test_a_poison_record_fails_alone_and_the_rest_is_processed(table):
    register()
    good = bucket_record("d-1", "temp", MINUTE, {0: 1, 1000: 3}, sequence="10")
    poison = bucket_record("d-1", "temp", MINUTE + 60_000, {0: 1}, sequence="11")
    poison["dynamodb"]["NewImage"]["sk"] = {"S": "R#not-a-minute#temp"}
    bad_number = bucket_record("d-1", "temp", MINUTE + 120_000, {0: 1}, sequence="12")
    bad_number["dynamodb"]["NewImage"]["5"] = {"S": "not a number"}
    later = bucket_record("d-1", "hum", MINUTE, {0: 50}, sequence="13")
    result = run(good, poison, bad_number, later)
    assert result == {"batchItemFailures": [{"itemIdentifier": "11"}, {"itemIdentifier": "12"}]}
    assert Stats.from_bytes(rollup(table, "d-1", "temp", MINUTE)["m0"]["B"]) == Stats(2, 1, 3, 4)
    assert rollup(table, "d-1", "hum", MINUTE) is not None


def test_records_of_other_items_and_ttl_removals_are_ignored(table):
    register()
    device = stream_record(
        "MODIFY",
        keys=serialize({"pk": "DEVICE#d-1", "sk": "DEVICE"}),
        new_image=serialize({"pk": "DEVICE#d-1", "sk": "DEVICE", "type": "DEVICE"}),
        sequence_number="1",
    )
    removed = bucket_record("d-1", "temp", MINUTE, {0: 1}, sequence="2", event="REMOVE")
    del removed["dynamodb"]["NewImage"]
    untyped = bucket_record("d-1", "temp", MINUTE, {0: 1}, sequence="3")
    del untyped["dynamodb"]["NewImage"]["type"]
    before = dynamodb_client().scan(TableName=table)["Items"]
    assert run(device, removed, untyped) == {"batchItemFailures": []}
    assert dynamodb_client().scan(TableName=table)["Items"] == before


def test_a_batch_makes_one_rollup_write_per_device_metric_hour_and_one_device_write(table, monkeypatch):
    register()
    calls = []
    client = dynamodb_client()
    original = client.update_item

    def counting(**kwargs):
        calls.append(kwargs["Key"]["sk"]["S"])
        return original(**kwargs)

    monkeypatch.setattr(client, "update_item", counting)
    records = [
        bucket_record(
            "d-1", "temp", MINUTE + m * 60_000, {o * 1000: o for o in range(n + 1)}, sequence=str(i)
        )
        for i, (m, n) in enumerate([(0, 5), (0, 9), (1, 3), (2, 7)])
    ]
    assert run(*records) == {"batchItemFailures": []}
    assert sorted(calls) == ["DEVICE", f"H#temp#{MINUTE:013d}"]
    item = rollup(table, "d-1", "temp", MINUTE)
    assert [Stats.from_bytes(item[f"m{m}"]["B"]).count for m in range(3)] == [10, 4, 8]


def test_a_minute_rolled_up_before_the_compact_form_is_read_and_only_replaced_by_more_readings(table):
    register()
    old = {
        "pk": "DEVICE#d-1",
        "sk": f"H#temp#{MINUTE:013d}",
        "type": "ROLLUP",
        "0": [3, 1, 5, 9],
        "1": [1, 2, 2, 2],
    }
    dynamodb_client().put_item(TableName=table, Item=serialize(old))
    fewer = bucket_record("d-1", "temp", MINUTE, {0: 7, 1000: 8}, sequence="1")
    more = bucket_record("d-1", "temp", MINUTE + 60_000, dict.fromkeys(range(3), 4), sequence="2")
    assert run(fewer, more) == {"batchItemFailures": []}
    query = {"metric": "temp", "from": str(MINUTE), "to": str(MINUTE + 119_999)}
    rows = body(api.handler(admin_event("GET", "/devices/d-1/aggregates", query=query), lambda_context()))[
        "items"
    ]
    assert [(row["count"], row["sum"]) for row in rows] == [(3, 9), (3, 12)]


def test_a_failed_write_fails_only_the_records_it_serves(table, monkeypatch):
    register()
    register("d-2")
    client = dynamodb_client()
    original = client.update_item

    def failing(**kwargs):
        if kwargs["Key"]["pk"]["S"] == "DEVICE#d-2":
            raise RuntimeError("throttled")
        return original(**kwargs)

    monkeypatch.setattr(client, "update_item", failing)
    ok = bucket_record("d-1", "temp", MINUTE, {0: 1}, sequence="1")
    failing_record = bucket_record("d-2", "temp", MINUTE, {0: 1}, sequence="2")
    assert run(ok, failing_record) == {"batchItemFailures": [{"itemIdentifier": "2"}]}
    # When the first record fails the invocation fails (so the mapping's bisect-on-error can split the batch).
    with pytest.raises(BatchProcessingError):
        run(failing_record, ok)
    poison = bucket_record("d-1", "temp", MINUTE, {0: 1}, sequence="3")
    poison["dynamodb"]["NewImage"]["sk"] = {"S": "R#broken"}
    with pytest.raises(BatchProcessingError):
        run(poison)


def test_unreadable_rules_fail_the_device_updates_but_not_the_rollups(table, monkeypatch):
    register()
    client = dynamodb_client()

    def failing(**_):
        raise RuntimeError("throttled")

    monkeypatch.setattr(client, "batch_get_item", failing)
    first = bucket_record("d-1", "temp", MINUTE, {0: 1}, sequence="1")
    second = bucket_record("d-1", "hum", MINUTE, {0: 50}, sequence="2")
    # Both records feed the device's state, which was not written: both are retried.
    with pytest.raises(BatchProcessingError):
        run(first, second)
    assert rollup(table, "d-1", "temp", MINUTE) is not None
    assert rollup(table, "d-1", "hum", MINUTE) is not None


def test_writes_for_different_devices_are_in_flight_together(table, monkeypatch):
    """Each device write waits at a barrier for the other device's: sequential writes would never
    meet there (the barrier's timeout only keeps a broken run from hanging)."""
    register()
    register("d-2")
    client = dynamodb_client()
    original = client.update_item
    both_devices = threading.Barrier(2, timeout=10)

    def meeting(**kwargs):
        if kwargs["Key"]["sk"]["S"] == "DEVICE":
            both_devices.wait()
        return original(**kwargs)

    monkeypatch.setattr(client, "update_item", meeting)
    records = [
        bucket_record(d, "temp", MINUTE, {0: 1}, sequence=str(i)) for i, d in enumerate(["d-1", "d-2"])
    ]
    assert run(*records) == {"batchItemFailures": []}


def test_alerts_and_state_come_from_new_readings_only(table):
    register()
    api.handler(
        admin_event(
            "PUT", "/devices/d-1/rules", body={"rules": [{"metric": "temp", "op": "gt", "threshold": 5}]}
        ),
        lambda_context(),
    )
    old = {0: 9, 1000: 1}
    record = bucket_record("d-1", "temp", MINUTE, {**old, 2000: 7, 3000: 2}, old=old)
    assert run(record) == {"batchItemFailures": []}
    items = dynamodb_client().scan(TableName=table)["Items"]
    alerts = [item for item in items if item["type"]["S"] == "ALERT"]
    assert [int(a["ts"]["N"]) - MINUTE for a in alerts] == [2000]
    device = next(item for item in items if item["type"]["S"] == "DEVICE")
    assert int(device["lastSeen"]["N"]) == MINUTE + 3000
    assert Decimal(device["latest"]["M"]["temp"]["M"]["value"]["N"]) == 2


def test_a_device_tracks_a_bounded_number_of_metrics_and_the_known_ones_keep_moving(table, monkeypatch):
    """A device posting endless new metric names must not grow its item past DynamoDB's 400 KB."""
    monkeypatch.setattr(devices_module, "MAX_LATEST_METRICS", 5)
    register()
    repo = devices_module.DevicesRepository(table, dynamodb_client())
    first = {f"m{n}": Latest(1, Decimal(n)) for n in (1, 2, 3)}
    repo.advance_device_state("d-1", DeviceState(1, first))
    later = {f"m{n}": Latest(2, Decimal(10 + n)) for n in (1, 4, 5, 6, 7)}
    repo.advance_device_state("d-1", DeviceState(2, later))
    device = body(api.handler(admin_event("GET", "/devices/d-1"), lambda_context()))
    assert device["lastSeen"] == 2
    assert device["latest"] == {
        "m1": {"value": 11, "ts": 2},  # tracked already: moves on
        "m2": {"value": 2, "ts": 1},
        "m3": {"value": 3, "ts": 1},
        "m4": {"value": 14, "ts": 2},  # new, while there is room (by name)
        "m5": {"value": 15, "ts": 2},
    }
