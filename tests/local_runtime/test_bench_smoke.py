"""A smoke run of the benchmark harness (``python -m bench --quick``): every benchmark runs end
to end on the local runtime and results.json holds every figure issue 8 asks for, with sane values.
The targets are not checked here: benchmarks never run in ``make test`` (``make bench`` runs them)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from bench.coldstart import REFERENCE_TARGET, REFERENCES, function_kinds
from bench.system import short_name
from local_runtime.assembly import load_assembly
from local_runtime.synth import synthesize

ROOT = Path(__file__).resolve().parents[2]


def positive(value: object, below: float = math.inf) -> bool:
    return isinstance(value, int | float) and 0 < value < below


@pytest.mark.slow
def test_a_quick_run_writes_every_figure_with_sane_values(tmp_path):
    synthesize()  # cached by a hash of the sources; not part of the harness's time
    docs = (
        (ROOT / "docs" / "performance.md").read_bytes()
        if (ROOT / "docs" / "performance.md").exists()
        else None
    )
    # The subprocess timeout bounds a hung run; how fast it runs is the benchmark's business, not a test's
    # (this machine is shared, and a wall-clock assertion here failed under other suites' load).
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["quick"] is True
    assert "QUICK RUN" in done.stdout
    # A quick run never rewrites the published figures.
    assert docs == ((ROOT / "docs" / "performance.md").read_bytes() if docs is not None else None)

    assembly = load_assembly(ROOT / "cdk.out")
    functions = {short_name(spec) for spec in assembly.functions.values()}
    # Every function has a kind, read from the templates, and so a reference to be measured against.
    kinds = {short_name(assembly.functions[key]): kind for key, kind in function_kinds(assembly).items()}
    assert kinds == {
        "orders.api": "api",
        "telemetry.api": "api",
        "telemetry.ingest": "api",
        "telemetry.authorizer": "authorizer",
        "orders.payment_processor": "stream",
        "orders.order_updater": "stream",
        "telemetry.processor": "stream",
    }

    assert set(results["coldStart"]) == functions
    for name, cold in results["coldStart"].items():
        assert cold["kind"] == kinds[name], name
        assert positive(cold["initMs"], 30_000), name
        assert positive(cold["referenceMs"], 30_000), name
        assert cold["ratioToReference"] == pytest.approx(cold["initMs"] / cold["referenceMs"], rel=0.01), name
        assert 0.2 < cold["ratioToReference"] < 20, name
        low, high = cold["ratioToReferenceInterval90"]
        assert low <= cold["ratioToReference"] <= high, name
        assert cold["targetToReference"] == REFERENCE_TARGET, name
        assert len(cold["referenceSamplesMs"]) == cold["runs"] == results["plan"]["cold_runs"], name
        assert positive(cold["floorMs"], 30_000), name
        assert cold["ratio"] == pytest.approx(cold["initMs"] / cold["floorMs"], rel=0.01), name
        assert 0.2 < cold["ratio"] < 20, name
        low, high = cold["ratioInterval90"]
        assert low <= cold["ratio"] <= high, name
        assert not {"target", "met"} & set(cold), name  # the floor targets are gone
    assert set(results["coldStartReferences"]) == set(kinds.values()) == set(REFERENCES)
    for kind, cold in results["coldStartReferences"].items():
        assert cold["functions"] == sorted(name for name, k in kinds.items() if k == kind), kind
        assert positive(cold["initMs"], 30_000), kind
        assert 0.2 < cold["ratio"] < 20, kind

    routes = {  # every route a function serves (CORS preflights are the gateway's own)
        f"{api.service} {route.method} {route.path}"
        for api in assembly.apis.values()
        for route in api.routes
        if route.mock is None
    }
    assert routes <= set(results["latencyMs"])
    for route, latency in results["latencyMs"].items():
        assert positive(latency["p50"], 30_000), route
        assert latency["p50"] <= latency["p95"] <= latency["p99"], route
        # Each request's round trip holds its functions' durations and something of the emulator's.
        assert 0 < latency["overheadMs"]["p50"] < latency["p50"], route

    assert positive(results["writeUnitsPerReading"], 10)
    assert positive(results["capacityPerOrder"]["write"], 1_000)
    assert positive(results["capacityPerOrder"]["read"], 1_000)
    assert positive(results["ingestReadingsPerSecond"])
    assert positive(results["streamRecordsPerSecond"])
    assert positive(results["costPerMillionReadingsUSD"], 1_000)
    assert positive(results["costPerMillionOrdersUSD"], 10_000)
    assert functions | {"layer"} <= set(results["packageBytes"])
    for name, size in results["packageBytes"].items():
        assert positive(size["zipped"], 250e6), name
        assert size["zipped"] <= size["unzipped"], name
