"""Where a function's cold start goes: ``python -m bench.profile [function ...]``.

Starts the system as the benchmarks do, swaps a new environment in for each function (all of them
by default) whose handler is wrapped by bench/probe/, causes the same realistic first invoke
as the cold-start benchmark, and prints the slowest module imports (cumulative, from cProfile's
``<module>`` entries) and the costliest calls of the first invoke. cProfile slows Python code down,
so read the figures as shares, not as cold-start times (those come from ``make bench``).
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import pstats
import tempfile
from pathlib import Path

from bench.coldstart import Triggers
from bench.system import BenchSystem, FreshRuntime

PROBE_DIR = Path(__file__).with_name("probe")


def _rows(path: Path, *, modules: bool, top: int) -> list[tuple[float, float, str]]:
    stats = pstats.Stats(str(path))
    rows = []
    for (filename, line, function), (_, _, tottime, cumtime, _) in stats.stats.items():  # type: ignore[attr-defined]
        if modules != (function == "<module>"):
            continue
        where = filename.split("site-packages/")[-1].split("/python/")[-1] if line else function
        rows.append((cumtime * 1000, tottime * 1000, where if modules else f"{where}:{line}({function})"))
    return sorted(rows, reverse=True)[:top]


def profile(system: BenchSystem, triggers: Triggers, name: str, top: int, directory: Path) -> str:
    out = directory / name

    def prepare(runtime: FreshRuntime) -> None:
        target = runtime.spec.handler
        runtime.spec = dataclasses.replace(
            runtime.spec, handler="bench_probe.handler", layer_paths=(*runtime.spec.layer_paths, PROBE_DIR)
        )
        runtime.environment.update(
            {"_HANDLER": "bench_probe.handler", "BENCH_PROBE_TARGET": target, "BENCH_PROBE_OUT": str(out)}
        )

    with system.fresh(name, prepare) as fresh:
        triggers.cause(name)
        first = fresh.first
    report = io.StringIO()
    if first is None or not first.ok:
        return f"{name}: the first invoke failed: {first}"
    report.write(
        f"\n== {name}: cold start {first.cold_start_ms:.0f} ms (profiled), import {first.init_ms:.0f} ms, "
        f"first invoke {first.duration_ms:.0f} ms\n-- imports (cumulative ms, self ms, module)\n"
    )
    for cumulative, own, where in _rows(Path(f"{out}.import"), modules=True, top=top):
        report.write(f"{cumulative:8.1f} {own:8.1f}  {where}\n")
    report.write("-- first invoke (cumulative ms, self ms, call)\n")
    for cumulative, own, where in _rows(Path(f"{out}.invoke"), modules=False, top=top):
        report.write(f"{cumulative:8.1f} {own:8.1f}  {where}\n")
    return report.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("functions", nargs="*", help="short names, e.g. telemetry.processor (default: all)")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    with BenchSystem() as system, tempfile.TemporaryDirectory() as directory:
        triggers = Triggers(system)
        for name in args.functions or sorted(system.keys):
            print(profile(system, triggers, name, args.top, Path(directory)))


if __name__ == "__main__":
    main()
