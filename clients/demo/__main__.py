"""``make demo``: start the local runtime, run a scripted scenario through the clients, print a report,
stop the runtime; exit 0 only if every invariant held.

Every invariant is computed from data read back through the APIs (and the runtime's failure
destinations), never from what the scenario meant to do:

* stock conserved: per product, catalogue stock before = stock after + units held by live orders;
* one charge per paid order: every order that reached PAID shows its capture (REFUNDED once cancelled),
  no declined order was charged, and the retried request returned the same order;
* no reading lost or counted twice: every reading sampled was sent, every device's listing holds each sent
  reading exactly once, the answers' accepted + duplicates account for every reading posted (accepted never
  exceeding the distinct readings), the re-sent batch counted as duplicates, and the per-minute aggregates
  count exactly the readings sent in each minute;
* one alert per reading that crosses a rule;
* no stream record failed (``/_local/dlq`` is empty).

    python -m clients.demo [--devices 6] [--duration 15] [--customers 6]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from tqdm import tqdm  # type: ignore[import-untyped]

from clients.config import DEVICE, OPERATOR, STOREFRONT, LocalRuntime, resolve
from clients.devices import DeviceClient, FleetAdminClient, PostResult, Reading, Rule, first_crossed
from clients.http import ApiError, ClientError, RequestStats, RetryPolicy
from clients.simulator import SignalConfig, SimulationResult, Simulator
from clients.storefront import LIVE_STATUSES, Order, PlacedOrder, StorefrontClient

REPO_ROOT = Path(__file__).resolve().parent.parent
IMPORT_PATHS = ("shared/python", "services/orders", "services/telemetry", ".")
MINUTE_MS = 60_000
# Generous for the demo's own callers: throttled requests wait their turn instead of failing.
PATIENT = RetryPolicy(max_attempts=12, base_delay_s=0.25, max_delay_s=2.0, deadline_s=60.0)
T = TypeVar("T")
APPROVED_CARD = "tok_visa"  # the simulated card processor's test cards
DECLINED_CARD = "tok_chargeDeclined"


def say(message: str) -> None:
    tqdm.write(message, file=sys.stderr)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the runtime, as a child process ---------------------------------------------------------------------


class StartupFailed(Exception):
    pass


class RuntimeProcess:
    """``python -m infra.local`` on a free port with its state in a temporary directory, in memory."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "runtime.log"
        self.state_dir = workdir / "state"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = dict(os.environ)
        paths = [str(REPO_ROOT / path) for path in IMPORT_PATHS]
        env["PYTHONPATH"] = os.pathsep.join([*paths, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        env["PYTHONUNBUFFERED"] = "1"
        command = [
            sys.executable,
            *("-m", "infra.local", "--port", str(self.port)),
            *("--state-dir", str(self.state_dir), "--in-memory"),
        ]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no runtime output)"
        return "\n".join(text.splitlines()[-lines:])

    def last_status_line(self) -> str:
        """The runtime's latest line that is not a function's JSON log line."""
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        plain = [line.strip() for line in lines if line.strip() and not line.startswith(("{", "b'"))]
        return plain[-1][:60] if plain else ""

    def wait_ready(self, timeout_s: float) -> None:
        assert self.process is not None
        runtime = LocalRuntime(self.origin)
        deadline = time.monotonic() + timeout_s
        with tqdm(
            desc="starting the local runtime", bar_format="{desc} {elapsed} {postfix}", file=sys.stderr
        ) as bar:
            # Its exit is checked first: another runtime already on the port must not pass for it.
            while self.process.poll() is not None or not runtime.health(pid=self.process.pid):
                if self.process.poll() is not None:
                    raise StartupFailed(f"the runtime exited with code {self.process.returncode}")
                if time.monotonic() > deadline:
                    raise StartupFailed(f"the runtime was not healthy after {timeout_s:.0f}s")
                bar.set_postfix_str(self.last_status_line())
                bar.update()
                time.sleep(0.5)

    def stop(self, grace_s: float = 15.0) -> str:
        """SIGINT, then SIGTERM, then SIGKILL (to the runtime's whole process group) if it will not exit."""
        process = self.process
        if process is None or process.poll() is not None:
            return "already stopped"
        for sig, wait_s in ((signal.SIGINT, grace_s), (signal.SIGTERM, 5.0)):
            process.send_signal(sig)
            try:
                code = process.wait(wait_s)
            except subprocess.TimeoutExpired:
                continue
            return f"stopped with {sig.name} (exit code {code})"
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return "killed after ignoring SIGINT and SIGTERM"


# -- small helpers ---------------------------------------------------------------------------------------------


@dataclass
class Check:
    name: str
    held: bool
    detail: str


def minute_of(ts: int) -> int:
    return ts - ts % MINUTE_MS


def parallel(function: Callable[[Any], T], items: Sequence[Any], workers: int, desc: str) -> list[T]:
    """``function`` over ``items`` on a thread pool, in order, with a progress bar."""
    results: list[T] = []
    with (
        ThreadPoolExecutor(max_workers=max(1, workers)) as pool,
        tqdm(total=len(items), desc=desc, file=sys.stderr, leave=False) as bar,
    ):
        for result in pool.map(function, items):
            results.append(result)
            bar.update()
    return results


def converge(
    check: Callable[[], T], done: Callable[[T], bool], timeout_s: float, interval_s: float = 0.5
) -> T:
    """Read until ``done`` (the stream processors are asynchronous) or the timeout; the last reading."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(interval_s)


# -- orders -------------------------------------------------------------------------------------------------------


@dataclass
class OrdersOutcome:
    customers: int
    placed: list[tuple[str, PlacedOrder]] = field(default_factory=list)
    """(customer, placed order) for every order created"""
    declined_tokens: set[str] = field(default_factory=set)
    """order ids placed with tok_chargeDeclined"""
    replay: tuple[PlacedOrder, PlacedOrder] | None = None
    oversized: tuple[str, int, int, str] | None = None
    """(product, quantity, status, detail)"""
    reached_paid: set[str] = field(default_factory=set)
    cancelled: set[str] = field(default_factory=set)
    fulfilled: set[str] = field(default_factory=set)
    final: dict[str, Order] = field(default_factory=dict)
    """every placed order, read back at the end"""
    listed: dict[str, list[str]] = field(default_factory=dict)
    """customer -> order ids in their listing"""
    stock_before: dict[str, int] = field(default_factory=dict)
    stock_after: dict[str, int] = field(default_factory=dict)

    def held_by_live_orders(self) -> dict[str, int]:
        held: Counter[str] = Counter()
        for order in self.final.values():
            if order["status"] in LIVE_STATUSES:
                for line in order["items"]:
                    held[line["productId"]] += int(line["quantity"])
        return dict(held)


class OrdersScenario:
    def __init__(
        self, runtime: LocalRuntime, customers: int, stats: RequestStats, admin_stats: RequestStats, seed: int
    ):
        self.runtime = runtime
        self.customers = [f"customer-{index + 1}" for index in range(customers)]
        self.stats = stats
        self.admin_stats = admin_stats
        self.rng = random.Random(seed)
        self.outcome = OrdersOutcome(customers)
        self.clients: dict[str, StorefrontClient] = {}

    def client(self, customer: str) -> StorefrontClient:
        if customer not in self.clients:
            endpoint = resolve(STOREFRONT, local=self.runtime, subject=customer, env={})
            self.clients[customer] = StorefrontClient.connect(endpoint, stats=self.stats, policy=PATIENT)
        return self.clients[customer]

    def close(self) -> None:
        for client in self.clients.values():
            client.close()

    def run(self) -> OrdersOutcome:
        try:
            self._run()
        finally:
            self.close()
        return self.outcome

    def _plans(self, catalogue: Sequence[str]) -> list[tuple[str, list[tuple[str, int]], str]]:
        """Three orders per customer: one or two lines of 1-3 units; about a quarter with a declined card."""
        plans = []
        for index, customer in enumerate(self.customers):
            for number in range(3):
                products = self.rng.sample(list(catalogue), self.rng.choice((1, 2)))
                lines = [(product, self.rng.randint(1, 3)) for product in products]
                token = DECLINED_CARD if (index + number) % 4 == 0 else APPROVED_CARD
                plans.append((customer, lines, token))
        return plans

    def _run(self) -> None:
        out = self.outcome
        # One client per customer, made before any thread uses them (httpx clients are shared across threads).
        first, *_ = [self.client(customer) for customer in self.customers]
        out.stock_before = first.stock()
        plans = self._plans(sorted(out.stock_before))

        def place(plan: tuple[str, list[tuple[str, int]], str]) -> tuple[str, PlacedOrder, str]:
            customer, lines, token = plan
            return customer, self.client(customer).place_order(lines, token), token

        for customer, placed, token in parallel(place, plans, len(self.customers), "customers ordering"):
            out.placed.append((customer, placed))
            if token == DECLINED_CARD:
                out.declined_tokens.add(placed.order_id)

        # A client that never saw the answer sends the same request again, with the same key.
        customer, original = out.placed[0]
        lines = [(line["productId"], line["quantity"]) for line in original.order["items"]]
        token = DECLINED_CARD if original.order_id in out.declined_tokens else APPROVED_CARD
        again = self.client(customer).place_order(lines, token, original.idempotency_key)
        out.replay = (original, again)

        # More than the stock: the whole order is refused, nothing reserved.
        scarce = min(out.stock_before, key=lambda product: out.stock_before[product])
        quantity = min(100, out.stock_before[scarce] + 1)
        try:
            self.client(self.customers[-1]).place_order([(scarce, quantity)], APPROVED_CARD)
        except ApiError as error:
            out.oversized = (scarce, quantity, error.status, error.detail)
        else:
            out.oversized = (scarce, quantity, 201, "accepted (it should not have been)")

        def settle(item: tuple[str, PlacedOrder]) -> Order:
            customer, placed = item
            return self.client(customer).wait_until_settled(placed.order_id, timeout_s=30)

        settled = parallel(settle, out.placed, 12, "payments settling")
        paid = sorted(order["orderId"] for order in settled if order["status"] == "PAID")
        out.reached_paid = set(paid)
        owner = {placed.order_id: customer for customer, placed in out.placed}
        to_cancel, to_fulfil = paid[0::3], paid[1::3]

        def cancel(order_id: str) -> Order:
            client = self.client(owner[order_id])
            client.cancel(order_id)
            done = lambda order: order["payment"]["status"] == "REFUNDED"  # noqa: E731
            return client.wait_until(order_id, done, timeout_s=30)

        parallel(cancel, to_cancel, 12, "cancelling and refunding")
        out.cancelled = set(to_cancel)
        admin = StorefrontClient.connect(
            resolve(STOREFRONT, local=self.runtime, subject="shop-admin", groups=("admin",), env={}),
            stats=self.admin_stats,
            policy=PATIENT,
        )
        with admin:
            parallel(admin.fulfil, to_fulfil, 6, "fulfilling")
        out.fulfilled = set(to_fulfil)

        # Read everything back.
        def read(item: tuple[str, PlacedOrder]) -> Order:
            customer, placed = item
            return self.client(customer).order(placed.order_id)

        for order in parallel(read, out.placed, 12, "reading orders back"):
            out.final[order["orderId"]] = order
        expected = Counter(customer for customer, _ in out.placed)

        def listing(customer: str) -> list[str]:
            # The customer index is eventually consistent: wait until it has caught up (or give up).
            return converge(
                lambda: [order["orderId"] for order in self.client(customer).iterate_orders()],
                lambda ids: len(ids) >= expected[customer],
                timeout_s=10,
            )

        out.listed = dict(
            zip(self.customers, parallel(listing, self.customers, 6, "listing orders"), strict=True)
        )
        out.stock_after = first.stock()


def order_checks(out: OrdersOutcome) -> list[Check]:
    checks = []
    held = out.held_by_live_orders()
    broken = [
        f"{product}: {before} != {out.stock_after.get(product, 0)} + {held.get(product, 0)}"
        for product, before in sorted(out.stock_before.items())
        if before != out.stock_after.get(product, 0) + held.get(product, 0)
    ]
    units = sum(held.values())
    checks.append(
        Check(
            "stock conserved",
            not broken and out.oversized is not None and out.oversized[2] == 409,
            "; ".join(broken)
            or f"for all {len(out.stock_before)} products, before = after + held by live orders ({units} units);"
            f" the order for more than the stock was refused ({out.oversized[2] if out.oversized else '-'})",
        )
    )
    problems = []
    for order_id, order in sorted(out.final.items()):
        status, payment = order["status"], order["payment"]["status"]
        if status in ("PAID", "FULFILLED") and payment != "CAPTURED":
            problems.append(f"{order_id[:8]} {status} with payment {payment}")
        if order_id in out.reached_paid and status == "CANCELLED" and payment != "REFUNDED":
            problems.append(f"{order_id[:8]} cancelled after capture but payment {payment}")
        if order_id in out.declined_tokens and payment in ("CAPTURED", "REFUNDED"):
            problems.append(f"{order_id[:8]} charged with a declined card")
        if order_id not in out.reached_paid and payment in ("CAPTURED", "REFUNDED"):
            problems.append(f"{order_id[:8]} charged but never PAID")
    if out.replay is not None:
        original, again = out.replay
        if again.order_id != original.order_id or not again.replayed:
            problems.append("the retried request created or reported a different order")
    ids = [order_id for ids in out.listed.values() for order_id in ids]
    placed_ids = {placed.order_id for _, placed in out.placed}
    if sorted(ids) != sorted(placed_ids):
        problems.append(
            f"listings hold {len(ids)} orders ({len(set(ids))} distinct), {len(placed_ids)} were placed"
        )
    charged = sum(1 for order in out.final.values() if order["payment"]["status"] in ("CAPTURED", "REFUNDED"))
    checks.append(
        Check(
            "one charge per paid order",
            not problems and charged == len(out.reached_paid),
            "; ".join(problems)
            or f"{charged} charges for {len(out.reached_paid)} paid orders; declined cards never charged;"
            " the retried request returned the same order; each order listed once",
        )
    )
    return checks


# -- telemetry -------------------------------------------------------------------------------------------------------


@dataclass
class DeviceReadBack:
    device_id: str
    readings: list[Reading]
    aggregates: dict[str, list[dict[str, Any]]]
    alerts: list[dict[str, Any]]


@dataclass
class TelemetryOutcome:
    rules: list[Rule]
    simulation: SimulationResult
    resent: tuple[list[Reading], PostResult] | None = None
    read_back: dict[str, DeviceReadBack] = field(default_factory=dict)
    converged_after_s: float = 0.0
    burst: tuple[int, int, int] = (0, 0, 0)
    """(requests, succeeded, 429 responses seen) of the burst of concurrent operator reads"""

    def sent(self, device_id: str) -> list[Reading]:
        run = next(run for run in self.simulation.devices if run.device_id == device_id)
        return run.sent

    def expected_alerts(self, device_id: str) -> set[tuple[str, int]]:
        return {(r.metric, r.ts) for r in self.sent(device_id) if first_crossed(self.rules, r)}


class TelemetryScenario:
    def __init__(
        self,
        runtime: LocalRuntime,
        *,
        devices: int,
        duration_s: float,
        rate_hz: float,
        seed: int,
        fleet_stats: RequestStats,
        operator_stats: RequestStats,
    ) -> None:
        self.runtime = runtime
        self.devices = devices
        self.duration_s = duration_s
        self.rate_hz = rate_hz
        self.seed = seed
        self.fleet_stats = fleet_stats
        self.operator_stats = operator_stats
        self.config = SignalConfig(spike_probability=0.03)
        self.rules = [
            Rule("temperature", "gt", round(self.config.spike_threshold, 1)),
            # At the bottom of the humidity swing: crossed by a few readings, as the spikes cross the other.
            Rule(
                "humidity", "lt", round(self.config.humidity_base - self.config.humidity_amplitude - 1.5, 1)
            ),
        ]

    def admin(self) -> FleetAdminClient:
        endpoint = resolve(OPERATOR, local=self.runtime, subject="fleet-operator", groups=("admin",), env={})
        return FleetAdminClient.connect(endpoint, stats=self.operator_stats, policy=PATIENT)

    def run(self) -> TelemetryOutcome:
        with self.admin() as admin:
            registered = [admin.register(name=f"demo sensor {index + 1}") for index in range(self.devices)]
            for device in registered:
                admin.set_rules(device.device_id, self.rules)
            devices = [
                DeviceClient.connect(
                    resolve(DEVICE, local=self.runtime, token=device.token, env={}), stats=self.fleet_stats
                )
                for device in registered
            ]
            try:
                simulation = Simulator(
                    devices,
                    rate_hz=self.rate_hz,
                    duration_s=self.duration_s,
                    seed=self.seed,
                    config=self.config,
                    stats=self.fleet_stats,
                ).run()
                outcome = TelemetryOutcome(self.rules, simulation)
                # A device that never saw the answer to a batch posts it again (one from the middle of its run).
                run = max(simulation.devices, key=lambda run: len(run.batches))
                poster = next(d for d in devices if d.device_id == run.device_id)
                batch = run.batches[len(run.batches) // 2]
                outcome.resent = (batch, poster.post_readings(batch))
            finally:
                for client in devices:
                    client.close()
            started = time.monotonic()
            self._read_back(admin, outcome)
            outcome.converged_after_s = time.monotonic() - started
            outcome.burst = self._burst(registered[0].device_id)
        return outcome

    def _read_back(self, admin: FleetAdminClient, outcome: TelemetryOutcome) -> None:
        metrics = sorted({r.metric for run in outcome.simulation.devices for r in run.sent})

        def read(device_id: str) -> DeviceReadBack:
            sent = outcome.sent(device_id)
            start = minute_of(min(r.ts for r in sent)) if sent else None
            end = max(r.ts for r in sent) if sent else None
            expected = {m: per_minute(sent, m) for m in metrics}
            expected_alerts = outcome.expected_alerts(device_id)

            def fetch() -> DeviceReadBack:
                return DeviceReadBack(
                    device_id,
                    readings=[],
                    aggregates={m: admin.aggregates(device_id, m, "minute", start, end) for m in metrics},
                    alerts=admin.alerts(device_id),
                )

            def caught_up(found: DeviceReadBack) -> bool:
                counts = {
                    m: {row["start"]: row["count"] for row in rows} for m, rows in found.aggregates.items()
                }
                alerts = {(a["metric"], a["ts"]) for a in found.alerts}
                return counts == expected and alerts == expected_alerts

            found = converge(fetch, caught_up, timeout_s=20)
            found.readings = admin.readings(device_id)
            return found

        ids = [run.device_id for run in outcome.simulation.devices]
        for found in parallel(read, ids, 3, "reading telemetry back"):
            outcome.read_back[found.device_id] = found

    def _burst(self, device_id: str, requests: int = 40) -> tuple[int, int, int]:
        """Concurrent operator reads, more than the plan's burst (20) and rate (10/s): some are throttled
        (429) and retried with backoff until the bucket refills."""
        stats = RequestStats()
        endpoint = resolve(OPERATOR, local=self.runtime, subject="fleet-operator", groups=("admin",), env={})
        clients = [FleetAdminClient.connect(endpoint, stats=stats, policy=PATIENT) for _ in range(requests)]

        def read(client: FleetAdminClient) -> bool:
            try:
                client.device(device_id)
            except ClientError:
                return False
            return True

        try:
            results = parallel(read, clients, requests, "burst of operator reads")
        finally:
            for client in clients:
                client.close()
        self.operator_stats.add(stats)
        return requests, sum(results), stats.throttled


def per_minute(readings: Sequence[Reading], metric: str) -> dict[int, int]:
    return dict(Counter(minute_of(r.ts) for r in readings if r.metric == metric))


def telemetry_checks(out: TelemetryOutcome) -> list[Check]:
    sim = out.simulation
    problems = []
    # Stored exactly once is judged on the listings below. The counts cannot require accepted = distinct:
    # a post whose answer was lost stores its readings, and the retry that gets through reports them as
    # duplicates. What they must do is account for every reading posted, and never accept one twice.
    distinct = sum(len(set(run.sent)) for run in sim.devices)
    resent_batch, resent_result = out.resent if out.resent else ([], PostResult(0, 0))
    accepted = sim.accepted + resent_result.accepted
    duplicates = sim.duplicates + resent_result.duplicates
    posted = sim.sent + len(resent_batch)
    if sim.sampled != distinct:
        problems.append(
            f"{sim.sampled} readings sampled, {distinct} delivered ({sim.unsent} never were, {sim.refused} refused)"
        )
    if accepted + duplicates != posted:
        problems.append(f"accepted {accepted} + duplicates {duplicates} != {posted} readings posted")
    if accepted > distinct:
        problems.append(f"accepted {accepted} > {distinct} distinct readings sent")
    if (resent_result.accepted, resent_result.duplicates) != (0, len(resent_batch)):
        problems.append(
            f"re-sent batch of {len(resent_batch)}: accepted {resent_result.accepted},"
            f" duplicates {resent_result.duplicates}"
        )
    for run in sim.devices:
        found = out.read_back.get(run.device_id)
        if found is None:
            problems.append(f"{run.device_id}: not read back")
            continue
        listed = [(r.metric, r.ts, Decimal(repr(r.value))) for r in found.readings]
        sent = sorted((r.metric, r.ts, Decimal(repr(r.value))) for r in set(run.sent))
        if len(listed) != len(set(listed)):
            problems.append(f"{run.device_id}: the listing repeats readings")
        if sorted(listed) != sent:
            problems.append(f"{run.device_id}: listed {len(listed)} readings, sent {len(sent)}")
        for metric, rows in found.aggregates.items():
            counts = {row["start"]: row["count"] for row in rows}
            if counts != per_minute(run.sent, metric):
                problems.append(
                    f"{run.device_id} {metric}: aggregate counts {counts} != sent {per_minute(run.sent, metric)}"
                )
    checks = [
        Check(
            "no reading lost or counted twice",
            not problems,
            "; ".join(problems[:4])
            or f"{distinct} readings sampled, each listed exactly once; {accepted} accepted + {duplicates}"
            f" duplicates = {posted} readings posted (the re-sent batch: {resent_result.duplicates}"
            " duplicates); per-minute aggregate counts match",
        )
    ]
    wrong = []
    raised = expected = 0
    for run in sim.devices:
        found = out.read_back.get(run.device_id)
        alerts = [(a["metric"], a["ts"]) for a in (found.alerts if found else [])]
        want = out.expected_alerts(run.device_id)
        raised += len(alerts)
        expected += len(want)
        if len(alerts) != len(set(alerts)) or set(alerts) != want:
            wrong.append(f"{run.device_id}: {len(alerts)} alerts, expected {len(want)}")
    checks.append(
        Check(
            "one alert per reading crossing a rule",
            not wrong,
            "; ".join(wrong) or f"{raised} alerts for {expected} readings crossing a rule",
        )
    )
    return checks


# -- the report ----------------------------------------------------------------------------------------------------


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
    checks: list[Check],
    elapsed_s: float,
) -> str:
    out: list[str] = ["", "=" * 78, "DEMO REPORT", "=" * 78, "", "ORDERS"]
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
    sim = telemetry.simulation
    out += ["", "TELEMETRY"]
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
    out += ["", "REQUESTS"]
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
    requests, succeeded, throttled = telemetry.burst
    out.append(
        f"  burst of {requests} concurrent operator reads (plan: 10 rps, burst 20): {throttled} throttled,"
        f" retried with backoff; {succeeded}/{requests} answered"
    )
    failed_records = sum(len(records) for records in dlq.values())
    out.append(f"  stream records in failure destinations (/_local/dlq): {failed_records}")
    out += ["", "INVARIANTS"]
    for check in checks:
        out.append(f"  [{'held' if check.held else 'FAILED'}] {check.name}: {check.detail}")
    out += ["", f"scenario time: {elapsed_s:.0f}s"]
    return "\n".join(out)


# -- main ------------------------------------------------------------------------------------------------------------


@contextmanager
def phase(name: str) -> Iterator[None]:
    started = time.monotonic()
    say(f"> {name}")
    yield
    say(f"  done in {time.monotonic() - started:.1f}s")


def scenario(runtime: LocalRuntime, args: argparse.Namespace) -> tuple[str, list[Check]]:
    started = time.monotonic()
    stats = {name: RequestStats() for name in ("storefront", "storefront (admin)", "fleet", "operator")}
    with phase(f"orders: {args.customers} customers ordering concurrently"):
        orders = OrdersScenario(
            runtime, args.customers, stats["storefront"], stats["storefront (admin)"], args.seed
        ).run()
    with phase(f"telemetry: {args.devices} devices posting for {args.duration:.0f}s"):
        telemetry = TelemetryScenario(
            runtime,
            devices=args.devices,
            duration_s=args.duration,
            rate_hz=args.rate,
            seed=args.seed,
            fleet_stats=stats["fleet"],
            operator_stats=stats["operator"],
        ).run()
    dlq = runtime.dlq()
    failed_records = sum(len(records) for records in dlq.values())
    checks = [
        *order_checks(orders),
        *telemetry_checks(telemetry),
        Check(
            "no stream record failed",
            failed_records == 0,
            f"{failed_records} records in {sorted(name for name, r in dlq.items() if r)}"
            if failed_records
            else "the failure destinations (/_local/dlq) are empty",
        ),
    ]
    return render(orders, telemetry, stats, dlq, checks, time.monotonic() - started), checks


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m clients.demo", description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=6)
    parser.add_argument("--devices", type=int, default=6)
    parser.add_argument("--duration", type=float, default=15.0, help="seconds the devices post for")
    parser.add_argument("--rate", type=float, default=2.0, help="samples per second per device")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--port", type=int, help="the runtime's port (a free one by default)")
    parser.add_argument("--startup-timeout", type=float, default=90.0)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="demo-"))
    process = RuntimeProcess(workdir, args.port)
    keep_workdir = True
    code = 1
    try:
        say(f"> starting the local runtime on {process.origin} (state in {workdir}, in memory)")
        process.start()
        try:
            process.wait_ready(args.startup_timeout)
            say(f"  ready in {time.monotonic() - started:.1f}s")
        except StartupFailed as error:
            say(f"\nThe local runtime did not start: {error}. Its last output ({process.log_path}):\n")
            say(process.log_tail())
            return 2
        report, checks = scenario(LocalRuntime(process.origin), args)
        print(report, flush=True)
        failed = [check.name for check in checks if not check.held]
        code = 1 if failed else 0
        keep_workdir = bool(failed)
        verdict = f"FAILED: {', '.join(failed)}" if failed else "every invariant held"
    except (ClientError, Exception) as error:
        say(f"\nThe scenario failed: {error!r}")
        say(traceback.format_exc())
        say(f"The runtime's last output ({process.log_path}):\n{process.log_tail()}")
        verdict = f"FAILED: the scenario did not complete ({type(error).__name__})"
    finally:
        say(f"> stopping the local runtime: {process.stop()}")
        if not keep_workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"\n{verdict} (wall time {time.monotonic() - started:.0f}s)", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
