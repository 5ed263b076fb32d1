"""``python -m bench.load`` (``make load``): a Locust load test against a local runtime it starts, then the
nothing-lost check.

1. Starts ``python -m local_runtime`` in a process of its own, on free ports, DynamoDB Local in memory and a
   temporary state directory (keys, token issuer, stream checkpoints), waits until it answers, and warms 8
   environments of the orders API and of ingest (``warm_up``: cold starts here share the 2 cores with requests).
2. Runs Locust headless (``bench/load/locustfile.py``) for ``LOAD_SECONDS`` (default 60) with
   ``LOAD_CUSTOMERS`` storefront customers (default 20) and ``LOAD_DEVICES`` devices (default 10); its HTML
   report goes to ``.load/report.html``, its CSVs to ``.load/stats_*.csv``, its log to ``.load/locust.log``.
3. Prints a per-route table: requests/s, p50/p95/p99 (ms), failures, and throttled (429s, which the
   locustfile counts apart and does not report as failures).
4. Once the load stops, waits for the system to settle (up to ``--settle-timeout``), then checks through the
   APIs that nothing was lost: every device's readings answered 202 equal the sum of its hourly aggregate
   counts, every order answered 201 reached a final state (PAID/CAPTURED, PAYMENT_FAILED/DECLINED, or
   CANCELLED with its payment REFUNDED, DECLINED or never charged) and stayed there, each product's stock is
   its stock before the run less the units of PAID orders, and no stream record was given up on.

Exits 1 when the check fails or more than ``--max-error-rate`` of the requests failed (429s excluded). The
figures and the check are also written to ``.load/summary.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clients.config import Endpoint, LocalRuntimeClient
from clients.devices import DeviceClient, FleetAdminClient, Reading
from clients.http import RequestStats
from clients.storefront import StorefrontClient
from local_runtime.assembly import REPO_ROOT
from local_runtime.dynamodb_local import free_port

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
METRICS = ("temperature", "humidity")
FINAL_PAYMENTS = {
    "PAID": {"CAPTURED"},
    "PAYMENT_FAILED": {"DECLINED"},
    "CANCELLED": {"REFUNDED", "DECLINED", "PENDING"},  # PENDING: cancelled before any charge was made
}
HOUR_MS = 3_600_000
SPAWN_RATE = 2
"""users started per second"""
WARM_ENVIRONMENTS = 8
"""environments of each request-path function warmed before the run: the local runtime's most per function
(``FunctionRuntime(max_concurrency=8)`` in local_runtime/functions.py), so the run itself starts none"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Runtime:
    """``python -m local_runtime --in-memory`` in its own process group, stopped as Ctrl-C stops it."""

    state_dir: Path
    output: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 300.0) -> LocalRuntimeClient:
        command = [sys.executable, "-m", "local_runtime", "--port", str(self.port)]
        command += ["--web-port", str(free_port()), "--state-dir", str(self.state_dir), "--in-memory"]
        with self.output.open("wb") as output:
            self.process = subprocess.Popen(  # noqa: S603 -- our own interpreter and arguments
                command, cwd=REPO_ROOT, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )
        local = LocalRuntimeClient(self.origin)
        deadline = time.monotonic() + timeout_s
        while not local.health(self.process.pid):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the local runtime did not start; see {self.output}")
            time.sleep(0.5)
        return local

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)  # its own group: only what this run started
            self.process.wait()


@contextlib.contextmanager
def running(output: Path) -> Iterator[LocalRuntimeClient]:
    with tempfile.TemporaryDirectory(prefix="load-state-") as state:
        runtime = Runtime(Path(state), output)
        try:
            yield runtime.start()
        finally:
            runtime.stop()


def warm_up(local: LocalRuntimeClient) -> None:
    """Warm environments before the users come: ``WARM_ENVIRONMENTS`` of the orders API and of ingest (each of
    concurrent requests needs an environment of its own), the others once. Not in Locust's stats. Lambda
    starts an environment on hardware of its own; here every cold start competes for the same 2 cores as the
    warm requests, and on a busy machine a crowd of them outruns Lambda's 10 s init limit (a 502): that
    measures this machine, not the system. Like provisioned concurrency, warming keeps the run to requests.
    Best effort: an init that times out here is retried by the clients, and leaves one environment fewer."""
    session = local.session()
    operator = Endpoint(
        session["apis"]["telemetry"],
        session["apiKeys"]["operator"],
        local.token("telemetry", "load-warm-up", ("admin",)),
    )
    with FleetAdminClient.connect(operator) as admin:
        registered = admin.register(name="load-test warm-up")
        admin.http.request("GET", "/devices")
    device = Endpoint(session["apis"]["telemetry"], session["apiKeys"]["fleet"], registered.token)
    shopper = Endpoint(
        session["apis"]["orders"], session["apiKeys"]["storefront"], local.token("orders", "load-warm-up")
    )
    now_ms = time.time_ns() // 1_000_000

    def post(n: int) -> None:
        with DeviceClient.connect(device) as poster:
            poster.post_readings([Reading(now_ms - n, "temperature", 20.0)])

    def browse(_: int) -> None:
        with StorefrontClient.connect(shopper) as shop:
            shop.products()
            shop.orders()

    with ThreadPoolExecutor(WARM_ENVIRONMENTS) as pool:
        for action in (post, browse):
            list(pool.map(action, range(WARM_ENVIRONMENTS)))


def run_locust(
    origin: str, out: Path, seconds: int, customers: int, devices: int, ledger: Path
) -> subprocess.CompletedProcess[bytes]:
    users = customers + devices
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless"]
    # Users start 2 a second: all at once, every request of the first second is a cold start, and on 2 cores
    # a crowd of them outruns Lambda's 10 s init limit (the local runtime runs up to 8 per function).
    command += ["--users", str(users), "--spawn-rate", str(SPAWN_RATE), "--run-time", f"{seconds}s"]
    command += ["--stop-timeout", "15", "--only-summary", "--exit-code-on-error", "0"]
    command += ["--html", str(out / "report.html"), "--csv", str(out / "stats")]
    environment = {
        **os.environ,
        "LOAD_RUNTIME_URL": origin,
        "LOAD_LEDGER": str(ledger),
        "LOAD_CUSTOMERS": str(customers),
        "LOAD_DEVICES": str(devices),
    }
    with (out / "locust.log").open("wb") as output:
        return subprocess.run(  # noqa: S603 -- our own interpreter and arguments
            command, cwd=REPO_ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT, check=False
        )


# -- the per-route table ---------------------------------------------------------------------------


def route_table(stats_csv: Path, throttled: dict[str, int]) -> list[dict[str, Any]]:
    rows = []
    with stats_csv.open(newline="") as source:
        for row in csv.DictReader(source):
            total = row["Name"] == "Aggregated"
            rows.append(
                {
                    "route": "all routes"
                    if total
                    else row["Name"],  # the locustfile names a route by method and path
                    "requests": int(row["Request Count"]),
                    "perSecond": float(row["Requests/s"]),
                    "p50": row["50%"],
                    "p95": row["95%"],
                    "p99": row["99%"],
                    "failures": int(row["Failure Count"]),
                    "throttled": sum(throttled.values()) if total else throttled.get(row["Name"], 0),
                }
            )
    return rows


def markdown_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| route | requests | requests/s | p50 ms | p95 ms | p99 ms | failures | throttled (429) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| `{row['route']}` | {row['requests']:,} | {row['perSecond']:.1f} | {row['p50']} | {row['p95']} |"
            f" {row['p99']} | {row['failures']} | {row['throttled']} |"
        )
    return "\n".join(lines)


# -- the nothing-lost check ------------------------------------------------------------------------


@dataclass
class Check:
    ok: bool = True
    problems: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)

    def fail(self, problem: str) -> None:
        self.ok = False
        self.problems.append(problem)


def stored_readings(admin: FleetAdminClient, devices: list[str], started_ms: int) -> dict[str, int]:
    start = started_ms // HOUR_MS * HOUR_MS
    end = time.time_ns() // 1_000_000 + 300_000
    return {
        device: sum(
            int(row["count"])
            for metric in METRICS
            for row in admin.aggregates(device, metric, "hour", start, end)
        )
        for device in devices
    }


def check_readings(local: LocalRuntimeClient, ledger: dict[str, Any], deadline: float, check: Check) -> None:
    session = local.session()
    token = local.token("telemetry", "load-checker", ("admin",))
    endpoint = Endpoint(session["apis"]["telemetry"], session["apiKeys"]["operator"], token)
    devices: dict[str, dict[str, int]] = ledger["devices"]
    stats = RequestStats()
    with FleetAdminClient.connect(endpoint, stats=stats) as admin:
        while True:
            stored = stored_readings(admin, list(devices), ledger["startedMs"])
            differ = {
                d: (t["acknowledged"], stored[d])
                for d, t in devices.items()
                if t["acknowledged"] != stored[d]
            }
            if not differ or time.monotonic() > deadline:
                break
            time.sleep(2)
    acknowledged = sum(t["acknowledged"] for t in devices.values())
    check.facts["readings"] = {
        "devices": len(devices),
        "acknowledged": acknowledged,
        "accepted": sum(t["accepted"] for t in devices.values()),
        "duplicates": sum(t["duplicates"] for t in devices.values()),
        "counted": sum(stored.values()),
        "checkerThrottled": stats.throttled,
    }
    for device, (expected, found) in sorted(differ.items()):
        check.fail(f"device {device}: {expected} readings acknowledged, {found} in its hourly aggregates")


def read_orders(local: LocalRuntimeClient, ledger: dict[str, Any]) -> dict[str, dict[str, Any]]:
    session = local.session()
    by_customer: dict[str, list[str]] = defaultdict(list)
    for order in ledger["orders"]:
        by_customer[order["customer"]].append(order["orderId"])
    found: dict[str, dict[str, Any]] = {}
    for customer, order_ids in by_customer.items():
        endpoint = Endpoint(
            session["apis"]["orders"], session["apiKeys"]["storefront"], local.token("orders", customer)
        )
        with StorefrontClient.connect(endpoint) as shop:
            found.update({order_id: shop.order(order_id) for order_id in order_ids})
    return found


def is_final(order: dict[str, Any]) -> bool:
    return order["payment"]["status"] in FINAL_PAYMENTS.get(order["status"], set())


def check_orders(local: LocalRuntimeClient, ledger: dict[str, Any], deadline: float, check: Check) -> None:
    def state(orders: dict[str, dict[str, Any]]) -> dict[str, tuple[str, str]]:
        return {i: (o["status"], o["payment"]["status"]) for i, o in orders.items()}

    while True:
        orders = read_orders(local, ledger)
        if all(is_final(order) for order in orders.values()):
            time.sleep(3)  # final and still so a moment later: no charge or refund was still on its way
            again = read_orders(local, ledger)
            if state(again) == state(orders):
                break
            orders = again
        if time.monotonic() > deadline:
            break
        time.sleep(1)
    outcomes = Counter(f"{o['status']}/{o['payment']['status']}" for o in orders.values())
    check.facts["orders"] = {"placed": len(ledger["orders"]), "outcomes": dict(sorted(outcomes.items()))}
    for order_id, order in sorted(orders.items()):
        if not is_final(order):
            check.fail(f"order {order_id} is {order['status']}/{order['payment']['status']}, not final")

    session = local.session()
    endpoint = Endpoint(session["apis"]["orders"], session["apiKeys"]["storefront"], None)
    with StorefrontClient.connect(endpoint) as shop:
        stock_now = shop.stock()
    held: Counter[str] = Counter()
    for placed in ledger["orders"]:
        if orders[placed["orderId"]]["status"] in ("PAID", "FULFILLED"):
            for line in placed["items"]:
                held[line["productId"]] += int(line["quantity"])
    for product, before in sorted(ledger["stockBefore"].items()):
        if stock_now.get(product) != before - held[product]:
            check.fail(f"{product}: stock {stock_now.get(product)}, expected {before} - {held[product]} held")
    check.facts["stock"] = {
        "products": len(ledger["stockBefore"]),
        "unitsHeldByPaidOrders": sum(held.values()),
    }


def nothing_lost(local: LocalRuntimeClient, ledger: dict[str, Any], settle_timeout_s: float) -> Check:
    check = Check()
    began = time.monotonic()
    deadline = began + settle_timeout_s
    for unresolved in ledger["unresolved"]:
        check.fail(f"never answered after the run: {unresolved}")
    check_readings(local, ledger, deadline, check)
    check_orders(local, ledger, deadline, check)
    dead = {name: len(records) for name, records in local.dlq().items() if records}
    if dead:
        check.fail(f"stream records given up on: {dead}")
    check.facts["settleSeconds"] = round(time.monotonic() - began, 1)
    return check


def summary_line(check: Check) -> str:
    readings, orders, stock = check.facts["readings"], check.facts["orders"], check.facts["stock"]
    outcomes = ", ".join(f"{name} {count}" for name, count in orders["outcomes"].items())
    verdict = "yes" if check.ok else "NO"
    return (
        f"nothing lost: {verdict}. Readings: {readings['devices']} devices, {readings['acknowledged']:,}"
        f" acknowledged by 202 answers (accepted {readings['accepted']:,} + duplicates"
        f" {readings['duplicates']:,}), {readings['counted']:,} counted in the hourly aggregates."
        f" Orders: {orders['placed']} placed (201), final: {outcomes}. Stock conserved on"
        f" {stock['products']} products ({stock['unitsHeldByPaidOrders']} units held by PAID orders);"
        f" no stream record dead-lettered. Checked {check.facts['settleSeconds']} s after the load stopped."
    )


# -- main ------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=int(os.environ.get("LOAD_SECONDS", "60")))
    parser.add_argument("--customers", type=int, default=int(os.environ.get("LOAD_CUSTOMERS", "20")))
    parser.add_argument("--devices", type=int, default=int(os.environ.get("LOAD_DEVICES", "10")))
    parser.add_argument("--out", type=Path, default=REPO_ROOT / ".load")
    parser.add_argument("--settle-timeout", type=float, default=180.0, help="seconds")
    parser.add_argument(
        "--max-error-rate", type=float, default=0.01, help="failed requests (429s excluded) over all"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    ledger_path = out / "ledger.json"
    ledger_path.unlink(missing_ok=True)
    log("starting the local runtime (in memory)...")
    with running(out / "runtime.log") as local:
        log(f"warming {WARM_ENVIRONMENTS} environments of the orders API and of ingest...")
        warm_up(local)
        log(
            f"running Locust for {args.seconds} s: {args.customers} customers, {args.devices} devices"
            f" (log: {out / 'locust.log'})"
        )
        began = time.monotonic()
        load_before = os.getloadavg()[0]
        locust = run_locust(local.origin, out, args.seconds, args.customers, args.devices, ledger_path)
        if locust.returncode != 0 or not ledger_path.exists():
            log(f"Locust exited with {locust.returncode}; see {out / 'locust.log'}")
            return 1
        log(f"Locust done in {time.monotonic() - began:.0f} s; waiting for the system to settle...")
        load_after = os.getloadavg()[0]
        ledger = json.loads(ledger_path.read_text())
        rows = route_table(out / "stats_stats.csv", ledger["throttled"])
        check = nothing_lost(local, ledger, args.settle_timeout)
    total = rows[-1]
    error_rate = total["failures"] / max(1, total["requests"])
    table = markdown_table(rows)
    line = summary_line(check)
    print(f"\n{table}\n")
    if ledger["outcomes"]:
        answers = ", ".join(f"{name}: {count}" for name, count in sorted(ledger["outcomes"].items()))
        print(f"Business answers counted as successes: {answers}.")
    print(
        f"Throttled (429) requests are successes in Locust's stats and counted apart: {total['throttled']}."
        f" Errors: {total['failures']} of {total['requests']:,} ({error_rate:.2%}; allowed"
        f" {args.max_error_rate:.0%})."
    )
    print(line)
    print(
        f"Machine: {os.cpu_count()} cores, 1-minute load average {load_before:.1f} before the run and"
        f" {load_after:.1f} at its end (everything shares these cores: Locust, gateway, workers, DynamoDB Local)."
    )
    for problem in check.problems[:20]:
        print(f"  - {problem}")
    print(f"Locust's report: {out / 'report.html'}")
    summary = {
        "seconds": args.seconds,
        "customers": args.customers,
        "devices": args.devices,
        "routes": rows,
        "outcomes": ledger["outcomes"],
        "errorRate": error_rate,
        "nothingLost": check.ok,
        "problems": check.problems,
        "facts": check.facts,
        "summary": line,
        "loadAverage": {"before": load_before, "after": load_after},
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    return 0 if check.ok and error_rate <= args.max_error_rate else 1


if __name__ == "__main__":
    sys.exit(main())
