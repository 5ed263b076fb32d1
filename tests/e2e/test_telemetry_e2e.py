"""The telemetry service end to end: devices post through the gateway; the processor runs on the real stream."""

from __future__ import annotations

import time
import uuid

from tests.e2e.conftest import System, eventually


def register(system: System, admin) -> tuple[str, str]:
    device_id = f"dev-{uuid.uuid4().hex[:8]}"
    created = admin.post("/devices", json={"deviceId": device_id, "name": "e2e sensor"})
    assert created.status_code == 201, created.text
    return device_id, created.json()["token"]


def test_readings_flow_into_aggregates_alerts_and_device_state(system: System):
    admin_token = system.token("telemetry", "operator-1", "admin")
    with system.client("telemetry", "operator", admin_token) as admin:
        device_id, device_token = register(system, admin)
        rules = {"rules": [{"metric": "temperature", "op": "gt", "threshold": 30}]}
        assert admin.put(f"/devices/{device_id}/rules", json=rules).status_code == 200
        minute = (int(time.time() * 1000) // 60_000 - 2) * 60_000
        readings = [
            {"metric": "temperature", "value": v, "ts": minute + i * 1000}
            for i, v in enumerate([20, 25, 35, 22])
        ]
        with system.client("telemetry", "fleet", device_token) as device:
            posted = device.post(f"/devices/{device_id}/telemetry", json={"readings": readings})
            assert posted.status_code == 202, posted.text
            assert posted.json() == {"accepted": 4, "duplicates": 0}
            again = device.post(f"/devices/{device_id}/telemetry", json={"readings": readings[:2]})
            assert again.json() == {"accepted": 0, "duplicates": 2}

        def aggregates():
            params = {"metric": "temperature", "period": "minute", "from": minute, "to": minute + 60_000}
            items = admin.get(f"/devices/{device_id}/aggregates", params=params).json()["items"]
            return items if items and items[0]["count"] == 4 else None

        (bucket,) = eventually(aggregates)
        assert bucket["min"] == 20
        assert bucket["max"] == 35
        assert bucket["sum"] == 102
        assert bucket["avg"] == 25.5
        alerts = eventually(lambda: admin.get(f"/devices/{device_id}/alerts").json()["items"])
        assert [(a["value"], a["ts"]) for a in alerts] == [(35, minute + 2000)]
        device = admin.get(f"/devices/{device_id}").json()
        assert device["latest"]["temperature"] == {"value": 22, "ts": minute + 3000}
        listed = admin.get(f"/devices/{device_id}/telemetry", params={"metric": "temperature"}).json()[
            "items"
        ]
        assert [r["ts"] for r in listed] == [r["ts"] for r in readings]


def test_device_routes_need_the_device_own_token(system: System):
    with system.client("telemetry", "operator", system.token("telemetry", "operator-2", "admin")) as admin:
        first_id, first_token = register(system, admin)
        second_id, _ = register(system, admin)
    reading = {"readings": [{"metric": "t", "value": 1, "ts": int(time.time() * 1000)}]}
    with system.client("telemetry", "fleet", first_token) as device:
        assert device.post(f"/devices/{second_id}/telemetry", json=reading).status_code == 403
    with system.client("telemetry", "fleet", "not-a-device-token") as stranger:
        assert stranger.post(f"/devices/{first_id}/telemetry", json=reading).status_code == 401


def test_an_invalid_batch_is_rejected_whole_naming_each_bad_reading(system: System):
    with system.client("telemetry", "operator", system.token("telemetry", "operator-3", "admin")) as admin:
        device_id, token = register(system, admin)
        now = int(time.time() * 1000)
        batch = {
            "readings": [
                {"metric": "ok", "value": 1, "ts": now},
                {"metric": "9bad", "value": 1, "ts": now},
                {"metric": "future", "value": 1, "ts": now + 3_600_000},
            ]
        }
        with system.client("telemetry", "fleet", token) as device:
            rejected = device.post(f"/devices/{device_id}/telemetry", json=batch)
        assert rejected.status_code == 422
        assert rejected.headers["content-type"] == "application/problem+json"
        assert "1" in rejected.text
        assert "2" in rejected.text
        assert admin.get(f"/devices/{device_id}/telemetry", params={"metric": "ok"}).json()["items"] == []


def test_the_fleet_is_listed_through_the_gateway_by_the_sparse_index(system: System):
    """GET /devices over HTTP: the route, its grant on the fleet index and the index itself are the
    synthesized template's, so a missing Query or BatchGetItem permission or index fails here. Other tests'
    devices share the table, so pages are large (the operator plan allows 20 requests in a burst)."""
    with system.client("telemetry", "operator", system.token("telemetry", "operator-5", "admin")) as admin:
        registered = sorted(register(system, admin)[0] for _ in range(3))
        first = admin.get("/devices", params={"limit": 2}).json()
        second = admin.get("/devices", params={"limit": 2, "nextToken": first["nextToken"]}).json()
        listed: list[str] = []
        params: dict[str, object] = {"limit": 100}
        while True:
            page = admin.get("/devices", params=params)
            assert page.status_code == 200, page.text
            listed += [device["deviceId"] for device in page.json()["items"]]
            if page.json()["nextToken"] is None:
                break
            params = {"limit": 100, "nextToken": page.json()["nextToken"]}
    assert [device["deviceId"] for device in first["items"] + second["items"]] == listed[:4]
    assert listed == sorted(listed)
    assert len(listed) == len(set(listed))
    assert set(registered) <= set(listed)


def test_admin_routes_need_an_administrator(system: System):
    with system.client("telemetry", "operator", system.token("telemetry", "not-admin")) as user:
        assert user.post("/devices", json={}).status_code == 403


def test_a_storefront_token_is_refused_by_the_operators_api(system: System):
    # An administrator of the storefront's user pool is nobody to the telemetry API, which trusts only the
    # operators' pool: API Gateway's Cognito authorizer refuses the token before any function runs.
    with system.client("telemetry", "operator", system.token("orders", "shop-admin", "admin")) as stranger:
        response = stranger.post("/devices", json={})
    assert response.status_code == 401
    assert response.headers["x-amzn-ErrorType"] == "UnauthorizedException"
