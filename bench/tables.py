"""The figures of a run (results.json) as tables, for the terminal and for docs/performance.md, and the
formatting they share with the charts and the report's text."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from bench.coldstart import REFERENCE_TARGET

# Issue 26's targets, at 100 readings per request unless named otherwise.
TARGET_WRITE_UNITS_PER_READING = 0.03
TARGET_COST_PER_MILLION_READINGS = 0.06
TARGET_COST_PER_MILLION_READINGS_500 = 0.026
TARGET_FRESHNESS_P95_MS = 5000.0
TARGET_OVERHEAD_P50_MS = 3.0  # the emulator's own share of a warm request (issue 23)
# GET .../telemetry (one metric, a device-hour, 100 a page) before issue 26: docs/performance.md of
# 2026-12 (commit before the compact buckets); the target is to be no slower at p50.
RAW_READ_P50_MS_BEFORE = 51.1
RAW_READ_ROUTE = "telemetry GET /devices/{deviceId}/telemetry"
# The same run's GET of one device item (one GetItem): what every route pays for the gateway, the worker and
# the resolver. The raw read over it is its own work, comparable across runs whose runtime costs differ.
BASE_ROUTE = "telemetry GET /devices/{deviceId}"
RAW_READ_OVER_BASE_P50_MS_BEFORE = round(51.1 - 7.8, 1)
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


def fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def price(value: float) -> str:
    """A unit price as published: at least cents, every significant digit."""
    text = f"{value:.10f}".rstrip("0")
    whole, _, fraction = text.partition(".")
    return f"${whole}.{fraction.ljust(2, '0')}"


def money(value: float) -> str:
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


def ratio_text(ratio: float, target: float = REFERENCE_TARGET) -> str:
    """Two decimals, or three where two would round a ratio onto its target: 1.055 is over 1.05 and
    1.049 under it, and written 1.05 neither says which."""
    text = f"{ratio:.2f}"
    return f"{ratio:.3f}" if float(text) == target and ratio != target else text


def interval_text(interval: Sequence[float] | None) -> str:
    return f"{interval[0]:.2f} to {interval[1]:.2f}" if interval else "n/a"


KINDS = {"api": "API functions", "authorizer": "authorizers", "stream": "stream processors"}


def by_kind(results: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return sorted(results["coldStart"].items(), key=lambda item: (item[1]["kind"], item[0]))


def within_target(cold: dict[str, Any]) -> bool:
    return bool(cold["ratioToReference"] <= cold["targetToReference"])


def _memory(cold: dict[str, Any]) -> str:
    """A function's memory, or the memories of the functions a reference ran beside."""
    memory = cold["memoryMB"]
    return ", ".join(fmt(mb) for mb in memory) if isinstance(memory, list) else fmt(memory)


def cold_start_table(results: dict[str, Any]) -> Table:
    rows = []
    for name, c in by_kind(results):
        rows.append(
            [
                f"`{name}`",
                c["kind"],
                _memory(c),
                fmt(c["initMs"]),
                fmt(c["referenceMs"]),
                f"**{ratio_text(c['ratioToReference'], c['targetToReference'])}**",
                interval_text(c.get("ratioToReferenceInterval90")),
                f"≤ {c['targetToReference']:.2f}",
                fmt(within_target(c)),
                fmt(c["floorMs"]),
                f"{c['ratio']:.2f}",
                fmt(c["importMs"]),
                fmt(c["firstInvokeMs"]),
            ]
        )
    for kind, c in sorted(results.get("coldStartReferences", {}).items()):
        rows.append(
            [
                f"*reference for {KINDS.get(kind, kind)}*",
                kind,
                _memory(c),
                fmt(c["initMs"]),
                *["n/a"] * 5,
                fmt(c["floorMs"]),
                f"{c['ratio']:.2f}",
                fmt(c["importMs"]),
                fmt(c["firstInvokeMs"]),
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
                fmt(r["p50"]),
                fmt(r["p95"]),
                fmt(r["p99"]),
                fmt(f["p50"]),
                fmt(f["p95"]),
                fmt(f["p99"]),
                fmt(r["overheadMs"]["p50"]),
                fmt(r["p50MinusFunctionsP50"]),
                f"{r['n']} ({r['function']})",
            ]
        )
    function_columns = ["function p50", "p95", "p99"]
    columns = ["route", "p50", "p95", "p99", *function_columns, "overhead p50", "p50 minus functions' p50"]
    return Table([*columns, "samples (function)"], rows)


def capacity_table(results: dict[str, Any]) -> Table:
    telemetry = results["workloads"]["telemetry"]
    readings = telemetry["units"]
    rows = [
        [f"{kind}", fmt(units, 0), f"{units / readings:.4f}"]
        for kind, units in sorted(telemetry["writeUnitsByItem"].items())
    ]
    rows.append(
        ["**all writes**", fmt(telemetry["writeUnits"], 0), f"**{results['writeUnitsPerReading']:.4f}**"]
    )
    rows.append(
        [
            "reads (not in the target)",
            fmt(telemetry["readUnits"], 1),
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
        [label, *(money(design[line]) for design in designs.values())] for line, label in COST_LINES.items()
    ]
    return Table(headers, rows)


def orders_cost_table(results: dict[str, Any]) -> Table:
    orders = results["costModel"]["orders"]
    return Table(
        ["per million orders", "USD"], [[label, money(orders[line])] for line, label in COST_LINES.items()]
    )


def throughput_table(results: dict[str, Any]) -> Table:
    ingest, stream = results["throughput"]["ingest"], results["throughput"]["stream"]
    return Table(
        ["what", "rate", "how"],
        [
            [
                "readings ingested through the gateway",
                f"**{fmt(ingest['readingsPerSecond'], 0)}**/s",
                f"{ingest['devices']} devices posting 100 readings per request back to back for "
                f"{ingest['seconds']} s: {ingest['requests']:,} requests ({ingest['requestsPerSecond']}/s), "
                f"{ingest['throttled']} throttled",
            ],
            [
                "stream records processed (telemetry processor)",
                f"**{fmt(stream['recordsPerSecond'], 0)}**/s",
                f"{stream['records']:,} records in {stream['batches']} batches of up to {stream['batchSize']}, "
                f"{stream['seconds']} s",
            ],
        ],
    )


def overhead_headline(results: dict[str, Any]) -> list[list[str]]:
    """The emulator's overhead per warm request: the median over the routes, and the worst route."""
    routes = {route: r["overheadMs"]["p50"] for route, r in results.get("latencyMs", {}).items()}
    if not routes:
        return []
    median, worst = statistics.median(routes.values()), max(routes, key=routes.__getitem__)

    def row(label: str, value: float, shown: str) -> list[str]:
        return [label, shown, f"≤ {TARGET_OVERHEAD_P50_MS:.0f}", fmt(value <= TARGET_OVERHEAD_P50_MS)]

    return [
        row("emulator overhead per warm request, p50 ms (median over the routes)", median, fmt(median)),
        row("the same, worst route", routes[worst], f"{fmt(routes[worst])} (`{worst}`)"),
    ]


def telemetry_headline(results: dict[str, Any]) -> list[list[str]]:
    """Issue 26's other targets, where the run measured them."""
    rows = []
    large = results.get("telemetryCost", {}).get("readingsPerRequest", {}).get("500")
    if large:
        dollars = large["costPerMillionReadingsUSD"]
        rows.append(
            [
                "dollars per million readings, all in, 500 readings per request",
                money(dollars),
                f"≤ ${TARGET_COST_PER_MILLION_READINGS_500:.3f}",
                fmt(dollars <= TARGET_COST_PER_MILLION_READINGS_500),
            ]
        )
    raw = results.get("latencyMs", {}).get(RAW_READ_ROUTE)
    base = results.get("latencyMs", {}).get(BASE_ROUTE)
    if raw and base:
        over = round(raw["p50"] - base["p50"], 1)
        rows += [
            [
                "raw readings read (GET .../telemetry), p50 ms",
                fmt(raw["p50"]),
                f"≤ {RAW_READ_P50_MS_BEFORE} (before)",
                fmt(raw["p50"] <= RAW_READ_P50_MS_BEFORE),
            ],
            [
                "the same, over GET /devices/{deviceId} in the same run, p50 ms",
                fmt(over),
                f"≤ {RAW_READ_OVER_BASE_P50_MS_BEFORE} (before)",
                fmt(over <= RAW_READ_OVER_BASE_P50_MS_BEFORE),
            ],
        ]
    fresh = results.get("telemetryFreshness")
    if fresh:
        p95 = fresh["alertAndStateMs"]["p95"]
        rows.append(
            [
                "alert and device state readable after the POST, p95 ms",
                fmt(p95, 0),
                f"≤ {TARGET_FRESHNESS_P95_MS:,.0f}",
                fmt(p95 <= TARGET_FRESHNESS_P95_MS),
            ]
        )
    return rows


def telemetry_cost_table(results: dict[str, Any]) -> Table:
    cost = results["telemetryCost"]
    rows = [
        [
            f"{size} readings per request",
            f"{figures['writeUnitsPerReading']:.4f}",
            f"{figures['readUnitsPerReading']:.4f}",
            money(figures["costPerMillionReadingsUSD"]),
        ]
        for size, figures in cost["readingsPerRequest"].items()
    ]
    rows.append(
        [
            "AWS IoT Core, transport only (50 readings per message)",
            "n/a",
            "n/a",
            money(cost["iotCoreTransportOnlyPerMillionReadingsUSD"]),
        ]
    )
    return Table(
        [
            "telemetry, all in",
            "write units per reading",
            "read units per reading",
            "USD per million readings",
        ],
        rows,
    )


def read_hour_table(results: dict[str, Any]) -> Table:
    read = results["telemetryCost"]["readDeviceHour"]
    per_million = read["perMillionReadingsRead"]
    return Table(
        ["GET .../telemetry, one device-hour", "value"],
        [
            ["readings read (both metrics)", fmt(read["readings"])],
            ["requests (1,000 readings a page)", fmt(read["requests"])],
            ["read units", fmt(read["readUnits"], 2)],
            ["USD per device-hour read, all in", f"${read['perDeviceHourUSD']:.8f}"],
            *[
                [f"per million readings read: {label}", money(per_million[line])]
                for line, label in COST_LINES.items()
            ],
        ],
    )


def package_table(results: dict[str, Any]) -> Table:
    rows = [
        [f"`{name}`", fmt(size["zipped"] / 1e6, 3), fmt(size["unzipped"] / 1e6, 2)]
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
                f"{ratio_text(of_kind[worst]['ratioToReference'])} (`{worst}`)",
                f"≤ {REFERENCE_TARGET:.2f}",
                fmt(all(within_target(c) for c in of_kind.values())),
            ]
        )
    return Table(
        ["figure", "measured", "target", "met"],
        [
            *cold_rows,
            *overhead_headline(results),
            [
                "write units per reading, all in",
                f"{units:.4f}",
                f"≤ {TARGET_WRITE_UNITS_PER_READING}",
                fmt(units <= TARGET_WRITE_UNITS_PER_READING),
            ],
            [
                "dollars per million readings, all in",
                money(dollars),
                f"≤ ${TARGET_COST_PER_MILLION_READINGS:.2f}",
                fmt(dollars <= TARGET_COST_PER_MILLION_READINGS),
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
            *telemetry_headline(results),
            ["dollars per million orders, all in", money(results["costPerMillionOrdersUSD"]), "n/a", "n/a"],
            [
                "write / read units per order's life",
                f"{results['capacityPerOrder']['write']:.2f} / {results['capacityPerOrder']['read']:.2f}",
                "n/a",
                "n/a",
            ],
            ["readings ingested per second", fmt(results["ingestReadingsPerSecond"], 0), "n/a", "n/a"],
            ["stream records processed per second", fmt(results["streamRecordsPerSecond"], 0), "n/a", "n/a"],
        ],
    )
