"""Cold start is imports: the stream consumers and the device path import neither pydantic, nor
Powertools, nor boto3 (botocore is enough for a client), nor the X-Ray SDK. Each measured about
50, 25, 15 and 50-100 ms of cold start here (make bench, docs/performance.md). And every handler
imports with the cyclic garbage collector off (commons.cold_start)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
HEAVY = ("pydantic", "aws_lambda_powertools", "boto3", "aws_xray_sdk", "asyncio")


HANDLERS = [
    "orders.handlers.api",
    "orders.handlers.payment_processor",
    "orders.handlers.order_updater",
    "telemetry.handlers.api",
    "telemetry.handlers.processor",
    "telemetry.handlers.ingest",
    "telemetry.handlers.authorizer",
]


def run_fresh(code: str) -> str:
    """Run ``code`` in a fresh interpreter that sees the layer and both services; its standard output."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            str(ROOT / path) for path in ("shared/python", "services/orders", "services/telemetry")
        ),
        "ORDERS_TABLE_NAME": "orders",
        "PAYMENTS_TABLE_NAME": "payments",
        "TELEMETRY_TABLE_NAME": "telemetry",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    return done.stdout


def imported_by(module: str) -> set[str]:
    return set(
        json.loads(run_fresh(f"import sys, json; import {module}; print(json.dumps(sorted(sys.modules)))"))
    )


@pytest.mark.parametrize(
    "module",
    [
        "orders.handlers.payment_processor",
        "orders.handlers.order_updater",
        "telemetry.handlers.processor",
        "telemetry.handlers.ingest",
        "telemetry.handlers.authorizer",
    ],
)
def test_lean_functions_import_nothing_heavy(module):
    loaded = imported_by(module)
    assert module in loaded
    assert not [name for name in loaded if name.split(".")[0] in HEAVY]


def test_creating_the_client_needs_only_botocore():
    loaded = imported_by("commons.dynamodb")
    assert "botocore.session" in loaded
    assert "boto3" not in loaded


# Records, for every import the handler module causes, whether the collector was on at that moment.
WATCH_INIT = """
import gc, json, sys
collector_on_at = {}
def watch(event, args):
    if event == "import" and args[0] not in collector_on_at:
        collector_on_at[args[0]] = gc.isenabled()
sys.addaudithook(watch)
import %s
from commons.dynamodb import client
print(json.dumps({"on_during": sorted(name for name, on in collector_on_at.items() if on),
                  "imports": len(collector_on_at), "on_after": gc.isenabled(),
                  "frozen": gc.get_freeze_count(), "clients": client.cache_info().currsize}))
"""


@pytest.mark.parametrize("module", HANDLERS)
def test_a_handler_initializes_with_the_collector_off_and_leaves_it_on(module):
    seen = json.loads(run_fresh(WATCH_INIT % module))
    assert seen["imports"] > 50
    # Before the module's first statement run Python's own start-up, the hook, and the (empty)
    # packages holding the module; then commons.cold_start (standard library only) pauses it: nothing
    # else that the handler imports may run with it on.
    enclosing = {module.rsplit(".", depth)[0] for depth in range(module.count(".") + 1)}
    suspects = {*HEAVY, "botocore", "commons", module.split(".")[0]}
    on = [name for name in seen["on_during"] if name.split(".")[0] in suspects]
    assert on == sorted({*enclosing, "commons", "commons.cold_start"})
    assert seen["on_after"]
    assert seen["frozen"] > 10_000
    assert seen["clients"] == 1  # created at init, not in the first invoke


ROUTE_DECORATORS = {"get", "post", "put", "patch", "delete", "head", "route"}


def _name(node: ast.expr) -> str:
    return node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "")


def _model_classes(trees: Iterable[ast.Module]) -> set[str]:
    """The names of every class that is a pydantic model: BaseModel's subclasses, through any number of
    our own bases (ApiModel, RequestModel, ProblemDetails, ...), wherever in the sources they are."""
    classes = [node for tree in trees for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]
    models = {"BaseModel"}
    while True:
        found = {node.name for node in classes if any(_name(base) in models for base in node.bases)}
        if found <= models:
            return models
        models |= found


def _reads_annotations_at_run_time(tree: ast.Module, models: set[str]) -> bool:
    """The module defines a pydantic model, imports pydantic at run time (for models or their fields; an
    import for type checkers only does not count) or declares resolver routes."""
    for statement in tree.body:
        if isinstance(statement, ast.ImportFrom) and (statement.module or "").startswith("pydantic"):
            return True
        if isinstance(statement, ast.Import) and any(
            alias.name.startswith("pydantic") for alias in statement.names
        ):
            return True
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and any(_name(base) in models for base in node.bases):
            return True
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and any(
            isinstance(decorator, ast.Call)
            and isinstance(decorator.func, ast.Attribute)
            and decorator.func.attr in ROUTE_DECORATORS
            for decorator in node.decorator_list
        ):
            return True
    return False


def _defers_annotations(tree: ast.Module) -> bool:
    return any(isinstance(node, ast.ImportFrom) and node.module == "__future__" for node in tree.body)


def test_modules_whose_annotations_are_read_at_run_time_do_not_defer_them():
    """pydantic reads a model's annotations when its class is made, and the resolver reads a route's
    when it first serves it: deferred (``from __future__ import annotations``), each one is a string
    compiled and evaluated at cold start (about a quarter of a deferred model's build; decision 23).
    The benchmark's reference functions are held to it too, so they are not slower than ours by it."""
    sources = [
        *ROOT.glob("shared/python/commons/**/*.py"),
        *ROOT.glob("services/*/*/**/*.py"),
        *ROOT.glob("infra/bench/floor/*.py"),
    ]
    trees = {path: ast.parse(path.read_text()) for path in sources}
    models = _model_classes(trees.values())
    read_at_run_time = [path for path, tree in trees.items() if _reads_annotations_at_run_time(tree, models)]
    assert len(read_at_run_time) >= 8, "the scan found too few model and route modules"
    deferred = [str(path.relative_to(ROOT)) for path in read_at_run_time if _defers_annotations(trees[path])]
    assert not deferred, f"these modules defer annotations that are read at run time: {deferred}"
