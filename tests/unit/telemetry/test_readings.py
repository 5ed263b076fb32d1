"""Reading validation (every rule, every bad reading named) and bucketing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from commons.dynamodb import serialize
from telemetry.domain.readings import (
    BUCKET_MS,
    InvalidReadings,
    Reading,
    bucket,
    bucket_of,
    new_readings,
    parse_batch,
    unpack,
)
from telemetry.domain.rollups import Stats
from telemetry.repository.table import expires_at

NOW = 1_800_000_000_000
RETENTION = 7 * 86_400_000


def good(**overrides):
    return {"metric": "temp", "value": 21.5, "ts": NOW - 1000, **overrides}


def problems(payload) -> list[dict]:
    with pytest.raises(InvalidReadings) as caught:
        parse_batch(payload, NOW, RETENTION)
    assert caught.value.status == 422
    return caught.value.extensions["errors"]


def test_a_valid_batch_parses_into_exact_decimals():
    parsed = parse_batch({"readings": [good(), good(metric="hum", value=3, ts=NOW)]}, NOW, RETENTION)
    assert parsed == [
        Reading(NOW - 1000, "temp", Decimal("21.5")),
        Reading(NOW, "hum", Decimal(3)),
    ]
    assert parse_batch({"readings": [good(value=0.1)]}, NOW, RETENTION)[0].value == Decimal("0.1")


@pytest.mark.parametrize(
    ("reading", "pointer", "detail"),
    [
        (good(metric="1temp"), "/readings/0/metric", "must match"),
        (good(metric="t" * 65), "/readings/0/metric", "must match"),
        (good(metric="te mp"), "/readings/0/metric", "must match"),
        (good(metric=""), "/readings/0/metric", "must match"),
        (good(metric=7), "/readings/0/metric", "must match"),
        (good(value="21.5"), "/readings/0/value", "must be a number"),
        (good(value=True), "/readings/0/value", "must be a number"),
        (good(value=None), "/readings/0/value", "must be a number"),
        (good(value=float("nan")), "/readings/0/value", "finite"),
        (good(value=float("inf")), "/readings/0/value", "finite"),
        (good(value=-float("inf")), "/readings/0/value", "finite"),
        (good(value=1e101), "/readings/0/value", "between"),
        (good(value=1e-101), "/readings/0/value", "between"),
        (good(value=10**101), "/readings/0/value", "between"),
        (good(value=10**40 + 1), "/readings/0/value", "38 significant digits"),
        (good(value=10**38 + 1), "/readings/0/value", "38 significant digits"),  # 39: one too many
        # Storable itself, but minus 1e-100 it leaves 1e-137, which no rollup sum could store.
        (good(value=Decimal("1.0000000000000000000000000000000000001e-100")), "/readings/0/value", "1e-130"),
        (good(ts=float(NOW)), "/readings/0/ts", "integer"),
        (good(ts=str(NOW)), "/readings/0/ts", "integer"),
        (good(ts=True), "/readings/0/ts", "integer"),
        (good(ts=NOW + 5 * 60_000 + 1), "/readings/0/ts", "future"),
        (good(ts=NOW - RETENTION - 1), "/readings/0/ts", "retention"),
        ({"metric": "temp", "value": 1}, "/readings/0/ts", "required"),
        ({"metric": "temp", "ts": NOW}, "/readings/0/value", "required"),
        ({"value": 1, "ts": NOW}, "/readings/0/metric", "required"),
        (good(unit="C"), "/readings/0/unit", "not a known field"),
        ("temp=21.5", "/readings/0", "must be an object"),
    ],
)
def test_each_rule_rejects_with_the_reading_index_and_reason(reading, pointer, detail):
    errors = problems({"readings": [reading]})
    assert len(errors) == 1
    assert errors[0]["index"] == 0
    assert errors[0]["pointer"] == pointer
    assert detail in errors[0]["detail"]


def test_the_limits_themselves_are_accepted():
    edge = [
        good(ts=NOW + 5 * 60_000),
        good(ts=NOW - RETENTION),
        good(metric="a", value=1e100),
        good(metric="b" + "x" * 63, value=-1e-100),
        good(metric="c", value=0),
        good(metric="d", value=-0.0),
        good(metric="e", value=10**38 - 1),
        good(metric="f", value=10**60),
        good(metric="g", value=Decimal("12345678901234567890123456789012345678e-130")),  # last digit 1e-130
    ]
    assert len(parse_batch({"readings": edge}, NOW, RETENTION)) == 9


def test_accepted_values_that_nearly_cancel_still_sum_to_a_storable_number():
    high = Decimal("12345678901234567890123456789012345678e-130")
    low = Decimal("12345678901234567890123456789012345677e-130")
    values = [
        reading.value
        for reading in parse_batch(
            {"readings": [good(value=high), good(metric="m", value=low.copy_negate())]}, NOW, RETENTION
        )
    ]
    total = Stats.of(values).sum
    assert total == Decimal("1e-130")
    assert serialize({"sum": total}) == {"sum": {"N": "1E-130"}}  # DynamoDB's number rules: no underflow


def test_every_bad_reading_is_named_and_good_ones_are_not():
    errors = problems(
        {"readings": [good(), good(value="x"), good(), good(metric="9", ts=NOW * 2), good(ts=NOW - 1)]}
    )
    assert [(e["index"], e["pointer"]) for e in errors] == [
        (1, "/readings/1/value"),
        (3, "/readings/3/metric"),
        (3, "/readings/3/ts"),
    ]


@pytest.mark.parametrize(
    ("payload", "pointer"),
    [
        ([good()], "/"),
        ({"readings": []}, "/readings"),
        ({"readings": [good(ts=NOW - i) for i in range(501)]}, "/readings"),
        ({"readings": {"0": good()}}, "/readings"),
        ({}, "/readings"),
        ({"readings": [good()], "device": "x"}, "/device"),
    ],
)
def test_batch_shape_errors(payload, pointer):
    errors = problems(payload)
    assert errors[0]["pointer"] == pointer
    assert "index" not in errors[0]


def test_500_readings_is_the_largest_batch():
    assert len(parse_batch({"readings": [good(ts=NOW - i) for i in range(500)]}, NOW, RETENTION)) == 500


def test_readings_pack_into_device_buckets_of_2_minutes_every_metric_together():
    start = bucket_of(NOW)
    parsed = [
        Reading(start, "temp", Decimal(1)),
        Reading(start + BUCKET_MS - 1, "temp", Decimal(2)),
        Reading(start + BUCKET_MS, "temp", Decimal(3)),
        Reading(start + 5, "hum", Decimal(4)),
    ]
    buckets = bucket(parsed)
    assert buckets.repeated == 0
    assert buckets.readings == {
        start: {
            (start, "temp"): Decimal(1),
            (start + BUCKET_MS - 1, "temp"): Decimal(2),
            (start + 5, "hum"): Decimal(4),
        },
        start + BUCKET_MS: {(start + BUCKET_MS, "temp"): Decimal(3)},
    }
    assert unpack(buckets.readings[start]) == [parsed[0], parsed[3], parsed[1]]


def test_same_metric_and_ts_twice_in_a_batch_keeps_the_first_and_counts_a_duplicate():
    buckets = bucket(
        [Reading(NOW, "temp", Decimal(1)), Reading(NOW, "temp", Decimal(2)), Reading(NOW, "hum", 3)]
    )
    assert buckets.repeated == 1
    assert buckets.readings[bucket_of(NOW)] == {(NOW, "temp"): Decimal(1), (NOW, "hum"): 3}


def test_new_readings_of_a_bucket_version_are_new_image_minus_old_image():
    one, two = (1, "temp"), (2, "temp")
    assert new_readings({one: Decimal(1), two: Decimal(2)}, {one: Decimal(1)}) == {two: Decimal(2)}
    assert new_readings({one: Decimal(1)}, None) == {one: Decimal(1)}
    assert new_readings({one: Decimal(1)}, {one: Decimal(1)}) == {}


def test_buckets_expire_a_retention_period_after_they_end():
    start = bucket_of(1_800_000_000_000)
    assert expires_at(start, 7) == start // 1000 + 120 + 7 * 86_400
