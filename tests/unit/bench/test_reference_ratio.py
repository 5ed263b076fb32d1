"""Each function's cold start over its kind's reference (bench/coldstart.py): which reference a
function gets, where the reference runs, and the ratio and interval computed from the run's samples."""

from __future__ import annotations

import ast
import statistics
from pathlib import Path

import pytest

from bench.coldstart import (
    FLOOR_DIR,
    REFERENCE_TARGET,
    REFERENCES,
    ColdSample,
    floor_spec,
    function_kinds,
    function_summary,
    ratio_interval,
    reference_summary,
)
from bench.tables import KINDS
from local_runtime.assembly import (
    ApiSpec,
    Assembly,
    AuthorizerSpec,
    FunctionSpec,
    MappingSpec,
    RouteSpec,
)

ROOT = Path(__file__).resolve().parents[3]
FLOOR = [200.0, 204.0, 198.0, 201.0, 199.0, 203.0, 197.0]


def pairs(*totals: float) -> list[tuple[ColdSample, ColdSample]]:
    """Runs of ``totals`` ms, each beside a floor run from FLOOR."""
    return [
        (ColdSample(total, total - 30.0, 5.0), ColdSample(FLOOR[i % len(FLOOR)], 170.0, 1.0))
        for i, total in enumerate(totals)
    ]


def test_the_ratio_to_the_reference_is_the_median_over_its_own_reference_runs():
    own = pairs(262.0, 270.0, 258.0, 266.0, 290.0)
    beside = pairs(250.0, 255.0, 248.0, 252.0, 251.0)
    floor_runs = [g.total_ms for _, g in [*own, *beside]]
    summary = function_summary(own, beside, floor_runs, kind="api", memory_mb=512)
    assert summary["kind"] == "api"
    assert summary["initMs"] == 266.0
    assert summary["referenceMs"] == 251.0
    assert summary["ratioToReference"] == round(266.0 / 251.0, 3)
    low, high = ratio_interval([262.0, 270.0, 258.0, 266.0, 290.0], [250.0, 255.0, 248.0, 252.0, 251.0])
    assert summary["ratioToReferenceInterval90"] == [round(low, 3), round(high, 3)]
    assert low <= summary["ratioToReference"] <= high
    assert summary["targetToReference"] == REFERENCE_TARGET == 1.05
    assert summary["referenceSamplesMs"] == [250.0, 255.0, 248.0, 252.0, 251.0]
    # The ratio to the floor stays, over every floor run of the phase.
    assert summary["floorMs"] == statistics.median(floor_runs)
    assert summary["ratio"] == round(266.0 / statistics.median(floor_runs), 3)
    assert "target" not in summary
    assert "met" not in summary


def test_a_function_as_fast_as_its_reference_is_at_one_whatever_the_floor():
    same = pairs(240.0, 241.0, 239.0)
    summary = function_summary(same, pairs(240.0, 241.0, 239.0), [100.0, 100.0], kind="stream", memory_mb=256)
    assert summary["ratioToReference"] == 1.0
    assert summary["ratio"] == 2.4


def test_a_kinds_reference_pools_its_runs_beside_every_function_of_the_kind():
    beside = {"orders.api": pairs(250.0, 252.0), "telemetry.api": pairs(254.0, 256.0)}
    summary = reference_summary("api", beside, [200.0] * 8, {512})
    assert summary["functions"] == ["orders.api", "telemetry.api"]
    assert summary["runs"] == 4
    assert summary["initMs"] == 253.0
    assert summary["ratio"] == round(253.0 / 200.0, 3)
    assert summary["memoryMB"] == [512]
    assert summary["handler"] == REFERENCES["api"].handler


def function(key: str) -> FunctionSpec:
    stack, logical = key.split("/")
    return FunctionSpec(stack, logical, logical, f"{logical}.handler", Path("/code"), (), {})


def route(key: str) -> RouteSpec:
    return RouteSpec("GET", f"/{key}", key, api_key_required=True, authorization_type="NONE", authorizer=None)


def mapping(key: str) -> MappingSpec:
    return MappingSpec(
        "S", f"{key}Mapping", key, "S/Table", 100, 0.0, "LATEST", (), -1, -1, False, True, None
    )


def assembly(*functions: str, routes: tuple[str, ...] = (), authorizers: tuple[str, ...] = (), mappings=()):
    api = ApiSpec(
        stack="S",
        logical_id="Api",
        name="shop-dev",
        service="shop",
        stage="dev",
        routes=[route(key) for key in routes],
        authorizers={
            f"Auth{i}": AuthorizerSpec(f"Auth{i}", "TOKEN", "Authorization", key, 300)
            for i, key in enumerate(authorizers)
        },
        usage_plans=[],
        stage_throttles={},
    )
    return Assembly(
        functions={key: function(key) for key in functions},
        tables={},
        apis={"S/Api": api},
        mappings=[mapping(key) for key in mappings],
        queues={},
    )


def test_a_functions_kind_comes_from_what_the_templates_wire_it_to():
    wired = assembly(
        "S/Api",
        "S/Auth",
        "S/Processor",
        routes=("S/Api", "S/Api"),
        authorizers=("S/Auth",),
        mappings=("S/Processor", "S/Processor"),
    )
    assert function_kinds(wired) == {"S/Api": "api", "S/Auth": "authorizer", "S/Processor": "stream"}
    assert set(function_kinds(wired).values()) <= set(REFERENCES)


def test_a_function_wired_to_nothing_has_no_reference_and_is_an_error():
    with pytest.raises(
        ValueError, match=r"^S/Seeder is wired to no event source mapping, authorizer or route"
    ):
        function_kinds(assembly("S/Api", "S/Seeder", routes=("S/Api",)))


def test_a_function_wired_as_two_kinds_is_an_error():
    with pytest.raises(ValueError, match=r"^S/Both is wired as stream and api:"):
        function_kinds(assembly("S/Both", routes=("S/Both",), mappings=("S/Both",)))


def test_every_reference_is_a_handler_in_the_floor_directory_built_on_the_libraries_alone():
    """Nothing of the project's own code: a reference is what the libraries cost, used as documented."""
    ours = {"commons", "orders", "telemetry", "infra", "local_runtime", "bench", "tests"}
    for kind, reference in REFERENCES.items():
        module, _, name = reference.handler.rpartition(".")
        tree = ast.parse((FLOOR_DIR / f"{module}.py").read_text())
        imported = {
            (node.module or "").split(".")[0]
            if isinstance(node, ast.ImportFrom)
            else alias.name.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in node.names
        }
        assert imported.isdisjoint(ours), (kind, imported & ours)
        assert {"boto3", "aws_lambda_powertools"} <= imported, kind
        handler = next(node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == name)
        decorators = [ast.unparse(d) for d in handler.decorator_list]
        assert decorators[0].startswith("logger.inject_lambda_context"), kind
        assert decorators[1] == "metrics.log_metrics", kind


def test_a_reference_runs_in_the_surroundings_of_the_function_it_is_compared_with():
    like = FunctionSpec(
        stack="Orders",
        logical_id="Api",
        name="Orders-Api",
        handler="orders.handlers.api.handler",
        code_dir=Path("/asset"),
        layer_paths=(Path("/layer/python"), Path("/layer/site")),
        environment={"POWERTOOLS_SERVICE_NAME": "orders", "POWERTOOLS_METRICS_NAMESPACE": "Ref/orders"},
        memory_mb=512,
        timeout_s=10.0,
    )
    spec = floor_spec(like, REFERENCES["api"].handler)
    assert spec.handler == "bench_reference_api.handler"
    assert spec.code_dir == FLOOR_DIR
    assert (spec.layer_paths, spec.environment, spec.memory_mb, spec.timeout_s) == (
        like.layer_paths,
        like.environment,
        512,
        10.0,
    )
    assert spec.environment is not like.environment


def test_the_report_names_every_kind_that_has_a_reference():
    assert set(KINDS) == set(REFERENCES)
