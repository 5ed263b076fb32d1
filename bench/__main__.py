"""``python -m bench`` (``make bench``): run every benchmark on the local runtime, print the
figures, write ``.bench/results.json`` and regenerate docs/performance.md from it.

``--quick`` is the harness's smoke run: a few samples of everything, results in ``--out``, and the
docs are left alone. Its figures are not benchmarks.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import coldstart, cost, freshness, latency, machine, packages, report, throughput, workloads
from bench.system import BenchSystem
from local_runtime.assembly import REPO_ROOT


@dataclass(frozen=True)
class Plan:
    cold_runs: int
    cold_warm_up: bool
    latency_samples: int
    operator_samples: int
    devices: int
    ingest_seconds: float
    hour_requests: int
    single_requests: int
    orders: int
    freshness_samples: int


FULL = Plan(
    # With 11 runs an API function's 90% interval over the pooled floor was 0.04 to 0.19 wide on a shared 2-core
    # machine, with 25 it was 0.06. Its ratio to the reference resamples only the reference runs
    # made beside it, as many as its own, so that interval is the wider one at any count.
    cold_runs=25,
    cold_warm_up=True,
    latency_samples=100,
    # As many as the other routes: 40 requests 125 ms apart span 5 s, and on the shared machine one route's overhead
    # p50 moved by up to 0.9 ms between passes minutes apart (decision 34).
    operator_samples=100,
    devices=8,
    ingest_seconds=10.0,
    hour_requests=72,
    single_requests=120,
    orders=20,
    freshness_samples=40,
)
QUICK = Plan(
    cold_runs=1,
    cold_warm_up=False,
    latency_samples=3,
    operator_samples=2,
    devices=2,
    ingest_seconds=1.0,
    hour_requests=4,
    single_requests=8,
    orders=2,
    freshness_samples=3,
)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run(plan: Plan, assumptions: cost.Assumptions) -> dict[str, Any]:
    started = time.perf_counter()
    phases: dict[str, float] = {}
    with BenchSystem() as system:
        phases["start"] = time.perf_counter() - started

        def timed(name: str, action: Any) -> Any:
            begun = time.perf_counter()
            log(f"{name}...")
            value = action()
            phases[name] = round(time.perf_counter() - begun, 1)
            return value

        cold, references = timed(
            "coldStart", lambda: coldstart.measure(system, plan.cold_runs, warm_up=plan.cold_warm_up, log=log)
        )
        routes = timed(
            "latency", lambda: latency.measure(system, plan.latency_samples, plan.operator_samples, log=log)
        )
        flow = timed("throughput", lambda: throughput.measure(system, plan.devices, plan.ingest_seconds))
        fresh = timed("freshness", lambda: freshness.measure(system, plan.freshness_samples))
        work = timed(
            "workloads",
            lambda: workloads.measure(
                system,
                hour_requests=plan.hour_requests,
                single_requests=plan.single_requests,
                orders=plan.orders,
            ),
        )
        ttl = max(
            (
                a.ttl_s
                for api in system.runtime.assembly.apis.values()
                for a in api.authorizers.values()
                if a.function
            ),
            default=0,
        )
        outdir = system.runtime.options.outdir
        load = system.throttled
    sizes = timed_packages(outdir, phases)
    model = cost.model(work, cold, routes, float(ttl), assumptions=assumptions)
    telemetry = work["telemetry"]
    orders = work["orders"]
    phases["total"] = round(time.perf_counter() - started, 1)
    return {
        "machine": machine.describe(),
        "plan": plan.__dict__,
        "coldStart": cold,
        "coldStartReferences": references,
        "latencyMs": routes,
        "writeUnitsPerReading": round(telemetry["writeUnits"] / telemetry["units"], 4),
        # As billed: the authorizer's reads scaled from the run's few calls to one per token and TTL.
        "readUnitsPerReading": round(model["perReading"]["thisDesign"]["read_units"], 4),
        "capacityPerOrder": {
            "write": round(orders["writeUnits"] / orders["units"], 3),
            "read": round(orders["readUnits"] / orders["units"], 3),
        },
        "ingestReadingsPerSecond": flow["ingest"]["readingsPerSecond"],
        "streamRecordsPerSecond": flow["stream"]["recordsPerSecond"],
        "costPerMillionReadingsUSD": model["readings"]["packed, 100 readings per request (this design)"][
            "total"
        ],
        "costPerMillionOrdersUSD": model["orders"]["total"],
        "telemetryCost": telemetry_cost(work, model),
        "telemetryFreshness": fresh,
        "packageBytes": sizes,
        "throughput": flow,
        "workloads": work,
        "costModel": model,
        "throttledRequests": load,
        "secondsByPhase": phases,
    }


def telemetry_cost(work: dict[str, Any], model: dict[str, Any]) -> dict[str, Any]:
    """Per reading, at 100 and 500 readings per request, and the read of one device-hour (issue 26)."""
    sizes = {"100": ("telemetry", "thisDesign"), "500": ("telemetry500", "thisDesign500")}
    per_request = {}
    for size, (workload, design) in sizes.items():
        total = model["readings"][f"packed, {size} readings per request (this design)"]["total"]
        per_request[size] = {
            "writeUnitsPerReading": round(work[workload]["writeUnits"] / work[workload]["units"], 4),
            # As billed: the authorizer's reads scaled from the run's few calls to one per token and TTL.
            "readUnitsPerReading": round(model["perReading"][design]["read_units"], 4),
            "costPerMillionReadingsUSD": total,
        }
    return {
        "readingsPerRequest": per_request,
        "iotCoreTransportOnlyPerMillionReadingsUSD": model["iotCoreTransportOnly"]["total"],
        "readDeviceHour": model["readDeviceHour"],
    }


def timed_packages(outdir: Path, phases: dict[str, float]) -> dict[str, Any]:
    begun = time.perf_counter()
    sizes = packages.measure(outdir)
    phases["packages"] = round(time.perf_counter() - begun, 1)
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run of the harness (figures are not benchmarks)"
    )
    parser.add_argument("--out", type=Path, default=REPO_ROOT / ".bench", help="where results.json goes")
    parser.add_argument("--no-docs", action="store_true", help="do not regenerate docs/performance.md")
    parser.add_argument(
        "--cold-start-fraction",
        type=float,
        default=cost.Assumptions.cold_start_fraction,
        help="share of invokes that pay an init, in the cost model",
    )
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    results = run(plan, cost.Assumptions(cold_start_fraction=args.cold_start_fraction))
    results["quick"] = args.quick
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(report.console(results))
    log(f"wrote {args.out / 'results.json'}")
    if not (args.quick or args.no_docs):
        for path in report.write_docs(results, REPO_ROOT / "docs"):
            log(f"wrote {path.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
