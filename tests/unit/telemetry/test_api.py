"""Admin API: admins only, 404s, conflicts, tokens stored only as hashes, and bad input as 4xx."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from decimal import Decimal

import pytest

from telemetry.domain.readings import MAX_TS
from telemetry.domain.rules import Alert, Rule
from telemetry.handlers import api, ingest
from tests.aws import dynamodb_client
from tests.events import lambda_context
from tests.unit.telemetry.support import CUSTOMER, admin_event, body, device_event, now_ms, readings

ROUTES = [
    ("POST", "/devices", {"deviceId": "d-1"}),
    ("GET", "/devices", None),
    ("GET", "/devices/d-1", None),
    ("GET", "/devices/d-1/telemetry", None),
    ("GET", "/devices/d-1/aggregates", None),
    ("PUT", "/devices/d-1/rules", {"rules": []}),
    ("GET", "/devices/d-1/alerts", None),
    ("POST", "/devices/d-1/token", None),
]


def call(method, path, body=None, query=None, claims=None):
    return api.handler(admin_event(method, path, body=body, query=query, claims=claims), lambda_context())


def register(device_id="d-1", name=None) -> str:
    response = call("POST", "/devices", {"deviceId": device_id, **({"name": name} if name else {})})
    assert response["statusCode"] == 201, response
    return body(response)["token"]


def problem(response, status):
    assert response["statusCode"] == status, response
    assert response["multiValueHeaders"]["Content-Type"] == ["application/problem+json"]
    return body(response)


@pytest.mark.parametrize(("method", "path", "payload"), ROUTES)
def test_every_route_is_for_admins_only(table, method, path, payload):
    query = {"metric": "temp"} if path.endswith("aggregates") else None
    problem(call(method, path, payload, query, claims=CUSTOMER), 403)
    anonymous = api.handler(
        {**admin_event(method, path, body=payload, query=query), "requestContext": {"requestId": "r"}},
        lambda_context(),
    )
    problem(anonymous, 401)


@pytest.mark.parametrize(("method", "path", "payload"), ROUTES[2:])
def test_unknown_devices_are_404_on_every_device_route(table, method, path, payload):
    query = {"metric": "temp"} if path.endswith("aggregates") else None
    problem(call(method, path, payload, query), 404)
    problem(call(method, path.replace("d-1", "no.such.id"), payload, query), 404)


def test_register_returns_the_token_once_and_stores_only_its_hash(table):
    token = register("d-1", name="Boiler")
    assert token.startswith("d-1.")
    items = dynamodb_client().scan(TableName=table)["Items"]
    assert token not in json.dumps(items)
    assert items[0]["tokenHash"] == {"S": hashlib.sha256(token.encode()).hexdigest()}
    device = body(call("GET", "/devices/d-1"))
    assert device == {
        "deviceId": "d-1",
        "name": "Boiler",
        "createdAt": device["createdAt"],
        "lastSeen": None,
        "latest": {},
    }
    assert abs(device["createdAt"] - now_ms()) < 60_000


def test_register_without_an_id_generates_one(table):
    created = body(call("POST", "/devices", {}))
    assert re.fullmatch(r"[A-Za-z0-9_-]{3,64}", created["deviceId"])
    assert created["token"].startswith(created["deviceId"] + ".")
    assert call("GET", f"/devices/{created['deviceId']}")["statusCode"] == 200


def test_an_existing_id_is_a_conflict_and_keeps_the_first_token(table):
    register("d-1")
    stored = dynamodb_client().scan(TableName=table)["Items"][0]["tokenHash"]
    problem(call("POST", "/devices", {"deviceId": "d-1"}), 409)
    assert dynamodb_client().scan(TableName=table)["Items"][0]["tokenHash"] == stored


@pytest.mark.parametrize(
    "payload",
    [
        {"deviceId": "ab"},
        {"deviceId": "a" * 65},
        {"deviceId": "has space"},
        {"deviceId": 12345},
        {"extra": 1},
    ],
)
def test_bad_registrations_are_422(table, payload):
    problem(call("POST", "/devices", payload), 422)


def test_rules_are_stored_and_returned(table):
    register()
    rules = [
        {"metric": "temp", "op": "gt", "threshold": 30.5},
        {"metric": "hum", "op": "lte", "threshold": 10},
    ]
    response = call("PUT", "/devices/d-1/rules", {"rules": rules})
    assert response["statusCode"] == 200
    assert body(response) == {"rules": rules}


@pytest.mark.parametrize(
    "rule",
    [
        {"metric": "temp", "op": "eq", "threshold": 1},
        {"metric": "9temp", "op": "gt", "threshold": 1},
        {"metric": "temp", "op": "gt", "threshold": "1"},
        {"metric": "temp", "op": "gt", "threshold": 1e300},
        {"metric": "temp", "op": "gt", "threshold": 10**40 + 1},
        {"metric": "temp", "op": "gt"},
        {"metric": "temp", "op": "gt", "threshold": 1, "note": "x"},
    ],
)
def test_bad_rules_are_422(table, rule):
    register()
    problem(call("PUT", "/devices/d-1/rules", {"rules": [rule]}), 422)


def test_non_finite_thresholds_are_422(table):
    register()
    event = admin_event("PUT", "/devices/d-1/rules")
    event["body"] = '{"rules": [{"metric": "temp", "op": "gt", "threshold": NaN}]}'
    problem(api.handler(event, lambda_context()), 422)


def test_too_many_rules_are_422(table):
    register()
    rules = [{"metric": "temp", "op": "gt", "threshold": n} for n in range(51)]
    problem(call("PUT", "/devices/d-1/rules", {"rules": rules}), 422)


@pytest.mark.parametrize(
    ("path", "query", "status"),
    [
        ("telemetry", {"from": "yesterday"}, 422),
        ("telemetry", {"from": "-1"}, 422),
        ("telemetry", {"from": "10", "to": "5"}, 422),
        ("telemetry", {"limit": "0"}, 422),
        ("telemetry", {"limit": "1001"}, 422),
        ("telemetry", {"metric": "not a metric"}, 422),
        ("telemetry", {"nextToken": "garbage!"}, 400),
        ("telemetry", {"nextToken": "eyJhIjoxfQ"}, 400),
        ("aggregates", {}, 422),
        ("aggregates", {"metric": "temp", "period": "day"}, 422),
        ("aggregates", {"metric": "temp", "from": "0", "to": str(8 * 86_400_000)}, 422),
        ("aggregates", {"metric": "temp", "period": "hour", "to": "x"}, 422),
        ("alerts", {"to": "1.5"}, 422),
        ("alerts", {"nextToken": "garbage"}, 400),
    ],
)
def test_bad_query_parameters_are_4xx_problems(table, path, query, status):
    register()
    problem(call("GET", f"/devices/d-1/{path}", query=query), status)


def test_time_ranges_reach_the_last_13_digit_timestamp_and_no_further(handlers):
    register()
    ts = now_ms() - 10_000
    handlers.service.alerts.put_alerts(
        "d-1", [Alert("temp", ts, Decimal(30), Rule("temp", "gt", Decimal(25)))]
    )
    everything = {"from": "0", "to": str(MAX_TS)}
    assert [alert["ts"] for alert in body(call("GET", "/devices/d-1/alerts", query=everything))["items"]] == [
        ts
    ]
    for path in ("alerts", "telemetry"):
        problem(call("GET", f"/devices/d-1/{path}", query={"to": str(MAX_TS + 1)}), 422)
        problem(call("GET", f"/devices/d-1/{path}", query={"from": "9" * 1100}), 422)


def test_a_cursor_from_another_device_or_listing_is_rejected(table):
    register("d-1")
    register("d-2")
    start = now_ms() - 200_000
    for device in ("d-1", "d-2"):
        posted = ingest.handler(
            device_event(device, {"readings": readings("temp", start, 10)}), lambda_context()
        )
        assert posted["statusCode"] == 202
    page = body(call("GET", "/devices/d-2/telemetry", query={"limit": "2"}))
    assert page["nextToken"]
    problem(call("GET", "/devices/d-1/telemetry", query={"nextToken": page["nextToken"]}), 400)
    problem(call("GET", "/devices/d-2/alerts", query={"nextToken": page["nextToken"]}), 400)
    edited = json.loads(base64.urlsafe_b64decode(page["nextToken"] + "=="))
    edited["o"] = {"N": "99999999"}
    token = base64.urlsafe_b64encode(json.dumps(edited).encode()).decode().rstrip("=")
    problem(call("GET", "/devices/d-2/telemetry", query={"nextToken": token}), 400)


def test_readings_page_through_ascending_across_metrics_without_gaps_or_repeats(table):
    register()
    start = now_ms() - 300_000
    posted = readings("temp", start, 150, step=1000) + readings("hum", start + 500, 150, step=1000)
    response = ingest.handler(device_event("d-1", {"readings": posted[:250]}), lambda_context())
    assert body(response) == {"accepted": 250, "duplicates": 0}
    ingest.handler(device_event("d-1", {"readings": posted[250:]}), lambda_context())
    seen, token = [], None
    while True:
        query = {"limit": "7", **({"nextToken": token} if token else {})}
        page = body(call("GET", "/devices/d-1/telemetry", query=query))
        seen += page["items"]
        token = page["nextToken"]
        if token is None:
            break
    expected = sorted(posted, key=lambda r: (r["ts"], r["metric"]))
    assert seen == [{"metric": r["metric"], "value": r["value"], "ts": r["ts"]} for r in expected]
    only_hum = body(call("GET", "/devices/d-1/telemetry", query={"metric": "hum", "limit": "1000"}))["items"]
    assert [r["ts"] for r in only_hum] == [r["ts"] for r in posted if r["metric"] == "hum"]
    window = body(
        call("GET", "/devices/d-1/telemetry", query={"from": str(start + 10_000), "to": str(start + 12_000)})
    )["items"]
    assert [(r["ts"] - start, r["metric"]) for r in window] == [
        (10_000, "temp"),
        (10_500, "hum"),
        (11_000, "temp"),
        (11_500, "hum"),
        (12_000, "temp"),
    ]


def test_values_are_answered_as_doubles_and_whole_ones_as_integers(table):
    """Stored exactly as posted, answered as JSON numbers of double precision (docs/telemetry.md)."""
    register()
    ts = now_ms() - 60_000
    posted = ["21", "21.5", "-0.125", "9007199254740992", "123456789012345678901234567890", "1e100"]
    raw = ", ".join(f'{{"metric": "m{i}", "ts": {ts}, "value": {value}}}' for i, value in enumerate(posted))
    event = device_event("d-1", None)
    event["body"] = '{"readings": [' + raw + "]}"
    assert body(ingest.handler(event, lambda_context())) == {"accepted": len(posted), "duplicates": 0}
    answered = call("GET", "/devices/d-1/telemetry")["body"]
    values = re.findall(r'"value":([^,}]+)', answered)
    assert values == ["21", "21.5", "-0.125", "9007199254740992", "1.2345678901234568e+29", "1e+100"]


def test_a_cursor_beyond_the_requested_range_gives_an_empty_last_page(table):
    register()
    start = now_ms() - 200_000
    ingest.handler(device_event("d-1", {"readings": readings("temp", start, 120)}), lambda_context())
    page = body(call("GET", "/devices/d-1/telemetry", query={"limit": "100"}))
    assert len(page["items"]) == 100
    narrowed = {"to": str(start + 5_000), "nextToken": page["nextToken"]}
    assert body(call("GET", "/devices/d-1/telemetry", query=narrowed)) == {"items": [], "nextToken": None}


def test_devices_are_listed_by_id_a_page_at_a_time_with_their_state(table):
    for device_id in ("d-3", "d-1", "d-5", "d-2", "d-4"):
        register(device_id, name=f"sensor {device_id}")
    assert (
        ingest.handler(
            device_event("d-2", {"readings": readings("temp", now_ms() - 1000, 1)}), lambda_context()
        )["statusCode"]
        == 202
    )
    listed, query = [], {"limit": "2"}
    while True:
        page = body(call("GET", "/devices", query=query))
        assert len(page["items"]) <= 2
        listed += page["items"]
        if page["nextToken"] is None:
            break
        query = {"limit": "2", "nextToken": page["nextToken"]}
    assert [device["deviceId"] for device in listed] == ["d-1", "d-2", "d-3", "d-4", "d-5"]
    assert listed[0] == body(call("GET", "/devices/d-1"))
    assert {device["name"] for device in listed} == {f"sensor d-{n}" for n in range(1, 6)}
    assert all("token" not in device and "tokenHash" not in device for device in listed)


def test_only_devices_are_listed_and_an_empty_fleet_is_one_empty_page(table):
    assert body(call("GET", "/devices")) == {"items": [], "nextToken": None}
    register("d-1")
    call("PUT", "/devices/d-1/rules", {"rules": [{"metric": "temp", "op": "gt", "threshold": 5}]})
    assert [device["deviceId"] for device in body(call("GET", "/devices"))["items"]] == ["d-1"]


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ({"limit": "0"}, 422),
        ({"limit": "101"}, 422),
        ({"limit": "ten"}, 422),
        ({"nextToken": "not-a-token"}, 400),
        # A well-formed cursor for another listing (a device's alerts) is refused, not followed.
        (
            {"nextToken": base64.urlsafe_b64encode(b'{"pk":{"S":"DEVICE#d-1"},"sk":{"S":"A#1"}}').decode()},
            400,
        ),
    ],
)
def test_bad_list_parameters_are_4xx(table, query, status):
    register("d-1")
    problem(call("GET", "/devices", query=query), status)
