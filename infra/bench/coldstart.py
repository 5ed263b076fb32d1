"""Cold starts: a fresh execution environment's time from starting its process to the end of its
first invoke, for every function, side by side with a floor function that only imports boto3 and
creates a DynamoDB client (infra/bench/floor/). Three reference functions are measured the same way:
the floor plus Powertools' REST resolver with validation (and a pydantic model), the floor plus that
pydantic model alone, and the floor plus Powertools' batch processor: what "a plain Powertools
function" costs on this machine, and how much of the resolver's cost is pydantic's.

Each function's ratio is its median over the median of all the phase's floor runs. Both run in the
runtime's own worker (``python -I``, task root then layers on the import path,
the function's environment from the template). Runs alternate function, floor, function, floor...
so the machine's noise hits both alike, and the first invoke is a real one: the function is swapped
into the running system and the system's own traffic reaches it (a catalogue read through the
gateway, a real device token, a real stream batch). One extra round first compiles and caches
bytecode, as Lambda runs shipped bytecode; it is not counted.
"""

from __future__ import annotations

import ast
import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.bench.system import BenchSystem, FreshRuntime
from infra.local.assembly import FunctionSpec
from infra.local.functions import Invocation

FLOOR_DIR = Path(__file__).with_name("floor")
FLOOR_HANDLER = "bench_floor.handler"
TARGETS = {"api": 1.35, "stream": 1.15}
_GET_ITEMS = {
    "resource": "/items",
    "path": "/items",
    "httpMethod": "GET",
    "headers": {"Accept": "application/json"},
    "multiValueHeaders": {"Accept": ["application/json"]},
    "queryStringParameters": None,
    "multiValueQueryStringParameters": None,
    "pathParameters": None,
    "stageVariables": None,
    "requestContext": {
        "requestId": "reference",
        "stage": "dev",
        "resourcePath": "/items",
        "httpMethod": "GET",
        "path": "/dev/items",
        "identity": {"sourceIp": "198.51.100.23"},
    },
    "body": None,
    "isBase64Encoded": False,
}
_ONE_RECORD = {
    "Records": [
        {
            "eventID": "1",
            "eventName": "INSERT",
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1",
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/reference/stream/2026-01-01T00:00:00.000",
            "dynamodb": {
                "ApproximateCreationDateTime": 1_800_000_000,
                "Keys": {"pk": {"S": "a"}},
                "NewImage": {"pk": {"S": "a"}, "value": {"N": "1"}},
                "SequenceNumber": "1",
                "SizeBytes": 12,
                "StreamViewType": "NEW_AND_OLD_IMAGES",
            },
        }
    ]
}
# name -> (handler in FLOOR_DIR, the function whose surroundings it borrows, its first event, kind)
REFERENCES: dict[str, tuple[str, str, dict[str, Any], str]] = {
    "powertools REST resolver with validation": (
        "bench_reference_api.handler",
        "orders.api",
        _GET_ITEMS,
        "api",
    ),
    "powertools REST resolver with validation, initialized as ours are": (
        "bench_reference_api_paused.handler",
        "orders.api",
        _GET_ITEMS,
        "api",
    ),
    "pydantic response model without powertools": (
        "bench_reference_pydantic.handler",
        "orders.api",
        _GET_ITEMS,
        "api",
    ),
    "powertools batch processor": (
        "bench_reference_batch.handler",
        "telemetry.processor",
        _ONE_RECORD,
        "stream",
    ),
}


@dataclass(frozen=True)
class ColdSample:
    total_ms: float  # process start to the end of the first invoke
    import_ms: float  # the handler module's import, inside the process
    first_invoke_ms: float

    @classmethod
    def of(cls, invocation: Invocation | None, what: str) -> ColdSample:
        if invocation is None or invocation.cold_start_ms is None:
            raise RuntimeError(f"{what}: no cold start was observed")
        if not invocation.ok:
            raise RuntimeError(f"{what}: the first invoke failed: {invocation.error}")
        return cls(invocation.cold_start_ms, invocation.init_ms or 0.0, invocation.duration_ms)


def floor_spec(like: FunctionSpec, handler: str = FLOOR_HANDLER) -> FunctionSpec:
    return FunctionSpec(
        stack="Bench",
        logical_id="Floor",
        name="bench-floor",
        handler=handler,
        code_dir=FLOOR_DIR,
        layer_paths=like.layer_paths,
        environment={},
        memory_mb=like.memory_mb,
        timeout_s=like.timeout_s,
    )


class Triggers:
    """A realistic first invoke for each function, caused the way production causes it."""

    def __init__(self, system: BenchSystem) -> None:
        self.system = system
        self.device = system.register_device()
        self.device.post()
        self.storefront = system.client("orders", "storefront")
        self.customer = system.client("orders", "storefront", system.customer())
        system.drain()

    def cause(self, name: str) -> None:
        system = self.system
        actions: dict[str, Callable[[], object]] = {
            "orders.api": lambda: system.request(self.storefront, "GET", "/products", expect=200),
            "orders.payment_processor": lambda: system.place_order(self.customer),
            "orders.order_updater": lambda: system.place_order(self.customer),
            "telemetry.api": lambda: system.request(
                system.operator(), "GET", f"/devices/{self.device.device_id}", expect=200
            ),
            "telemetry.ingest": self.device.post,
            "telemetry.authorizer": self._post_uncached,
            "telemetry.processor": self.device.post,
        }
        if name not in actions:
            raise KeyError(f"no realistic first invoke is defined for {name}: add one to Triggers")
        actions[name]()
        system.drain()  # stream functions get their batch here; effects settle before the next run

    def _post_uncached(self) -> None:
        self.system.clear_authorizer_cache()
        self.device.post()


def category(system: BenchSystem, name: str) -> str:
    key = system.keys[name]
    return "stream" if any(mapping.function == key for mapping in system.runtime.assembly.mappings) else "api"


def cold_function(system: BenchSystem, triggers: Triggers, name: str) -> ColdSample:
    with system.fresh(name) as fresh:
        triggers.cause(name)
        return ColdSample.of(fresh.first, name)


def cold_floor(system: BenchSystem, like: str, handler: str = FLOOR_HANDLER, event: Any = None) -> ColdSample:
    """A function from infra/bench/floor/ (the floor, or a reference) in ``like``'s surroundings."""
    surroundings = system.function(like)
    floor = FreshRuntime(surroundings, spec=floor_spec(surroundings.spec, handler))
    try:
        floor.invoke({} if event is None else event)
        return ColdSample.of(floor.first, handler)
    finally:
        floor.shutdown()


def built_on_the_resolver(spec: FunctionSpec) -> bool:
    """Whether the function's handler module imports Powertools' event handler (the resolver), read from
    its source: the report explains a missed target differently for functions that do and do not."""
    module = spec.handler.rsplit(".", 1)[0]
    source = (spec.code_dir / Path(*module.split("."))).with_suffix(".py").read_text()
    return any(
        isinstance(node, ast.ImportFrom)
        and (node.module or "").startswith("aws_lambda_powertools.event_handler")
        for node in ast.walk(ast.parse(source))
    )


def ratio_interval(
    function_ms: Sequence[float], floor_ms: Sequence[float], *, resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """How far this run's own noise could move a ratio of medians: the 5th and 95th percentiles of a
    bootstrap that resamples the function's runs and the floor's runs (each with replacement) and takes
    the ratio of their medians. Seeded, so the same samples always give the same interval."""
    draw = random.Random(seed)
    ratios = [
        statistics.median(draw.choices(function_ms, k=len(function_ms)))
        / statistics.median(draw.choices(floor_ms, k=len(floor_ms)))
        for _ in range(resamples)
    ]
    cuts = statistics.quantiles(ratios, n=20, method="inclusive")
    return cuts[0], cuts[-1]


def _summary(
    pairs: list[tuple[ColdSample, ColdSample]], floor_runs: list[float], kind: str, memory_mb: int
) -> dict[str, Any]:
    """``floor_runs`` are every floor run of the phase: the floor runs all do the same work, interleaved
    with every function's runs, so pooling them only takes noise out."""
    function_runs = [f.total_ms for f, _ in pairs]
    function_ms = statistics.median(function_runs)
    floor_ms = statistics.median(floor_runs)
    ratio = function_ms / floor_ms
    low, high = ratio_interval(function_runs, floor_runs)
    return {
        "initMs": round(function_ms, 1),
        "floorMs": round(floor_ms, 1),
        "ratio": round(ratio, 3),
        "ratioInterval90": [round(low, 3), round(high, 3)],
        "kind": kind,
        "target": TARGETS[kind],
        "met": ratio <= TARGETS[kind],
        "importMs": round(statistics.median(f.import_ms for f, _ in pairs), 1),
        "firstInvokeMs": round(statistics.median(f.first_invoke_ms for f, _ in pairs), 1),
        "floorImportMs": round(statistics.median(g.import_ms for _, g in pairs), 1),
        "pairedFloorMs": round(statistics.median(g.total_ms for _, g in pairs), 1),
        "medianPairRatio": round(statistics.median(f.total_ms / g.total_ms for f, g in pairs), 3),
        "pairRatios": [round(f.total_ms / g.total_ms, 3) for f, g in pairs],
        "samplesMs": [round(f.total_ms, 1) for f, _ in pairs],
        "floorSamplesMs": [round(g.total_ms, 1) for _, g in pairs],
        "memoryMB": memory_mb,
        "runs": len(pairs),
    }


def measure(
    system: BenchSystem, runs: int, *, warm_up: bool = True, log: Callable[[str], None] = print
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Every function's cold start, and the references'; each paired with floor runs made next to it."""
    names = sorted(system.keys)
    triggers = Triggers(system)
    samples: dict[str, list[tuple[ColdSample, ColdSample]]] = {name: [] for name in [*names, *REFERENCES]}
    for run in range(-1 if warm_up else 0, runs):
        for name in names:
            pair = cold_function(system, triggers, name), cold_floor(system, name)
            if run >= 0:
                samples[name].append(pair)
        for name, (handler, like, event, _) in REFERENCES.items():
            pair = cold_floor(system, like, handler, event), cold_floor(system, like)
            if run >= 0:
                samples[name].append(pair)
        log(f"  cold starts: round {run + 1}/{runs}" + (" (warm-up, not counted)" if run < 0 else ""))
    floor_runs = [g.total_ms for pairs in samples.values() for _, g in pairs]
    functions = {
        name: {
            **_summary(samples[name], floor_runs, category(system, name), system.spec(name).memory_mb),
            "resolver": built_on_the_resolver(system.spec(name)),
        }
        for name in names
    }
    references = {
        name: _summary(samples[name], floor_runs, kind, system.spec(like).memory_mb)
        for name, (_, like, _, kind) in REFERENCES.items()
    }
    return functions, references
