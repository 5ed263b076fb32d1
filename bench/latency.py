"""Warm latency of every route through the gateway emulator (the client's round trip), next to the
function's own duration for the same requests (Lambda's platform report), so the emulator's
overhead shows. Requests are sequential on warm environments, paced under the route's usage plan
rate (the operator plan allows 10 requests/s), with realistic data behind them.
"""

from __future__ import annotations

import itertools
import math
import time
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

import httpx

from bench.system import BenchSystem, Mark, Report

WARM_UP = 3
PACE = 0.8  # of the usage plan's rate limit


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def distribution(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(values, 0.50), 2),
        "p95": round(percentile(values, 0.95), 2),
        "p99": round(percentile(values, 0.99), 2),
    }


@dataclass
class Route:
    key: str  # "<service> <METHOD> <path>", or a variant of a route in parentheses
    function: str  # whose duration is reported
    plan: str
    samples: int
    sample: Callable[[int], float]  # the i-th request's round trip in ms
    after: Callable[[], object] | None = None


class Scenario:
    """The data every route needs: a customer with orders, paid orders to fulfil and cancel,
    devices with readings, rollups and alerts."""

    def __init__(self, system: BenchSystem, samples: int, operator_samples: int) -> None:
        self.system = system
        self.samples = samples
        self.operator_samples = operator_samples
        self.storefront = system.client("orders", "storefront")
        self.customer = system.client("orders", "storefront", system.customer())
        self.admin = system.client("orders", "storefront", system.admin("orders"))
        self.orders: list[str] = []
        self.device = system.register_device(hours_back=30)
        self.single = system.register_device(hours_back=30)
        self.uncached = system.register_device(hours_back=30)
        self.renewed = system.register_device(hours_back=30)
        system.alert_above(self.device, 29)

    def routes(self) -> list[Route]:
        return [*self._orders_routes(), *self._telemetry_routes()]

    def _get(self, client: httpx.Client, path: str, **params: Any) -> Callable[[int], float]:
        return lambda _: self.system.request(client, "GET", path, params=params or None, expect=200)[1]

    def _orders_routes(self) -> list[Route]:
        s, n = self.system, self.samples

        def place(_: int) -> float:
            order_id, elapsed = s.place_order(self.customer)
            self.orders.append(order_id)
            return elapsed

        def order_action(client: httpx.Client, action: str, offset: int) -> Callable[[int], float]:
            return lambda i: s.request(
                client, "POST", f"/orders/{self.orders[offset + i]}/{action}", expect=200
            )[1]

        def one_order(i: int) -> float:
            return self._get(self.customer, f"/orders/{self.orders[i % len(self.orders)]}")(i)

        return [
            Route(
                "orders GET /products", "orders.api", "storefront", n, self._get(self.storefront, "/products")
            ),
            Route("orders POST /orders", "orders.api", "storefront", 2 * n + 2 * WARM_UP, place, s.drain),
            Route("orders GET /orders", "orders.api", "storefront", n, self._get(self.customer, "/orders")),
            Route("orders GET /orders/{orderId}", "orders.api", "storefront", n, one_order),
            Route(
                "orders POST /orders/{orderId}/fulfil",
                "orders.api",
                "storefront",
                n,
                order_action(self.admin, "fulfil", 0),
                s.drain,
            ),
            Route(
                "orders POST /orders/{orderId}/cancel",
                "orders.api",
                "storefront",
                n,
                order_action(self.customer, "cancel", n + WARM_UP),
                s.drain,
            ),
        ]

    def _telemetry_routes(self) -> list[Route]:
        s, n, m = self.system, self.samples, self.operator_samples
        device = self.device.device_id
        operator = s.operator()

        def register(_: int) -> float:
            body = {"deviceId": f"bench-{uuid.uuid4().hex[:12]}"}
            return s.request(operator, "POST", "/devices", json=body, expect=201)[1]

        def new_token(_: int) -> float:
            # A device of its own: the others post with their tokens while this one's keeps changing.
            return s.request(operator, "POST", f"/devices/{self.renewed.device_id}/token", expect=200)[1]

        def rules(_: int) -> float:
            body = {"rules": [{"metric": "temperature", "op": "gt", "threshold": 29}]}
            return s.request(operator, "PUT", f"/devices/{device}/rules", json=body, expect=200)[1]

        def uncached(_: int) -> float:
            s.clear_authorizer_cache()
            return self.uncached.post()

        def admin_get(path: str, **params: Any) -> Route:
            route = path.replace(device, "{deviceId}")
            return Route(
                f"telemetry GET {route}", "telemetry.api", "operator", m, self._get(operator, path, **params)
            )

        telemetry_window = {"from": self.device.start, "to": self.device.start + 3_600_000}
        return [
            Route(
                "telemetry POST /devices/{deviceId}/telemetry",
                "telemetry.ingest",
                "fleet",
                n,
                lambda _: self.device.post(),
                s.drain,
            ),
            Route(
                "telemetry POST /devices/{deviceId}/telemetry (1 reading)",
                "telemetry.ingest",
                "fleet",
                n,
                lambda _: self.single.post(1),
                s.drain,
            ),
            Route(
                "telemetry POST /devices/{deviceId}/telemetry (authorizer not cached)",
                "telemetry.authorizer",
                "fleet",
                n,
                uncached,
                s.drain,
            ),
            Route("telemetry POST /devices", "telemetry.api", "operator", m, register),
            Route("telemetry POST /devices/{deviceId}/token", "telemetry.api", "operator", m, new_token),
            Route("telemetry PUT /devices/{deviceId}/rules", "telemetry.api", "operator", m, rules),
            admin_get("/devices", limit=50),
            admin_get(f"/devices/{device}"),
            admin_get(f"/devices/{device}/telemetry", metric="temperature", **telemetry_window),
            admin_get(f"/devices/{device}/aggregates", metric="temperature", period="minute"),
            admin_get(f"/devices/{device}/alerts", limit=100),
        ]


def request_overheads(
    round_trips: list[float], reports: list[list[Report]], functions: Collection[str]
) -> list[float]:
    """The emulator's share of each request: its round trip minus the durations of the system's functions it
    invoked (``reports[i]`` holds the platform reports written while request i was the one in flight)."""
    return [
        elapsed - sum(r.duration_ms for r in during if r.function in functions)
        for elapsed, during in zip(round_trips, reports, strict=True)
    ]


def run_route(system: BenchSystem, route: Route) -> dict[str, Any]:
    rate = float(system.session["usagePlans"][route.plan]["rateLimit"] or 0)
    interval_s = 1 / (rate * PACE) if rate else 0.0
    round_trips: list[float] = []
    marks: list[Mark] = []  # one before each measured request, and one after the last
    for i in range(route.samples + WARM_UP):
        if i >= WARM_UP:
            marks.append(system.mark())
        started = time.perf_counter()
        elapsed = route.sample(i)
        if i >= WARM_UP:
            round_trips.append(elapsed)
        wait = interval_s - (time.perf_counter() - started)
        if wait > 0:
            time.sleep(wait)
    marks.append(system.mark())
    window = system.tap.since(marks[0])
    if route.after is not None:
        route.after()
    invoked = sorted(name for name in window.invocations() if name in system.keys)
    reports = [system.tap.between(begin, end) for begin, end in itertools.pairwise(marks)]
    gateway = distribution(round_trips)
    function_ms = window.durations(route.function)
    functions_p50 = sum(percentile(window.durations(name), 0.5) for name in invoked)
    return {
        **gateway,
        "n": len(round_trips),
        "function": route.function,
        "functionMs": {**distribution(function_ms), "n": len(function_ms)},
        "functionsInvoked": invoked,
        "overheadMs": distribution(request_overheads(round_trips, reports, system.keys)),
        # Before decision 34's per-request pairing: the round trip's p50 minus the functions' p50s.
        "p50MinusFunctionsP50": round(gateway["p50"] - functions_p50, 2),
    }


def measure(
    system: BenchSystem, samples: int, operator_samples: int, log: Callable[[str], None] = print
) -> dict[str, Any]:
    scenario = Scenario(system, samples, operator_samples)
    results: dict[str, Any] = {}
    for route in scenario.routes():
        results[route.key] = run_route(system, route)
        log(f"  latency: {route.key}: p50 {results[route.key]['p50']} ms")
    return results
