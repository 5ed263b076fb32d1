"""The figures of a run (results.json) for the terminal and as docs/performance.md with its two charts.
Everything printed here is read from the results: no figure is written by hand."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.charts import cold_start_chart, cost_chart
from bench.coldstart import REFERENCE_TARGET
from bench.tables import (
    Table,
    capacity_table,
    cold_start_table,
    cost_table,
    headline,
    interval_text,
    latency_table,
    orders_capacity_table,
    orders_cost_table,
    package_table,
    price,
    ratio_text,
    read_hour_table,
    telemetry_cost_table,
    throughput_table,
    within_target,
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
        f"`{name}` {ratio_text(c['ratioToReference'], c['targetToReference'])} "
        f"({interval_text(c['ratioToReferenceInterval90'])})"
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
    over = {name: c for name, c in sorted(results["coldStart"].items()) if not within_target(c)}
    if over:
        listed = ", ".join(
            f"`{name}` {ratio_text(c['ratioToReference'], c['targetToReference'])} "
            f"({c['initMs'] - c['referenceMs']:.0f} ms over its reference, "
            f"{c['targetToReference'] * c['referenceMs'] - c['referenceMs']:.0f} ms allowed)"
            for name, c in over.items()
        )
        text = [
            f"Over the target in this run: {listed}. What a function takes over its reference is what its own "
            "code costs at cold start beyond the libraries it uses: its own modules, what it sets up at init, "
            "and what its first invoke does that the reference's does not (a real request's DynamoDB calls). "
            "`python -m bench.profile <function>` shows which imports and first calls the time goes to."
        ]
    else:
        text = [f"Every function is within {REFERENCE_TARGET:.2f} times its reference in this run."]
    noise = within_noise(results)
    if noise:
        text.append(noise)
    return "\n\n".join(text)


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
{runs} runs. Each function is measured over the **reference** of its kind (`bench/floor/`),
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
work of its first invoke, DynamoDB calls included, which the reference does not make. For the SnapStart
functions it also includes their before-snapshot hooks, which the local runtime runs at each cold start and
Lambda runs once, when it publishes a version. A first round (not
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
    """docs/performance.md: its sections in order."""
    return "\n".join(
        [
            _title(results),
            _headline(results),
            _how_measured(),
            _cold_start(results),
            _warm_latency(results),
            _capacity(results),
            _throughput(results),
            _cost_model(results),
            _packages(results),
        ]
    )


def _title(results: dict[str, Any]) -> str:
    """The title and the machine the run was on."""
    m = results["machine"]
    return f"""# Performance and cost

Generated by `make bench` (`python -m bench`) from `.bench/results.json`; do not edit by hand.
Every figure below comes from **one run** on the machine described here, which is shared and noisy:
read medians and ratios, not single values, and compare runs only on the same machine.

| | |
|---|---|
| date | {m["date"]} |
| CPU | {m["cpu"]}, {m["cores"]} cores, {m["memoryGB"]} GB |
| OS | {m["os"]} |
| Python | local runtime {m["python"]}; functions {m.get("functionsPython", m["python"])} (Lambda runs python3.13 on arm64) |
| DynamoDB Local | {m["dynamodbLocal"]} ({m["java"]}) |
| commit | {m["commit"]} |
| load average at the end | {", ".join(str(x) for x in m["loadAverage"])} |
| duration | {results["secondsByPhase"]["total"]} s |
"""


def _headline(results: dict[str, Any]) -> str:
    """The figures with a target, and the main others."""
    return f"""## Headline

{headline(results).markdown()}
"""


def _how_measured() -> str:
    """What every benchmark shares."""
    return """## How it is measured

Everything runs on the local runtime exactly as `make up` runs it (local_runtime/): the synthesized
templates, DynamoDB Local, the API Gateway emulator, each function in execution environments of its own
(AWS's runtime client, `python -m awslambdaric <handler>`, served by a Runtime API) with its template's
handler, environment and memory, the layer's code on its import path.
The stream mappings are driven by the harness instead of polling on their own, so nothing runs in the
background while something is timed and each batch holds what the scenario says (the batching window
is skipped; it only adds waiting). See `bench/` for the code of each benchmark.
"""


def _cold_start(results: dict[str, Any]) -> str:
    """1. Cold start."""
    return f"""## 1. Cold start

{cold_start_section(results)}

`python -m bench.profile <function>` shows where a function's cold start goes (its slowest
imports and the costliest calls of its first invoke, from inside its own worker).
"""


def _warm_latency(results: dict[str, Any]) -> str:
    """2. Warm latency."""
    return f"""## 2. Warm latency

Round trip of each route through the gateway emulator (client side, from sending the built request to
having the answer, with httpx in the same process), and the function's own duration for the same
requests (Lambda's platform report), in ms. Sequential requests on warm environments, paced under the
route's usage plan rate. A request's **overhead** is its round trip minus the durations of the functions
it invoked: the emulator's own work (HTTP parsing, routing, API key, throttles, authorizers, the proxy
event, handing the event to the environment's Runtime API and taking its answer) plus HTTP on loopback
and the client's own reading of the answer. Its p50 is taken over the requests, each paired with its own
functions' reports (decision 34); the round trip's p50 minus the functions' p50s, which moves with the
functions' own spread, is beside it.
Variants in parentheses are the same route with one reading per request, and with the authorizer's
cached answer cleared before each request (its duration is then the authorizer's).

{latency_table(results).markdown()}
"""


def _capacity(results: dict[str, Any]) -> str:
    """3. Capacity units per unit of work."""
    return f"""## 3. Capacity units per unit of work

From DynamoDB Local's `ConsumedCapacity` on every call the functions make: a proxy between the
function processes and DynamoDB Local adds `ReturnConsumedCapacity=TOTAL` and adds up the answers per
function (`bench/capacity.py`; the integration tests use the same ledger through a botocore
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
"""


def _throughput(results: dict[str, Any]) -> str:
    """4. Throughput."""
    m = results["machine"]
    return f"""## 4. Throughput on this machine

{throughput_table(results).markdown()}

Everything shares the machine's {m["cores"]} cores: the gateway, the devices' clients, the function
workers and DynamoDB Local, so these are the local runtime's limits on this machine, not Lambda's.
Requests the usage plan throttled (answered 429, then retried) are counted in the table.
"""


def _cost_model(results: dict[str, Any]) -> str:
    """5. The cost model and how each line is made."""
    m = results["machine"]
    model = results["costModel"]
    assumptions = model["assumptions"]
    cold_fraction = assumptions["coldStartFraction"]
    return f"""## 5. Cost model

![cost chart](performance/cost-per-million-readings.svg)

{cost_table(results).markdown()}

{_telemetry_cost(results)}

{orders_cost_table(results).markdown()}

Prices from {model["prices"]["source"]}: API Gateway REST {price(model["prices"]["api_gateway_rest_per_million"])}
per million requests; Lambda {price(model["prices"]["lambda_requests_per_million"])} per million requests and
{price(model["prices"]["lambda_gb_second_arm64"])} per GB-s on arm64; DynamoDB on-demand
{price(model["prices"]["dynamodb_write_units_per_million"])} per million write units and
{price(model["prices"]["dynamodb_read_units_per_million"])} per million read units; CloudWatch Logs
{price(model["prices"]["logs_ingestion_per_gb"])} per GB ingested (GB = {assumptions["bytesPerGB"]:,.0f} bytes).

How each line is made (`bench/cost.py`):

- **API Gateway, Lambda requests**: the requests and invocations the workloads above made, per unit of
  work. The device authorizer's answer is cached per token for {assumptions["authorizerTtlSeconds"]:.0f} s
  (the template's TTL), so a device sending {assumptions["readingsPerSecondPerDevice"]:g} readings per
  second invokes it once per TTL window, at most once per request.
- **Lambda GB-s**: each invoke's measured duration (warm environment), rounded up to the millisecond,
  at the function's memory from the template, at the arm64 price. The durations were measured here
  (x86-64, Python {m.get("functionsPython", m["python"])}), not on Lambda's arm64 with its memory-proportional CPU share, so
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
"""


def _telemetry_cost(results: dict[str, Any]) -> str:
    """Issue 26's figures: per reading at 100 and 500 readings per request, against IoT Core's transport,
    the read of a device-hour, and how soon alerts and device state follow a reading."""
    if "telemetryCost" not in results:
        return ""
    large = results["workloads"]["telemetry500"]
    fresh = results["telemetryFreshness"]["alertAndStateMs"]
    return f"""**Telemetry at 100 and 500 readings per request** (the second: the same device posting 500
readings, 250 s of data, per request, {large["apiRequests"]} requests; the processor runs after each), beside
AWS IoT Core's price for carrying the readings alone ($1.00 per million messages of 50 readings; nothing
stored, rolled up or alerted on):

{telemetry_cost_table(results).markdown()}

**Reading it back**: an operator pages through the first device-hour of the 100-per-request workload
(both metrics), 1,000 readings a request:

{read_hour_table(results).markdown()}

**Alerts and device state after a reading** (`bench/freshness.py`): one reading that crosses the device's
rule is posted and the stream mapping polled as the event source mapping polls it, while the device and its
alerts are read until both show it: p50 {fresh["p50"]:,.0f} ms, p95 {fresh["p95"]:,.0f} ms, p99
{fresh["p99"]:,.0f} ms over {results["telemetryFreshness"]["samples"]} readings.

**Raw reads against before**: the headline's "before" figures are those of the run before the compact format.
What the runtime adds to every invoke differs between runs (compare `GET /devices/{{deviceId}}`, one `GetItem`, in
both), so the headline also gives the raw read over that route of the same run: what the listing itself costs."""


def _packages(results: dict[str, Any]) -> str:
    """6. Package sizes."""
    return f"""## 6. Package sizes

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
