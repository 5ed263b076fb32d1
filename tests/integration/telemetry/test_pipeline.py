"""Ingest -> DynamoDB Local -> its real stream -> processor -> admin API, end to end."""

from __future__ import annotations

import pytest

from telemetry.domain.readings import HOUR_MS, MINUTE_MS
from telemetry.handlers import api, authorizer, ingest
from telemetry.repository import devices as devices_module
from tests.aws import dynamodb_client
from tests.events import lambda_context
from tests.integration.lost_answers import answers_lost
from tests.integration.telemetry.driver import Telemetry, expected_aggregates
from tests.unit.telemetry.support import admin_event, authorizer_event, body, device_event, now_ms

RULES = [
    {"metric": "temp", "op": "gt", "threshold": 25},
    {"metric": "temp", "op": "gte", "threshold": 24},  # overlaps the first: a reading still alerts once
    {"metric": "hum", "op": "lt", "threshold": 41},
]


def sample(start: int, seconds: int, *, offset: int = 0) -> list[dict]:
    """Two metrics at 1 Hz: temp cycles 20.0..26.x, hum 40.0..42.x."""
    readings = []
    for second in range(seconds):
        ts = start + second * 1000
        readings.append({"metric": "temp", "ts": ts, "value": 20 + ((second + offset) % 67) / 10})
        readings.append({"metric": "hum", "ts": ts, "value": 40 + ((second + offset) % 29) / 10})
    return readings


def expected_alerts(readings: list[dict]) -> list[dict]:
    distinct = {}
    for reading in readings:
        distinct.setdefault((reading["ts"], reading["metric"]), reading)
    alerts = []
    for (ts, metric), reading in sorted(distinct.items()):
        for rule in RULES:
            value, threshold = reading["value"], rule["threshold"]
            crossed = {
                "gt": value > threshold,
                "gte": value >= threshold,
                "lt": value < threshold,
                "lte": value <= threshold,
            }[rule["op"]]
            if rule["metric"] == metric and crossed:
                alerts.append({"metric": metric, "value": reading["value"], "ts": ts, "rule": rule})
                break
    return alerts


@pytest.fixture
def system(handlers, stream) -> Telemetry:
    return Telemetry(handlers, stream)


@pytest.fixture
def start() -> int:
    """Two minutes before the last full hour's end, so batches straddle minute and hour boundaries."""
    return now_ms() - now_ms() % HOUR_MS - 2 * MINUTE_MS - 30_000


def test_posted_batches_become_exact_aggregates_single_alerts_and_device_state(system, start):
    system.register("d-1")
    system.rules("d-1", RULES)
    readings = sample(start, 240)  # 480 readings over 4 minutes, across an hour boundary
    first, second = readings[:300], readings[200:]  # the second batch resends 100 readings
    assert system.post("d-1", first) == {"accepted": 300, "duplicates": 0}
    system.process()
    resent_changed = [{**r, "value": 99} for r in second[:100]]
    assert system.post("d-1", resent_changed + second[100:]) == {"accepted": 180, "duplicates": 100}
    system.process()

    end = start + 240_000
    for metric in ("temp", "hum"):
        for period, size in (("minute", MINUTE_MS), ("hour", HOUR_MS)):
            assert system.aggregates("d-1", metric, period, start, end) == expected_aggregates(
                readings, metric, size
            ), (metric, period)

    alerts = system.alerts("d-1", **{"from": start, "to": end})
    assert alerts == expected_alerts(readings)
    assert len({(a["metric"], a["ts"]) for a in alerts}) == len(alerts)

    device = system.device("d-1")
    last = readings[-2:]
    assert device["lastSeen"] == start + 239_000
    assert device["latest"] == {r["metric"]: {"value": r["value"], "ts": r["ts"]} for r in last}

    raw = system.admin("GET", "/devices/d-1/telemetry", metric="temp", limit=1000)["items"]
    assert raw == [
        {"metric": "temp", "value": r["value"], "ts": r["ts"]} for r in readings if r["metric"] == "temp"
    ]


def test_the_stream_filter_and_the_handler_both_skip_other_items(system, start):
    system.register("d-1")
    system.rules("d-1", RULES)
    system.post("d-1", sample(start, 30))
    system.process(system.records(filtered=False))  # unfiltered: device, rules and readings items together
    before = system.derived_items()
    unfiltered = system.records(filtered=False)  # the processor's own writes: rollups, alerts, device
    assert unfiltered
    assert {r["dynamodb"]["NewImage"]["type"]["S"] for r in unfiltered} <= {"ROLLUP", "ALERT", "DEVICE"}
    system.process(unfiltered)
    assert system.derived_items() == before


def test_redelivering_the_same_stream_batch_changes_no_aggregate_alert_or_state(system, start):
    system.register("d-1")
    system.rules("d-1", RULES)
    system.post("d-1", sample(start, 60))
    batch_one = system.process()
    system.post("d-1", sample(start + 60_000, 90, offset=60))
    batch_two = system.process()
    after_first_delivery = system.derived_items()
    aggregates = system.aggregates("d-1", "temp", "minute", start, start + 150_000)

    system.process(batch_two)
    system.process(batch_one + batch_two)
    system.process(list(reversed(batch_one + batch_two)))
    assert system.derived_items() == after_first_delivery
    assert system.aggregates("d-1", "temp", "minute", start, start + 150_000) == aggregates


def test_late_and_out_of_order_records_never_move_state_or_rollups_backwards(system, start):
    system.register("d-1")
    recent = now_ms() - 10_000
    system.post("d-1", [{"metric": "temp", "ts": recent, "value": 1.5}])
    system.process()
    state = system.device("d-1")
    assert state["lastSeen"] == recent

    # Late readings (an hour older) are stored and rolled up but do not move lastSeen/latest back.
    late = [reading for reading in sample(start, 20) if reading["metric"] == "temp"]
    system.post("d-1", late)
    system.process()
    assert system.device("d-1") == state
    assert system.aggregates("d-1", "temp", "minute", start, start + 19_000) == expected_aggregates(
        late, "temp", MINUTE_MS
    )

    # Two versions of one bucket delivered newest first: the older one must not replace the rollup.
    # Two minutes before the late readings' minute: never the minute of `recent`, whatever the time of day.
    minute = start - start % MINUTE_MS - 2 * MINUTE_MS
    older = [{"metric": "temp", "ts": minute + i * 1000, "value": i} for i in range(5)]
    newer = [{"metric": "temp", "ts": minute + i * 1000, "value": i} for i in range(5, 12)]
    system.post("d-1", older)
    system.post("d-1", newer)
    first_version, second_version = system.records()
    system.process([second_version])
    system.process([first_version])
    assert system.aggregates("d-1", "temp", "minute", minute, minute) == expected_aggregates(
        older + newer, "temp", MINUTE_MS
    )
    assert system.device("d-1") == state


def test_a_lost_race_on_a_bucket_counts_the_other_writers_readings_as_duplicates(system, start, monkeypatch):
    system.register("d-1")
    readings = sample(start, 40)
    system.post("d-1", readings[:30])
    with monkeypatch.context() as patch:
        patch.setattr(
            system.handlers.ingestion.readings, "_batch_get", lambda keys, consistent: []
        )  # a stale read
        assert system.post("d-1", readings) == {"accepted": 50, "duplicates": 30}
    system.process()
    assert system.aggregates("d-1", "temp", "hour", start, start + 40_000)[0]["count"] == 40


def test_alerts_page_with_a_cursor(system, start):
    system.register("d-1")
    system.rules("d-1", [{"metric": "temp", "op": "gte", "threshold": 0}])
    system.post("d-1", sample(start, 25))
    system.process()
    pages = []
    token = None
    while True:
        page = system.admin("GET", "/devices/d-1/alerts", limit=10, nextToken=token)
        pages.append(len(page["items"]))
        token = page["nextToken"]
        if token is None:
            break
    assert pages == [10, 10, 5]
    assert [a["ts"] for a in system.alerts("d-1")] == [start + i * 1000 for i in range(25)]


def test_the_authorizer_checks_tokens_against_the_stored_hash(system):
    token = system.register("d-1")
    allowed = authorizer.handler(authorizer_event(f"Bearer {token}"), lambda_context())
    assert allowed["context"] == {"deviceId": "d-1"}
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer.handler(authorizer_event(f"Bearer {token[:-2]}xx"), lambda_context())
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer.handler(authorizer_event("Bearer nobody." + "a" * 43), lambda_context())


def test_bad_listing_parameters_are_4xx_against_the_real_database(system, start):
    system.register("d-1")
    system.post("d-1", sample(start, 60))
    page = system.admin("GET", "/devices/d-1/telemetry", limit=100)
    assert len(page["items"]) == 100
    # A cursor past the new range: DynamoDB rejects a BETWEEN whose bounds cross, so this must not reach it.
    beyond = {"to": start + 5_000, "nextToken": page["nextToken"]}
    assert system.admin("GET", "/devices/d-1/telemetry", **beyond) == {"items": [], "nextToken": None}
    alerts_page = system.admin("GET", "/devices/d-1/alerts", limit=1)
    assert alerts_page == {"items": [], "nextToken": None}


def test_a_value_dynamodb_cannot_store_rejects_the_whole_batch_and_writes_nothing(system, start):
    system.register("d-1")
    before = system.derived_items()
    too_long = 10**40 + 1  # 41 significant digits: DynamoDB keeps 38
    readings = [{"metric": "a", "ts": start, "value": 1}, {"metric": "b", "ts": start, "value": too_long}]
    response = ingest.handler(device_event("d-1", {"readings": readings}), lambda_context())
    assert response["statusCode"] == 422, response
    assert [error["pointer"] for error in body(response)["errors"]] == ["/readings/1/value"]
    assert system.admin("GET", "/devices/d-1/telemetry") == {"items": [], "nextToken": None}
    assert system.derived_items() == before


def test_a_batch_of_hundreds_of_metrics_moves_the_device_state_of_every_one(system, start):
    """DynamoDB caps a condition at 4 KB, about 60 metrics of one device-state write: it is written in parts."""
    system.register("d-1")
    readings = [{"metric": f"m{index}", "ts": start + index, "value": index} for index in range(250)]
    assert system.post("d-1", readings) == {"accepted": 250, "duplicates": 0}
    system.process()
    device = system.device("d-1")
    assert device["lastSeen"] == start + 249
    assert device["latest"] == {r["metric"]: {"value": r["value"], "ts": r["ts"]} for r in readings}


def test_a_device_tracks_a_bounded_number_of_metrics(system, start, monkeypatch):
    monkeypatch.setattr(devices_module, "MAX_LATEST_METRICS", 100)
    system.register("d-1")
    readings = [{"metric": f"m{index:03d}", "ts": start + index, "value": index} for index in range(250)]
    system.post("d-1", readings)
    system.process()
    device = system.device("d-1")
    assert device["lastSeen"] == start + 249
    assert sorted(device["latest"]) == [f"m{index:03d}" for index in range(100)]


def test_a_registration_whose_answer_was_lost_still_hands_out_a_working_token(system):
    # The device item was written, its answer lost, and botocore sent the same PutItem again: the
    # admin must get the token that was stored, not a 409 that leaves the id taken and no token.
    with answers_lost(dynamodb_client(), "PutItem") as lost:
        token = system.register("d-lost")
    assert lost == [200]
    allowed = authorizer.handler(authorizer_event(f"Bearer {token}"), lambda_context())
    assert allowed["context"] == {"deviceId": "d-lost"}
    # Registering the id again is a request of its own, and still a conflict.
    again = api.handler(admin_event("POST", "/devices", body={"deviceId": "d-lost"}), lambda_context())
    assert again["statusCode"] == 409
