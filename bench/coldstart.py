"""Cold starts: a fresh execution environment's time from starting its process to the end of its
first invoke, for every function, each over the **reference** function of its kind (bench/floor/):
the libraries that kind of function is built on (boto3's DynamoDB client, Powertools' Logger and Metrics,
and the REST resolver with validation and a pydantic model for an API function, or the batch processor for
a stream processor), written as their documentation writes them and nothing of ours. That ratio is what our
own code costs over the libraries it uses; its target is REFERENCE_TARGET. Every run is also shown over a
floor function that only imports boto3 and creates a DynamoDB client.

A function's kind comes from the templates (:func:`function_kinds`). Its reference runs in the function's
own surroundings (layers, memory, timeout, the template's variables and the local runtime's), next to the
function's runs, and its ratio to the reference is its median over the median of those reference runs. The
ratio to the floor is over the median of all the phase's floor runs. Everything runs in the runtime's own
execution environment (AWS's runtime client, ``python -m awslambdaric``, on Lambda's Python when the machine has
one; task root then layers on the import path). Each round runs, for every function,
function, floor, reference, floor, so the machine's noise hits all three alike, and the function's first
invoke is a real one: it is swapped into the running system and the system's own traffic reaches it (a
catalogue read through the gateway, a real device token, a real stream batch). One extra round first
compiles and caches bytecode, as Lambda runs shipped bytecode; it is not counted.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.system import BenchSystem, FreshRuntime
from local_runtime.assembly import Assembly, FunctionSpec
from local_runtime.functions import Invocation

FLOOR_DIR = Path(__file__).with_name("floor")
FLOOR_HANDLER = "bench_floor.handler"
REFERENCE_TARGET = 1.05  # a function's cold start over its kind's reference, at most
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
_TOKEN = {
    "type": "TOKEN",
    "authorizationToken": "Bearer reference.token",
    "methodArn": "arn:aws:execute-api:us-east-1:123456789012:reference/dev/POST/items",
}


@dataclass(frozen=True)
class Reference:
    handler: str  # in FLOOR_DIR
    event: dict[str, Any]  # its first invoke's
    what: str


# One per kind of function: the kinds are what function_kinds can tell apart in the templates.
REFERENCES = {
    "api": Reference(
        "bench_reference_api.handler",
        _GET_ITEMS,
        "Powertools REST resolver with validation, one route answering a pydantic model, Logger, Metrics",
    ),
    "authorizer": Reference(
        "bench_reference_authorizer.handler",
        _TOKEN,
        "TOKEN authorizer handler with Powertools Logger, Metrics",
    ),
    "stream": Reference(
        "bench_reference_stream.handler",
        _ONE_RECORD,
        "Powertools BatchProcessor for DynamoDB streams, a record handler that does nothing, Logger, Metrics",
    ),
}


def function_kinds(assembly: Assembly) -> dict[str, str]:
    """Every function's kind, by its key in the assembly, from what the templates wire it to: an event source
    mapping makes it a stream processor, an API Gateway authorizer an authorizer, a route an API function. A
    function wired to none of these, or to more than one, has no reference to be measured against: an error,
    so that a new kind of function gets a reference before its cold start is reported."""
    wired = {
        "stream": {mapping.function for mapping in assembly.mappings},
        "authorizer": {
            authorizer.function
            for api in assembly.apis.values()
            for authorizer in api.authorizers.values()
            if authorizer.function
        },
        "api": {route.function for api in assembly.apis.values() for route in api.routes if route.function},
    }
    kinds = {}
    for key in sorted(assembly.functions):
        found = [kind for kind, keys in wired.items() if key in keys]
        if not found:
            raise ValueError(
                f"{key} is wired to no event source mapping, authorizer or route: give its kind a reference "
                "in bench/coldstart.py"
            )
        if len(found) > 1:
            raise ValueError(
                f"{key} is wired as {' and '.join(found)}: which reference it is measured against is unclear"
            )
        kinds[key] = found[0]
    return kinds


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
    """A function of FLOOR_DIR in ``like``'s surroundings: its layers, memory, timeout and template variables
    (Powertools reads POWERTOOLS_SERVICE_NAME, POWERTOOLS_LOG_LEVEL and POWERTOOLS_METRICS_NAMESPACE), so that
    only the code differs from the function it is compared with."""
    module = handler.rsplit(".", 1)[0]
    return FunctionSpec(
        stack="Bench",
        logical_id=module,
        name=module.replace("_", "-"),
        handler=handler,
        code_dir=FLOOR_DIR,
        layer_paths=like.layer_paths,
        environment=dict(like.environment),
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


def cold_function(system: BenchSystem, triggers: Triggers, name: str) -> ColdSample:
    with system.fresh(name) as fresh:
        triggers.cause(name)
        return ColdSample.of(fresh.first, name)


def cold_floor(system: BenchSystem, like: str, handler: str = FLOOR_HANDLER, event: Any = None) -> ColdSample:
    """A function from bench/floor/ (the floor, or a reference) in ``like``'s surroundings."""
    surroundings = system.function(like)
    floor = FreshRuntime(surroundings, spec=floor_spec(surroundings.spec, handler))
    try:
        floor.invoke({} if event is None else event)
        return ColdSample.of(floor.first, handler)
    finally:
        floor.shutdown()


def ratio_interval(
    function_ms: Sequence[float], baseline_ms: Sequence[float], *, resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """How far this run's own noise could move a ratio of medians: the 5th and 95th percentiles of a
    bootstrap that resamples the function's runs and the baseline's runs (the floor's or the reference's,
    each with replacement) and takes the ratio of their medians. Seeded, so the same samples always give
    the same interval."""
    draw = random.Random(seed)
    ratios = [
        statistics.median(draw.choices(function_ms, k=len(function_ms)))
        / statistics.median(draw.choices(baseline_ms, k=len(baseline_ms)))
        for _ in range(resamples)
    ]
    cuts = statistics.quantiles(ratios, n=20, method="inclusive")
    return cuts[0], cuts[-1]


Pairs = list[tuple[ColdSample, ColdSample]]  # each run, and the floor run made next to it


def _median(values: Sequence[float]) -> float:
    return round(statistics.median(values), 1)


def _over(runs: Sequence[float], baseline: Sequence[float]) -> tuple[float, list[float]]:
    """The ratio of the medians, and its 90% interval, as stored."""
    low, high = ratio_interval(runs, baseline)
    return round(statistics.median(runs) / statistics.median(baseline), 3), [round(low, 3), round(high, 3)]


def _summary(pairs: Pairs, floor_runs: Sequence[float]) -> dict[str, Any]:
    """``floor_runs`` are every floor run of the phase: the floor runs all do the same work, interleaved
    with every function's and reference's runs, so pooling them only takes noise out."""
    runs = [f.total_ms for f, _ in pairs]
    ratio, interval = _over(runs, floor_runs)
    return {
        "initMs": _median(runs),
        "importMs": _median([f.import_ms for f, _ in pairs]),
        "firstInvokeMs": _median([f.first_invoke_ms for f, _ in pairs]),
        "floorMs": _median(floor_runs),
        "ratio": ratio,
        "ratioInterval90": interval,
        "floorImportMs": _median([g.import_ms for _, g in pairs]),
        "pairedFloorMs": _median([g.total_ms for _, g in pairs]),
        "medianPairRatio": round(statistics.median(f.total_ms / g.total_ms for f, g in pairs), 3),
        "pairRatios": [round(f.total_ms / g.total_ms, 3) for f, g in pairs],
        "samplesMs": [round(f.total_ms, 1) for f, _ in pairs],
        "floorSamplesMs": [round(g.total_ms, 1) for _, g in pairs],
        "runs": len(pairs),
    }


def function_summary(
    pairs: Pairs, reference: Pairs, floor_runs: Sequence[float], *, kind: str, memory_mb: int
) -> dict[str, Any]:
    """A function's figures. ``reference`` are its kind's reference runs made in its surroundings, next to
    its own runs: the ratio to the reference is taken over those alone, not over the kind's other functions'
    surroundings."""
    runs = [f.total_ms for f, _ in pairs]
    reference_runs = [r.total_ms for r, _ in reference]
    ratio, interval = _over(runs, reference_runs)
    return {
        "kind": kind,
        "memoryMB": memory_mb,
        "referenceMs": _median(reference_runs),
        "ratioToReference": ratio,
        "ratioToReferenceInterval90": interval,
        "targetToReference": REFERENCE_TARGET,
        "referenceSamplesMs": [round(r, 1) for r in reference_runs],
        **_summary(pairs, floor_runs),
    }


def reference_summary(
    kind: str, beside: dict[str, Pairs], floor_runs: Sequence[float], memory_mb: set[int]
) -> dict[str, Any]:
    """A kind's reference over the floor, its runs beside every function of the kind (``beside``) pooled."""
    pairs = [pair for name in sorted(beside) for pair in beside[name]]
    return {
        "kind": kind,
        "what": REFERENCES[kind].what,
        "handler": REFERENCES[kind].handler,
        "functions": sorted(beside),
        "memoryMB": sorted(memory_mb),
        **_summary(pairs, floor_runs),
    }


def measure(
    system: BenchSystem, runs: int, *, warm_up: bool = True, log: Callable[[str], None] = print
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Every function's cold start over its kind's reference and over the floor; and each kind's
    reference over the floor."""
    names = sorted(system.keys)
    kinds = function_kinds(system.runtime.assembly)
    kind_of = {name: kinds[system.keys[name]] for name in names}
    triggers = Triggers(system)
    own: dict[str, Pairs] = {name: [] for name in names}
    # Each function's kind's reference, run in that function's surroundings.
    beside: dict[str, Pairs] = {name: [] for name in names}
    for run in range(-1 if warm_up else 0, runs):
        for name in names:
            reference = REFERENCES[kind_of[name]]
            function = cold_function(system, triggers, name), cold_floor(system, name)
            alike = cold_floor(system, name, reference.handler, reference.event), cold_floor(system, name)
            if run >= 0:
                own[name].append(function)
                beside[name].append(alike)
        log(f"  cold starts: round {run + 1}/{runs}" + (" (warm-up, not counted)" if run < 0 else ""))
    floor_runs = [g.total_ms for pairs in [*own.values(), *beside.values()] for _, g in pairs]
    memory = {name: system.spec(name).memory_mb for name in names}
    functions = {
        name: function_summary(
            own[name], beside[name], floor_runs, kind=kind_of[name], memory_mb=memory[name]
        )
        for name in names
    }
    references = {
        kind: reference_summary(
            kind,
            {name: beside[name] for name in names if kind_of[name] == kind},
            floor_runs,
            {memory[name] for name in names if kind_of[name] == kind},
        )
        for kind in sorted(set(kind_of.values()))
    }
    return functions, references
