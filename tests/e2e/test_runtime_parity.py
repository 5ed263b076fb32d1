"""The local runtime serves exactly what the templates declare: every route and stream mapping, nothing else."""

from __future__ import annotations

import json
import re

import httpx

from tests.e2e.conftest import System


def test_health_and_session(system: System):
    origin = system.runtime.gateway.config.origin
    assert httpx.get(f"{origin}/_local/health").json() == {"status": "ok"}
    session = httpx.get(f"{origin}/_local/session").json()
    assert set(session["apis"]) == {"orders", "telemetry"}
    assert set(session["apiKeys"]) == {"storefront", "fleet", "operator"}
    assert session["usagePlans"]["storefront"]["rateLimit"] > 0
    token = httpx.get(f"{origin}/_local/token", params={"sub": "alice", "groups": "admin"}).json()["token"]
    assert system.runtime.issuer.verify(token)["cognito:groups"] == ["admin"]


def test_every_template_route_is_served_and_nothing_else(system: System):
    plans = {"orders": "storefront", "telemetry": "operator"}
    token = system.token("parity-user", "admin")
    for api in system.runtime.assembly.apis.values():
        with system.client(api.service, plans[api.service], token) as client:
            for route in api.routes:
                response = client.request(route.method, re.sub(r"\{[^}]+\}", "parity-id", route.path))
                assert response.headers.get("x-amzn-ErrorType") != "MissingAuthenticationTokenException", (
                    route
                )
            undeclared = client.request("DELETE", "/parity-undeclared")
            assert undeclared.status_code == 403
            assert undeclared.json() == {"message": "Missing Authentication Token"}


def test_every_stream_mapping_has_a_running_poller(system: System):
    mapped = {(m.function, m.table) for m in system.runtime.assembly.mappings}
    polled = {(p.mapping.function, p.mapping.table) for p in system.runtime.pollers}
    assert mapped == polled
    assert len(mapped) == 3


def test_function_logs_are_one_structured_line_with_the_function_name(system: System):
    with system.client("orders", "storefront") as client:
        assert client.get("/products").status_code == 200
    lines = [json.loads(line) for name, line in system.logs if "Api" in name and line.startswith("{")]
    reports = [line for line in lines if line.get("type") == "platform.report"]
    assert reports
    assert any("initDurationMs" in line for line in reports), "a cold start is reported"
