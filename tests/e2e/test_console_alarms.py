"""The stacks' alarms on the running system: the orders API's 5XX alarm and its function's Errors alarm go to
ALARM within their evaluation window once every invocation of the API's function fails (an injected fault), as
the console's alarm list and the terminal say; the dashboards are served resolved."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx

from local_runtime.alarms import ALARM, OK, AlarmEvaluator, AlarmSpec
from tests.e2e.conftest import System, eventually

FAST_S = 0.25  # this test's own evaluator; the runtime's evaluates every RuntimeOptions.alarm_interval_s


def orders_alarms(system: System) -> tuple[AlarmSpec, AlarmSpec, str]:
    api = next(api for api in system.runtime.assembly.apis.values() if api.service == "orders")
    function = next(
        f.spec.name
        for f in system.runtime.functions.values()
        if f.spec.stack == api.stack and f.spec.logical_id.startswith("ApiFunction")
    )
    alarms = system.runtime.alarms.alarms
    five_xx = next(
        a
        for a in alarms
        if (a.namespace, a.metric_name, a.dimensions) == ("AWS/ApiGateway", "5XXError", {"ApiName": api.name})
    )
    errors = next(
        a
        for a in alarms
        if (a.namespace, a.metric_name, a.dimensions) == ("AWS/Lambda", "Errors", {"FunctionName": function})
    )
    return five_xx, errors, function


def listed(system: System) -> dict[str, dict[str, Any]]:
    answer = httpx.get(f"{system.runtime.gateway.config.origin}/_local/console/alarms")
    assert answer.status_code == 200, answer.text
    return {alarm["AlarmName"]: alarm for alarm in answer.json()["MetricAlarms"]}


def faults(system: System, settings: dict[str, Any]) -> None:
    answer = httpx.post(f"{system.runtime.gateway.config.origin}/_local/faults", json=settings)
    assert answer.status_code == 200, answer.text


def test_the_orders_api_alarms_go_to_alarm_when_its_function_fails(system: System):
    five_xx, errors, function = orders_alarms(system)
    window_s = five_xx.period_s * five_xx.evaluation_periods
    fast = AlarmEvaluator([five_xx, errors], system.runtime.metrics, interval_s=FAST_S).start()
    try:
        with system.client("orders", "storefront") as shop:
            assert shop.get("/products").status_code == 200
            # Healthy first (a 5XX earlier in this period would keep it in ALARM until the period ends).
            eventually(
                lambda: shop.get("/products").status_code == 200 and fast.state(five_xx.name).value == OK,
                timeout_s=window_s + 10,
                interval_s=1.0,
            )
            faults(system, {"functions": {function: {"errorRate": 1.0}}})
            failed_at = time.time()
            started = time.monotonic()
            statuses = [shop.get("/products").status_code for _ in range(3)]
            assert set(statuses) == {502}, statuses

            eventually(
                lambda: fast.state(five_xx.name).value == ALARM and fast.state(errors.name).value == ALARM,
                timeout_s=window_s,
            )
            print(
                f"fast evaluator ({FAST_S} s): ALARM {time.monotonic() - started:.1f} s after the first failure"
            )
            state = fast.state(five_xx.name)
            assert state.updated >= failed_at - 1
            # the sum of 5XX errors in the period in progress, so far
            assert re.match(r"Threshold Crossed: 1 out of the last 1 datapoints \[[123]\.0 \(", state.reason)
            assert "greater than the threshold (0.0)" in state.reason

            # The runtime's own evaluator, as GET /_local/console/alarms shows it, within its interval.
            interval_s = system.runtime.options.alarm_interval_s
            seen = eventually(
                lambda: (
                    (found := listed(system))[five_xx.name]["StateValue"] == ALARM
                    and found[errors.name]["StateValue"] == ALARM
                    and found
                ),
                timeout_s=interval_s + 5,
                interval_s=0.25,
            )
            print(
                f"runtime evaluator ({interval_s} s): ALARM {time.monotonic() - started:.1f} s after the first failure"
            )
            assert seen[five_xx.name]["StateReason"].startswith("Threshold Crossed")
            assert seen[five_xx.name]["Dimensions"] == [
                {"Name": "ApiName", "Value": five_xx.dimensions["ApiName"]}
            ]
            # ... and the terminal (the log sink, in tests) said so
            assert any(
                source == "alarm" and line.startswith(f"{five_xx.name}: OK -> ALARM")
                for source, line in system.logs
            )
    finally:
        faults(system, {})
        fast.stop()
    with system.client("orders", "storefront") as shop:
        assert shop.get("/products").status_code == 200


def test_the_console_serves_the_dashboards_resolved(system: System):
    origin = system.runtime.gateway.config.origin
    page = httpx.get(f"{origin}/_local/console")
    assert page.status_code == 200
    assert "importmap" in page.text
    dashboards = httpx.get(f"{origin}/_local/console/dashboards").json()["Dashboards"]
    assert {d["Stack"] for d in dashboards} >= {"Orders-dev", "Telemetry-dev"}
    alarm_arns = {alarm.arn for alarm in system.runtime.alarms.alarms}
    for dashboard in dashboards:
        for widget in dashboard["DashboardBody"]["widgets"]:
            if widget["type"] == "alarm":
                assert set(widget["properties"]["alarms"]) <= alarm_arns
