"""The report ``make demo`` prints: orders, telemetry, requests per usage plan, and the invariants."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from clients.demo.harness import Check
from clients.demo.orders import OrdersOutcome
from clients.demo.telemetry import TelemetryOutcome
from clients.devices import PostResult
from clients.http import RequestStats


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], indent: str = "  ") -> list[str]:
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return indent + "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        )

    return [line(cells[0]), indent + "  ".join("-" * w for w in widths), *(line(row) for row in cells[1:])]


def utc_minute(ms: int) -> str:
    return time.strftime("%H:%M", time.gmtime(ms / 1000))


def render(
    orders: OrdersOutcome,
    telemetry: TelemetryOutcome,
    stats: dict[str, RequestStats],
    dlq: dict[str, list[Any]],
    faults: dict[str, Any],
    checks: list[Check],
    elapsed_s: float,
) -> str:
    out: list[str] = ["", "=" * 78, "DEMO REPORT", "=" * 78, ""]
    out += orders_section(orders)
    out += ["", *telemetry_section(telemetry)]
    out += ["", *requests_section(stats, telemetry.burst, dlq)]
    if faults.get("injected"):
        out += ["", *faults_section(faults)]
    out += ["", *invariants_section(checks)]
    out += ["", f"scenario time: {elapsed_s:.0f}s"]
    return "\n".join(out)


def orders_section(orders: OrdersOutcome) -> list[str]:
    out: list[str] = ["ORDERS"]
    statuses = Counter(order["status"] for order in orders.final.values())
    payments = Counter(order["payment"]["status"] for order in orders.final.values())
    out.append(
        f"  {len(orders.final)} orders from {orders.customers} customers (read back through GET /orders/{{id}})"
    )
    out += table(["status", "orders"], sorted(statuses.items()))
    out.append("")
    captured, refunded = payments.get("CAPTURED", 0), payments.get("REFUNDED", 0)
    amount_charged = sum(
        o["total"]["amount"]
        for o in orders.final.values()
        if o["payment"]["status"] in ("CAPTURED", "REFUNDED")
    )
    amount_refunded = sum(
        o["total"]["amount"] for o in orders.final.values() if o["payment"]["status"] == "REFUNDED"
    )
    out.append(
        f"  charges: {captured + refunded} (${amount_charged / 100:,.2f}), of which refunded: {refunded}"
        f" (${amount_refunded / 100:,.2f}); declined: {payments.get('DECLINED', 0)}"
    )
    if orders.replay:
        original, again = orders.replay
        out.append(
            f"  retried request (same Idempotency-Key): order {again.order_id[:8]}, same as the first"
            f" ({'yes' if again.order_id == original.order_id else 'NO'}), Idempotent-Replayed: {str(again.replayed).lower()}"
        )
    if orders.oversized:
        product, quantity, status, detail = orders.oversized
        out.append(f"  order for more than the stock: {quantity} x {product} -> {status} {detail}")
    out.append(
        f"  cancelled after payment: {len(orders.cancelled)}; fulfilled by an administrator: {len(orders.fulfilled)}"
    )
    out.append("")
    held = orders.held_by_live_orders()
    out += table(
        ["product", "stock before", "after", "held by live orders"],
        [
            (p, b, orders.stock_after.get(p, "?"), held.get(p, 0))
            for p, b in sorted(orders.stock_before.items())
        ],
    )
    return out


def telemetry_section(telemetry: TelemetryOutcome) -> list[str]:
    sim = telemetry.simulation
    out: list[str] = ["TELEMETRY"]
    out.append(
        f"  {len(sim.devices)} devices for {sim.elapsed_s:.0f}s: {sim.sampled} readings sampled,"
        f" {sim.sent} sent in {sim.posts} batches; {sim.failed_batches} posts failed (re-sent later),"
        f" {sim.unsent} readings unsent"
    )
    resent_batch, resent_result = telemetry.resent if telemetry.resent else ([], PostResult(0, 0))
    out.append(
        f"  readings accepted: {sim.accepted + resent_result.accepted}; duplicates: {sim.duplicates + resent_result.duplicates}"
        f" (the re-sent batch of {len(resent_batch)}: accepted {resent_result.accepted},"
        f" duplicates {resent_result.duplicates})"
    )
    rules = ", ".join(f"{r.metric} {r.op} {r.threshold}" for r in telemetry.rules)
    raised = sum(len(found.alerts) for found in telemetry.read_back.values())
    out.append(f"  alerts raised: {raised} (rules: {rules}; temperature spikes simulated: {sim.spikes})")
    out.append(
        f"  pipeline caught up (aggregates and alerts) within {telemetry.converged_after_s:.1f}s of the last post"
    )
    if telemetry.read_back:
        device_id = sim.devices[0].device_id
        found = telemetry.read_back[device_id]
        out += ["", f"  aggregates for {device_id} (per minute, UTC):"]
        rows: list[tuple[Any, ...]] = [
            (utc_minute(row["start"]), metric, row["count"], row["min"], row["max"], f"{row['avg']:.2f}")
            for metric, items in sorted(found.aggregates.items(), reverse=True)
            for row in items
        ]
        out += table(["minute", "metric", "count", "min", "max", "avg"], rows, indent="    ")
    return out


def requests_section(
    stats: dict[str, RequestStats], burst: tuple[int, int, int], dlq: dict[str, list[Any]]
) -> list[str]:
    out: list[str] = ["REQUESTS"]
    plan_rows = [
        (
            plan,
            s.requests,
            s.throttled,
            s.retries,
            s.connection_errors,
            sum(n for code, n in s.statuses.items() if code >= 500),
        )
        for plan, s in stats.items()
    ]
    out += table(["usage plan", "requests", "throttled (429)", "retries", "conn. errors", "5xx"], plan_rows)
    requests, succeeded, throttled = burst
    out.append(
        f"  burst of {requests} concurrent operator reads (plan: 10 rps, burst 20): {throttled} throttled,"
        f" retried with backoff; {succeeded}/{requests} answered"
    )
    failed_records = sum(len(records) for records in dlq.values())
    out.append(f"  stream records in failure destinations (/_local/dlq): {failed_records}")
    return out


def faults_section(faults: dict[str, Any]) -> list[str]:
    """What the runtime injected (make demo FAULTS=...): the retries above are the answer to it."""
    out: list[str] = ["INJECTED FAULTS (the retries above and the streams' retries answer them)"]
    out += table(["fault", "injected"], sorted(faults["injected"].items()))
    out.append(f"  settings: functions {faults['functions']}, DynamoDB {faults['dynamodb']}")
    return out


def invariants_section(checks: Sequence[Check]) -> list[str]:
    out: list[str] = ["INVARIANTS"]
    for check in checks:
        out.append(f"  [{'held' if check.held else 'FAILED'}] {check.name}: {check.detail}")
    return out
