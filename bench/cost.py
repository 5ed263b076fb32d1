"""Dollars per million units of work, all in, from the measured workloads and the public prices.

Prices (us-east-1, on-demand) are those of the project's handbook (anchors.md, kept beside this repository)
(section "Prices"; the path is relative to the repository); each price below quotes its entry. Everything else comes from one benchmark run:

- API Gateway REST: requests per unit of work, as the workload made them.
- Lambda requests: invocations per unit of work, per function, as the workload made them; the device
  authorizer is the exception: API Gateway caches its answer per token for the authorizer's TTL (from
  the template), so a device posting every ``interval`` seconds invokes it ``interval / TTL`` times
  per request (at most once).
- Lambda duration: each invoke billed per started millisecond of its measured duration (a warm
  environment's), at the function's memory from the template, at the arm64 price. Init is billed too
  (since 2025-08-01): what each function's measured cold start (process start to the end of its first
  invoke) takes beyond a warm invoke is added to an assumed share of its invokes, ``coldStartFraction``.
- DynamoDB: the write and read units DynamoDB Local reported for the workload; a failed conditional
  write (not reported by DynamoDB Local, billed by AWS) counts one write unit.
- CloudWatch Logs: the bytes each function wrote (its own lines, and the platform's start and report
  lines per invoke, written locally as Lambda writes them in the JSON log format) and the API's access
  log line per request, rendered from the stage's format.

Not included: CloudWatch custom metrics (billed per metric per month, not per request), X-Ray traces
(sampled), data transfer, and storage (rollups and TTL'd raw readings are a few KB per device-day).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

PRICE_SOURCE = (
    "the handbook's anchors.md, beside this repository (section Prices; us-east-1, on-demand, 2025-2026)"
)


@dataclass(frozen=True)
class Prices:
    api_gateway_rest_per_million: float = 3.50  # "API Gateway REST: $3.50 per million requests"
    lambda_requests_per_million: float = 0.20  # "Lambda: $0.20 per million requests"
    lambda_gb_second_arm64: float = 0.0000133334  # "$0.0000133334 per GB-s on arm64"
    dynamodb_write_units_per_million: float = 0.625  # "$0.625 per million write request units"
    dynamodb_read_units_per_million: float = 0.125  # "$0.125 per million read request units"
    logs_ingestion_per_gb: float = 0.50  # "CloudWatch Logs ingestion: $0.50 per GB"
    # For comparison only: AWS IoT Core's messaging, as issue 26 quotes it (transport alone, nothing stored).
    iot_core_messages_per_million: float = 1.00  # "$1.00 per million messages"


@dataclass(frozen=True)
class Assumptions:
    cold_start_fraction: float = 0.01  # share of invokes that pay an init
    readings_per_second_per_device: float = 2.0  # 2 metrics at 1 Hz (the scenario)
    readings_per_iot_message: int = 50  # issue 26's comparison: 50 readings per IoT Core message
    bytes_per_gb: float = 1e9


@dataclass(frozen=True)
class FunctionUse:
    name: str
    invocations: float  # per unit of work
    billed_ms: float  # per invocation
    memory_mb: int
    log_bytes: float  # per invocation
    init_ms: float  # what a cold start bills beyond a warm invoke: the init and a slower first invoke


@dataclass(frozen=True)
class UnitOfWork:
    api_requests: float
    access_log_bytes: float
    write_units: float
    read_units: float
    failed_writes: float
    functions: tuple[FunctionUse, ...]


def dollars_per_million(work: UnitOfWork, prices: Prices, assumptions: Assumptions) -> dict[str, float]:
    gb_second = prices.lambda_gb_second_arm64

    def compute(use: FunctionUse, milliseconds: float) -> float:
        return use.invocations * milliseconds / 1000 * use.memory_mb / 1024 * gb_second

    lines = {
        "apiGateway": work.api_requests * prices.api_gateway_rest_per_million / 1e6,
        "lambdaRequests": sum(f.invocations for f in work.functions)
        * prices.lambda_requests_per_million
        / 1e6,
        "lambdaDuration": sum(compute(f, f.billed_ms) for f in work.functions),
        "lambdaInit": sum(compute(f, assumptions.cold_start_fraction * f.init_ms) for f in work.functions),
        "dynamodbWrites": (work.write_units + work.failed_writes)
        * prices.dynamodb_write_units_per_million
        / 1e6,
        "dynamodbReads": work.read_units * prices.dynamodb_read_units_per_million / 1e6,
        "logs": (sum(f.invocations * f.log_bytes for f in work.functions) + work.access_log_bytes)
        / assumptions.bytes_per_gb
        * prices.logs_ingestion_per_gb,
    }
    per_million = {name: value * 1e6 for name, value in lines.items()}
    per_million["total"] = sum(per_million.values())
    return {name: round(value, 5) for name, value in per_million.items()}


def unit_of_work(
    workload: dict[str, Any],
    cold_starts: dict[str, Any],
    *,
    invocations_override: dict[str, float] | None = None,
    fallback_billed_ms: dict[str, float] | None = None,
) -> UnitOfWork:
    """Per unit of work, from a workload's summary (bench/workloads.py)."""
    units = workload["units"]
    overrides = invocations_override or {}
    functions = []
    for name, use in workload["functions"].items():
        observed = use["invocations"]
        billed = use["billedMsPerInvocation"] or (fallback_billed_ms or {}).get(name, 0.0)
        cold = cold_starts.get(name, {})
        functions.append(
            FunctionUse(
                name=name,
                invocations=overrides.get(name, observed / units),
                billed_ms=billed,
                memory_mb=use["memoryMB"],
                log_bytes=use["logBytes"] / observed if observed else 0.0,
                init_ms=max(0.0, cold.get("initMs", 0.0) - billed) if cold else 0.0,
            )
        )
    # Units a function spent are scaled with its invocations when those are modelled (the authorizer).
    write_units = read_units = 0.0
    for name, use in workload["functions"].items():
        observed = use["invocations"]
        scale = overrides[name] * units / observed if name in overrides and observed else 1.0
        write_units += use["writeUnits"] * scale
        read_units += use["readUnits"] * scale
    return UnitOfWork(
        api_requests=workload["apiRequests"] / units,
        access_log_bytes=workload["accessLogBytes"] / units,
        write_units=write_units / units,
        read_units=read_units / units,
        failed_writes=workload["failedConditionalWrites"] / units,
        functions=tuple(functions),
    )


def _authorizer_invocations(
    work: dict[str, Any], readings_per_request: float, ttl_s: float, rate: float
) -> float:
    """Authorizer invocations per reading: one per TTL window per device, at most one per request."""
    requests_per_reading = float(work["apiRequests"]) / float(work["units"])
    interval_s = readings_per_request / rate
    return requests_per_reading * min(1.0, interval_s / ttl_s) if ttl_s > 0 else requests_per_reading


def model(
    workloads: dict[str, Any],
    cold_starts: dict[str, Any],
    latency: dict[str, Any],
    authorizer_ttl_s: float,
    prices: Prices | None = None,
    assumptions: Assumptions | None = None,
) -> dict[str, Any]:
    prices = prices or Prices()
    assumptions = assumptions or Assumptions()
    rate = assumptions.readings_per_second_per_device
    authorizer_route = latency.get("telemetry POST /devices/{deviceId}/telemetry (authorizer not cached)", {})
    authorizer_p50 = authorizer_route.get("functionMs", {}).get("p50")
    fallback = {"telemetry.authorizer": float(int(authorizer_p50) + 1)} if authorizer_p50 else {}

    def posting(work: dict[str, Any]) -> UnitOfWork:
        per_request = work["units"] / work["apiRequests"]
        invocations = _authorizer_invocations(work, per_request, authorizer_ttl_s, rate)
        return unit_of_work(
            work,
            cold_starts,
            invocations_override={"telemetry.authorizer": invocations},
            fallback_billed_ms=fallback,
        )

    packed = workloads["telemetry"]
    design = posting(packed)
    large = posting(workloads["telemetry500"])
    # Naive: the same requests, but one item per reading (a write unit each: an item under 1 KB).
    stored = packed["writeUnitsByItem"].get("readings", 0.0) / packed["units"]
    item_per_reading = replace(design, write_units=design.write_units - stored + 1.0)
    one_per_request = posting(workloads["telemetrySingle"])
    read_hour = workloads["telemetryReadHour"]
    read = unit_of_work(read_hour, cold_starts)
    orders = unit_of_work(workloads["orders"], cold_starts)
    readings = {
        "packed, 100 readings per request (this design)": dollars_per_million(design, prices, assumptions),
        "packed, 500 readings per request (this design)": dollars_per_million(large, prices, assumptions),
        "one item per reading, 100 readings per request": dollars_per_million(
            item_per_reading, prices, assumptions
        ),
        "one reading per request": dollars_per_million(one_per_request, prices, assumptions),
    }
    return {
        "prices": {**asdict(prices), "source": PRICE_SOURCE},
        "assumptions": {
            "coldStartFraction": assumptions.cold_start_fraction,
            "readingsPerSecondPerDevice": rate,
            "authorizerTtlSeconds": authorizer_ttl_s,
            "bytesPerGB": assumptions.bytes_per_gb,
        },
        "perReading": {
            "thisDesign": asdict(design),
            "thisDesign500": asdict(large),
            "oneItemPerReading": asdict(item_per_reading),
            "oneReadingPerRequest": asdict(one_per_request),
        },
        "perOrder": asdict(orders),
        "readings": readings,
        "iotCoreTransportOnly": {
            "readingsPerMessage": assumptions.readings_per_iot_message,
            "total": round(prices.iot_core_messages_per_million / assumptions.readings_per_iot_message, 5),
        },
        "readDeviceHour": {
            "readings": read_hour["units"],
            "requests": read_hour["apiRequests"],
            "readUnits": read_hour["readUnits"],
            "perMillionReadingsRead": dollars_per_million(read, prices, assumptions),
            "perDeviceHourUSD": round(
                dollars_per_million(read, prices, assumptions)["total"] * read_hour["units"] / 1e6, 8
            ),
        },
        "orders": dollars_per_million(orders, prices, assumptions),
    }
