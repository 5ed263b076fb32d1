"""The figures of a run (results.json) as tables for the terminal, as docs/performance.md, and as
two SVG charts. Everything printed here is read from the results: no figure is written by hand."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from html import escape
from pathlib import Path
from typing import Any

from infra.bench.coldstart import REFERENCE_TARGET

TARGET_WRITE_UNITS_PER_READING = 0.12
TARGET_COST_PER_MILLION_READINGS = 0.10
COST_LINES = {
    "apiGateway": "API Gateway",
    "lambdaRequests": "Lambda requests",
    "lambdaDuration": "Lambda GB-s",
    "lambdaInit": "Lambda init",
    "dynamodbWrites": "DynamoDB writes",
    "dynamodbReads": "DynamoDB reads",
    "logs": "Logs",
    "total": "**total**",
}


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def _price(value: float) -> str:
    """A unit price as published: at least cents, every significant digit."""
    text = f"{value:.10f}".rstrip("0")
    whole, _, fraction = text.partition(".")
    return f"${whole}.{fraction.ljust(2, '0')}"


def _money(value: float) -> str:
    return f"${value:.4f}" if value < 1 else f"${value:,.2f}"


class Table:
    def __init__(self, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        self.headers = list(headers)
        self.rows = [list(row) for row in rows]

    def markdown(self) -> str:
        lines = ["| " + " | ".join(self.headers) + " |", "|" + "---|" * len(self.headers)]
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        return "\n".join(lines)

    def text(self) -> str:
        cells = [self.headers, *self.rows]
        plain = [[cell.replace("**", "") for cell in row] for row in cells]
        widths = [max(len(row[i]) for row in plain) for i in range(len(self.headers))]
        lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in plain]
        lines.insert(1, "  ".join("-" * width for width in widths))
        return "\n".join(lines)


# -- the tables ------------------------------------------------------------------------------------


def _ratio(ratio: float, target: float = REFERENCE_TARGET) -> str:
    """Two decimals, or three where two would round a ratio onto its target: 1.055 is over 1.05 and
    1.049 under it, and written 1.05 neither says which."""
    text = f"{ratio:.2f}"
    return f"{ratio:.3f}" if float(text) == target and ratio != target else text


def _interval(interval: Sequence[float] | None) -> str:
    return f"{interval[0]:.2f} to {interval[1]:.2f}" if interval else "n/a"


KINDS = {"api": "API functions", "authorizer": "authorizers", "stream": "stream processors"}


def _by_kind(results: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return sorted(results["coldStart"].items(), key=lambda item: (item[1]["kind"], item[0]))


def _within(cold: dict[str, Any]) -> bool:
    return bool(cold["ratioToReference"] <= cold["targetToReference"])


def _memory(cold: dict[str, Any]) -> str:
    """A function's memory, or the memories of the functions a reference ran beside."""
    memory = cold["memoryMB"]
    return ", ".join(_fmt(mb) for mb in memory) if isinstance(memory, list) else _fmt(memory)


def cold_start_table(results: dict[str, Any]) -> Table:
    rows = []
    for name, c in _by_kind(results):
        rows.append(
            [
                f"`{name}`",
                c["kind"],
                _memory(c),
                _fmt(c["initMs"]),
                _fmt(c["referenceMs"]),
                f"**{_ratio(c['ratioToReference'], c['targetToReference'])}**",
                _interval(c.get("ratioToReferenceInterval90")),
                f"≤ {c['targetToReference']:.2f}",
                _fmt(_within(c)),
                _fmt(c["floorMs"]),
                f"{c['ratio']:.2f}",
                _fmt(c["importMs"]),
                _fmt(c["firstInvokeMs"]),
            ]
        )
    for kind, c in sorted(results.get("coldStartReferences", {}).items()):
        rows.append(
            [
                f"*reference for {KINDS.get(kind, kind)}*",
                kind,
                _memory(c),
                _fmt(c["initMs"]),
                *["n/a"] * 5,
                _fmt(c["floorMs"]),
                f"{c['ratio']:.2f}",
                _fmt(c["importMs"]),
                _fmt(c["firstInvokeMs"]),
            ]
        )
    return Table(
        [
            "function",
            "kind",
            "MB",
            "cold start ms",
            "reference ms",
            "ratio to reference",
            "90% interval",
            "target (times reference)",
            "met",
            "floor ms",
            "ratio to floor",
            "import ms",
            "first invoke ms",
        ],
        rows,
    )


def latency_table(results: dict[str, Any]) -> Table:
    rows = []
    for route, r in results["latencyMs"].items():
        f = r["functionMs"]
        rows.append(
            [
                f"`{route}`",
                _fmt(r["p50"]),
                _fmt(r["p95"]),
                _fmt(r["p99"]),
                _fmt(f["p50"]),
                _fmt(f["p95"]),
                _fmt(f["p99"]),
                _fmt(r["overheadP50"]),
                f"{r['n']} ({r['function']})",
            ]
        )
    return Table(
        [
            "route",
            "p50",
            "p95",
            "p99",
            "function p50",
            "p95",
            "p99",
            "gateway overhead p50",
            "samples (function)",
        ],
        rows,
    )


def capacity_table(results: dict[str, Any]) -> Table:
    telemetry = results["workloads"]["telemetry"]
    readings = telemetry["units"]
    rows = [
        [f"{kind}", _fmt(units, 0), f"{units / readings:.4f}"]
        for kind, units in sorted(telemetry["writeUnitsByItem"].items())
    ]
    rows.append(
        ["**all writes**", _fmt(telemetry["writeUnits"], 0), f"**{results['writeUnitsPerReading']:.4f}**"]
    )
    rows.append(
        [
            "reads (not in the target)",
            _fmt(telemetry["readUnits"], 1),
            f"{results['readUnitsPerReading']:.4f}",
        ]
    )
    return Table([f"telemetry, {readings:,} readings: units by item", "units", "per reading"], rows)


def orders_capacity_table(results: dict[str, Any]) -> Table:
    orders = results["workloads"]["orders"]
    rows = []
    for name, f in orders["functions"].items():
        rows.append(
            [
                f"`{name}`",
                f"{f['invocations'] / orders['units']:.2f}",
                f"{f['writeUnits'] / orders['units']:.2f}",
                f"{f['readUnits'] / orders['units']:.2f}",
                ", ".join(
                    f"{call} x {count / orders['units']:g}" for call, count in sorted(f["calls"].items())
                ),
            ]
        )
    per_order = results["capacityPerOrder"]
    rows.append(
        ["**one order's life**", "", f"**{per_order['write']:.2f}**", f"**{per_order['read']:.2f}**", ""]
    )
    return Table(["function", "invokes per order", "write units", "read units", "calls per order"], rows)


def cost_table(results: dict[str, Any]) -> Table:
    designs = results["costModel"]["readings"]
    headers = ["per million readings", *designs.keys()]
    rows = [
        [label, *(_money(design[line]) for design in designs.values())] for line, label in COST_LINES.items()
    ]
    return Table(headers, rows)


def orders_cost_table(results: dict[str, Any]) -> Table:
    orders = results["costModel"]["orders"]
    return Table(
        ["per million orders", "USD"], [[label, _money(orders[line])] for line, label in COST_LINES.items()]
    )


def throughput_table(results: dict[str, Any]) -> Table:
    ingest, stream = results["throughput"]["ingest"], results["throughput"]["stream"]
    return Table(
        ["what", "rate", "how"],
        [
            [
                "readings ingested through the gateway",
                f"**{_fmt(ingest['readingsPerSecond'], 0)}**/s",
                f"{ingest['devices']} devices posting 100 readings per request back to back for "
                f"{ingest['seconds']} s: {ingest['requests']:,} requests ({ingest['requestsPerSecond']}/s), "
                f"{ingest['throttled']} throttled",
            ],
            [
                "stream records processed (telemetry processor)",
                f"**{_fmt(stream['recordsPerSecond'], 0)}**/s",
                f"{stream['records']:,} records in {stream['batches']} batches of up to {stream['batchSize']}, "
                f"{stream['seconds']} s",
            ],
        ],
    )


def package_table(results: dict[str, Any]) -> Table:
    rows = [
        [f"`{name}`", _fmt(size["zipped"] / 1e6, 3), _fmt(size["unzipped"] / 1e6, 2)]
        for name, size in results["packageBytes"].items()
    ]
    return Table(["package", "zipped MB", "unzipped MB"], rows)


def headline(results: dict[str, Any]) -> Table:
    units = results["writeUnitsPerReading"]
    dollars = results["costPerMillionReadingsUSD"]
    cold_rows = []
    for kind, label in KINDS.items():
        of_kind = {name: c for name, c in results["coldStart"].items() if c["kind"] == kind}
        if not of_kind:
            continue
        worst = max(of_kind, key=lambda name: of_kind[name]["ratioToReference"])
        cold_rows.append(
            [
                f"cold start over its kind's reference, {label} (worst)",
                f"{_ratio(of_kind[worst]['ratioToReference'])} (`{worst}`)",
                f"≤ {REFERENCE_TARGET:.2f}",
                _fmt(all(_within(c) for c in of_kind.values())),
            ]
        )
    return Table(
        ["figure", "measured", "target", "met"],
        [
            *cold_rows,
            [
                "write units per reading, all in",
                f"{units:.4f}",
                f"≤ {TARGET_WRITE_UNITS_PER_READING}",
                _fmt(units <= TARGET_WRITE_UNITS_PER_READING),
            ],
            [
                "dollars per million readings, all in",
                _money(dollars),
                f"≤ ${TARGET_COST_PER_MILLION_READINGS:.2f}",
                _fmt(dollars <= TARGET_COST_PER_MILLION_READINGS),
            ],
            *[
                [
                    f"reference for {KINDS.get(kind, kind)}: cold start over the floor",
                    f"{c['ratio']:.2f}",
                    "n/a",
                    "n/a",
                ]
                for kind, c in sorted(results.get("coldStartReferences", {}).items())
            ],
            ["dollars per million orders, all in", _money(results["costPerMillionOrdersUSD"]), "n/a", "n/a"],
            [
                "write / read units per order's life",
                f"{results['capacityPerOrder']['write']:.2f} / {results['capacityPerOrder']['read']:.2f}",
                "n/a",
                "n/a",
            ],
            ["readings ingested per second", _fmt(results["ingestReadingsPerSecond"], 0), "n/a", "n/a"],
            ["stream records processed per second", _fmt(results["streamRecordsPerSecond"], 0), "n/a", "n/a"],
        ],
    )


def console(results: dict[str, Any]) -> str:
    sections: list[tuple[str, Callable[[dict[str, Any]], Table]]] = [
        ("Cold start (median ms, process start to end of first invoke)", cold_start_table),
        ("Warm latency (ms)", latency_table),
        ("Write units, telemetry", capacity_table),
        ("Capacity units, orders", orders_capacity_table),
        ("Throughput", throughput_table),
        ("Cost per million readings (USD)", cost_table),
        ("Cost per million orders (USD)", orders_cost_table),
        ("Package sizes", package_table),
        ("Headline", headline),
    ]
    note = "QUICK RUN: a smoke test of the harness, not benchmark figures\n\n" if results.get("quick") else ""
    return note + "\n\n".join(f"== {title}\n{build(results).text()}" for title, build in sections)


def within_noise(results: dict[str, Any]) -> str | None:
    """The functions, within the target or over it, whose ratio to their reference this run's own noise
    could put on either side of the target."""
    close = {
        name: c
        for name, c in sorted(results["coldStart"].items())
        if (interval := c.get("ratioToReferenceInterval90"))
        and interval[0] <= c["targetToReference"] <= interval[1]
    }
    if not close:
        return None
    listed = ", ".join(
        f"`{name}` {_ratio(c['ratioToReference'], c['targetToReference'])} "
        f"({_interval(c['ratioToReferenceInterval90'])})"
        for name, c in close.items()
    )
    return (
        f"Within this run's noise of the target: {listed}. Each interval is where 90% of the ratios fall "
        "when the run's own function and reference samples are resampled; it includes the target, so another "
        "run on this machine can land on either side of it."
    )


def missed_targets(results: dict[str, Any]) -> str:
    """Which functions cost more over their reference than the target allows, by how much, and which ratios
    sit within the run's noise of the target."""
    over = {name: c for name, c in sorted(results["coldStart"].items()) if not _within(c)}
    if over:
        listed = ", ".join(
            f"`{name}` {_ratio(c['ratioToReference'], c['targetToReference'])} "
            f"({c['initMs'] - c['referenceMs']:.0f} ms over its reference, "
            f"{c['targetToReference'] * c['referenceMs'] - c['referenceMs']:.0f} ms allowed)"
            for name, c in over.items()
        )
        text = [
            f"Over the target in this run: {listed}. What a function takes over its reference is what its own "
            "code costs at cold start beyond the libraries it uses: its own modules, what it sets up at init, "
            "and what its first invoke does that the reference's does not (a real request's DynamoDB calls). "
            "`python -m infra.bench.profile <function>` shows which imports and first calls the time goes to."
        ]
    else:
        text = [f"Every function is within {REFERENCE_TARGET:.2f} times its reference in this run."]
    noise = within_noise(results)
    if noise:
        text.append(noise)
    return "\n\n".join(text)


# -- charts --------------------------------------------------------------------------------------


def _svg(width: int, height: int, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">\n'
        f'<rect width="{width}" height="{height}" fill="white"/>\n' + "\n".join(body) + "\n</svg>\n"
    )


def cold_start_chart(results: dict[str, Any]) -> str:
    cold = _by_kind(results)
    left, width, row = 330, 420, 50
    top = 40
    scale = width / max(
        max(c["initMs"], c["referenceMs"] * c["targetToReference"], c["floorMs"]) for _, c in cold
    )
    height = top + row * len(cold) + 40
    legend = [
        ("function", "#4e79a7", 0),
        ("its kind's reference", "#f28e2b", 90),
        ("floor (boto3 + client)", "#bab0ac", 250),
    ]
    body = [
        f'<text x="{left}" y="18" font-weight="bold">Cold start: function vs its reference and the floor (median ms)</text>'
    ]
    for label, colour, x in legend:
        body.append(
            f'<rect x="{left + x}" y="24" width="10" height="10" fill="{colour}"/>'
            f'<text x="{left + x + 14}" y="33">{label}</text>'
        )
    body.append(
        f'<line x1="{left + 410}" y1="29" x2="{left + 430}" y2="29" stroke="#e15759" stroke-width="2"/>'
        f'<text x="{left + 434}" y="33">target</text>'
    )
    for index, (name, c) in enumerate(cold):
        y = top + index * row
        body.append(f'<text x="{left - 8}" y="{y + 16}" text-anchor="end">{escape(name)}</text>')
        for offset, height_px, ms, colour in [
            (4, 14, c["initMs"], "#4e79a7"),
            (20, 10, c["referenceMs"], "#f28e2b"),
            (32, 8, c["floorMs"], "#bab0ac"),
        ]:
            body.append(
                f'<rect x="{left}" y="{y + offset}" width="{ms * scale:.1f}" height="{height_px}" fill="{colour}"/>'
            )
        target_ms = c["referenceMs"] * c["targetToReference"]
        target_x = left + target_ms * scale
        body.append(
            f'<line x1="{target_x:.1f}" y1="{y + 1}" x2="{target_x:.1f}" y2="{y + 42}" stroke="#e15759" stroke-width="2"/>'
        )
        label_x = left + max(c["initMs"], target_ms) * scale + 6
        ratio = _ratio(c["ratioToReference"], c["targetToReference"])
        body.append(
            f'<text x="{label_x:.1f}" y="{y + 16}">{c["initMs"]:.0f} ms, '
            f"x{ratio} of its reference (≤ {c['targetToReference']:.2f})</text>"
        )
    return _svg(left + width + 260, height, body)


def cost_chart(results: dict[str, Any]) -> str:
    designs = list(results["costModel"]["readings"].items())
    left, width, row, top = 330, 380, 34, 50
    totals = [design["total"] for _, design in designs]
    low = 10 ** math.floor(math.log10(min(*totals, TARGET_COST_PER_MILLION_READINGS)))
    high = 10 ** math.ceil(math.log10(max(totals)))

    def x(value: float) -> float:
        return left + width * (math.log10(value) - math.log10(low)) / (math.log10(high) - math.log10(low))

    body = [
        f'<text x="{left}" y="18" font-weight="bold">Dollars per million readings, all in (log scale)</text>'
    ]
    decade = low
    while decade <= high * 1.0001:
        body.append(
            f'<line x1="{x(decade):.1f}" y1="{top - 6}" x2="{x(decade):.1f}" y2="{top + row * len(designs)}" stroke="#ddd"/>'
        )
        body.append(
            f'<text x="{x(decade):.1f}" y="{top + row * len(designs) + 16}" text-anchor="middle">${decade:g}</text>'
        )
        decade *= 10
    target = x(TARGET_COST_PER_MILLION_READINGS)
    body.append(
        f'<line x1="{target:.1f}" y1="{top - 10}" x2="{target:.1f}" y2="{top + row * len(designs)}" '
        f'stroke="#e15759" stroke-width="2"/><text x="{target + 4:.1f}" y="{top - 12}" fill="#e15759">target</text>'
    )
    for index, (name, design) in enumerate(designs):
        y = top + index * row
        body.append(f'<text x="{left - 8}" y="{y + 17}" text-anchor="end">{escape(name)}</text>')
        body.append(
            f'<rect x="{left}" y="{y + 5}" width="{x(design["total"]) - left:.1f}" height="18" fill="#4e79a7"/>'
        )
        body.append(f'<text x="{x(design["total"]) + 6:.1f}" y="{y + 18}">{_money(design["total"])}</text>')
    return _svg(left + width + 110, top + row * len(designs) + 30, body)


# -- docs/performance.md -----------------------------------------------------------------------------


def _floor_runs(results: dict[str, Any]) -> int:
    """Every function run and every reference run is paired with a floor run."""
    summaries = [*results["coldStart"].values(), *results.get("coldStartReferences", {}).values()]
    return sum(int(c["runs"]) for c in summaries)


def cold_start_section(results: dict[str, Any]) -> str:
    """Section 1 of docs/performance.md, all but its title and the pointer to the profiler."""
    runs = results["plan"]["cold_runs"]
    return f"""The functions now use Powertools, boto3 and pydantic as their documentation shows: Powertools' Logger
and Metrics in every function, its REST resolver with validation in every API function and its batch
processor in every stream processor, and a DynamoDB client made with boto3 at module level. The
workarounds that made them start faster than those libraries allow (the garbage collector paused during
init, a client made without boto3, our own logging, metrics and batch code, deferred imports) are gone.
In production the API functions' cold start is left to Lambda SnapStart, which resumes them from a
snapshot taken after init instead of importing at each cold start; that cannot be measured on this
machine. So the figure that matters here is what our own code costs over the libraries it uses: each
function against a reference function of its kind that is those libraries alone, used as documented.
The ratio to the floor stays beside it, to show what the libraries themselves cost.

A cold start is a fresh worker process's time from its start to the end of its first invoke, median of
{runs} runs. Each function is measured over the **reference** of its kind (`infra/bench/floor/`),
written as the libraries' documentation writes it and with nothing of ours: for **API functions**,
boto3's DynamoDB client made at module level, Powertools' Logger and Metrics, and its REST resolver with
validation serving one GET route that answers a pydantic model; for the **authorizer**, the client,
Logger and Metrics around a plain handler that answers a TOKEN authorizer's policy; for **stream
processors**, the client, Logger, Metrics and Powertools' BatchProcessor for DynamoDB streams with a
record handler that does nothing. Each is decorated with `@logger.inject_lambda_context` and
`@metrics.log_metrics` and publishes one metric. A function's kind comes from the templates: an event
source mapping makes it a stream processor, an API Gateway authorizer an authorizer, a route an API
function. **Target: at most {REFERENCE_TARGET:.2f} times the reference.**

Each function's reference runs in that function's own surroundings (its layers, memory, timeout and
environment variables, `POWERTOOLS_SERVICE_NAME` and the others), in the same kind of worker, and every
round runs function, floor, reference, floor for each function in turn, so a function's runs and its
reference's sample the same machine conditions; its ratio to the reference is its median over the median
of the {runs} reference runs made beside it. The function's first invoke is a real one: the new
environment is swapped into the running system and reached the way production reaches it (`GET /products`
for the orders API, a device token for the authorizer, a real stream batch for the processors). So what a
function costs over its reference is all of its own code: its modules, what it sets up at init, and the
work of its first invoke, DynamoDB calls included, which the reference does not make. A first round (not
counted) compiles bytecode, as Lambda runs shipped bytecode.

The **floor** only imports boto3 and creates a DynamoDB client, as every function and reference does; a
ratio to the floor is a median over the median of all {_floor_runs(results)} floor runs of the phase
(the floor runs made next to each function, and each pair's ratio, are in results.json: `pairedFloorMs`,
`medianPairRatio`, `pairRatios`). *Import* is the handler module's import inside the process; *first
invoke* is the first invoke's duration. The *90% interval* beside a ratio to the reference shows how far
this run's own noise could move it: the function's runs and its reference's runs are resampled (with
replacement, 2,000 times, seeded) and 90% of the resampled ratios of medians fall inside it. A target
inside a function's interval is within the noise: a rerun on this machine can land on either side of it.

![cold start chart](performance/cold-start.svg)

{cold_start_table(results).markdown()}

The *reference* rows are each kind's reference over the floor, its runs beside all the functions of its
kind taken together.

{missed_targets(results)}"""


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    model = results["costModel"]
    assumptions = model["assumptions"]
    cold_fraction = assumptions["coldStartFraction"]
    return f"""# Performance and cost

Generated by `make bench` (`python -m infra.bench`) from `.bench/results.json`; do not edit by hand.
Every figure below comes from **one run** on the machine described here, which is shared and noisy:
read medians and ratios, not single values, and compare runs only on the same machine.

| | |
|---|---|
| date | {m["date"]} |
| CPU | {m["cpu"]}, {m["cores"]} cores, {m["memoryGB"]} GB |
| OS | {m["os"]} |
| Python (local runtime) | {m["python"]} (Lambda runs python3.13 on arm64) |
| DynamoDB Local | {m["dynamodbLocal"]} ({m["java"]}) |
| commit | {m["commit"]} |
| load average at the end | {", ".join(str(x) for x in m["loadAverage"])} |
| duration | {results["secondsByPhase"]["total"]} s |

## Headline

{headline(results).markdown()}

## How it is measured

Everything runs on the local runtime exactly as `make up` runs it (infra/local/): the synthesized
templates, DynamoDB Local, the API Gateway emulator, each function in its own `python -I` worker
process with its template's handler, environment and memory, the layer's code on its import path.
The stream mappings are driven by the harness instead of polling on their own, so nothing runs in the
background while something is timed and each batch holds what the scenario says (the batching window
is skipped; it only adds waiting). See `infra/bench/` for the code of each benchmark.

## 1. Cold start

{cold_start_section(results)}

`python -m infra.bench.profile <function>` shows where a function's cold start goes (its slowest
imports and the costliest calls of its first invoke, from inside its own worker).

## 2. Warm latency

Round trip of each route through the gateway emulator (client side), and the function's own duration
for the same requests (Lambda's platform report), in ms. Sequential requests on warm environments,
paced under the route's usage plan rate. The difference is the emulator's own work (routing, API key,
throttles, JWT verification, the proxy event, the pipe to the worker) plus HTTP on loopback.
Variants in parentheses are the same route with one reading per request, and with the authorizer's
cached answer cleared before each request (its duration is then the authorizer's).

{latency_table(results).markdown()}

## 3. Capacity units per unit of work

From DynamoDB Local's `ConsumedCapacity` on every call the functions make: a proxy between the
function processes and DynamoDB Local adds `ReturnConsumedCapacity=TOTAL` and adds up the answers per
function (`infra/bench/capacity.py`; the integration tests use the same ledger through a botocore
hook). DynamoDB Local prices items as DynamoDB does (1 KB per write unit, the larger of the item before
and after; 4 KB per read unit, half for eventually consistent reads; index writes included), except
transactions, which it prices by the items' total size: the proxy re-prices each item of a transaction
as twice its own write, as DynamoDB does; and a `BatchGetItem`'s keys with no item, which DynamoDB bills
the minimum read each (as a `GetItem` of a missing item) and DynamoDB Local does not: the proxy adds
them. Failed conditional writes
(billed by AWS, not reported locally) counted in this run: {results["workloads"]["telemetry"]["failedConditionalWrites"]}
(telemetry), {results["workloads"]["orders"]["failedConditionalWrites"]} (orders).

**Telemetry**: one device posts 100 readings per request, 2 metrics at 1 Hz (50 s of data per
request), for a whole hour; after each request the processor runs on that request's stream records,
as it would for a device posting every 50 s (the least coalescing possible). One alert rule is set
and never fires; registering the device and setting its rule are not counted.

{capacity_table(results).markdown()}

**Orders**: {results["workloads"]["orders"]["units"]} orders of two lines, each placed (`POST /orders`),
paid (payment processor on the orders stream, order updater on the payments stream) and fulfilled
(`POST /orders/{{id}}/fulfil`); the payment processor also sees the PAID and FULFILLED updates.

{orders_capacity_table(results).markdown()}

## 4. Throughput on this machine

{throughput_table(results).markdown()}

Everything shares the machine's {m["cores"]} cores: the gateway, the devices' clients, the function
workers and DynamoDB Local, so these are the local runtime's limits on this machine, not Lambda's.
Requests the usage plan throttled (answered 429, then retried) are counted in the table.

## 5. Cost model

![cost chart](performance/cost-per-million-readings.svg)

{cost_table(results).markdown()}

{orders_cost_table(results).markdown()}

Prices from {model["prices"]["source"]}: API Gateway REST {_price(model["prices"]["api_gateway_rest_per_million"])}
per million requests; Lambda {_price(model["prices"]["lambda_requests_per_million"])} per million requests and
{_price(model["prices"]["lambda_gb_second_arm64"])} per GB-s on arm64; DynamoDB on-demand
{_price(model["prices"]["dynamodb_write_units_per_million"])} per million write units and
{_price(model["prices"]["dynamodb_read_units_per_million"])} per million read units; CloudWatch Logs
{_price(model["prices"]["logs_ingestion_per_gb"])} per GB ingested (GB = {assumptions["bytesPerGB"]:,.0f} bytes).

How each line is made (`infra/bench/cost.py`):

- **API Gateway, Lambda requests**: the requests and invocations the workloads above made, per unit of
  work. The device authorizer's answer is cached per token for {assumptions["authorizerTtlSeconds"]:.0f} s
  (the template's TTL), so a device sending {assumptions["readingsPerSecondPerDevice"]:g} readings per
  second invokes it once per TTL window, at most once per request.
- **Lambda GB-s**: each invoke's measured duration (warm environment), rounded up to the millisecond,
  at the function's memory from the template, at the arm64 price. The durations were measured here
  (x86-64, Python {m["python"]}), not on Lambda's arm64 with its memory-proportional CPU share, so
  this line is indicative; it is a small share of the total either way.
- **Lambda init**: Lambda bills the init phase since 2025-08-01. What each function's measured cold
  start takes beyond a warm invoke (the init, and a slower first invoke) is added to an assumed
  **{cold_fraction:.0%} of invokes**
  (`--cold-start-fraction`): a function serving steady traffic rarely starts cold.
- **DynamoDB**: the units measured above; failed conditional writes at one write unit each.
- **Logs**: the bytes each function wrote in the workload (its own lines, and the platform's start and
  report lines per invoke, which the local runtime writes as Lambda does in the JSON log format) plus
  one API Gateway access log line per request, rendered from the stage's access log format.
- **Naive designs**: *one item per reading* is this design with the stored readings priced at one
  write unit per reading (an item under 1 KB costs a write unit; everything else as measured).
  *One reading per request* is measured: the same device rate sending one reading per request
  ({results["workloads"]["telemetrySingle"]["units"]} requests), a stream batch per second of data;
  each request writes its bucket once, which costs what writing one item per reading costs.
- Not included: CloudWatch custom metrics (billed per metric per month, not per request), X-Ray
  traces (sampled), data transfer, storage.

## 6. Package sizes

Zipped as CDK uploads them (deflate), bytecode for python3.13 included.

{package_table(results).markdown()}
"""


def write_docs(results: dict[str, Any], docs: Path) -> list[Path]:
    charts = docs / "performance"
    charts.mkdir(parents=True, exist_ok=True)
    written = {
        docs / "performance.md": markdown(results),
        charts / "cold-start.svg": cold_start_chart(results),
        charts / "cost-per-million-readings.svg": cost_chart(results),
    }
    for path, text in written.items():
        path.write_text(text)
    return list(written)
