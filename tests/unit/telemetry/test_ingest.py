"""The device route: who may post, what is stored, what counts as a duplicate."""

from __future__ import annotations

import base64
import json
from decimal import Decimal

import pytest
from botocore.exceptions import ClientError

from telemetry.domain.readings import BUCKET_MS
from telemetry.handlers import api, ingest
from telemetry.repository.readings import contents_of
from telemetry.repository.table import ContentionError
from tests.aws import dynamodb_client
from tests.events import lambda_context
from tests.unit.telemetry.support import admin_event, body, device_event, now_ms, readings


def post(device_id, payload, **options):
    return ingest.handler(device_event(device_id, payload, **options), lambda_context())


def stored_items(table):
    return dynamodb_client().scan(TableName=table)["Items"]


def problem(response, status):
    assert response["statusCode"] == status, response
    assert response["multiValueHeaders"]["Content-Type"] == ["application/problem+json"]
    return body(response)


def test_another_devices_token_is_403_and_stores_nothing(table):
    start = now_ms() - 10_000
    detail = problem(post("d-1", {"readings": readings("temp", start, 3)}, caller="d-2"), 403)
    assert detail["status"] == 403
    assert stored_items(table) == []


def test_no_authorizer_context_is_401(table):
    event = device_event("d-1", {"readings": readings("temp", now_ms(), 1)})
    event["requestContext"]["authorizer"] = None
    problem(ingest.handler(event, lambda_context()), 401)


def test_malformed_json_is_400_and_a_missing_body_is_422(table):
    problem(post("d-1", None, raw="{not json"), 400)
    problem(post("d-1", None, raw='{"readings": ' + "[" * 100_000 + "]" * 100_000 + "}"), 400)
    event = device_event("d-1", None)
    event["body"] = None
    assert problem(ingest.handler(event, lambda_context()), 422)["errors"] == [
        {"pointer": "", "detail": "Field required"}
    ]


def test_a_number_longer_than_python_converts_is_400(table):
    raw = '{"readings": [{"metric": "temp", "ts": 1, "value": ' + "9" * 5000 + "}]}"
    assert "too many digits" in problem(post("d-1", None, raw=raw), 400)["detail"]


@pytest.mark.parametrize(
    "number", ["1e9999999999999999999", "0e9999999999999999999", "1.5e-9999999999999999999"]
)
@pytest.mark.parametrize("field", ["value", "ts"])
def test_a_number_whose_exponent_no_decimal_holds_is_400(table, number, field):
    numbers = {"ts": "1", "value": "21"} | {field: number}  # raw JSON numbers, as a device would send them
    raw = f'{{"readings": [{{"metric": "temp", "ts": {numbers["ts"]}, "value": {numbers["value"]}}}]}}'
    assert "exponent is out of range" in problem(post("d-1", None, raw=raw), 400)["detail"]


def test_a_body_that_is_not_json_by_its_content_type_is_415(table):
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        event = device_event("d-1", {"readings": readings("temp", now_ms(), 1)})
        event["headers"] = {"content-type": content_type}
        assert content_type in problem(ingest.handler(event, lambda_context()), 415)["detail"]
    for headers in ({"Content-Type": "application/json; charset=utf-8"}, {}):  # none given: JSON
        event = device_event("d-1", {"readings": readings("temp", now_ms() - 1000 * len(headers), 1)})
        event["headers"] = headers
        response = ingest.handler(event, lambda_context())
        assert (response["statusCode"], body(response)) == (202, {"accepted": 1, "duplicates": 0})


def test_values_are_read_exactly_so_none_is_rounded_into_range_or_precision(table):
    ts = now_ms() - 1000
    for raw_value, detail in (
        ("1e-400", "between 1e-100 and 1e100"),
        ("0.1234567890123456789012345678901234567890123", "38 significant digits"),
        (str(10**100 + 10**63), "between 1e-100 and 1e100"),
    ):
        raw = f'{{"readings": [{{"metric": "temp", "ts": {ts}, "value": {raw_value}}}]}}'
        assert detail in problem(post("d-1", None, raw=raw), 422)["errors"][0]["detail"]
    assert stored_items(table) == []
    exact = "0.12345678901234567890123456789012345678"
    raw = f'{{"readings": [{{"metric": "temp", "ts": {ts}, "value": {exact}}}]}}'
    assert post("d-1", None, raw=raw)["statusCode"] == 202
    [item] = stored_items(table)
    assert str(contents_of(item)[(ts, "temp")]) == exact


def test_one_bad_reading_rejects_the_batch_naming_each_bad_one_and_nothing_is_written(table):
    batch = readings("temp", now_ms() - 10_000, 5)
    batch[1]["value"] = "hot"
    batch[4]["ts"] = now_ms() + 3_600_000
    detail = problem(post("d-1", {"readings": batch}), 422)
    assert [(e["index"], e["pointer"]) for e in detail["errors"]] == [
        (1, "/readings/1/value"),
        (4, "/readings/4/ts"),
    ]
    assert "/readings/1/value" in detail["detail"]
    assert stored_items(table) == []


def test_accepted_readings_are_packed_per_device_and_2_minutes_in_compact_form_with_a_ttl(table):
    start = now_ms() - 240_000
    start -= start % BUCKET_MS
    response = post("d-1", {"readings": readings("temp", start, 130) + readings("hum", start, 10)})
    assert response["statusCode"] == 202
    assert body(response) == {"accepted": 140, "duplicates": 0}
    items = {item["sk"]["S"]: item for item in stored_items(table)}
    assert sorted(items) == [f"R#{start:013d}", f"R#{start + BUCKET_MS:013d}"]
    first = items[f"R#{start:013d}"]
    assert first["type"] == {"S": "READINGS"}
    assert first["pk"] == {"S": "DEVICE#d-1"}
    assert first["v"] == {"N": "1"}
    assert first["c"] == {"N": "130"}
    assert int(first["expiresAt"]["N"]) == (start + BUCKET_MS) // 1000 + 7 * 86_400
    contents = contents_of(first)
    assert contents[(start, "temp")] == 20
    assert contents[(start + 1000, "temp")] == Decimal("20.1")
    assert contents[(start + 9000, "hum")] == Decimal("20.9")
    assert len(contents) == 130
    # A few bytes per reading, not the ~10 an attribute per reading took.
    assert len(first["r"]["B"]) < 130 * 3


def test_reposting_stores_nothing_and_counts_duplicates(table):
    batch = readings("temp", now_ms() - 100_000, 50)
    post("d-1", {"readings": batch[:20]})
    before = {(r["ts"], r["metric"]): Decimal(str(r["value"])) for r in batch[:20]}
    changed = [{**reading, "value": 99} for reading in batch]
    assert body(post("d-1", {"readings": changed})) == {"accepted": 30, "duplicates": 20}
    after: dict = {}
    for item in stored_items(table):
        after.update(contents_of(item))
    assert len(after) == 50
    assert {key: after[key] for key in before} == before, "a duplicate replaced a stored reading"


def test_same_metric_and_ts_twice_in_one_batch_counts_the_second_as_a_duplicate(table):
    ts = now_ms() - 5_000
    batch = [{"metric": "temp", "ts": ts, "value": 1}, {"metric": "temp", "ts": ts, "value": 2}]
    assert body(post("d-1", {"readings": batch})) == {"accepted": 1, "duplicates": 1}
    [item] = stored_items(table)
    assert contents_of(item) == {(ts, "temp"): 1}


def test_a_lost_race_rereads_and_counts_what_the_other_writer_stored_as_duplicates(handlers, monkeypatch):
    batch = readings("temp", now_ms() - 100_000, 40)
    post("d-1", {"readings": batch[:25]})
    # A stale read: the repository believes nothing is stored, so its conditional write loses the race.
    monkeypatch.setattr(handlers.ingestion.readings, "_batch_get", lambda keys, consistent: [])
    assert body(post("d-1", {"readings": batch})) == {"accepted": 15, "duplicates": 25}


def test_base64_bodies_are_decoded(table):
    event = device_event("d-1", None, raw="")
    event["body"] = base64.b64encode(
        json.dumps({"readings": readings("temp", now_ms(), 1)}).encode()
    ).decode()
    event["isBase64Encoded"] = True
    assert body(ingest.handler(event, lambda_context())) == {"accepted": 1, "duplicates": 0}


def test_posting_does_not_need_the_admin_api(table):
    """The device path works for a registered device end to end (authorizer context in, 202 out)."""
    api.handler(admin_event("POST", "/devices", body={"deviceId": "d-9"}), lambda_context())
    assert post("d-9", {"readings": readings("temp", now_ms() - 1000, 1)})["statusCode"] == 202


def test_contention_that_outlasts_the_retries_is_a_503_to_retry(handlers, monkeypatch):
    def contended(*args, **kwargs):
        raise ContentionError("R#0000000060000#temp kept changing under us; retry")

    monkeypatch.setattr(handlers.ingestion.readings, "store_readings", contended)
    detail = problem(post("d-1", {"readings": readings("temp", now_ms() - 10_000, 3)}), 503)
    assert "retry" in detail["detail"]


@pytest.mark.parametrize("code", ["ProvisionedThroughputExceededException", "ThrottlingException"])
def test_throttling_that_outlasts_the_sdks_retries_is_a_503_to_retry(table, monkeypatch, code):
    client = dynamodb_client()

    def throttled(**_):
        raise ClientError({"Error": {"Code": code, "Message": "Rate exceeded"}}, "UpdateItem")

    monkeypatch.setattr(client, "update_item", throttled)
    detail = problem(post("d-1", {"readings": readings("temp", now_ms() - 10_000, 3)}), 503)
    assert "retry" in detail["detail"]


def test_a_full_bucket_is_a_422_not_a_500(table, monkeypatch):
    client = dynamodb_client()

    def too_large(**_):
        raise ClientError(
            {
                "Error": {
                    "Code": "ValidationException",
                    "Message": "Item size has exceeded the maximum allowed size",
                }
            },
            "UpdateItem",
        )

    monkeypatch.setattr(client, "update_item", too_large)
    detail = problem(post("d-1", {"readings": readings("temp", now_ms() - 10_000, 3)}), 422)
    assert "bucket holds" in detail["detail"]
