"""The developer's view over HTTP: metrics as CloudWatch's GetMetricData answers them, a log file per
function, and one function invoked with a crafted event."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import httpx

from local_runtime import invoke
from tests.e2e.conftest import System, eventually
from tests.events import rest_event


def metric(system: System, namespace: str, name: str, dimensions: dict[str, str], stat: str = "Sum") -> float:
    params = {
        "namespace": namespace,
        "metric": name,
        "dimensions": ",".join(f"{k}={v}" for k, v in dimensions.items()),
        "stat": stat,
        "period": "3600",
    }
    answer = httpx.get(f"{system.runtime.gateway.config.origin}/_local/metrics", params=params)
    assert answer.status_code == 200, answer.text
    values: list[float] = answer.json()["MetricDataResults"][0]["Values"]
    return sum(values)


def orders_api(system: System) -> Any:
    return next(api for api in system.runtime.assembly.apis.values() if api.service == "orders")


def test_api_gateway_counts_requests_and_lambda_counts_invocations(system: System):
    api = orders_api(system)
    function = system.runtime.functions[api.routes[0].function].spec.name
    before = metric(system, "AWS/ApiGateway", "Count", {"ApiName": api.name})
    invocations_before = metric(system, "AWS/Lambda", "Invocations", {"FunctionName": function})
    with system.client("orders", "storefront") as shop:
        for _ in range(50):
            assert shop.get("/products").status_code == 200
        assert httpx.get(f"{system.session['apis']['orders']}/products").status_code == 403  # no key
    assert metric(system, "AWS/ApiGateway", "Count", {"ApiName": api.name}) - before == 51
    assert metric(system, "AWS/ApiGateway", "4XXError", {"ApiName": api.name}) >= 1
    detailed = {"ApiName": api.name, "Stage": api.stage, "Resource": "/products", "Method": "GET"}
    assert metric(system, "AWS/ApiGateway", "Count", detailed) >= 50
    assert metric(system, "AWS/ApiGateway", "Latency", detailed, stat="p99") > 0
    assert metric(system, "AWS/Lambda", "Invocations", {"FunctionName": function}) - invocations_before == 50


def series(system: System) -> set[tuple[str, str]]:
    listed = httpx.get(f"{system.runtime.gateway.config.origin}/_local/metrics").json()["Metrics"]
    return {(m["Namespace"], m["MetricName"]) for m in listed}


def test_the_functions_own_emf_metrics_and_stream_iterator_age_are_kept(system: System):
    token = system.token("orders", f"metrics-{uuid.uuid4().hex[:6]}")
    with system.client("orders", "storefront", token) as shop:
        body = {"items": [{"productId": "travel-mug", "quantity": 1}], "paymentToken": "tok_visa"}
        assert shop.post("/orders", json=body).status_code == 201
    assert ("ServerlessReference/orders", "OrdersCreated") in series(system)
    eventually(lambda: ("AWS/Lambda", "IteratorAge") in series(system), timeout_s=20)


def test_each_function_logs_to_a_file_of_its_own_one_record_per_line(system: System):
    with system.client("orders", "storefront") as shop:
        assert shop.get("/products").status_code == 200
    logs = system.runtime.options.state_dir / "logs"
    files = {path.name for path in logs.glob("*.log")}
    assert any(name.startswith("Orders-dev-ApiFunction") for name in files), files
    for path in logs.glob("*.log"):
        for line in path.read_text().splitlines():
            assert line.startswith('{"function": '), line[:200]


def test_one_function_is_invoked_with_a_crafted_event_and_answers_with_its_logs(
    system: System, capsys, tmp_path
):
    event = rest_event("GET", "/products", resource="/products")
    answer = httpx.post(
        f"{system.runtime.gateway.config.origin}/_local/invoke", params={"function": "orders/api"}, json=event
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["function"] == "orders/api"
    assert body["result"]["statusCode"] == 200
    assert any(body["requestId"] in line for line in body["logs"])
    reports = [line for line in body["logs"] if '"platform.report"' in line]
    assert len(reports) == 1  # as sam local invoke ends with its REPORT
    assert body["requestId"] in reports[0]
    unknown = httpx.post(
        f"{system.runtime.gateway.config.origin}/_local/invoke", params={"function": "nope"}, json={}
    )
    assert unknown.status_code == 404
    assert "orders/api" in unknown.json()["message"]
    # make invoke: the same through the command line, from a file.
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    assert invoke.main(["orders/api", str(path), "--url", system.runtime.gateway.config.origin]) == 0
    assert '"statusCode": 200' in capsys.readouterr().out


def test_the_index_links_everything_the_runtime_serves_and_every_link_answers(system: System):
    origin = system.runtime.gateway.config.origin
    index = httpx.get(f"{origin}/_local/")
    assert index.status_code == 200
    links = re.findall(r'href="([^"]+)"', index.text)
    local = [link for link in links if link.startswith(f"{origin}/_local/")]
    assert {
        f"{origin}/_local/console",
        f"{origin}/_local/api/orders.json",
        f"{origin}/_local/metrics",
    } <= set(local)
    for link in local:
        assert httpx.get(link).status_code == 200, link
    assert httpx.get(f"{origin}/_local/api/telemetry.json").json()["info"]["title"] == "Telemetry API"
