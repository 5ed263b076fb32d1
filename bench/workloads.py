"""Units of work, run end to end through the gateway and the stream mappings, each twice: once
plain (function durations and log bytes, the inputs of the cost model) and once with every DynamoDB
call of the functions metered (capacity units, from DynamoDB Local's ConsumedCapacity).

- ``telemetry``: one device posts 100 readings per request, 2 metrics at 1 Hz (50 s of data per
  request) for a whole hour; after each request the processor gets that request's records, as a
  device posting every 50 s gets with a 1 s batching window (docs/telemetry.md). One alert rule is
  set and never fires.
- ``telemetry500``: the same device posting 500 readings per request (250 s of data each) for about
  an hour.
- ``telemetryReadHour``: an operator reading the ``telemetry`` device's first hour of raw readings
  through ``GET /devices/{id}/telemetry`` (both metrics, 1,000 readings a page), as the unit of work
  one reading read.
- ``telemetry-single``: the same device rate sending one reading per request (the naive design), a
  stream batch per second of data.
- ``orders``: orders of two lines placed, paid (payment processor, order updater) and fulfilled.

Set-up calls (registering the device, its rule, the customer) happen before the window opens.
"""

from __future__ import annotations

import re
import statistics
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from bench.capacity import CapacityLedger, MeteringProxy
from bench.system import BenchSystem, Device, Window
from infra.templates import load_templates, logical_id, resources_of

HOUR_MS = 3_600_000
_CONTEXT = re.compile(r"\$context\.([A-Za-z0-9_.]+)")


def access_log_formats(system: BenchSystem) -> dict[str, str]:
    """Each API's access log format, from its stage in the templates."""
    formats: dict[str, str] = {}
    for template in load_templates(system.runtime.options.outdir).values():
        apis = resources_of(template, "AWS::ApiGateway::RestApi")
        for stage in resources_of(template, "AWS::ApiGateway::Stage").values():
            setting = stage["Properties"].get("AccessLogSetting") or {}
            api = apis.get(str(logical_id(stage["Properties"]["RestApiId"])))
            if setting.get("Format") and api:
                formats[str(api["Properties"]["Name"]).rsplit("-", 1)[0]] = str(setting["Format"])
    return formats


def access_log_line(log_format: str, response: httpx.Response, resource: str) -> str:
    """The access log line API Gateway would write for ``response``, from the stage's format. The
    client address is a documentation address (TEST-NET-2) of a typical length."""
    request = response.request
    values = {
        "requestId": response.headers.get("x-amzn-RequestId", str(uuid.uuid4())),
        "identity.sourceIp": "198.51.100.23",
        "requestTime": datetime.now(UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "httpMethod": request.method,
        "resourcePath": resource,
        "status": str(response.status_code),
        "protocol": "HTTP/1.1",
        "responseLength": str(len(response.content)),
    }
    return _CONTEXT.sub(lambda match: values.get(match.group(1), "-"), log_format)


class Pass:
    """One run of a unit of work: what the functions did, and what the gateway would log. Opened
    after the run's set-up, closed (:meth:`close`) before any checking."""

    def __init__(self, system: BenchSystem, service: str, proxy: MeteringProxy | None) -> None:
        self.system = system
        self.device: Device | None = None
        self.log_format = access_log_formats(system).get(service, "")
        self.api_requests = 0
        self.access_log_bytes = 0
        self.mark = system.tap.mark()
        self.proxy = proxy
        self.ledgers: dict[str, CapacityLedger] = {}
        self.functions: Window | None = None
        if proxy is not None:
            proxy.reset()

    def close(self) -> Pass:
        self.functions = self.system.tap.since(self.mark)
        if self.proxy is not None:
            self.ledgers = dict(self.proxy.ledgers)
            self.proxy.reset()
        return self

    def gateway(self, response: httpx.Response | None, resource: str) -> None:
        assert response is not None
        self.api_requests += 1
        if self.log_format:
            self.access_log_bytes += len(access_log_line(self.log_format, response, resource).encode()) + 1


def _telemetry(
    system: BenchSystem, proxy: MeteringProxy | None, requests: int, per_request: int, drain_every: int
) -> Pass:
    device = system.register_device()
    system.alert_above(device, 80)
    system.drain()
    run = Pass(system, "telemetry", proxy)
    run.device = device
    for request in range(requests):
        device.post(per_request)
        run.gateway(device.last, "/devices/{deviceId}/telemetry")
        if (request + 1) % drain_every == 0:
            system.drain()
    system.drain()
    return run.close()


def _read_hour(system: BenchSystem, proxy: MeteringProxy | None, device: Device) -> tuple[int, Pass]:
    """Page through ``device``'s first hour of readings; returns how many were read."""
    operator = system.operator()
    window = {"from": device.start, "to": device.start + HOUR_MS - 1, "limit": 1000}
    run = Pass(system, "telemetry", proxy)
    read, token = 0, None
    while True:
        params = {**window, **({"nextToken": token} if token else {})}
        response, _ = system.request(
            operator, "GET", f"/devices/{device.device_id}/telemetry", params=params, expect=200
        )
        run.gateway(response, "/devices/{deviceId}/telemetry")
        page = response.json()
        read += len(page["items"])
        token = page.get("nextToken")
        if not token:
            return read, run.close()


def _orders(system: BenchSystem, proxy: MeteringProxy | None, orders: int) -> Pass:
    customer = system.client("orders", "storefront", system.customer())
    admin = system.client("orders", "storefront", system.admin("orders"))
    run = Pass(system, "orders", proxy)
    order_id = ""
    for _ in range(orders):
        body = {
            "items": [
                {"productId": "gift-card-50", "quantity": 1},
                {"productId": "paper-filters-100", "quantity": 1},
            ],
            "paymentToken": "tok_visa",
        }
        response, _ = system.request(
            customer, "POST", "/orders", json=body, headers={"Idempotency-Key": str(uuid.uuid4())}, expect=201
        )
        run.gateway(response, "/orders")
        order_id = str(response.json()["orderId"])
        system.drain()
        response, _ = system.request(admin, "POST", f"/orders/{order_id}/fulfil", expect=200)
        run.gateway(response, "/orders/{orderId}/fulfil")
        system.drain()
    run.close()
    final = system.request(customer, "GET", f"/orders/{order_id}", expect=200)[0].json()
    if final["status"] != "FULFILLED" or final["payment"]["status"] != "CAPTURED":
        raise RuntimeError(f"the order's life did not end FULFILLED/CAPTURED: {final}")
    return run


def _summarise(system: BenchSystem, units: int, plain: Pass, metered: Pass) -> dict[str, Any]:
    window = plain.functions
    assert window is not None
    invocations = window.invocations()
    functions: dict[str, Any] = {}
    write_by_item: Counter[str] = Counter()
    for name in sorted(set(invocations) | set(metered.ledgers)):
        if name not in system.keys:
            continue
        ledger = metered.ledgers.get(name)
        summary = ledger.summary() if ledger else {}
        write_by_item.update(summary.get("writeUnitsByItem", {}))
        # Billed per invoke as a warm environment would be: cold starts are priced apart (initMs).
        durations = window.durations(name) or window.durations(name, warm_only=False)
        billed_each = statistics.fmean(int(d) + 1 for d in durations) if durations else 0.0
        functions[name] = {
            "invocations": invocations[name],
            "billedMsPerInvocation": round(billed_each, 2),
            "durationMsP50": round(statistics.median(durations), 2) if durations else None,
            "logBytes": window.log_bytes[name],
            "memoryMB": system.spec(name).memory_mb,
            "writeUnits": summary.get("writeUnits", 0.0),
            "readUnits": summary.get("readUnits", 0.0),
            "failedConditionalWrites": sum(summary.get("failedConditionalWrites", {}).values()),
            "calls": summary.get("calls", {}),
        }
    write_units = sum(f["writeUnits"] for f in functions.values())
    read_units = sum(f["readUnits"] for f in functions.values())
    return {
        "units": units,
        "apiRequests": plain.api_requests,
        "accessLogBytes": plain.access_log_bytes,
        "writeUnits": round(write_units, 3),
        "readUnits": round(read_units, 3),
        "writeUnitsByItem": dict(sorted(write_by_item.items())),
        "failedConditionalWrites": sum(f["failedConditionalWrites"] for f in functions.values()),
        "functions": functions,
    }


def measure(system: BenchSystem, *, hour_requests: int, single_requests: int, orders: int) -> dict[str, Any]:
    large_requests = max(1, hour_requests // 5)
    hour_read: dict[bool, int] = {}
    writers: dict[bool, Pass] = {}

    def telemetry(proxy: MeteringProxy | None) -> Pass:
        writers[proxy is None] = _telemetry(system, proxy, hour_requests, 100, 1)
        return writers[proxy is None]

    def read_hour(proxy: MeteringProxy | None) -> Pass:
        device = writers[proxy is None].device
        assert device is not None
        hour_read[proxy is None], run = _read_hour(system, proxy, device)
        return run

    runs: dict[str, tuple[Callable[[], int], Callable[[MeteringProxy | None], Pass]]] = {
        "telemetry": (lambda: hour_requests * 100, telemetry),
        "telemetry500": (
            lambda: large_requests * 500,
            lambda proxy: _telemetry(system, proxy, large_requests, 500, 1),
        ),
        "telemetryReadHour": (lambda: hour_read[True], read_hour),
        # One reading per request; a stream batch per second of data (2 requests, one per metric).
        "telemetrySingle": (
            lambda: single_requests,
            lambda proxy: _telemetry(system, proxy, single_requests, 1, 2),
        ),
        "orders": (lambda: orders, lambda proxy: _orders(system, proxy, orders)),
    }
    plain = {name: run(None) for name, (_, run) in runs.items()}
    with system.metered() as proxy:
        metered = {name: run(proxy) for name, (_, run) in runs.items()}
    return {
        name: _summarise(system, units(), plain[name], metered[name]) for name, (units, _) in runs.items()
    }
